// Package boltkv is the kv.Store on a single bbolt file, the default backend
// for a single node.
//
// Invariants, and why:
//   - Every write is one bbolt read-write transaction, and bbolt allows one
//     writer at a time. Update therefore reads and writes under the writer
//     lock and is a compare-and-swap without retries: it never returns
//     kv.ErrConflict and calls fn exactly once.
//   - NoSync stays false, so a write that returned nil has been fsynced, as
//     the kv contract requires.
//   - bbolt slices are valid only inside their transaction, so every key and
//     value leaving a transaction is copied first.
//   - The file is opened with a one-second lock timeout. bbolt holds an
//     exclusive lock on the file, so a second Open (from this or another
//     process) fails with bbolt's ErrTimeout instead of hanging. One file
//     therefore serves one process; scale-out needs etcd.
//   - The bucket layout is declared in schema.go, with a schema version key
//     that Open checks.
//
// Update runs fn inside the write transaction, so fn must not call back into
// the Store: a nested transaction would deadlock.
package boltkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/coffer-dev/coffer/internal/kv"
)

// Store is a kv.Store on a bbolt file. Create it with Open.
type Store struct {
	db *bbolt.DB
}

// Open opens or creates the bbolt file at path with mode 0600. It fails after
// about a second if another Store holds the file open.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: time.Second,
		// NoSync is deliberately left false: see the package doc.
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close() // the schema error is the one worth reporting
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Get returns a copy of the value at key, or kv.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		v, ok := lookup(tx, key)
		if !ok {
			return kv.ErrNotFound
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: get %q: %w", key, err)
	}
	return out, nil
}

// List returns copies of every pair whose key starts with prefix, in
// ascending byte order, which is bbolt's own key order.
func (s *Store) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []kv.Pair
	err := s.db.View(func(tx *bbolt.Tx) error {
		p := []byte(prefix)
		c := tx.Bucket([]byte(dataBucket)).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			// string(k) copies the key; clone copies the value.
			out = append(out, kv.Pair{Key: string(k), Value: clone(v)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: list %q: %w", prefix, err)
	}
	return out, nil
}

// Create stores value at key if key is absent, else returns kv.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, ok := lookup(tx, key); ok {
			return kv.ErrExists
		}
		return put(tx, key, value)
	})
	if err != nil {
		return fmt.Errorf("boltkv: create %q: %w", key, err)
	}
	return nil
}

// Put stores value at key.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return put(tx, key, value)
	})
	if err != nil {
		return fmt.Errorf("boltkv: put %q: %w", key, err)
	}
	return nil
}

// Update calls fn exactly once inside a read-write transaction with a copy of
// the value at key (nil if absent), and stores its result; a nil result
// deletes the key. An error from fn is returned unchanged and rolls the
// transaction back.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	var fnErr error
	err := s.db.Update(func(tx *bbolt.Tx) error {
		old, _ := lookup(tx, key) // nil when absent, as the contract says
		v, err := fn(old)
		if err != nil {
			fnErr = err
			return err
		}
		if v == nil {
			return tx.Bucket([]byte(dataBucket)).Delete([]byte(key))
		}
		return put(tx, key, v)
	})
	if fnErr != nil {
		// The contract promises fn's error back unchanged, not wrapped.
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("boltkv: update %q: %w", key, err)
	}
	return nil
}

// Delete removes key, or returns kv.ErrNotFound if it was absent.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, ok := lookup(tx, key); !ok {
			return kv.ErrNotFound
		}
		return tx.Bucket([]byte(dataBucket)).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("boltkv: delete %q: %w", key, err)
	}
	return nil
}

// Close waits for open transactions and releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltkv: close: %w", err)
	}
	return nil
}

// lookup returns a copy of the value at key and whether the key exists.
// It asks the cursor whether the key is there instead of reading presence
// from Bucket.Get's nil, so that a stored empty value can never pass for a
// missing one, whatever bbolt does with zero-length slices.
func lookup(tx *bbolt.Tx, key string) ([]byte, bool) {
	if key == "" {
		return nil, false
	}
	k, v := tx.Bucket([]byte(dataBucket)).Cursor().Seek([]byte(key))
	if k == nil || string(k) != key {
		return nil, false
	}
	return clone(v), true
}

// put stores value at key. bbolt keeps a reference to value until the
// transaction commits, and the caller may reuse it after we return, so the
// write goes through a private copy.
func put(tx *bbolt.Tx, key string, value []byte) error {
	return tx.Bucket([]byte(dataBucket)).Put([]byte(key), clone(value))
}

// check rejects a done context and the empty key (which bbolt cannot store)
// before a transaction is opened.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return errors.New("boltkv: empty key")
	}
	return nil
}

// clone copies v out of bbolt's memory map and turns nil into an empty value,
// so that a stored key never reads back as nil (which means "absent" to
// Update's fn).
func clone(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return slices.Clone(v)
}

// Interface guard.
var _ kv.Store = (*Store)(nil)
