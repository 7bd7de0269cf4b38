// Package kvtest is the conformance suite every kv.Store runs: memkv, boltkv,
// etcdkv, and decorators such as crypt.Wrap. The services rely on exactly
// the behaviour written down in kv.Store; writing each clause down once, as a
// test, is what keeps the backends interchangeable.
//
// Run checks the contract clause by clause from one goroutine. RunConcurrent
// checks the atomicity claims (Update as compare-and-swap, Create and Delete
// as single-winner gates) under real goroutine contention; run it with -race.
//
// newStore must return an open, empty Store owned by the calling subtest;
// the suite closes it when the subtest ends. kvtest imports testing, so import
// it only from _test.go files.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/kv"
)

// Run runs the single-goroutine conformance tests, one subtest per contract
// clause, each on a fresh store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s kv.Store)
	}{
		{"GetMissing", testGetMissing},
		{"CreateThenGet", testCreate},
		{"CreateExisting", testCreateExisting},
		{"PutOverwrites", testPut},
		{"BinaryValue", testBinaryValue},
		{"EmptyValueIsPresent", testEmptyValue},
		{"EmptyKeyRejected", testEmptyKey},
		{"ListPrefix", testList},
		{"ListEmpty", testListEmpty},
		{"UpdateAbsent", testUpdateAbsent},
		{"UpdateExisting", testUpdateExisting},
		{"UpdateDeletes", testUpdateDeletes},
		{"UpdateError", testUpdateError},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"ErrorsMatchSentinels", testErrors},
		{"CallerOwnsMemory", testCallerOwnsMemory},
		{"ListRange", testListRange},
		{"Txn", testTxn},
		{"TxnShape", testTxnShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.test(t, open(t, newStore))
		})
	}
	// UseAfterClose closes the store itself, so it does not go through open.
	t.Run("UseAfterClose", func(t *testing.T) { testUseAfterClose(t, newStore(t)) })
}

// open gets a store from newStore and closes it when the test ends.
func open(t *testing.T, newStore func(t *testing.T) kv.Store) kv.Store {
	t.Helper()
	s := newStore(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

func testGetMissing(t *testing.T, s kv.Store) {
	mustPut(t, s, "a/b", "x") // neighbours must not answer for the missing key
	for _, key := range []string{"a", "a/", "a/b/c", "missing"} {
		got, err := s.Get(t.Context(), key)
		if !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Get(%q) = %q, %v, want ErrNotFound", key, got, err)
		}
		if got != nil {
			t.Errorf("Get(%q) value = %q, want nil with ErrNotFound", key, got)
		}
	}
}

func testCreate(t *testing.T, s kv.Store) {
	if err := s.Create(t.Context(), "k", []byte("v1")); err != nil {
		t.Fatalf("Create(k) = %v, want nil", err)
	}
	wantValue(t, s, "k", "v1")
}

func testCreateExisting(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "v1")
	err := s.Create(t.Context(), "k", []byte("v2"))
	if !errors.Is(err, kv.ErrExists) {
		t.Errorf("Create(existing) = %v, want ErrExists", err)
	}
	wantValue(t, s, "k", "v1") // the losing Create must not overwrite
}

func testPut(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "v1") // Put on an absent key creates it
	wantValue(t, s, "k", "v1")
	mustPut(t, s, "k", "v2")
	wantValue(t, s, "k", "v2")
	mustPut(t, s, "k", "a longer value than before")
	wantValue(t, s, "k", "a longer value than before")
	mustPut(t, s, "k", "s") // and shrinks back without leftover bytes
	wantValue(t, s, "k", "s")
}

func testBinaryValue(t *testing.T, s kv.Store) {
	v := make([]byte, 256)
	for i := range v {
		v[i] = byte(i) // includes NUL and invalid UTF-8
	}
	mustPut(t, s, "bin", string(v))
	wantValue(t, s, "bin", string(v))
}

