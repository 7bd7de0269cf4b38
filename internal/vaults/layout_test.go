package vaults

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/kvfault"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// writeLegacySecret writes a secret the way the previous release did: one
// record under secrets/ holding every version inline, values apart.
func writeLegacySecret(t *testing.T, raw kv.Store, vault, name string, n int) []string {
	t.Helper()
	ctx := context.Background()
	type legacyRecord struct {
		Name     string                `json:"name"`
		Versions []model.SecretVersion `json:"versions"`
	}
	rec := legacyRecord{Name: name}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		ids = append(ids, id)
		rec.Versions = append(rec.Versions, model.SecretVersion{Version: id, Enabled: true, Created: int64(1000 + i), Updated: int64(1000 + i),
			Tags: map[string]string{"n": fmt.Sprint(i)}})
		if err := raw.Put(ctx, "secretvalues/"+strings.ToLower(vault)+"/"+strings.ToUpper(name)+"/"+id, []byte(fmt.Sprintf("legacy-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(rec)
	if err := raw.Put(ctx, "secrets/"+strings.ToLower(vault)+"/"+strings.ToUpper(name), b); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestLegacyLayout: a data dir written by the previous release (every
// version inline in the secret record) keeps working: reads as it is, and
// the first write converts it to per-version keys without losing anything.
func TestLegacyLayout(t *testing.T) {
	s, v, raw := newTestService(t, true)
	ctx := context.Background()
	ids := writeLegacySecret(t, raw, v.Name, "Old", 3)

	_, ver, err := s.GetSecret(ctx, v, "old", "")
	if err != nil || ver.Version != ids[2] || ver.Value != "legacy-2" {
		t.Fatalf("GetSecret(latest) on legacy = %+v, %v", ver, err)
	}
	if _, ver, err := s.GetSecret(ctx, v, "OLD", ids[0]); err != nil || ver.Value != "legacy-0" || ver.Tags["n"] != "0" {
		t.Fatalf("GetSecret(first version) on legacy = %+v, %v", ver, err)
	}
	if secs, more, err := s.ListSecretsPage(ctx, v, "", 25); err != nil || more || len(secs) != 1 || secs[0].Latest().Version != ids[2] {
		t.Fatalf("ListSecretsPage on legacy = %+v, %v, %v", secs, more, err)
	}
	// Changing an old version converts the record.
	tag := map[string]string{"changed": "yes"}
	if _, got, err := s.UpdateSecret(ctx, v, "old", ids[1], UpdateParams{Tags: tag, TagsSet: true}); err != nil || got.Tags["changed"] != "yes" {
		t.Fatalf("UpdateSecret(old version) on legacy = %+v, %v", got, err)
	}
	if recs := keysWith(t, raw, "secretversions/kv1/OLD/"); len(recs) != 3 {
		t.Fatalf("after the first write: %d version records, want 3", len(recs))
	}
	if head := keysWith(t, raw, "secrets/kv1/OLD"); strings.Contains(string(head[0].Value), `"versions"`) {
		t.Errorf("the head still holds every version: %s", head[0].Value)
	}
	val := "new"
	if _, _, err := s.SetSecret(ctx, v, "old", SetParams{Value: &val}); err != nil {
		t.Fatal(err)
	}
	_, vers, err := s.ListVersions(ctx, v, "old")
	if err != nil || len(vers) != 4 {
		t.Fatalf("ListVersions after conversion = %d, %v", len(vers), err)
	}
	for i, id := range ids {
		_, ver, err := s.GetSecret(ctx, v, "old", id)
		if err != nil || ver.Value != fmt.Sprintf("legacy-%d", i) {
			t.Errorf("version %d after conversion = %+v, %v", i, ver, err)
		}
		if i == 1 && ver != nil && ver.Tags["changed"] != "yes" {
			t.Errorf("version 1 lost its update: %+v", ver.Tags)
		}
	}
	// A legacy secret can also be SET directly, deleted, recovered, purged.
	ids2 := writeLegacySecret(t, raw, v.Name, "Old2", 2)
	if _, latest, err := s.SetSecret(ctx, v, "old2", SetParams{Value: &val}); err != nil || latest.Value != "new" {
		t.Fatalf("SetSecret on legacy = %v", err)
	}
	if _, ver, err := s.GetSecret(ctx, v, "old2", ids2[0]); err != nil || ver.Value != "legacy-0" {
		t.Fatalf("first version after SET on legacy = %+v, %v", ver, err)
	}
	writeLegacySecret(t, raw, v.Name, "Old3", 2)
	if _, err := s.DeleteSecret(ctx, v, "old3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecoverDeletedSecret(ctx, v, "old3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSecret(ctx, v, "old3"); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeDeletedSecret(ctx, v, "old3"); err != nil {
		t.Fatal(err)
	}
	if left := keysWith(t, raw, "secretvalues/kv1/OLD3/"); len(left) != 0 {
		t.Errorf("purging a legacy secret left %d values", len(left))
	}
}

// TestSetIsOneTransaction: a SET whose transaction fails leaves no key at
// all behind (no orphaned value, no version record, no head).
func TestSetIsOneTransaction(t *testing.T) {
	for _, prefix := range []string{"secretvalues/", "secretversions/", "secrets/"} {
		t.Run(prefix, func(t *testing.T) {
			raw := memkv.New()
			f := kvfault.Wrap(raw)
			st := store.New(f)
			v := &model.Vault{Name: "kv1", EnableSoftDelete: true}
			if err := st.CreateVault(context.Background(), v); err != nil {
				t.Fatal(err)
			}
			s := &Service{Store: st, Now: time.Now}
			f.Inject(kvfault.Rule{Ops: kvfault.Put, Prefix: prefix})
			val := "v"
			if _, _, err := s.SetSecret(context.Background(), v, "a", SetParams{Value: &val}); err == nil {
				t.Fatal("SET with a failing write succeeded")
			}
			for _, p := range []string{"secretvalues/", "secretversions/", "secrets/"} {
				if left := keysWith(t, raw, p); len(left) != 0 {
					t.Errorf("a failed SET left %q", left)
				}
			}
		})
	}
}

// TestPurgedNameStartsClean: versions of a purged secret never show up in
// a new secret of the same name, even when their removal was cut short.
func TestPurgedNameStartsClean(t *testing.T) {
	s, v, raw := newTestService(t, true)
	ctx := context.Background()
	val := "old"
	_, oldVer, err := s.SetSecret(ctx, v, "a", SetParams{Value: &val})
	if err != nil {
		t.Fatal(err)
	}
	leftover := keysWith(t, raw, "secretversions/kv1/A/")
	if _, err := s.DeleteSecret(ctx, v, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeDeletedSecret(ctx, v, "a"); err != nil {
		t.Fatal(err)
	}
	// Put the old version record back, as if the purge had crashed
	// between the head and the versions.
	if err := raw.Put(ctx, leftover[0].Key, leftover[0].Value); err != nil {
		t.Fatal(err)
	}
	val = "new"
	if _, _, err := s.SetSecret(ctx, v, "a", SetParams{Value: &val}); err != nil {
		t.Fatal(err)
	}
	_, vers, err := s.ListVersions(ctx, v, "a")
	if err != nil || len(vers) != 1 || vers[0].Version == oldVer.Version {
		t.Fatalf("new secret lists %+v, %v; want its one new version", vers, err)
	}
	if _, _, err := s.GetSecret(ctx, v, "a", oldVer.Version); errs.KindOf(err) != errs.NotExist {
		t.Errorf("the purged version is readable: %v", err)
	}
}

// TestListSecretsPage walks live and deleted secrets page by page.
func TestListSecretsPage(t *testing.T) {
	s, v, _ := newTestService(t, true)
	ctx := context.Background()
	val := "v"
	var live, deleted []string
	for i := range 23 {
		name := fmt.Sprintf("s%02d", i)
		if _, _, err := s.SetSecret(ctx, v, name, SetParams{Value: &val}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := s.DeleteSecret(ctx, v, name); err != nil {
				t.Fatal(err)
			}
			deleted = append(deleted, strings.ToUpper(name))
		} else {
			live = append(live, strings.ToUpper(name))
		}
	}
	walk := func(page func(after string) ([]model.Secret, bool, error)) []string {
		var got []string
		after := ""
		for {
			secs, more, err := page(after)
			if err != nil {
				t.Fatal(err)
			}
			if len(secs) > 4 {
				t.Fatalf("page of %d, want at most 4", len(secs))
			}
			for _, sec := range secs {
				got = append(got, strings.ToUpper(sec.Name))
			}
			if !more {
				return got
			}
			after = strings.ToUpper(secs[len(secs)-1].Name)
		}
	}
	if got := walk(func(a string) ([]model.Secret, bool, error) { return s.ListSecretsPage(ctx, v, a, 4) }); !slices.Equal(got, live) {
		t.Errorf("live walk = %q, want %q", got, live)
	}
	if got := walk(func(a string) ([]model.Secret, bool, error) { return s.ListDeletedSecretsPage(ctx, v, a, 4) }); !slices.Equal(got, deleted) {
		t.Errorf("deleted walk = %q, want %q", got, deleted)
	}
}

// TestRestoreManyVersions: a backup with more versions than one
// transaction holds restores whole.
func TestRestoreManyVersions(t *testing.T) {
	s, v, _ := newTestService(t, true)
	ctx := context.Background()
	for i := range 150 {
		val := fmt.Sprint("value-", i)
		if _, _, err := s.SetSecret(ctx, v, "many", SetParams{Value: &val}); err != nil {
			t.Fatal(err)
		}
	}
	blob, err := s.BackupSecret(ctx, v, "many")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSecret(ctx, v, "many"); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeDeletedSecret(ctx, v, "many"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreSecret(ctx, v, blob); err != nil {
		t.Fatal(err)
	}
	_, vers, err := s.ListVersions(ctx, v, "many")
	if err != nil || len(vers) != 150 {
		t.Fatalf("restored %d versions, %v; want 150", len(vers), err)
	}
	if _, ver, err := s.GetSecret(ctx, v, "many", ""); err != nil || ver.Value != "value-149" {
		t.Fatalf("restored latest = %+v, %v", ver, err)
	}
}

// TestConcurrentSetsKeepEveryVersion: writers racing on one name each add
// their version (the head's compare makes the losers retry), on memkv and
// on group-committed bbolt, both encrypted.
func TestConcurrentSetsKeepEveryVersion(t *testing.T) {
	backends := map[string]func(t *testing.T) kv.Store{
		"memkv": func(*testing.T) kv.Store { return memkv.New() },
		"boltkv": func(t *testing.T) kv.Store {
			db, err := boltkv.Open(filepath.Join(t.TempDir(), "c.db"))
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			st := store.New(crypt.Wrap(open(t), crypt.NewRandomRing()))
			defer st.KV().Close()
			v := &model.Vault{Name: "kv1"}
			if err := st.CreateVault(context.Background(), v); err != nil {
				t.Fatal(err)
			}
			s := &Service{Store: st, Now: time.Now}
			const writers, each = 8, 10
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						val := fmt.Sprintf("w%d-%d", w, i)
						if _, _, err := s.SetSecret(context.Background(), v, "shared", SetParams{Value: &val}); err != nil {
							t.Errorf("SetSecret = %v", err)
						}
					}
				})
			}
			wg.Wait()
			_, vers, err := s.ListVersions(context.Background(), v, "shared")
			if err != nil || len(vers) != writers*each {
				t.Fatalf("ListVersions = %d, %v; want %d", len(vers), err, writers*each)
			}
		})
	}
}

// TestPurgeExpiredPages: the retention purge walks deleted secrets page by
// page (more than one page here), removes exactly the expired ones with
// their versions and values, and leaves live and not-yet-due ones alone.
func TestPurgeExpiredPages(t *testing.T) {
	s, v, raw := newTestService(t, true)
	ctx := context.Background()
	clock := time.Unix(1_000_000, 0)
	s.Now = func() time.Time { return clock }
	val := "v"
	const n = 2*purgeExpiredPage + 10
	for i := range n {
		name := fmt.Sprintf("s%03d", i)
		if _, _, err := s.SetSecret(ctx, v, name, SetParams{Value: &val}); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			continue // stays live
		}
		if i%5 == 1 {
			clock = clock.Add(200 * 24 * time.Hour) // deleted later: not due yet
		}
		if _, err := s.DeleteSecret(ctx, v, name); err != nil {
			t.Fatal(err)
		}
		if i%5 == 1 {
			clock = clock.Add(-200 * 24 * time.Hour)
		}
	}
	clock = clock.Add(100 * 24 * time.Hour) // past 90 days for the others
	purged, err := s.PurgeExpired(ctx)
	if want := n * 3 / 5; err != nil || purged != want {
		t.Fatalf("PurgeExpired = %d, %v; want %d", purged, err, want)
	}
	if heads := keysWith(t, raw, "secrets/kv1/"); len(heads) != n*2/5 {
		t.Errorf("%d heads left, want %d", len(heads), n*2/5)
	}
	if vals := keysWith(t, raw, "secretvalues/kv1/"); len(vals) != n*2/5 {
		t.Errorf("%d values left, want %d", len(vals), n*2/5)
	}
	if vers := keysWith(t, raw, "secretversions/kv1/"); len(vers) != n*2/5 {
		t.Errorf("%d version records left, want %d", len(vers), n*2/5)
	}
}

// TestLegacyUpdateLatest: changing the latest version of a legacy record
// converts it and the change shows in the head's copy of the latest.
func TestLegacyUpdateLatest(t *testing.T) {
	s, v, _ := newTestService(t, true)
	ctx := context.Background()
	ids := writeLegacySecret(t, s.Store.KV(), v.Name, "L", 3)
	ct := "text/plain"
	if _, got, err := s.UpdateSecret(ctx, v, "l", "", UpdateParams{ContentType: &ct}); err != nil || got.Version != ids[2] || got.ContentType != ct {
		t.Fatalf("UpdateSecret(latest) on legacy = %+v, %v", got, err)
	}
	if _, ver, err := s.GetSecret(ctx, v, "l", ""); err != nil || ver.ContentType != ct || ver.Value != "legacy-2" {
		t.Fatalf("latest after update = %+v, %v", ver, err)
	}
	secs, _, err := s.ListSecretsPage(ctx, v, "", 25)
	if err != nil || len(secs) != 1 || secs[0].Latest().ContentType != ct {
		t.Fatalf("listed latest = %+v, %v", secs, err)
	}
	if _, vers, err := s.ListVersions(ctx, v, "l"); err != nil || len(vers) != 3 {
		t.Fatalf("ListVersions = %d, %v; want 3", len(vers), err)
	}
}
