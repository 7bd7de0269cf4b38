package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
)

func vaultPath(s *session, rg, name string) string {
	return s.rgPath(rg) + "/providers/Microsoft.KeyVault/vaults/" + url.PathEscape(name)
}

// vaultMissingError is az's error for a vault name found in no group of
// the subscription (a CLIError there, so it exits 1, not 3).
type vaultMissingError struct{ name string }

func (e vaultMissingError) Error() string {
	return fmt.Sprintf("The Vault '%s' not found within subscription.", e.name)
}

func (e vaultMissingError) Hint() string { return vaultNotFoundHint(e.name) }

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
	return "", nil, vaultMissingError{name}
}

func newKeyVaultCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keyvault", Short: "Manage key vaults, their access policies and secrets"}
	var (
		name, rg, location, sku     string
		rbac, purgeProtection, noPP bool
		retention                   int
		tags                        []string
	)
	create := &cobra.Command{Use: "create", Short: "Create a key vault", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if err := s.ensureGroup(ctx, rg, location); err != nil {
			return err
		}
		props := map[string]any{
			"tenantId": s.c.TenantID, "sku": map[string]string{"family": "A", "name": strings.ToLower(sku)},
			"enableRbacAuthorization": rbac, "softDeleteRetentionInDays": retention,
			"accessPolicies": []any{},
		}
		if !rbac && !noPP {
			// As az does: the creator gets every key, secret, certificate
			// and storage permission, unless --no-self-perms or RBAC.
			oid, err := callerObjectID(ctx, s)
			if err != nil {
				return err
			}
			all := []string{model.PermAll}
			props["accessPolicies"] = []any{map[string]any{"tenantId": s.c.TenantID, "objectId": oid,
				"permissions": map[string]any{"keys": all, "secrets": all, "certificates": all, "storage": all}}}
		}
		if purgeProtection {
			props["enablePurgeProtection"] = true
		}
		body := map[string]any{"location": location, "properties": props}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		var out map[string]any
		if _, err := s.c.ARM(ctx, "PUT", vaultPath(s, rg, name), body, &out); err != nil {
			return err
		}
		out["resourceGroup"] = rg
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVarP(&location, "location", "l", app.DefaultLocation, "location")
	create.Flags().StringVar(&sku, "sku", "standard", "the vault's SKU: standard or premium (HSM-protected and exportable keys need premium)")
	boolVar(create.Flags(), &rbac, "enable-rbac-authorization", "authorize data-plane access with Azure RBAC instead of access policies")
	boolVar(create.Flags(), &purgeProtection, "enable-purge-protection", "enable purge protection (irreversible)")
	boolVar(create.Flags(), &noPP, "no-self-perms", "don't add permissions for the current user/service principal in the new vault")
	create.Flags().IntVar(&retention, "retention-days", 90, "soft-delete retention in days (7-90, immutable)")
	tagsVar(create.Flags(), &tags)

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
	_ = create.MarkFlagRequired("resource-group") // az: no default group
	cmd.AddCommand(create, show, list, del, listDeleted, purge, recoverCmd, newSetPolicyCmd(), newDeletePolicyCmd(), newSecretCmd(), newKeyCmd(), newCertificateCmd())
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
	var keyPerms, secretPerms, certPerms, storagePerms []string
	kinds := []struct {
		flag, key string
		perms     *[]string
	}{
		{"key-permissions", "keys", &keyPerms},
		{"secret-permissions", "secrets", &secretPerms},
		{"certificate-permissions", "certificates", &certPerms},
		{"storage-permissions", "storage", &storagePerms},
	}
	cmd := &cobra.Command{Use: "set-policy", Short: "Update the access policy of a principal in a vault", RunE: func(cmd *cobra.Command, _ []string) error {
		if (objectID == "") == (spn == "") {
			return fmt.Errorf("specify exactly one: --object-id, --spn")
		}
		given := map[string][]string{}
		for _, k := range kinds {
			if cmd.Flags().Changed(k.flag) {
				given[k.key] = append([]string{}, *k.perms...)
			}
		}
		if template != "" {
			// The template's kinds join the permissions given by flag, as
			// ticking a template and then more boxes does in the portal.
			t, ok := policy.LookupTemplate(template)
			if !ok {
				return fmt.Errorf("unknown --template %q (known: %q)", template, policy.TemplateNames())
			}
			for kind, perms := range map[string][]string{"keys": t.Keys, "secrets": t.Secrets, "certificates": t.Certificates} {
				if len(perms) > 0 {
					given[kind] = append(given[kind], perms...)
				}
			}
		}
		for kind, perms := range given {
			given[kind] = dedupeFold(perms)
		}
		if len(given) == 0 {
			return fmt.Errorf("specify at least one: --key-permissions, --secret-permissions, --certificate-permissions --storage-permissions")
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
		// Like az: the kinds given replace the principal's permissions of
		// that kind; the kinds not given are kept.
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
		for k, perms := range given {
			p[k] = perms
		}
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
	listVar(cmd.Flags(), &keyPerms, "key-permissions", zeroOrMore, "space-separated list of key permissions to assign")
	listVar(cmd.Flags(), &secretPerms, "secret-permissions", zeroOrMore, "space-separated list of secret permissions to assign: all get list set delete backup restore recover purge")
	listVar(cmd.Flags(), &certPerms, "certificate-permissions", zeroOrMore, "space-separated list of certificate permissions to assign")
	listVar(cmd.Flags(), &storagePerms, "storage-permissions", zeroOrMore, "space-separated list of storage permissions to assign")
	cmd.Flags().StringVar(&template, "template", "", "portal permission template, e.g. \"Secret Management\" or \"Key, Secret, & Certificate Management\"")
	cmd.Flags().StringVar(&spn, "spn", "", "name of a service principal (its appId or an identifier URI) to grant permissions (instead of --object-id)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newDeletePolicyCmd() *cobra.Command {
	var name, rg, objectID, spn string
	cmd := &cobra.Command{Use: "delete-policy", Short: "Remove a principal from a vault's access policy", RunE: func(cmd *cobra.Command, _ []string) error {
		if (objectID == "") == (spn == "") {
			return fmt.Errorf("specify exactly one: --object-id, --spn")
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
	cmd.Flags().StringVar(&spn, "spn", "", "name of a service principal (its appId or an identifier URI) to grant permissions (instead of --object-id)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Manage secrets in a key vault"}
	var vault, name, value, file, contentType, version, id, encoding, dlEncoding string
	var tags []string
	var disabled, enabled bool
	var expires, notBefore string
	attrs := func(cmd *cobra.Command) (map[string]any, error) {
		a := map[string]any{}
		if disabled {
			a["enabled"] = false
		}
		if cmd.Flags().Changed("enabled") {
			a["enabled"] = enabled
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
	// target resolves the secret a command works on: --id (a secret id
	// URL, or a deleted secret's recovery id) or --vault-name/--name
	// [--version], as az's "Id" argument group.
	obj := objectTarget{kind: "secrets", vault: &vault, name: &name, version: &version, id: &id}
	run, kv := obj.run, obj.kv
	secretPath := func() string { return "/secrets/" + url.PathEscape(name) + "/" + url.PathEscape(version) }
	set := &cobra.Command{Use: "set", Short: "Create a secret or add a version", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		if (file != "") == cmd.Flags().Changed("value") {
			return nil, fmt.Errorf("incorrect usage: [Required] --value VALUE | --file PATH")
		}
		if err := checkEncoding(encoding); err != nil {
			return nil, err
		}
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			if value, err = encodeSecretFile(b, file, encoding); err != nil {
				return nil, err
			}
		}
		body := map[string]any{"value": value}
		if contentType != "" {
			body["contentType"] = contentType
		}
		// az records the encoding on every secret it sets, so that
		// download can decode the value again.
		t := parseTags(tags)
		t["file-encoding"] = encoding
		body["tags"] = t
		a, err := attrs(cmd)
		if err != nil {
			return nil, err
		}
		if len(a) > 0 {
			body["attributes"] = a
		}
		return kv(cmd, s, "PUT", "/secrets/"+url.PathEscape(name), body)
	})}
	set.Flags().StringVar(&value, "value", "", "plain text secret value; cannot be used with --file or --encoding")
	set.Flags().StringVarP(&file, "file", "f", "", "source file for the secret; use with --encoding")
	encodingVar(set.Flags(), &encoding, "utf-8", "source file encoding, saved as the tag file-encoding=<value> and used by download")
	show := &cobra.Command{Use: "show", Short: "Show a secret (latest or --version)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "GET", secretPath(), nil)
	})}
	download := &cobra.Command{Use: "download", Short: "Download a secret's value to a file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		if _, err := os.Stat(file); err == nil {
			return nil, fmt.Errorf("File or directory named '%s' already exists.", file)
		}
		var sec struct {
			Value string            `json:"value"`
			Tags  map[string]string `json:"tags"`
		}
		if _, err := s.c.KeyVault(cmd.Context(), vault, "GET", secretPath(), nil, &sec); err != nil {
			return nil, err
		}
		enc := dlEncoding
		if enc == "" {
			enc = sec.Tags["file-encoding"]
		}
		b, err := decodeSecretValue(sec.Value, enc)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, b, 0o600); err != nil {
			_ = os.Remove(file)
			return nil, err
		}
		return nil, nil
	})}
	download.Flags().StringVarP(&file, "file", "f", "", "file to receive the secret contents")
	encodingVar(download.Flags(), &dlEncoding, "", "encoding of the secret; by default the file-encoding tag, else utf-8")
	_ = download.MarkFlagRequired("file")
	setAttrs := &cobra.Command{Use: "set-attributes", Short: "Update a secret version's attributes", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		body := map[string]any{}
		a, err := attrs(cmd)
		if err != nil {
			return nil, err
		}
		if len(a) > 0 {
			body["attributes"] = a
		}
		if contentType != "" {
			body["contentType"] = contentType
		}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		return kv(cmd, s, "PATCH", secretPath(), body)
	})}
	boolVar(setAttrs.Flags(), &enabled, "enabled", "enable the secret version")
	for _, c := range []*cobra.Command{set, setAttrs} {
		c.Flags().StringVar(&contentType, "content-type", "", "content type")
		tagsVar(c.Flags(), &tags)
		c.Flags().StringVar(&expires, "expires", "", "expiry (RFC 3339)")
		c.Flags().StringVar(&notBefore, "not-before", "", "not-before (RFC 3339)")
	}
	boolVar(set.Flags(), &disabled, "disabled", "create the version disabled")
	list := &cobra.Command{Use: "list", Short: "List secrets", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/secrets")
	})}
	listVersions := &cobra.Command{Use: "list-versions", Short: "List a secret's versions", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/secrets/"+url.PathEscape(name)+"/versions")
	})}
	listDeleted := &cobra.Command{Use: "list-deleted", Short: "List deleted secrets", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/deletedsecrets")
	})}
	del := &cobra.Command{Use: "delete", Short: "Delete a secret (all versions)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "DELETE", "/secrets/"+url.PathEscape(name), nil)
	})}
	recoverCmd := &cobra.Command{Use: "recover", Short: "Recover a deleted secret", RunE: run(true, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "POST", "/deletedsecrets/"+url.PathEscape(name)+"/recover", nil)
	})}
	purge := &cobra.Command{Use: "purge", Short: "Permanently delete a deleted secret", RunE: run(true, func(cmd *cobra.Command, s *session) (any, error) {
		_, err := s.c.KeyVault(cmd.Context(), vault, "DELETE", "/deletedsecrets/"+url.PathEscape(name), nil, nil)
		return nil, err
	})}
	backup := &cobra.Command{Use: "backup", Short: "Back up a secret to a file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		var out struct {
			Value string `json:"value"`
		}
		if _, err := s.c.KeyVault(cmd.Context(), vault, "POST", "/secrets/"+url.PathEscape(name)+"/backup", nil, &out); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(file, []byte(out.Value), 0o600)
	})}
	restore := &cobra.Command{Use: "restore", Short: "Restore a secret from a backup file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
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
	// Commands with az's "Id" group take --id instead of --vault-name and
	// --name; the others require their names.
	withID := map[*cobra.Command]string{
		show: "secret id (https://VAULT.vault.azure.net/secrets/NAME[/VERSION])", download: "secret id", setAttrs: "secret id",
		listVersions: "secret id", del: "secret id", backup: "secret id", recoverCmd: "recovery id of the deleted secret", purge: "recovery id of the deleted secret",
	}
	for _, c := range []*cobra.Command{set, show, download, setAttrs, list, listVersions, listDeleted, del, recoverCmd, purge, backup, restore} {
		c.Flags().StringVar(&vault, "vault-name", "", "vault name")
		if help, ok := withID[c]; ok {
			c.Flags().StringVar(&id, "id", "", help+"; if given, omit --vault-name and --name")
			c.Flags().StringVarP(&name, "name", "n", "", "secret name")
			continue
		}
		_ = c.MarkFlagRequired("vault-name")
		if c != list && c != listDeleted && c != restore {
			c.Flags().StringVarP(&name, "name", "n", "", "secret name")
			_ = c.MarkFlagRequired("name")
		}
	}
	for _, c := range []*cobra.Command{show, download, setAttrs} {
		c.Flags().StringVarP(&version, "version", "v", "", "secret version (default: the latest)")
	}
	cmd.AddCommand(set, show, download, setAttrs, list, listVersions, listDeleted, del, recoverCmd, purge, backup, restore)
	return cmd
}

