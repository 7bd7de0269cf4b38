package policy

import (
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
)

// TestTemplates: the twelve portal templates, in the portal's order, name
// only real permissions, and grant through an access policy exactly what
// their rows in Microsoft's template table say.
func TestTemplates(t *testing.T) {
	want := []string{"Key, Secret, & Certificate Management", "Key & Secret Management", "Secret & Certificate Management",
		"Key Management", "Secret Management", "Certificate Management", "SQL Server Connector",
		"Azure Data Lake Storage or Azure Storage", "Azure Backup", "Exchange Online Customer Key",
		"SharePoint Online Customer Key", "Azure Information BYOK"}
	if got := TemplateNames(); !slices.Equal(got, want) {
		t.Fatalf("names = %q", got)
	}
	for _, tp := range Templates() {
		for _, p := range tp.Keys {
			if !ValidKeyPermission(p) || p == "all" {
				t.Errorf("%s: key permission %q", tp.Name, p)
			}
		}
		for _, p := range tp.Secrets {
			if !ValidSecretPermission(p) || p == "all" {
				t.Errorf("%s: secret permission %q", tp.Name, p)
			}
		}
		for _, p := range tp.Certificates {
			if !slices.Contains(model.CertificatePermissions, p) {
				t.Errorf("%s: certificate permission %q", tp.Name, p)
			}
		}
		// No template grants a privileged operation.
		for _, list := range [][]string{tp.Keys, tp.Secrets, tp.Certificates} {
			if slices.Contains(list, "purge") || slices.Contains(list, "release") {
				t.Errorf("%s grants a privileged operation: %q", tp.Name, list)
			}
		}
	}
	sm, _ := LookupTemplate("Secret Management")
	if !slices.Equal(sm.Secrets, model.SecretManagementTemplate) {
		t.Errorf("Secret Management = %q, model says %q", sm.Secrets, model.SecretManagementTemplate)
	}

	const tid, oid = "t1", "o1"
	c := Caller{TenantID: tid, ObjectID: oid}
	type check struct {
		kind, perm string
		allowed    bool
	}
	tests := []struct {
		template string
		checks   []check
	}{
		{"Key, Secret, & Certificate Management", []check{
			{"key", "create", true}, {"key", "rotate", true}, {"key", "setrotationpolicy", true}, {"key", "sign", false}, {"key", "purge", false},
			{"secret", "set", true}, {"secret", "purge", false},
			{"certificate", "create", true}, {"certificate", "managecontacts", true}, {"certificate", "purge", false}}},
		{"Key & Secret Management", []check{{"key", "import", true}, {"secret", "get", true}, {"certificate", "get", false}}},
		{"Secret & Certificate Management", []check{{"key", "get", false}, {"secret", "delete", true}, {"certificate", "deleteissuers", true}}},
		{"Key Management", []check{{"key", "backup", true}, {"key", "wrapKey", false}, {"secret", "get", false}}},
		{"Certificate Management", []check{{"certificate", "import", true}, {"secret", "get", false}, {"key", "get", false}}},
		{"SQL Server Connector", []check{{"key", "get", true}, {"key", "list", true}, {"key", "wrapkey", true}, {"key", "unwrapKey", true}, {"key", "decrypt", false}}},
		{"Azure Data Lake Storage or Azure Storage", []check{{"key", "unwrapKey", true}, {"key", "list", true}, {"key", "wrapKey", false}}},
		{"Azure Backup", []check{{"key", "backup", true}, {"secret", "backup", true}, {"secret", "set", false}, {"certificate", "backup", false}}},
		{"Exchange Online Customer Key", []check{{"key", "wrapKey", true}, {"key", "sign", false}}},
		{"SharePoint Online Customer Key", []check{{"key", "unwrapKey", true}, {"key", "encrypt", false}}},
		{"Azure Information BYOK", []check{{"key", "decrypt", true}, {"key", "sign", true}, {"key", "list", false}, {"key", "encrypt", false}}},
	}
	for _, tc := range tests {
		tp, ok := LookupTemplate(tc.template)
		if !ok {
			t.Fatalf("%s: not found", tc.template)
		}
		pol := []model.AccessPolicy{{TenantID: tid, ObjectID: oid, Permissions: model.Permissions{Keys: tp.Keys, Secrets: tp.Secrets, Certificates: tp.Certificates}}}
		for _, ch := range tc.checks {
			var got bool
			switch ch.kind {
			case "key":
				got = AllowedKeyByAccessPolicy(pol, c, ch.perm)
			case "secret":
				got = AllowedByAccessPolicy(pol, c, ch.perm)
			case "certificate":
				got = AllowedCertificateByAccessPolicy(pol, c, ch.perm)
			}
			if got != ch.allowed {
				t.Errorf("%s: %s %s allowed = %v, want %v", tc.template, ch.kind, ch.perm, got, ch.allowed)
			}
		}
	}
}

// TestLookupTemplate: the portal name in any case and the kebab-case
// spelling both find a template; unknown names do not; results are copies.
func TestLookupTemplate(t *testing.T) {
	for _, name := range []string{"Key, Secret, & Certificate Management", "key, secret, & certificate management",
		"key-secret-certificate-management", "Key-Secret-Certificate-Management"} {
		tp, ok := LookupTemplate(name)
		if !ok || tp.Name != "Key, Secret, & Certificate Management" {
			t.Errorf("%q → %q, %v", name, tp.Name, ok)
		}
	}
	if tp, ok := LookupTemplate("key-secret-management"); !ok || tp.Name != "Key & Secret Management" {
		t.Errorf("key-secret-management → %q, %v", tp.Name, ok)
	}
	for _, name := range []string{"", "Key", "Secret Management Plus", "all"} {
		if _, ok := LookupTemplate(name); ok {
			t.Errorf("%q found", name)
		}
	}
	a, _ := LookupTemplate("Key Management")
	a.Keys[0] = "purge"
	if b, _ := LookupTemplate("Key Management"); b.Keys[0] != "get" {
		t.Error("LookupTemplate returned the shared slice")
	}
}
