package identity

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
)

const vaultAud = "https://vault.azure.net"

func isVault(a string) bool { return a == vaultAud }

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newCachedVerifier(t *testing.T) (*Verifier, *clock) {
	t.Helper()
	ks, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	return &Verifier{Keys: ks, TenantID: testTenant, Now: clk.Now}, clk
}

func mustSign(t *testing.T, ks *KeySet, c Claims) string {
	t.Helper()
	raw, err := ks.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestVerifyCacheRechecks: a token verified once (and so cached) is
// refused as soon as something that decides validity changes, with the
// same error an uncached verifier gives.
func TestVerifyCacheRechecks(t *testing.T) {
	tests := []struct {
		name string
		// change is applied after the first, successful Verify.
		change func(v *Verifier, clk *clock)
		audOK  func(string) bool
		want   string
	}{
		{"expired while cached", func(_ *Verifier, clk *clock) { clk.now = clk.now.Add(time.Hour + ClockSkew + time.Second) }, isVault, "the token is expired"},
		{"other audience", func(*Verifier, *clock) {}, func(a string) bool { return a == "https://management.azure.com/" }, "Invalid audience. found: https://vault.azure.net."},
		{"signing key removed", func(v *Verifier, _ *clock) {
			v.Keys.mu.Lock()
			clear(v.Keys.keys)
			v.Keys.mu.Unlock()
		}, isVault, "the token is signed with an unknown key"},
		{"key set replaced", func(v *Verifier, _ *clock) {
			ks, err := NewKeySet()
			if err != nil {
				t.Fatal(err)
			}
			// Same kid, different key: a hit must not trust the old verification.
			ks.keys[v.Keys.ActiveKeyID()] = ks.active
			v.Keys = ks
		}, isVault, "the token signature is invalid"},
		{"tenant changed", func(v *Verifier, _ *clock) { v.TenantID = "other-tenant" }, isVault, "Invalid issuer. Expected https://sts.windows.net/other-tenant/, found https://sts.windows.net/" + testTenant + "/."},
		{"clock set back before nbf", func(_ *Verifier, clk *clock) { clk.now = clk.now.Add(-time.Hour) }, isVault, "the token is not yet valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, clk := newCachedVerifier(t)
			raw := mustSign(t, v.Keys, validClaims(clk.now))
			if _, err := v.Verify(raw, isVault); err != nil {
				t.Fatalf("first Verify = %v", err)
			}
			if v.cache.len() != 1 {
				t.Fatalf("cache holds %d entries after a success, want 1", v.cache.len())
			}
			tt.change(v, clk)
			c, err := v.Verify(raw, tt.audOK)
			if err == nil {
				t.Fatalf("Verify after change = %+v, want error", c)
			}
			if errs.KindOf(err) != errs.Unauthenticated {
				t.Errorf("kind = %v, want Unauthenticated", errs.KindOf(err))
			}
			if _, _, msg := errs.Details(err); string(msg) != tt.want {
				t.Errorf("message = %q, want %q", msg, tt.want)
			}
			// The uncached path gives the very same answer.
			u := &Verifier{Keys: v.Keys, TenantID: v.TenantID, Now: v.Now, CacheSize: -1}
			_, uerr := u.Verify(raw, tt.audOK)
			if uerr == nil || uerr.Error() != err.Error() {
				t.Errorf("uncached error = %v, cached error = %v", uerr, err)
			}
		})
	}
}

// TestVerifyCacheAudienceKeepsEntry: refusing a cached token to a caller
// that wants another audience does not stop it working for its own.
func TestVerifyCacheAudienceKeepsEntry(t *testing.T) {
	v, clk := newCachedVerifier(t)
	raw := mustSign(t, v.Keys, validClaims(clk.now))
	for i, tc := range []struct {
		aud    func(string) bool
		wantOK bool
	}{{isVault, true}, {func(string) bool { return false }, false}, {isVault, true}} {
		_, err := v.Verify(raw, tc.aud)
		if (err == nil) != tc.wantOK {
			t.Errorf("call %d: err = %v, want ok=%v", i, err, tc.wantOK)
		}
	}
}

