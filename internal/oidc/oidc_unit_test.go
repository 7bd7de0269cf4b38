package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

const login = "https://login.microsoftonline.com/"

type oresp struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func odo(t *testing.T, env *testenv.Env, method, path string, form url.Values, basic [2]string) oresp {
	t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, login+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return oresp{resp.StatusCode, m, string(b), resp.Header}
}

func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenEndpoint: the client-credentials grant's answers, v2 and v1:
// who gets a token (service principals with a valid secret, by post or
// basic auth) and the exact OAuth error for everything else.
func TestTokenEndpoint(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	tid := env.Instance.TenantID
	secret, cred := identity.NewClientSecret(time.Now())
	sp := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "ci",
		Type: model.PrincipalServicePrincipal, Credentials: []model.Credential{cred}, Created: time.Now()}
	appOnly := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "no-sp",
		Type: model.PrincipalApplication, Credentials: []model.Credential{cred}, Created: time.Now()}
	for _, p := range []*model.Principal{sp, appOnly} {
		if err := env.Store.CreatePrincipal(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, env.Instance.SubscriptionID, env.Instance.DefaultGroup, "ovm", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := env.Store.GetPrincipal(ctx, vm.SystemAssigned)
	if err != nil {
		t.Fatal(err)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {sp.AppID}, "client_secret": {secret}, "scope": {"https://vault.azure.net/.default"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	v2 := tid + "/oauth2/v2.0/token"
	tests := []struct {
		name   string
		path   string
		form   url.Values
		basic  [2]string
		status int
		code   string
		aadsts int
	}{
		{"v2 client secret post", v2, form(), [2]string{}, 200, "", 0},
		{"v2 client secret basic", v2, form("client_id", "", "client_secret", ""), [2]string{sp.AppID, secret}, 200, "", 0},
		{"v2 upper-case client id", v2, form("client_id", strings.ToUpper(sp.AppID)), [2]string{}, 200, "", 0},
		{"wrong secret", v2, form("client_secret", secret+"x"), [2]string{}, 401, "invalid_client", 7000215},
		{"no secret", v2, form("client_secret", ""), [2]string{}, 401, "invalid_client", 7000215},
		{"unknown client", v2, form("client_id", identity.NewObjectID()), [2]string{}, 400, "unauthorized_client", 700016},
		{"app registration without a service principal", v2, form("client_id", appOnly.AppID), [2]string{}, 400, "unauthorized_client", 700016},
		{"a managed identity's client id", v2, form("client_id", mi.AppID), [2]string{}, 400, "unauthorized_client", 700016},
		{"no client id", v2, form("client_id", ""), [2]string{}, 400, "invalid_request", 900144},
		{"password grant", v2, form("grant_type", "password"), [2]string{}, 400, "unsupported_grant_type", 70003},
		{"scope without /.default", v2, form("scope", "https://vault.azure.net"), [2]string{}, 400, "invalid_scope", 1002012},
		{"no scope", v2, form("scope", ""), [2]string{}, 400, "invalid_scope", 1002012},
		{"another tenant", identity.NewObjectID() + "/oauth2/v2.0/token", form(), [2]string{}, 400, "invalid_request", 90002},
		{"common is not a token tenant", "common/oauth2/v2.0/token", form(), [2]string{}, 400, "invalid_request", 90002},
		{"v1 with resource", tid + "/oauth2/token", form("scope", "", "resource", "https://vault.azure.net"), [2]string{}, 200, "", 0},
		{"v1 without resource", tid + "/oauth2/token", form("scope", ""), [2]string{}, 400, "invalid_request", 900144},
		{"oversized body", v2, form("pad", strings.Repeat("x", 70<<10)), [2]string{}, 400, "invalid_request", 900144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := odo(t, env, "POST", tt.path, tt.form, tt.basic)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if strings.Contains(r.raw, secret) {
				t.Error("the response echoes the client secret")
			}
			if !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			if tt.status != 200 {
				codes, _ := r.body["error_codes"].([]any)
				desc, _ := r.body["error_description"].(string)
				if r.body["error"] != tt.code || len(codes) != 1 || int(codes[0].(float64)) != tt.aadsts || !strings.HasPrefix(desc, "AADSTS") {
					t.Errorf("error body %s, want %s AADSTS%d", r.raw, tt.code, tt.aadsts)
				}
				if _, ok := r.body["access_token"]; ok {
					t.Error("an error carries an access token")
				}
				return
			}
			tok, _ := r.body["access_token"].(string)
			c := payload(t, tok)
			if c["oid"] != sp.ObjectID || c["tid"] != tid || c["iss"] != "https://sts.windows.net/"+tid+"/" || c["aud"] != "https://vault.azure.net" {
				t.Errorf("claims %v", c)
			}
			if r.body["token_type"] != "Bearer" {
				t.Errorf("token_type %v", r.body["token_type"])
			}
			// v2 numbers, v1 strings (as Entra).
			_, num := r.body["expires_in"].(float64)
			if v1 := strings.HasSuffix(tt.path, "/oauth2/token"); num == v1 {
				t.Errorf("expires_in is %T for path %s", r.body["expires_in"], tt.path)
			}
		})
	}
}

// TestDiscovery: the metadata documents for the tenant and its aliases,
// with the issuer Coffer's tokens carry; unknown tenants are refused.
func TestDiscovery(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tid := env.Instance.TenantID
	for _, tt := range []struct {
		path, issuer string
		status       int
	}{
		{tid + "/v2.0/.well-known/openid-configuration", login + tid + "/v2.0", 200},
		{"common/v2.0/.well-known/openid-configuration", login + tid + "/v2.0", 200},
		{"organizations/v2.0/.well-known/openid-configuration", login + tid + "/v2.0", 200},
		{tid + "/.well-known/openid-configuration", "https://sts.windows.net/" + tid + "/", 200},
		{identity.NewObjectID() + "/v2.0/.well-known/openid-configuration", "", 400},
		{identity.NewObjectID() + "/discovery/v2.0/keys", "", 400},
		{tid + "/discovery/v2.0/keys", "", 200},
	} {
		r := odo(t, env, "GET", tt.path, nil, [2]string{})
		if r.status != tt.status {
			t.Errorf("GET %s = %d %s, want %d", tt.path, r.status, r.raw, tt.status)
			continue
		}
		if tt.issuer != "" && r.body["issuer"] != tt.issuer {
			t.Errorf("GET %s: issuer %v, want %s", tt.path, r.body["issuer"], tt.issuer)
		}
		if tt.status == 400 && r.body["error"] != "invalid_tenant" {
			t.Errorf("GET %s: %s, want invalid_tenant", tt.path, r.raw)
		}
	}
	r := odo(t, env, "GET", tid+"/discovery/v2.0/keys", nil, [2]string{})
	keys, _ := r.body["keys"].([]any)
	if len(keys) == 0 {
		t.Fatalf("JWKS %s", r.raw)
	}
	for _, k := range keys {
		m := k.(map[string]any)
		if m["kty"] != "RSA" || m["kid"] == nil || m["d"] != nil || m["p"] != nil {
			t.Errorf("JWKS key %v: must be a public RSA key with a kid", m)
		}
	}
	r = odo(t, env, "GET", "common/discovery/instance?api-version=1.1&authorization_endpoint="+url.QueryEscape("http://evil/x"), nil, [2]string{})
	if r.status != 400 || r.body["error"] != "invalid_instance" {
		t.Errorf("instance discovery with an http endpoint: %d %s", r.status, r.raw)
	}
}
