package crypt

import (
	"context"

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
