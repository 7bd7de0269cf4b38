// Package memkv is the in-memory kv.Store, for tests and --dev mode.
//
// All data lives in one map guarded by one mutex, so every method is atomic
// and Update never has to retry (it never returns kv.ErrConflict). Values are
// copied on the way in and on the way out. The point is that memkv is not
// more forgiving than a disk backend: a caller that keeps or mutates a slice
// it passed in or got back fails the same way here as on boltkv.
//
// Nothing is durable, and Close drops the data. Update runs fn while it holds
// the lock, so fn must not call back into the Store.
package memkv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer/internal/kv"
)

// errClosed is returned by every method after Close. A closed store must not
// answer kv.ErrNotFound: a caller would take that as a fact about the data.
var errClosed = errors.New("memkv: store is closed")

// Store is an in-memory kv.Store. The zero value is not usable; call New.
type Store struct {
	mu   sync.RWMutex
	data map[string][]byte // nil once closed
}

// New returns an empty Store.
func New() *Store {
	return &Store{data: make(map[string][]byte)}
}

// Get returns a copy of the value at key, or kv.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.data == nil {
		return nil, errClosed
	}
	v, ok := s.data[key]
	if !ok {
		return nil, fmt.Errorf("memkv: get %q: %w", key, kv.ErrNotFound)
	}
	return clone(v), nil
}

// List returns copies of every pair whose key starts with prefix, in
// ascending byte order of the keys.
func (s *Store) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.data == nil {
		return nil, errClosed
	}
	var out []kv.Pair
	for k, v := range s.data {
		if strings.HasPrefix(k, prefix) {
			out = append(out, kv.Pair{Key: k, Value: clone(v)})
		}
	}
	// A full scan plus a sort is O(n log n) per call; fine for the data
	// sizes memkv is meant for, and much simpler than an ordered index.
	slices.SortFunc(out, func(a, b kv.Pair) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// ListRange returns copies of at most limit pairs under prefix with keys
// after after, in ascending order. memkv has no ordered index, so this is
// a full scan; memkv is for tests and development, where that is fine.
func (s *Store) ListRange(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	if limit <= 0 {
		return nil, errors.New("memkv: list range needs a positive limit")
	}
	all, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	i, _ := slices.BinarySearchFunc(all, after, func(p kv.Pair, k string) int {
		if p.Key <= k {
			return -1
		}
		return 1
	})
	all = all[i:]
	return all[:min(limit, len(all))], nil
}

// Txn checks every condition under the write lock and only then applies
// the writes, so a failed Txn changes nothing.
func (s *Store) Txn(ctx context.Context, ops ...kv.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := kv.ValidateTxn(ops); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		return errClosed
	}
	for i, o := range ops {
		cur, ok := s.data[o.Key]
		if err := o.Holds(cur, ok); err != nil {
			return fmt.Errorf("memkv: %w", &kv.TxnError{Index: i, Key: o.Key, Err: err})
		}
	}
	for _, o := range ops {
		switch o.Kind {
		case kv.OpPut, kv.OpCreate:
			s.data[o.Key] = clone(o.Value)
		case kv.OpDelete, kv.OpRemove:
			delete(s.data, o.Key)
		}
	}
	return nil
}

// Create stores a copy of value at key if key is absent, else returns
// kv.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		return errClosed
	}
	if _, ok := s.data[key]; ok {
		return fmt.Errorf("memkv: create %q: %w", key, kv.ErrExists)
	}
	s.data[key] = clone(value)
	return nil
}

// Put stores a copy of value at key.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		return errClosed
	}
	s.data[key] = clone(value)
	return nil
}

// Update calls fn once, under the write lock, with a copy of the value at key
// (nil if absent) and stores a copy of its result; a nil result deletes the
// key. An error from fn is returned unchanged and nothing is stored.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		return errClosed
	}
	var old []byte
	if v, ok := s.data[key]; ok {
		// fn may scribble on old and then fail; the stored value must survive.
		old = clone(v)
	}
	v, err := fn(old)
	if err != nil {
		return err
	}
	if v == nil {
		delete(s.data, key)
		return nil
	}
	s.data[key] = clone(v)
	return nil
}

// Delete removes key, or returns kv.ErrNotFound if it was absent.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		return errClosed
	}
	if _, ok := s.data[key]; !ok {
		return fmt.Errorf("memkv: delete %q: %w", key, kv.ErrNotFound)
	}
	delete(s.data, key)
	return nil
}

// Close drops the data. Later calls fail; Close itself may be called again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = nil
	return nil
}

// check rejects a done context and the empty key before any lock is taken.
// The empty key is refused because boltkv cannot store it; keeping the
// backends in step means nothing that works on memkv breaks on disk.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return errors.New("memkv: empty key")
	}
	return nil
}

// clone copies v and turns nil into an empty value. A stored key must never
// read back as nil, because Update hands fn nil only for an absent key.
func clone(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return slices.Clone(v)
}

// Interface guard.
var _ kv.Store = (*Store)(nil)
