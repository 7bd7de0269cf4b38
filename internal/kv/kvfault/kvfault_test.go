package kvfault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvfault"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

// Without rules the wrapper is a conforming store.
func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return kvfault.Wrap(memkv.New()) })
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	inner := memkv.New()
	s := kvfault.Wrap(inner)
	if err := s.Put(ctx, "a/1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b/1", []byte("y")); err != nil {
		t.Fatal(err)
	}
	remove := s.Inject(kvfault.Rule{Ops: kvfault.Writes, Prefix: "a/"})
	tests := []struct {
		name    string
		call    func() error
		wantErr error
	}{
		{"put under the prefix", func() error { return s.Put(ctx, "a/2", []byte("z")) }, kvfault.ErrInjected},
		{"create under the prefix", func() error { return s.Create(ctx, "a/3", []byte("z")) }, kvfault.ErrInjected},
		{"update under the prefix", func() error {
			return s.Update(ctx, "a/1", func([]byte) ([]byte, error) { return []byte("changed"), nil })
		}, kvfault.ErrInjected},
		{"delete under the prefix", func() error { return s.Delete(ctx, "a/1") }, kvfault.ErrInjected},
		{"read under the prefix", func() error { _, err := s.Get(ctx, "a/1"); return err }, nil},
		{"list under the prefix", func() error { _, err := s.List(ctx, "a/"); return err }, nil},
		{"write elsewhere", func() error { return s.Put(ctx, "b/2", []byte("z")) }, nil},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	if s.Hits() != 4 {
		t.Errorf("Hits = %d, want 4", s.Hits())
	}
	// Failed writes never reached the inner store.
	if v, err := inner.Get(ctx, "a/1"); err != nil || string(v) != "x" {
		t.Errorf("a/1 = %q, %v after failed writes", v, err)
	}
	for _, k := range []string{"a/2", "a/3"} {
		if _, err := inner.Get(ctx, k); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("%s was written: %v", k, err)
		}
	}
	remove()
	if err := s.Put(ctx, "a/2", []byte("z")); err != nil {
		t.Errorf("after remove: %v", err)
	}

	s.Inject(kvfault.Rule{Ops: kvfault.Get, Err: kvfault.ErrUnavailable})
	if _, err := s.Get(ctx, "b/1"); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("Unavailable rule: %v (kind %v)", err, errs.KindOf(err))
	}
	s.Clear()
	s.Inject(kvfault.Rule{Prefix: "b/", Hang: true})
	// start before the deadline's clock does, so a prompt answer at the
	// deadline can never measure shorter than it.
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Get(tctx, "b/1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hang rule: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Hang rule returned after %v, before the deadline", d)
	}
	s.Clear()
	if v, err := s.Get(ctx, "b/1"); err != nil || string(v) != "y" {
		t.Errorf("after Clear: %q, %v", v, err)
	}
}

// TestTxnRules: a Txn fails as a whole when any of its operations matches a
// rule for the call it stands for, and then writes nothing.
func TestTxnRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		rule kvfault.Rule
		fail bool
	}{
		{"put matches Put", kvfault.Rule{Ops: kvfault.Put, Prefix: "a/"}, true},
		{"create matches Create", kvfault.Rule{Ops: kvfault.Create, Prefix: "c/"}, true},
		{"remove matches Delete", kvfault.Rule{Ops: kvfault.Delete, Prefix: "d/"}, true},
		{"check matches Get", kvfault.Rule{Ops: kvfault.Get, Prefix: "k/"}, true},
		{"writes group", kvfault.Rule{Ops: kvfault.Writes, Prefix: "a/"}, true},
		{"other prefix", kvfault.Rule{Ops: kvfault.All, Prefix: "z/"}, false},
		{"update rule is not a put", kvfault.Rule{Ops: kvfault.Update, Prefix: "a/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := memkv.New()
			s := kvfault.Wrap(inner)
			s.Inject(tt.rule)
			err := s.Txn(ctx, kv.Check("k/1", nil), kv.Put("a/1", []byte("x")), kv.Create("c/1", []byte("y")), kv.Remove("d/1"))
			if tt.fail != (err != nil) {
				t.Fatalf("Txn = %v, want failure %v", err, tt.fail)
			}
			_, getErr := inner.Get(ctx, "a/1")
			if tt.fail && !errors.Is(getErr, kv.ErrNotFound) {
				t.Errorf("a failed Txn reached the inner store")
			}
			if !tt.fail && getErr != nil {
				t.Errorf("a passed Txn did not write: %v", getErr)
			}
		})
	}
}
