package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// azKeyCertPermissions: az keyvault set-policy --key-permissions and
// --certificate-permissions (az 2.45 sends its own capitalised enum
// names) set those kinds for the principal, keep its secret permissions,
// and the data plane then allows exactly what was granted: the key create
// passes, the certificate create (only get and list granted) is refused
// with Azure's 403. Runs inside TestAzCLI, signed in as the administrator
// whose app id is appID.
func azKeyCertPermissions(t *testing.T, c *azCLI, vault, appID, objectID string) {
	t.Helper()
	before := policyKind(c.obj("keyvault", "show", "-n", vault), objectID, "secrets")
	p := c.obj("keyvault", "set-policy", "-n", vault, "--spn", appID,
		"--key-permissions", "get", "create", "sign", "--certificate-permissions", "get", "list")
	if got := policyKind(p, objectID, "keys"); got != "create get sign" {
		t.Errorf("set-policy --key-permissions: keys = %q in %v", got, p)
	}
	if got := policyKind(p, objectID, "certificates"); got != "get list" {
		t.Errorf("set-policy --certificate-permissions: certificates = %q", got)
	}
	if got := policyKind(p, objectID, "secrets"); got != before {
		t.Errorf("set-policy of keys and certificates changed secrets from %q to %q", before, got)
	}
	base := "https://" + vault + ".vault.azure.net"
	key := c.obj("rest", "--method", "post", "--resource", "https://vault.azure.net",
		"--url", base+"/keys/az-perm-key/create?api-version=7.4", "--body", `{"kty":"EC","crv":"P-256"}`)
	if kid := str(key, "key", "kid"); !strings.HasPrefix(kid, base+"/keys/az-perm-key/") {
		t.Errorf("key create with the create permission = %v", key)
	}
	msg := c.fails("rest", "--method", "post", "--resource", "https://vault.azure.net",
		"--url", base+"/certificates/az-perm-cert/create?api-version=7.4",
		"--body", `{"policy":{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=az"}}}`)
	if !strings.Contains(msg, "Forbidden") || !strings.Contains(msg, "certificates create permission") {
		t.Errorf("certificate create without the create permission said %q", msg)
	}
}

// policyKind returns objectID's permissions of one kind in a vault
// printed by az, lower-cased, sorted and space-joined.
func policyKind(vault map[string]any, objectID, kind string) string {
	props, _ := vault["properties"].(map[string]any)
	aps, _ := props["accessPolicies"].([]any)
	for _, ap := range aps {
		m, _ := ap.(map[string]any)
		if str(m, "objectId") != objectID {
			continue
		}
		perms, _ := m["permissions"].(map[string]any)
		list, _ := perms[kind].([]any)
		var out []string
		for _, p := range list {
			out = append(out, strings.ToLower(fmt.Sprint(p)))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	return ""
}
