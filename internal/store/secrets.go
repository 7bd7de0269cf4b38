package store

import (
	"context"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/model"
)

// Secrets are versioned objects (objects.go):
//
//	secrets/<vault>/<NAME>                 head
//	secretversions/<vault>/<NAME>/<ver>    one version's attributes
//	secretvalues/<vault>/<NAME>/<ver>      one version's value

// secretHead is the stored head of a secret name.
type secretHead = headMeta[model.SecretVersion]

// versionRecord is one stored secret version.
type versionRecord = verRecord[model.SecretVersion]

var secretObjects = &objects[model.Secret, model.SecretVersion, secretHead]{
	heads: prefixSecrets, versions: prefixVersions, values: prefixValues,
	meta: func(h *secretHead) *secretHead { return h },
	id:   func(v *model.SecretVersion) string { return v.Version },
	object: func(h *secretHead, vers []model.SecretVersion) *model.Secret {
		return &model.Secret{Name: h.Name, Deleted: h.Deleted, Versions: vers}
	},
	setHead:    func(h *secretHead, sec *model.Secret) { h.Name, h.Deleted = sec.Name, sec.Deleted },
	versionsOf: func(sec *model.Secret) []model.SecretVersion { return sec.Versions },
	strip:      func(v *model.SecretVersion) { v.Value = "" },
}

func (s *Store) readHead(ctx context.Context, op errs.Op, vault, name string) (*secretHead, []byte, bool, error) {
	return secretObjects.readHead(ctx, s, op, vault, name)
}

func (s *Store) versionRecords(ctx context.Context, op errs.Op, vault, name, gen string) ([]versionRecord, error) {
	return secretObjects.versionRecords(ctx, s, op, vault, name, gen)
}

func versionPut(vault, name, gen string, seq int64, v model.SecretVersion) (kv.Op, error) {
	return secretObjects.versionPut(vault, name, gen, seq, v)
}

// AddSecretVersion stores a new version and its value and makes it the
// latest, all in one transaction, so an interrupted SET leaves neither an
// orphaned value nor a version without one. check sees the current head
// (exists=false for a free name) and may refuse with an error. The result
// is the head as a Secret whose Versions hold the new version only.
func (s *Store) AddSecretVersion(ctx context.Context, vault, name string, ver model.SecretVersion, value string,
	check func(sec *model.Secret, exists bool) error) (*model.Secret, error) {
	return secretObjects.add(ctx, s, "store.AddSecretVersion", vault, name, ver, []byte(value), check)
}

// GetSecretHead returns a secret (possibly soft-deleted) with its latest
// version only: one read, however many versions it has.
func (s *Store) GetSecretHead(ctx context.Context, vault, name string) (*model.Secret, error) {
	return secretObjects.head(ctx, s, "store.GetSecretHead", vault, name)
}

// GetSecretVersion returns a secret's head and one of its versions (the
// latest when version is empty) without reading the others. The version is
// errs.NotExist when the secret has no such version.
func (s *Store) GetSecretVersion(ctx context.Context, vault, name, version string) (*model.Secret, *model.SecretVersion, error) {
	return secretObjects.version(ctx, s, "store.GetSecretVersion", vault, name, version)
}

// GetSecret returns one secret (possibly soft-deleted) with every version,
// oldest first. It reads every version record; GetSecretHead and
// GetSecretVersion do not.
func (s *Store) GetSecret(ctx context.Context, vault, name string) (*model.Secret, error) {
	return secretObjects.all(ctx, s, "store.GetSecret", vault, name)
}

// UpdateSecretHead applies fn to a secret's name and soft-delete state
// without reading its versions (fn sees the latest version only and must
// not change Versions). Returning keep=false removes the secret: its head
// in one transaction, then its versions and values page by page.
func (s *Store) UpdateSecretHead(ctx context.Context, vault, name string, fn func(sec *model.Secret, exists bool) (keep bool, err error)) error {
	return secretObjects.updateHead(ctx, s, "store.UpdateSecretHead", vault, name, fn)
}

