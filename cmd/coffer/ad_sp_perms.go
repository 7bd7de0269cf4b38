package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/identity"
)

// graphAPIAppID is Microsoft Graph's appId, the --api of az's
// `ad app permission` commands.
const graphAPIAppID = "00000003-0000-0000-c000-000000000000"

// newSPUpdateCmd is az's `ad sp update --id X --set prop=value`: a generic
// update that PATCHes only the properties set (az sends {} plus the
// --set values), e.g. --set accountEnabled=false to disable a principal.
func newSPUpdateCmd() *cobra.Command {
	var id string
	var sets []string
	c := &cobra.Command{Use: "update", Short: "Update a service principal (--set accountEnabled=false disables it)", RunE: func(cmd *cobra.Command, _ []string) error {
		body := map[string]any{}
		for _, kv := range sets {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("invalid --set %q: use property=value", kv)
			}
			// As az: a value that parses as JSON is JSON (false, 3,
			// [..]), anything else a string.
			var val any
			switch {
			case strings.EqualFold(v, "true") || strings.EqualFold(v, "false"):
				val = strings.EqualFold(v, "true") // az takes Python's True/False too
			case json.Unmarshal([]byte(v), &val) != nil:
				val = v
			}
			body[k] = val
		}
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		oid, err := resolveSP(ctx, s, id)
		if err != nil {
			return err
		}
		_, err = s.c.Graph(ctx, "PATCH", "/v1.0/servicePrincipals/"+url.PathEscape(oid), body, nil)
		return err
	}}
	c.Flags().StringVar(&id, "id", "", "appId, identifier URI or object id")
	c.Flags().StringArrayVar(&sets, "set", nil, "property=value to set, e.g. accountEnabled=false")
	_ = c.MarkFlagRequired("id")
	return c
}

// newSPPermissionCmd grants Microsoft Graph application permissions (app
// roles) to a service principal or managed identity: what az users do with
// `az ad app permission add --api 00000003-… --api-permissions <id>=Role`
// followed by `az ad app permission admin-consent`, or with `az rest` on
// /servicePrincipals/{id}/appRoleAssignments; here in one step.
func newSPPermissionCmd() *cobra.Command {
	perm := &cobra.Command{Use: "permission", Short: "Manage a service principal's Microsoft Graph application permissions"}
	var id string
	var perms []string
	type assignment struct {
		ID          string `json:"id"`
		AppRoleID   string `json:"appRoleId"`
		PrincipalID string `json:"principalId"`
		ResourceID  string `json:"resourceId"`
	}
	graphSP := func(cmd *cobra.Command, s *session) (string, error) {
		var sp struct {
			ID string `json:"id"`
		}
		_, err := s.c.Graph(cmd.Context(), "GET", "/v1.0/servicePrincipals(appId='"+graphAPIAppID+"')", nil, &sp)
		return sp.ID, err
	}
	roleIDs := func() ([]identity.GraphAppRole, error) {
		var out []identity.GraphAppRole
		for _, p := range perms {
			r, ok := identity.LookupGraphAppRole(p)
			if !ok {
				var known []string
				for _, k := range identity.GraphAppRoles {
					known = append(known, k.Value)
				}
				return nil, fmt.Errorf("unknown Microsoft Graph permission %q; Coffer knows %s (by name or id)", p, strings.Join(known, ", "))
			}
			out = append(out, r)
		}
		return out, nil
	}
	list := func(cmd *cobra.Command, s *session, oid string) ([]assignment, error) {
		var out struct {
			Value []assignment `json:"value"`
		}
		_, err := s.c.Graph(cmd.Context(), "GET", "/v1.0/servicePrincipals/"+url.PathEscape(oid)+"/appRoleAssignments", nil, &out)
		return out.Value, err
	}
	// granted connects and returns the principal --id names (its object
	// id) and what it has been granted.
	granted := func(cmd *cobra.Command) (s *session, oid string, have []assignment, err error) {
		if s, err = connect(); err != nil {
			return nil, "", nil, err
		}
		if oid, err = resolveSP(cmd.Context(), s, id); err != nil {
			return nil, "", nil, err
		}
		have, err = list(cmd, s, oid)
		return s, oid, have, err
	}
	grant := &cobra.Command{Use: "grant", Short: "Grant Microsoft Graph application permissions (e.g. Application.Read.All)", RunE: func(cmd *cobra.Command, _ []string) error {
		roles, err := roleIDs()
		if err != nil {
			return err
		}
		s, oid, have, err := granted(cmd)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		res, err := graphSP(cmd, s)
		if err != nil {
			return err
		}
		out := []map[string]any{}
	roles:
		for _, r := range roles {
			for _, a := range have {
				if strings.EqualFold(a.AppRoleID, r.ID) {
					continue roles // granted already: nothing to do, as admin-consent
				}
			}
			var a map[string]any
			if _, err := s.c.Graph(ctx, "POST", "/v1.0/servicePrincipals/"+url.PathEscape(oid)+"/appRoleAssignments",
				map[string]any{"principalId": oid, "resourceId": res, "appRoleId": r.ID}, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	listCmd := &cobra.Command{Use: "list", Short: "List the Microsoft Graph application permissions granted", RunE: func(cmd *cobra.Command, _ []string) error {
		_, _, have, err := granted(cmd)
		if err != nil {
			return err
		}
		out := []map[string]any{}
		for _, a := range have {
			value := ""
			if r, ok := identity.LookupGraphAppRole(a.AppRoleID); ok {
				value = r.Value
			}
			out = append(out, map[string]any{"id": a.ID, "appRoleId": a.AppRoleID, "permission": value, "principalId": a.PrincipalID, "resourceId": a.ResourceID})
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	revoke := &cobra.Command{Use: "revoke", Short: "Revoke Microsoft Graph application permissions", RunE: func(cmd *cobra.Command, _ []string) error {
		roles, err := roleIDs()
		if err != nil {
			return err
		}
		s, oid, have, err := granted(cmd)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		for _, r := range roles {
			for _, a := range have {
				if strings.EqualFold(a.AppRoleID, r.ID) {
					if _, err := s.c.Graph(ctx, "DELETE", "/v1.0/servicePrincipals/"+url.PathEscape(oid)+"/appRoleAssignments/"+url.PathEscape(a.ID), nil, nil); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}}
	for _, c := range []*cobra.Command{grant, listCmd, revoke} {
		c.Flags().StringVar(&id, "id", "", "appId, identifier URI or object id of the service principal or managed identity")
		_ = c.MarkFlagRequired("id")
	}
	for _, c := range []*cobra.Command{grant, revoke} {
		listVar(c.Flags(), &perms, "permissions", oneOrMore, "space-separated Microsoft Graph application permissions, by name (Application.Read.All) or id")
		_ = c.MarkFlagRequired("permissions")
	}
	perm.AddCommand(grant, listCmd, revoke)
	return perm
}
