package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestThrottled: past the per-vault budget Key Vault answers 429 Throttled
// with Retry-After, and the unmodified SDK waits and succeeds.
func TestThrottled(t *testing.T) {
	th := &keyvault.Throttle{Rate: 20, Burst: 5, Now: time.Now}
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, Throttle: th})
	c := sdkClient(t, env, "default", env.Admin.ClientID, env.Admin.ClientSecret)
	ctx := context.Background()
	if _, err := c.SetSecret(ctx, "t", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
		t.Fatal(err)
	}
	tok := adminToken(t, env)
	saw429 := false
	for range 20 {
		req, _ := http.NewRequest("GET", env.VaultURL("default")+"secrets/t?api-version=7.6", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := env.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 512)
		n, _ := resp.Body.Read(b)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			saw429 = true
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b[:n]), `"code":"Throttled"`) ||
				!strings.Contains(string(b[:n]), "VaultRequestTypeLimitReached") {
				t.Errorf("429 = headers %v body %s", resp.Header, b[:n])
			}
			break
		}
	}
	if !saw429 {
		t.Fatal("20 back-to-back requests over a burst of 5 were never throttled")
	}
	// The SDK's retry policy honours Retry-After and gets through.
	for i := range 10 {
		if _, err := c.GetSecret(ctx, "t", "", nil); err != nil {
			t.Fatalf("GetSecret %d under throttling: %v", i, err)
		}
	}
}