// TestVerifyCacheHitMatchesFullVerify: a hit returns the claims the full
// verification returned, as a copy the caller may change.
func TestVerifyCacheHitMatchesFullVerify(t *testing.T) {
	v, clk := newCachedVerifier(t)
	want := validClaims(clk.now)
	want.Groups = []string{"g1"}
	raw := mustSign(t, v.Keys, want)
	first, err := v.Verify(raw, isVault)
	if err != nil {
		t.Fatal(err)
	}
	first.ObjectID = "changed-by-caller"
	hit, err := v.Verify(raw, isVault)
	if err != nil {
		t.Fatal(err)
	}
	if hit.ObjectID != want.ObjectID || hit.Audience != want.Audience || len(hit.Groups) != 1 || hit.Expiry != want.Expiry {
		t.Errorf("hit = %+v, want %+v", hit, want)
	}
}

// TestVerifyCacheFailuresNotCached: rejected tokens leave no entry, so a
// later request cannot be answered from a failure.
func TestVerifyCacheFailuresNotCached(t *testing.T) {
	v, clk := newCachedVerifier(t)
	c := validClaims(clk.now)
	c.Audience = "https://management.azure.com/"
	raw := mustSign(t, v.Keys, c)
	if _, err := v.Verify(raw, isVault); err == nil {
		t.Fatal("wrong audience accepted")
	}
	if n := v.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after a rejection, want 0", n)
	}
}

// TestVerifyCacheBounded: the cache never holds more than its size, and
// recently used tokens survive eviction better than unused ones.
func TestVerifyCacheBounded(t *testing.T) {
	v, clk := newCachedVerifier(t)
	v.CacheSize = verifyShards * 4
	hot := mustSign(t, v.Keys, validClaims(clk.now))
	for i := range 10 * v.CacheSize {
		c := validClaims(clk.now)
		c.ObjectID = fmt.Sprintf("oid-%d", i)
		if _, err := v.Verify(mustSign(t, v.Keys, c), isVault); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(hot, isVault); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n > v.CacheSize {
			t.Fatalf("cache holds %d entries, bound %d", n, v.CacheSize)
		}
	}
	sum := tokenSum(hot)
	if v.cache.get(&sum) == nil {
		t.Error("the token used on every request was evicted")
	}
}

func TestVerifyCacheOff(t *testing.T) {
	v, clk := newCachedVerifier(t)
	v.CacheSize = -1
	raw := mustSign(t, v.Keys, validClaims(clk.now))
	for range 2 {
		if _, err := v.Verify(raw, isVault); err != nil {
			t.Fatal(err)
		}
	}
	if v.cache != nil {
		t.Error("CacheSize -1 built a cache")
	}
}

// TestVerifyCacheConcurrent: many goroutines verifying many tokens
// through a cache small enough to evict all the time each get their own
// token's claims back (run with -race).
func TestVerifyCacheConcurrent(t *testing.T) {
	v, clk := newCachedVerifier(t)
	v.CacheSize = verifyShards * 2
	raws := make([]string, 64)
	for i := range raws {
		c := validClaims(clk.now)
		c.ObjectID = fmt.Sprintf("oid-%d", i)
		raws[i] = mustSign(t, v.Keys, c)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				k := (g*31 + i*7) % len(raws)
				c, err := v.Verify(raws[k], isVault)
				if err != nil {
					t.Error(err)
					return
				}
				if want := fmt.Sprintf("oid-%d", k); c.ObjectID != want {
					t.Errorf("token %d verified as %s", k, c.ObjectID)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := v.cache.len(); n > v.CacheSize {
		t.Errorf("cache holds %d entries, bound %d", n, v.CacheSize)
	}
}
