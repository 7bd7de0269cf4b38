package portal_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// browserish is an HTTP client with cookies that follows redirects, as a
// browser without scripts does.
type browserish struct {
	t    *testing.T
	env  *testenv.Env
	c    *http.Client
	base string
	last string // body of the last page
}

func newBrowserish(t *testing.T) *browserish {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	jar, _ := cookiejar.New(nil)
	c := env.Client()
	c.Jar = jar
	return &browserish{t: t, env: env, c: c, base: "https://localhost:" + env.Port()}
}

func (b *browserish) get(path string) *http.Response {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.last = string(body)
	return resp
}

func (b *browserish) post(path string, form url.Values) *http.Response {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.last = string(body)
	return resp
}

var (
	reHidden = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	reCSRF   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func unescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// signIn opens the portal and signs in on the issuer's page.
func (b *browserish) signIn(login, pw string) *http.Response {
	b.t.Helper()
	resp := b.get("/portal/")
	if !strings.Contains(b.last, "Sign in") {
		b.t.Fatalf("no sign-in page: %d %s", resp.StatusCode, b.last)
	}
	form := url.Values{"login": {login}, "passwd": {pw}}
	for _, m := range reHidden.FindAllStringSubmatch(b.last, -1) {
		form.Set(m[1], unescape(m[2]))
	}
	return b.post(resp.Request.URL.RequestURI(), form)
}

func (b *browserish) csrf() string {
	m := reCSRF.FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("no csrf token in %s", b.last)
	}
	return m[1]
}

