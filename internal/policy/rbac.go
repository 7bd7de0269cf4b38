package policy

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/model"
)

// RoleDefinition is a built-in role and the permissions it grants.
type RoleDefinition struct {
	ID          string // GUID
	Name        string
	Actions     []string
	DataActions []string
}

// BuiltinRoles are the Azure built-in roles Coffer knows, with their real ids.
var BuiltinRoles = []RoleDefinition{
	{ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", Name: "Owner", Actions: []string{"*"}},
	{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", Name: "Contributor", Actions: []string{"*"}},
	{ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", Name: "Reader", Actions: []string{"*/read"}},
	{ID: "00482a5a-887f-4fb3-b363-3b7fe8e74483", Name: "Key Vault Administrator", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/*"}},
	{ID: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", Name: "Key Vault Secrets Officer", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}},
	{ID: "4633458b-17de-408a-b874-0445c86b69e6", Name: "Key Vault Secrets User", DataActions: []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
	{ID: "21090545-7ca7-4776-b22c-e363652d74d2", Name: "Key Vault Reader", Actions: []string{"Microsoft.KeyVault/vaults/*/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
	{ID: "f25e0fa2-a7c8-4377-a976-54943a77a395", Name: "Key Vault Contributor", Actions: []string{"Microsoft.KeyVault/*"}},
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
	for _, a := range assignments {
		if !strings.EqualFold(a.PrincipalID, c.ObjectID) && !contains(c.Groups, a.PrincipalID) {
			continue
		}
		if !ScopeCovers(a.Scope, scope) {
			continue
		}
		role, ok := LookupRole(a.RoleDefinitionID)
		if !ok {
			continue
		}
		for _, pattern := range role.DataActions {
			if MatchAction(pattern, dataAction) {
				return true
			}
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
