package hatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// etcd's limits: request size, history and shared throttling.

// etcdClient is a plain client of the world's cluster, for what the
// tests observe of etcd itself (revisions, sizes).
func (w *world) etcdClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: w.etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func revision(t *testing.T, cli *clientv3.Client) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "\x00", clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// maxTags are Key Vault's maximum tags: 15, names and values of the
// longest length allowed.
func maxTags(version int) map[string]string {
	tags := map[string]string{}
	for i := range vaults.MaxTags {
		name := fmt.Sprintf("tag%02d-", i)
		tags[name+strings.Repeat("n", vaults.MaxTagNameChars-len(name))] =
			fmt.Sprintf("v%06d-", version) + strings.Repeat("v", vaults.MaxTagValueChars-8)
	}
	return tags
}

type secretBody struct {
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// TestManyVersionsMaxTags: 1,000 versions of one secret, each with the
// maximum tags, on the 3-member cluster. Every SET succeeds (none is
// "request is too large": versions have keys of their own), every version
// is listed and read back with its tags, and the largest single write is
// far below etcd's request limit.
func TestManyVersionsMaxTags(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 writes to a 3-member cluster")
	}
	w := newWorld(t)
	cli := w.etcdClient(t)
	const versions = 1000
	url := w.a.secretURL("many")
	ids := map[string]int{} // version id → index
	largest := 0
	for i := range versions {
		r := w.a
		if i%2 == 1 {
			r = w.b
		}
		res := r.do("PUT", url, r.kvTok, secretBody{Value: fmt.Sprintf("value-%d", i),
			ContentType: strings.Repeat("c", vaults.MaxContentTypeChars), Tags: maxTags(i)})
		if res.err != nil || res.status != 200 {
			t.Fatalf("SET version %d via %s: %s", i, r.name, res)
		}
		var s struct{ ID string }
		if err := json.Unmarshal(res.body, &s); err != nil {
			t.Fatal(err)
		}
		ids[s.ID[strings.LastIndex(s.ID, "/")+1:]] = i
		if i%250 == 0 {
			// What that SET wrote in its one transaction: the keys whose
			// last change is the current revision.
			largest = max(largest, lastTxnBytes(t, cli))
		}
	}
	t.Logf("largest SET transaction sampled: %d bytes (etcd's limit: %d)", largest, etcdkv.DefaultMaxRequestBytes)
	if largest == 0 || largest > etcdkv.DefaultMaxRequestBytes/4 {
		t.Errorf("a SET with maximum tags wrote %d bytes in one transaction; want (0, %d]", largest, etcdkv.DefaultMaxRequestBytes/4)
	}
	// Every version listed, through the other replica, page by page.
	listed := map[string]bool{}
	next := strings.Replace(url, "?", "/versions?", 1)
	for pages := 0; next != ""; pages++ {
		if pages > versions {
			t.Fatal("version listing does not end")
		}
		res := w.b.do("GET", next, w.b.kvTok, nil)
		if res.status != 200 {
			t.Fatalf("list versions: %s", res)
		}
		var page struct {
			Value []struct {
				ID   string
				Tags map[string]string
			}
			NextLink string
		}
		if err := json.Unmarshal(res.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Value {
			v := it.ID[strings.LastIndex(it.ID, "/")+1:]
			if listed[v] {
				t.Errorf("version %s listed twice", v)
			}
			listed[v] = true
		}
		next = page.NextLink
	}
	if len(listed) != versions {
		t.Errorf("%d versions listed, want %d", len(listed), versions)
	}
	// Every version read back with its value and tags.
	for id, i := range ids {
		if !listed[id] {
			t.Errorf("version %d (%s) not listed", i, id)
		}
		u := strings.Replace(url, "?", "/"+id+"?", 1)
		res := w.b.do("GET", u, w.b.kvTok, nil)
		var s secretBody
		if res.status != 200 || json.Unmarshal(res.body, &s) != nil {
			t.Errorf("GET version %d: %s", i, res)
			continue
		}
		want := maxTags(i)
		ok := s.Value == fmt.Sprintf("value-%d", i) && len(s.Tags) == len(want)
		for k, v := range want {
			ok = ok && s.Tags[k] == v
		}
		if !ok {
			t.Errorf("GET version %d: value %q, %d tags: not what was written", i, s.Value, len(s.Tags))
		}
	}
}

// lastTxnBytes sums the keys and values last written at the current
// revision (one transaction).
func lastTxnBytes(t *testing.T, cli *clientv3.Client) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "ha/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range resp.Kvs {
		if p.ModRevision == resp.Header.Revision {
			n += len(p.Key) + len(p.Value)
		}
	}
	return n
}

