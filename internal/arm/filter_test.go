package arm

import (
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

// filterFixture is a small estate: two vaults, a VM and an identity.
var filterFixture = []genericItem{
	{ID: "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv-demo", Name: "kv-demo", Type: "Microsoft.KeyVault/vaults",
		Location: "eastus", ResourceGroup: "rg-a", Tags: map[string]string{"env": "Prod", "department": "it"}},
	{ID: "/subscriptions/s/resourceGroups/rg-b/providers/Microsoft.KeyVault/vaults/other", Name: "other", Type: "Microsoft.KeyVault/vaults",
		Location: "westeurope", ResourceGroup: "rg-b", Tags: map[string]string{"env": "dev"}},
	{ID: "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm1", Name: "vm1", Type: "Microsoft.Compute/virtualMachines",
		Location: "eastus", ResourceGroup: "rg-a", Identity: &wire.ResourceIdentity{Type: "SystemAssigned", PrincipalID: "0000aaaa-0000-0000-0000-000000000001"}},
	{ID: "/subscriptions/s/resourceGroups/rg-b/providers/Microsoft.ManagedIdentity/userAssignedIdentities/demo-id", Name: "demo-id",
		Type: "Microsoft.ManagedIdentity/userAssignedIdentities", Location: "eastus", ResourceGroup: "rg-b", Tags: map[string]string{"Env": "Prod"}},
}

func TestResourceFilterValid(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   []string // names, in fixture order
		tagged bool
	}{
		{"", []string{"kv-demo", "other", "vm1", "demo-id"}, false},
		{"resourceType eq 'Microsoft.KeyVault/vaults'", []string{"kv-demo", "other"}, false},
		{"resourcetype EQ 'microsoft.keyvault/VAULTS'", []string{"kv-demo", "other"}, false},
		{"resourceType ne 'Microsoft.KeyVault/vaults'", []string{"vm1", "demo-id"}, false},
		{"name eq 'vm1'", []string{"vm1"}, false},
		{"name eq 'VM1'", []string{"vm1"}, false},
		{"substringof('demo', name)", []string{"kv-demo", "demo-id"}, false},
		{"substringof('DEMO', name) and resourceType eq 'Microsoft.KeyVault/vaults'", []string{"kv-demo"}, false},
		{"substringof('demo', name) or resourceType eq 'Microsoft.Compute/virtualMachines'", []string{"kv-demo", "vm1", "demo-id"}, false},
		{"substringof('-b', resourceGroup)", []string{"other", "demo-id"}, false},
		{"resourceGroup eq 'rg-a' and name eq 'vm1' and location eq 'eastus' and resourceType eq 'Microsoft.Compute/virtualMachines'", []string{"vm1"}, false},
		{"location eq 'East US'", []string{"kv-demo", "vm1", "demo-id"}, false},
		{"(name eq 'vm1' or name eq 'other') and location eq 'eastus'", []string{"vm1"}, false},
		// "and" binds tighter than "or".
		{"name eq 'other' or name eq 'vm1' and location eq 'westeurope'", []string{"other"}, false},
		{"resourceType eq 'Microsoft.KeyVault/vaults' or resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'", []string{"kv-demo", "other", "demo-id"}, false},
		{"name eq 'it''s'", nil, false},
		{"tagName eq 'env'", []string{"kv-demo", "other", "demo-id"}, true},
		{"tagName eq 'env' and tagValue eq 'Prod'", []string{"kv-demo", "demo-id"}, true},
		{"tagValue eq 'Prod' and tagName eq 'ENV'", []string{"kv-demo", "demo-id"}, true},
		{"tagName eq 'env' and tagValue eq 'prod'", nil, true}, // tag values are case-sensitive
		{"startswith(tagName, 'depart')", []string{"kv-demo"}, true},
		{"  name   eq   'vm1'  ", []string{"vm1"}, false},
		{"identity/principalId eq '0000AAAA-0000-0000-0000-000000000001'", []string{"vm1"}, false},
		{"identity/principalId ne '0000aaaa-0000-0000-0000-000000000001'", []string{"kv-demo", "other", "demo-id"}, false},
	} {
		f, err := parseResourceFilter(tc.filter)
		if err != nil {
			t.Errorf("%q: %v", tc.filter, err)
			continue
		}
		var got []string
		for i := range filterFixture {
			if f.root == nil || f.root.match(&filterFixture[i]) {
				got = append(got, filterFixture[i].Name)
			}
		}
		if !slices.Equal(got, tc.want) || f.tagged != tc.tagged {
			t.Errorf("%q matched %v (tagged %v), want %v (tagged %v)", tc.filter, got, f.tagged, tc.want, tc.tagged)
		}
	}
}

