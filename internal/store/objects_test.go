package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
)

func versionID(i int) string { return fmt.Sprintf("%032x", i+1) }

// maxRecord returns the size of the largest value under prefix.
func maxRecord(t *testing.T, raw kv.Store, prefix string) int {
	t.Helper()
	pairs, err := raw.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pairs {
		n = max(n, len(p.Value))
	}
	return n
}

// TestThousandKeyVersions: storage conformance for keys. No record grows
// with the number of versions: the largest head, version record and
// material after 1,000 versions are the size they were after 10 (up to
// the digits of the sequence number), and reads of one version stay
// possible at both ends.
func TestThousandKeyVersions(t *testing.T) {
	ctx := context.Background()
	raw := memkv.New()
	s := New(raw)
	tags := map[string]string{}
	for i := range 15 {
		tags[fmt.Sprintf("tag%02d", i)] = strings.Repeat("v", 256)
	}
	der := []byte(strings.Repeat("k", 1200)) // an RSA-2048 PKCS#8 is about this size
	prefixes := []string{"keys/", "keyversions/", "keymaterial/"}
	var at10 map[string]int
	for i := range 1000 {
		ver := model.KeyVersion{Version: versionID(i), Kty: "RSA", KeyOps: []string{"sign"}, N: strings.Repeat("n", 342), E: "AQAB",
			Tags: tags, Enabled: true, Created: int64(i), Updated: int64(i)}
		if _, err := s.AddKeyVersion(ctx, "kv", "big", ver, der, func(*model.Key, bool) error { return nil }); err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		if i == 9 {
			at10 = map[string]int{}
			for _, p := range prefixes {
				at10[p] = maxRecord(t, raw, p)
			}
		}
	}
	for _, p := range prefixes {
		if got := maxRecord(t, raw, p); got > at10[p]+8 {
			t.Errorf("%s: largest record %d bytes after 1,000 versions, %d after 10", p, got, at10[p])
		}
	}
	if k, ver, err := s.GetKeyVersion(ctx, "kv", "big", versionID(0)); err != nil || ver.Version != versionID(0) || len(k.Versions) != 1 || k.Latest().Version != versionID(999) {
		t.Fatalf("GetKeyVersion(first) = %+v, %v", ver, err)
	}
	k, err := s.GetKey(ctx, "kv", "big")
	if err != nil || len(k.Versions) != 1000 || k.Versions[0].Version != versionID(0) || k.Latest().Version != versionID(999) {
		t.Fatalf("GetKey: %d versions, %v", len(k.Versions), err)
	}
	// A purge removes every version and its material, page by page.
	if err := s.UpdateKeyHead(ctx, "kv", "big", func(*model.Key, bool) (bool, error) { return false, nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range prefixes {
		if n := maxRecord(t, raw, p); n != 0 {
			t.Errorf("%s: records left after the purge", p)
		}
	}
}

// legacyKey is a key record as the previous release wrote it: one record
// holding every version (model.Key as JSON), the material per version.
func writeLegacyKey(t *testing.T, raw kv.Store, vault, name string, n int) {
	t.Helper()
	ctx := context.Background()
	k := model.Key{Name: name, RotationPolicy: &model.KeyRotationPolicy{ExpiryTime: "P90D", Created: 1, Updated: 1}}
	for i := range n {
		k.Versions = append(k.Versions, model.KeyVersion{Version: versionID(i), Kty: "EC", Crv: "P-256", X: "x", Y: "y",
			KeyOps: []string{"sign", "verify"}, Enabled: true, Created: int64(100 + i), Updated: int64(100 + i), Tags: map[string]string{"n": fmt.Sprint(i)}})
		if err := raw.Put(ctx, "keymaterial/"+vault+"/"+strings.ToUpper(name)+"/"+versionID(i), []byte(fmt.Sprintf("der-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(k)
	if err := raw.Put(ctx, "keys/"+vault+"/"+strings.ToUpper(name), b); err != nil {
		t.Fatal(err)
	}
}

// TestKeyLegacyLayout: a bbolt file written by the previous release (one
// record per key with every version) keeps working after a restart: it
// reads as it is, the first write converts it without losing a version, a
// rotation policy or material, and a purge leaves nothing behind.
func TestKeyLegacyLayout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := boltkv.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	writeLegacyKey(t, db, "kv", "Old", 3)
	writeLegacyKey(t, db, "kv", "Other", 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = boltkv.Open(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db)

	// Reads, as stored.
	if k, err := s.GetKeyHead(ctx, "kv", "old"); err != nil || k.Name != "Old" || k.Latest().Version != versionID(2) || k.RotationPolicy == nil {
		t.Fatalf("GetKeyHead on legacy = %+v, %v", k, err)
	}
	if _, ver, err := s.GetKeyVersion(ctx, "kv", "OLD", versionID(0)); err != nil || ver.Tags["n"] != "0" {
		t.Fatalf("GetKeyVersion(first) on legacy = %+v, %v", ver, err)
	}
	if _, _, err := s.GetKeyVersion(ctx, "kv", "old", versionID(7)); errs.KindOf(err) != errs.NotExist {
		t.Fatalf("GetKeyVersion(absent) on legacy = %v", err)
	}
	if keys, more, err := s.ListKeysPage(ctx, "kv", "", 1, false); err != nil || !more || len(keys) != 1 || keys[0].Latest().Version != versionID(2) {
		t.Fatalf("ListKeysPage on legacy = %+v, %v, %v", keys, more, err)
	}
	if der, err := s.GetKeyMaterial(ctx, "kv", "old", versionID(1)); err != nil || string(der) != "der-1" {
		t.Fatalf("GetKeyMaterial on legacy = %q, %v", der, err)
	}

	// Changing an old version converts the record.
	_, ver, err := s.UpdateKeyVersion(ctx, "kv", "old", versionID(1), func(_ *model.Key, ver *model.KeyVersion, exists bool) error {
		if !exists || ver == nil {
			t.Fatalf("UpdateKeyVersion on legacy: exists=%v ver=%v", exists, ver)
		}
		ver.Enabled = false
		return nil
	})
	if err != nil || ver.Enabled {
		t.Fatalf("UpdateKeyVersion on legacy = %+v, %v", ver, err)
	}
	head, err := db.Get(ctx, "keys/kv/OLD")
	if err != nil || strings.Contains(string(head), `"versions"`) || !strings.Contains(string(head), `"rotationPolicy"`) {
		t.Fatalf("head after the first write: %s, %v", head, err)
	}
	if recs, _ := db.List(ctx, "keyversions/kv/OLD/"); len(recs) != 3 {
		t.Fatalf("after the first write: %d version records, want 3", len(recs))
	}
	// A new version follows the converted ones.
	if _, err := s.AddKeyVersion(ctx, "kv", "old", model.KeyVersion{Version: versionID(3), Kty: "EC", Enabled: true}, []byte("der-3"),
		func(*model.Key, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	k, err := s.GetKey(ctx, "kv", "old")
	if err != nil || len(k.Versions) != 4 || k.Versions[1].Enabled || k.Versions[0].Tags["n"] != "0" || k.RotationPolicy.ExpiryTime != "P90D" {
		t.Fatalf("GetKey after conversion = %+v, %v", k, err)
	}

	// The startup migration converts the rest, once.
	if n, err := s.MigrateLegacyKeys(ctx); err != nil || n != 1 {
		t.Fatalf("MigrateLegacyKeys = %d, %v; want 1", n, err)
	}
	if n, err := s.MigrateLegacyKeys(ctx); err != nil || n != 0 {
		t.Fatalf("second MigrateLegacyKeys = %d, %v; want 0", n, err)
	}
	if k, err := s.GetKey(ctx, "kv", "other"); err != nil || len(k.Versions) != 2 {
		t.Fatalf("migrated key = %+v, %v", k, err)
	}

	// A purge removes head, versions and material.
	for _, name := range []string{"old", "other"} {
		if err := s.UpdateKeyHead(ctx, "kv", name, func(*model.Key, bool) (bool, error) { return false, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"keys/", "keyversions/", "keymaterial/"} {
		if pairs, _ := db.List(ctx, p); len(pairs) != 0 {
			t.Errorf("%s: %d entries left after the purge", p, len(pairs))
		}
	}
}

// TestEncodeVersion: a version record is the version's own JSON object
// with the generation and sequence number added, and decodes back.
func TestEncodeVersion(t *testing.T) {
	v := model.KeyVersion{Version: "abc", Kty: "EC", Enabled: true}
	b, err := encodeVersion(&v, "g1", 7)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["version"] != "abc" || m["gen"] != "g1" || m["seq"] != float64(7) {
		t.Fatalf("encoded %s (%v)", b, err)
	}
	r, err := decodeVersion[model.KeyVersion](b)
	if err != nil || r.V.Version != "abc" || r.V.Kty != "EC" || r.Gen != "g1" || r.Seq != 7 {
		t.Fatalf("decoded %+v, %v", r, err)
	}
}

// TestCertificateLegacyLayout: certificate records of the previous layout
// (every version inline, policy and pending operation beside them) read as
// stored, keep their policy and operation through the conversion of their
// first write, and a pending-only record converts too.
func TestCertificateLegacyLayout(t *testing.T) {
	ctx := context.Background()
	raw := memkv.New()
	s := New(raw)
	pol := json.RawMessage(`{"issuer":{"name":"Self"}}`)
	old := model.Certificate{Name: "Web", Policy: pol, Pending: &model.CertificateOperation{RequestID: "r1", Issuer: "Self", Status: "completed"}}
	for i := range 2 {
		old.Versions = append(old.Versions, model.CertificateVersion{Version: versionID(i), Cer: []byte{byte(i)}, Enabled: true, Created: int64(i)})
	}
	pending := model.Certificate{Name: "Later", Policy: pol, Pending: &model.CertificateOperation{RequestID: "r2", Issuer: "Unknown", Status: "inProgress", Version: versionID(9)}}
	for _, c := range []model.Certificate{old, pending} {
		b, _ := json.Marshal(c)
		if err := raw.Put(ctx, "certs/kv/"+strings.ToUpper(c.Name), b); err != nil {
			t.Fatal(err)
		}
	}

	c, ver, err := s.GetCertificateVersion(ctx, "kv", "web", versionID(0))
	if err != nil || ver.Cer[0] != 0 || c.Latest().Version != versionID(1) || string(c.Policy) != string(pol) || c.Pending.RequestID != "r1" {
		t.Fatalf("GetCertificateVersion on legacy = %+v, %+v, %v", c, ver, err)
	}
	if c, err := s.GetCertificateHead(ctx, "kv", "later"); err != nil || len(c.Versions) != 0 || c.Pending.Status != "inProgress" {
		t.Fatalf("GetCertificateHead on a pending legacy record = %+v, %v", c, err)
	}

	// The first new version converts the record and keeps what the head holds.
	if _, err := s.AddCertificateVersion(ctx, "kv", "web", model.CertificateVersion{Version: versionID(2), Enabled: true},
		func(*model.Certificate, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if recs, _ := raw.List(ctx, "certversions/kv/WEB/"); len(recs) != 3 {
		t.Fatalf("%d version records after the conversion, want 3", len(recs))
	}
	all, err := s.GetCertificate(ctx, "kv", "web")
	if err != nil || len(all.Versions) != 3 || string(all.Policy) != string(pol) || all.Pending.RequestID != "r1" {
		t.Fatalf("GetCertificate after the conversion = %+v, %v", all, err)
	}
	if n, err := s.MigrateLegacyCertificates(ctx); err != nil || n != 1 {
		t.Fatalf("MigrateLegacyCertificates = %d, %v; want 1 (the pending one)", n, err)
	}
	if c, err := s.GetCertificateHead(ctx, "kv", "later"); err != nil || len(c.Versions) != 0 || c.Pending.Version != versionID(9) {
		t.Fatalf("pending record after migration = %+v, %v", c, err)
	}
	if err := s.SweepCertificates(ctx, "kv"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"certs/", "certversions/"} {
		if pairs, _ := raw.List(ctx, p); len(pairs) != 0 {
			t.Errorf("%s: %d entries left after the sweep", p, len(pairs))
		}
	}
}
