package vaults

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

func benchService(b *testing.B, raw kv.Store) (*Service, *model.Vault) {
	b.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	aead, err := NewBackupAEAD(key)
	if err != nil {
		b.Fatal(err)
	}
	st := store.New(crypt.Wrap(raw, crypt.NewRandomRing()))
	b.Cleanup(func() { st.KV().Close() })
	v := &model.Vault{Name: "bench", SubscriptionID: "s", ResourceGroup: "rg", TenantID: "t", SKU: "standard",
		EnableSoftDelete: true, SoftDeleteRetentionInDays: 90}
	if err := st.CreateVault(context.Background(), v); err != nil {
		b.Fatal(err)
	}
	return &Service{Store: st, Now: time.Now, Backup: aead}, v
}

func benchBackends(b *testing.B, f func(b *testing.B, s *Service, v *model.Vault)) {
	b.Run("memkv", func(b *testing.B) {
		s, v := benchService(b, memkv.New())
		f(b, s, v)
	})
	b.Run("boltkv", func(b *testing.B) {
		db, err := boltkv.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		s, v := benchService(b, db)
		f(b, s, v)
	})
}

// BenchmarkGetSecret: the data-plane read path below HTTP (store read,
// envelope decryption, JSON decode of the secret record).
func BenchmarkGetSecret(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Service, v *model.Vault) {
		ctx := context.Background()
		value := "a 1 KiB value " + string(make([]byte, 1000))
		if _, _, err := s.SetSecret(ctx, v, "db", SetParams{Value: &value}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.GetSecret(ctx, v, "db", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSetSecret: a new version per iteration (bbolt fsyncs each).
// The record grows with versions, so this is measured on a fresh name
// every 100 versions.
func BenchmarkSetSecret(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Service, v *model.Vault) {
		ctx := context.Background()
		value := "value"
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			name := "s" + string(rune('a'+(i/100)%26)) + string(rune('a'+(i/2600)%26))
			if _, _, err := s.SetSecret(ctx, v, name, SetParams{Value: &value}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