// The encodings of az's secret set --file and secret download.
var (
	secretTextEncodings   = []string{"utf-8", "utf-16le", "utf-16be", "ascii"}
	secretBinaryEncodings = []string{"base64", "hex"}
)

// encodingVar declares --encoding/-e, checked against az's choices.
func encodingVar(fs *pflag.FlagSet, p *string, def, usage string) {
	fs.StringVarP(p, "encoding", "e", def, usage+"; one of "+strings.Join(append(append([]string{}, secretTextEncodings...), secretBinaryEncodings...), ", "))
}

func checkEncoding(enc string) error {
	for _, e := range append(append([]string{}, secretTextEncodings...), secretBinaryEncodings...) {
		if e == enc {
			return nil
		}
	}
	return fmt.Errorf("'%s' is not a valid value for '--encoding'. Allowed values: %s.", enc, strings.Join(append(append([]string{}, secretTextEncodings...), secretBinaryEncodings...), ", "))
}

// encodeSecretFile turns a file's bytes into the secret value as az does:
// text encodings store the text (read as UTF-8 with universal newlines,
// as Python's text mode reads it), base64 stores MIME base64 (lines of 76
// characters, each ending in a newline), hex stores lower-case hex.
func encodeSecretFile(b []byte, path, enc string) (string, error) {
	if err := checkEncoding(enc); err != nil {
		return "", err
	}
	switch enc {
	case "base64":
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 0 {
			n := min(76, len(s))
			out.WriteString(s[:n] + "\n")
			s = s[n:]
		}
		return out.String(), nil
	case "hex":
		return hex.EncodeToString(b), nil
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("Unable to decode file '%s' with '%s' encoding.", path, enc)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\r", "\n")
	if enc == "ascii" {
		for _, r := range text {
			if r > 0x7f {
				return "", fmt.Errorf("Unable to decode file '%s' with '%s' encoding.", path, enc)
			}
		}
	}
	return text, nil
}

// decodeSecretValue is download's inverse of encodeSecretFile: text is
// written as is, base64 (ignoring line breaks) and hex are decoded.
func decodeSecretValue(v, enc string) ([]byte, error) {
	if enc == "" {
		enc = "utf-8"
	}
	if err := checkEncoding(enc); err != nil {
		return nil, err
	}
	switch enc {
	case "base64":
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, v)
		return base64.StdEncoding.DecodeString(clean)
	case "hex":
		return hex.DecodeString(v)
	}
	return []byte(v), nil
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
		oid, err := objectIDBySPN(ctx, s, spn)
		if err != nil {
			return "", err
		}
		*objectID = oid
	}
	g, _, err := findVault(ctx, s, vault, rg)
	return g, err
}

// dedupeFold drops repeated permission names (compared case-insensitively),
// keeping the first spelling and the order.
func dedupeFold(perms []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, p := range perms {
		if k := strings.ToLower(p); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}
