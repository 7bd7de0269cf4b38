package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/policy"
)

// credentialWarning is az's warning after printing a new secret.
const credentialWarning = "The output includes credentials that you must protect. Be sure that you do not include these credentials in " +
	"your code or check the credentials into your source control. For more information, see https://aka.ms/azadsp-cli"

// runCreateForRBAC is `ad sp create-for-rbac`, all or nothing: the role and the
// scopes are checked before anything is created, and if a later step
// fails, what this run created is deleted again. Like az, it is idempotent
// by display name: an existing app registration of that name is reused
// ("patched") and gets a new secret that replaces its old ones.
func runCreateForRBAC(ctx context.Context, s *session, name, role string, scopes []string, stdout, stderr io.Writer) error {
	if (role == "") != (len(scopes) == 0) {
		return errors.New("usage error: to create role assignments, specify both --role and --scopes")
	}
	var roleID string
	if role != "" {
		r, ok := policy.LookupRole(role)
		if !ok {
			return fmt.Errorf("role '%s' doesn't exist; `coffer role assignment create --help` lists the roles", role)
		}
		roleID = r.ID
	}
	for _, scope := range scopes {
		if err := checkScope(ctx, s, scope); err != nil {
			return err
		}
	}
	if name == "" {
		name = "coffer-cli-" + time.Now().UTC().Format("2006-01-02-15-04-05")
	}

	// undo holds the compensating actions for what this run created, run
	// in reverse order if a later step fails.
	var undo []func() error
	fail := func(err error) error {
		var failed []string
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil && !client.IsNotFound(uerr) {
				failed = append(failed, uerr.Error())
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("%w\nrolling back also failed (%s); check `coffer ad sp list --display-name %s`", err, strings.Join(failed, "; "), name)
		}
		return err
	}
	// Rollback must run even if the command's context is cancelled.
	bg := context.WithoutCancel(ctx)

	var apps struct {
		Value []graphApp `json:"value"`
	}
	if _, err := s.c.Graph(ctx, "GET", "/v1.0/applications?$filter="+url.QueryEscape("displayName eq '"+strings.ReplaceAll(name, "'", "''")+"'"), nil, &apps); err != nil {
		return err
	}
	if len(apps.Value) > 1 {
		return fmt.Errorf("%d applications have the display name '%s'; use `coffer ad sp credential reset --id APP_ID` on the one you mean, or another --name", len(apps.Value), name)
	}
	var app graphApp
	existing := len(apps.Value) == 1
	if existing {
		app = apps.Value[0]
		fmt.Fprintf(stderr, "Found an existing application instance: (id) %s. We will patch it.\n", app.ID)
	} else {
		if _, err := s.c.Graph(ctx, "POST", "/v1.0/applications", map[string]any{"displayName": name}, &app); err != nil {
			return err
		}
		undo = append(undo, func() error {
			_, err := s.c.Graph(bg, "DELETE", "/v1.0/applications/"+app.ID, nil, nil)
			return err
		})
	}

	var pw struct {
		KeyID      string `json:"keyId"`
		SecretText string `json:"secretText"`
	}
	if _, err := s.c.Graph(ctx, "POST", "/v1.0/applications/"+app.ID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "rbac"}}, &pw); err != nil {
		return fail(err)
	}
	if existing {
		undo = append(undo, func() error {
			_, err := s.c.Graph(bg, "POST", "/v1.0/applications/"+app.ID+"/removePassword", map[string]any{"keyId": pw.KeyID}, nil)
			return err
		})
	}

	spID, err := ensureServicePrincipal(ctx, s, app.AppID, &undo, bg)
	if err != nil {
		return fail(err)
	}

	for _, scope := range scopes {
		fmt.Fprintf(stderr, "Creating '%s' role assignment under scope '%s'\n", role, scope)
		id := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
		body := map[string]any{"properties": map[string]any{
			"roleDefinitionId": "/subscriptions/" + s.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
			"principalId":      spID, "principalType": "ServicePrincipal"}}
		_, err := s.c.ARM(ctx, "PUT", id, body, nil)
		if code, _ := client.Code(err); code == "RoleAssignmentExists" {
			fmt.Fprintf(stderr, "  Role assignment already exists.\n\n")
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "  Role assignment creation failed.\n\n")
			return fail(err)
		}
		undo = append(undo, func() error {
			_, err := s.c.ARM(bg, "DELETE", id, nil, nil)
			return err
		})
	}

	// Everything is in place: the new secret replaces the app's old ones,
	// as az's does.
	for _, c := range app.PasswordCredentials {
		if _, err := s.c.Graph(ctx, "POST", "/v1.0/applications/"+app.ID+"/removePassword", map[string]any{"keyId": c.KeyID}, nil); err != nil && !client.IsNotFound(err) {
			return fmt.Errorf("the service principal is ready, but removing its old secret %s failed: %w", c.KeyID, err)
		}
	}
	fmt.Fprintln(stderr, credentialWarning)
	return printResult(stdout, map[string]string{"appId": app.AppID, "displayName": name, "password": pw.SecretText, "tenant": s.c.TenantID})
}

// graphApp is the part of a Graph application create-for-rbac needs.
type graphApp struct {
	ID                  string `json:"id"`
	AppID               string `json:"appId"`
	PasswordCredentials []struct {
		KeyID string `json:"keyId"`
	} `json:"passwordCredentials"`
}

// ensureServicePrincipal returns the object id of appID's service principal,
// creating it (and registering its undo) if the app has none.
func ensureServicePrincipal(ctx context.Context, s *session, appID string, undo *[]func() error, bg context.Context) (string, error) {
	var sps struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if _, err := s.c.Graph(ctx, "GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+appID+"'"), nil, &sps); err != nil {
		return "", err
	}
	if len(sps.Value) > 0 {
		return sps.Value[0].ID, nil
	}
	var sp struct {
		ID string `json:"id"`
	}
	if _, err := s.c.Graph(ctx, "POST", "/v1.0/servicePrincipals", map[string]any{"appId": appID}, &sp); err != nil {
		return "", err
	}
	*undo = append(*undo, func() error {
		_, err := s.c.Graph(bg, "DELETE", "/v1.0/servicePrincipals/"+sp.ID, nil, nil)
		return err
	})
	return sp.ID, nil
}

// checkScope checks that a role-assignment scope names something that
// exists: the subscription, a resource group, or a resource (for a scope
// inside a resource, e.g. one secret, the resource is checked).
func checkScope(ctx context.Context, s *session, scope string) error {
	segs := strings.Split(strings.Trim(scope, "/"), "/")
	if len(segs) < 2 || !strings.EqualFold(segs[0], "subscriptions") {
		return fmt.Errorf("--scopes: %q is not a scope; scopes look like /subscriptions/%s/resourceGroups/GROUP", scope, s.sub)
	}
	if !strings.EqualFold(segs[1], s.sub) {
		return fmt.Errorf("--scopes: subscription %s is not this server's (%s)", segs[1], s.sub)
	}
	// subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME
	if len(segs) > 8 {
		segs = segs[:8]
	}
	if len(segs) == 3 || len(segs) > 4 && len(segs) < 8 {
		return fmt.Errorf("--scopes: %q is not a scope; scopes look like /subscriptions/%s/resourceGroups/GROUP", scope, s.sub)
	}
	path := "/" + strings.Join(segs, "/")
	if _, err := s.c.ARM(ctx, "GET", path, nil, nil); err != nil {
		if client.IsNotFound(err) {
			return fmt.Errorf("--scopes %s: %w", scope, err)
		}
		return err
	}
	return nil
}
