package vaults

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/wire"
)

func certPolicy(cn string) *wire.CertificatePolicy {
	return &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC"}, X509Props: &wire.X509CertificateProperties{Subject: "CN=" + cn}}
}

// countPrefixes counts stored entries of every object kind a certificate
// writes.
func countPrefixes(t *testing.T, s *Service) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range []string{"certs/", "keys/", "keymaterial/", "secrets/", "secretversions/", "secretvalues/"} {
		pairs, err := s.Store.KV().List(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = len(pairs)
	}
	return out
}

// With or without soft delete, deleting a certificate takes its key and
// secret with it, and purging (or the scheduled sweep) leaves nothing.
func TestCertificateLifecycleStorage(t *testing.T) {
	for _, soft := range []bool{true, false} {
		s, v := keyService(t, soft)
		ctx := context.Background()
		if _, err := s.CreateCertificate(ctx, v, "c", certPolicy("c"), CertParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateCertificate(ctx, v, "c", nil, CertParams{}); err != nil {
			t.Fatalf("second version with the current policy: %v", err)
		}
		got := countPrefixes(t, s)
		want := map[string]int{"certs/": 1, "keys/": 1, "keymaterial/": 2, "secrets/": 1, "secretversions/": 2, "secretvalues/": 2}
		for p, n := range want {
			if got[p] != n {
				t.Fatalf("soft=%v: %s has %d entries, want %d", soft, p, got[p], n)
			}
		}
		if _, err := s.DeleteCertificate(ctx, v, "c"); err != nil {
			t.Fatal(err)
		}
		if soft {
			if _, err := s.GetDeletedSecret(ctx, v, "c"); err != nil {
				t.Fatalf("secret not soft-deleted with the certificate: %v", err)
			}
			s.Now = func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }
			if _, err := s.PurgeExpired(ctx); err != nil {
				t.Fatal(err)
			}
			if n, err := s.PurgeExpiredKeys(ctx); n != 2 || err != nil {
				t.Fatalf("sweep purged %d key and certificate records (%v), want 2", n, err)
			}
		}
		for p, n := range countPrefixes(t, s) {
			if n != 0 {
				t.Errorf("soft=%v: %d entries left under %s", soft, n, p)
			}
		}
	}
}

// A create refused because the name's secret is soft-deleted stores
// nothing, and the refusal is Azure's conflict.
func TestCertificateCreateStoresNothingOnConflict(t *testing.T) {
	s, v := keyService(t, true)
	ctx := context.Background()
	val := "v"
	if _, _, err := s.SetSecret(ctx, v, "taken", SetParams{Value: &val}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSecret(ctx, v, "taken"); err != nil {
		t.Fatal(err)
	}
	before := countPrefixes(t, s)
	_, err := s.CreateCertificate(ctx, v, "taken", certPolicy("t"), CertParams{})
	if errs.KindOf(err) != errs.Conflict {
		t.Fatalf("create over a deleted secret: %v", err)
	}
	after := countPrefixes(t, s)
	for p, n := range before {
		if after[p] != n {
			t.Errorf("%s: %d → %d entries", p, n, after[p])
		}
	}
}

// An operation of the Unknown issuer keeps its key until it is merged or
// deleted; deleting it leaves nothing behind.
func TestPendingOperationStorage(t *testing.T) {
	s, v := keyService(t, true)
	ctx := context.Background()
	pol := certPolicy("p")
	pol.Issuer = &wire.CertIssuerParameters{Name: "Unknown"}
	c, err := s.CreateCertificate(ctx, v, "p", pol, CertParams{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Pending.Status != "inProgress" || len(c.Versions) != 0 {
		t.Fatalf("pending %+v, %d versions", c.Pending, len(c.Versions))
	}
	if _, err := s.CreateCertificate(ctx, v, "p", pol, CertParams{}); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("second create while in progress: %v", err)
	}
	if _, _, err := s.GetCertificate(ctx, v, "p", ""); errs.KindOf(err) != errs.NotExist {
		t.Fatalf("get while pending: %v", err)
	}
	if got := countPrefixes(t, s); got["keymaterial/"] != 1 || got["keys/"] != 0 || got["secrets/"] != 0 {
		t.Fatalf("while pending: %v", got)
	}
	if _, err := s.DeleteCertificateOperation(ctx, v, "p"); err != nil {
		t.Fatal(err)
	}
	for p, n := range countPrefixes(t, s) {
		if n != 0 {
			t.Errorf("%d entries left under %s", n, p)
		}
	}
}

// reuse_key keeps the key across versions; without it each version has
// its own.
func TestCertificateReuseKey(t *testing.T) {
	s, v := keyService(t, true)
	ctx := context.Background()
	for _, reuse := range []bool{true, false} {
		name := "reuse"
		if !reuse {
			name = "fresh"
		}
		pol := certPolicy(name)
		pol.KeyProps.ReuseKey = &reuse
		for range 2 {
			if _, err := s.CreateCertificate(ctx, v, name, pol, CertParams{}); err != nil {
				t.Fatal(err)
			}
		}
		k, vers, err := s.ListKeyVersions(ctx, v, name)
		if err != nil || len(vers) != 2 {
			t.Fatalf("%s: %v, %d versions", name, err, len(vers))
		}
		same := vers[0].X == vers[1].X && vers[0].Y == vers[1].Y
		if same != reuse {
			t.Errorf("%s (%s): versions share the key = %v, want %v", name, k.Name, same, reuse)
		}
	}
}
