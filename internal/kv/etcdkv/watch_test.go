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

// backends are the etcds the cache tests run on: the embedded one
// (3.7, whose progress notifications serve as the barrier) and Debian's
// etcd-server on PATH (3.4.23, where the barrier waits for the watch to
// reach the cluster's revision instead).
var backends = []struct {
	name      string
	endpoints func(t *testing.T) []string
}{
	{"embedded", func(t *testing.T) []string { return []string{etcdtest.Endpoint(t)} }},
	{"debian", func(t *testing.T) []string { return etcdtest.StartCluster(t, 1).Endpoints() }},
}

// eachBackend runs test on every backend.
func eachBackend(t *testing.T, test func(t *testing.T, endpoints []string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.endpoints(t)) })
	}
}

// replica is one Coffer replica's storage stack: a cache over its own
// etcd client, kept coherent by its feed.
type replica struct {
	*kvcache.Cache
	store *etcdkv.Store
	feed  *etcdkv.Feed
}

// replicas opens n caches, each over its own etcd client, on one fresh
// namespace of endpoints: n Coffer replicas' storage stacks.
func replicas(t *testing.T, endpoints []string, n int) []replica {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "cache-" + hex.EncodeToString(b) + "/"
	var out []replica
	for range n {
		s, err := etcdkv.Open(etcdkv.Options{Endpoints: endpoints, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		f := s.Feed()
		c := kvcache.New(s, kvcache.Options{Coherence: f})
		t.Cleanup(func() { c.Close() })
		out = append(out, replica{Cache: c, store: s, feed: f})
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
	eachBackend(t, func(t *testing.T, endpoints []string) {
		kvtest.Run(t, func(t *testing.T) kv.Store { return replicas(t, endpoints, 1)[0] })
	})
}

// TestCacheReadYourWritesAcrossReplicas: B has the old value cached; a
// write through A is acknowledged; B's next read returns the new value,
// every time, though nothing but etcd connects A and B.
func TestCacheReadYourWritesAcrossReplicas(t *testing.T) {
	eachBackend(t, testReadYourWritesAcrossReplicas)
}

func testReadYourWritesAcrossReplicas(t *testing.T, endpoints []string) {
	ctx := t.Context()
	rs := replicas(t, endpoints, 2)
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
	eachBackend(t, testRaceAcrossReplicas)
}

func testRaceAcrossReplicas(t *testing.T, endpoints []string) {
	ctx := t.Context()
	rs := replicas(t, endpoints, 2)
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
	eachBackend(t, testFeedSyncBatches)
}

func testFeedSyncBatches(t *testing.T, endpoints []string) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c := replicas(t, endpoints, 1)[0]
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

// TestFeedCachesOnOldEtcd: on Debian's etcd (3.4.23, whose progress
// notifications may run ahead of queued events) the feed never requests
// one, and the cache still serves hits, confirmed by the watch having
// reached the cluster's revision.
func TestFeedCachesOnOldEtcd(t *testing.T) {
	ctx := t.Context()
	endpoints := etcdtest.StartCluster(t, 1).Endpoints()
	r := replicas(t, endpoints, 1)[0]
	version := etcdVersion(t, r.store, endpoints[0])
	if !strings.HasPrefix(version, "3.4.") {
		t.Skipf("etcd on PATH is %s, not an old 3.4", version)
	}
	for i := range 20 {
		want := fmt.Sprintf("v%d", i)
		if err := r.Put(ctx, "k", []byte(want)); err != nil {
			t.Fatal(err)
		}
		// Let the watch report the write before the fill: its event
		// drops the entry again when it comes after.
		time.Sleep(10 * time.Millisecond)
		for range 3 { // a fill, then two hits
			if v, err := r.Get(ctx, "k"); err != nil || string(v) != want {
				t.Fatalf("Get = %q, %v, want %q", v, err, want)
			}
		}
	}
	if h := r.Stats().Hits.Load(); h < 30 {
		t.Errorf("hits = %d of 40 possible over etcd %s, want most", h, version)
	}
	if b := r.Stats().Bypasses.Load(); b > 5 {
		t.Errorf("%d reads went to etcd although only this replica writes", b)
	}
}

// TestCacheWritesOutsideNamespace: another application writes to the
// same cluster outside Coffer's namespace, so the cluster's revision
// moves with no event Coffer's watch could report. Reads on B after
// writes on A stay right throughout. Where progress notifications serve
// as the barrier the cache keeps serving hits; on old etcd the reads
// whose barrier found the watch behind went to etcd (read-through).
func TestCacheWritesOutsideNamespace(t *testing.T) {
	eachBackend(t, func(t *testing.T, endpoints []string) {
		ctx := t.Context()
		rs := replicas(t, endpoints, 2)
		a, b := rs[0], rs[1]
		other := rs[0].store.Client() // raw keys, outside the namespace
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := other.Put(ctx, fmt.Sprintf("elsewhere/%d", i%16), "x"); err != nil && ctx.Err() == nil {
					t.Errorf("foreign Put: %v", err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
		for i := range 60 {
			want := fmt.Sprintf("v%d", i)
			if err := a.Put(ctx, "k", []byte(want)); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if v, err := b.Get(ctx, "k"); err != nil || string(v) != want {
					t.Fatalf("round %d: b.Get = %q, %v, want %q", i, v, err, want)
				}
			}
		}
		close(stop)
		wg.Wait()
		st := b.Stats()
		t.Logf("b: %d hits, %d read through after a barrier fell short, feed %+v",
			st.Hits.Load(), st.Bypasses.Load(), b.feed.Stats())
		if st.Hits.Load()+st.Bypasses.Load() == 0 {
			t.Error("b never had the key cached: the test did not exercise the barrier")
		}
		// Which barrier ran: progress notifications on the embedded etcd
		// (never behind), the wait for the watch on Debian's (behind
		// whenever a foreign write came last).
		behind := b.feed.Stats().Behind
		if old := strings.HasPrefix(etcdVersion(t, b.store, endpoints[0]), "3.4."); old && behind == 0 {
			t.Error("on old etcd no barrier fell behind the foreign writes: the test did not exercise read-through")
		} else if !old && behind != 0 {
			t.Errorf("%d barriers fell behind on an etcd with progress notifications", behind)
		}
	})
}

func etcdVersion(t *testing.T, s *etcdkv.Store, endpoint string) string {
	t.Helper()
	st, err := s.Client().Status(t.Context(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return st.Version
}

// TestFeedRecoversAfterForeignWrites: on old etcd, a burst of writes
// outside the namespace leaves the cluster's revision past anything the
// watch will report while Coffer's prefix stays quiet; without progress
// notifications every barrier would fall behind from then on. The feed
// starts a silent watch over from a fresh revision, and hits resume.
func TestFeedRecoversAfterForeignWrites(t *testing.T) {
	ctx := t.Context()
	endpoints := etcdtest.StartCluster(t, 1).Endpoints()
	r := replicas(t, endpoints, 1)[0]
	if v := etcdVersion(t, r.store, endpoints[0]); !strings.HasPrefix(v, "3.4.") {
		t.Skipf("etcd on PATH is %s, not an old 3.4", v)
	}
	if err := r.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := r.store.Client().Put(ctx, fmt.Sprintf("elsewhere/%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	behind := r.feed.Stats().Behind
	deadline := time.Now().Add(10 * time.Second)
	for {
		hits := r.Stats().Hits.Load()
		if v, err := r.Get(ctx, "k"); err != nil || string(v) != "v" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		if r.Stats().Hits.Load() > hits && r.feed.Stats().Behind > behind {
			break // fell behind, then served a hit again
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hit after the foreign writes within 10s (feed %+v)", r.feed.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
