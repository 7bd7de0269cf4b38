// Package policy decides, without I/O, whether a caller may perform a Key
// Vault data-plane operation. Two models exist, chosen per vault: access
// policies (the vault's own list of principals and permission names) and
// Azure RBAC (role assignments at a scope and the dataActions of their role
// definitions). Callers load the inputs; this package only evaluates them.
package policy

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/model"
)

// Caller identifies the token holder.
type Caller struct {
	TenantID string
	ObjectID string
	AppID    string
	Groups   []string
}

// Action is one secret operation, carrying both of its names: the
// access-policy permission and the RBAC dataAction.
type Action struct {
	Permission string
	DataAction string
}

// Secret actions (azure-wire-spec §1.5 and §2.4).
var (
	GetSecret     = Action{model.PermGet, "Microsoft.KeyVault/vaults/secrets/getSecret/action"}
	SetSecret     = Action{model.PermSet, "Microsoft.KeyVault/vaults/secrets/setSecret/action"}
	UpdateSecret  = Action{model.PermSet, "Microsoft.KeyVault/vaults/secrets/update/action"}
	DeleteSecret  = Action{model.PermDelete, "Microsoft.KeyVault/vaults/secrets/delete"}
	ListSecrets   = Action{model.PermList, "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}
	GetDeleted    = Action{model.PermGet, "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}
	PurgeSecret   = Action{model.PermPurge, "Microsoft.KeyVault/vaults/secrets/purge/action"}
	RecoverSecret = Action{model.PermRecover, "Microsoft.KeyVault/vaults/secrets/recover/action"}
	BackupSecret  = Action{model.PermBackup, "Microsoft.KeyVault/vaults/secrets/backup/action"}
	RestoreSecret = Action{model.PermRestore, "Microsoft.KeyVault/vaults/secrets/restore/action"}
)

// AllowedByAccessPolicy reports whether any access-policy entry grants the
// caller the secret permission. An entry matches on tenant and object id
// (or a group the caller is in) and, when it names an application, also on
// the caller's app id (compound identity). Permission names compare
// case-insensitively and "all" grants everything.
func AllowedByAccessPolicy(policies []model.AccessPolicy, c Caller, perm string) bool {
	for _, p := range policies {
		if !strings.EqualFold(p.TenantID, c.TenantID) {
			continue
		}
		if !strings.EqualFold(p.ObjectID, c.ObjectID) && !contains(c.Groups, p.ObjectID) {
			continue
		}
		if p.ApplicationID != "" && !strings.EqualFold(p.ApplicationID, c.AppID) {
			continue
		}
		for _, got := range p.Permissions.Secrets {
			if strings.EqualFold(got, perm) || strings.EqualFold(got, model.PermAll) {
				return true
			}
		}
	}
	return false
}

// NormalizePermissions lower-cases permission names, expands nothing and
// drops duplicates, so stored policies read like the ARM enum.
func NormalizePermissions(perms []string) []string {
	var out []string
	for _, p := range perms {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != "" && !contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// ValidSecretPermission reports whether p names a secret permission.
func ValidSecretPermission(p string) bool {
	return strings.EqualFold(p, model.PermAll) || contains(model.SecretPermissions, p)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
