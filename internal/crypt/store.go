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
	return &store{inner: s, ring: ring, checked: newSealedHints()}
}

// store is the encrypting decorator. Its only state is a hint (checked),
// so its concurrency and atomicity are exactly the inner store's.
type store struct {
	inner   kv.Store
	ring    *Ring
	checked *sealedHints
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
//
// A compare-and-swap record (a secret's head) is checked by the next Txn
// against the plaintext this store just wrote, so the ciphertext of what a
// Txn wrote to a key it also checked is kept as a hint: the next Check of
// that plaintext hands it to the inner check without the read and the
// decryption. The hint is only ever a guess checked by the inner store;
// when that check fails, the Txn runs again the long way, so a stale hint
// (another writer, another replica) costs a round trip and never a wrong
// answer.
func (s *store) Txn(ctx context.Context, ops ...kv.Op) error {
	if err := kv.ValidateTxn(ops); err != nil {
		return err
	}
	inner, hinted, err := s.sealTxn(ctx, ops, true)
	if err != nil {
		return err
	}
	err = s.inner.Txn(ctx, inner...)
	var te *kv.TxnError
	if hinted && errors.As(err, &te) && ops[te.Index].Kind == kv.OpCheck {
		// The hint may have been stale: drop it and check the long way.
		s.checked.drop(te.Key)
		if inner, _, err = s.sealTxn(ctx, ops, false); err != nil {
			return err
		}
		err = s.inner.Txn(ctx, inner...)
	}
	s.remember(ops, inner, err == nil)
	return err
}

// sealTxn turns ops into the inner store's: values sealed, checks turned
// into checks of ciphertext (from a hint when useHints allows and one
// matches). hinted reports whether any check used a hint.
func (s *store) sealTxn(ctx context.Context, ops []kv.Op, useHints bool) (inner []kv.Op, hinted bool, err error) {
	inner = make([]kv.Op, len(ops))
	for i, o := range ops {
		inner[i] = o
		switch o.Kind {
		case kv.OpPut, kv.OpCreate:
			inner[i].Value = s.ring.seal(o.Key, o.Value)
		case kv.OpCheck:
			if o.Value == nil {
				continue
			}
			if useHints {
				if raw := s.checked.get(o.Key, o.Value); raw != nil {
					inner[i].Value, hinted = raw, true
					continue
				}
			}
			raw, err := s.inner.Get(ctx, o.Key)
			if errors.Is(err, kv.ErrNotFound) {
				return nil, false, &kv.TxnError{Index: i, Key: o.Key, Err: kv.ErrConflict}
			}
			if err != nil {
				return nil, false, err
			}
			plain, err := s.ring.open(o.Key, raw)
			if err != nil {
				return nil, false, err
			}
			if !bytes.Equal(plain, o.Value) {
				return nil, false, &kv.TxnError{Index: i, Key: o.Key, Err: kv.ErrConflict}
			}
			inner[i].Value = raw
		}
	}
	return inner, hinted, nil
}

// remember keeps, after a Txn, the ciphertext it wrote to each key it also
// checked (ok: the Txn committed) and forgets the hints of its other keys.
func (s *store) remember(ops, inner []kv.Op, ok bool) {
	for i, o := range ops {
		if !o.Writes() {
			continue
		}
		if ok && (o.Kind == kv.OpPut || o.Kind == kv.OpCreate) && checks(ops, o.Key) {
			s.checked.put(o.Key, inner[i].Value, o.Value)
		} else {
			s.checked.drop(o.Key)
		}
	}
}

// checks reports whether ops hold a Check of key.
func checks(ops []kv.Op, key string) bool {
	for _, o := range ops {
		if o.Kind == kv.OpCheck && o.Key == key {
			return true
		}
	}
	return false
}

func (s *store) Create(ctx context.Context, key string, value []byte) error {
	s.checked.drop(key)
	return s.inner.Create(ctx, key, s.ring.seal(key, value))
}

func (s *store) Put(ctx context.Context, key string, value []byte) error {
	s.checked.drop(key)
	return s.inner.Put(ctx, key, s.ring.seal(key, value))
}

// Update decrypts the old value, calls fn and encrypts its result, all inside
// the inner Update, so the compare-and-swap is on the ciphertext and as
// atomic as the inner store's. The inner store may call the closure more than
// once; each call seals afresh, which is harmless. A value that does not
// decrypt aborts the Update with an ErrDecrypt error before fn runs.
func (s *store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	s.checked.drop(key)
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
	s.checked.drop(key)
	return s.inner.Delete(ctx, key)
}

func (s *store) Close() error {
	return s.inner.Close()
}

// Interface guard.
var _ kv.Store = (*store)(nil)
