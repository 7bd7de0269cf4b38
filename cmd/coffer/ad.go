package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/policy"
)

func newADCmd() *cobra.Command {
	ad := &cobra.Command{Use: "ad", Short: "Manage directory objects (service principals)"}
	sp := &cobra.Command{Use: "sp", Short: "Manage service principals"}
	var name, role, id, displayName string
	var scopes []string
	var appendCred bool
	createForRBAC := &cobra.Command{Use: "create-for-rbac", Short: "Create an app registration, its service principal and a client secret (shown once)", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		return runCreateForRBAC(cmd.Context(), s, name, role, scopes, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}}
	createForRBAC.Flags().StringVarP(&name, "name", "n", "", "display name")
	createForRBAC.Flags().StringVar(&role, "role", "", "role to assign (name or GUID), e.g. \"Key Vault Secrets User\"")
	createForRBAC.Flags().StringSliceVar(&scopes, "scopes", nil, "scopes of the role assignment")

	list := &cobra.Command{Use: "list", Short: "List service principals", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		path := "/v1.0/servicePrincipals"
		if displayName != "" {
			path += "?$filter=" + url.QueryEscape("displayName eq '"+strings.ReplaceAll(displayName, "'", "''")+"'")
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.Graph(cmd.Context(), "GET", path, nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	list.Flags().StringVar(&displayName, "display-name", "", "filter by display name")
	list.Flags().Bool("all", false, "list all (the default)")

	show := &cobra.Command{Use: "show", Short: "Show a service principal (--id: appId or object id)", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		p, err := findSP(cmd.Context(), s, id)
		if err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), p)
	}}
	del := &cobra.Command{Use: "delete", Short: "Delete a service principal and its app registration", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		p, err := findSP(ctx, s, id)
		if err != nil {
			return err
		}
		appID, _ := p["appId"].(string)
		app, err := appRegistration(ctx, s, appID)
		if err != nil {
			return err
		}
		if app != nil {
			_, err = s.c.Graph(ctx, "DELETE", "/v1.0/applications/"+app.ID, nil, nil)
			return err
		}
		_, err = s.c.Graph(ctx, "DELETE", "/v1.0/servicePrincipals/"+p["id"].(string), nil, nil)
		return err
	}}
	for _, c := range []*cobra.Command{show, del} {
		c.Flags().StringVar(&id, "id", "", "appId or object id")
		_ = c.MarkFlagRequired("id")
	}

	cred := &cobra.Command{Use: "credential", Short: "Manage a service principal's client secrets"}
	reset := &cobra.Command{Use: "reset", Short: "Issue a new client secret (shown once); replaces the old ones unless --append", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		p, err := findSP(ctx, s, id)
		if err != nil {
			return err
		}
		appID, _ := p["appId"].(string)
		app, err := appRegistration(ctx, s, appID)
		if err != nil {
			return err
		}
		if app == nil {
			return fmt.Errorf("no app registration for %s", appID)
		}
		var pw struct {
			SecretText string `json:"secretText"`
		}
		if _, err := s.c.Graph(ctx, "POST", "/v1.0/applications/"+app.ID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "rbac"}}, &pw); err != nil {
			return err
		}
		if !appendCred {
			for _, c := range app.PasswordCredentials {
				if _, err := s.c.Graph(ctx, "POST", "/v1.0/applications/"+app.ID+"/removePassword", map[string]any{"keyId": c.KeyID}, nil); err != nil {
					return err
				}
			}
		}
		return printResult(cmd.OutOrStdout(), map[string]string{"appId": appID, "password": pw.SecretText, "tenant": s.c.TenantID})
	}}
	reset.Flags().StringVar(&id, "id", "", "appId or object id")
	reset.Flags().BoolVar(&appendCred, "append", false, "keep the existing secrets")
	_ = reset.MarkFlagRequired("id")
	cred.AddCommand(reset)
	sp.AddCommand(createForRBAC, list, show, del, cred)
	ad.AddCommand(sp)
	return ad
}

// findSP finds a service principal by appId, object id or display name.
func findSP(ctx context.Context, s *session, id string) (map[string]any, error) {
	var p map[string]any
	if _, err := s.c.Graph(ctx, "GET", "/v1.0/servicePrincipals/"+url.PathEscape(id), nil, &p); err == nil {
		return p, nil
	}
	for _, field := range []string{"appId", "displayName"} {
		var out struct {
			Value []map[string]any `json:"value"`
		}
		q := url.QueryEscape(field + " eq '" + strings.ReplaceAll(id, "'", "''") + "'")
		if _, err := s.c.Graph(ctx, "GET", "/v1.0/servicePrincipals?$filter="+q, nil, &out); err != nil {
			return nil, err
		}
		if len(out.Value) == 1 {
			return out.Value[0], nil
		}
		if len(out.Value) > 1 {
			return nil, fmt.Errorf("%d service principals match %q; use the appId", len(out.Value), id)
		}
	}
	return nil, fmt.Errorf("no service principal %q", id)
}

