package etcdkv_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
)

// replicas opens n caches, each over its own etcd client, on one
// namespace of the embedded etcd: n Coffer replicas' storage stacks.
func replicas(t *testing.T, n int) []*kvcache.Cache {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "cache-" + hex.EncodeToString(b) + "/"
	var out []*kvcache.Cache
	for range n {
		s, err := etcdkv.Open(etcdkv.Options{Endpoints: []string{etcdtest.Endpoint(t)}, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		c := kvcache.New(s, kvcache.Options{Coherence: s.Feed()})
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	// The feeds start watching in the background; until then nothing is
	// cached, which would make the tests below pass without testing.
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range out {
		for {
			if err := c.Put(t.Context(), "warm", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(t.Context(), "warm"); err != nil {
				t.Fatal(err)
			}
			if c.Len() > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the cache never started caching: is the feed watching?")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := out[0].Delete(t.Context(), "warm"); err != nil {
		t.Fatal(err) // the namespace is empty again, as kvtest wants it
	}
	return out
}

// TestConformanceCached runs the kv contract on the cache over etcd,
// with its feed watching.
func TestConformanceCached(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return replicas(t, 1)[0] })
}

// TestCacheReadYourWritesAcrossReplicas: B has the old value cached; a
// write through A is acknowledged; B's next read returns the new value,
// every time, though nothing but etcd connects A and B.
func TestCacheReadYourWritesAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	kinds := []struct {
		name  string
		write func(i int) error
		want  func(i int) string // "" means absent
	}{
		{"Put", func(i int) error { return a.Put(ctx, "k", fmt.Appendf(nil, "v%d", i)) }, func(i int) string { return fmt.Sprintf("v%d", i) }},
		{"Update", func(i int) error {
			return a.Update(ctx, "k", func([]byte) ([]byte, error) { return fmt.Appendf(nil, "u%d", i), nil })
		}, func(i int) string { return fmt.Sprintf("u%d", i) }},
		{"Txn", func(i int) error { return a.Txn(ctx, kv.Put("k", fmt.Appendf(nil, "t%d", i))) }, func(i int) string { return fmt.Sprintf("t%d", i) }},
		{"Delete", func(int) error { return a.Txn(ctx, kv.Remove("k")) }, func(int) string { return "" }},
	}
	hitsBefore := b.Stats().Hits.Load()
	for i := range 40 {
		k := kinds[i%len(kinds)]
		if err := b.Put(ctx, "k", []byte("old")); err != nil {
			t.Fatal(err)
		}
		for range 2 { // fill, then hit
			if v, err := b.Get(ctx, "k"); err != nil || string(v) != "old" {
				t.Fatalf("b.Get before = %q, %v", v, err)
			}
		}
		if err := k.write(i); err != nil {
			t.Fatalf("%s through a: %v", k.name, err)
		}
		v, err := b.Get(ctx, "k")
		want := k.want(i)
		if want == "" {
			if err == nil {
				t.Errorf("round %d: b.Get after a's %s = %q, want not found", i, k.name, v)
			}
		} else if err != nil || string(v) != want {
			t.Errorf("round %d: b.Get after a's %s = %q, %v, want %q", i, k.name, v, err, want)
		}
	}
	if b.Stats().Hits.Load() == hitsBefore {
		t.Error("b never served a hit: the test did not exercise the cache")
	}
}

// TestCacheRaceAcrossReplicas: a writer on A increments a counter; readers
// on B must never read a number below the last one acknowledged before
// their read began.
func TestCacheRaceAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	const key, readers, n = "counter", 4, 150
	put := func(i uint64) {
		if err := a.Put(ctx, key, binary.BigEndian.AppendUint64(nil, i)); err != nil {
			t.Fatalf("Put(%d): %v", i, err)
		}
	}
	put(0)
	var acked atomic.Uint64
	var stop atomic.Bool
	var stale atomic.Int64
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for !stop.Load() {
				floor := acked.Load()
				v, err := b.Get(ctx, key)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				if got := binary.BigEndian.Uint64(v); got < floor && stale.Add(1) <= 3 {
					t.Errorf("b read %d after %d was acknowledged on a", got, floor)
				}
			}
		})
	}
	for i := range uint64(n) {
		put(i + 1)
		acked.Store(i + 1)
		if i%4 == 0 {
			time.Sleep(2 * time.Millisecond) // let b's readers fill and hit
		}
	}
	stop.Store(true)
	wg.Wait()
	if b.Stats().Hits.Load() == 0 {
		t.Error("b never served a hit: the test did not exercise the cache")
	}
}

// TestFeedSyncBatches: many concurrent reads of cached keys share few
// revision requests.
func TestFeedSyncBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c := replicas(t, 1)[0]
	if err := c.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 20 {
				if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
					t.Errorf("Get = %q, %v", v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if h := st.Hits.Load(); h < 600 {
		t.Errorf("hits = %d of 640 reads, want nearly all", h)
	}
	if n := st.Syncs.Load(); n > st.Hits.Load()/2 {
		t.Errorf("%d revision barriers for %d hits, want them shared", n, st.Hits.Load())
	}
	t.Logf("%d hits, %d barriers", st.Hits.Load(), st.Syncs.Load())
}

// TestFeedRefusesOldEtcd: on Debian's etcd (3.4.23, whose progress
// notifications may run ahead of queued events) the feed never becomes
// ready, so the cache keeps nothing and every read reaches etcd.
func TestFeedRefusesOldEtcd(t *testing.T) {
	ctx := t.Context()
	c := etcdtest.StartCluster(t, 1)
	s, err := etcdkv.Open(etcdkv.Options{Endpoints: c.Endpoints(), Prefix: "old/"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Client().Status(ctx, c.Endpoints()[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Version, "3.4.") {
		t.Skipf("etcd on PATH is %s, not an old 3.4", st.Version)
	}
	cache := kvcache.New(s, kvcache.Options{Coherence: s.Feed()})
	defer cache.Close()
	for i := range 20 {
		if err := cache.Put(ctx, "k", fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
		if v, err := cache.Get(ctx, "k"); err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("Get = %q, %v", v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := cache.Len(); n != 0 {
		t.Errorf("cache holds %d entries over etcd %s, want none", n, st.Version)
	}
	if err := s.Feed().Sync(ctx); err == nil {
		t.Error("Sync of a feed that is not watching = nil, want an error")
	}
}
