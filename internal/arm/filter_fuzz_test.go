package arm

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
)

// FuzzResourceFilter: any $filter either parses into a filter that can be
// evaluated on every item, or is refused as ARM's 400
// InvalidFilterInQueryString; never a panic.
func FuzzResourceFilter(f *testing.F) {
	for _, s := range []string{
		"", "resourceType eq 'Microsoft.KeyVault/vaults'", "substringof('demo', name) or location eq 'eastus'",
		"tagName eq 'env' and tagValue eq 'Prod'", "startswith(tagName, 'e')", "(name eq 'a'", "name eq 'it''s'",
		"not name eq 'a'", "resourceGroup eq 'rg-a' and (name eq 'x' or name eq 'y')", "tagName eq", "'", "((((((((((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		rf, err := parseResourceFilter(raw)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("parseResourceFilter(%q) = %v, want an Invalid (400) error", raw, err)
			}
			return
		}
		for i := range filterFixture {
			if rf.root != nil {
				rf.root.match(&filterFixture[i])
			}
		}
	})
}