// TestOversizedRefused: a SET over Key Vault's limits (value, tags,
// content type, body) is refused with a 4xx in Key Vault's error shape,
// and etcd's revision does not move: it was refused before the store
// was touched. The largest SET allowed succeeds.
func TestOversizedRefused(t *testing.T) {
	w := newWorld(t)
	cli := w.etcdClient(t)
	url := w.a.secretURL("big")
	tooManyTags := maxTags(0)
	tooManyTags["one-more"] = "x"
	longName := maxTags(0)
	longName[strings.Repeat("n", vaults.MaxTagNameChars+1)] = "x"
	delete(longName, "tag00-"+strings.Repeat("n", vaults.MaxTagNameChars-6))
	longValue := maxTags(0)
	longValue["tag00-"+strings.Repeat("n", vaults.MaxTagNameChars-6)] = strings.Repeat("v", vaults.MaxTagValueChars+1)
	maxValue := strings.Repeat("s", vaults.MaxValueBytes)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"value over 25 KB", secretBody{Value: maxValue + "s"}, 400, "BadParameter"},
		{"16 tags", secretBody{Value: "v", Tags: tooManyTags}, 400, "BadParameter"},
		{"tag name too long", secretBody{Value: "v", Tags: longName}, 400, "BadParameter"},
		{"tag value too long", secretBody{Value: "v", Tags: longValue}, 400, "BadParameter"},
		{"content type too long", secretBody{Value: "v", ContentType: strings.Repeat("c", vaults.MaxContentTypeChars+1)}, 400, "BadParameter"},
		{"body over the limit", secretBody{Value: strings.Repeat("s", keyvault.MaxBodyBytes)}, 413, "RequestBodyTooLarge"},
		{"the largest allowed", secretBody{Value: maxValue, ContentType: strings.Repeat("c", vaults.MaxContentTypeChars), Tags: maxTags(0)}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := revision(t, cli)
			res := w.a.do("PUT", url, w.a.kvTok, tt.body)
			if res.err != nil || res.status != tt.status {
				t.Fatalf("SET = %s, want %d", res, tt.status)
			}
			after := revision(t, cli)
			if tt.status == 200 {
				if n := lastTxnBytes(t, cli); n > etcdkv.DefaultMaxRequestBytes/4 {
					t.Errorf("the largest SET wrote %d bytes in one transaction", n)
				} else {
					t.Logf("the largest SET wrote %d bytes in one transaction (etcd's limit: %d)", n, etcdkv.DefaultMaxRequestBytes)
				}
				return
			}
			if after != before {
				t.Errorf("etcd's revision moved %d → %d: the refused SET reached the store", before, after)
			}
			checkShape(t, tt.name, res, false)
			var b struct{ Error struct{ Code string } }
			if json.Unmarshal(res.body, &b) != nil || b.Error.Code != tt.code {
				t.Errorf("error code in %s, want %s", res.body, tt.code)
			}
		})
	}
}

// TestCompactionBounded: the replica elected for background jobs compacts
// etcd (periodic, 2 s of history, as --etcd-auto-compaction-retention
// 2s), so rounds of overwrites leave the database's size where the first
// round left it instead of growing by what each round wrote.
func TestCompactionBounded(t *testing.T) {
	w := newWorld(t, func(_ string, cfg *app.Config) {
		cfg.EtcdCompaction = etcdkv.Compaction{Mode: etcdkv.CompactPeriodic, Retention: "2s"}
	})
	cli := w.etcdClient(t)
	const (
		rounds = 4
		writes = 200
		size   = 32 << 10
	)
	value := strings.Repeat("x", size)
	var inUse, total []int64
	for round := range rounds {
		for i := range writes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := cli.Put(ctx, "bloat/"+fmt.Sprint(i%4), value)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		end := revision(t, cli)
		// Within the retention plus a sampling interval or two.
		deadline := time.Now().Add(15 * time.Second)
		for !isCompacted(t, cli, end-1) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: revision %d not compacted 15 s after it was written", round, end-1)
			}
			time.Sleep(200 * time.Millisecond)
		}
		u, s := dbSizes(t, w)
		inUse, total = append(inUse, u), append(total, s)
	}
	written := int64(rounds * writes * size)
	t.Logf("wrote %d MB in %d rounds; dbSizeInUse per round %v, dbSize %v (largest member)", written>>20, rounds, inUse, total)
	for i := 1; i < rounds; i++ {
		// Each round writes 6.4 MB; compacted, a round leaves 4 keys.
		// Uncompacted, in use would grow by a round's bytes each time.
		if inUse[i] > inUse[0]+writes*size/2 {
			t.Errorf("dbSizeInUse grew from %d to %d by round %d: history is not compacted", inUse[0], inUse[i], i)
		}
	}
	if total[rounds-1] > written/2 {
		t.Errorf("dbSize %d after writing %d bytes: freed space is not reused", total[rounds-1], written)
	}
}

