package e2e

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/policy"
)

// TestCLIPolicyTemplates: coffer keyvault set-policy --template takes every
// portal template (its name or kebab spelling) and sets exactly its
// permissions per kind, joined with permissions given by flag; kinds the
// template does not name are kept; an unknown template is refused with the
// list of names.
func TestCLIPolicyTemplates(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("group", "create", "-n", "rg1")
	c.ok("keyvault", "create", "-n", "kvtemplates", "-g", "rg1")
	const oid = "00000000-0000-0000-0000-0000000a7e11"
	lower := func(l []string) []string {
		out := make([]string, len(l))
		for i, p := range l {
			out[i] = strings.ToLower(p)
		}
		sort.Strings(out)
		return out
	}
	perms := func(kind string) []string { return lower(policyPerms(t, c, "kvtemplates", oid, kind)) }
	for _, tp := range policy.Templates() {
		t.Run(tp.Name, func(t *testing.T) {
			// A clean slate: every kind replaced by a marker the template
			// either overwrites or keeps.
			c.ok("keyvault", "set-policy", "-n", "kvtemplates", "--object-id", oid, "--key-permissions", "purge",
				"--secret-permissions", "purge", "--certificate-permissions", "purge", "-o", "none")
			c.ok("keyvault", "set-policy", "-n", "kvtemplates", "--object-id", oid, "--template", tp.Name, "-o", "none")
			for kind, want := range map[string][]string{"keys": tp.Keys, "secrets": tp.Secrets, "certificates": tp.Certificates} {
				if len(want) == 0 {
					want = []string{"purge"} // not named by the template: kept
				}
				if got := perms(kind); !slices.Equal(got, lower(want)) {
					t.Errorf("%s = %v, want %v", kind, got, lower(want))
				}
			}
		})
	}
	// The kebab spelling, and a flag's permissions joined to the template's.
	c.ok("keyvault", "set-policy", "-n", "kvtemplates", "--object-id", oid, "--template", "key-secret-certificate-management",
		"--secret-permissions", "purge", "get", "-o", "none")
	tp, _ := policy.LookupTemplate("Key, Secret, & Certificate Management")
	if got := perms("secrets"); !slices.Equal(got, lower(append(tp.Secrets, "purge"))) {
		t.Errorf("template + --secret-permissions purge get: secrets = %v", got)
	}
	c.fails(`unknown --template "Everything"`, "keyvault", "set-policy", "-n", "kvtemplates", "--object-id", oid, "--template", "Everything")
}
