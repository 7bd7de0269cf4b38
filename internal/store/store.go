// Package store is Coffer's typed repository layer over a kv.Store: it
// turns domain operations (get a vault, update a secret record) into key
// reads and atomic read-modify-writes, and translates kv sentinels into
// errs kinds. It knows the key layout (keys.go) and nothing about HTTP.
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

// Store is the typed repository.
type Store struct {
	kv kv.Store
}

// New wraps a kv.Store (normally an encrypting one).
func New(s kv.Store) *Store { return &Store{kv: s} }

// KV exposes the underlying store for packages that own their own keys.
func (s *Store) KV() kv.Store { return s.kv }

func mapErr(op errs.Op, err error) error {
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

func getJSON(ctx context.Context, s kv.Store, op errs.Op, key string, v any) error {
	if dg, ok := s.(decodedGetter); ok && memoizable(v) {
		return getMemo(ctx, dg, op, key, v) // memo.go: no decode on a cache hit
	}
	b, err := s.Get(ctx, key)
	if err != nil {
		return mapErr(op, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return nil
}

func createJSON(ctx context.Context, s kv.Store, op errs.Op, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return mapErr(op, s.Create(ctx, key, b))
}

func putJSON(ctx context.Context, s kv.Store, op errs.Op, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return mapErr(op, s.Put(ctx, key, b))
}

// updateJSON runs fn on the decoded value at key (nil pointer target zeroed
// when absent, with exists=false). fn returning (false, nil) deletes.
func updateJSON[T any](ctx context.Context, s kv.Store, op errs.Op, key string, fn func(v *T, exists bool) (keep bool, err error)) error {
	err := s.Update(ctx, key, func(old []byte) ([]byte, error) {
		var v T
		exists := old != nil
		if exists {
			if err := json.Unmarshal(old, &v); err != nil {
				return nil, errs.E(op, errs.Internal, err)
			}
		}
		keep, err := fn(&v, exists)
		if err != nil {
			return nil, err
		}
		if !keep {
			return nil, nil // deletes, or leaves absent
		}
		return json.Marshal(&v)
	})
	return mapErr(op, err)
}

func listJSON[T any](ctx context.Context, s kv.Store, op errs.Op, prefix string) ([]T, error) {
	pairs, err := s.List(ctx, prefix)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]T, 0, len(pairs))
	for _, p := range pairs {
		var v T
		if err := json.Unmarshal(p.Value, &v); err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// GetConfig decodes a named configuration record.
func (s *Store) GetConfig(ctx context.Context, name string, v any) error {
	return getJSON(ctx, s.kv, "store.GetConfig", configKey(name), v)
}

// CreateConfig stores a named configuration record if absent (errs.Exist otherwise).
func (s *Store) CreateConfig(ctx context.Context, name string, v any) error {
	return createJSON(ctx, s.kv, "store.CreateConfig", configKey(name), v)
}

// PutConfig stores a named configuration record.
func (s *Store) PutConfig(ctx context.Context, name string, v any) error {
	return putJSON(ctx, s.kv, "store.PutConfig", configKey(name), v)
}

// CreatePrincipal stores a new principal and its app-id index entry.
func (s *Store) CreatePrincipal(ctx context.Context, p *model.Principal) error {
	const op errs.Op = "store.CreatePrincipal"
	// Index first: a crash between the writes leaves a dangling index entry,
	// which lookups treat as absent, never a principal without an index.
	if err := mapErr(op, s.kv.Create(ctx, appIDKey(p.AppID), []byte(p.ObjectID))); err != nil {
		return err
	}
	if err := createJSON(ctx, s.kv, op, principalKey(p.ObjectID), p); err != nil {
		_ = s.kv.Delete(ctx, appIDKey(p.AppID))
		return err
	}
	return nil
}

// GetPrincipal returns the principal with the given object id.
func (s *Store) GetPrincipal(ctx context.Context, objectID string) (*model.Principal, error) {
	var p model.Principal
	if err := getJSON(ctx, s.kv, "store.GetPrincipal", principalKey(objectID), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPrincipalByAppID returns the principal with the given app (client) id.
func (s *Store) GetPrincipalByAppID(ctx context.Context, appID string) (*model.Principal, error) {
	const op errs.Op = "store.GetPrincipalByAppID"
	oid, err := s.kv.Get(ctx, appIDKey(appID))
	if err != nil {
		return nil, mapErr(op, err)
	}
	return s.GetPrincipal(ctx, string(oid))
}

// UpdatePrincipal applies fn to a stored principal.
func (s *Store) UpdatePrincipal(ctx context.Context, objectID string, fn func(p *model.Principal) error) error {
	const op errs.Op = "store.UpdatePrincipal"
	return updateJSON(ctx, s.kv, op, principalKey(objectID), func(p *model.Principal, exists bool) (bool, error) {
		if !exists {
			return false, errs.E(op, errs.NotExist)
		}
		return true, fn(p)
	})
}

// DeletePrincipal removes a principal and its index entry.
func (s *Store) DeletePrincipal(ctx context.Context, objectID string) error {
	const op errs.Op = "store.DeletePrincipal"
	p, err := s.GetPrincipal(ctx, objectID)
	if err != nil {
		return err
	}
	if err := mapErr(op, s.kv.Delete(ctx, principalKey(objectID))); err != nil {
		return err
	}
	_ = s.kv.Delete(ctx, appIDKey(p.AppID))
	return nil
}

// ListPrincipals returns every principal.
func (s *Store) ListPrincipals(ctx context.Context) ([]model.Principal, error) {
	return listJSON[model.Principal](ctx, s.kv, "store.ListPrincipals", prefixPrincipals)
}

// CreateVault stores a new vault; errs.Exist if the name is taken (live or soft-deleted).
func (s *Store) CreateVault(ctx context.Context, v *model.Vault) error {
	const op errs.Op = "store.CreateVault"
	if _, err := s.kv.Get(ctx, vaultKey(v.Name)); err == nil {
		return errs.E(op, errs.Exist)
	}
	// A new vault never inherits secrets of a purged one with its name.
	if err := s.sweepSecrets(ctx, op, v.Name); err != nil {
		return err
	}
	return createJSON(ctx, s.kv, op, vaultKey(v.Name), v)
}

// GetVault returns a vault by name (case-insensitive), live or soft-deleted.
func (s *Store) GetVault(ctx context.Context, name string) (*model.Vault, error) {
	var v model.Vault
	if err := getJSON(ctx, s.kv, "store.GetVault", vaultKey(name), &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// UpdateVault applies fn to a stored vault atomically.
func (s *Store) UpdateVault(ctx context.Context, name string, fn func(v *model.Vault) error) error {
	const op errs.Op = "store.UpdateVault"
	return updateJSON(ctx, s.kv, op, vaultKey(name), func(v *model.Vault, exists bool) (bool, error) {
		if !exists {
			return false, errs.E(op, errs.NotExist)
		}
		return true, fn(v)
	})
}

// ListVaults returns every vault, live and soft-deleted.
func (s *Store) ListVaults(ctx context.Context) ([]model.Vault, error) {
	return listJSON[model.Vault](ctx, s.kv, "store.ListVaults", prefixVaults)
}

// PurgeVault removes a vault record and all of its secrets.
//
// The vault record goes first, so no new secret write can open the vault
// once its secrets are being removed; CreateVault sweeps anything a write
// already in flight still left behind.
func (s *Store) PurgeVault(ctx context.Context, name string) error {
	const op errs.Op = "store.PurgeVault"
	if err := mapErr(op, s.kv.Delete(ctx, vaultKey(name))); err != nil {
		return err
	}
	return s.sweepSecrets(ctx, op, name)
}

// PurgeVaultIf removes a vault and all of its secrets if check, given the
// vault as stored, returns nil. The removal of the vault record is guarded
// by the very bytes check saw, so a vault recovered (or changed) by another
// replica in between is left alone: the purge then re-reads and asks check
// again.
func (s *Store) PurgeVaultIf(ctx context.Context, name string, check func(v *model.Vault) error) error {
	const op errs.Op = "store.PurgeVaultIf"
	key := vaultKey(name)
	for range 16 {
		raw, err := s.kv.Get(ctx, key)
		if err != nil {
			return mapErr(op, err)
		}
		var v model.Vault
		if err := json.Unmarshal(raw, &v); err != nil {
			return errs.E(op, errs.Internal, err)
		}
		if err := check(&v); err != nil {
			return err
		}
		err = s.kv.Txn(ctx, kv.Check(key, raw), kv.Delete(key))
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return mapErr(op, err)
		}
		return s.sweepSecrets(ctx, op, name)
	}
	return errs.E(op, errs.Conflict, kv.ErrConflict)
}

func (s *Store) sweepSecrets(ctx context.Context, op errs.Op, vault string) error {
	for _, prefix := range []string{secretsPrefix(vault), versionsPrefix(vault), valuesPrefix(vault)} {
		if err := s.deletePrefix(ctx, op, prefix); err != nil {
			return err
		}
	}
	if err := s.SweepKeys(ctx, vault); err != nil {
		return err
	}
	return s.SweepCertificates(ctx, vault)
}

// sweepPage is how many keys deletePrefix reads and removes at a time, so
// that removing a vault of any size holds one page in memory and each
// batch of removals is one transaction.
const sweepPage = 100

// deletePrefix removes every key under prefix, a page at a time.
func (s *Store) deletePrefix(ctx context.Context, op errs.Op, prefix string) error {
	for {
		pairs, err := s.kv.ListRange(ctx, prefix, "", sweepPage)
		if err != nil {
			return mapErr(op, err)
		}
		if len(pairs) == 0 {
			return nil
		}
		ops := make([]kv.Op, len(pairs))
		for i, p := range pairs {
			ops[i] = kv.Remove(p.Key)
		}
		if err := s.kv.Txn(ctx, ops...); err != nil {
			return mapErr(op, err)
		}
	}
}

// CreateRoleAssignment stores a role assignment.
func (s *Store) CreateRoleAssignment(ctx context.Context, a *model.RoleAssignment) error {
	return createJSON(ctx, s.kv, "store.CreateRoleAssignment", assignmentKey(a.Name), a)
}

// DeleteRoleAssignment removes a role assignment by name (GUID).
func (s *Store) DeleteRoleAssignment(ctx context.Context, name string) error {
	return mapErr("store.DeleteRoleAssignment", s.kv.Delete(ctx, assignmentKey(name)))
}

// ListRoleAssignments returns every role assignment.
func (s *Store) ListRoleAssignments(ctx context.Context) ([]model.RoleAssignment, error) {
	return listJSON[model.RoleAssignment](ctx, s.kv, "store.ListRoleAssignments", prefixAssignments)
}

func appObjectKey(id string) string { return prefixAppObjects + strings.ToLower(id) }

// PutApplicationIndex maps a Graph application object id to its principal.
func (s *Store) PutApplicationIndex(ctx context.Context, appObjectID, objectID string) error {
	return mapErr("store.PutApplicationIndex", s.kv.Put(ctx, appObjectKey(appObjectID), []byte(objectID)))
}

// DeleteApplicationIndex drops a Graph application object id mapping.
func (s *Store) DeleteApplicationIndex(ctx context.Context, appObjectID string) error {
	err := mapErr("store.DeleteApplicationIndex", s.kv.Delete(ctx, appObjectKey(appObjectID)))
	if errs.KindOf(err) == errs.NotExist {
		return nil
	}
	return err
}

// GetPrincipalByApplicationObjectID returns the principal of an app registration.
func (s *Store) GetPrincipalByApplicationObjectID(ctx context.Context, appObjectID string) (*model.Principal, error) {
	oid, err := s.kv.Get(ctx, appObjectKey(appObjectID))
	if err != nil {
		return nil, mapErr("store.GetPrincipalByApplicationObjectID", err)
	}
	return s.GetPrincipal(ctx, string(oid))
}
