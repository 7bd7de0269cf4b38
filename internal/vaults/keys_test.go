package vaults

import (
	"context"
	"crypto/rand"
	"runtime"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

func keyService(t testing.TB, softDelete bool) (*Service, *model.Vault) {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	aead, err := NewBackupAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(crypt.Wrap(memkv.New(), crypt.NewRandomRing()))
	v := &model.Vault{Name: "kv", SubscriptionID: "s", ResourceGroup: "rg", TenantID: "t", SKU: "standard",
		EnableSoftDelete: softDelete, SoftDeleteRetentionInDays: 90}
	if err := st.CreateVault(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return &Service{Store: st, Now: time.Now, Backup: aead}, v
}

// A deleted or purged key cannot be used even though its parsed private
// key may still sit in the cache: every operation reads the record first.
func TestKeyUseAfterDelete(t *testing.T) {
	for _, soft := range []bool{true, false} {
		s, v := keyService(t, soft)
		ctx := context.Background()
		if _, _, err := s.CreateKey(ctx, v, "k", CreateKeyParams{Kty: keys.EC}); err != nil {
			t.Fatal(err)
		}
		sign := KeyOpParams{Op: keys.OpSign, Alg: keys.ES256, Digest: make([]byte, 32)}
		if _, err := s.KeyOperation(ctx, v, "k", "", sign); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteKey(ctx, v, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.KeyOperation(ctx, v, "k", "", sign); errs.KindOf(err) != errs.NotExist {
			t.Fatalf("soft=%v: sign after delete: %v", soft, err)
		}
		if soft {
			if err := s.PurgeDeletedKey(ctx, v, "k"); err != nil {
				t.Fatal(err)
			}
		}
		pairs, err := s.Store.KV().List(ctx, "keymaterial/")
		if err != nil || len(pairs) != 0 {
			t.Fatalf("soft=%v: key material left after the key is gone: %d, %v", soft, len(pairs), err)
		}
	}
}

func TestVaultPurgeSweepsKeys(t *testing.T) {
	s, v := keyService(t, true)
	ctx := context.Background()
	if _, _, err := s.CreateKey(ctx, v, "k", CreateKeyParams{Kty: keys.EC}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PurgeVault(ctx, v.Name); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"keys/", "keymaterial/"} {
		if pairs, _ := s.Store.KV().List(ctx, prefix); len(pairs) != 0 {
			t.Errorf("%s: %d entries survive the vault's purge", prefix, len(pairs))
		}
	}
}

func TestISODuration(t *testing.T) {
	base := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		ok   bool
		want time.Time
	}{
		{"P90D", true, base.AddDate(0, 0, 90)},
		{"P1Y", true, base.AddDate(1, 0, 0)},
		{"P2M", true, base.AddDate(0, 2, 0)},
		{"P1W", true, base.AddDate(0, 0, 7)},
		{"PT36H", true, base.Add(36 * time.Hour)},
		{"P1Y2M3DT4H5M6S", true, base.AddDate(1, 2, 3).Add(4*time.Hour + 5*time.Minute + 6*time.Second)},
		{"P", false, time.Time{}},
		{"PT", false, time.Time{}},
		{"90D", false, time.Time{}},
		{"P-1D", false, time.Time{}},
		{"P1.5D", false, time.Time{}},
	}
	for _, tt := range tests {
		d, ok := parseISODuration(tt.in)
		if ok != tt.ok {
			t.Errorf("parseISODuration(%q) ok = %v", tt.in, ok)
			continue
		}
		if ok && !d.addTo(base).Equal(tt.want) {
			t.Errorf("%q added to %v = %v, want %v", tt.in, base, d.addTo(base), tt.want)
		}
	}
}

// BenchmarkKeyOperation: one cryptographic operation through the service
// (record read and decode, attribute checks, cached private key), memkv
// with envelope encryption.
func BenchmarkKeyOperation(b *testing.B) {
	s, v := keyService(b, true)
	ctx := context.Background()
	if _, _, err := s.CreateKey(ctx, v, "rsa", CreateKeyParams{Kty: keys.RSA}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.CreateKey(ctx, v, "ec", CreateKeyParams{Kty: keys.EC}); err != nil {
		b.Fatal(err)
	}
	digest := keys.Digest(keys.RS256, []byte("x"))
	sig, err := s.KeyOperation(ctx, v, "rsa", "", KeyOpParams{Op: keys.OpSign, Alg: keys.RS256, Digest: digest})
	if err != nil {
		b.Fatal(err)
	}
	dek := make([]byte, 32)
	wrapped, err := s.KeyOperation(ctx, v, "rsa", "", KeyOpParams{Op: keys.OpWrapKey, Alg: keys.RSAOAEP256, Value: dek})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, key string
		p         KeyOpParams
	}{
		{"sign RS256", "rsa", KeyOpParams{Op: keys.OpSign, Alg: keys.RS256, Digest: digest}},
		{"verify RS256", "rsa", KeyOpParams{Op: keys.OpVerify, Alg: keys.RS256, Digest: digest, Value: sig.Value}},
		{"sign ES256", "ec", KeyOpParams{Op: keys.OpSign, Alg: keys.ES256, Digest: digest}},
		{"wrapKey RSA-OAEP-256", "rsa", KeyOpParams{Op: keys.OpWrapKey, Alg: keys.RSAOAEP256, Value: dek}},
		{"unwrapKey RSA-OAEP-256", "rsa", KeyOpParams{Op: keys.OpUnwrapKey, Alg: keys.RSAOAEP256, Value: wrapped.Value}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.KeyOperation(ctx, v, c.key, "", c.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPurgeExpiredKeys(t *testing.T) {
	s, v := keyService(t, true)
	ctx := context.Background()
	for _, name := range []string{"old", "live"} {
		if _, _, err := s.CreateKey(ctx, v, name, CreateKeyParams{Kty: keys.EC}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteKey(ctx, v, "old"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeExpiredKeys(ctx); n != 0 || err != nil {
		t.Fatalf("before the purge date: %d, %v", n, err)
	}
	s.Now = func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }
	if n, err := s.PurgeExpiredKeys(ctx); n != 1 || err != nil {
		t.Fatalf("after the purge date: %d, %v", n, err)
	}
	if _, err := s.GetDeletedKey(ctx, v, "old"); errs.KindOf(err) != errs.NotExist {
		t.Fatalf("purged key still there: %v", err)
	}
	if _, _, err := s.GetKey(ctx, v, "live", ""); err != nil {
		t.Fatalf("live key: %v", err)
	}
	if pairs, _ := s.Store.KV().List(ctx, "keymaterial/"); len(pairs) != 1 {
		t.Fatalf("material entries = %d, want the live key's only", len(pairs))
	}
}

// Concurrent creates of one name keep every version, and concurrent
// operations share the key cache safely (run with -race).
func TestKeyConcurrency(t *testing.T) {
	s, v := keyService(t, true)
	ctx := context.Background()
	const n = 8
	errc := make(chan error, 2*n)
	for range n {
		go func() {
			_, _, err := s.CreateKey(ctx, v, "shared", CreateKeyParams{Kty: keys.EC})
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	k, _, err := s.GetKey(ctx, v, "shared", "")
	if err != nil || len(k.Versions) != n {
		t.Fatalf("versions = %d, %v; want %d", len(k.Versions), err, n)
	}
	for i := range n {
		go func() {
			_, err := s.KeyOperation(ctx, v, "shared", k.Versions[i].Version, KeyOpParams{Op: keys.OpSign, Alg: keys.ES256, Digest: make([]byte, 32)})
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// A Service that is no longer used does not keep its cached private keys.
func TestKeyCacheReleasedWithService(t *testing.T) {
	count := func() int {
		n := 0
		keyCaches.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := count()
	func() {
		s, v := keyService(t, true)
		if _, _, err := s.CreateKey(context.Background(), v, "k", CreateKeyParams{Kty: keys.EC}); err != nil {
			t.Fatal(err)
		}
	}()
	for i := 0; i < 50 && count() > before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Fatalf("%d key caches remain after their services were dropped (was %d)", n, before)
	}
}
