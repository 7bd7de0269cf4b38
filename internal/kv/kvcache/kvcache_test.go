package kvcache_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

func newStore(*testing.T) kv.Store { return kvcache.New(memkv.New(), kvcache.Options{}) }

func TestConformance(t *testing.T) { kvtest.Run(t, newStore) }

func TestConcurrent(t *testing.T) { kvtest.RunConcurrent(t, newStore) }

// counting counts the inner store's Gets, and can make them slow so that
// fills overlap writes.
type counting struct {
	kv.Store
	gets  atomic.Int64
	delay func() time.Duration
}

func (s *counting) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if s.delay != nil {
		b, err := s.Store.Get(ctx, key)
		time.Sleep(s.delay()) // the value read is now old, as a slow backend's would be
		return b, err
	}
	return s.Store.Get(ctx, key)
}

func TestHitsSkipTheInnerStore(t *testing.T) {
	ctx := t.Context()
	inner := &counting{Store: memkv.New()}
	c := kvcache.New(inner, kvcache.Options{})
	defer c.Close()
	if err := c.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v1" {
			t.Fatalf("Get = %q, %v, want v1", v, err)
		}
	}
	if n := inner.gets.Load(); n != 1 {
		t.Errorf("inner Gets after 5 reads = %d, want 1", n)
	}
	// A caller changing its copy changes nothing cached.
	v, _ := c.Get(ctx, "k")
	v[0] = 'X'
	if v, _ := c.Get(ctx, "k"); string(v) != "v1" {
		t.Errorf("Get after the caller changed its copy = %q, want v1", v)
	}
	// Not-found is not cached, and every kind of write replaces the entry.
	steps := []struct {
		name  string
		write func() error
		want  string // "" means absent
	}{
		{"Put", func() error { return c.Put(ctx, "k", []byte("v2")) }, "v2"},
		{"Update", func() error {
			return c.Update(ctx, "k", func([]byte) ([]byte, error) { return []byte("v3"), nil })
		}, "v3"},
		{"Txn", func() error { return c.Txn(ctx, kv.Check("k", []byte("v3")), kv.Put("k", []byte("v4"))) }, "v4"},
		{"Delete", func() error { return c.Delete(ctx, "k") }, ""},
		{"Create", func() error { return c.Create(ctx, "k", []byte("v5")) }, "v5"},
		{"TxnRemove", func() error { return c.Txn(ctx, kv.Remove("k")) }, ""},
	}
	for _, st := range steps {
		if _, err := c.Get(ctx, "k"); err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatal(err) // cache the old value (or its absence) first
		}
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		v, err := c.Get(ctx, "k")
		switch {
		case st.want == "" && !errors.Is(err, kv.ErrNotFound):
			t.Errorf("after %s: Get = %q, %v, want ErrNotFound", st.name, v, err)
		case st.want != "" && (err != nil || string(v) != st.want):
			t.Errorf("after %s: Get = %q, %v, want %q", st.name, v, err, st.want)
		}
	}
}

func TestBounds(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name     string
		opts     kvcache.Options
		values   int
		size     int
		maxLen   int
		uncached bool // the value is too large to keep at all
	}{
		{"entries", kvcache.Options{MaxEntries: 64}, 1000, 10, 64, false},
		// 32 shards of 4 KiB: about 30 entries of 100 bytes fit in each.
		{"bytes", kvcache.Options{MaxBytes: 128 << 10}, 5000, 100, 1100, false},
		{"large value", kvcache.Options{MaxBytes: 128 << 10}, 10, 1000, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kvcache.New(memkv.New(), tt.opts)
			defer c.Close()
			for i := range tt.values {
				k := fmt.Sprintf("k/%d", i)
				if err := c.Put(ctx, k, make([]byte, tt.size)); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Get(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if n := c.Len(); n > tt.maxLen || (!tt.uncached && n == 0) {
				t.Errorf("Len = %d, want 1 to %d", n, tt.maxLen)
			}
			// Every kept entry is still cached or was evicted.
			st := c.Stats()
			if ev, fills := st.Evictions.Load(), st.Fills.Load(); ev+uint64(c.Len()) != fills {
				t.Errorf("evictions %d + Len %d != fills %d", ev, c.Len(), fills)
			}
		})
	}
}

