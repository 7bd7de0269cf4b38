package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/model"
)

// Key records and key material have their own prefixes, apart from the
// secrets': the record holds every version's public parts and attributes,
// the material (PKCS#8, encrypted at rest like every value through the
// crypt decorator) one entry per version, read only by the operations
// that need the private key.
const (
	prefixKeys        = "keys/"
	prefixKeyMaterial = "keymaterial/"
)

func keysPrefix(vault string) string   { return prefixKeys + strings.ToLower(vault) + "/" }
func keyKey(vault, name string) string { return keysPrefix(vault) + strings.ToUpper(name) }
func keyMaterialPrefix(vault string) string {
	return prefixKeyMaterial + strings.ToLower(vault) + "/"
}
func keyMaterialNamePrefix(vault, name string) string {
	return keyMaterialPrefix(vault) + strings.ToUpper(name) + "/"
}
func keyMaterialKey(vault, name, version string) string {
	return keyMaterialNamePrefix(vault, name) + strings.ToLower(version)
}

// The helpers below use only the kv.Store contract, so that key storage
// does not depend on how the secret records are written.

func keyErr(op errs.Op, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kv.ErrNotFound):
		return errs.E(op, errs.NotExist, err)
	case errors.Is(err, kv.ErrExists):
		return errs.E(op, errs.Exist, err)
	case errors.Is(err, kv.ErrConflict):
		return errs.E(op, errs.Conflict, err)
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.E(op, errs.Internal, err)
}

// GetKey returns one key record (all versions, possibly soft-deleted).
func (s *Store) GetKey(ctx context.Context, vault, name string) (*model.Key, error) {
	const op errs.Op = "store.GetKey"
	b, err := s.KV().Get(ctx, keyKey(vault, name))
	if err != nil {
		return nil, keyErr(op, err)
	}
	var k model.Key
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return &k, nil
}

// UpdateKey atomically reads, changes and writes one key record. fn gets a
// zero record and exists=false when the name is free; keep=false deletes
// the record (or leaves it absent).
func (s *Store) UpdateKey(ctx context.Context, vault, name string, fn func(k *model.Key, exists bool) (keep bool, err error)) error {
	const op errs.Op = "store.UpdateKey"
	err := s.KV().Update(ctx, keyKey(vault, name), func(old []byte) ([]byte, error) {
		var k model.Key
		exists := old != nil
		if exists {
			if err := json.Unmarshal(old, &k); err != nil {
				return nil, errs.E(op, errs.Internal, err)
			}
		}
		keep, err := fn(&k, exists)
		if err != nil || !keep {
			return nil, err
		}
		return json.Marshal(&k)
	})
	return keyErr(op, err)
}

// ListKeys returns every key record of a vault, ordered by upper-cased name.
func (s *Store) ListKeys(ctx context.Context, vault string) ([]model.Key, error) {
	const op errs.Op = "store.ListKeys"
	pairs, err := s.KV().List(ctx, keysPrefix(vault))
	if err != nil {
		return nil, keyErr(op, err)
	}
	out := make([]model.Key, 0, len(pairs))
	for _, p := range pairs {
		var k model.Key
		if err := json.Unmarshal(p.Value, &k); err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// PutKeyMaterial stores one version's private key.
func (s *Store) PutKeyMaterial(ctx context.Context, vault, name, version string, der []byte) error {
	return keyErr("store.PutKeyMaterial", s.KV().Put(ctx, keyMaterialKey(vault, name, version), der))
}

// GetKeyMaterial returns one version's private key.
func (s *Store) GetKeyMaterial(ctx context.Context, vault, name, version string) ([]byte, error) {
	b, err := s.KV().Get(ctx, keyMaterialKey(vault, name, version))
	return b, keyErr("store.GetKeyMaterial", err)
}

// DeleteKeyMaterial removes one version's private key (absent is fine).
func (s *Store) DeleteKeyMaterial(ctx context.Context, vault, name, version string) error {
	err := s.KV().Delete(ctx, keyMaterialKey(vault, name, version))
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return keyErr("store.DeleteKeyMaterial", err)
	}
	return nil
}

// DeleteKeyMaterials removes the private keys of every version of a name.
func (s *Store) DeleteKeyMaterials(ctx context.Context, vault, name string) error {
	return s.deleteKeyPrefix(ctx, "store.DeleteKeyMaterials", keyMaterialNamePrefix(vault, name))
}

// SweepKeys removes every key record and key material of a vault, for a
// vault that is purged (or created over the remains of one).
func (s *Store) SweepKeys(ctx context.Context, vault string) error {
	const op errs.Op = "store.SweepKeys"
	if err := s.deleteKeyPrefix(ctx, op, keysPrefix(vault)); err != nil {
		return err
	}
	return s.deleteKeyPrefix(ctx, op, keyMaterialPrefix(vault))
}

func (s *Store) deleteKeyPrefix(ctx context.Context, op errs.Op, prefix string) error {
	pairs, err := s.KV().List(ctx, prefix)
	if err != nil {
		return keyErr(op, err)
	}
	for _, p := range pairs {
		if err := s.KV().Delete(ctx, p.Key); err != nil && !errors.Is(err, kv.ErrNotFound) {
			return keyErr(op, err)
		}
	}
	return nil
}
