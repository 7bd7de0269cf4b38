package keyvault_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// BenchmarkSetSecret serves a durable secret SET (PUT /secrets/{name})
// through the request middleware and the data-plane handler, with bearer
// verification and the access policy check, on the store stack the server
// uses (read cache above envelope encryption above the backend): the
// server's per-SET work without TLS or a client. Each writer sets its own
// name again and again, as cmd/coffer-load does, so versions accumulate.
//
// The wall-clock ns/op of the bbolt variants is the fsync; read them for
// CPU time (BENCHMARKS.md) and, on bbolt, for writes/commit: how many SETs
// share one bbolt commit and its syncs. "boltkv+cache,32writers" runs 32 concurrent
// writers, the load.
func BenchmarkSetSecret(b *testing.B) {
	b.Run("memkv+cache", func(b *testing.B) { benchSet(b, memkv.New(), nil, 1) })
	b.Run("boltkv+cache", func(b *testing.B) {
		db := openBenchBolt(b)
		benchSet(b, db, db, 1)
	})
	b.Run("boltkv+cache,32writers", func(b *testing.B) {
		db := openBenchBolt(b)
		benchSet(b, db, db, 32)
	})
}

// setBenchKeys generates the signing keys once per process: an RSA key
// generation costs a random 0.1-0.3 s of CPU, which would drown the CPU
// time per SET that these benchmarks are read for.
var setBenchKeys = sync.OnceValues(identity.NewKeySet)

func openBenchBolt(b *testing.B) *boltkv.Store {
	db, err := boltkv.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchSet runs b.N SETs from writers goroutines; bolt, when set, is the
// backend whose commits are counted.
func benchSet(b *testing.B, raw kv.Store, bolt *boltkv.Store, writers int) {
	ctx := context.Background()
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	st := store.New(kvcache.New(crypt.Wrap(raw, crypt.NewRandomRing()), kvcache.Options{}))
	caller := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), Type: model.PrincipalManagedIdentity}
	if err := st.CreatePrincipal(ctx, caller); err != nil {
		b.Fatal(err)
	}
	v := &model.Vault{Name: "default", SubscriptionID: identity.NewObjectID(), ResourceGroup: "coffer", Location: "local",
		TenantID: tenant, SKU: "standard", EnableSoftDelete: true, SoftDeleteRetentionInDays: 90,
		AccessPolicies: []model.AccessPolicy{{TenantID: tenant, ObjectID: caller.ObjectID, Permissions: model.Permissions{Secrets: []string{"get", "set"}}}}}
	if err := st.CreateVault(ctx, v); err != nil {
		b.Fatal(err)
	}
	keys, err := setBenchKeys()
	if err != nil {
		b.Fatal(err)
	}
	tok, err := (&identity.Minter{Keys: keys, TenantID: tenant, Now: time.Now}).Mint(caller, "https://vault.azure.net", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := httpx.Middleware(logger, &keyvault.Handler{
		Vaults: &vaults.Service{Store: st, Now: time.Now}, Verify: &identity.Verifier{Keys: keys, TenantID: tenant, Now: time.Now},
		Principals: st, Profile: cloud.AzureCloud, TenantID: tenant, DefaultVault: "default", Logger: logger,
	})
	// The body cmd/coffer-load sends.
	body := []byte(`{"value":"durable-set-value-0123456789abcdef0123456789abcdef"}`)
	newReq := func(i int) (*http.Request, *bytes.Reader) {
		r := bytes.NewReader(body)
		req := httptest.NewRequest(http.MethodPut, "https://default.vault.azure.net/secrets/set-w"+strconv.Itoa(i)+"?api-version=7.6", r)
		req.Header.Set("Authorization", "Bearer "+tok.Raw)
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:50000"
		return req, r
	}
	serve := func(req *http.Request, r *bytes.Reader, w *nullWriter) {
		r.Reset(body)
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Errorf("status %d", w.status)
		}
	}
	var before boltkv.Stats
	if bolt != nil {
		before = bolt.Stats()
	}
	b.ReportAllocs()
	if writers == 1 {
		req, r := newReq(0)
		w := &nullWriter{h: http.Header{}}
		for b.Loop() {
			serve(req, r, w)
		}
	} else {
		var id atomic.Int64
		b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req, r := newReq(int(id.Add(1)))
			w := &nullWriter{h: http.Header{}}
			for pb.Next() {
				serve(req, r, w)
			}
		})
	}
	if bolt != nil {
		after := bolt.Stats()
		if n := after.Commits - before.Commits; n > 0 {
			b.ReportMetric(float64(after.Writes-before.Writes)/float64(n), "writes/commit")
		}
	}
}
