package runproxy_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/imds"
	"github.com/coffer-dev/coffer/internal/runproxy"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// identityNotFound is IMDS's answer for an identity the VM does not have
// (azure-wire-spec §3.2).
const identityNotFound = `{"error":"invalid_request","error_description":"Identity not found"}`

// imdsThroughProxy sends an IMDS token request for vault with the extra
// query through the proxy at addr, as an SDK in `coffer run` does.
func imdsThroughProxy(t *testing.T, addr, extra string) (int, string) {
	t.Helper()
	line := "GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
		url.QueryEscape("https://vault.azure.net") + extra + " HTTP/1.1"
	resp, _, _ := rawProxy(t, addr, line, "Metadata: true", basic(proxyUser, proxyPassword))
	return resp.StatusCode, strings.TrimSpace(body(t, resp))
}

func oidOf(t *testing.T, status int, b string) string {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("token: %d %s", status, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(b), &tok); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", b)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.OID
}

// TestForeignIdentitySelection: a process under `coffer run` gets tokens
// for its VM's identities only. Every selector naming another identity
// (another VM's, one attached elsewhere or nowhere, a service principal,
// the admin, a deleted one) is refused with IMDS's "Identity not found",
// again on a second try, with no token.
func TestForeignIdentitySelection(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := testenv.NewIdentityWorld(env, "sel", "sel-")
	front := &imds.Front{
		Upstream:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.CA.Pool()}}, Timeout: 10 * time.Second},
		ServerURL:  "https://127.0.0.1:" + env.Port(),
		Credential: w.Cred,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), nil)),
		// Selection, not IMDS's rate limit, is under test.
		IdentityRate: 1000,
	}
	p := &runproxy.Proxy{Front: front, ServerAddr: env.Addr, Profile: env.Profile, User: proxyUser, Password: proxyPassword,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	for q, want := range map[string]string{"": w.VM.SystemAssigned, "&object_id=" + w.Mine.PrincipalID: w.Mine.PrincipalID,
		"&msi_res_id=" + url.QueryEscape(w.Mine.ResourceID()): w.Mine.PrincipalID} {
		status, b := imdsThroughProxy(t, addr, q)
		if got := oidOf(t, status, b); got != want {
			t.Fatalf("own identity %q: oid %s, want %s", q, got, want)
		}
	}
	sels := w.Selections(map[string]string{"client_id": "client", "object_id": "object", "msi_res_id": "resource", "mi_res_id": "resource"})
	for _, s := range sels {
		t.Run(s.Identity.Name+"/"+s.Param, func(t *testing.T) {
			for attempt := range 2 {
				if status, b := imdsThroughProxy(t, addr, s.Query()); status != http.StatusBadRequest || b != identityNotFound {
					t.Fatalf("attempt %d: %s=%s: %d %s, want 400 %s", attempt+1, s.Param, s.Value, status, b, identityNotFound)
				}
			}
		})
	}
	if len(sels) < 24 {
		t.Errorf("only %d foreign selections: the world lost identities", len(sels))
	}
}

// TestAllowListPorts: bare hosts (IP literals, localhost) are Coffer's
// only on Coffer's own port (a server on 0.0.0.0 is reached by any of its
// addresses); other names are never Coffer's, not even on that port; cloud
// names are Coffer's on any port.
func TestAllowListPorts(t *testing.T) {
	serverAddr, _ := countingListener(t)
	_, port, _ := net.SplitHostPort(serverAddr)
	p := &runproxy.Proxy{Front: http.NotFoundHandler(), ServerAddr: serverAddr, Profile: cloud.AzureCloud, User: proxyUser, Password: proxyPassword,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tests := []struct {
		target string
		want   int
	}{
		{"10.1.2.3:" + port, 200},
		{"10.1.2.3:443", 403},
		{"example.com:" + port, 403},
		{"vault.azure.net.example.com:" + port, 403},
		{"localhost:" + port, 200},
		{"127.0.0.1:" + port, 200},
		{"127.0.0.1:1", 403},
		{"kv1.vault.azure.net:8443", 200},
		{"management.azure.com:443", 200},
	}
	for _, tt := range tests {
		resp, _, _ := rawProxy(t, addr, "CONNECT "+tt.target+" HTTP/1.1", basic(proxyUser, proxyPassword))
		if resp.StatusCode != tt.want {
			t.Errorf("CONNECT %s = %d, want %d", tt.target, resp.StatusCode, tt.want)
		}
	}
}
