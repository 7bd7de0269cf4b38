package keyvault_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// BenchmarkGetSecret serves a secret GET through the request middleware
// and the data-plane handler, with bearer verification and the access
// policy check, on the in-memory store behind envelope encryption: the
// server's per-request work without TLS or a client. Profile it with
// -cpuprofile/-memprofile to see the hot path.
// The +cache variants put the read cache above decryption, as the
// server does (app/cache.go).
func BenchmarkGetSecret(b *testing.B) {
	for _, cached := range []bool{false, true} {
		suffix := ""
		if cached {
			suffix = "+cache"
		}
		b.Run("memkv"+suffix, func(b *testing.B) { benchGet(b, memkv.New(), cached) })
		b.Run("boltkv"+suffix, func(b *testing.B) {
			db, err := boltkv.Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchGet(b, db, cached)
		})
	}
}

func benchGet(b *testing.B, raw kv.Store, cached bool) {
	ctx := context.Background()
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	var kvs kv.Store = crypt.Wrap(raw, crypt.NewRandomRing())
	if cached {
		kvs = kvcache.New(kvs, kvcache.Options{})
	}
	st := store.New(kvs)
	caller := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), Type: model.PrincipalManagedIdentity}
	if err := st.CreatePrincipal(ctx, caller); err != nil {
		b.Fatal(err)
	}
	v := &model.Vault{Name: "default", SubscriptionID: identity.NewObjectID(), ResourceGroup: "coffer", Location: "local",
		TenantID: tenant, SKU: "standard", EnableSoftDelete: true, SoftDeleteRetentionInDays: 90,
		AccessPolicies: []model.AccessPolicy{{TenantID: tenant, ObjectID: caller.ObjectID, Permissions: model.Permissions{Secrets: []string{"get"}}}}}
	if err := st.CreateVault(ctx, v); err != nil {
		b.Fatal(err)
	}
	svc := &vaults.Service{Store: st, Now: time.Now}
	value := "benchmark-value"
	if _, _, err := svc.SetSecret(ctx, v, "bench", vaults.SetParams{Value: &value}); err != nil {
		b.Fatal(err)
	}
	keys, err := identity.NewKeySet()
	if err != nil {
		b.Fatal(err)
	}
	tok, err := (&identity.Minter{Keys: keys, TenantID: tenant, Now: time.Now}).Mint(caller, "https://vault.azure.net", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	// The server's default logging: text at info, so request lines (debug)
	// are disabled and must cost nothing.
	logger := slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := httpx.Middleware(logger, &keyvault.Handler{
		Vaults: svc, Verify: &identity.Verifier{Keys: keys, TenantID: tenant, Now: time.Now}, Principals: st,
		Profile: cloud.AzureCloud, TenantID: tenant, DefaultVault: "default", Logger: logger,
	})
	req := httptest.NewRequest(http.MethodGet, "https://default.vault.azure.net/secrets/bench?api-version=7.6", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Raw)
	req.RemoteAddr = "127.0.0.1:50000"
	w := &nullWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// nullWriter is a ResponseWriter that keeps only the status, so the
// benchmark counts the handler's allocations and not a recorder's.
type nullWriter struct {
	h      http.Header
	status int
}

func (w *nullWriter) Header() http.Header { return w.h }
func (w *nullWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
func (w *nullWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
