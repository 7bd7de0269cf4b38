package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/resources"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCredentialExpiry: a machine credential created with expiresOn works
// until then and is refused after; an expiry in the past is a 400.
func TestCredentialExpiry(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	env := opsEnv(t, app.Config{Now: clock.Now})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", "westus", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm1", resources.VMSpec{SystemAssigned: true}); err != nil {
		t.Fatal(err)
	}
	armTok := adminToken(t, env, "https://management.azure.com")
	credsURL := "https://management.azure.com/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/cofferCredentials?api-version=2024-11-01"
	st, b := call(t, env, "POST", credsURL, armTok, map[string]string{"expiresOn": clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	var out struct{ Credential, ExpiresOn string }
	if err := json.Unmarshal(b, &out); st != 200 || err != nil || out.Credential == "" || out.ExpiresOn == "" {
		t.Fatalf("create with expiresOn = %d %s", st, b)
	}
	msiToken := func() int {
		req, _ := http.NewRequest("GET", "https://localhost:"+env.Port()+"/msi/token?api-version=2019-08-01&resource="+url.QueryEscape("https://vault.azure.net"), nil)
		req.Header.Set("X-IDENTITY-HEADER", out.Credential)
		res, err := env.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := msiToken(); st != 200 {
		t.Fatalf("token before expiry = %d", st)
	}
	clock.Add(61 * time.Minute)
	if st := msiToken(); st != 401 {
		t.Errorf("token after expiry = %d, want 401", st)
	}
	armTok = adminToken(t, env, "https://management.azure.com")
	if st, b := call(t, env, "POST", credsURL, armTok, map[string]string{"expiresOn": clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}); st != 400 {
		t.Errorf("expiresOn in the past = %d %s, want 400", st, b)
	}
	if st, b := call(t, env, "POST", credsURL, armTok, nil); st != 200 {
		t.Errorf("create without a body = %d %s", st, b)
	}
}

// TestCredentialRenewal: PATCH expiresOn moves a live credential's expiry
// (coffer run's renewal); a credential that has expired, or was revoked,
// cannot be renewed back to life (404 CredentialNotFound); an expiry in
// the past or none is a 400.
func TestCredentialRenewal(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	env := opsEnv(t, app.Config{Now: clock.Now})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", "westus", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm1", resources.VMSpec{SystemAssigned: true}); err != nil {
		t.Fatal(err)
	}
	base := "https://management.azure.com/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/cofferCredentials"
	const q = "?api-version=2024-11-01"
	at := func(d time.Duration) map[string]string {
		return map[string]string{"expiresOn": clock.Now().Add(d).UTC().Format(time.RFC3339)}
	}
	armTok := adminToken(t, env, "https://management.azure.com")
	var out struct{ KeyID, Credential, ExpiresOn string }
	st, b := call(t, env, "POST", base+q, armTok, at(15*time.Minute))
	if err := json.Unmarshal(b, &out); st != 200 || err != nil {
		t.Fatalf("create = %d %s", st, b)
	}
	msiToken := func() int {
		req, _ := http.NewRequest("GET", "https://localhost:"+env.Port()+"/msi/token?api-version=2019-08-01&resource="+url.QueryEscape("https://vault.azure.net"), nil)
		req.Header.Set("X-IDENTITY-HEADER", out.Credential)
		res, err := env.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// Renewed every 5 minutes for an hour: alive throughout.
	for range 12 {
		clock.Add(5 * time.Minute)
		st, b := call(t, env, "PATCH", base+"/"+out.KeyID+q, armTok, at(15*time.Minute))
		var r struct{ KeyID, Credential, ExpiresOn string }
		if err := json.Unmarshal(b, &r); st != 200 || err != nil || r.KeyID != out.KeyID || r.Credential != "" || r.ExpiresOn != at(15 * time.Minute)["expiresOn"] {
			t.Fatalf("renew = %d %s", st, b)
		}
		if st := msiToken(); st != 200 {
			t.Fatalf("token after renewal = %d", st)
		}
		armTok = adminToken(t, env, "https://management.azure.com")
	}
	for _, body := range []map[string]string{at(-time.Minute), {}} {
		if st, b := call(t, env, "PATCH", base+"/"+out.KeyID+q, armTok, body); st != 400 {
			t.Errorf("renew with %v = %d %s, want 400", body, st, b)
		}
	}
	// No renewal (a killed run): dead at expiry, and for good.
	clock.Add(16 * time.Minute)
	if st := msiToken(); st != 401 {
		t.Errorf("token after expiry = %d, want 401", st)
	}
	armTok = adminToken(t, env, "https://management.azure.com")
	if st, b := call(t, env, "PATCH", base+"/"+out.KeyID+q, armTok, at(15*time.Minute)); st != 404 {
		t.Errorf("renew an expired credential = %d %s, want 404", st, b)
	}
	if st := msiToken(); st != 401 {
		t.Errorf("token after renewing an expired credential = %d, want 401", st)
	}
	if st, b := call(t, env, "PATCH", base+"/00000000000000000000000000000000"+q, armTok, at(time.Minute)); st != 404 {
		t.Errorf("renew an unknown credential = %d %s, want 404", st, b)
	}
}
