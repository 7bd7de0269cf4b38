package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/policy"
)

func newADCmd() *cobra.Command {
	ad := &cobra.Command{Use: "ad", Short: "Manage directory objects (service principals, users)"}
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
	// az 2.45 declares --display-name first and --name/-n as its aliases;
	// pflag has one long name per flag, so both write the same variable
	// (the last one given wins, as with argparse's shared dest).
	createForRBAC.Flags().StringVar(&name, "display-name", "", "display name of the service principal (also --name/-n)")
	createForRBAC.Flags().StringVarP(&name, "name", "n", "", "display name of the service principal (also --display-name)")
	createForRBAC.Flags().StringVar(&role, "role", "", "role to assign (name or GUID), e.g. \"Key Vault Secrets User\"")
	listVar(createForRBAC.Flags(), &scopes, "scopes", oneOrMore, "space-separated list of scopes the service principal's role assignment applies to")

	list := &cobra.Command{Use: "list", Short: "List service principals", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		path := "/v1.0/servicePrincipals"
		if displayName != "" {
			// az filters with startswith, so a name's prefix finds it.
			path += "?$filter=" + url.QueryEscape("startswith(displayName,'"+strings.ReplaceAll(displayName, "'", "''")+"')")
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.Graph(cmd.Context(), "GET", path, nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	list.Flags().StringVar(&displayName, "display-name", "", "list the service principals whose display name starts with this")
	list.Flags().Bool("all", false, "list all (the default)")

	show := &cobra.Command{Use: "show", Short: "Show a service principal (--id: appId, identifier URI or object id)", RunE: func(cmd *cobra.Command, _ []string) error {
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
		c.Flags().StringVar(&id, "id", "", "appId, identifier URI or object id")
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
	reset.Flags().StringVar(&id, "id", "", "appId, identifier URI or object id")
	reset.Flags().BoolVar(&appendCred, "append", false, "keep the existing secrets")
	_ = reset.MarkFlagRequired("id")
	cred.AddCommand(reset)
	sp.AddCommand(createForRBAC, list, show, del, cred, newSPUpdateCmd(), newSPPermissionCmd())
	ad.AddCommand(sp, newADUserCmd())
	return ad
}

// spnFilter is the Graph filter az uses to look a principal up by one of
// its servicePrincipalNames (its appId, the identifier URIs of its app, or
// a managed identity's name).
func spnFilter(name string) string {
	return "/v1.0/servicePrincipals?$filter=" + url.QueryEscape("servicePrincipalNames/any(c:c eq '"+strings.ReplaceAll(name, "'", "''")+"')")
}

// principalsBySPN lists the service principals that have name among their
// servicePrincipalNames.
func principalsBySPN(ctx context.Context, s *session, name string) ([]map[string]any, error) {
	var out struct {
		Value []map[string]any `json:"value"`
	}
	if _, err := s.c.Graph(ctx, "GET", spnFilter(name), nil, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// resolveSP is az's _resolve_service_principal (ad sp show/delete,
// credential reset): a servicePrincipalNames match, else an object id
// taken as given. There is no display-name lookup, as in az.
func resolveSP(ctx context.Context, s *session, id string) (string, error) {
	found, err := principalsBySPN(ctx, s, id)
	if err != nil {
		return "", err
	}
	if len(found) > 0 {
		oid, _ := found[0]["id"].(string)
		return oid, nil
	}
	if _, err := uuid.Parse(id); err == nil {
		return id, nil
	}
	// az raises this with status 404, so that it exits 3.
	return "", notFoundError{fmt.Errorf("Service principal '%s' doesn't exist", id)}
}

// findSP returns the service principal --id names (appId, identifier URI
// or object id), resolved as az does.
func findSP(ctx context.Context, s *session, id string) (map[string]any, error) {
	oid, err := resolveSP(ctx, s, id)
	if err != nil {
		return nil, err
	}
	var p map[string]any
	if _, err := s.c.Graph(ctx, "GET", "/v1.0/servicePrincipals/"+url.PathEscape(oid), nil, &p); err != nil {
		return nil, err
	}
	return p, nil
}

// objectIDBySPN is keyvault set-policy/delete-policy --spn, as az's
// _get_object_id_by_spn: exactly one servicePrincipalNames match.
func objectIDBySPN(ctx context.Context, s *session, spn string) (string, error) {
	found, err := principalsBySPN(ctx, s, spn)
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		stderrf("WARNING: Unable to find user with spn '%s'\n", spn)
	case 1:
		oid, _ := found[0]["id"].(string)
		return oid, nil
	default:
		stderrf("WARNING: Multiple service principals found with spn '%s'. You can avoid this by specifying object id.\n", spn)
	}
	return "", errors.New("Unable to get object id from principal name.")
}

// resolveAssignee is az's _resolve_object_id for role assignment
// --assignee: a servicePrincipalNames match (an appId, say), else an
// object id the directory knows (getByIds); a name with "@" is a user's
// userPrincipalName, tried first as az does. When the
// directory cannot be read, list and delete (fallback) take a GUID as an
// object id, as az does; create does not.
func resolveAssignee(ctx context.Context, s *session, assignee string, fallback bool) (string, error) {
	oid, err := lookupAssignee(ctx, s, assignee)
	var ce *client.Error
	if err != nil && errors.As(err, &ce) && !ce.Token {
		stderrf("WARNING: Failed to query %s by invoking Graph API. If you don't have permission to query Graph API, please specify --assignee-object-id and --assignee-principal-type.\n", assignee)
		if _, perr := uuid.Parse(assignee); fallback && perr == nil {
			stderrf("WARNING: Assuming %s as an object ID.\n", assignee)
			return assignee, nil
		}
	}
	return oid, err
}

func lookupAssignee(ctx context.Context, s *session, assignee string) (string, error) {
	if strings.Contains(assignee, "@") {
		var u struct {
			ID string `json:"id"`
		}
		if _, err := s.c.Graph(ctx, "GET", "/v1.0/users/"+url.PathEscape(assignee), nil, &u); err == nil && u.ID != "" {
			return u.ID, nil
		}
	}
	found, err := principalsBySPN(ctx, s, assignee)
	if err != nil {
		return "", err
	}
	if len(found) > 0 {
		oid, _ := found[0]["id"].(string)
		return oid, nil
	}
	if _, err := uuid.Parse(assignee); err == nil {
		var out struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		body := map[string]any{"ids": []string{assignee}, "types": []string{"user", "group", "servicePrincipal", "directoryObjectPartnerReference"}}
		if _, err := s.c.Graph(ctx, "POST", "/v1.0/directoryObjects/getByIds", body, &out); err != nil {
			return "", err
		}
		if len(out.Value) > 0 {
			return out.Value[0].ID, nil
		}
	}
	return "", fmt.Errorf("Cannot find user or service principal in graph database for '%s'. If the assignee is an appId, make sure the corresponding service principal is created with 'coffer ad sp create-for-rbac'.", assignee)
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
		oid, err := resolveAssignee(ctx, s, assignee, false)
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
	create.Flags().StringVar(&assignee, "assignee", "", "appId or object id of the principal")
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
			oid, err := resolveAssignee(ctx, s, assignee, true)
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
	list.Flags().StringVar(&assignee, "assignee", "", "appId or object id of the principal")
	list.Flags().StringVar(&scope, "scope", "", "scope (default: the subscription)")
	del := &cobra.Command{Use: "delete", Short: "Delete role assignments (--ids, or --assignee/--role/--scope)", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if len(ids) == 0 {
			oid, err := resolveAssignee(ctx, s, assignee, true)
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
	listVar(del.Flags(), &ids, "ids", oneOrMore, "space-separated role assignment ids")
	del.Flags().StringVar(&assignee, "assignee", "", "appId or object id of the principal")
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