// testEmptyValue checks that a key holding an empty value is present: Get
// returns a non-nil empty slice, List includes it and Update's fn gets a
// non-nil slice. Update uses nil to mean "absent", so a backend that reads
// an empty value back as nil would make the key vanish on the next Update.
func testEmptyValue(t *testing.T, s kv.Store) {
	ctx := t.Context()
	for _, v := range [][]byte{{}, nil} {
		if err := s.Put(ctx, "e", v); err != nil {
			t.Fatalf("Put(e, %#v) = %v, want nil", v, err)
		}
		got, err := s.Get(ctx, "e")
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Get(e) after Put(e, %#v) = %#v, %v, want []byte{}, nil", v, got, err)
		}
	}
	pairs, err := s.List(ctx, "")
	if err != nil || len(pairs) != 1 || pairs[0].Key != "e" || pairs[0].Value == nil || len(pairs[0].Value) != 0 {
		t.Errorf("List(\"\") = %#v, %v, want one empty pair e", pairs, err)
	}
	err = s.Update(ctx, "e", func(old []byte) ([]byte, error) {
		if old == nil {
			t.Errorf("Update(e) fn got nil for a present empty value, want []byte{}")
		}
		return append(old, 'x'), nil
	})
	if err != nil {
		t.Fatalf("Update(e) = %v, want nil", err)
	}
	wantValue(t, s, "e", "x")
	if err := s.Create(ctx, "e2", []byte{}); err != nil {
		t.Fatalf("Create(e2, empty) = %v, want nil", err)
	}
	if err := s.Create(ctx, "e2", []byte("y")); !errors.Is(err, kv.ErrExists) {
		t.Errorf("Create over empty value = %v, want ErrExists", err)
	}
}

// testEmptyKey checks that writes to the empty key fail. Not every backend
// can store it (bbolt cannot), so none may accept it.
func testEmptyKey(t *testing.T, s kv.Store) {
	ctx := t.Context()
	if err := s.Put(ctx, "", []byte("v")); err == nil {
		t.Errorf("Put(\"\") = nil, want an error")
	}
	if err := s.Create(ctx, "", []byte("v")); err == nil {
		t.Errorf("Create(\"\") = nil, want an error")
	}
	if err := s.Update(ctx, "", func([]byte) ([]byte, error) { return []byte("v"), nil }); err == nil {
		t.Errorf("Update(\"\") = nil, want an error")
	}
	if pairs, err := s.List(ctx, ""); err != nil || len(pairs) != 0 {
		t.Errorf("List(\"\") after rejected writes = %q, %v, want empty", pairs, err)
	}
}

func testList(t *testing.T, s kv.Store) {
	// Written out of order; "é" is multi-byte and sorts after ASCII.
	for _, k := range []string{"b", "a/2", "ab", "a", "a/b/c", "a/1", "a/", "a/é", "ba"} {
		mustPut(t, s, k, "v:"+k)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a", "a/", "a/1", "a/2", "a/b/c", "a/é", "ab", "b", "ba"}},
		{"a/", []string{"a/", "a/1", "a/2", "a/b/c", "a/é"}}, // not "ab"
		{"a", []string{"a", "a/", "a/1", "a/2", "a/b/c", "a/é", "ab"}},
		{"ab", []string{"ab"}},
		{"a/b", []string{"a/b/c"}},
		{"a/b/c", []string{"a/b/c"}}, // a prefix equal to a whole key
		{"b", []string{"b", "ba"}},
		{"a/1/", nil},
		{"c", nil},
		{"0", nil}, // sorts before everything
		{"z", nil}, // sorts after everything
	}
	for _, tt := range tests {
		pairs, err := s.List(t.Context(), tt.prefix)
		if err != nil {
			t.Errorf("List(%q) = %v, want nil error", tt.prefix, err)
			continue
		}
		var keys []string
		for _, p := range pairs {
			keys = append(keys, p.Key)
			if string(p.Value) != "v:"+p.Key {
				t.Errorf("List(%q): value of %q = %q, want %q", tt.prefix, p.Key, p.Value, "v:"+p.Key)
			}
		}
		if !slices.Equal(keys, tt.want) {
			t.Errorf("List(%q) keys = %q, want %q", tt.prefix, keys, tt.want)
		}
	}
}