// resolveAssignee turns an appId, object id or display name into an object id.
func resolveAssignee(ctx context.Context, s *session, assignee string) (string, error) {
	p, err := findSP(ctx, s, assignee)
	if err != nil {
		if _, perr := uuid.Parse(assignee); perr == nil {
			return assignee, nil // e.g. a managed identity's principal id
		}
		return "", err
	}
	return p["id"].(string), nil
}

func newRoleCmd() *cobra.Command {
	role := &cobra.Command{Use: "role", Short: "Manage role assignments"}
	assignment := &cobra.Command{Use: "assignment", Short: "Manage role assignments"}
	var assignee, roleName, scope string
	var ids []string
	create := &cobra.Command{Use: "create", Short: "Assign a role to a principal at a scope", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		oid, err := resolveAssignee(ctx, s, assignee)
		if err != nil {
			return err
		}
		r, ok := policy.LookupRole(roleName)
		if !ok {
			return fmt.Errorf("unknown role %q", roleName)
		}
		name := uuid.NewString()
		body := map[string]any{"properties": map[string]any{
			"roleDefinitionId": "/subscriptions/" + s.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + r.ID, "principalId": oid}}
		var out map[string]any
		if _, err := s.c.ARM(ctx, "PUT", strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/roleAssignments/"+name, body, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVar(&assignee, "assignee", "", "appId, object id or display name")
	create.Flags().StringVar(&roleName, "role", "", "role name or GUID")
	create.Flags().StringVar(&scope, "scope", "", "scope (ARM id)")
	for _, f := range []string{"assignee", "role", "scope"} {
		_ = create.MarkFlagRequired(f)
	}
	list := &cobra.Command{Use: "list", Short: "List role assignments", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		sc := scope
		if sc == "" {
			sc = "/subscriptions/" + s.sub
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.ARM(ctx, "GET", strings.TrimSuffix(sc, "/")+"/providers/Microsoft.Authorization/roleAssignments", nil, &out); err != nil {
			return err
		}
		if assignee != "" {
			oid, err := resolveAssignee(ctx, s, assignee)
			if err != nil {
				return err
			}
			var kept []map[string]any
			for _, a := range out.Value {
				if props, _ := a["properties"].(map[string]any); props != nil && strings.EqualFold(fmt.Sprint(props["principalId"]), oid) {
					kept = append(kept, a)
				}
			}
			out.Value = kept
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	list.Flags().StringVar(&assignee, "assignee", "", "appId, object id or display name")
	list.Flags().StringVar(&scope, "scope", "", "scope (default: the subscription)")
	del := &cobra.Command{Use: "delete", Short: "Delete role assignments (--ids, or --assignee/--role/--scope)", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if len(ids) == 0 {
			oid, err := resolveAssignee(ctx, s, assignee)
			if err != nil {
				return err
			}
			r, ok := policy.LookupRole(roleName)
			sc := scope
			if sc == "" {
				sc = "/subscriptions/" + s.sub
			}
			var out struct {
				Value []struct {
					ID         string `json:"id"`
					Properties struct {
						PrincipalID, RoleDefinitionID, Scope string
					} `json:"properties"`
				} `json:"value"`
			}
			if _, err := s.c.ARM(ctx, "GET", strings.TrimSuffix(sc, "/")+"/providers/Microsoft.Authorization/roleAssignments", nil, &out); err != nil {
				return err
			}
			for _, a := range out.Value {
				if strings.EqualFold(a.Properties.PrincipalID, oid) && (roleName == "" || ok && strings.HasSuffix(strings.ToLower(a.Properties.RoleDefinitionID), r.ID)) &&
					(scope == "" || strings.EqualFold(a.Properties.Scope, scope)) {
					ids = append(ids, a.ID)
				}
			}
		}
		for _, id := range ids {
			if _, err := s.c.ARM(ctx, "DELETE", id, nil, nil); err != nil {
				return err
			}
		}
		return nil
	}}
	del.Flags().StringSliceVar(&ids, "ids", nil, "role assignment ids")
	del.Flags().StringVar(&assignee, "assignee", "", "appId, object id or display name")
	del.Flags().StringVar(&roleName, "role", "", "role name or GUID")
	del.Flags().StringVar(&scope, "scope", "", "scope")
	assignment.AddCommand(create, list, del)
	role.AddCommand(assignment)
	return role
}

// application is the part of a Graph application the CLI needs.
type application struct {
	ID                  string `json:"id"`
	PasswordCredentials []struct {
		KeyID string `json:"keyId"`
	} `json:"passwordCredentials"`
}

// appRegistration finds the app registration of an appId (nil if none).
func appRegistration(ctx context.Context, s *session, appID string) (*application, error) {
	var apps struct {
		Value []application `json:"value"`
	}
	if _, err := s.c.Graph(ctx, "GET", "/v1.0/applications?$filter="+url.QueryEscape("appId eq '"+strings.ReplaceAll(appID, "'", "''")+"'"), nil, &apps); err != nil {
		return nil, err
	}
	if len(apps.Value) != 1 {
		return nil, nil
	}
	return &apps.Value[0], nil
}
