package oidc_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/oidc"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// flow drives the authorization code flow as a browser and a public
// client would, against a real server.
type flow struct {
	env  *testenv.Env
	base string // https://localhost:port
	c    *http.Client
}

func newFlow(t *testing.T) *flow {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	jar, _ := cookiejar.New(nil)
	c := env.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &flow{env: env, base: strings.TrimSuffix(env.AuthorityHost(), "/"), c: c}
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough"

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

var (
	reHidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	reAlert  = regexp.MustCompile(`role="alert">([^<]*)<`)
)

func (f *flow) authorizeURL(clientID, redirect string) string {
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"https://management.core.windows.net//.default offline_access"}, "state": {"st"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	return f.base + "/" + f.env.Instance.TenantID + "/oauth2/v2.0/authorize?" + q.Encode()
}

// signIn loads the sign-in page and posts the credentials; it returns the
// response to the post.
func (f *flow) signIn(t *testing.T, authURL, login, pw string) *http.Response {
	t.Helper()
	resp, err := f.c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authorize page: %d %s", resp.StatusCode, b)
	}
	form := url.Values{"login": {login}, "passwd": {pw}}
	for _, m := range reHidden.FindAllStringSubmatch(string(b), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	u, _ := url.Parse(authURL)
	resp, err = f.c.PostForm(f.base+u.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// code signs in and returns the code from the redirect.
func (f *flow) code(t *testing.T, login, pw, redirect string) string {
	t.Helper()
	resp := f.signIn(t, f.authorizeURL(oidc.AzureCLIClientID, redirect), login, pw)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != "st" || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirect %s", loc)
	}
	return loc.Query().Get("code")
}

type tokenResp struct {
	status      int
	Error       string `json:"error"`
	Desc        string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	AccessToken string `json:"access_token"`
	Refresh     string `json:"refresh_token"`
}

func (f *flow) token(t *testing.T, form url.Values) tokenResp {
	t.Helper()
	resp, err := f.c.PostForm(f.base+"/"+f.env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResp
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	tr.status = resp.StatusCode
	return tr
}

func redeem(code, redirect, v string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {oidc.AzureCLIClientID}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {v}, "scope": {"https://management.core.windows.net//.default"}}
}

func claims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

const redirect = "http://localhost:8400/"

func TestAuthCodePKCE(t *testing.T) {
	f := newFlow(t)
	admin := f.env.Admin
	if admin == nil || admin.UserPrincipalName != "admin@coffer.local" || admin.Password == "" {
		t.Fatalf("admin user credential: %+v", admin)
	}

	code := f.code(t, admin.UserPrincipalName, admin.Password, redirect)
	tr := f.token(t, redeem(code, redirect, verifier))
	if tr.status != 200 || tr.AccessToken == "" || tr.Refresh == "" {
		t.Fatalf("redeem: %+v", tr)
	}
	c := claims(t, tr.AccessToken)
	for k, want := range map[string]string{"idtyp": "user", "upn": admin.UserPrincipalName, "name": "Coffer Admin",
		"scp": "user_impersonation", "aud": "https://management.core.windows.net/", "appid": oidc.AzureCLIClientID} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %s", k, c[k], want)
		}
	}
	// The token works at ARM: the admin user is Owner of the subscription.
	req, _ := http.NewRequest("GET", f.base+"/subscriptions/"+f.env.Instance.SubscriptionID+"/resourcegroups?api-version=2021-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	resp, err := f.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ARM with the user token: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// The code is single use.
	if tr := f.token(t, redeem(code, redirect, verifier)); tr.status != 400 || tr.Error != "invalid_grant" || tr.Codes[0] != 54005 {
		t.Errorf("reused code: %+v", tr)
	}
	// The refresh token gets a token for another resource, and a new
	// refresh token: the used one is spent.
	first := tr.Refresh
	refresh := func(rt string) tokenResp {
		return f.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {oidc.AzureCLIClientID}, "refresh_token": {rt},
			"scope": {"https://vault.localhost/.default"}})
	}
	tr = refresh(first)
	if tr.status != 200 || claims(t, tr.AccessToken)["aud"] != "https://vault.localhost" || tr.Refresh == "" || tr.Refresh == first {
		t.Fatalf("refresh: %+v", tr)
	}
	if again := refresh(first); again.status != 400 || again.Error != "invalid_grant" {
		t.Errorf("spent refresh token: %+v", again)
	}
	if next := refresh(tr.Refresh); next.status != 200 {
		t.Errorf("rotated refresh token: %+v", next)
	}
	if tr := f.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {oidc.AzureCLIClientID}, "refresh_token": {"nope"},
		"scope": {"https://vault.localhost/.default"}}); tr.status != 400 || tr.Error != "invalid_grant" {
		t.Errorf("unknown refresh token: %+v", tr)
	}

	tests := []struct {
		name     string
		form     func(code string) url.Values
		wantErr  string
		wantCode int
	}{
		{"wrong verifier", func(c string) url.Values { return redeem(c, redirect, verifier+"x") }, "invalid_grant", 501481},
		{"no verifier", func(c string) url.Values { return redeem(c, redirect, "") }, "invalid_request", 900144},
		{"wrong redirect uri", func(c string) url.Values { return redeem(c, "http://localhost:9999/", verifier) }, "invalid_grant", 500117},
		{"another client", func(c string) url.Values {
			v := redeem(c, redirect, verifier)
			v.Set("client_id", oidc.AzurePowerShellClientID)
			return v
		}, "invalid_grant", 70000},
		{"unknown code", func(string) url.Values { return redeem("made-up", redirect, verifier) }, "invalid_grant", 70008},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := f.code(t, admin.UserPrincipalName, admin.Password, redirect)
			tr := f.token(t, tc.form(code))
			if tr.status != 400 || tr.Error != tc.wantErr || len(tr.Codes) != 1 || tr.Codes[0] != tc.wantCode ||
				!strings.HasPrefix(tr.Desc, "AADSTS") {
				t.Errorf("got %+v, want %s AADSTS%d", tr, tc.wantErr, tc.wantCode)
			}
		})
	}
}

