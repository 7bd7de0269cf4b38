package policy

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
)

// TestGroupMembership: an access-policy entry or role assignment for a
// group applies to a caller whose token lists that group, and to no one
// else. (Coffer has no Entra groups of its own yet: the groups claim is
// honoured when a token carries it, which only tokens from a federated or
// future group-aware issuer would.)
func TestGroupMembership(t *testing.T) {
	const tid, group, other = "t1", "g-readers", "g-other"
	vault := "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1"
	member := Caller{TenantID: tid, ObjectID: "o1", AppID: "a1", Groups: []string{other, group}}
	nonMember := Caller{TenantID: tid, ObjectID: "o2", AppID: "a2", Groups: []string{other}}
	noGroups := Caller{TenantID: tid, ObjectID: "o3", AppID: "a3"}
	policies := []model.AccessPolicy{{TenantID: tid, ObjectID: group, Permissions: model.Permissions{Secrets: []string{"get"}}}}
	foreignTenant := []model.AccessPolicy{{TenantID: "t2", ObjectID: group, Permissions: model.Permissions{Secrets: []string{"get"}}}}
	roles := []model.RoleAssignment{{Scope: vault, RoleDefinitionID: "Key Vault Secrets User", PrincipalID: group}}
	tests := []struct {
		name   string
		caller Caller
		policy bool // AllowedByAccessPolicy(get)
		rbac   bool // AllowedByRBAC(getSecret)
	}{
		{"member", member, true, true},
		{"member of other groups only", nonMember, false, false},
		{"no groups", noGroups, false, false},
		{"the group id as an object id", Caller{TenantID: tid, ObjectID: group}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowedByAccessPolicy(policies, tt.caller, "get"); got != tt.policy {
				t.Errorf("AllowedByAccessPolicy = %v, want %v", got, tt.policy)
			}
			if got := AllowedByAccessPolicy(policies, tt.caller, "set"); got {
				t.Errorf("AllowedByAccessPolicy(set) = true: the group grants get only")
			}
			if got := AllowedByAccessPolicy(foreignTenant, tt.caller, "get"); got {
				t.Errorf("a group entry of another tenant applied")
			}
			if got := AllowedByRBAC(roles, tt.caller, vault+"/secrets/s", GetSecret.DataAction); got != tt.rbac {
				t.Errorf("AllowedByRBAC = %v, want %v", got, tt.rbac)
			}
			if got := AllowedByRBAC(roles, tt.caller, vault+"/secrets/s", SetSecret.DataAction); got {
				t.Errorf("AllowedByRBAC(set) = true: Secrets User cannot set")
			}
			if got := AllowedControlAction(roles, tt.caller, vault, "Microsoft.KeyVault/vaults/write"); got {
				t.Errorf("AllowedControlAction(vaults/write) = true for a data-plane role")
			}
		})
	}
}

// TestScopeBoundary: a scope covers its descendants on whole path
// segments only: kv1 does not cover kv10, nor rg1 rg10.
func TestScopeBoundary(t *testing.T) {
	const rg = "/subscriptions/s1/resourceGroups/rg1"
	tests := []struct {
		parent, child string
		want          bool
	}{
		{rg + "/providers/Microsoft.KeyVault/vaults/kv1", rg + "/providers/Microsoft.KeyVault/vaults/kv10/secrets/s", false},
		{rg + "/providers/Microsoft.KeyVault/vaults/kv1", rg + "/providers/Microsoft.KeyVault/vaults/kv1/secrets/s", true},
		{rg, "/subscriptions/s1/resourceGroups/rg10/providers/Microsoft.KeyVault/vaults/kv1", false},
		{rg, rg + "/providers/Microsoft.KeyVault/vaults/kv1", true},
		{"/subscriptions/s1", "/subscriptions/s10/resourceGroups/rg1", false},
		{"/subscriptions/S1/", "/subscriptions/s1/resourceGroups/RG1", true},
		{"/", "/subscriptions/s1", true},
		{rg + "/providers/Microsoft.KeyVault/vaults/kv1/secrets/s", rg + "/providers/Microsoft.KeyVault/vaults/kv1", false},
	}
	for _, tt := range tests {
		if got := ScopeCovers(tt.parent, tt.child); got != tt.want {
			t.Errorf("ScopeCovers(%q, %q) = %v, want %v", tt.parent, tt.child, got, tt.want)
		}
		roles := []model.RoleAssignment{{Scope: tt.parent, RoleDefinitionID: "Key Vault Secrets User", PrincipalID: "o1"}}
		if got := AllowedByRBAC(roles, Caller{ObjectID: "o1"}, tt.child, GetSecret.DataAction); got != tt.want {
			t.Errorf("AllowedByRBAC at %q for %q = %v, want %v", tt.parent, tt.child, got, tt.want)
		}
	}
}
