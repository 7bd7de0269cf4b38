package hatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// cachedWorld starts two replicas with their read caches on, over the
// etcd at endpoints.
func cachedWorld(t *testing.T, endpoints []string) (a, b *replica) {
	t.Helper()
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	prefix := "ha-cache-" + hex.EncodeToString(rnd) + "/"
	shared := t.TempDir()
	start := func(name string) *testenv.Env {
		cfg := app.Config{
			Addr: "127.0.0.1:0", Cloud: cloud.Local, DataDir: filepath.Join(t.TempDir(), name),
			EtcdEndpoints: endpoints, EtcdPrefix: prefix,
			MasterKeyFile: filepath.Join(shared, "master.key"),
			Logger:        slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
		}
		s, err := app.Start(context.Background(), cfg)
		if err != nil {
			t.Fatalf("starting replica %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		return &testenv.Env{Server: s, T: t}
	}
	ea, eb := start("a"), start("b")
	admin := ea.Admin
	if admin == nil {
		t.Fatal("replica a did not create the admin")
	}
	mk := func(name string, env *testenv.Env) *replica {
		cl := env.Client()
		cl.Timeout = reqTimeout
		r := &replica{name: name, env: env, http: cl}
		r.kvTok = r.token(t, admin.ClientID, admin.ClientSecret, vaultScope)
		r.armTok = r.token(t, admin.ClientID, admin.ClientSecret, armScope)
		return r
	}
	return mk("a", ea), mk("b", eb)
}

// cacheOf is the replica's read cache.
func cacheOf(t *testing.T, r *replica) *kvcache.Cache {
	t.Helper()
	c, ok := r.env.Server.Store.KV().(*kvcache.Cache)
	if !ok {
		t.Fatalf("replica %s has no read cache (store is %T)", r.name, r.env.Server.Store.KV())
	}
	return c
}

// TestPolicyRemovalWithCaches: with both replicas' caches warm, a policy
// removed through a is enforced on b's very next request, and a grant
// added back through a is honoured on b's next request; a secret set
// through a reads back new through b at once. It runs on the embedded
// etcd (3.7: the barrier uses progress notifications) and on Debian's
// (3.4.23: it waits for the watch to reach the cluster's revision).
func TestPolicyRemovalWithCaches(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testPolicyRemovalWithCaches(t, []string{etcdtest.Endpoint(t)}) })
	t.Run("debian", func(t *testing.T) { testPolicyRemovalWithCaches(t, etcdtest.StartCluster(t, 1).Endpoints()) })
}

func testPolicyRemovalWithCaches(t *testing.T, endpoints []string) {
	a, b := cachedWorld(t, endpoints)
	ctx := t.Context()
	cache := cacheOf(t, b)
	if res := a.setSecret("cached", "v0"); res.status != 200 {
		t.Fatalf("set via a: %s", res)
	}
	// b's feed starts watching in the background: wait until b caches.
	deadline := time.Now().Add(10 * time.Second)
	for cache.Len() == 0 || secretValue(b.getSecret("cached")) != "v0" {
		if time.Now().After(deadline) {
			t.Fatal("b's cache never started caching")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := a.env.Server.Store
	vault, err := st.GetVault(ctx, a.env.Instance.DefaultVault)
	if err != nil {
		t.Fatal(err)
	}
	adminP, err := st.GetPrincipalByAppID(ctx, a.env.Admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	var entry *model.AccessPolicy
	for i := range vault.AccessPolicies {
		if vault.AccessPolicies[i].ObjectID == adminP.ObjectID {
			entry = &vault.AccessPolicies[i]
		}
	}
	if entry == nil {
		t.Fatalf("the default vault has no access policy for the admin: %+v", vault.AccessPolicies)
	}
	policyURL := func(op string) string {
		return "https://localhost:" + a.env.Port() + vault.ResourceID() + "/accessPolicies/" + op + "?api-version=2023-07-01"
	}
	body := map[string]any{"properties": map[string]any{"accessPolicies": []model.AccessPolicy{*entry}}}
	hits := cache.Stats().Hits.Load()
	for round := range 5 {
		// Warm b: these reads are served from its cache.
		for range 2 {
			if res := b.getSecret("cached"); res.status != 200 {
				t.Fatalf("round %d: get via b before the removal: %s", round, res)
			}
		}
		if res := a.do("PUT", policyURL("remove"), a.armTok, body); res.status != 200 {
			t.Fatalf("round %d: remove the policy via a: %s", round, res)
		}
		if res := b.getSecret("cached"); res.status != 403 {
			t.Fatalf("round %d: get via b right after the removal on a: %s, want 403", round, res)
		}
		if res := a.do("PUT", policyURL("add"), a.armTok, body); res.status != 200 {
			t.Fatalf("round %d: add the policy back via a: %s", round, res)
		}
		want := fmt.Sprintf("v%d", round+1)
		if res := a.setSecret("cached", want); res.status != 200 {
			t.Fatalf("round %d: set via a: %s", round, res)
		}
		if res := b.getSecret("cached"); secretValue(res) != want {
			t.Fatalf("round %d: get via b right after the grant and the set on a: %s, want value %s", round, res, want)
		}
	}
	if cache.Stats().Hits.Load() == hits {
		t.Error("b's cache served no hit: the test did not exercise it")
	}
}
