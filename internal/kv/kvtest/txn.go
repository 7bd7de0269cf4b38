package kvtest

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/kv"
)

// testListRange checks paging: order, the exclusive start, the limit, and
// that keys outside the prefix never leak into a page.
func testListRange(t *testing.T, s kv.Store) {
	for _, k := range []string{"b", "a/2", "ab", "a", "a/b/c", "a/1", "a/", "a/é", "ba"} {
		mustPut(t, s, k, "v:"+k)
	}
	tests := []struct {
		prefix, after string
		limit         int
		want          []string
	}{
		{"", "", 100, []string{"a", "a/", "a/1", "a/2", "a/b/c", "a/é", "ab", "b", "ba"}},
		{"", "", 2, []string{"a", "a/"}},
		{"", "a/", 2, []string{"a/1", "a/2"}},
		{"", "ab", 5, []string{"b", "ba"}},
		{"a/", "", 2, []string{"a/", "a/1"}},
		{"a/", "a/1", 10, []string{"a/2", "a/b/c", "a/é"}}, // not "ab"
		{"a/", "a/0", 1, []string{"a/1"}},                  // after need not exist
		{"a/", "a", 1, []string{"a/"}},                     // after before the prefix
		{"a/", "a/é", 10, nil},
		{"a/", "b", 10, nil}, // after beyond the prefix
		{"a/1/", "", 10, nil},
		{"z", "", 10, nil},
	}
	for _, tt := range tests {
		pairs, err := s.ListRange(t.Context(), tt.prefix, tt.after, tt.limit)
		if err != nil {
			t.Errorf("ListRange(%q, %q, %d) = %v, want nil error", tt.prefix, tt.after, tt.limit, err)
			continue
		}
		var keys []string
		for _, p := range pairs {
			keys = append(keys, p.Key)
			if string(p.Value) != "v:"+p.Key {
				t.Errorf("ListRange: value of %q = %q, want %q", p.Key, p.Value, "v:"+p.Key)
			}
		}
		if !slices.Equal(keys, tt.want) {
			t.Errorf("ListRange(%q, %q, %d) keys = %q, want %q", tt.prefix, tt.after, tt.limit, keys, tt.want)
		}
	}
	// Walking page by page visits every key once, in order.
	var walked []string
	after := ""
	for {
		pairs, err := s.ListRange(t.Context(), "a", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) == 0 {
			break
		}
		for _, p := range pairs {
			walked = append(walked, p.Key)
		}
		after = pairs[len(pairs)-1].Key
	}
	if want := []string{"a", "a/", "a/1", "a/2", "a/b/c", "a/é", "ab"}; !slices.Equal(walked, want) {
		t.Errorf("paging walk = %q, want %q", walked, want)
	}
	if _, err := s.ListRange(t.Context(), "a", "", 0); err == nil {
		t.Errorf("ListRange with limit 0 = nil error, want an error")
	}
}

// testTxn checks that a Txn applies all of its writes when every condition
// holds, and none of them (reporting the failed operation) when one fails.
func testTxn(t *testing.T, s kv.Store) {
	ctx := t.Context()
	mustPut(t, s, "t/present", "p")
	mustPut(t, s, "t/victim", "keep")
	seed := map[string]string{"t/present": "p", "t/victim": "keep"}
	failing := []struct {
		name  string
		op    kv.Op
		index int
		want  error
	}{
		{"CreateExisting", kv.Create("t/present", []byte("x")), 2, kv.ErrExists},
		{"DeleteMissing", kv.Delete("t/absent"), 2, kv.ErrNotFound},
		{"CheckWrongValue", kv.Check("t/present", []byte("q")), 2, kv.ErrConflict},
		{"CheckLongerValue", kv.Check("t/present", []byte("pp")), 2, kv.ErrConflict},
		{"CheckAbsentButPresent", kv.Check("t/present", nil), 2, kv.ErrConflict},
		{"CheckValueButAbsent", kv.Check("t/absent", []byte("p")), 2, kv.ErrConflict},
		{"CheckEmptyButAbsent", kv.Check("t/absent", []byte{}), 2, kv.ErrConflict},
	}
	for _, tt := range failing {
		t.Run(tt.name, func(t *testing.T) {
			// Writes before and after the failing op must both be undone.
			err := s.Txn(ctx, kv.Put("t/new1", []byte("n")), kv.Remove("t/victim"), tt.op, kv.Put("t/new2", []byte("n")))
			var te *kv.TxnError
			if !errors.Is(err, tt.want) || !errors.As(err, &te) || te.Index != tt.index || te.Key != tt.op.Key {
				t.Fatalf("Txn = %v, want *TxnError{Index: %d, Key: %q} wrapping %v", err, tt.index, tt.op.Key, tt.want)
			}
			for _, other := range []error{kv.ErrExists, kv.ErrNotFound, kv.ErrConflict} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Txn error %v also matches %v", err, other)
				}
			}
			wantNotFound(t, s, "t/new1")
			wantNotFound(t, s, "t/new2")
			for k, v := range seed {
				wantValue(t, s, k, v)
			}
		})
	}
	t.Run("AllHold", func(t *testing.T) {
		mustPut(t, s, "t/gone", "g")
		mustPut(t, s, "t/empty", "")
		err := s.Txn(ctx,
			kv.Check("t/present", []byte("p")),
			kv.Check("t/empty", []byte{}),
			kv.Check("t/nothing", nil),
			kv.Create("t/created", []byte("c")),
			kv.Put("t/victim", []byte("changed")),
			kv.Delete("t/gone"),
			kv.Remove("t/never-there"),
			kv.Put("t/emptyput", nil),
		)
		if err != nil {
			t.Fatalf("Txn = %v, want nil", err)
		}
		wantValue(t, s, "t/created", "c")
		wantValue(t, s, "t/victim", "changed")
		wantValue(t, s, "t/present", "p")
		wantValue(t, s, "t/emptyput", "")
		wantNotFound(t, s, "t/gone")
		wantNotFound(t, s, "t/never-there")
	})
	t.Run("CheckAndWriteSameKey", func(t *testing.T) {
		// The compare-and-swap shape the store layer uses.
		if err := s.Txn(ctx, kv.Check("t/present", []byte("p")), kv.Put("t/present", []byte("p2"))); err != nil {
			t.Fatalf("Txn = %v, want nil", err)
		}
		wantValue(t, s, "t/present", "p2")
		err := s.Txn(ctx, kv.Check("t/present", []byte("p")), kv.Put("t/present", []byte("p3")))
		if !errors.Is(err, kv.ErrConflict) {
			t.Errorf("stale Txn = %v, want ErrConflict", err)
		}
		wantValue(t, s, "t/present", "p2")
	})
	t.Run("CallerOwnsMemory", func(t *testing.T) {
		v := []byte("value")
		if err := s.Txn(ctx, kv.Put("t/own", v)); err != nil {
			t.Fatal(err)
		}
		copy(v, "XXXXX")
		wantValue(t, s, "t/own", "value")
	})
}

