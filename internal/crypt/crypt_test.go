package crypt_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

// newStore wraps memkv: if the whole conformance suite passes through the
// decorator, encryption is transparent to every caller of kv.Store.
func newStore(*testing.T) kv.Store { return crypt.Wrap(memkv.New(), crypt.NewRandomRing()) }

func TestConformance(t *testing.T) { kvtest.Run(t, newStore) }

func TestConcurrent(t *testing.T) { kvtest.RunConcurrent(t, newStore) }

func key32(b byte) []byte { return bytes.Repeat([]byte{b}, crypt.KeySize) }

func mustRing(t *testing.T, active string, keys map[string][]byte) *crypt.Ring {
	t.Helper()
	r, err := crypt.NewRing(active, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNoPlaintextAtRest(t *testing.T) {
	ctx := t.Context()
	raw := memkv.New()
	s := crypt.Wrap(raw, crypt.NewRandomRing())
	secret := []byte("correct horse battery staple")
	if err := s.Put(ctx, "v/put", secret); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "v/create", secret); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, "v/update", func([]byte) ([]byte, error) { return secret, nil }); err != nil {
		t.Fatal(err)
	}
	pairs, err := raw.List(ctx, "")
	if err != nil || len(pairs) != 3 {
		t.Fatalf("raw List = %d pairs, %v, want 3", len(pairs), err)
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		if bytes.Contains(p.Value, secret) || bytes.Contains(p.Value, secret[:8]) {
			t.Errorf("raw value of %q contains the plaintext", p.Key)
		}
		// A fresh DEK and nonce per value: equal plaintexts never look equal.
		body := string(p.Value[len(p.Value)-len(secret)-16:])
		if seen[body] {
			t.Errorf("raw value of %q repeats another key's ciphertext", p.Key)
		}
		seen[body] = true
	}
	// Keys stay in the clear: List needs their order.
	if pairs[0].Key != "v/create" {
		t.Errorf("raw first key = %q, want v/create", pairs[0].Key)
	}
}

func TestTamper(t *testing.T) {
	ctx := t.Context()
	raw := memkv.New()
	s := crypt.Wrap(raw, crypt.NewRandomRing())
	if err := s.Put(ctx, "k", []byte("secret value")); err != nil {
		t.Fatal(err)
	}
	good, err := raw.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}

	// Every single-bit flip, in every byte, and every truncation must fail
	// with ErrDecrypt, never succeed or panic.
	type tc struct {
		name string
		raw  []byte
	}
	var tests []tc
	for i := range good {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(good)
			b[i] ^= bit
			tests = append(tests, tc{fmt.Sprintf("flip byte %d bit %#x", i, bit), b})
		}
	}
	for n := range len(good) {
		tests = append(tests, tc{fmt.Sprintf("truncate to %d", n), good[:n:n]})
	}
	tests = append(tests,
		tc{"appended byte", append(bytes.Clone(good), 0)},
		tc{"plaintext", []byte("secret value")},
	)
	for _, tt := range tests {
		if err := raw.Put(ctx, "k", tt.raw); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "k"); !errors.Is(err, crypt.ErrDecrypt) {
			t.Errorf("%s: Get = %q, %v, want ErrDecrypt", tt.name, v, err)
		}
	}

	// The same failure through List and Update; Update must not call fn or
	// change what is stored.
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	if err := raw.Put(ctx, "k", bad); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, ""); !errors.Is(err, crypt.ErrDecrypt) {
		t.Errorf("List over a tampered value = %v, want ErrDecrypt", err)
	}
	err = s.Update(ctx, "k", func([]byte) ([]byte, error) {
		t.Error("Update called fn with an undecryptable value")
		return []byte("x"), nil
	})
	if !errors.Is(err, crypt.ErrDecrypt) {
		t.Errorf("Update over a tampered value = %v, want ErrDecrypt", err)
	}
	if got, _ := raw.Get(ctx, "k"); !bytes.Equal(got, bad) {
		t.Errorf("Update over a tampered value changed the stored bytes")
	}
}

