package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestRestart: everything that clients hold on to survives a restart on
// the same data directory: tenant, CA, signing key (so issued tokens keep
// working), the admin credential file and the secrets.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	env1 := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, DataDir: dir})
	if env1.Admin == nil {
		t.Fatal("first start created no admin credential")
	}
	tok := adminToken(t, env1)
	set := putSecret(t, env1, tok, "durable", map[string]any{"value": "still-here", "tags": map[string]string{"a": "b"}})
	rawDo(t, env1, "DELETE", kvURL(env1, "/secrets/durable?api-version=7.6"), tok, nil, nil)
	rawDo(t, env1, "POST", kvURL(env1, "/deletedsecrets/durable/recover?api-version=7.6"), tok, nil, nil)
	putSecret(t, env1, tok, "tombstone", map[string]any{"value": "x"})
	rawDo(t, env1, "DELETE", kvURL(env1, "/secrets/tombstone?api-version=7.6"), tok, nil, nil)

	credBefore, err := os.ReadFile(filepath.Join(dir, app.AdminCredFile))
	if err != nil {
		t.Fatal(err)
	}
	caBefore := env1.CA.CertPEM()
	kidBefore := env1.Minter.Keys.ActiveKeyID()
	tidBefore := env1.Instance.TenantID
	oldPool := env1.CA.Pool()

	// Close explicitly; testenv's cleanup closes again, which must be harmless.
	if err := env1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := env1.Close(); err != nil {
		t.Logf("second Close: %v", err)
	}

	env2 := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, DataDir: dir})
	if env2.Instance.TenantID != tidBefore {
		t.Errorf("tenant %s became %s", tidBefore, env2.Instance.TenantID)
	}
	if !bytes.Equal(env2.CA.CertPEM(), caBefore) {
		t.Error("CA certificate changed")
	}
	if ca, err := os.ReadFile(filepath.Join(dir, app.CAFile)); err != nil || !bytes.Equal(ca, caBefore) {
		t.Errorf("ca.pem on disk changed (%v)", err)
	}
	if kid := env2.Minter.Keys.ActiveKeyID(); kid != kidBefore {
		t.Errorf("signing kid %s became %s", kidBefore, kid)
	}
	if env2.Admin != nil {
		t.Error("restart created a new admin credential")
	}
	credAfter, err := os.ReadFile(filepath.Join(dir, app.AdminCredFile))
	if err != nil || !bytes.Equal(credAfter, credBefore) {
		t.Fatalf("admin credential file changed (%v)", err)
	}

	// A client that trusted the old CA trusts the new listener.
	oldTrust := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, env2.Addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: oldPool, MinVersion: tls.VersionTLS12},
	}}
	req, _ := http.NewRequest("GET", kvURL(env2, "/secrets/durable/?api-version=7.6"), nil)
	req.Header.Set("Authorization", "Bearer "+tok) // issued before the restart
	resp, err := oldTrust.Do(req)
	if err != nil {
		t.Fatalf("old CA / old token: %v", err)
	}
	var got map[string]any
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || got["value"] != "still-here" || got["id"] != set["id"] {
		t.Errorf("after restart GET = %d %v, want the secret %v", resp.StatusCode, got, set["id"])
	}

	// The credential from the file still gets tokens.
	var cred app.AdminCredential
	if err := json.Unmarshal(credAfter, &cred); err != nil {
		t.Fatal(err)
	}
	env2.Admin = &cred
	tok2 := adminToken(t, env2)
	if r := rawDo(t, env2, "GET", kvURL(env2, "/deletedsecrets/tombstone?api-version=7.6"), tok2, nil, nil); r.Status != 200 {
		t.Errorf("soft-deleted secret after restart = %d %s", r.Status, r.Body)
	}
	if ids := listIDs(t, env2, tok2, kvURL(env2, "/secrets?api-version=7.6")); len(ids) != 1 {
		t.Errorf("secrets after restart = %v", ids)
	}
}
