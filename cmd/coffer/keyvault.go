package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/model"
)

func vaultPath(s *session, rg, name string) string {
	return s.rgPath(rg) + "/providers/Microsoft.KeyVault/vaults/" + url.PathEscape(name)
}

// findVault locates a vault by name across the subscription (like az, the
// group is optional).
func findVault(ctx context.Context, s *session, name, rg string) (string, map[string]any, error) {
	if rg != "" {
		var v map[string]any
		if _, err := s.c.ARM(ctx, "GET", vaultPath(s, rg, name), nil, &v); err != nil {
			return "", nil, err
		}
		return rg, v, nil
	}
	var out struct {
		Value []map[string]any `json:"value"`
	}
	if _, err := s.c.ARM(ctx, "GET", "/subscriptions/"+s.sub+"/providers/Microsoft.KeyVault/vaults", nil, &out); err != nil {
		return "", nil, err
	}
	for _, v := range out.Value {
		if n, _ := v["name"].(string); strings.EqualFold(n, name) {
			return rgOf(v), v, nil
		}
	}
	return "", nil, fmt.Errorf("(ResourceNotFound) The vault '%s' was not found in subscription %s", name, s.sub)
}

func newKeyVaultCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keyvault", Short: "Manage key vaults, their access policies and secrets"}
	var (
		name, rg, location          string
		rbac, purgeProtection, noPP bool
		retention                   int
	)
	create := &cobra.Command{Use: "create", Short: "Create a key vault", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if rg == "" {
			rg = app.DefaultGroupName
		}
		if err := s.ensureGroup(ctx, rg, location); err != nil {
			return err
		}
		props := map[string]any{
			"tenantId": s.c.TenantID, "sku": map[string]string{"family": "A", "name": "standard"},
			"enableRbacAuthorization": rbac, "softDeleteRetentionInDays": retention,
			"accessPolicies": []any{},
		}
		if !rbac {
			// Like the portal and az: the creator gets every secret
			// permission except the privileged purge.
			oid, err := callerObjectID(ctx, s)
			if err != nil {
				return err
			}
			props["accessPolicies"] = []any{map[string]any{"tenantId": s.c.TenantID, "objectId": oid,
				"permissions": map[string]any{"secrets": []string{"get", "list", "set", "delete", "backup", "restore", "recover"}}}}
		}
		if purgeProtection {
			props["enablePurgeProtection"] = true
		}
		var out map[string]any
		if _, err := s.c.ARM(ctx, "PUT", vaultPath(s, rg, name), map[string]any{"location": location, "properties": props}, &out); err != nil {
			return err
		}
		out["resourceGroup"] = rg
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVarP(&location, "location", "l", app.DefaultLocation, "location")
	create.Flags().BoolVar(&rbac, "enable-rbac-authorization", false, "authorize data-plane access with Azure RBAC instead of access policies")
	create.Flags().BoolVar(&purgeProtection, "enable-purge-protection", false, "enable purge protection (irreversible)")
	create.Flags().BoolVar(&noPP, "no-self-perms", false, "do not add an access policy for the caller")
	create.Flags().IntVar(&retention, "retention-days", 90, "soft-delete retention in days (7-90, immutable)")

	show := &cobra.Command{Use: "show", Short: "Show a key vault", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		_, v, err := findVault(cmd.Context(), s, name, rg)
		if err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), v)
	}}
	list := &cobra.Command{Use: "list", Short: "List key vaults", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		path := "/subscriptions/" + s.sub + "/providers/Microsoft.KeyVault/vaults"
		if rg != "" {
			path = s.rgPath(rg) + "/providers/Microsoft.KeyVault/vaults"
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.ARM(cmd.Context(), "GET", path, nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	del := &cobra.Command{Use: "delete", Short: "Delete a key vault (soft delete when enabled)", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		g, _, err := findVault(cmd.Context(), s, name, rg)
		if err != nil {
			return err
		}
		_, err = s.c.ARM(cmd.Context(), "DELETE", vaultPath(s, g, name), nil, nil)
		return err
	}}
	listDeleted := &cobra.Command{Use: "list-deleted", Short: "List soft-deleted key vaults", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.ARM(cmd.Context(), "GET", "/subscriptions/"+s.sub+"/providers/Microsoft.KeyVault/deletedVaults", nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	purge := &cobra.Command{Use: "purge", Short: "Permanently delete a soft-deleted key vault", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		if location == "" {
			location = app.DefaultLocation
		}
		_, err = s.c.ARM(cmd.Context(), "POST", "/subscriptions/"+s.sub+"/providers/Microsoft.KeyVault/locations/"+location+"/deletedVaults/"+url.PathEscape(name)+"/purge", nil, nil)
		return err
	}}
	purge.Flags().StringVarP(&location, "location", "l", app.DefaultLocation, "location of the deleted vault")
	recoverCmd := &cobra.Command{Use: "recover", Short: "Recover a soft-deleted key vault", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		var dv struct {
			Properties struct {
				VaultID  string `json:"vaultId"`
				Location string `json:"location"`
			} `json:"properties"`
		}
		if _, err := s.c.ARM(cmd.Context(), "GET", "/subscriptions/"+s.sub+"/providers/Microsoft.KeyVault/locations/"+app.DefaultLocation+"/deletedVaults/"+url.PathEscape(name), nil, &dv); err != nil {
			return err
		}
		var out map[string]any
		body := map[string]any{"location": dv.Properties.Location, "properties": map[string]any{"tenantId": s.c.TenantID, "createMode": "recover", "sku": map[string]string{"family": "A", "name": "standard"}}}
		if _, err := s.c.ARM(cmd.Context(), "PUT", dv.Properties.VaultID, body, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	for _, c := range []*cobra.Command{create, show, del, purge, recoverCmd} {
		c.Flags().StringVarP(&name, "name", "n", "", "vault name")
		_ = c.MarkFlagRequired("name")
	}
	for _, c := range []*cobra.Command{create, show, list, del} {
		c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	}
	cmd.AddCommand(create, show, list, del, listDeleted, purge, recoverCmd, newSetPolicyCmd(), newDeletePolicyCmd(), newSecretCmd())
	return cmd
}

// callerObjectID returns the object id of the CLI's principal, read from
// its own ARM token (the client never needs a directory lookup for it).
func callerObjectID(ctx context.Context, s *session) (string, error) {
	tok, _, err := s.c.Token(ctx, s.c.ManagementResource())
	if err != nil {
		return "", err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("unexpected token format")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		OID string `json:"oid"`
	}
	if err := jsonUnmarshal(b, &claims); err != nil {
		return "", err
	}
	return claims.OID, nil
}

func newSetPolicyCmd() *cobra.Command {
	var name, rg, objectID, template, spn string
	var secretPerms []string
	cmd := &cobra.Command{Use: "set-policy", Short: "Grant a principal secret permissions in a vault's access policy", RunE: func(cmd *cobra.Command, _ []string) error {
		if objectID == "" && spn == "" {
			return fmt.Errorf("give --object-id or --spn")
		}
		perms := secretPerms
		if strings.EqualFold(template, "Secret Management") || strings.EqualFold(template, "secret-management") {
			perms = append(perms, model.SecretManagementTemplate...)
		} else if template != "" {
			return fmt.Errorf("unknown --template %q (known: \"Secret Management\")", template)
		}
		if len(perms) == 0 {
			return fmt.Errorf("give --secret-permissions or --template")
		}
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		g, err := policyTarget(ctx, s, name, rg, &objectID, spn)
		if err != nil {
			return err
		}
		// Like az: the named principal's secret permissions are replaced,
		// its other permission kinds are kept.
		var cur struct {
			Properties struct {
				AccessPolicies []map[string]any `json:"accessPolicies"`
			} `json:"properties"`
		}
		if _, err := s.c.ARM(ctx, "GET", vaultPath(s, g, name), nil, &cur); err != nil {
			return err
		}
		entry := map[string]any{"tenantId": s.c.TenantID, "objectId": objectID, "permissions": map[string]any{}}
		for _, ap := range cur.Properties.AccessPolicies {
			if oid, _ := ap["objectId"].(string); strings.EqualFold(oid, objectID) && ap["applicationId"] == nil {
				entry = ap
			}
		}
		p, _ := entry["permissions"].(map[string]any)
		if p == nil {
			p = map[string]any{}
		}
		p["secrets"] = perms
		entry["permissions"] = p
		var out map[string]any
		if _, err := s.c.ARM(ctx, "PUT", vaultPath(s, g, name)+"/accessPolicies/replace", map[string]any{"properties": map[string]any{"accessPolicies": []any{entry}}}, &out); err != nil {
			return err
		}
		var v map[string]any
		if _, err := s.c.ARM(ctx, "GET", vaultPath(s, g, name), nil, &v); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), v)
	}}
	cmd.Flags().StringVarP(&name, "name", "n", "", "vault name")
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVar(&objectID, "object-id", "", "object id of the principal (user, service principal or managed identity)")
	cmd.Flags().StringSliceVar(&secretPerms, "secret-permissions", nil, "secret permissions: all get list set delete backup restore recover purge")
	cmd.Flags().StringVar(&template, "template", "", "permission template, e.g. \"Secret Management\"")
	cmd.Flags().StringVar(&spn, "spn", "", "service principal by appId or display name (instead of --object-id)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newDeletePolicyCmd() *cobra.Command {
	var name, rg, objectID, spn string
	cmd := &cobra.Command{Use: "delete-policy", Short: "Remove a principal from a vault's access policy", RunE: func(cmd *cobra.Command, _ []string) error {
		if objectID == "" && spn == "" {
			return fmt.Errorf("give --object-id or --spn")
		}
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		g, err := policyTarget(ctx, s, name, rg, &objectID, spn)
		if err != nil {
			return err
		}
		body := map[string]any{"properties": map[string]any{"accessPolicies": []any{map[string]any{"tenantId": s.c.TenantID, "objectId": objectID, "permissions": map[string]any{}}}}}
		if _, err := s.c.ARM(ctx, "PUT", vaultPath(s, g, name)+"/accessPolicies/remove", body, nil); err != nil {
			return err
		}
		var v map[string]any
		if _, err := s.c.ARM(ctx, "GET", vaultPath(s, g, name), nil, &v); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), v)
	}}
	cmd.Flags().StringVarP(&name, "name", "n", "", "vault name")
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.Flags().StringVar(&objectID, "object-id", "", "object id of the principal")
	cmd.Flags().StringVar(&spn, "spn", "", "service principal by appId or display name (instead of --object-id)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Manage secrets in a key vault"}
	var vault, name, value, file, contentType, version string
	var tags []string
	var disabled bool
	var enabled string
	var expires, notBefore string
	parseTags := func() (map[string]string, error) {
		if tags == nil {
			return nil, nil
		}
		m := map[string]string{}
		for _, t := range tags {
			k, v, _ := strings.Cut(t, "=")
			if k == "" {
				return nil, fmt.Errorf("bad tag %q: want name=value", t)
			}
			m[k] = v
		}
		return m, nil
	}
	attrs := func() (map[string]any, error) {
		a := map[string]any{}
		if disabled {
			a["enabled"] = false
		}
		if enabled != "" {
			a["enabled"] = enabled == "true"
		}
		for flag, key := range map[*string]string{&expires: "exp", &notBefore: "nbf"} {
			if *flag != "" {
				t, err := time.Parse(time.RFC3339, *flag)
				if err != nil {
					return nil, fmt.Errorf("bad time %q: want RFC 3339 (2026-01-02T15:04:05Z)", *flag)
				}
				a[key] = t.Unix()
			}
		}
		return a, nil
	}
	run := func(f func(cmd *cobra.Command, s *session) (any, error)) func(cmd *cobra.Command, _ []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			s, err := connect()
			if err != nil {
				return err
			}
			out, err := f(cmd, s)
			if err != nil || out == nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), out)
		}
	}
	kv := func(cmd *cobra.Command, s *session, method, path string, body any) (any, error) {
		var out any
		_, err := s.c.KeyVault(cmd.Context(), vault, method, path, body, &out)
		return out, err
	}
	set := &cobra.Command{Use: "set", Short: "Create a secret or add a version", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			value = string(b)
		} else if !cmd.Flags().Changed("value") {
			return nil, fmt.Errorf("give --value or --file")
		}
		body := map[string]any{"value": value}
		if contentType != "" {
			body["contentType"] = contentType
		}
		t, err := parseTags()
		if err != nil {
			return nil, err
		}
		if t != nil {
			body["tags"] = t
		}
		a, err := attrs()
		if err != nil {
			return nil, err
		}
		if len(a) > 0 {
			body["attributes"] = a
		}
		return kv(cmd, s, "PUT", "/secrets/"+url.PathEscape(name), body)
	})}
	set.Flags().StringVar(&value, "value", "", "secret value")
	set.Flags().StringVarP(&file, "file", "f", "", "read the value from a file")
	show := &cobra.Command{Use: "show", Short: "Show a secret (latest or --version)", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "GET", "/secrets/"+url.PathEscape(name)+"/"+url.PathEscape(version), nil)
	})}
	show.Flags().StringVar(&version, "version", "", "secret version")
	setAttrs := &cobra.Command{Use: "set-attributes", Short: "Update a secret version's attributes", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		body := map[string]any{}
		a, err := attrs()
		if err != nil {
			return nil, err
		}
		if len(a) > 0 {
			body["attributes"] = a
		}
		if contentType != "" {
			body["contentType"] = contentType
		}
		t, err := parseTags()
		if err != nil {
			return nil, err
		}
		if t != nil {
			body["tags"] = t
		}
		return kv(cmd, s, "PATCH", "/secrets/"+url.PathEscape(name)+"/"+url.PathEscape(version), body)
	})}
	setAttrs.Flags().StringVar(&version, "version", "", "secret version (default: latest)")
	setAttrs.Flags().StringVar(&enabled, "enabled", "", "true or false")
	for _, c := range []*cobra.Command{set, setAttrs} {
		c.Flags().StringVar(&contentType, "content-type", "", "content type")
		c.Flags().StringSliceVar(&tags, "tags", nil, "tags as name=value")
		c.Flags().StringVar(&expires, "expires", "", "expiry (RFC 3339)")
		c.Flags().StringVar(&notBefore, "not-before", "", "not-before (RFC 3339)")
	}
	set.Flags().BoolVar(&disabled, "disabled", false, "create the version disabled")
	list := &cobra.Command{Use: "list", Short: "List secrets", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/secrets")
	})}
	listVersions := &cobra.Command{Use: "list-versions", Short: "List a secret's versions", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/secrets/"+url.PathEscape(name)+"/versions")
	})}
	listDeleted := &cobra.Command{Use: "list-deleted", Short: "List deleted secrets", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/deletedsecrets")
	})}
	del := &cobra.Command{Use: "delete", Short: "Delete a secret (all versions)", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "DELETE", "/secrets/"+url.PathEscape(name), nil)
	})}
	recoverCmd := &cobra.Command{Use: "recover", Short: "Recover a deleted secret", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "POST", "/deletedsecrets/"+url.PathEscape(name)+"/recover", nil)
	})}
	purge := &cobra.Command{Use: "purge", Short: "Permanently delete a deleted secret", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		_, err := s.c.KeyVault(cmd.Context(), vault, "DELETE", "/deletedsecrets/"+url.PathEscape(name), nil, nil)
		return nil, err
	})}
	backup := &cobra.Command{Use: "backup", Short: "Back up a secret to a file", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		var out struct {
			Value string `json:"value"`
		}
		if _, err := s.c.KeyVault(cmd.Context(), vault, "POST", "/secrets/"+url.PathEscape(name)+"/backup", nil, &out); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(file, []byte(out.Value), 0o600)
	})}
	restore := &cobra.Command{Use: "restore", Short: "Restore a secret from a backup file", RunE: run(func(cmd *cobra.Command, s *session) (any, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return kv(cmd, s, "POST", "/secrets/restore", map[string]string{"value": strings.TrimSpace(string(b))})
	})}
	for _, c := range []*cobra.Command{backup, restore} {
		c.Flags().StringVarP(&file, "file", "f", "", "backup file")
		_ = c.MarkFlagRequired("file")
	}
	for _, c := range []*cobra.Command{set, show, setAttrs, list, listVersions, listDeleted, del, recoverCmd, purge, backup, restore} {
		c.Flags().StringVar(&vault, "vault-name", "", "vault name")
		_ = c.MarkFlagRequired("vault-name")
		if c != list && c != listDeleted && c != restore {
			c.Flags().StringVarP(&name, "name", "n", "", "secret name")
			_ = c.MarkFlagRequired("name")
		}
	}
	cmd.AddCommand(set, show, setAttrs, list, listVersions, listDeleted, del, recoverCmd, purge, backup, restore)
	return cmd
}

// listAll follows nextLink to the end of a data-plane list.
func listAll(ctx context.Context, s *session, vault, path string) ([]any, error) {
	all := []any{}
	var page struct {
		Value    []any   `json:"value"`
		NextLink *string `json:"nextLink"`
	}
	if _, err := s.c.KeyVault(ctx, vault, "GET", path, nil, &page); err != nil {
		return nil, err
	}
	for {
		all = append(all, page.Value...)
		if page.NextLink == nil || *page.NextLink == "" {
			return all, nil
		}
		next := *page.NextLink
		page.Value, page.NextLink = nil, nil
		if err := s.c.GetURL(ctx, next, s.c.VaultResource(), &page); err != nil {
			return nil, err
		}
	}
}

// policyTarget resolves --spn (a service principal's appId or display name)
// into *objectID and finds the vault's resource group.
func policyTarget(ctx context.Context, s *session, vault, rg string, objectID *string, spn string) (string, error) {
	if spn != "" {
		sp, err := findSP(ctx, s, spn)
		if err != nil {
			return "", err
		}
		*objectID, _ = sp["id"].(string)
	}
	g, _, err := findVault(ctx, s, vault, rg)
	return g, err
}
