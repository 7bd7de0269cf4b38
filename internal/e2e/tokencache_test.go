package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// The server remembers verified tokens (identity.Verifier's cache). These
// tests use a token until it is surely cached, then change what makes it
// valid, and expect the next request to be refused exactly as an
// uncached token would be.

// TestTokenCacheExpiry: a token used (and so cached) while valid is
// refused once the clock passes its exp plus the allowed skew.
func TestTokenCacheExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, Now: clock})
	admin, err := env.Store.GetPrincipal(t.Context(), env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := env.Minter.Mint(admin, vaultResource, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	url := kvURL(env, "/secrets?api-version=7.6")
	for i := range 3 {
		if r := rawDo(t, env, "GET", url, tok.Raw, nil, nil); r.Status != http.StatusOK {
			t.Fatalf("use %d while valid: %d %s", i, r.Status, r.Body)
		}
	}
	// Still inside the skew: accepted, as before the cache.
	mu.Lock()
	now = now.Add(10*time.Minute + identity.ClockSkew - time.Second)
	mu.Unlock()
	if r := rawDo(t, env, "GET", url, tok.Raw, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("within skew: %d %s", r.Status, r.Body)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	r := rawDo(t, env, "GET", url, tok.Raw, nil, nil)
	if msg := r.wantKVError(t, "after exp", 401, "Unauthorized", ""); msg != "AKV10001: Error validating token: the token is expired" {
		t.Errorf("message = %q", msg)
	}
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("no challenge for an expired cached token")
	}
}

// TestTokenCachePrincipalDeletedThroughGraph: deleting the service
// principal through Graph (as `az ad sp delete` does) makes its cached
// Key Vault and ARM tokens fail on the very next request.
func TestTokenCachePrincipalDeletedThroughGraph(t *testing.T) {
	w := newAzWorld(t)
	p := w.newPrincipal(t, "cached-then-deleted")
	grantSecrets(t, w.env, p.ObjectID, "list")
	kvTok := w.token(t, p, vaultScope)
	armTok := w.token(t, p, armScope)
	kvList := kvURL(w.env, "/secrets?api-version=7.6")
	armList := "/subscriptions/" + w.sub + "/resourceGroups"
	for range 2 {
		w.do(t, "GET", kvList, kvTok, nil).expect(t, "KV before delete", http.StatusOK)
		// No role: 403, which still proves the token was verified (and cached).
		if r := w.arm(t, "GET", armList, "2021-04-01", armTok, nil); r.Status == http.StatusUnauthorized {
			t.Fatalf("ARM before delete: %d %s", r.Status, r.Body)
		}
	}
	w.graph(t, "DELETE", "/v1.0/servicePrincipals/"+p.ObjectID, w.graphTok, nil).expect(t, "delete service principal", http.StatusNoContent)

	r := w.do(t, "GET", kvList, kvTok, nil)
	if msg := r.wantKVError(t, "KV after delete", 401, "Unauthorized", ""); !strings.Contains(msg, "no longer exists") {
		t.Errorf("KV message = %q", msg)
	}
	r = w.arm(t, "GET", armList, "2021-04-01", armTok, nil).expect(t, "ARM after delete", http.StatusUnauthorized)
	if !strings.Contains(string(r.Body), "InvalidAuthenticationToken") {
		t.Errorf("ARM body = %s", r.Body)
	}
}

// TestTokenCacheAudience: a token cached after a successful request to
// one API is still refused, with that API's audience error, by another.
func TestTokenCacheAudience(t *testing.T) {
	w := newAzWorld(t)
	kvTok := adminToken(t, w.env)
	kvList := kvURL(w.env, "/secrets?api-version=7.6")
	armList := "/subscriptions/" + w.sub + "/resourceGroups"
	for range 2 {
		w.do(t, "GET", kvList, kvTok, nil).expect(t, "vault token at Key Vault", http.StatusOK)
		w.arm(t, "GET", armList, "2021-04-01", w.armTok, nil).expect(t, "ARM token at ARM", http.StatusOK)
		w.graph(t, "GET", "/v1.0/servicePrincipals", w.graphTok, nil).expect(t, "Graph token at Graph", http.StatusOK)
	}
	r := w.arm(t, "GET", armList, "2021-04-01", kvTok, nil).expect(t, "vault token at ARM", http.StatusUnauthorized)
	if !strings.Contains(string(r.Body), "InvalidAuthenticationTokenAudience") {
		t.Errorf("vault token at ARM: %s", r.Body)
	}
	r = w.do(t, "GET", kvList, w.armTok, nil)
	if msg := r.wantKVError(t, "ARM token at Key Vault", 401, "Unauthorized", ""); !strings.HasPrefix(msg,
		"AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com") {
		t.Errorf("message = %q", msg)
	}
	w.graph(t, "GET", "/v1.0/servicePrincipals", kvTok, nil).expect(t, "vault token at Graph", http.StatusUnauthorized)
	// And refusing it elsewhere did not spoil it where it belongs.
	w.do(t, "GET", kvList, kvTok, nil).expect(t, "vault token at Key Vault again", http.StatusOK)
}