// UpdateSecretVersion applies fn to one version's attributes (the latest
// when version is empty) and stores it with the head, in one transaction
// guarded by the head. It reads that version only. fn gets the head too
// and exists=false when the secret is absent; with an error from fn nothing
// is stored. The version it reports is errs.NotExist if absent.
func (s *Store) UpdateSecretVersion(ctx context.Context, vault, name, version string,
	fn func(sec *model.Secret, ver *model.SecretVersion, exists bool) error) (*model.Secret, *model.SecretVersion, error) {
	return secretObjects.updateVersion(ctx, s, "store.UpdateSecretVersion", vault, name, version, fn)
}

// UpdateSecret applies fn to a whole secret (every version) and stores the
// result; fn gets a zero record and exists=false when absent, and
// keep=false removes the secret. It reads every version, so the services
// use it only where they change many versions at once; the narrower
// methods above serve the request paths.
func (s *Store) UpdateSecret(ctx context.Context, vault, name string, fn func(sec *model.Secret, exists bool) (keep bool, err error)) error {
	return secretObjects.update(ctx, s, "store.UpdateSecret", vault, name, fn)
}

// ListSecrets returns every secret of a vault, ordered by upper-cased name,
// each with its latest version only.
func (s *Store) ListSecrets(ctx context.Context, vault string) ([]model.Secret, error) {
	return secretObjects.list(ctx, s, "store.ListSecrets", vault)
}

// ListSecretsPage returns up to limit secrets of a vault whose upper-cased
// name sorts after after, in that order, each with its latest version only:
// the live ones, or the soft-deleted ones when deleted is set. more reports
// whether any follow. Its cost is that of the page.
func (s *Store) ListSecretsPage(ctx context.Context, vault, after string, limit int, deleted bool) (secs []model.Secret, more bool, err error) {
	return secretObjects.listPage(ctx, s, "store.ListSecretsPage", vault, after, limit, deleted)
}

// PutSecretValue stores one version's value.
func (s *Store) PutSecretValue(ctx context.Context, vault, name, version, value string) error {
	return secretObjects.putValue(ctx, s, "store.PutSecretValue", vault, name, version, []byte(value))
}

// GetSecretValue returns one version's value.
func (s *Store) GetSecretValue(ctx context.Context, vault, name, version string) (string, error) {
	b, err := secretObjects.getValue(ctx, s, "store.GetSecretValue", vault, name, version)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// DeleteSecretValue removes one version's value (absent is fine).
func (s *Store) DeleteSecretValue(ctx context.Context, vault, name, version string) error {
	return secretObjects.deleteValue(ctx, s, "store.DeleteSecretValue", vault, name, version)
}

// DeleteSecretValues removes every value of a secret name, a page at a time.
func (s *Store) DeleteSecretValues(ctx context.Context, vault, name string) error {
	return s.deletePrefix(ctx, "store.DeleteSecretValues", secretValuesPrefix(vault, name))
}

// CreateSecret stores a secret with every version and value (a restore),
// under a new generation, if the name is free (errs.Exist otherwise).
// Versions and values that do not fit in the final transaction are written
// ahead of it; should it fail, they stay invisible (their generation has no
// head) and go with the name's next purge.
func (s *Store) CreateSecret(ctx context.Context, vault string, sec *model.Secret, values map[string]string) error {
	bs := make(map[string][]byte, len(values))
	for id, v := range values {
		bs[id] = []byte(v)
	}
	return secretObjects.create(ctx, s, "store.CreateSecret", vault, sec, bs)
}

// MigrateLegacySecrets converts every secret record of the previous layout
// (every version inline) to the per-version layout; see migrateLegacy.
func (s *Store) MigrateLegacySecrets(ctx context.Context) (int, error) {
	return secretObjects.migrateLegacy(ctx, s, "store.MigrateLegacySecrets")
}
