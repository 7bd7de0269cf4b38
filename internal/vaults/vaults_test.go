package vaults

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// newTestService runs the service on a plain (unencrypted) memkv, so the
// test can look at the raw layout.
func newTestService(t *testing.T, softDelete bool) (*Service, *model.Vault, kv.Store) {
	t.Helper()
	raw := memkv.New()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	aead, err := NewBackupAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(raw)
	v := &model.Vault{Name: "kv1", SubscriptionID: "s", ResourceGroup: "rg", TenantID: "t", SKU: "standard",
		EnableSoftDelete: softDelete, SoftDeleteRetentionInDays: 90}
	if err := st.CreateVault(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return &Service{Store: st, Now: time.Now, Backup: aead}, v, raw
}

func keysWith(t *testing.T, raw kv.Store, prefix string) []kv.Pair {
	t.Helper()
	pairs, err := raw.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return pairs
}

// TestValuesLiveApartFromTheRecord: the secret record holds attributes
// only; each version's value has its own key, removed on purge.
func TestValuesLiveApartFromTheRecord(t *testing.T) {
	s, v, raw := newTestService(t, true)
	ctx := context.Background()
	for _, val := range []string{"first-value", "second-value"} {
		if _, _, err := s.SetSecret(ctx, v, "Db", SetParams{Value: &val}); err != nil {
			t.Fatal(err)
		}
	}
	recs := keysWith(t, raw, "secrets/kv1/")
	if len(recs) != 1 || strings.Contains(string(recs[0].Value), "first-value") || strings.Contains(string(recs[0].Value), "second-value") {
		t.Fatalf("secret records = %q", recs)
	}
	if vals := keysWith(t, raw, "secretvalues/kv1/DB/"); len(vals) != 2 {
		t.Fatalf("value keys = %d, want 2", len(vals))
	}
	_, ver, err := s.GetSecret(ctx, v, "db", "")
	if err != nil || ver.Value != "second-value" {
		t.Fatalf("GetSecret = %q, %v", ver.Value, err)
	}
	if _, err := s.DeleteSecret(ctx, v, "db"); err != nil {
		t.Fatal(err)
	}
	if vals := keysWith(t, raw, "secretvalues/kv1/DB/"); len(vals) != 2 {
		t.Fatalf("soft delete dropped values: %d left", len(vals))
	}
	if err := s.PurgeDeletedSecret(ctx, v, "db"); err != nil {
		t.Fatal(err)
	}
	if left := keysWith(t, raw, "secretvalues/kv1/"); len(left) != 0 {
		t.Errorf("purge left %d value keys", len(left))
	}
}

func TestDeleteWithoutSoftDeleteRemovesValues(t *testing.T) {
	s, v, raw := newTestService(t, false)
	ctx := context.Background()
	val := "x"
	if _, _, err := s.SetSecret(ctx, v, "a", SetParams{Value: &val}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSecret(ctx, v, "a"); err != nil {
		t.Fatal(err)
	}
	if left := keysWith(t, raw, "secretvalues/"); len(left) != 0 {
		t.Errorf("delete left %d value keys", len(left))
	}
}

// TestRestoreOverExistingKeepsIt: restoring a backup over a live secret of
// the same name is refused and the live values are untouched.
func TestRestoreOverExistingKeepsIt(t *testing.T) {
	s, v, _ := newTestService(t, true)
	ctx := context.Background()
	val := "live"
	if _, _, err := s.SetSecret(ctx, v, "a", SetParams{Value: &val}); err != nil {
		t.Fatal(err)
	}
	blob, err := s.BackupSecret(ctx, v, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreSecret(ctx, v, blob); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("RestoreSecret over a live secret = %v, want Conflict", err)
	}
	if _, ver, err := s.GetSecret(ctx, v, "a", ""); err != nil || ver.Value != "live" {
		t.Fatalf("after refused restore: %q %v", ver.Value, err)
	}
	// Round trip after a purge brings every value back.
	if _, err := s.DeleteSecret(ctx, v, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeDeletedSecret(ctx, v, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreSecret(ctx, v, blob); err != nil {
		t.Fatal(err)
	}
	if _, ver, err := s.GetSecret(ctx, v, "a", ""); err != nil || ver.Value != "live" {
		t.Fatalf("after restore: %q %v", ver.Value, err)
	}
}

// BenchmarkGetSecretVersions: reading the latest version costs about the
// same with 1 or 200 large versions, because other values are not loaded
// (compare the two sub-benchmarks of one run).
func BenchmarkGetSecretVersions(b *testing.B) {
	for _, n := range []int{1, 200} {
		b.Run("versions="+strconv.Itoa(n), func(b *testing.B) {
			s, v := benchService(b, memkv.New())
			ctx := context.Background()
			value := strings.Repeat("x", MaxValueBytes)
			for range n {
				if _, _, err := s.SetSecret(ctx, v, "big", SetParams{Value: &value}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.GetSecret(ctx, v, "big", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
