package crypt_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

// countingStore counts the reads that reach the backend.
type countingStore struct {
	kv.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

// TestCheckHints: a compare-and-swap on a record this store just wrote
// skips the read and decryption of the Check, and a hint made stale by
// another writer (a second decorator on the same backend, like another
// replica) never changes an answer: the same plaintext written anew still
// passes, another plaintext still conflicts.
func TestCheckHints(t *testing.T) {
	ctx := t.Context()
	ring := crypt.NewRandomRing()
	raw := &countingStore{Store: memkv.New()}
	s, other := crypt.Wrap(raw, ring), crypt.Wrap(raw, ring)
	cas := func(st kv.Store, old, new string) error {
		return st.Txn(ctx, kv.Check("head", []byte(old)), kv.Put("head", []byte(new)))
	}
	if err := s.Create(ctx, "head", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := cas(s, "v1", "v2"); err != nil { // no hint yet: read and open
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		meanwhile  func() error // another writer, through the other decorator
		check, put string
		wantErr    error
		wantGets   int64 // backend reads the Txn made
	}{
		{"own write: the hint serves", nil, "v2", "v3", nil, 0},
		{"again", nil, "v3", "v4", nil, 0},
		{"same plaintext rewritten elsewhere", func() error { return other.Put(ctx, "head", []byte("v4")) }, "v4", "v5", nil, 1},
		{"another plaintext written elsewhere", func() error { return cas(other, "v5", "v9") }, "v5", "v6", kv.ErrConflict, 1},
		{"the conflict left no hint", nil, "v9", "v10", nil, 1},
		{"and the next one serves again", nil, "v10", "v11", nil, 0},
	}
	for _, tt := range tests {
		if tt.meanwhile != nil {
			if err := tt.meanwhile(); err != nil {
				t.Fatalf("%s: other writer: %v", tt.name, err)
			}
		}
		before := raw.gets.Load()
		err := cas(s, tt.check, tt.put)
		var te *kv.TxnError
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("%s: Txn = %v, want nil", tt.name, err)
		case tt.wantErr != nil && (!errors.As(err, &te) || !errors.Is(err, tt.wantErr)):
			t.Errorf("%s: Txn = %v, want a TxnError wrapping %v", tt.name, err, tt.wantErr)
		}
		if got := raw.gets.Load() - before; got != tt.wantGets {
			t.Errorf("%s: %d backend reads, want %d", tt.name, got, tt.wantGets)
		}
	}
	if v, err := s.Get(ctx, "head"); err != nil || string(v) != "v11" {
		t.Errorf("head = %q, %v, want v11", v, err)
	}
}
