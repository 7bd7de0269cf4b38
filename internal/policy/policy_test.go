package policy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
)

func TestAllowedByAccessPolicy(t *testing.T) {
	const tid, oid, app = "t1", "o1", "a1"
	pol := func(objectID, appID string, perms ...string) model.AccessPolicy {
		return model.AccessPolicy{TenantID: tid, ObjectID: objectID, ApplicationID: appID, Permissions: model.Permissions{Secrets: perms}}
	}
	tests := []struct {
		name     string
		policies []model.AccessPolicy
		caller   Caller
		perm     string
		want     bool
	}{
		{"granted", []model.AccessPolicy{pol(oid, "", "get")}, Caller{TenantID: tid, ObjectID: oid}, "get", true},
		{"case-insensitive", []model.AccessPolicy{pol(oid, "", "Get")}, Caller{TenantID: tid, ObjectID: oid}, "get", true},
		{"all", []model.AccessPolicy{pol(oid, "", "all")}, Caller{TenantID: tid, ObjectID: oid}, "purge", true},
		{"other perm", []model.AccessPolicy{pol(oid, "", "get")}, Caller{TenantID: tid, ObjectID: oid}, "list", false},
		{"other object", []model.AccessPolicy{pol("o2", "", "get")}, Caller{TenantID: tid, ObjectID: oid}, "get", false},
		{"other tenant", []model.AccessPolicy{pol(oid, "", "get")}, Caller{TenantID: "t2", ObjectID: oid}, "get", false},
		{"group", []model.AccessPolicy{pol("g1", "", "get")}, Caller{TenantID: tid, ObjectID: oid, Groups: []string{"g1"}}, "get", true},
		{"compound ok", []model.AccessPolicy{pol(oid, app, "get")}, Caller{TenantID: tid, ObjectID: oid, AppID: app}, "get", true},
		{"compound wrong app", []model.AccessPolicy{pol(oid, app, "get")}, Caller{TenantID: tid, ObjectID: oid, AppID: "x"}, "get", false},
		{"empty", nil, Caller{TenantID: tid, ObjectID: oid}, "get", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowedByAccessPolicy(tt.policies, tt.caller, tt.perm); got != tt.want {
				t.Errorf("AllowedByAccessPolicy(%s) = %v, want %v", tt.perm, got, tt.want)
			}
		})
	}
}

