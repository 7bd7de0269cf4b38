package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/testenv"
)

func getIssuerJSON(t *testing.T, env *testenv.Env, rawURL string) (*rawResp, map[string]any) {
	t.Helper()
	r := rawDo(t, env, "GET", rawURL, "", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", rawURL, r.Status, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	return r, m
}

// TestOIDCDiscovery: v1 and v2 documents name the right issuers and
// endpoints, and the JWKS holds public keys only.
func TestOIDCDiscovery(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tid := env.Instance.TenantID
	login := "https://login.microsoftonline.com"
	_, v2 := getIssuerJSON(t, env, login+"/"+tid+"/v2.0/.well-known/openid-configuration")
	_, v1 := getIssuerJSON(t, env, login+"/"+tid+"/.well-known/openid-configuration")
	for _, c := range []struct {
		doc       map[string]any
		key, want string
	}{
		{v2, "issuer", login + "/" + tid + "/v2.0"},
		{v2, "token_endpoint", login + "/" + tid + "/oauth2/v2.0/token"},
		{v2, "jwks_uri", login + "/" + tid + "/discovery/v2.0/keys"},
		{v1, "issuer", "https://sts.windows.net/" + tid + "/"},
		{v1, "token_endpoint", login + "/" + tid + "/oauth2/token"},
		{v1, "jwks_uri", login + "/" + tid + "/discovery/keys"},
	} {
		if got := c.doc[c.key]; got != c.want {
			t.Errorf("%s = %v, want %s", c.key, got, c.want)
		}
	}
	// Aliases resolve to the same tenant; unknown tenants do not.
	if _, common := getIssuerJSON(t, env, login+"/organizations/v2.0/.well-known/openid-configuration"); common["issuer"] != v2["issuer"] {
		t.Errorf("organizations issuer = %v", common["issuer"])
	}
	if r := rawDo(t, env, "GET", login+"/"+identity.NewObjectID()+"/v2.0/.well-known/openid-configuration", "", nil, nil); r.Status != 400 {
		t.Errorf("unknown tenant discovery = %d", r.Status)
	}
	// On a non-default port every URL carries it.
	_, p := getIssuerJSON(t, env, "https://login.microsoftonline.com:8443/"+tid+"/v2.0/.well-known/openid-configuration")
	if p["issuer"] != "https://login.microsoftonline.com:8443/"+tid+"/v2.0" || !strings.HasPrefix(p["jwks_uri"].(string), "https://login.microsoftonline.com:8443/") {
		t.Errorf("port 8443 discovery = %v", p)
	}

	for _, u := range []string{v1["jwks_uri"].(string), v2["jwks_uri"].(string)} {
		r, _ := getIssuerJSON(t, env, u)
		var raw struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(r.Body, &raw); err != nil || len(raw.Keys) == 0 {
			t.Fatalf("JWKS %s: %s", u, r.Body)
		}
		for _, k := range raw.Keys {
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := k[private]; ok {
					t.Errorf("JWKS key has private member %q", private)
				}
			}
			if k["kty"] != "RSA" || k["use"] != "sig" || k["kid"] == "" || k["n"] == nil || k["e"] == nil {
				t.Errorf("JWKS key = %v", k)
			}
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(r.Body, &set); err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || !k.Valid() {
				t.Errorf("key %s is not a valid public key", k.KeyID)
			}
		}
	}
}

