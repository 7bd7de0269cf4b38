package vaults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/keys"
)

// countKeyRecords counts the stored entries of every prefix keys use.
func countKeyRecords(t *testing.T, s *Service) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range []string{"keys/", "keyversions/", "keymaterial/"} {
		pairs, err := s.Store.KV().List(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = len(pairs)
	}
	return out
}

// TestKeyLifecycleStorage: keys keep one record per version, and every way
// a key goes (a permanent delete, a purge, the scheduled purge over more
// than one page of deleted keys) takes its head, versions and material.
func TestKeyLifecycleStorage(t *testing.T) {
	ctx := context.Background()
	t.Run("permanent delete", func(t *testing.T) {
		s, v := keyService(t, false)
		for range 3 {
			if _, _, err := s.CreateKey(ctx, v, "k", CreateKeyParams{Kty: keys.EC}); err != nil {
				t.Fatal(err)
			}
		}
		if got := countKeyRecords(t, s); got["keys/"] != 1 || got["keyversions/"] != 3 || got["keymaterial/"] != 3 {
			t.Fatalf("after three versions: %v", got)
		}
		if _, err := s.DeleteKey(ctx, v, "k"); err != nil {
			t.Fatal(err)
		}
		for p, n := range countKeyRecords(t, s) {
			if n != 0 {
				t.Errorf("%s: %d entries left", p, n)
			}
		}
	})
	t.Run("scheduled purge pages", func(t *testing.T) {
		s, v := keyService(t, true)
		const n = purgeExpiredPage + 5
		for i := range n {
			if _, _, err := s.CreateKey(ctx, v, fmt.Sprintf("k%03d", i), CreateKeyParams{Kty: keys.EC}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				continue // stays live
			}
			if _, err := s.DeleteKey(ctx, v, fmt.Sprintf("k%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
		deleted, more, err := s.ListKeysPage(ctx, v, "", 25, true)
		if err != nil || len(deleted) != 25 || !more || deleted[0].Name != "k001" {
			t.Fatalf("first page of deleted keys: %d, %v, %v", len(deleted), more, err)
		}
		s.Now = func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }
		if got, err := s.PurgeExpiredKeys(ctx); err != nil || got != n-1 {
			t.Fatalf("PurgeExpiredKeys = %d, %v; want %d", got, err, n-1)
		}
		if got := countKeyRecords(t, s); got["keys/"] != 1 || got["keyversions/"] != 1 || got["keymaterial/"] != 1 {
			t.Fatalf("after the scheduled purge: %v, want the live key's only", got)
		}
		if _, err := s.GetDeletedKey(ctx, v, "k050"); errs.KindOf(err) != errs.NotExist {
			t.Fatalf("purged key: %v", err)
		}
	})
}

// TestCertificateVersionRecords: a certificate keeps one record per
// version, and deleting it (permanently, or soft then purge) leaves none.
func TestCertificateVersionRecords(t *testing.T) {
	ctx := context.Background()
	for _, soft := range []bool{true, false} {
		s, v := keyService(t, soft)
		for range 2 {
			if _, err := s.CreateCertificate(ctx, v, "c", certPolicy("c"), CertParams{}); err != nil {
				t.Fatal(err)
			}
		}
		records := func() int {
			pairs, err := s.Store.KV().List(ctx, "certversions/")
			if err != nil {
				t.Fatal(err)
			}
			return len(pairs)
		}
		if n := records(); n != 2 {
			t.Fatalf("soft=%v: %d certificate version records, want 2", soft, n)
		}
		if _, err := s.DeleteCertificate(ctx, v, "c"); err != nil {
			t.Fatal(err)
		}
		if soft {
			if err := s.PurgeDeletedCertificate(ctx, v, "c"); err != nil {
				t.Fatal(err)
			}
		}
		if n := records(); n != 0 {
			t.Errorf("soft=%v: %d certificate version records left", soft, n)
		}
	}
}
