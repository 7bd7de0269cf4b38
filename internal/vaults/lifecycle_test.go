package vaults

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/wire"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const day = 24 * time.Hour

func events(t *testing.T, l *Lifecycle) []LifecycleEvent {
	t.Helper()
	ev, err := l.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return ev
}

// TestKeyAutoRotation: a Rotate action fires once its trigger passes for
// the latest version (timeAfterCreate from its creation, timeBeforeExpiry
// before its expiry), adds one version with the policy's expiry and the
// same type, and is not due again for the new version; Notify is recorded
// once per version and changes nothing; keys without a policy, or whose
// trigger has not passed, are left alone.
func TestKeyAutoRotation(t *testing.T) {
	s, v := keyService(t, true)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.Now = clock.Now
	ctx := context.Background()
	l := &Lifecycle{Service: s}

	mk := func(name string, p CreateKeyParams, pol *model.KeyRotationPolicy) {
		t.Helper()
		if _, _, err := s.CreateKey(ctx, v, name, p); err != nil {
			t.Fatal(err)
		}
		if pol != nil {
			if _, err := s.SetKeyRotationPolicy(ctx, v, name, *pol); err != nil {
				t.Fatal(err)
			}
		}
	}
	exp := clock.Now().Add(60 * day).Unix()
	mk("after-create", CreateKeyParams{Kty: "EC", Crv: "P-384"}, &model.KeyRotationPolicy{ExpiryTime: "P90D",
		LifetimeActions: []model.KeyLifetimeAction{{TimeAfterCreate: "P30D", Action: "Rotate"}}})
	mk("before-expiry", CreateKeyParams{Kty: "RSA", Size: 2048, KeyParams: KeyParams{Attributes: Attributes{Expires: &exp}}},
		&model.KeyRotationPolicy{LifetimeActions: []model.KeyLifetimeAction{
			{TimeBeforeExpiry: "P10D", Action: "Rotate"}, {TimeBeforeExpiry: "P20D", Action: "Notify"}}})
	mk("notify-only", CreateKeyParams{Kty: "EC", KeyParams: KeyParams{Attributes: Attributes{Expires: &exp}}},
		&model.KeyRotationPolicy{LifetimeActions: []model.KeyLifetimeAction{{TimeBeforeExpiry: "P30D", Action: "Notify"}}})
	mk("no-expiry", CreateKeyParams{Kty: "EC"},
		&model.KeyRotationPolicy{LifetimeActions: []model.KeyLifetimeAction{{TimeBeforeExpiry: "P30D", Action: "Rotate"}}})
	mk("no-policy", CreateKeyParams{Kty: "EC"}, nil)

	versions := func(name string) []model.KeyVersion {
		t.Helper()
		_, vs, err := s.ListKeyVersions(ctx, v, name)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	type want struct {
		advance time.Duration
		events  map[string]string // key name → action
	}
	// The timeline in days: after-create was made on day 0 (due day 30),
	// its rotated version on day 30 (due day 60); before-expiry and
	// notify-only expire on day 60.
	steps := []want{
		{0, nil},
		{29 * day, nil},
		{1 * day, map[string]string{"after-create": "Rotate", "notify-only": "Notify"}}, // day 30
		{1 * day, nil}, // day 31: nothing new is due, nothing recorded twice
		{9 * day, map[string]string{"before-expiry": "Notify"}},  // day 40 = exp - P20D
		{10 * day, map[string]string{"before-expiry": "Rotate"}}, // day 50 = exp - P10D
		{9 * day, nil},
		{1 * day, map[string]string{"after-create": "Rotate"}}, // day 60
	}
	elapsed := time.Duration(0)
	for i, st := range steps {
		clock.Add(st.advance)
		elapsed += st.advance
		got := map[string]string{}
		for _, e := range events(t, l) {
			if e.Kind != "key" || e.Vault != v.Name {
				t.Errorf("step %d: event %+v", i, e)
			}
			if _, dup := got[e.Name]; dup {
				t.Errorf("step %d: two events for %s", i, e.Name)
			}
			got[e.Name] = e.Action
		}
		if len(got) != len(st.events) {
			t.Fatalf("day %d: events %v, want %v", elapsed/day, got, st.events)
		}
		for n, a := range st.events {
			if got[n] != a {
				t.Fatalf("day %d: events %v, want %v", elapsed/day, got, st.events)
			}
		}
	}

	ac := versions("after-create")
	if len(ac) != 3 {
		t.Fatalf("after-create has %d versions, want 3", len(ac))
	}
	for _, ver := range ac[:2] { // newest first
		if ver.Crv != "P-384" || ver.Expires == nil || *ver.Expires != ver.Created+90*86400 {
			t.Errorf("rotated version %s: crv %s, created %d, exp %v (want created + P90D)", ver.Version, ver.Crv, ver.Created, ver.Expires)
		}
	}
	be := versions("before-expiry")
	if len(be) != 2 || be[0].Kty != "RSA" || len(be[0].N) != len(be[1].N) || be[0].N == be[1].N {
		t.Fatalf("before-expiry versions = %d (%s)", len(be), be[0].Kty)
	}
	// Without expiryTime the new version has no expiry, so a
	// timeBeforeExpiry trigger cannot fire for it again.
	if be[0].Expires != nil {
		t.Errorf("rotated version expires %d; the policy sets none", *be[0].Expires)
	}
	for _, n := range []string{"notify-only", "no-expiry", "no-policy"} {
		if got := len(versions(n)); got != 1 {
			t.Errorf("%s has %d versions, want 1", n, got)
		}
	}
	// A deleted key is not rotated.
	if _, err := s.DeleteKey(ctx, v, "after-create"); err != nil {
		t.Fatal(err)
	}
	clock.Add(365 * day)
	for _, e := range events(t, l) {
		if e.Name == "after-create" {
			t.Errorf("deleted key: %+v", e)
		}
	}
}

// TestCertificateAutoRenew: AutoRenew on a Self-issued certificate issues
// a new version when lifetime_percentage of the validity has passed or at
// days_before_expiry, with a new key (the reuse_key one keeps its key) and
// new versions of the backing key and secret; EmailContacts is recorded
// once; an Unknown-issuer certificate is never renewed.
func TestCertificateAutoRenew(t *testing.T) {
	s, v := keyService(t, true)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.Now = clock.Now
	ctx := context.Background()
	l := &Lifecycle{Service: s}
	months := 12
	yes := true
	action := func(typ string, pct, days *int) wire.CertLifetimeAction {
		var a wire.CertLifetimeAction
		a.Trigger = &struct {
			LifetimePercentage *int `json:"lifetime_percentage,omitempty"`
			DaysBeforeExpiry   *int `json:"days_before_expiry,omitempty"`
		}{pct, days}
		a.Action = &struct {
			ActionType string `json:"action_type,omitempty"`
		}{typ}
		return a
	}
	pct50, days30, days60 := 50, 30, 60
	pol := func(reuse bool, issuer string, acts ...wire.CertLifetimeAction) *wire.CertificatePolicy {
		p := &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC"},
			X509Props: &wire.X509CertificateProperties{Subject: "CN=renew", ValidityMonths: &months},
			Issuer:    &wire.CertIssuerParameters{Name: issuer}, LifetimeActions: acts}
		if reuse {
			p.KeyProps.ReuseKey = &yes
		}
		return p
	}
	for name, p := range map[string]*wire.CertificatePolicy{
		"by-percentage": pol(false, "Self", action("AutoRenew", &pct50, nil)),
		"by-days":       pol(true, "Self", action("AutoRenew", nil, &days30), action("EmailContacts", nil, &days60)),
	} {
		if _, err := s.CreateCertificate(ctx, v, name, p, CertParams{Tags: map[string]string{"env": "test"}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	leafOf := func(name string) (*model.CertificateVersion, *x509.Certificate) {
		t.Helper()
		_, latest, err := s.GetCertificate(ctx, v, name, "")
		if err != nil || latest == nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, err := x509.ParseCertificate(latest.Cer)
		if err != nil {
			t.Fatal(err)
		}
		return latest, c
	}
	firstPct, firstPctLeaf := leafOf("by-percentage")
	_, firstDaysLeaf := leafOf("by-days")
	// An imported certificate (issuer Unknown, the default policy:
	// EmailContacts at 80% of its validity), expiring with by-days.
	pemBundle := selfSignedPEM(t, clock.Now(), firstDaysLeaf.NotAfter)
	if _, err := s.ImportCertificate(ctx, v, "imported", &pemBundle, "", nil, CertParams{}); err != nil {
		t.Fatal(err)
	}

	if ev := events(t, l); len(ev) != 0 {
		t.Fatalf("at creation: %+v", ev)
	}
	// Half of a 12-month validity: by-percentage renews.
	halfway := firstPctLeaf.NotAfter.Sub(time.Unix(*firstPct.NotBefore, 0)) / 2
	clock.Add(halfway - time.Hour)
	if ev := events(t, l); len(ev) != 0 {
		t.Fatalf("an hour before 50%%: %+v", ev)
	}
	clock.Add(time.Hour)
	ev := events(t, l)
	if len(ev) != 1 || ev[0].Name != "by-percentage" || ev[0].Action != "AutoRenew" || ev[0].Version != firstPct.Version || ev[0].NewVersion == "" {
		t.Fatalf("at 50%%: %+v", ev)
	}
	renewed, renewedLeaf := leafOf("by-percentage")
	if renewed.Version != ev[0].NewVersion || renewed.Tags["env"] != "test" || !renewedLeaf.NotBefore.After(firstPctLeaf.NotBefore) {
		t.Fatalf("renewed version %+v", renewed)
	}
	if string(renewedLeaf.RawSubjectPublicKeyInfo) == string(firstPctLeaf.RawSubjectPublicKeyInfo) {
		t.Error("by-percentage renewed with the same key; reuse_key is false")
	}
	// The backing key and secret follow with the same version id.
	if _, kv, err := s.GetKey(ctx, v, "by-percentage", ""); err != nil || kv.Version != renewed.Version {
		t.Errorf("backing key latest = %v, %v; want version %s", kv, err, renewed.Version)
	}
	if _, sv, err := s.GetSecret(ctx, v, "by-percentage", ""); err != nil || sv.Version != renewed.Version {
		t.Errorf("backing secret latest = %v, %v; want version %s", sv, err, renewed.Version)
	}

	// 60 days before by-days expires: EmailContacts recorded for it and
	// for the imported one (past 80%); 30 days before: by-days renewed
	// with the same key, nothing recorded twice; the imported certificate
	// is never renewed (no CA to ask).
	toExp := func(c *x509.Certificate) time.Duration { return c.NotAfter.Sub(clock.Now()) }
	byName := func() map[string]string {
		got := map[string]string{}
		for _, e := range events(t, l) {
			got[e.Name] = e.Action
		}
		return got
	}
	clock.Add(toExp(firstDaysLeaf) - 60*day)
	if got := byName(); len(got) != 2 || got["by-days"] != "EmailContacts" || got["imported"] != "EmailContacts" {
		t.Fatalf("60 days before expiry: %v", got)
	}
	clock.Add(30 * day)
	if got := byName(); len(got) != 1 || got["by-days"] != "AutoRenew" {
		t.Fatalf("30 days before expiry: %v", got)
	}
	_, daysLeaf := leafOf("by-days")
	if daysLeaf.SerialNumber.Cmp(firstDaysLeaf.SerialNumber) == 0 || string(daysLeaf.RawSubjectPublicKeyInfo) != string(firstDaysLeaf.RawSubjectPublicKeyInfo) {
		t.Error("by-days: want a new certificate on the same key (reuse_key)")
	}
	if ev := events(t, l); len(ev) != 0 {
		t.Fatalf("right after the renewals: %+v", ev)
	}
	clock.Add(60 * day) // past the imported certificate's expiry
	for _, e := range events(t, l) {
		if e.Name == "imported" {
			t.Errorf("imported certificate: %+v", e)
		}
	}
	if _, vs, _ := s.ListCertificateVersions(ctx, v, "imported"); len(vs) != 1 {
		t.Errorf("imported certificate renewed: %d versions", len(vs))
	}
}

// selfSignedPEM is a PEM bundle (PKCS#8 key, certificate) valid from nbf
// to exp.
func selfSignedPEM(t *testing.T, nbf, exp time.Time) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "imported"}, NotBefore: nbf, NotAfter: exp}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