// TestIssuedTokenVerifies: a token from the token endpoint verifies
// against the published JWKS with go-jose, with the v1 issuer and claims.
func TestIssuedTokenVerifies(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tid := env.Instance.TenantID
	raw := adminToken(t, env)
	_, v1 := getIssuerJSON(t, env, "https://login.microsoftonline.com/"+tid+"/.well-known/openid-configuration")
	r, _ := getIssuerJSON(t, env, v1["jwks_uri"].(string))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if h.Algorithm != "RS256" || h.KeyID == "" || h.ExtraHeaders["x5t"] == nil || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header = %+v", h)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in JWKS", h.KeyID)
	}
	var c identity.Claims
	var std jwt.Claims
	if err := tok.Claims(keys[0].Key, &c, &std); err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v1["issuer"].(string), AnyAudience: jwt.Audience{vaultResource}, Time: time.Now()}, 0); err != nil {
		t.Errorf("claims: %v", err)
	}
	if c.TenantID != tid || c.ObjectID != env.Instance.AdminObjectID || c.AppID != env.Admin.ClientID || c.Version != "1.0" || c.Subject != c.ObjectID {
		t.Errorf("claims = %+v", c)
	}
	// A token signed by another key does not verify against the JWKS.
	other, err := identity.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Sign(c)
	ft, _ := jwt.ParseSigned(forged, []jose.SignatureAlgorithm{jose.RS256})
	if err := ft.Claims(keys[0].Key, &c); err == nil {
		t.Error("a token of another key verified")
	}
}

// TestInstanceDiscovery: MSAL's authority validation gets an answer that
// points back at the authority it asked about.
func TestInstanceDiscovery(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tid := env.Instance.TenantID
	// As Entra does, the tenant is filled in from the authorization
	// endpoint (MSAL Python fetches tenant_discovery_endpoint as given).
	for u, want := range map[string]string{
		"https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=" +
			url.QueryEscape("https://login.microsoftonline.com/"+tid+"/oauth2/v2.0/authorize"): "https://login.microsoftonline.com/" + tid + "/v2.0/.well-known/openid-configuration",
		"https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=" +
			url.QueryEscape("https://login.microsoftonline.com/organizations/oauth2/authorize"): "https://login.microsoftonline.com/organizations/.well-known/openid-configuration",
		"https://login.microsoftonline.com/" + tid + "/discovery/instance?api-version=1.1": "https://login.microsoftonline.com/" + tid + "/v2.0/.well-known/openid-configuration",
	} {
		_, m := getIssuerJSON(t, env, u)
		if m["tenant_discovery_endpoint"] != want {
			t.Errorf("%s: tenant_discovery_endpoint = %v, want %s", u, m["tenant_discovery_endpoint"], want)
		}
		// The endpoint works as given.
		if _, doc := getIssuerJSON(t, env, want); doc["token_endpoint"] == nil {
			t.Errorf("%s: no token_endpoint", want)
		}
		md, _ := m["metadata"].([]any)
		if len(md) == 0 || !strings.Contains(string(mustMarshalJSON(t, md)), `"login.microsoftonline.com"`) {
			t.Errorf("metadata = %v", m["metadata"])
		}
	}
	r := rawDo(t, env, "GET", "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=http://x", "", nil, nil)
	if r.Status != 400 {
		t.Errorf("http authorization_endpoint = %d", r.Status)
	}
}

func mustMarshalJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTokenEndpointErrors: the client-credentials grant answers with
// Entra's OAuth2 errors.
func TestTokenEndpointErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	id, secret := env.Admin.ClientID, env.Admin.ClientSecret
	form := func(kv ...string) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {vaultScope}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"wrong secret", form("client_secret", "wrong"), 401, "invalid_client"},
		{"secret missing", form("client_secret", ""), 401, "invalid_client"},
		{"unknown client", form("client_id", identity.NewObjectID()), 400, "unauthorized_client"},
		{"scope without .default", form("scope", vaultResource), 400, "invalid_scope"},
		{"scope missing", form("scope", ""), 400, "invalid_scope"},
		{"password grant", form("grant_type", "password"), 400, "unsupported_grant_type"},
		{"grant missing", form("grant_type", ""), 400, "unsupported_grant_type"},
		{"client id missing", form("client_id", ""), 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postForm(t, env, tokenURL(env, "v2"), tt.form)
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
				Codes       []int  `json:"error_codes"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			if r.Status != tt.status || e.Error != tt.code || !strings.HasPrefix(e.Description, "AADSTS") || len(e.Codes) == 0 {
				t.Errorf("= %d %s (%s), want %d %s", r.Status, e.Error, e.Description, tt.status, tt.code)
			}
			if strings.Contains(string(r.Body), secret) {
				t.Error("error body echoes the client secret")
			}
		})
	}
	// Unknown tenant, and a GET on the token endpoint.
	r := postForm(t, env, "https://login.microsoftonline.com/"+identity.NewObjectID()+"/oauth2/v2.0/token", form())
	if r.Status != 400 {
		t.Errorf("unknown tenant = %d %s", r.Status, r.Body)
	}
	if r := rawDo(t, env, "GET", tokenURL(env, "v2"), "", nil, nil); r.Status != 405 {
		t.Errorf("GET token endpoint = %d", r.Status)
	}

	// client_secret_basic works as well as client_secret_post.
	req, _ := http.NewRequest("POST", tokenURL(env, "v2"), strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {vaultScope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("client_secret_basic = %d", resp.StatusCode)
	}
}

// TestTokenResponses: v2 returns numeric lifetimes; v1 (resource=) returns
// Entra's all-string body with expires_on; both tokens open the vault.
func TestTokenResponses(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	id, secret := env.Admin.ClientID, env.Admin.ClientSecret
	start := time.Now().Unix()

	r := postForm(t, env, tokenURL(env, "v2"), url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {vaultScope}})
	var v2 map[string]any
	d := json.NewDecoder(strings.NewReader(string(r.Body)))
	d.UseNumber()
	if err := d.Decode(&v2); err != nil || r.Status != 200 {
		t.Fatalf("v2: %d %s", r.Status, r.Body)
	}
	if n, ok := v2["expires_in"].(json.Number); !ok || v2["token_type"] != "Bearer" || string(n) == "" {
		t.Errorf("v2 body = %s", r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("v2 Cache-Control = %q", cc)
	}

	r = postForm(t, env, tokenURL(env, "v1"), url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "resource": {vaultResource}})
	var v1 map[string]any
	if err := json.Unmarshal(r.Body, &v1); err != nil || r.Status != 200 {
		t.Fatalf("v1: %d %s", r.Status, r.Body)
	}
	for _, k := range []string{"expires_in", "expires_on", "not_before", "ext_expires_in", "resource", "token_type", "access_token"} {
		if _, ok := v1[k].(string); !ok {
			t.Errorf("v1 %s = %#v, want a string", k, v1[k])
		}
	}
	on, err := strconv.ParseInt(v1["expires_on"].(string), 10, 64)
	if err != nil || on < start+3000 || on > time.Now().Unix()+7200 {
		t.Errorf("v1 expires_on = %v", v1["expires_on"])
	}
	if v1["resource"] != vaultResource {
		t.Errorf("v1 resource = %v", v1["resource"])
	}
	if r := postForm(t, env, tokenURL(env, "v1"), url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}); r.Status != 400 {
		t.Errorf("v1 without resource = %d", r.Status)
	}

	for name, tok := range map[string]string{"v1": v1["access_token"].(string), "v2": v2["access_token"].(string)} {
		if r := rawDo(t, env, "GET", kvURL(env, "/secrets?api-version=7.6"), tok, nil, nil); r.Status != 200 {
			t.Errorf("%s token on the vault = %d %s", name, r.Status, r.Body)
		}
	}
	// A management-audience token does not open the vault.
	mgmt := clientToken(t, env, id, secret, "https://management.azure.com//.default")
	r = rawDo(t, env, "GET", kvURL(env, "/secrets?api-version=7.6"), mgmt, nil, nil)
	if msg := r.wantKVError(t, "management token", 401, "Unauthorized", ""); !strings.HasPrefix(msg, "AKV10022: Invalid audience.") {
		t.Errorf("message = %q", msg)
	}
}
