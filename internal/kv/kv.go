// Package kv defines the small key-value storage contract every Coffer
// backend implements (bbolt, memory, etcd). Keys are slash-separated strings;
// values are opaque bytes. Implementations live in sub-packages; the shared
// conformance suite is kv/kvtest.
package kv

import (
	"context"
	"errors"
	"strconv"
)

// Sentinel errors. Backends return them (possibly wrapped); test with errors.Is.
var (
	ErrNotFound = errors.New("kv: not found")
	ErrExists   = errors.New("kv: already exists")
	// ErrConflict is returned by Update when the value kept changing under it
	// and the retry budget ran out.
	ErrConflict = errors.New("kv: conflict")
)

// Pair is one key and its value.
type Pair struct {
	Key   string
	Value []byte
}

// Store is the storage contract. All methods are safe for concurrent use.
// Returned byte slices are owned by the caller; values passed in are not
// retained after the call returns (implementations copy). A write that
// returned nil is durable (fsynced, or committed by a quorum).
type Store interface {
	// Get returns the value at key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns every pair whose key starts with prefix, in ascending key order.
	List(ctx context.Context, prefix string) ([]Pair, error)
	// Create stores value at key if key is absent, else returns ErrExists.
	Create(ctx context.Context, key string, value []byte) error
	// Put stores value at key unconditionally.
	Put(ctx context.Context, key string, value []byte) error
	// Update reads key and stores fn's result atomically (compare-and-swap).
	// fn receives nil when the key is absent; returning (nil, nil) deletes the
	// key; returning an error aborts and Update returns that error unchanged.
	// fn may be called more than once: change only what you must in it and
	// keep side effects out. Returns ErrConflict if retries are exhausted.
	Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error
	// ListRange returns, in ascending key order, at most limit pairs whose
	// key starts with prefix and sorts after the key after ("" starts at
	// the first key). limit must be positive. Its cost depends on limit,
	// not on how many keys share the prefix, which is what paging needs.
	ListRange(ctx context.Context, prefix, after string, limit int) ([]Pair, error)
	// Txn applies ops all or nothing: when any condition fails (see
	// OpKind) nothing is written and the error is a *TxnError wrapping
	// ErrExists, ErrNotFound or ErrConflict. ValidateTxn gives the shape a
	// Txn must have. Like any write, a nil return means durable.
	Txn(ctx context.Context, ops ...Op) error
	// Delete removes key atomically; it returns ErrNotFound if the key was
	// absent, so a Delete can serve as a single-use gate.
	Delete(ctx context.Context, key string) error
	// Close releases the backend.
	Close() error
}

// MaxTxnOps bounds the number of operations in one Txn. etcd refuses
// transactions with more than 128 operations by default (--max-txn-ops), so
// every backend refuses them too: what works on bbolt must work on etcd.
const MaxTxnOps = 128

// OpKind says what one operation of a Txn does.
type OpKind uint8

// The operations of a Txn.
const (
	// OpPut stores Value at Key unconditionally.
	OpPut OpKind = iota + 1
	// OpCreate stores Value at Key if Key is absent; else the Txn fails
	// with ErrExists.
	OpCreate
	// OpDelete removes Key if present; else the Txn fails with ErrNotFound.
	OpDelete
	// OpRemove removes Key whether or not it is present.
	OpRemove
	// OpCheck writes nothing: the Txn fails with ErrConflict unless Key
	// holds exactly Value, or, when Value is nil, unless Key is absent.
	OpCheck
)

// Op is one operation of a Txn. Build it with Put, Create, Delete, Remove
// or Check.
type Op struct {
	Kind  OpKind
	Key   string
	Value []byte
}

// Put is an Op that stores value at key.
func Put(key string, value []byte) Op { return Op{Kind: OpPut, Key: key, Value: value} }

// Create is an Op that stores value at key if key is absent.
func Create(key string, value []byte) Op { return Op{Kind: OpCreate, Key: key, Value: value} }

// Delete is an Op that removes key, which must be present.
func Delete(key string) Op { return Op{Kind: OpDelete, Key: key} }

// Remove is an Op that removes key if it is present.
func Remove(key string) Op { return Op{Kind: OpRemove, Key: key} }

// Check is an Op that requires key to hold exactly want (nil: be absent).
func Check(key string, want []byte) Op { return Op{Kind: OpCheck, Key: key, Value: want} }

// Writes reports whether the operation changes the store.
func (o Op) Writes() bool { return o.Kind != OpCheck }

// TxnError says which operation of a Txn failed its condition. It wraps
// ErrExists, ErrNotFound or ErrConflict, so errors.Is works on it.
type TxnError struct {
	Index int    // position of the failed operation in the Txn
	Key   string // its key
	Err   error  // the sentinel
}

func (e *TxnError) Error() string {
	return "kv: txn op " + itoa(e.Index) + " on " + quote(e.Key) + ": " + e.Err.Error()
}

func (e *TxnError) Unwrap() error { return e.Err }

// ValidateTxn checks the shape of a Txn the same way on every backend: at
// least one and at most MaxTxnOps operations, known kinds, no empty key,
// and no key written twice (etcd refuses duplicate writes in one
// transaction; Checks may name any key, also one that is written).
func ValidateTxn(ops []Op) error {
	if len(ops) == 0 || len(ops) > MaxTxnOps {
		return errors.New("kv: a txn needs 1 to " + itoa(MaxTxnOps) + " operations, got " + itoa(len(ops)))
	}
	written := make(map[string]bool, len(ops))
	for _, o := range ops {
		if o.Kind < OpPut || o.Kind > OpCheck {
			return errors.New("kv: txn op of unknown kind")
		}
		if o.Key == "" {
			return errors.New("kv: txn op with an empty key")
		}
		if !o.Writes() {
			continue
		}
		if written[o.Key] {
			return errors.New("kv: txn writes " + quote(o.Key) + " twice")
		}
		written[o.Key] = true
	}
	return nil
}

// Holds reports whether a key's current state (cur, present) satisfies the
// condition of op; when it does not, it returns the sentinel the Txn fails
// with. Backends that evaluate conditions themselves share it.
func (o Op) Holds(cur []byte, present bool) error {
	switch o.Kind {
	case OpCreate:
		if present {
			return ErrExists
		}
	case OpDelete:
		if !present {
			return ErrNotFound
		}
	case OpCheck:
		if o.Value == nil {
			if present {
				return ErrConflict
			}
		} else if !present || string(cur) != string(o.Value) {
			return ErrConflict
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func quote(s string) string { return strconv.Quote(s) }