func TestAllowedByRBAC(t *testing.T) {
	const sub = "/subscriptions/s1"
	rg := sub + "/resourceGroups/rg1"
	vault := rg + "/providers/Microsoft.KeyVault/vaults/kv1"
	secret := vault + "/secrets/db"
	user := Caller{ObjectID: "o1"}
	assign := func(scope, role string) []model.RoleAssignment {
		return []model.RoleAssignment{{Scope: scope, RoleDefinitionID: role, PrincipalID: "o1"}}
	}
	tests := []struct {
		name   string
		assign []model.RoleAssignment
		action string
		want   bool
	}{
		{"secrets user at rg can get", assign(rg, "4633458b-17de-408a-b874-0445c86b69e6"), GetSecret.DataAction, true},
		{"secrets user cannot set", assign(rg, "4633458b-17de-408a-b874-0445c86b69e6"), SetSecret.DataAction, false},
		{"officer can set", assign(vault, "Key Vault Secrets Officer"), SetSecret.DataAction, true},
		{"officer can purge", assign(vault, "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"), PurgeSecret.DataAction, true},
		{"reader metadata only", assign(sub, "21090545-7ca7-4776-b22c-e363652d74d2"), ListSecrets.DataAction, true},
		{"reader no value", assign(sub, "21090545-7ca7-4776-b22c-e363652d74d2"), GetSecret.DataAction, false},
		{"admin everything", assign(vault, "00482a5a-887f-4fb3-b363-3b7fe8e74483"), RestoreSecret.DataAction, true},
		{"contributor has no data", assign(sub, "b24988ac-6180-42a0-ab88-20f7382dd24c"), GetSecret.DataAction, false},
		{"other vault scope", assign(rg+"/providers/Microsoft.KeyVault/vaults/kv10", "Key Vault Secrets Officer"), GetSecret.DataAction, false},
		{"secret scope", assign(secret, "Key Vault Secrets User"), GetSecret.DataAction, true},
		{"other secret scope", assign(vault+"/secrets/dbx", "Key Vault Secrets User"), GetSecret.DataAction, false},
		{"owner has no data", assign(sub, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"), GetSecret.DataAction, false},
		{"certificate user can get", assign(vault, "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"), GetSecret.DataAction, true},
		{"certificate user cannot set", assign(vault, "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"), SetSecret.DataAction, false},
		{"crypto officer has no secrets", assign(vault, "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"), GetSecret.DataAction, false},
		{"other principal", []model.RoleAssignment{{Scope: vault, RoleDefinitionID: "Key Vault Administrator", PrincipalID: "o2"}}, GetSecret.DataAction, false},
		{"unknown role", assign(vault, "11111111-1111-1111-1111-111111111111"), GetSecret.DataAction, false},
		{"full role definition id", assign(vault, sub+"/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"), SetSecret.DataAction, true},
		{"none", nil, GetSecret.DataAction, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowedByRBAC(tt.assign, user, secret, tt.action); got != tt.want {
				t.Errorf("AllowedByRBAC(%s) = %v, want %v", tt.action, got, tt.want)
			}
		})
	}
}

func TestAllowedControlAction(t *testing.T) {
	const sub = "/subscriptions/s1"
	vault := sub + "/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1"
	user := Caller{ObjectID: "o1"}
	assign := func(role string) []model.RoleAssignment {
		return []model.RoleAssignment{{Scope: sub, RoleDefinitionID: role, PrincipalID: "o1"}}
	}
	const (
		writeVault  = "Microsoft.KeyVault/vaults/write"
		writeAssign = "Microsoft.Authorization/roleAssignments/write"
	)
	tests := []struct {
		name   string
		assign []model.RoleAssignment
		action string
		want   bool
	}{
		{"owner writes vaults", assign("Owner"), writeVault, true},
		{"owner assigns roles", assign("Owner"), writeAssign, true},
		{"contributor writes vaults", assign("Contributor"), writeVault, true},
		{"contributor cannot assign roles", assign("Contributor"), writeAssign, false},
		{"contributor cannot delete assignments", assign("Contributor"), "Microsoft.Authorization/roleAssignments/delete", false},
		{"reader reads", assign("Reader"), "Microsoft.KeyVault/vaults/read", true},
		{"reader cannot write", assign("Reader"), writeVault, false},
		{"secrets user has no control plane", assign("Key Vault Secrets User"), "Microsoft.KeyVault/vaults/read", false},
		{"none", nil, writeVault, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowedControlAction(tt.assign, user, vault, tt.action); got != tt.want {
				t.Errorf("AllowedControlAction(%s) = %v, want %v", tt.action, got, tt.want)
			}
		})
	}
}

func TestBuiltinRoles(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range BuiltinRoles {
		if !guid.MatchString(r.ID) || seen[r.ID] || seen[r.Name] {
			t.Errorf("role %q: id %q invalid or duplicated", r.Name, r.ID)
		}
		seen[r.ID], seen[r.Name] = true, true
		for _, a := range r.Actions {
			if strings.Contains(strings.ToLower(a), "/secrets/") {
				t.Errorf("role %q grants secret data through Actions %q", r.Name, a)
			}
		}
	}
}

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestMatchAction(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/read", true},
		{"*", "anything", true},
		{"a/b", "a/b", true},
		{"a/b", "a/bc", false},
	}
	for _, tt := range tests {
		if got := MatchAction(tt.pattern, tt.action); got != tt.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}
