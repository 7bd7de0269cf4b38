package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/imds"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvfault"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// faultWorld is a server whose storage can be made to fail, with the
// admin's tokens and a VM credential obtained while it was healthy.
type faultWorld struct {
	env                     *testenv.Env
	faults                  *kvfault.Store
	kvTok, armTok, graphTok string
	vmCred                  string
	secrets                 []string // values that must never appear in a response
}

func newFaultWorld(t *testing.T) *faultWorld {
	t.Helper()
	var faults *kvfault.Store
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, WrapStore: func(s kv.Store) kv.Store {
		faults = kvfault.Wrap(s)
		return faults
	}})
	w := &faultWorld{env: env, faults: faults}
	w.kvTok = adminToken(t, env)
	w.armTok = clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, armScope)
	w.graphTok = clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, graphScope)
	rawDo(t, env, "PUT", kvURL(env, "/secrets/kept?api-version=7.6"), w.kvTok, []byte(`{"value":"kept-value-4f1d"}`), nil).expect(t, "seed secret", 200)
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	w.vmCred = newVMCred(t, env, ctx, sub)
	w.secrets = []string{"kept-value-4f1d", "new-value-9a7c", env.Admin.ClientSecret, w.vmCred, "kvfault", "injected"}
	return w
}

// faultCase is one request of an API family with the storage rule that
// makes it fail.
type faultCase struct {
	family, name string
	rule         kvfault.Rule
	do           func(t *testing.T, w *faultWorld) *rawResp
	// shape checks the error body in the family's wire shape.
	shape func(t *testing.T, r *rawResp)
	// unavailable is the status for an Unavailable backend (503, or 500
	// where the protocol has no 503: IMDS and App Service).
	unavailable int
	// bug, when set, names a known defect that gives this case the wrong
	// status (in a package owned elsewhere), for the fault kinds in
	// bugKinds (all when empty). The status is then logged,
	// not asserted; every other check (shape, no leak, nothing written,
	// server alive) still applies. Once fixed, the case fails until the
	// field is dropped, so the expectation becomes strict again.
	bug      string
	bugKinds []string
}

// azureError: {"error":{"code","message"}} (Key Vault, ARM, Graph).
func azureError(t *testing.T, r *rawResp) {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Errorf("body %s is not {\"error\":{\"code\",\"message\"}}: %v", r.Body, err)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
}

// oauthError: {"error","error_description"} (token endpoints, IMDS, App Service).
func oauthError(t *testing.T, r *rawResp) {
	t.Helper()
	var b struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Error == "" || b.ErrorDescription == "" {
		t.Errorf("body %s is not {\"error\",\"error_description\"}: %v", r.Body, err)
	}
}

