package policy

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/model"
)

// RoleDefinition is a built-in role and the permissions it grants: the
// control-plane Actions minus NotActions, and the data-plane DataActions.
// Control-plane patterns never grant data actions ("*" in Actions does not
// read a secret), which is how Azure keeps Key Vault data permissions from
// leaking through Owner or Contributor.
type RoleDefinition struct {
	ID          string // GUID
	Name        string
	Actions     []string
	NotActions  []string
	DataActions []string
}

// BuiltinRoles are the Azure built-in roles Coffer knows, with their real ids.
var BuiltinRoles = []RoleDefinition{
	{ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", Name: "Owner", Actions: []string{"*"}},
	// Contributor manages everything but access: it cannot write or delete
	// role assignments, so it cannot give itself a Key Vault data role.
	{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", Name: "Contributor", Actions: []string{"*"},
		NotActions: []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action"}},
	{ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", Name: "Reader", Actions: []string{"*/read"}},
	{ID: "00482a5a-887f-4fb3-b363-3b7fe8e74483", Name: "Key Vault Administrator", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/*"}},
	{ID: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", Name: "Key Vault Secrets Officer", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}},
	{ID: "4633458b-17de-408a-b874-0445c86b69e6", Name: "Key Vault Secrets User", DataActions: []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
	{ID: "21090545-7ca7-4776-b22c-e363652d74d2", Name: "Key Vault Reader", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
	{ID: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", Name: "Key Vault Certificate User", DataActions: []string{"Microsoft.KeyVault/vaults/certificates/read", "Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "Microsoft.KeyVault/vaults/keys/read"}},
	{ID: "a4417e6f-fecd-4de8-b567-7b0420556985", Name: "Key Vault Certificates Officer", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/certificatecas/*", "Microsoft.KeyVault/vaults/certificates/*", "Microsoft.KeyVault/vaults/certificatecontacts/write"}},
	{ID: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", Name: "Key Vault Crypto Officer", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"}},
	{ID: "f25e0fa2-a7c8-4377-a976-54943a77a395", Name: "Key Vault Contributor", Actions: []string{"Microsoft.KeyVault/*"}},
	{ID: "12338af0-0e69-4776-bea7-57ae8d297424", Name: "Key Vault Crypto User", DataActions: []string{"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action", "Microsoft.KeyVault/vaults/keys/backup/action", "Microsoft.KeyVault/vaults/keys/encrypt/action", "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action", "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action", "Microsoft.KeyVault/vaults/keys/verify/action"}},
	{ID: "08bbd89e-9f13-488c-ac41-acfcb10c90ab", Name: "Key Vault Crypto Service Release User", DataActions: []string{"Microsoft.KeyVault/vaults/keys/release/action"}},
	{ID: "e147488a-f6f5-4113-8e2d-b22465e65bf6", Name: "Key Vault Crypto Service Encryption User", Actions: []string{"Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read", "Microsoft.EventGrid/eventSubscriptions/delete"}, DataActions: []string{"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action", "Microsoft.KeyVault/vaults/keys/unwrap/action"}},
}

// Allows reports whether the role grants a control-plane action: some
// Actions pattern matches it and no NotActions pattern does. For reads a
// "/*/" in a pattern may also stand for no segment at all, so
// "Microsoft.KeyVault/vaults/*/read" lets Key Vault readers read the vault.
func (r RoleDefinition) Allows(action string) bool {
	if matchAny(r.NotActions, action) {
		return false
	}
	if matchAny(r.Actions, action) {
		return true
	}
	if !strings.HasSuffix(strings.ToLower(action), "/read") {
		return false
	}
	for _, p := range r.Actions {
		if MatchAction(strings.Replace(p, "/*/", "/", 1), action) {
			return true
		}
	}
	return false
}

// AllowsData reports whether the role grants a data-plane action. Only
// DataActions count.
func (r RoleDefinition) AllowsData(dataAction string) bool {
	return matchAny(r.DataActions, dataAction)
}

func matchAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if MatchAction(p, action) {
			return true
		}
	}
	return false
}

// LookupRole finds a built-in role by GUID, full role-definition id, or name
// (case-insensitive).
func LookupRole(ref string) (RoleDefinition, bool) {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	for _, r := range BuiltinRoles {
		if strings.EqualFold(r.ID, ref) || strings.EqualFold(r.Name, ref) {
			return r, true
		}
	}
	return RoleDefinition{}, false
}

// AllowedByRBAC reports whether any assignment to the caller (or one of its
// groups) at scope or a parent scope grants dataAction. Scopes compare
// case-insensitively on whole path segments.
func AllowedByRBAC(assignments []model.RoleAssignment, c Caller, scope, dataAction string) bool {
	return anyRole(assignments, c, scope, func(r RoleDefinition) bool { return r.AllowsData(dataAction) })
}

// AllowedControlAction reports whether any assignment to the caller (or
// one of its groups) at scope or a parent scope grants the control-plane
// action, e.g. "Microsoft.Authorization/roleAssignments/write".
func AllowedControlAction(assignments []model.RoleAssignment, c Caller, scope, action string) bool {
	return anyRole(assignments, c, scope, func(r RoleDefinition) bool { return r.Allows(action) })
}

func anyRole(assignments []model.RoleAssignment, c Caller, scope string, grants func(RoleDefinition) bool) bool {
	for _, a := range assignments {
		if !strings.EqualFold(a.PrincipalID, c.ObjectID) && !contains(c.Groups, a.PrincipalID) {
			continue
		}
		if !ScopeCovers(a.Scope, scope) {
			continue
		}
		if role, ok := LookupRole(a.RoleDefinitionID); ok && grants(role) {
			return true
		}
	}
	return false
}

// ScopeCovers reports whether an assignment at parent applies to child.
func ScopeCovers(parent, child string) bool {
	p := strings.TrimSuffix(strings.ToLower(parent), "/")
	c := strings.TrimSuffix(strings.ToLower(child), "/")
	return p == "" || p == "/" || c == p || strings.HasPrefix(c, p+"/")
}

// MatchAction matches an Azure action pattern where "*" stands for any run
// of characters (including "/").
func MatchAction(pattern, action string) bool {
	pattern, action = strings.ToLower(pattern), strings.ToLower(action)
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == action
	}
	if !strings.HasPrefix(action, parts[0]) {
		return false
	}
	action = action[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(action, parts[i])
		if j < 0 {
			return false
		}
		action = action[j+len(parts[i]):]
	}
	return strings.HasSuffix(action, parts[len(parts)-1])
}
