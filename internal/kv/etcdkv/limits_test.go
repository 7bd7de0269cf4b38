package etcdkv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
)

// TestRequestTooLarge: writes etcd would refuse are refused as
// errs.TooLarge, both before they are sent (the estimate) and when etcd
// refuses one (a cluster with a smaller limit than assumed), and nothing
// is written.
func TestRequestTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("x"), DefaultMaxRequestBytes)
	fits := bytes.Repeat([]byte("x"), DefaultMaxRequestBytes-8<<10)
	tests := []struct {
		name  string
		limit int // the client's idea of etcd's limit; etcd's is the default
		write func(s *Store) error
		large bool
	}{
		{"txn over the limit", 0, func(s *Store) error { return s.Txn(t.Context(), kv.Put("a", big)) }, true},
		{"txn of many values over the limit", 0, func(s *Store) error {
			var ops []kv.Op
			for _, k := range []string{"a", "b", "c", "d"} {
				ops = append(ops, kv.Put(k, big[:DefaultMaxRequestBytes/3]))
			}
			return s.Txn(t.Context(), ops...)
		}, true},
		{"put over the limit", 0, func(s *Store) error { return s.Put(t.Context(), "a", big) }, true},
		{"create over the limit", 0, func(s *Store) error { return s.Create(t.Context(), "a", big) }, true},
		{"update over the limit", 0, func(s *Store) error {
			return s.Update(t.Context(), "a", func([]byte) ([]byte, error) { return big, nil })
		}, true},
		{"etcd refuses what the client let through", 4 << 20, func(s *Store) error { return s.Put(t.Context(), "a", big) }, true},
		{"just under the limit", 0, func(s *Store) error { return s.Txn(t.Context(), kv.Put("a", fits)) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			s, err := Open(Options{Endpoints: []string{etcdtest.Endpoint(t)}, Prefix: "t-" + hex.EncodeToString(b) + "/",
				MaxRequestBytes: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before, err := s.Revision(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			err = tt.write(s)
			if !tt.large {
				if err != nil {
					t.Fatalf("write = %v", err)
				}
				return
			}
			if errs.KindOf(err) != errs.TooLarge {
				t.Fatalf("write = %v, want an errs.TooLarge error", err)
			}
			if after, err := s.Revision(t.Context()); err != nil || after != before {
				t.Errorf("revision %d → %d (%v): the refused write changed etcd", before, after, err)
			}
			if _, err := s.Get(t.Context(), "a"); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("get a after the refused write = %v, want not found", err)
			}
		})
	}
}
