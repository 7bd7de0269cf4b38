package msi_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/msi"
	"github.com/coffer-dev/coffer/internal/testenv"
)

const vaultResource = "https://vault.azure.net"

// identityNotFound is the App Service / IMDS answer for an identity the
// caller does not have (azure-wire-spec §3.2): 400, never 404, which SDKs
// would retry for a minute.
const identityNotFound = `{"error":"invalid_request","error_description":"Identity not found"}`

type response struct {
	status int
	body   string
}

func appServiceGet(t *testing.T, env *testenv.Env, cred, query string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://localhost:"+env.Port()+msi.TokenPath+"?api-version=2019-08-01&resource="+
		url.QueryEscape(vaultResource)+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", cred)
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, strings.TrimSpace(string(b))}
}

// tokenOID returns the oid claim of a 200 token response.
func tokenOID(t *testing.T, r response) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(body.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access_token is not a JWT: %s", r.body)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.OID
}

// TestForeignIdentitySelection: a VM's machine credential obtains tokens
// for that VM's identities only. Naming any other identity (another VM's,
// one attached elsewhere or nowhere, a service principal, the admin, a
// deleted one) by any App Service selector is refused with "Identity not
// found", carries no token, and leaves nothing behind: asking again is
// still refused, and the owners' tokens (fetched first, so the server's
// cache holds them) are still theirs.
func TestForeignIdentitySelection(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := testenv.NewIdentityWorld(env, "sel", "sel-")

	// Control: the VM's own identities work by every selector.
	for _, q := range []string{"", "&client_id=" + w.Mine.ClientID, "&principal_id=" + w.Mine.PrincipalID,
		"&object_id=" + w.Mine.PrincipalID, "&mi_res_id=" + url.QueryEscape(w.Mine.ResourceID())} {
		want := w.Mine.PrincipalID
		if q == "" {
			want = w.VM.SystemAssigned
		}
		if got := tokenOID(t, appServiceGet(t, env, w.Cred, q)); got != want {
			t.Fatalf("own identity %q: oid %s, want %s", q, got, want)
		}
	}
	// The owners fetch theirs first, so that a refusal cannot be a cache miss.
	for _, f := range w.Foreign {
		if f.OwnerCred != "" {
			if got := tokenOID(t, appServiceGet(t, env, f.OwnerCred, "&principal_id="+f.ObjectID)); got != f.ObjectID {
				t.Fatalf("%s for its owner: oid %s", f.Name, got)
			}
		}
	}

	sels := w.Selections(map[string]string{"client_id": "client", "clientid": "client", "object_id": "object",
		"principal_id": "object", "mi_res_id": "resource", "msi_res_id": "resource"})
	for _, s := range sels {
		t.Run(s.Identity.Name+"/"+s.Param, func(t *testing.T) {
			for attempt := range 2 {
				r := appServiceGet(t, env, w.Cred, s.Query())
				if r.status != http.StatusBadRequest || r.body != identityNotFound {
					t.Fatalf("attempt %d: %s=%s: %d %s, want 400 %s", attempt+1, s.Param, s.Value, r.status, r.body, identityNotFound)
				}
			}
			if s.Identity.OwnerCred != "" {
				if got := tokenOID(t, appServiceGet(t, env, s.Identity.OwnerCred, "&principal_id="+s.Identity.ObjectID)); got != s.Identity.ObjectID {
					t.Errorf("after the refusal, the owner gets oid %s, want %s", got, s.Identity.ObjectID)
				}
			}
		})
	}
	if len(sels) < 30 {
		t.Errorf("only %d foreign selections: the world lost identities", len(sels))
	}
}