func TestMovedCiphertext(t *testing.T) {
	ctx := t.Context()
	raw := memkv.New()
	s := crypt.Wrap(raw, crypt.NewRandomRing())
	if err := s.Put(ctx, "vault/a/secret", []byte("a's secret")); err != nil {
		t.Fatal(err)
	}
	ct, err := raw.Get(ctx, "vault/a/secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Put(ctx, "vault/b/secret", ct); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "vault/b/secret"); !errors.Is(err, crypt.ErrDecrypt) {
		t.Errorf("Get of a ciphertext moved to another key = %q, %v, want ErrDecrypt", v, err)
	}
	if v, err := s.Get(ctx, "vault/a/secret"); err != nil || string(v) != "a's secret" {
		t.Errorf("Get of the original = %q, %v, want the secret", v, err)
	}
}

func TestRotation(t *testing.T) {
	ctx := t.Context()
	raw := memkv.New()
	old := crypt.Wrap(raw, mustRing(t, "k1", map[string][]byte{"k1": key32(1)}))
	if err := old.Put(ctx, "a", []byte("sealed under k1")); err != nil {
		t.Fatal(err)
	}
	if err := old.Put(ctx, "b", []byte("also k1")); err != nil {
		t.Fatal(err)
	}

	// Rotate: k2 becomes active, k1 stays to read.
	rotated := crypt.Wrap(raw, mustRing(t, "k2", map[string][]byte{"k1": key32(1), "k2": key32(2)}))
	if v, err := rotated.Get(ctx, "a"); err != nil || string(v) != "sealed under k1" {
		t.Fatalf("Get after rotation = %q, %v, want the old value", v, err)
	}
	if err := rotated.Put(ctx, "c", []byte("sealed under k2")); err != nil {
		t.Fatal(err)
	}
	// Update rewrites a value, and so moves it to the active key.
	if err := rotated.Update(ctx, "b", func(v []byte) ([]byte, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"a": "k1", "b": "k2", "c": "k2"} {
		if got := kekID(t, raw, key); got != want {
			t.Errorf("KEK id of %q = %q, want %q", key, got, want)
		}
	}

	// Retire k1: what it sealed is now unreadable, with ErrDecrypt.
	retired := crypt.Wrap(raw, mustRing(t, "k2", map[string][]byte{"k2": key32(2)}))
	if _, err := retired.Get(ctx, "a"); !errors.Is(err, crypt.ErrDecrypt) {
		t.Errorf("Get under a retired KEK = %v, want ErrDecrypt", err)
	}
	if v, err := retired.Get(ctx, "b"); err != nil || string(v) != "also k1" {
		t.Errorf("Get of a rewritten value = %q, %v, want %q", v, err, "also k1")
	}

	// The same id with different key bytes is not the same KEK.
	wrongKey := crypt.Wrap(raw, mustRing(t, "k2", map[string][]byte{"k2": key32(3)}))
	if _, err := wrongKey.Get(ctx, "c"); !errors.Is(err, crypt.ErrDecrypt) {
		t.Errorf("Get with the wrong key bytes = %v, want ErrDecrypt", err)
	}
}

// kekID reads the KEK id out of a stored value's header (see the format in
// the package doc, which this pins down).
func kekID(t *testing.T, raw kv.Store, key string) string {
	t.Helper()
	v, err := raw.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) < 3 || v[0] != 0xC5 || v[1] != 0x01 || len(v) < 3+int(v[2]) {
		t.Fatalf("raw value of %q has no version-1 header: % x", key, v[:min(len(v), 8)])
	}
	return string(v[3 : 3+int(v[2])])
}

func TestNewRing(t *testing.T) {
	tests := []struct {
		name    string
		active  string
		keys    map[string][]byte
		wantErr bool
	}{
		{"OK", "a", map[string][]byte{"a": key32(1), "b": key32(2)}, false},
		{"LongestID", strings.Repeat("i", 255), map[string][]byte{strings.Repeat("i", 255): key32(1)}, false},
		{"NoKeys", "a", nil, true},
		{"ActiveMissing", "c", map[string][]byte{"a": key32(1)}, true},
		{"EmptyID", "", map[string][]byte{"": key32(1)}, true},
		{"IDTooLong", strings.Repeat("i", 256), map[string][]byte{strings.Repeat("i", 256): key32(1)}, true},
		{"ShortKey", "a", map[string][]byte{"a": make([]byte, 16)}, true},
		{"ShortOtherKey", "a", map[string][]byte{"a": key32(1), "b": make([]byte, 31)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := crypt.NewRing(tt.active, tt.keys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewRing(%q, ...) = %v, %v, want error %v", tt.active, r, err, tt.wantErr)
			}
			if err == nil && r.ActiveID() != tt.active {
				t.Errorf("ActiveID() = %q, want %q", r.ActiveID(), tt.active)
			}
		})
	}
}

