package store_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// TestMemoCopies: over a cache that keeps decoded records, what a read
// returns is the caller's own: changing every part of it changes nothing
// the next read sees, and records still round-trip exactly.
func TestMemoCopies(t *testing.T) {
	ctx := t.Context()
	c := kvcache.New(memkv.New(), kvcache.Options{})
	defer c.Close()
	s := store.New(c)
	deleted := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &model.Vault{
		Name: "memo", Tags: map[string]string{"a": "b"}, Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		AccessPolicies: []model.AccessPolicy{{ObjectID: "o1", Permissions: model.Permissions{Secrets: []string{"get", "list"}}}},
		NetworkACLs:    &model.NetworkACLs{DefaultAction: "Deny", IPRules: []string{"10.0.0.0/8"}},
		Deleted:        &deleted,
	}
	if err := s.CreateVault(ctx, v); err != nil {
		t.Fatal(err)
	}
	want, err := s.GetVault(ctx, "memo") // decoded once and kept
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(v)
	if got, _ := json.Marshal(want); string(got) != string(wantJSON) {
		t.Fatalf("GetVault = %s, want %s", got, wantJSON)
	}
	for range 2 {
		got, err := s.GetVault(ctx, "memo")
		if err != nil {
			t.Fatal(err)
		}
		if j, _ := json.Marshal(got); !reflect.DeepEqual(got, want) || string(j) != string(wantJSON) {
			t.Fatalf("GetVault = %s, want %s", j, wantJSON)
		}
		// Change everything reachable: a shared value would show it next time.
		got.Name = "changed"
		got.Tags["a"] = "changed"
		got.AccessPolicies[0].Permissions.Secrets[0] = "changed"
		got.AccessPolicies = append(got.AccessPolicies[:1], model.AccessPolicy{ObjectID: "o2"})
		got.NetworkACLs.IPRules[0] = "changed"
		got.NetworkACLs.DefaultAction = "changed"
		*got.Deleted = time.Time{}
	}
	// A write replaces the memo.
	if err := s.UpdateVault(ctx, "memo", func(v *model.Vault) error { v.Tags["a"] = "c"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetVault(ctx, "memo"); err != nil || got.Tags["a"] != "c" {
		t.Errorf("GetVault after UpdateVault: tags %v, %v, want a=c", got.Tags, err)
	}
	// Errors keep their kinds.
	if _, err := s.GetVault(ctx, "missing"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("GetVault(missing) = %v, want NotExist", err)
	}
	if err := c.Put(ctx, "vaults/broken", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetVault(ctx, "broken"); errs.KindOf(err) != errs.Internal {
		t.Errorf("GetVault of undecodable bytes = %v, want Internal", err)
	}
}

// BenchmarkGetVault reads one vault record through the encrypted store,
// without and with the cache: the hit path skips the AES-GCM open and the
// JSON decode.
func BenchmarkGetVault(b *testing.B) {
	v := &model.Vault{Name: "bench", Tags: map[string]string{"env": "prod"}, TenantID: "t", SKU: "standard",
		AccessPolicies: []model.AccessPolicy{{ObjectID: "o1", Permissions: model.Permissions{Secrets: []string{"get", "list", "set"}}},
			{ObjectID: "o2", Permissions: model.Permissions{Secrets: []string{"get"}, Keys: []string{"get", "sign"}}}}}
	for _, bc := range []struct {
		name   string
		cached bool
	}{{"crypt", false}, {"cached", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var inner kv.Store = crypt.Wrap(memkv.New(), crypt.NewRandomRing())
			if bc.cached {
				inner = kvcache.New(inner, kvcache.Options{})
			}
			defer inner.Close()
			s := store.New(inner)
			if err := s.CreateVault(b.Context(), v); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetVault(b.Context(), "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMemoCopiesVersioned: secret and key heads and version records come
// through the memo too; what a read returns is still the caller's own.
// Keys' heads embed an unexported struct whose fields JSON sets (promoted):
// those must be copied deeply as well.
func TestMemoCopiesVersioned(t *testing.T) {
	ctx := t.Context()
	c := kvcache.New(memkv.New(), kvcache.Options{})
	defer c.Close()
	s := store.New(c)
	for _, v := range []string{"v1", "v2"} {
		ver := model.SecretVersion{Version: v, Tags: map[string]string{"t": v}, Enabled: true}
		if _, err := s.AddSecretVersion(ctx, "vault", "sec", ver, "value-"+v,
			func(*model.Secret, bool) error { return nil }); err != nil {
			t.Fatal(err)
		}
		kver := model.KeyVersion{Version: v, Kty: "EC", KeyOps: []string{"sign"}, Tags: map[string]string{"t": v}, Enabled: true}
		if _, err := s.AddKeyVersion(ctx, "vault", "key", kver, []byte("der"),
			func(*model.Key, bool) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		read   func() (any, error)
		mutate func(got any)
	}{
		{"secret latest", func() (any, error) {
			sec, ver, err := s.GetSecretVersion(ctx, "vault", "sec", "")
			return []any{sec, ver}, err
		}, func(got any) {
			sec, ver := got.([]any)[0].(*model.Secret), got.([]any)[1].(*model.SecretVersion)
			sec.Versions[0].Tags["t"] = "changed"
			sec.Deleted = &model.DeletedInfo{}
			ver.Tags["t"] = "changed"
		}},
		{"secret older version", func() (any, error) {
			_, ver, err := s.GetSecretVersion(ctx, "vault", "sec", "v1")
			return ver, err
		}, func(got any) { got.(*model.SecretVersion).Tags["t"] = "changed" }},
		{"secret head", func() (any, error) { return s.GetSecretHead(ctx, "vault", "sec") },
			func(got any) { got.(*model.Secret).Versions[0].Tags["u"] = "added" }},
		{"key head", func() (any, error) { return s.GetKeyHead(ctx, "vault", "key") }, func(got any) {
			k := got.(*model.Key)
			k.Versions[0].KeyOps[0] = "changed"
			k.Versions[0].Tags["t"] = "changed"
		}},
		{"key older version", func() (any, error) {
			_, ver, err := s.GetKeyVersion(ctx, "vault", "key", "v1")
			return ver, err
		}, func(got any) { got.(*model.KeyVersion).KeyOps[0] = "changed" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := tt.read()
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(want)
			for range 2 {
				got, err := tt.read()
				if err != nil {
					t.Fatal(err)
				}
				if j, _ := json.Marshal(got); string(j) != string(wantJSON) {
					t.Fatalf("read = %s, want %s", j, wantJSON)
				}
				tt.mutate(got)
			}
		})
	}
	if c.Stats().Hits.Load() == 0 {
		t.Error("no read was served from the cache: the test did not exercise the memo")
	}
	// A missing name and version keep their meaning.
	if _, err := s.GetSecretHead(ctx, "vault", "missing"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("GetSecretHead(missing) = %v, want NotExist", err)
	}
	if _, _, err := s.GetSecretVersion(ctx, "vault", "sec", "nope"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("GetSecretVersion(nope) = %v, want NotExist", err)
	}
}