func faultCases() []faultCase {
	kv := func(method, path string, body []byte) func(*testing.T, *faultWorld) *rawResp {
		return func(t *testing.T, w *faultWorld) *rawResp {
			return rawDo(t, w.env, method, kvURL(w.env, path), w.kvTok, body, nil)
		}
	}
	armReq := func(method, path string, body []byte) func(*testing.T, *faultWorld) *rawResp {
		return func(t *testing.T, w *faultWorld) *rawResp {
			u := armBase + strings.ReplaceAll(path, "{sub}", w.env.Instance.SubscriptionID)
			return rawDo(t, w.env, method, u, w.armTok, body, nil)
		}
	}
	graphReq := func(method, path string, body []byte) func(*testing.T, *faultWorld) *rawResp {
		return func(t *testing.T, w *faultWorld) *rawResp {
			return rawDo(t, w.env, method, graphBase+path, w.graphTok, body, nil)
		}
	}
	token := func(t *testing.T, w *faultWorld) *rawResp {
		return postForm(t, w.env, tokenURL(w.env, "v2"), url.Values{"grant_type": {"client_credentials"},
			"client_id": {w.env.Admin.ClientID}, "client_secret": {w.env.Admin.ClientSecret}, "scope": {vaultScope}})
	}
	appService := func(t *testing.T, w *faultWorld) *rawResp {
		return rawDo(t, w.env, "GET", "https://localhost:"+w.env.Port()+"/msi/token?api-version=2019-08-01&resource="+url.QueryEscape(vaultResource),
			"", nil, map[string]string{"X-IDENTITY-HEADER": w.vmCred})
	}
	imdsReq := func(t *testing.T, w *faultWorld) *rawResp {
		front := &imds.Front{Upstream: w.env.Client(), ServerURL: "https://localhost:" + w.env.Port(), Credential: w.vmCred,
			Logger: slog.New(slog.DiscardHandler)}
		srv := httptest.NewServer(front)
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+url.QueryEscape(vaultResource), nil)
		req.Header.Set("Metadata", "true")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return &rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b.Bytes()}
	}
	put := []byte(`{"value":"new-value-9a7c"}`)
	return []faultCase{
		{"keyvault", "get secret, values unreadable", kvfault.Rule{Ops: kvfault.Reads, Prefix: "secretvalues/"}, kv("GET", "/secrets/kept?api-version=7.6", nil), azureError, 503, "", nil},
		{"keyvault", "get secret, records unreadable", kvfault.Rule{Ops: kvfault.Reads, Prefix: "secrets/"}, kv("GET", "/secrets/kept?api-version=7.6", nil), azureError, 503, "", nil},
		{"keyvault", "list secrets", kvfault.Rule{Ops: kvfault.Reads, Prefix: "secrets/"}, kv("GET", "/secrets?api-version=7.6", nil), azureError, 503, "", nil},
		{"keyvault", "set new secret, record write fails", kvfault.Rule{Ops: kvfault.Writes, Prefix: "secrets/"}, kv("PUT", "/secrets/fresh?api-version=7.6", put), azureError, 503, "", nil},
		{"keyvault", "set new secret, value write fails", kvfault.Rule{Ops: kvfault.Writes, Prefix: "secretvalues/"}, kv("PUT", "/secrets/fresh?api-version=7.6", put), azureError, 503, "", nil},
		{"keyvault", "overwrite secret, record write fails", kvfault.Rule{Ops: kvfault.Writes, Prefix: "secrets/"}, kv("PUT", "/secrets/kept?api-version=7.6", put), azureError, 503, "", nil},
		{"keyvault", "delete secret", kvfault.Rule{Ops: kvfault.Writes, Prefix: "secrets/"}, kv("DELETE", "/secrets/kept?api-version=7.6", nil), azureError, 503, "", nil},
		{"keyvault", "caller lookup fails", kvfault.Rule{Ops: kvfault.Reads, Prefix: "principals/"}, kv("GET", "/secrets/kept?api-version=7.6", nil), azureError, 503, "", nil},
		{"arm", "list resource groups", kvfault.Rule{Ops: kvfault.Reads, Prefix: "resourcegroups/"}, armReq("GET", "/subscriptions/{sub}/resourcegroups?api-version=2021-04-01", nil), azureError, 503, "", nil},
		{"arm", "create resource group", kvfault.Rule{Ops: kvfault.Writes, Prefix: "resourcegroups/"}, armReq("PUT", "/subscriptions/{sub}/resourcegroups/faulty?api-version=2021-04-01", []byte(`{"location":"westus"}`)), azureError, 503, "", nil},
		{"arm", "list vaults", kvfault.Rule{Ops: kvfault.Reads, Prefix: "vaults/"}, armReq("GET", "/subscriptions/{sub}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01", nil), azureError, 503, "", nil},
		{"arm", "caller lookup fails", kvfault.Rule{Ops: kvfault.Reads, Prefix: "principals/"}, armReq("GET", "/subscriptions/{sub}/resourcegroups?api-version=2021-04-01", nil), azureError, 503, "", nil},
		{"graph", "list service principals", kvfault.Rule{Ops: kvfault.Reads, Prefix: "principals/"}, graphReq("GET", "/v1.0/servicePrincipals", nil), azureError, 503, "", nil},
		{"graph", "create application", kvfault.Rule{Ops: kvfault.Writes}, graphReq("POST", "/v1.0/applications", []byte(`{"displayName":"faulty"}`)), azureError, 503, "", nil},
		{"token", "client credentials", kvfault.Rule{Ops: kvfault.Reads, Prefix: "appids/"}, token, oauthError, 503, "", nil},
		{"appservice", "machine credential lookup", kvfault.Rule{Ops: kvfault.Reads, Prefix: "computekeys/"}, appService, oauthError, 500, "", nil},
		{"appservice", "identity lookup", kvfault.Rule{Ops: kvfault.Reads, Prefix: "principals/"}, appService, oauthError, 500, "", nil},
		{"imds", "server failing", kvfault.Rule{Ops: kvfault.Reads, Prefix: "computekeys/"}, imdsReq, oauthError, 500, "", nil},
	}
}

