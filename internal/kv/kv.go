// Package kv defines the small key-value storage contract every Coffer
// backend implements (bbolt, memory, etcd). Keys are slash-separated strings;
// values are opaque bytes. Implementations live in sub-packages; the shared
// conformance suite is kv/kvtest.
package kv

import (
	"context"
	"errors"
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
	// Delete removes key atomically; it returns ErrNotFound if the key was
	// absent, so a Delete can serve as a single-use gate.
	Delete(ctx context.Context, key string) error
	// Close releases the backend.
	Close() error
}
