package policy

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/model"
)

// Key actions: the access-policy key permission and the RBAC dataAction of
// each key operation.
var (
	GetKey            = Action{"get", "Microsoft.KeyVault/vaults/keys/read"}
	ListKeys          = Action{"list", "Microsoft.KeyVault/vaults/keys/read"}
	CreateKey         = Action{"create", "Microsoft.KeyVault/vaults/keys/create/action"}
	ImportKey         = Action{"import", "Microsoft.KeyVault/vaults/keys/import/action"}
	UpdateKey         = Action{"update", "Microsoft.KeyVault/vaults/keys/update/action"}
	DeleteKey         = Action{"delete", "Microsoft.KeyVault/vaults/keys/delete"}
	RecoverKey        = Action{"recover", "Microsoft.KeyVault/vaults/keys/recover/action"}
	PurgeKey          = Action{"purge", "Microsoft.KeyVault/vaults/keys/purge/action"}
	BackupKey         = Action{"backup", "Microsoft.KeyVault/vaults/keys/backup/action"}
	RestoreKey        = Action{"restore", "Microsoft.KeyVault/vaults/keys/restore/action"}
	EncryptKey        = Action{"encrypt", "Microsoft.KeyVault/vaults/keys/encrypt/action"}
	DecryptKey        = Action{"decrypt", "Microsoft.KeyVault/vaults/keys/decrypt/action"}
	WrapKey           = Action{"wrapKey", "Microsoft.KeyVault/vaults/keys/wrap/action"}
	UnwrapKey         = Action{"unwrapKey", "Microsoft.KeyVault/vaults/keys/unwrap/action"}
	SignKey           = Action{"sign", "Microsoft.KeyVault/vaults/keys/sign/action"}
	VerifyKey         = Action{"verify", "Microsoft.KeyVault/vaults/keys/verify/action"}
	RotateKey         = Action{"rotate", "Microsoft.KeyVault/vaults/keys/rotate/action"}
	ReleaseKey        = Action{"release", "Microsoft.KeyVault/vaults/keys/release/action"}
	GetRotationPolicy = Action{"getrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/read"}
	SetRotationPolicy = Action{"setrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/write"}
)

// AllowedKeyByAccessPolicy is AllowedByAccessPolicy for key permissions:
// the same entry matching, over the entry's key permissions only, so a
// principal with secret permissions alone can do nothing with keys.
func AllowedKeyByAccessPolicy(policies []model.AccessPolicy, c Caller, perm string) bool {
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
		for _, got := range p.Permissions.Keys {
			if strings.EqualFold(got, perm) || strings.EqualFold(got, model.PermAll) {
				return true
			}
		}
	}
	return false
}

// ValidKeyPermission reports whether p names a key permission.
func ValidKeyPermission(p string) bool {
	return strings.EqualFold(p, model.PermAll) || contains(model.KeyPermissions, p)
}