// TestReadsNeverGoBack races readers against a writer that increments a
// counter: once a Put has been acknowledged, no read that begins after it
// may return an older value. The inner store's reads are slow at random,
// so fills are often overtaken by writes.
func TestReadsNeverGoBack(t *testing.T) {
	ctx := t.Context()
	inner := &counting{Store: memkv.New(), delay: func() time.Duration {
		if rand.IntN(4) == 0 {
			return time.Duration(rand.IntN(200)) * time.Microsecond
		}
		return 0
	}}
	c := kvcache.New(inner, kvcache.Options{})
	defer c.Close()
	raceCounter(t, ctx, c, c, 300)
	if s := c.Stats(); s.Hits.Load() == 0 || s.Fills.Load() == 0 {
		t.Errorf("hits %d, fills %d: the test did not exercise the cache", s.Hits.Load(), s.Fills.Load())
	}
}

// raceCounter has one writer Put 1..n at a key through w, publishing each
// number once acknowledged, and readers Get it through r: each read must
// return at least the number published before it began.
func raceCounter(t *testing.T, ctx context.Context, w, r kv.Store, n int) {
	t.Helper()
	const key, readers = "counter", 4
	put := func(i uint64) {
		if err := w.Put(ctx, key, binary.BigEndian.AppendUint64(nil, i)); err != nil {
			t.Fatalf("Put(%d): %v", i, err)
		}
	}
	put(0)
	var acked atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	var stale atomic.Int64
	for range readers {
		wg.Go(func() {
			for !stop.Load() {
				floor := acked.Load()
				v, err := r.Get(ctx, key)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				if got := binary.BigEndian.Uint64(v); got < floor {
					if stale.Add(1) <= 3 {
						t.Errorf("read %d after %d was acknowledged", got, floor)
					}
				}
			}
		})
	}
	for i := range uint64(n) {
		put(i + 1)
		acked.Store(i + 1)
		if i%8 == 0 {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // let readers fill and hit
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestGetDecodedMemo(t *testing.T) {
	ctx := t.Context()
	c := kvcache.New(memkv.New(), kvcache.Options{})
	defer c.Close()
	var decodes atomic.Int64
	decode := func(b []byte) (any, error) {
		decodes.Add(1)
		if len(b) == 0 {
			return nil, errors.New("empty")
		}
		return string(b) + "!", nil
	}
	type kindA struct{}
	type kindB struct{}
	steps := []struct {
		name    string
		put     string // written first, if set
		kind    any
		want    string
		decodes int64 // total so far
	}{
		{"first read decodes", "v1", kindA{}, "v1!", 1},
		{"second read uses the memo", "", kindA{}, "v1!", 1},
		{"another kind decodes", "", kindB{}, "v1!", 2},
		{"a write voids the memo", "v2", kindB{}, "v2!", 3},
		{"memo again", "", kindB{}, "v2!", 3},
	}
	for _, st := range steps {
		if st.put != "" {
			if err := c.Put(ctx, "k", []byte(st.put)); err != nil {
				t.Fatal(err)
			}
		}
		v, err := c.GetDecoded(ctx, "k", st.kind, decode)
		if err != nil || v != st.want || decodes.Load() != st.decodes {
			t.Errorf("%s: GetDecoded = %v, %v after %d decodes, want %q after %d", st.name, v, err, decodes.Load(), st.want, st.decodes)
		}
	}
	if err := c.Put(ctx, "bad", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDecoded(ctx, "bad", kindA{}, decode); err == nil {
		t.Error("GetDecoded of a value that does not decode: nil error")
	}
	if _, err := c.GetDecoded(ctx, "missing", kindA{}, decode); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("GetDecoded of a missing key = %v, want ErrNotFound", err)
	}
}