func TestAuthorizeRejects(t *testing.T) {
	f := newFlow(t)
	tenant := f.env.Instance.TenantID
	tests := []struct {
		name, query string
		status      int
		want        string // in the page, or in the redirect's error_description
	}{
		{"unknown client", "client_id=11111111-1111-1111-1111-111111111111&response_type=code&redirect_uri=http://localhost/", 400, "AADSTS700016"},
		{"foreign redirect", "client_id=" + oidc.AzureCLIClientID + "&response_type=code&redirect_uri=https://evil.example/", 400, "AADSTS50011"},
		{"portal redirect on another host", "client_id=" + oidc.PortalClientID + "&response_type=code&redirect_uri=https://evil.example" + oidc.PortalRedirectPath, 400, "AADSTS50011"},
		{"no PKCE", "client_id=" + oidc.AzureCLIClientID + "&response_type=code&redirect_uri=http://localhost:1/", 302, "AADSTS9002325"},
		{"token response type", "client_id=" + oidc.AzureCLIClientID + "&response_type=token&redirect_uri=http://localhost:1/", 302, "AADSTS700054"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.c.Get(f.base + "/" + tenant + "/oauth2/v2.0/authorize?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := string(b) + resp.Header.Get("Location")
			if resp.StatusCode != tc.status || !strings.Contains(got, tc.want) {
				t.Errorf("%d %s, want %d with %s", resp.StatusCode, got, tc.status, tc.want)
			}
			if resp.StatusCode == 400 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("no CSP on the error page")
			}
		})
	}
}

func TestSignInFailures(t *testing.T) {
	f := newFlow(t)
	admin := f.env.Admin
	authURL := f.authorizeURL(oidc.AzureCLIClientID, redirect)
	alert := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := reAlert.FindStringSubmatch(string(b))
		if m == nil {
			return ""
		}
		return m[1]
	}
	// A sign-in form posted without its flow cookie (another site's form)
	// is refused.
	resp, err := f.c.PostForm(f.base+"/"+f.env.Instance.TenantID+"/oauth2/v2.0/authorize?"+strings.SplitN(authURL, "?", 2)[1],
		url.Values{"login": {admin.UserPrincipalName}, "passwd": {admin.Password}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("forged post: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp.Body.Close()

	if got := alert(f.signIn(t, authURL, "nobody@coffer.local", "x")); !strings.Contains(got, "AADSTS50126") {
		t.Errorf("unknown user: %q", got)
	}
	// Bad passwords lock the user out, then even the right one is refused.
	for range 5 {
		if got := alert(f.signIn(t, authURL, admin.UserPrincipalName, "wrong")); !strings.Contains(got, "AADSTS50126") {
			t.Fatalf("bad password: %q", got)
		}
	}
	resp = f.signIn(t, authURL, admin.UserPrincipalName, admin.Password)
	if got := alert(resp); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(got, "AADSTS50053") {
		t.Errorf("locked out: %d %q", resp.StatusCode, got)
	}
}