// TestPortalSession: signing in through the authorization code flow opens
// a session whose cookie is Secure, HttpOnly and SameSite=Lax; pages carry
// a strict CSP; a form without the session's CSRF token is refused; sign
// out ends the session.
func TestPortalSession(t *testing.T) {
	b := newBrowserish(t)
	var setCookie []string
	b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		setCookie = append(setCookie, req.Response.Header.Values("Set-Cookie")...)
		return nil
	}
	resp := b.signIn(b.env.Admin.UserPrincipalName, b.env.Admin.Password)
	if resp.StatusCode != 200 || !strings.Contains(b.last, "Azure services") || resp.Request.URL.Path != "/portal/" {
		t.Fatalf("after sign-in: %d %s %s", resp.StatusCode, resp.Request.URL, b.last)
	}
	var sess string
	for _, c := range setCookie {
		if strings.HasPrefix(c, "coffer_portal=") && !strings.Contains(c, "Max-Age=0") {
			sess = c
		}
	}
	for _, attr := range []string{"Secure", "HttpOnly", "SameSite=Lax", "Path=/portal"} {
		if !strings.Contains(sess, attr) {
			t.Errorf("session cookie %q lacks %s", sess, attr)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"/portal/create?q=key", "/portal/create/keyvault", "/portal/create/keyvault/form", "/portal/resourcegroups",
		"/portal/rg/coffer", "/portal/keyvaults", "/portal/virtualmachines", "/portal/kv/coffer/default/overview", "/portal/kv/coffer/default/secrets",
		"/portal/kv/coffer/default/access-policies", "/portal/kv/coffer/default/access-policies/add", "/portal/kv/coffer/default/secrets/new",
		"/portal/rg/coffer/delete", "/portal/managedidentities", "/portal/create/virtualmachine/form", "/portal/rg/coffer/iam",
		"/portal/kv/coffer/default/iam", "/portal/kv/coffer/default/deleted-secrets", "/portal/kv/coffer/default/keys",
		"/portal/kv/coffer/default/keys/new", "/portal/kv/coffer/default/deleted-keys", "/portal/kv/coffer/default/certificates",
		"/portal/kv/coffer/default/certificates/new", "/portal/kv/coffer/default/deleted-certificates"} {
		if resp := b.get(p); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, b.last)
		}
	}
	csrf := b.csrf()
	// A cross-site form (no token, or another value) changes nothing.
	for _, tok := range []string{"", "forged"} {
		if resp := b.post("/portal/rg/coffer/delete", url.Values{"csrf": {tok}, "confirm": {"coffer"}}); resp.StatusCode != 403 {
			t.Errorf("csrf %q: %d", tok, resp.StatusCode)
		}
	}
	if resp := b.get("/portal/rg/coffer"); resp.StatusCode != 200 {
		t.Errorf("the group is gone after refused posts: %d", resp.StatusCode)
	}
	// The wrong name typed does not delete.
	if resp := b.post("/portal/rg/coffer/delete", url.Values{"csrf": {csrf}, "confirm": {"cofe"}}); resp.StatusCode != 400 {
		t.Errorf("wrong confirmation: %d", resp.StatusCode)
	}
	// Keep the session cookie: a copy of it must open nothing after
	// sign-out (the session is ended on the server, not only forgotten
	// by this browser).
	u, _ := url.Parse(b.base + "/portal/")
	kept := b.c.Jar.Cookies(u)
	resp = b.post("/portal/signout", url.Values{"csrf": {csrf}})
	if !strings.Contains(b.last, "You signed out") {
		t.Errorf("sign out: %d %s", resp.StatusCode, b.last)
	}
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp := b.get("/portal/resourcegroups"); resp.StatusCode != 302 || !strings.Contains(resp.Header.Get("Location"), "/oauth2/v2.0/authorize") {
		t.Errorf("after sign-out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.c.Jar.SetCookies(u, kept)
	if resp := b.get("/portal/resourcegroups"); resp.StatusCode != 302 || !strings.Contains(resp.Header.Get("Location"), "/oauth2/v2.0/authorize") {
		t.Errorf("the session cookie of before sign-out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// adminGraph creates a user through Graph as the bootstrap service
// principal.
func createUser(t *testing.T, env *testenv.Env, upn, pw string, enabled bool) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {env.Admin.ClientID}, "client_secret": {env.Admin.ClientSecret},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, err := env.Client().PostForm(env.AuthorityHost()+env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]any{"accountEnabled": enabled, "displayName": "Bob", "mailNickname": "bob", "userPrincipalName": upn,
		"passwordProfile": map[string]any{"password": pw}})
	req, _ := http.NewRequest("POST", env.AuthorityHost()+"v1.0/users", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = env.Client().Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create user: %v %v", resp.Status, err)
	}
	resp.Body.Close()
}

// TestPortalForbidden: the portal has no back door. A user without roles
// signs in, sees nothing to manage, and is told why when refused: the
// 403 carries ARM's own explanation; nothing changes.
func TestPortalForbidden(t *testing.T) {
	b := newBrowserish(t)
	createUser(t, b.env, "bob@coffer.local", "Str0ng-Passw0rd", true)
	if resp := b.signIn("bob@coffer.local", "Str0ng-Passw0rd"); resp.StatusCode != 200 || !strings.Contains(b.last, "Signed in as Bob") {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, b.last)
	}
	resp := b.get("/portal/kv/coffer/default/overview")
	if resp.StatusCode != 403 || !strings.Contains(b.last, "You do not have permission to do this.") ||
		!strings.Contains(b.last, "does not have authorization to perform action &#39;Microsoft.KeyVault/vaults/read&#39;") {
		t.Errorf("vault as bob: %d %s", resp.StatusCode, b.last)
	}
	b.get("/portal/rg/coffer/delete")
	if resp := b.get("/portal/resourcegroups"); resp.StatusCode != 403 || strings.Contains(b.last, `href="/portal/rg/coffer"`) ||
		!strings.Contains(b.last, "You do not have permission to do this.") {
		t.Errorf("bob lists groups he cannot read: %d %s", resp.StatusCode, b.last)
	}
	b.get("/portal/")
	resp = b.post("/portal/rg/coffer/delete", url.Values{"csrf": {b.csrf()}, "confirm": {"coffer"}})
	if resp.StatusCode != 403 || !strings.Contains(b.last, "Microsoft.Resources/subscriptions/resourceGroups/delete") {
		t.Errorf("delete as bob: %d %s", resp.StatusCode, b.last)
	}
	if _, err := b.env.Resources.Group(t.Context(), b.env.Instance.SubscriptionID, "coffer"); err != nil {
		t.Errorf("the group is gone: %v", err)
	}
}

// TestPortalDisabledUser: a disabled user cannot sign in (AADSTS50057).
func TestPortalDisabledUser(t *testing.T) {
	b := newBrowserish(t)
	createUser(t, b.env, "carol@coffer.local", "Str0ng-Passw0rd", false)
	if b.signIn("carol@coffer.local", "Str0ng-Passw0rd"); !strings.Contains(b.last, "AADSTS50057: The user account is disabled.") {
		t.Errorf("disabled user: %s", b.last)
	}
}

// TestPortalVMAndIdentities: Create a virtual machine with a system
// assigned identity (its Identity shows Status On), and create and delete
// a user assigned managed identity.
func TestPortalVMAndIdentities(t *testing.T) {
	b := newBrowserish(t)
	b.signIn(b.env.Admin.UserPrincipalName, b.env.Admin.Password)
	b.get("/portal/create/virtualmachine/form")
	resp := b.post("/portal/create/virtualmachine/form", url.Values{"csrf": {b.csrf()}, "resourceGroup": {"coffer"}, "name": {"vm1"}, "systemAssigned": {"on"}})
	vm, err := b.env.Resources.VM(t.Context(), b.env.Instance.SubscriptionID, "coffer", "vm1")
	if resp.StatusCode != 200 || err != nil || vm.SystemAssigned == "" ||
		!strings.Contains(b.last, "<dt>Status</dt><dd>On</dd>") || !strings.Contains(b.last, vm.SystemAssigned) {
		t.Fatalf("VM: %d %v %s", resp.StatusCode, err, b.last)
	}
	b.get("/portal/managedidentities")
	b.post("/portal/managedidentities", url.Values{"csrf": {b.csrf()}, "op": {"create"}, "resourceGroup": {"coffer"}, "name": {"id1"}})
	u, err := b.env.Resources.UAMI(t.Context(), b.env.Instance.SubscriptionID, "coffer", "id1")
	if err != nil || !strings.Contains(b.last, "Created managed identity id1.") || !strings.Contains(b.last, u.PrincipalID) {
		t.Fatalf("identity: %v %s", err, b.last)
	}
	b.post("/portal/managedidentities", url.Values{"csrf": {b.csrf()}, "op": {"delete"}, "resourceGroup": {"coffer"}, "name": {"id1"}})
	if _, err := b.env.Resources.UAMI(t.Context(), b.env.Instance.SubscriptionID, "coffer", "id1"); err == nil || !strings.Contains(b.last, "Deleted managed identity id1.") {
		t.Errorf("after delete: %v %s", err, b.last)
	}
}