func isCompacted(t *testing.T, cli *clientv3.Client, rev int64) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := cli.Get(ctx, "bloat/0", clientv3.WithRev(rev))
	if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get at revision %d: %v", rev, err)
	}
	return err != nil
}

// dbSizes are the largest dbSizeInUse and dbSize among the members.
func dbSizes(t *testing.T, w *world) (inUse, total int64) {
	t.Helper()
	cli := w.etcdClient(t)
	for _, ep := range w.etcd.Endpoints() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err != nil {
			t.Fatalf("status of %s: %v", ep, err)
		}
		inUse, total = max(inUse, st.DbSizeInUse), max(total, st.DbSize)
	}
	return inUse, total
}

// TestThrottleAcrossReplicas: two replicas with --throttle share Key
// Vault's limit through their membership in etcd. Hammered through both
// at once, they admit together what one vault's bucket allows (burst plus
// rate × elapsed), not twice that; when one stops, the other takes the
// whole limit again.
func TestThrottleAcrossReplicas(t *testing.T) {
	const (
		rate  = 2.0
		burst = 60.0
	)
	th := map[string]*keyvault.Throttle{}
	w := newWorld(t, func(name string, cfg *app.Config) {
		th[name] = &keyvault.Throttle{Rate: rate, Burst: burst, Now: time.Now}
		cfg.Throttle = th[name]
	})
	waitReplicas := func(name string, want int) {
		deadline := time.Now().Add(10 * time.Second)
		for th[name].Replicas() != want {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s counts %d replicas after 10 s, want %d", name, th[name].Replicas(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitReplicas("a", 2)
	waitReplicas("b", 2)
	// A missing secret: each GET is one transaction (404) unless throttled
	// (429), and nothing is written.
	const perReplica = 100
	type outcome struct{ ok, throttled int }
	got := map[string]*outcome{"a": {}, "b": {}}
	var mu sync.Mutex
	start := time.Now()
	done := make(chan struct{})
	for _, r := range []*replica{w.a, w.b} {
		for range 2 {
			go func() {
				defer func() { done <- struct{}{} }()
				for range perReplica / 2 {
					res := r.getSecret("absent")
					mu.Lock()
					switch res.status {
					case 404:
						got[r.name].ok++
					case 429:
						got[r.name].throttled++
					default:
						t.Errorf("GET via %s: %s", r.name, res)
					}
					mu.Unlock()
				}
			}()
		}
	}
	for range 4 {
		<-done
	}
	elapsed := time.Since(start)
	admitted := got["a"].ok + got["b"].ok
	allowed := burst + rate*elapsed.Seconds()
	t.Logf("in %v: a admitted %d (%d throttled), b admitted %d (%d throttled); one vault's limit allows %.1f",
		elapsed.Round(time.Millisecond), got["a"].ok, got["a"].throttled, got["b"].ok, got["b"].throttled, allowed)
	if float64(admitted) > allowed+2 {
		t.Errorf("the replicas admitted %d requests together; the limit allows %.1f", admitted, allowed)
	}
	if float64(admitted) < burst*0.9 {
		t.Errorf("the replicas admitted only %d requests together; the limit allows %.1f", admitted, allowed)
	}
	for _, name := range []string{"a", "b"} {
		if got[name].throttled == 0 {
			t.Errorf("replica %s throttled nothing", name)
		}
	}
	// b stops (revoking its lease): a alone has the whole limit.
	w.b.env.Server.Close()
	waitReplicas("a", 1)
}

// TestKeyVersionsMaxTags: keys, like secrets, keep one record per version
// (store/objects.go), so no record grows with the number of versions and
// every new version with maximum tags is stored; a regression to a growing
// record shows here as a 413 (or etcd's "request is too large" as a 500)
// near version 100.
func TestKeyVersionsMaxTags(t *testing.T) {
	if testing.Short() {
		t.Skip("150 writes to a 3-member cluster")
	}
	w := newWorld(t)
	u := strings.Replace(w.a.secretURL("k"), "/secrets/k", "/keys/k/create", 1)
	for i := range 150 {
		res := w.a.do("POST", u, w.a.kvTok, map[string]any{"kty": "EC", "crv": "P-256", "tags": maxTags(i)})
		if res.err != nil || res.status != 200 {
			t.Fatalf("key version %d: %s, want 200", i, res)
		}
	}
}
