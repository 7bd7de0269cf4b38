package store

import (
	"context"

	"github.com/coffer-dev/coffer/internal/model"
)

// Keys are versioned objects (objects.go), apart from the secrets:
//
//	keys/<vault>/<NAME>                 head (with the rotation policy)
//	keyversions/<vault>/<NAME>/<ver>    one version's public parts and attributes
//	keymaterial/<vault>/<NAME>/<ver>    one version's private key (PKCS#8,
//	                                    encrypted at rest like every value
//	                                    through the crypt decorator), read
//	                                    only by the operations that need it
//
// Records of the previous layout (one record per key holding every
// version, model.Key as JSON) are read as they are and converted by their
// first write that changes versions; the material was already per version.
const (
	prefixKeys        = "keys/"
	prefixKeyVersions = "keyversions/"
	prefixKeyMaterial = "keymaterial/"
)

// keyHead is the stored head of a key name.
type keyHead struct {
	headMeta[model.KeyVersion]
	RotationPolicy *model.KeyRotationPolicy `json:"rotationPolicy,omitempty"`
}

var keyObjects = &objects[model.Key, model.KeyVersion, keyHead]{
	heads: prefixKeys, versions: prefixKeyVersions, values: prefixKeyMaterial,
	meta: func(h *keyHead) *headMeta[model.KeyVersion] { return &h.headMeta },
	id:   func(v *model.KeyVersion) string { return v.Version },
	object: func(h *keyHead, vers []model.KeyVersion) *model.Key {
		return &model.Key{Name: h.Name, Deleted: h.Deleted, RotationPolicy: h.RotationPolicy, Versions: vers}
	},
	setHead: func(h *keyHead, k *model.Key) {
		h.Name, h.Deleted, h.RotationPolicy = k.Name, k.Deleted, k.RotationPolicy
	},
	versionsOf: func(k *model.Key) []model.KeyVersion { return k.Versions },
}

func keyMaterialNamePrefix(vault, name string) string {
	return keyObjects.valuesPrefix(vault, name)
}

// GetKey returns one key (possibly soft-deleted) with every version,
// oldest first. It reads every version record; GetKeyHead and
// GetKeyVersion do not.
func (s *Store) GetKey(ctx context.Context, vault, name string) (*model.Key, error) {
	return keyObjects.all(ctx, s, "store.GetKey", vault, name)
}

// GetKeyHead returns a key (possibly soft-deleted) with its latest version
// only: one read, however many versions it has.
func (s *Store) GetKeyHead(ctx context.Context, vault, name string) (*model.Key, error) {
	return keyObjects.head(ctx, s, "store.GetKeyHead", vault, name)
}

// GetKeyVersion returns a key's head (latest version only) and one of its
// versions (the latest when version is empty) without reading the others.
// The version is errs.NotExist when the key has no such version.
func (s *Store) GetKeyVersion(ctx context.Context, vault, name, version string) (*model.Key, *model.KeyVersion, error) {
	return keyObjects.version(ctx, s, "store.GetKeyVersion", vault, name, version)
}

// AddKeyVersion stores a new version and its private key and makes it the
// latest, in one transaction. check sees the current head (exists=false
// for a free name) and may refuse with an error. The result is the head
// with the new version only.
func (s *Store) AddKeyVersion(ctx context.Context, vault, name string, ver model.KeyVersion, der []byte,
	check func(k *model.Key, exists bool) error) (*model.Key, error) {
	return keyObjects.add(ctx, s, "store.AddKeyVersion", vault, name, ver, der, check)
}

// UpdateKeyHead applies fn to a key's name, soft-delete state and rotation
// policy without reading its versions (fn sees the latest version only and
// must not change Versions). keep=false removes the key: its head in one
// transaction, then its versions and material page by page.
func (s *Store) UpdateKeyHead(ctx context.Context, vault, name string, fn func(k *model.Key, exists bool) (keep bool, err error)) error {
	return keyObjects.updateHead(ctx, s, "store.UpdateKeyHead", vault, name, fn)
}

// UpdateKeyVersion applies fn to one version (the latest when version is
// empty) and stores it with the head in one transaction; see
// UpdateSecretVersion.
func (s *Store) UpdateKeyVersion(ctx context.Context, vault, name, version string,
	fn func(k *model.Key, ver *model.KeyVersion, exists bool) error) (*model.Key, *model.KeyVersion, error) {
	return keyObjects.updateVersion(ctx, s, "store.UpdateKeyVersion", vault, name, version, fn)
}

// UpdateKey applies fn to a whole key (every version) and stores the
// result; fn gets a zero record and exists=false when the name is free,
// and keep=false removes the key. It reads every version: the narrower
// methods above serve the request paths.
func (s *Store) UpdateKey(ctx context.Context, vault, name string, fn func(k *model.Key, exists bool) (keep bool, err error)) error {
	return keyObjects.update(ctx, s, "store.UpdateKey", vault, name, fn)
}

// CreateKey stores a key with every version and its private keys (a
// restore; material maps version ids to PKCS#8) if the name is free
// (errs.Exist otherwise).
func (s *Store) CreateKey(ctx context.Context, vault string, k *model.Key, material map[string][]byte) error {
	return keyObjects.create(ctx, s, "store.CreateKey", vault, k, material)
}

// ListKeys returns every key of a vault, ordered by upper-cased name, each
// with its latest version only.
func (s *Store) ListKeys(ctx context.Context, vault string) ([]model.Key, error) {
	return keyObjects.list(ctx, s, "store.ListKeys", vault)
}

// ListKeysPage returns up to limit keys, live or soft-deleted, whose
// upper-cased name sorts after after; see ListSecretsPage.
func (s *Store) ListKeysPage(ctx context.Context, vault, after string, limit int, deleted bool) ([]model.Key, bool, error) {
	return keyObjects.listPage(ctx, s, "store.ListKeysPage", vault, after, limit, deleted)
}

// MigrateLegacyKeys converts every key record of the previous layout to
// the per-version layout; see MigrateLegacySecrets.
func (s *Store) MigrateLegacyKeys(ctx context.Context) (int, error) {
	return keyObjects.migrateLegacy(ctx, s, "store.MigrateLegacyKeys")
}

// PutKeyMaterial stores one version's private key (a pending certificate
// operation's key, before its version exists).
func (s *Store) PutKeyMaterial(ctx context.Context, vault, name, version string, der []byte) error {
	return keyObjects.putValue(ctx, s, "store.PutKeyMaterial", vault, name, version, der)
}

// GetKeyMaterial returns one version's private key.
func (s *Store) GetKeyMaterial(ctx context.Context, vault, name, version string) ([]byte, error) {
	return keyObjects.getValue(ctx, s, "store.GetKeyMaterial", vault, name, version)
}

// DeleteKeyMaterial removes one version's private key (absent is fine).
func (s *Store) DeleteKeyMaterial(ctx context.Context, vault, name, version string) error {
	return keyObjects.deleteValue(ctx, s, "store.DeleteKeyMaterial", vault, name, version)
}

// DeleteKeyMaterials removes the private keys of every version of a name,
// a page at a time.
func (s *Store) DeleteKeyMaterials(ctx context.Context, vault, name string) error {
	return s.deletePrefix(ctx, "store.DeleteKeyMaterials", keyMaterialNamePrefix(vault, name))
}

// SweepKeys removes every key head, version and material of a vault, for
// a vault that is purged (or created over the remains of one).
func (s *Store) SweepKeys(ctx context.Context, vault string) error {
	return keyObjects.sweep(ctx, s, "store.SweepKeys", vault)
}