func TestResourceFilterRefused(t *testing.T) {
	for _, tc := range []struct{ why, filter string }{
		// Well-formed but not what ARM supports together or at all.
		{"tag with another property", "tagName eq 'env' and resourceType eq 'Microsoft.KeyVault/vaults'"},
		{"tagValue alone", "tagValue eq 'Prod'"},
		{"tag ne", "tagName ne 'env'"},
		{"two tag names", "tagName eq 'a' and tagName eq 'b'"},
		{"tags with or", "tagName eq 'env' or tagValue eq 'x'"},
		{"startswith on name", "startswith(name, 'kv')"},
		{"substringof on type", "substringof('Key', resourceType)"},
		{"unknown property", "kind eq 'x'"},
		{"plan", "plan/publisher eq 'x'"},
		{"identity alone", "identity eq 'x'"},
		{"gt", "name gt 'a'"},
		{"unknown function", "endswith(name, 'x')"},
		// Malformed.
		{"the $filter= prefix", "$filter=resourceType eq 'Microsoft.KeyVault/vaults'"},
		{"unterminated string", "name eq 'vm1"},
		{"no value", "name eq"},
		{"unquoted value", "name eq vm1"},
		{"double quotes", `name eq "vm1"`},
		{"dangling and", "name eq 'vm1' and"},
		{"unbalanced paren", "(name eq 'vm1'"},
		{"extra paren", "name eq 'vm1')"},
		{"empty parens", "()"},
		{"missing comma", "substringof('a' name)"},
		{"trailing token", "name eq 'a' 'b'"},
		{"lambda", "tags/any(t: t eq 'x')"},
	} {
		_, err := parseResourceFilter(tc.filter)
		code, _, _ := errs.Details(err)
		if err == nil || errs.KindOf(err) != errs.Invalid || code != "InvalidFilterInQueryString" {
			t.Errorf("%s (%q): err = %v (code %q), want InvalidFilterInQueryString", tc.why, tc.filter, err, code)
		}
	}
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want int
		ok   bool
	}{{"", 1000, true}, {"5", 5, true}, {"5000", 1000, true}, {"0", 0, false}, {"-1", 0, false}, {"x", 0, false}} {
		n, err := pageSize(tc.raw)
		if (err == nil) != tc.ok || (tc.ok && n != tc.want) {
			t.Errorf("pageSize(%q) = %d, %v", tc.raw, n, err)
		}
	}
}

func TestRoleDefinitionFilter(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"roleName eq 'Reader'", []string{"Reader"}, true},
		{"roleName eq 'key vault secrets user'", []string{"Key Vault Secrets User"}, true},
		{"type eq 'CustomRole'", []string{}, true},
		{"roleName eq 'Nope'", []string{}, true},
		{"roleName ne 'Reader'", nil, false},
		{"roleName eq Reader", nil, false},
		{"description eq 'x'", nil, false},
	} {
		f, err := parseRoleDefinitionFilter(tc.raw)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v", tc.raw, err)
			continue
		}
		if !tc.ok || tc.want == nil {
			continue
		}
		got := []string{}
		for _, r := range policy.BuiltinRoles {
			if f.match(r) {
				got = append(got, r.Name)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q matched %v, want %v", tc.raw, got, tc.want)
		}
	}
}
