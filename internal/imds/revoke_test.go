package imds_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRevocation: after the machine credential is revoked, cached tokens
// stop being served once RecheckInterval has passed since the server last
// accepted the credential, and at once when any request meets the
// server's 401; an unreachable server does not empty the cache.
func TestRevocation(t *testing.T) {
	revoke := func(t *testing.T, f *fixture) {
		t.Helper()
		if _, err := f.env.Resources.RevokeCredentials(context.Background(), f.env.Instance.SubscriptionID, "coffer", "vm1", ""); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(r response) bool {
		return r.status == http.StatusBadRequest && strings.Contains(r.body, "rejected this machine's credential")
	}
	t.Run("within the recheck interval", func(t *testing.T) {
		clock := newClock()
		f := setup(t, fixtureOptions{frontNow: clock.Now, recheck: time.Minute})
		tokenFields(t, get(t, f.url, tokenTarget(""), nil))
		revoke(t, f)
		clock.Add(30 * time.Second)
		if r := get(t, f.url, tokenTarget(""), nil); r.status != 200 {
			t.Fatalf("within the interval the cached token is served; got %d %s", r.status, r.body)
		}
		clock.Add(31 * time.Second)
		if r := get(t, f.url, tokenTarget(""), nil); !refused(r) {
			t.Errorf("past the interval after revocation = %d %s, want the credential refused", r.status, r.body)
		}
		clock.Add(time.Second)
		if r := get(t, f.url, tokenTarget(""), nil); !refused(r) {
			t.Errorf("the cache still serves after the server refused the credential: %d %s", r.status, r.body)
		}
	})
	t.Run("a 401 drops the cache at once", func(t *testing.T) {
		f := setup(t, fixtureOptions{recheck: time.Hour})
		tokenFields(t, get(t, f.url, tokenTarget(""), nil))
		revoke(t, f)
		if r := get(t, f.url, tokenTarget("&bypass_cache=true"), nil); !refused(r) {
			t.Fatalf("bypassing request after revocation = %d %s", r.status, r.body)
		}
		if r := get(t, f.url, tokenTarget(""), nil); !refused(r) {
			t.Errorf("cached token served after the server refused the credential: %d %s", r.status, r.body)
		}
	})
	t.Run("an unreachable server keeps the cache", func(t *testing.T) {
		clock := newClock()
		f := setup(t, fixtureOptions{frontNow: clock.Now, recheck: time.Minute})
		a := tokenFields(t, get(t, f.url, tokenTarget(""), nil))
		f.env.Close() // the server goes away
		clock.Add(2 * time.Minute)
		b := tokenFields(t, get(t, f.url, tokenTarget(""), nil))
		if a["access_token"] != b["access_token"] {
			t.Errorf("a different token while the server is down")
		}
	})
}
