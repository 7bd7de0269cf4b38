package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/oidc"
)

// idTokenResp is a token answer with the OpenID parts.
type idTokenResp struct {
	status      int
	Error       string `json:"error"`
	AccessToken string `json:"access_token"`
	Refresh     string `json:"refresh_token"`
	IDToken     string `json:"id_token"`
	ClientInfo  string `json:"client_info"`
}

func (f *flow) idToken(t *testing.T, form url.Values) idTokenResp {
	t.Helper()
	resp, err := f.c.PostForm(f.base+"/"+f.env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr idTokenResp
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	tr.status = resp.StatusCode
	return tr
}

// discovered is what an OIDC client reads from the v2.0 discovery
// document: the issuer an id_token must carry and the keys that sign it.
func (f *flow) discovered(t *testing.T) (string, jose.JSONWebKeySet) {
	t.Helper()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON := func(u string, v any) {
		resp, err := f.c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	getJSON(f.base+"/"+f.env.Instance.TenantID+"/v2.0/.well-known/openid-configuration", &doc)
	var set jose.JSONWebKeySet
	getJSON(doc.JWKSURI, &set)
	return doc.Issuer, set
}

// verifyIDToken checks the signature against the discovered keys and
// returns the claims.
func verifyIDToken(t *testing.T, raw string, keys jose.JSONWebKeySet) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	var m map[string]any
	if err := tok.Claims(keys, &m); err != nil {
		t.Fatalf("id_token signature: %v", err)
	}
	return m
}

// TestIDToken: with the openid scope, the authorization code, refresh and
// device code grants return an id_token with Entra v2.0's claims, signed
// by the issuer's keys, and client_info when asked for; without openid
// there is none; an id_token is no access token.
func TestIDToken(t *testing.T) {
	f := newFlow(t)
	admin := f.env.Admin
	issuer, keys := f.discovered(t)
	if want := f.base + "/" + f.env.Instance.TenantID + "/v2.0"; issuer != want {
		t.Fatalf("discovery issuer %q, want %q", issuer, want)
	}
	const armDefault = "https://management.core.windows.net//.default"
	codeFor := func(scope, nonce string) string {
		t.Helper()
		q := url.Values{"client_id": {oidc.AzureCLIClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
			"scope": {scope}, "state": {"st"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}, "client_info": {"1"}}
		if nonce != "" {
			q.Set("nonce", nonce)
		}
		resp := f.signIn(t, f.base+"/"+f.env.Instance.TenantID+"/oauth2/v2.0/authorize?"+q.Encode(), admin.UserPrincipalName, admin.Password)
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	redeemOIDC := func(code string) url.Values {
		v := redeem(code, redirect, verifier)
		v.Set("scope", armDefault+" openid profile offline_access")
		v.Set("client_info", "1")
		return v
	}
	wantClaims := func(t *testing.T, m map[string]any, nonce string) {
		t.Helper()
		now := float64(time.Now().Unix())
		for k, want := range map[string]any{
			"aud": oidc.AzureCLIClientID, "iss": issuer, "oid": f.env.Instance.AdminUserObjectID, "tid": f.env.Instance.TenantID,
			"preferred_username": admin.UserPrincipalName, "name": "Coffer Admin", "ver": "2.0",
			"sub": identity.PairwiseSubject(f.env.Instance.AdminUserObjectID, oidc.AzureCLIClientID),
		} {
			if m[k] != want {
				t.Errorf("id_token %s = %v, want %v", k, m[k], want)
			}
		}
		if got, _ := m["nonce"].(string); got != nonce {
			t.Errorf("id_token nonce = %q, want %q", got, nonce)
		}
		iat, _ := m["iat"].(float64)
		nbf, _ := m["nbf"].(float64)
		exp, _ := m["exp"].(float64)
		if iat < now-120 || iat > now+5 || nbf != iat || exp <= now+30*60 {
			t.Errorf("id_token times iat=%v nbf=%v exp=%v, now %v", iat, nbf, exp, now)
		}
		for _, k := range []string{"scp", "upn", "idtyp"} {
			if _, ok := m[k]; ok {
				t.Errorf("id_token has the access token claim %s", k)
			}
		}
	}

	// Authorization code with openid and a nonce, as MSAL asks.
	tr := f.idToken(t, redeemOIDC(codeFor(armDefault+" openid profile offline_access", "n-0S6_WzA2Mj")))
	if tr.status != 200 || tr.IDToken == "" {
		t.Fatalf("redeem with openid: %+v", tr)
	}
	wantClaims(t, verifyIDToken(t, tr.IDToken, keys), "n-0S6_WzA2Mj")
	ci, err := base64.RawURLEncoding.DecodeString(tr.ClientInfo)
	var info map[string]string
	if err != nil || json.Unmarshal(ci, &info) != nil || info["uid"] != f.env.Instance.AdminUserObjectID || info["utid"] != f.env.Instance.TenantID || len(info) != 2 {
		t.Errorf("client_info %q decodes to %v (%v)", tr.ClientInfo, info, err)
	}
	// An id_token is not an access token: ARM refuses it.
	req, _ := http.NewRequest("GET", f.base+"/subscriptions?api-version=2021-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+tr.IDToken)
	if resp, err := f.c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("ARM with an id_token: %v %v", resp.StatusCode, err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	// Refresh with openid: a new id_token, without the nonce (that was
	// the sign-in's).
	rf := url.Values{"grant_type": {"refresh_token"}, "client_id": {oidc.AzureCLIClientID}, "refresh_token": {tr.Refresh},
		"scope": {"https://vault.localhost/.default openid profile offline_access"}, "client_info": {"1"}}
	tr = f.idToken(t, rf)
	if tr.status != 200 || tr.IDToken == "" || tr.ClientInfo == "" {
		t.Fatalf("refresh with openid: %+v", tr)
	}
	wantClaims(t, verifyIDToken(t, tr.IDToken, keys), "")
	// Refresh without openid: no id_token.
	rf.Set("refresh_token", tr.Refresh)
	rf.Set("scope", "https://vault.localhost/.default")
	rf.Del("client_info")
	if tr = f.idToken(t, rf); tr.status != 200 || tr.IDToken != "" || tr.ClientInfo != "" {
		t.Errorf("refresh without openid or client_info: %+v", tr)
	}
	// Authorization code without openid: no id_token.
	v := redeem(codeFor(armDefault+" offline_access", ""), redirect, verifier)
	if tr = f.idToken(t, v); tr.status != 200 || tr.IDToken != "" {
		t.Errorf("code without openid: %+v", tr)
	}

	// Device code with openid.
	tenantURL := f.base + "/" + f.env.Instance.TenantID + "/oauth2/v2.0/"
	resp, err := f.c.PostForm(tenantURL+"devicecode", url.Values{"client_id": {oidc.AzureCLIClientID}, "scope": {armDefault + " openid profile offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	var dc struct {
		UserCode   string `json:"user_code"`
		DeviceCode string `json:"device_code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&dc)
	resp.Body.Close()
	page, err := f.c.Get(f.base + oidc.DeviceLoginPath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	form := url.Values{"otc": {dc.UserCode}, "login": {admin.UserPrincipalName}, "passwd": {admin.Password}, "op": {"signin"}}
	for _, m := range reHidden.FindAllStringSubmatch(string(b), -1) {
		form.Set(m[1], m[2])
	}
	if resp, err = f.c.PostForm(f.base+oidc.DeviceLoginPath, form); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "You have signed in") {
		t.Fatalf("device login: %s", b)
	}
	tr = f.idToken(t, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {oidc.AzureCLIClientID},
		"device_code": {dc.DeviceCode}, "client_info": {"1"}})
	if tr.status != 200 || tr.IDToken == "" || tr.ClientInfo == "" {
		t.Fatalf("device code with openid: %+v", tr)
	}
	wantClaims(t, verifyIDToken(t, tr.IDToken, keys), "")
}
