package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// Helpers for the raw-HTTP tests: plain net/http requests through
// env.Client(), which pins every host name to the test server.

const (
	vaultScope    = "https://vault.azure.net/.default"
	vaultResource = "https://vault.azure.net"
	// akv10000 is the exact body of the real service's 401 challenge.
	akv10000 = `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`
)

var (
	versionRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	guidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// rawResp is a fully read response.
type rawResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawDo sends one request. A nil body sends no body (Content-Length: 0 for
// PUT/POST/PATCH, as the SDKs' first request does); token "" sends no
// Authorization header; hdr adds headers ("Host" overrides the Host).
func rawDo(t *testing.T, env *testenv.Env, method, rawURL, token string, body []byte, hdr map[string]string) *rawResp {
	t.Helper()
	r, err := rawTry(env, method, rawURL, token, body, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	return r
}

// rawTry is rawDo for goroutines other than the test's: it returns errors.
func rawTry(env *testenv.Env, method, rawURL, token string, body []byte, hdr map[string]string) (*rawResp, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := env.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// jsonBody marshals v for a request body.
func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// obj decodes the body as a JSON object, keeping numbers as json.Number so
// tests can tell integers from floats.
func (r *rawResp) obj(t *testing.T) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// kvError checks that the body has exactly Key Vault's error shape
// {"error":{"code","message"[,"innererror":{"code"}]}} and returns its parts.
func (r *rawResp) kvError(t *testing.T) (code, inner, msg string) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &top); err != nil || len(top) != 1 || top["error"] == nil {
		t.Fatalf("status %d: body %q is not a Key Vault error", r.Status, r.Body)
	}
	var e map[string]json.RawMessage
	if err := json.Unmarshal(top["error"], &e); err != nil {
		t.Fatalf("error member %s is not an object", top["error"])
	}
	for k := range e {
		if k != "code" && k != "message" && k != "innererror" {
			t.Errorf("error has unexpected member %q (body %s)", k, r.Body)
		}
	}
	if err := json.Unmarshal(e["code"], &code); err != nil || code == "" {
		t.Errorf("error code missing or not a string: %s", r.Body)
	}
	if err := json.Unmarshal(e["message"], &msg); err != nil || msg == "" {
		t.Errorf("error message missing or not a string: %s", r.Body)
	}
	if ie, ok := e["innererror"]; ok {
		var in struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(ie, &in); err != nil || in.Code == "" {
			t.Errorf("innererror %s has no code", ie)
		}
		inner = in.Code
	}
	return code, inner, msg
}

// wantKVError asserts status, code and (if non-empty) inner code.
func (r *rawResp) wantKVError(t *testing.T, what string, status int, code, inner string) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d (body %s)", what, r.Status, status, r.Body)
	}
	gotCode, gotInner, msg := r.kvError(t)
	if gotCode != code || gotInner != inner {
		t.Errorf("%s: error %s/%s, want %s/%s (message %q)", what, gotCode, gotInner, code, inner, msg)
	}
	return msg
}

// tokenURL is the v2 token endpoint of the env's authority.
func tokenURL(env *testenv.Env, version string) string {
	p := "/oauth2/v2.0/token"
	if version == "v1" {
		p = "/oauth2/token"
	}
	return env.AuthorityHost() + env.Instance.TenantID + p
}

// postForm posts a form to the issuer and returns the response.
func postForm(t *testing.T, env *testenv.Env, rawURL string, form url.Values) *rawResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// clientToken runs the client-credentials grant for scope and returns the
// access token.
func clientToken(t *testing.T, env *testenv.Env, clientID, secret, scope string) string {
	t.Helper()
	r := postForm(t, env, tokenURL(env, "v2"), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {scope},
	})
	if r.Status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.Status, r.Body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token response %s: %v", r.Body, err)
	}
	return tr.AccessToken
}

// adminToken is a Key Vault token for the bootstrap admin.
func adminToken(t *testing.T, env *testenv.Env) string {
	t.Helper()
	return clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, vaultScope)
}

// kvURL is the default vault's URL for path (which starts with "/").
func kvURL(env *testenv.Env, path string) string {
	return strings.TrimSuffix(env.VaultURL(env.Instance.DefaultVault), "/") + path
}

// grantSecrets adds an access-policy entry for objectID on the default vault.
func grantSecrets(t *testing.T, env *testenv.Env, objectID string, perms ...string) {
	t.Helper()
	err := env.Store.UpdateVault(context.Background(), env.Instance.DefaultVault, func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, model.AccessPolicy{
			TenantID: env.Instance.TenantID, ObjectID: objectID,
			Permissions: model.Permissions{Secrets: perms},
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// putSecret sets a secret through raw HTTP and returns the decoded bundle.
func putSecret(t *testing.T, env *testenv.Env, tok, name string, body any) map[string]any {
	t.Helper()
	r := rawDo(t, env, http.MethodPut, kvURL(env, "/secrets/"+name+"?api-version=7.6"), tok, jsonBody(t, body), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", name, r.Status, r.Body)
	}
	return r.obj(t)
}

// listIDs follows nextLink from first and returns every item id, in order.
func listIDs(t *testing.T, env *testenv.Env, tok, first string) []string {
	t.Helper()
	var ids []string
	next := first
	for i := 0; next != ""; i++ {
		if i > 1000 {
			t.Fatalf("listing %s does not end", first)
		}
		r := rawDo(t, env, http.MethodGet, next, tok, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
		}
		var page struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			NextLink *string `json:"nextLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Value {
			ids = append(ids, it.ID)
		}
		next = ""
		if page.NextLink != nil {
			next = *page.NextLink
		}
	}
	return ids
}

// walkJSON calls fn for every value in a decoded JSON tree with its path.
func walkJSONTree(path string, v any, fn func(path string, v any)) {
	fn(path, v)
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			walkJSONTree(path+"."+k, x, fn)
		}
	case []any:
		for i, x := range v {
			walkJSONTree(path+"["+strconv.Itoa(i)+"]", x, fn)
		}
	}
}

// keysOf returns the sorted member names of a JSON object.
func jsonKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