func TestRingHidesKeys(t *testing.T) {
	key := key32(0xAB)
	r := mustRing(t, "k", map[string][]byte{"k": key})
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, r)
		for _, leak := range []string{string(key), fmt.Sprintf("%x", key), base64.StdEncoding.EncodeToString(key), "171, 171", "ab ab"} {
			if strings.Contains(out, leak) {
				t.Errorf("Sprintf(%q, ring) = %q, leaks the key", format, out)
			}
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "coffer.key")

	r1, err := crypt.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %#o, want 0600", fi.Mode().Perm())
	}
	var kf struct {
		Active string            `json:"active"`
		Keys   map[string]string `json:"keys"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &kf); err != nil || kf.Active != r1.ActiveID() || len(kf.Keys) != 1 {
		t.Errorf("key file = %s (%v), want one key, active %q", data, err, r1.ActiveID())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir holds %d entries after create, want only the key file", len(entries))
	}

	// Loading again yields the same key: what r1 sealed, r2 opens.
	r2, err := crypt.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	raw := memkv.New()
	if err := crypt.Wrap(raw, r1).Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := crypt.Wrap(raw, r2).Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Get with the reloaded ring = %q, %v, want v", v, err)
	}
}

func TestLoadOrCreateKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.key")
	const racers = 8
	ids := make([]string, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			r, err := crypt.LoadOrCreateKeyFile(path)
			if err != nil {
				t.Errorf("LoadOrCreateKeyFile = %v", err)
				return
			}
			ids[i] = r.ActiveID()
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("racer %d got key %q, racer 0 got %q: concurrent creators must agree", i, id, ids[0])
		}
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(key32(1))
	tests := []struct {
		name, content string
	}{
		{"NotJSON", "not json"},
		{"Empty", ""},
		{"NoActive", `{"keys":{"a":"` + good + `"}}`},
		{"ActiveMissing", `{"active":"b","keys":{"a":"` + good + `"}}`},
		{"BadBase64", `{"active":"a","keys":{"a":"!!!"}}`},
		{"ShortKey", `{"active":"a","keys":{"a":"` + base64.StdEncoding.EncodeToString(make([]byte, 16)) + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "coffer.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if r, err := crypt.LoadOrCreateKeyFile(path); err == nil {
				t.Errorf("LoadOrCreateKeyFile(%s) = %v, want an error", tt.content, r)
			}
			// A broken file is reported, never replaced by a new key.
			if data, _ := os.ReadFile(path); string(data) != tt.content {
				t.Errorf("key file was rewritten to %s", data)
			}
		})
	}
	t.Run("MissingDir", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "coffer.key")
		if _, err := crypt.LoadOrCreateKeyFile(path); err == nil {
			t.Error("LoadOrCreateKeyFile in a missing directory = nil error, want one")
		}
	})
}

func BenchmarkWrapGet(b *testing.B) {
	s := crypt.Wrap(memkv.New(), crypt.NewRandomRing())
	value := make([]byte, 1024)
	rand.Read(value)
	if err := s.Put(b.Context(), "bench/key", value); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := s.Get(b.Context(), "bench/key"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrapPut: an envelope-encrypted Put of a 300-byte value (the
// size of a secret's head record), the sealing a SET does three times.
func BenchmarkWrapPut(b *testing.B) {
	s := crypt.Wrap(memkv.New(), crypt.NewRandomRing())
	value := make([]byte, 300)
	rand.Read(value)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Put(b.Context(), "bench/key", value); err != nil {
			b.Fatal(err)
		}
	}
}