// TestStorageFaults: when storage fails under any API, the caller gets a
// 500 (or 503 when the backend is unavailable, where the protocol has a
// 503) in that API's error shape, with no internal detail or secret in
// it; the server keeps serving; and a failed write leaves no trace.
func TestStorageFaults(t *testing.T) {
	w := newFaultWorld(t)
	kinds := []struct {
		name string
		err  error
	}{
		{"error", kvfault.ErrInjected},
		{"unavailable", kvfault.ErrUnavailable},
	}
	for _, fc := range faultCases() {
		for _, k := range kinds {
			t.Run(fc.family+"/"+fc.name+"/"+k.name, func(t *testing.T) {
				rule := fc.rule
				rule.Err = k.err
				hits := w.faults.Hits()
				remove := w.faults.Inject(rule)
				r := fc.do(t, w)
				remove()
				if w.faults.Hits() == hits {
					t.Fatalf("the fault was never reached (%d %s): fix the rule", r.Status, r.Body)
				}
				want := http.StatusInternalServerError
				if errors.Is(k.err, kvfault.ErrUnavailable) {
					want = fc.unavailable
				}
				bug := fc.bug
				if len(fc.bugKinds) > 0 && !slices.Contains(fc.bugKinds, k.name) {
					bug = ""
				}
				switch {
				case r.Status == want && bug != "":
					t.Errorf("fixed: %q no longer happens; drop the case's bug field", bug)
				case r.Status == want:
				case bug != "" && r.Status != http.StatusOK:
					t.Logf("KNOWN BUG (%s): status %d, want %d", bug, r.Status, want)
				default:
					t.Errorf("status %d (body %s), want %d", r.Status, r.Body, want)
				}
				fc.shape(t, r)
				for _, s := range w.secrets {
					if bytes.Contains(bytes.ToLower(r.Body), []byte(strings.ToLower(s))) {
						t.Errorf("response body reveals %q: %s", s, r.Body)
					}
				}
				w.checkIntact(t)
			})
		}
	}
}

// checkIntact: the server answers, the seeded secret is unchanged, and
// nothing a failed write began is visible.
func (w *faultWorld) checkIntact(t *testing.T) {
	t.Helper()
	r := rawDo(t, w.env, "GET", kvURL(w.env, "/secrets/kept?api-version=7.6"), w.kvTok, nil, nil).expect(t, "GET kept after the fault", 200)
	var s struct{ Value string }
	r.jsonInto(t, &s)
	if s.Value != "kept-value-4f1d" {
		t.Errorf("kept = %q after a failed write", s.Value)
	}
	if r := rawDo(t, w.env, "GET", kvURL(w.env, "/secrets/fresh?api-version=7.6"), w.kvTok, nil, nil); r.Status != 404 {
		t.Errorf("a failed create left secret fresh: %d %s", r.Status, r.Body)
	}
	list := rawDo(t, w.env, "GET", kvURL(w.env, "/secrets?api-version=7.6"), w.kvTok, nil, nil).expect(t, "list", 200)
	if bytes.Contains(list.Body, []byte("/secrets/fresh")) {
		t.Errorf("a failed create is listed: %s", list.Body)
	}
	if r := rawDo(t, w.env, "GET", armBase+"/subscriptions/"+w.env.Instance.SubscriptionID+"/resourcegroups/faulty?api-version=2021-04-01",
		w.armTok, nil, nil); r.Status != 404 {
		t.Errorf("a failed create left resource group faulty: %d", r.Status)
	}
}

// TestStorageHang: a backend that never answers holds the request until
// the client gives up; the server stays up and nothing is written.
func TestStorageHang(t *testing.T) {
	w := newFaultWorld(t)
	remove := w.faults.Inject(kvfault.Rule{Ops: kvfault.Writes, Prefix: "secret", Hang: true})
	c := w.env.Client()
	c.Timeout = 300 * time.Millisecond
	req, _ := http.NewRequest("PUT", kvURL(w.env, "/secrets/fresh?api-version=7.6"), strings.NewReader(`{"value":"new-value-9a7c"}`))
	req.Header.Set("Authorization", "Bearer "+w.kvTok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("PUT against a hung store answered %d", resp.StatusCode)
	}
	remove()
	if w.faults.Hits() == 0 {
		t.Fatal("the hang was never reached: fix the rule")
	}
	w.checkIntact(t)
}

// newVMCred creates a VM with a system-assigned identity and returns its
// machine credential.
func newVMCred(t *testing.T, env *testenv.Env, ctx context.Context, sub string) string {
	t.Helper()
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, env.Instance.DefaultGroup, "faultvm", resources.VMSpec{SystemAssigned: true}); err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, env.Instance.DefaultGroup, "faultvm")
	if err != nil {
		t.Fatal(err)
	}
	return cred
}
