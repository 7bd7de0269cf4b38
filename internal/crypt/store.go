package crypt

import (
	"bytes"
	"context"
	"errors"

	"github.com/coffer-dev/coffer/internal/kv"
)

// Wrap returns a kv.Store that encrypts every value with ring before it
// reaches s, and decrypts on the way out. Keys are not encrypted: they must
// stay in order for List. Closing the returned Store closes s.
func Wrap(s kv.Store, ring *Ring) kv.Store {
	if s == nil || ring == nil {
		panic("crypt: Wrap needs a store and a ring")
	}
	return &store{inner: s, ring: ring}
}

// store is the encrypting decorator. It holds no state of its own, so its
// concurrency and atomicity are exactly the inner store's.
type store struct {
	inner kv.Store
	ring  *Ring
}

func (s *store) Get(ctx context.Context, key string) ([]byte, error) {
	raw, err := s.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.ring.open(key, raw)
}

// List fails as a whole if any value does not decrypt: silently skipping it
// would make the value look deleted.
func (s *store) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	pairs, err := s.inner.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for i, p := range pairs {
		v, err := s.ring.open(p.Key, p.Value)
		if err != nil {
			return nil, err
		}
		pairs[i].Value = v
	}
	return pairs, nil
}

// ListRange decrypts a page; like List it fails as a whole on a value that
// does not decrypt.
func (s *store) ListRange(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	pairs, err := s.inner.ListRange(ctx, prefix, after, limit)
	if err != nil {
		return nil, err
	}
	for i, p := range pairs {
		v, err := s.ring.open(p.Key, p.Value)
		if err != nil {
			return nil, err
		}
		pairs[i].Value = v
	}
	return pairs, nil
}

// Txn seals each written value under its own key (the key is the AAD). A
// Check names a plaintext, but sealing is randomized, so it cannot be
// compared to the stored ciphertext directly: the current ciphertext is
// read and opened, and if it holds the expected plaintext the inner Txn
// checks for exactly that ciphertext. Should the key change in between,
// the inner check fails, so the Txn stays all or nothing.
func (s *store) Txn(ctx context.Context, ops ...kv.Op) error {
	if err := kv.ValidateTxn(ops); err != nil {
		return err
	}
	inner := make([]kv.Op, len(ops))
	for i, o := range ops {
		inner[i] = o
		switch o.Kind {
		case kv.OpPut, kv.OpCreate:
			inner[i].Value = s.ring.seal(o.Key, o.Value)
		case kv.OpCheck:
			if o.Value == nil {
				continue
			}
			raw, err := s.inner.Get(ctx, o.Key)
			if errors.Is(err, kv.ErrNotFound) {
				return &kv.TxnError{Index: i, Key: o.Key, Err: kv.ErrConflict}
			}
			if err != nil {
				return err
			}
			plain, err := s.ring.open(o.Key, raw)
			if err != nil {
				return err
			}
			if !bytes.Equal(plain, o.Value) {
				return &kv.TxnError{Index: i, Key: o.Key, Err: kv.ErrConflict}
			}
			inner[i].Value = raw
		}
	}
	return s.inner.Txn(ctx, inner...)
}

func (s *store) Create(ctx context.Context, key string, value []byte) error {
	return s.inner.Create(ctx, key, s.ring.seal(key, value))
}

func (s *store) Put(ctx context.Context, key string, value []byte) error {
	return s.inner.Put(ctx, key, s.ring.seal(key, value))
}

// Update decrypts the old value, calls fn and encrypts its result, all inside
// the inner Update, so the compare-and-swap is on the ciphertext and as
// atomic as the inner store's. The inner store may call the closure more than
// once; each call seals afresh, which is harmless. A value that does not
// decrypt aborts the Update with an ErrDecrypt error before fn runs.
func (s *store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	return s.inner.Update(ctx, key, func(raw []byte) ([]byte, error) {
		var old []byte
		if raw != nil {
			var err error
			if old, err = s.ring.open(key, raw); err != nil {
				return nil, err
			}
		}
		v, err := fn(old)
		if err != nil || v == nil {
			return nil, err // fn's error unchanged, or (nil, nil) to delete
		}
		return s.ring.seal(key, v), nil
	})
}

func (s *store) Delete(ctx context.Context, key string) error {
	return s.inner.Delete(ctx, key)
}

func (s *store) Close() error {
	return s.inner.Close()
}

// Interface guard.
var _ kv.Store = (*store)(nil)