func testListEmpty(t *testing.T, s kv.Store) {
	for _, prefix := range []string{"", "a/"} {
		pairs, err := s.List(t.Context(), prefix)
		if err != nil || len(pairs) != 0 {
			t.Errorf("List(%q) on empty store = %q, %v, want empty, nil", prefix, pairs, err)
		}
	}
}

func testUpdateAbsent(t *testing.T, s kv.Store) {
	mustPut(t, s, "k/child", "x") // a longer neighbour is not "the key"
	calls := 0
	err := s.Update(t.Context(), "k", func(old []byte) ([]byte, error) {
		calls++
		if old != nil {
			t.Errorf("Update(absent) fn got %q, want nil", old)
		}
		return []byte("new"), nil
	})
	if err != nil {
		t.Fatalf("Update(absent) = %v, want nil", err)
	}
	if calls == 0 {
		t.Errorf("Update(absent) never called fn")
	}
	wantValue(t, s, "k", "new")
	wantValue(t, s, "k/child", "x")
}

func testUpdateExisting(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "old")
	err := s.Update(t.Context(), "k", func(old []byte) ([]byte, error) {
		if string(old) != "old" {
			t.Errorf("Update fn got %q, want %q", old, "old")
		}
		return append(old, "+1"...), nil
	})
	if err != nil {
		t.Fatalf("Update(k) = %v, want nil", err)
	}
	wantValue(t, s, "k", "old+1")
}

func testUpdateDeletes(t *testing.T, s kv.Store) {
	mustPut(t, s, "k", "v")
	mustPut(t, s, "k2", "v2")
	del := func([]byte) ([]byte, error) { return nil, nil }
	if err := s.Update(t.Context(), "k", del); err != nil {
		t.Fatalf("Update(k) returning nil = %v, want nil", err)
	}
	wantNotFound(t, s, "k")
	wantValue(t, s, "k2", "v2")
	// Deleting an absent key through Update is not an error: fn saw nil and
	// asked for nil, and nil is what is stored.
	if err := s.Update(t.Context(), "absent", del); err != nil {
		t.Errorf("Update(absent) returning nil = %v, want nil", err)
	}
	wantNotFound(t, s, "absent")
}

func testUpdateError(t *testing.T, s kv.Store) {
	errFn := errors.New("kvtest: fn failed")
	tests := []struct {
		name string
		seed *string // nil: key absent
	}{
		{"Absent", nil},
		{"Present", ptr("old")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "k/" + tt.name
			if tt.seed != nil {
				mustPut(t, s, key, *tt.seed)
			}
			err := s.Update(t.Context(), key, func(old []byte) ([]byte, error) {
				// Scribbling on old and returning a value along with the
				// error must change nothing.
				for i := range old {
					old[i] = 'X'
				}
				return []byte("new"), errFn
			})
			if !errors.Is(err, errFn) {
				t.Errorf("Update with failing fn = %v, want fn's error", err)
			}
			if tt.seed == nil {
				wantNotFound(t, s, key)
			} else {
				wantValue(t, s, key, *tt.seed)
			}
		})
	}
}

func testDelete(t *testing.T, s kv.Store) {
	for _, k := range []string{"a", "a/", "a/1", "ab"} {
		mustPut(t, s, k, "v:"+k)
	}
	if err := s.Delete(t.Context(), "a/"); err != nil {
		t.Fatalf("Delete(a/) = %v, want nil", err)
	}
	wantNotFound(t, s, "a/")
	for _, k := range []string{"a", "a/1", "ab"} { // neighbours untouched
		wantValue(t, s, k, "v:"+k)
	}
	// A second Delete fails: that is what makes Delete a single-use gate.
	if err := s.Delete(t.Context(), "a/"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("second Delete(a/) = %v, want ErrNotFound", err)
	}
	// A deleted key can be created again.
	if err := s.Create(t.Context(), "a/", []byte("again")); err != nil {
		t.Errorf("Create after Delete = %v, want nil", err)
	}
}

func testDeleteMissing(t *testing.T, s kv.Store) {
	mustPut(t, s, "a/1", "v")
	for _, key := range []string{"missing", "a", "a/"} {
		if err := s.Delete(t.Context(), key); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", key, err)
		}
	}
	wantValue(t, s, "a/1", "v")
}

