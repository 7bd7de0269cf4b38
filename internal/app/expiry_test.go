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