// testTxnShape checks that every backend refuses the same malformed Txns,
// so that nothing accepted by one backend fails on another.
func testTxnShape(t *testing.T, s kv.Store) {
	tooMany := make([]kv.Op, kv.MaxTxnOps+1)
	for i := range tooMany {
		tooMany[i] = kv.Put("t/"+strconv.Itoa(i), []byte("v"))
	}
	tests := []struct {
		name string
		ops  []kv.Op
	}{
		{"Empty", nil},
		{"TooMany", tooMany},
		{"EmptyKey", []kv.Op{kv.Put("", []byte("v"))}},
		{"DuplicateWrite", []kv.Op{kv.Put("t/a", []byte("1")), kv.Remove("t/a")}},
		{"UnknownKind", []kv.Op{{Kind: 0, Key: "t/a"}}},
	}
	for _, tt := range tests {
		if err := s.Txn(t.Context(), tt.ops...); err == nil {
			t.Errorf("Txn(%s) = nil, want an error", tt.name)
		}
	}
	if err := s.Txn(t.Context(), tooMany[:kv.MaxTxnOps]...); err != nil {
		t.Errorf("Txn with MaxTxnOps ops = %v, want nil", err)
	}
	if pairs, err := s.List(t.Context(), "t/a"); err != nil || len(pairs) != 0 {
		t.Errorf("rejected Txns wrote %q, %v", pairs, err)
	}
}

// testTxnTransfer moves units between two keys with checked Txns from many
// goroutines: if a Txn were not atomic, or a stale Check passed, the total
// would drift.
func testTxnTransfer(t *testing.T, s kv.Store) {
	const workers, perWorker, total = 8, 25, 1000
	ctx := t.Context()
	mustPut(t, s, "acct/a", strconv.Itoa(total))
	mustPut(t, s, "acct/b", "0")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			from, to := "acct/a", "acct/b"
			if w%2 == 1 {
				from, to = to, from
			}
			for done := 0; done < perWorker; {
				fv, err1 := s.Get(ctx, from)
				tv, err2 := s.Get(ctx, to)
				if err1 != nil || err2 != nil {
					t.Errorf("Get = %v, %v", err1, err2)
					return
				}
				f, _ := strconv.Atoi(string(fv))
				g, _ := strconv.Atoi(string(tv))
				if f == 0 {
					done++ // nothing to move; count it so the test ends
					continue
				}
				err := s.Txn(ctx, kv.Check(from, fv), kv.Check(to, tv),
					kv.Put(from, []byte(strconv.Itoa(f-1))), kv.Put(to, []byte(strconv.Itoa(g+1))))
				switch {
				case err == nil:
					done++
				case errors.Is(err, kv.ErrConflict):
				default:
					t.Errorf("Txn = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	a, _ := s.Get(ctx, "acct/a")
	b, _ := s.Get(ctx, "acct/b")
	x, _ := strconv.Atoi(string(a))
	y, _ := strconv.Atoi(string(b))
	if x+y != total {
		t.Errorf("after transfers a=%d b=%d, sum %d, want %d", x, y, x+y, total)
	}
}