// testErrors checks that backend errors match their kv sentinel with
// errors.Is, also after a caller wraps them again, and match no other
// sentinel. Callers test with errors.Is, never ==, so a backend is free to
// wrap; it is not free to lose the sentinel.
func testErrors(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "present", "v")
	// An error must match its own sentinel and no other.
	sentinels := []error{kv.ErrNotFound, kv.ErrExists, kv.ErrConflict}
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"GetMissing", func() error { _, err := s.Get(ctx, "missing"); return err }, kv.ErrNotFound},
		{"DeleteMissing", func() error { return s.Delete(ctx, "missing") }, kv.ErrNotFound},
		{"CreateExisting", func() error { return s.Create(ctx, "present", []byte("x")) }, kv.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			for _, e := range []error{err, fmt.Errorf("caller: %w", err)} {
				if !errors.Is(e, tt.want) {
					t.Errorf("errors.Is(%v, %v) = false, want true", e, tt.want)
				}
				for _, other := range sentinels {
					if other != tt.want && errors.Is(e, other) {
						t.Errorf("errors.Is(%v, %v) = true, want false", e, other)
					}
				}
			}
		})
	}
}

// testCallerOwnsMemory checks that a store neither keeps the slices passed
// to it nor hands out slices it still uses.
func testCallerOwnsMemory(t *testing.T, s kv.Store) {
	ctx := t.Context()
	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, key string)
	}{
		{"PutArgument", func(t *testing.T, key string) {
			v := []byte("value")
			if err := s.Put(ctx, key, v); err != nil {
				t.Fatal(err)
			}
			scribble(v)
		}},
		{"CreateArgument", func(t *testing.T, key string) {
			v := []byte("value")
			if err := s.Create(ctx, key, v); err != nil {
				t.Fatal(err)
			}
			scribble(v)
		}},
		{"UpdateResult", func(t *testing.T, key string) {
			v := []byte("value")
			if err := s.Update(ctx, key, func([]byte) ([]byte, error) { return v, nil }); err != nil {
				t.Fatal(err)
			}
			scribble(v)
		}},
		{"GetResult", func(t *testing.T, key string) {
			mustPut(t, s, key, "value")
			v, err := s.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			scribble(v)
		}},
		{"ListResult", func(t *testing.T, key string) {
			mustPut(t, s, key, "value")
			pairs, err := s.List(ctx, key)
			if err != nil || len(pairs) != 1 {
				t.Fatalf("List(%q) = %q, %v, want one pair", key, pairs, err)
			}
			scribble(pairs[0].Value)
		}},
		{"UpdateOld", func(t *testing.T, key string) {
			mustPut(t, s, key, "value")
			var kept []byte
			err := s.Update(ctx, key, func(old []byte) ([]byte, error) {
				kept = old
				return old, nil // store the same bytes back
			})
			if err != nil {
				t.Fatal(err)
			}
			scribble(kept)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "own/" + tt.name
			tt.run(t, key)
			wantValue(t, s, key, "value")
		})
	}
}

// testUseAfterClose checks that a closed store reports an error rather than
// an answer; above all it must not say ErrNotFound, which a caller would
// take as a fact about the data.
func testUseAfterClose(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if v, err := s.Get(ctx, "k"); err == nil || errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get after Close = %q, %v, want a non-NotFound error", v, err)
	}
	if err := s.Put(ctx, "k2", []byte("v")); err == nil {
		t.Errorf("Put after Close = nil, want an error")
	}
	if err := s.Delete(ctx, "missing"); err == nil || errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Delete after Close = %v, want a non-NotFound error", err)
	}
}

func mustPut(t *testing.T, s kv.Store, key, value string) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(value)); err != nil {
		t.Fatalf("Put(%q) = %v, want nil", key, err)
	}
}

func wantValue(t *testing.T, s kv.Store, key, want string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		t.Errorf("Get(%q) = %q, %v, want %q, nil", key, got, err, want)
	}
}

func wantNotFound(t *testing.T, s kv.Store, key string) {
	t.Helper()
	if got, err := s.Get(t.Context(), key); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(%q) = %q, %v, want ErrNotFound", key, got, err)
	}
}

func ptr(s string) *string { return &s }
