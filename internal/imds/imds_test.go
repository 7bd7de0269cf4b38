package imds_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/imds"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

const vaultResource = "https://vault.azure.net"

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingTransport counts the requests the Front sends to the server, so
// tests can tell answered-locally from relayed.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// fixture is a real Coffer server with a VM (system-assigned identity plus
// one attached user-assigned identity) and a Front for it, served over
// HTTP on 127.0.0.1.
type fixture struct {
	env      *testenv.Env
	vm       *model.Compute
	uami     *model.UserAssignedIdentity
	cred     string
	front    *imds.Front
	upstream *countingTransport
	url      string // the Front's base URL
}

type fixtureOptions struct {
	serverNow func() time.Time
	frontNow  func() time.Time
}

func setup(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, Now: o.serverNow})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	u, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "coffer", "uami1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vm1", resources.VMSpec{SystemAssigned: true, UserAssigned: []string{u.ResourceID()}})
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, "coffer", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, vm: vm, uami: u, cred: cred}
	f.front, f.upstream = newFront(t, env, cred, o.frontNow)
	srv := httptest.NewServer(f.front)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// newFront builds a Front for the server at env that trusts its CA and
// reaches it as https://localhost:port, as an agent would.
func newFront(t *testing.T, env *testenv.Env, cred string, now func() time.Time) (*imds.Front, *countingTransport) {
	ct := &countingTransport{base: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.CA.Pool(), MinVersion: tls.VersionTLS12}}}
	return &imds.Front{
		Upstream:   &http.Client{Transport: ct, Timeout: 10 * time.Second},
		ServerURL:  "https://localhost:" + env.Port(),
		Credential: cred,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), nil)),
		Now:        now,
	}, ct
}

type response struct {
	status int
	header http.Header
	body   string
}

// get sends GET base+target with the given headers (nil: Metadata: true).
func get(t *testing.T, base, target string, hdr map[string]string) response {
	t.Helper()
	return do(t, http.MethodGet, base+target, hdr)
}

func do(t *testing.T, method, u string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hdr == nil {
		hdr = map[string]string{"Metadata": "true"}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func tokenTarget(extra string) string {
	return "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + url.QueryEscape(vaultResource) + extra
}

// tokenFields decodes a token body, requiring every value to be a string.
func tokenFields(t *testing.T, r response) map[string]string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d, body %s", r.status, r.body)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatalf("token body %q: %v", r.body, err)
	}
	out := map[string]string{}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Errorf("token field %s is %T, want string", k, v)
		}
		out[k] = s
	}
	return out
}

// claims decodes a JWT's payload without verifying it (the server's own
// tests verify signatures; here only the audience and subject matter).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("access_token is not a JWT")
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

const (
	noMetadata   = `{"error":"bad_request_102","error_description":"Required metadata header not specified"}`
	badAPI       = `{"error":"Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds","newest-versions":["2025-04-07","2024-07-17","2024-03-15"]}`
	xffRejected  = `{"error":"invalid_request","error_description":"Requests with an X-Forwarded-For header are not accepted."}`
	noResource   = `{"error":"invalid_request","error_description":"Required query variable 'resource' is missing"}`
	twoSelectors = `{"error":"invalid_request","error_description":"Only one of client_id, object_id and msi_res_id may be specified."}`
	notFound     = `{"error":"Not found"}`
)

// TestBadRequests: every malformed request gets IMDS's exact answer,
// from the Front alone (nothing reaches the server).
func TestBadRequests(t *testing.T) {
	f := setup(t, fixtureOptions{})
	md := map[string]string{"Metadata": "true"}
	tests := []struct {
		name   string
		method string
		target string
		hdr    map[string]string
		status int
		body   string
	}{
		{"no Metadata header", "GET", tokenTarget(""), map[string]string{}, 400, noMetadata},
		{"Metadata: false", "GET", tokenTarget(""), map[string]string{"Metadata": "false"}, 400, noMetadata},
		{"Metadata: True (IMDS wants lower case)", "GET", tokenTarget(""), map[string]string{"Metadata": "True"}, 400, noMetadata},
		{"X-Forwarded-For", "GET", tokenTarget(""), map[string]string{"Metadata": "true", "X-Forwarded-For": "10.0.0.1"}, 400, xffRejected},
		{"no resource", "GET", "/metadata/identity/oauth2/token?api-version=2018-02-01", md, 400, noResource},
		{"empty resource", "GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=", md, 400, noResource},
		{"two selectors", "GET", tokenTarget("&client_id=a&object_id=b"), md, 400, twoSelectors},
		{"msi_res_id and mi_res_id", "GET", tokenTarget("&msi_res_id=a&mi_res_id=b"), md, 400, twoSelectors},
		{"no api-version", "GET", "/metadata/identity/oauth2/token?resource=x", md, 400, badAPI},
		{"unknown api-version", "GET", "/metadata/identity/oauth2/token?api-version=2018-02-02&resource=x", md, 400, badAPI},
		{"api-version before the identity category", "GET", "/metadata/identity/oauth2/token?api-version=2017-12-01&resource=x", md, 400, badAPI},
		{"duplicate resource", "GET", tokenTarget("&resource=https%3A%2F%2Fmanagement.azure.com%2F"), md, 400,
			`{"error":"invalid_request","error_description":"The query parameter 'resource' is specified more than once."}`},
		{"duplicate api-version", "GET", tokenTarget("&api-version=2018-02-01"), md, 400,
			`{"error":"invalid_request","error_description":"The query parameter 'api-version' is specified more than once."}`},
		{"bypass_cache=false", "GET", tokenTarget("&bypass_cache=false"), md, 400,
			`{"error":"invalid_request","error_description":"The query parameter 'bypass_cache' must be 'true' when specified."}`},
		{"POST", "POST", tokenTarget(""), md, 405,
			`{"error":"method_not_allowed","error_description":"The HTTP method POST is not allowed; the instance metadata service answers GET only."}`},
		{"HEAD instance", "HEAD", "/metadata/instance?api-version=2021-02-01", md, 405, ""},
		{"info without Metadata", "GET", "/metadata/identity/info?api-version=2018-02-01", map[string]string{}, 400, noMetadata},
		{"instance without Metadata", "GET", "/metadata/instance?api-version=2021-02-01", map[string]string{}, 400,
			`{"error":"Bad request. Required metadata header not specified"}`},
		{"instance with X-Forwarded-For", "GET", "/metadata/instance?api-version=2021-02-01", map[string]string{"Metadata": "true", "X-Forwarded-For": "1.2.3.4"}, 400,
			`{"error":"Bad request. Requests with an X-Forwarded-For header are not accepted."}`},
		{"instance without api-version", "GET", "/metadata/instance", md, 400, badAPI},
		{"instance with a bad format", "GET", "/metadata/instance?api-version=2021-02-01&format=xml", md, 400,
			`{"error":"Bad request. The format must be json or text."}`},
		{"unknown path", "GET", "/metadata/attested/document?api-version=2021-02-01", md, 404, notFound},
		{"root", "GET", "/", md, 404, notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, f.url+tt.target, tt.hdr)
			if r.status != tt.status || (tt.method != "HEAD" && r.body != tt.body) {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.target, r.status, r.body, tt.status, tt.body)
			}
			if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := r.header.Get("Server"); got != imds.ServerHeader {
				t.Errorf("Server = %q", got)
			}
		})
	}
	if n := f.upstream.n.Load(); n != 0 {
		t.Errorf("bad requests caused %d requests to the server, want 0", n)
	}
}

// TestProbe: the SDKs' availability probe (no Metadata header, no query,
// 1 s timeout) is answered with a 400 at once.
func TestProbe(t *testing.T) {
	f := setup(t, fixtureOptions{})
	start := time.Now()
	r := get(t, f.url, "/metadata/identity/oauth2/token", map[string]string{"User-Agent": "azsdk-go-azidentity/v1.15.0"})
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("probe took %v", d)
	}
	if r.status != 400 || r.body != noMetadata {
		t.Errorf("probe = %d %s, want 400 %s", r.status, r.body, noMetadata)
	}
}

// TestToken: a system-assigned token through the real server, in IMDS's
// shape, with the requested resource as audience.
func TestToken(t *testing.T) {
	f := setup(t, fixtureOptions{})
	for _, target := range []string{
		tokenTarget(""),
		// Case-insensitive path, trailing slash (msal-node), doubled slash.
		"/METADATA/Identity/OAuth2/Token/?api-version=2018-02-01&resource=" + url.QueryEscape(vaultResource),
		"//metadata/identity/oauth2/token?api-version=2025-04-07&resource=" + url.QueryEscape(vaultResource),
	} {
		r := get(t, f.url, target, nil)
		tok := tokenFields(t, r)
		want := []string{"access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before", "resource", "token_type"}
		var got []string
		for k := range tok {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: token fields %v, want %v", target, got, want)
		}
		if tok["resource"] != vaultResource || tok["token_type"] != "Bearer" {
			t.Errorf("%s: resource %q token_type %q", target, tok["resource"], tok["token_type"])
		}
		if tok["expires_in"] == "" || tok["expires_in"] == "0" {
			t.Errorf("expires_in = %q", tok["expires_in"])
		}
		c := claims(t, tok["access_token"])
		if c["aud"] != vaultResource {
			t.Errorf("aud = %v, want %s", c["aud"], vaultResource)
		}
		if c["oid"] != f.vm.SystemAssigned {
			t.Errorf("oid = %v, want the VM's system-assigned principal %s", c["oid"], f.vm.SystemAssigned)
		}
		if r.header.Get("Server") != imds.ServerHeader || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("headers %v", r.header)
		}
	}

	// A resource with a trailing slash is the audience verbatim.
	mgmt := "https://management.azure.com/"
	tok := tokenFields(t, get(t, f.url, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+url.QueryEscape(mgmt), nil))
	if c := claims(t, tok["access_token"]); c["aud"] != mgmt {
		t.Errorf("aud = %v, want %s", c["aud"], mgmt)
	}
}

// TestUserAssigned: every IMDS selector reaches the attached user-assigned
// identity; an unknown one is a 400 "Identity not found", never a 404
// that SDKs would retry for a minute.
func TestUserAssigned(t *testing.T) {
	f := setup(t, fixtureOptions{})
	for _, sel := range []string{
		"&client_id=" + f.uami.ClientID,
		"&client_id=" + strings.ToUpper(f.uami.ClientID),
		"&object_id=" + f.uami.PrincipalID,
		"&msi_res_id=" + url.QueryEscape(f.uami.ResourceID()),
		"&mi_res_id=" + url.QueryEscape(f.uami.ResourceID()),
	} {
		tok := tokenFields(t, get(t, f.url, tokenTarget(sel), nil))
		if !strings.EqualFold(tok["client_id"], f.uami.ClientID) {
			t.Errorf("%s: client_id = %s, want %s", sel, tok["client_id"], f.uami.ClientID)
		}
		if c := claims(t, tok["access_token"]); c["oid"] != f.uami.PrincipalID {
			t.Errorf("%s: oid = %v, want %s", sel, c["oid"], f.uami.PrincipalID)
		}
	}
	r := get(t, f.url, tokenTarget("&client_id=00000000-0000-0000-0000-000000000001"), nil)
	if want := `{"error":"invalid_request","error_description":"Identity not found"}`; r.status != 400 || r.body != want {
		t.Errorf("unknown client_id = %d %s, want 400 %s", r.status, r.body, want)
	}
}

// TestCache: tokens are served from the Front's cache until half their
// lifetime; bypass_cache=true fetches (and caches) a fresh one.
func TestCache(t *testing.T) {
	serverClock, frontClock := newClock(), newClock()
	f := setup(t, fixtureOptions{serverNow: serverClock.Now, frontNow: frontClock.Now})
	a := tokenFields(t, get(t, f.url, tokenTarget(""), nil))
	n := f.upstream.n.Load()
	frontClock.Add(time.Hour)
	b := tokenFields(t, get(t, f.url, tokenTarget(""), nil))
	if a["access_token"] != b["access_token"] {
		t.Errorf("second request got a different token")
	}
	if f.upstream.n.Load() != n {
		t.Errorf("second request went to the server")
	}
	if a["expires_in"] == b["expires_in"] {
		t.Errorf("cached token's expires_in %s did not count down", b["expires_in"])
	}
	// Past half the server cache's lifetime the server mints a new token;
	// the Front still answers from its own cache unless told to bypass it.
	serverClock.Add(13 * time.Hour)
	if c := tokenFields(t, get(t, f.url, tokenTarget(""), nil)); c["access_token"] != a["access_token"] {
		t.Errorf("cached token not served")
	}
	fresh := tokenFields(t, get(t, f.url, tokenTarget("&bypass_cache=true"), nil))
	if fresh["access_token"] == a["access_token"] {
		t.Fatalf("bypass_cache=true served the cached token")
	}
	if again := tokenFields(t, get(t, f.url, tokenTarget(""), nil)); again["access_token"] != fresh["access_token"] {
		t.Errorf("the bypassing request did not refresh the cache")
	}
	// Past half its lifetime (the fresh token's not_before is the server
	// clock's, 12 h ahead) the Front asks the server again.
	frontClock.Add(25 * time.Hour)
	n = f.upstream.n.Load()
	tokenFields(t, get(t, f.url, tokenTarget(""), nil))
	if f.upstream.n.Load() != n+1 {
		t.Errorf("a token past half its lifetime was served from the cache")
	}
	// Different resources and identities are cached apart.
	u := tokenFields(t, get(t, f.url, tokenTarget("&client_id="+f.uami.ClientID), nil))
	if u["access_token"] == fresh["access_token"] {
		t.Errorf("the user-assigned identity got the system-assigned token")
	}
}

// TestRateLimit: more than 20 identity requests in a second get 429 with
// Retry-After: 1, and the bucket refills with time.
func TestRateLimit(t *testing.T) {
	frontClock := newClock()
	f := setup(t, fixtureOptions{frontNow: frontClock.Now})
	for i := range 20 {
		if r := get(t, f.url, tokenTarget(""), nil); r.status != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := get(t, f.url, tokenTarget(""), nil)
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("21st request = %d (Retry-After %q) %s, want 429", r.status, r.header.Get("Retry-After"), r.body)
	}
	var e map[string]string
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e["error"] != "too_many_requests" || e["error_description"] == "" {
		t.Errorf("429 body %s", r.body)
	}
	// Bad requests are not throttled (they cost nothing), so the probe
	// still gets its 400.
	if p := get(t, f.url, "/metadata/identity/oauth2/token", map[string]string{}); p.status != 400 {
		t.Errorf("probe while throttled = %d", p.status)
	}
	frontClock.Add(time.Second)
	if r := get(t, f.url, tokenTarget(""), nil); r.status != 200 {
		t.Errorf("after a second: %d %s", r.status, r.body)
	}

	// The instance category allows 5 per second.
	for i := range 5 {
		if r := get(t, f.url, "/metadata/instance?api-version=2021-02-01", nil); r.status != 200 {
			t.Fatalf("instance request %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := get(t, f.url, "/metadata/instance?api-version=2021-02-01", nil); r.status != 429 || r.body != `{"error":"Too many requests: the instance metadata service allows 5 requests per second."}` {
		t.Errorf("6th instance request = %d %s", r.status, r.body)
	}
}

// TestConcurrencyLimit: a 6th identity request while 5 are in flight gets
// 429 at once. The upstream here is a stand-in server that holds requests
// until released, to keep 5 in flight.
func TestConcurrencyLimit(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int64
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		<-release
		now := time.Now().Unix()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": "x.y.z", "client_id": "c", "expires_in": "86400", "ext_expires_in": "86400",
			"expires_on": itoa(now + 86400), "not_before": itoa(now), "resource": r.URL.Query().Get("resource"), "token_type": "Bearer",
		})
	}))
	defer up.Close()
	front := &imds.Front{Upstream: up.Client(), ServerURL: up.URL, Credential: "cofferm_test", Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	srv := httptest.NewServer(front)
	defer srv.Close()

	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if r := get(t, srv.URL, tokenTarget("&bypass_cache=true&client_id="+itoa(int64(i))), nil); r.status != 200 {
				t.Errorf("request %d: %d %s", i, r.status, r.body)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests reached the upstream", inFlight.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := get(t, srv.URL, tokenTarget(""), nil)
	close(release)
	wg.Wait()
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("6th concurrent request = %d %s, want 429", r.status, r.body)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestInstance: the instance document, route filtering to a text leaf,
// and the identity info.
func TestInstance(t *testing.T) {
	f := setup(t, fixtureOptions{})
	f.front.MetadataRate = 1000 // TestRateLimit covers the limit
	r := get(t, f.url, "/metadata/instance?api-version=2021-02-01", nil)
	if r.status != 200 {
		t.Fatalf("instance: %d %s", r.status, r.body)
	}
	var doc struct {
		Compute map[string]any `json:"compute"`
		Network map[string]any `json:"network"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Compute["vmId"] != f.vm.VMID || doc.Compute["name"] != "vm1" || doc.Compute["resourceId"] != f.vm.ResourceID() || doc.Network == nil {
		t.Errorf("instance document %s", r.body)
	}
	if r.header.Get("X-Coffer-Tenant-Id") != "" {
		t.Errorf("the server's tenant header leaked: %v", r.header)
	}

	tests := []struct {
		target, contentType, body string
		status                    int
	}{
		{"/metadata/instance/compute/vmId?api-version=2021-02-01&format=text", "text/plain; charset=utf-8", f.vm.VMID, 200},
		{"/Metadata/Instance/Compute/VMID/?api-version=2021-02-01&format=text", "text/plain; charset=utf-8", f.vm.VMID, 200},
		{"/metadata/instance/compute/osProfile/computerName?api-version=2021-02-01&format=text", "text/plain; charset=utf-8", "vm1", 200},
		{"/metadata/instance/compute/vmId?api-version=2021-02-01&format=json", "application/json; charset=utf-8",
			`{"error":"Bad request. Leaf nodes can only be returned with format=text."}`, 400},
		{"/metadata/instance/compute/vmId?api-version=2021-02-01", "application/json; charset=utf-8",
			`{"error":"Bad request. Leaf nodes can only be returned with format=text."}`, 400},
		{"/metadata/instance/compute/nosuch?api-version=2021-02-01&format=text", "application/json; charset=utf-8", notFound, 404},
		{"/metadata/instance/compute/osProfile?api-version=2021-02-01", "application/json; charset=utf-8",
			`{"adminUsername":"","computerName":"vm1","disablePasswordAuthentication":"true"}`, 200},
		{"/metadata/instance/compute/osProfile?api-version=2021-02-01&format=text", "text/plain; charset=utf-8",
			"adminUsername\ncomputerName\ndisablePasswordAuthentication", 200},
		{"/metadata/instance?api-version=2021-02-01&format=text", "text/plain; charset=utf-8", "compute/\nnetwork/", 200},
		{"/metadata/identity/info?api-version=2018-02-01", "application/json; charset=utf-8", `{"tenantId":"` + f.env.Instance.TenantID + `"}`, 200},
	}
	for _, tt := range tests {
		r := get(t, f.url, tt.target, nil)
		if r.status != tt.status || r.body != tt.body || r.header.Get("Content-Type") != tt.contentType {
			t.Errorf("GET %s = %d %q %s, want %d %q %s", tt.target, r.status, r.header.Get("Content-Type"), r.body, tt.status, tt.contentType, tt.body)
		}
	}

	r = get(t, f.url, "/metadata/versions", nil)
	var v struct{ APIVersions []string }
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || r.status != 200 || !slices.Contains(v.APIVersions, "2018-02-01") {
		t.Errorf("versions = %d %s", r.status, r.body)
	}
}

// TestAbsoluteForm: a client with HTTP_PROXY pointed at the Front sends
// absolute-form targets (GET http://169.254.169.254/...), which work like
// any other; nothing dials 169.254.169.254.
func TestAbsoluteForm(t *testing.T) {
	f := setup(t, fixtureOptions{})
	proxy, _ := url.Parse(f.url)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", "http://169.254.169.254"+tokenTarget(""), nil)
	req.Header.Set("Metadata", "true")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok := tokenFields(t, response{resp.StatusCode, resp.Header, string(b)})
	if c := claims(t, tok["access_token"]); c["aud"] != vaultResource {
		t.Errorf("aud = %v", c["aud"])
	}
}

// TestServerErrors: a rejected machine credential is a permanent 400 with
// a clear description (and Instance says so); an unreachable server is a
// retryable 500.
func TestServerErrors(t *testing.T) {
	f := setup(t, fixtureOptions{})
	bad, _ := newFront(t, f.env, "cofferm_00000000000000000000000000000000.bm9wZQ", nil)
	srv := httptest.NewServer(bad)
	defer srv.Close()
	r := get(t, srv.URL, tokenTarget(""), nil)
	var e map[string]string
	_ = json.Unmarshal([]byte(r.body), &e)
	if r.status != 400 || e["error"] != "invalid_request" || !strings.Contains(e["error_description"], "rejected this machine's credential") {
		t.Errorf("bad credential = %d %s", r.status, r.body)
	}
	if _, _, err := bad.Instance(context.Background()); !errors.Is(err, imds.ErrCredentialRejected) {
		t.Errorf("Instance with a bad credential = %v, want ErrCredentialRejected", err)
	}
	if strings.Contains(r.body, "cofferm_") {
		t.Errorf("the credential leaked into a response: %s", r.body)
	}

	// Revoking the VM's credentials takes effect for fresh requests.
	if _, err := f.env.Resources.RevokeCredentials(context.Background(), f.env.Instance.SubscriptionID, "coffer", "vm1", ""); err != nil {
		t.Fatal(err)
	}
	if r := get(t, f.url, tokenTarget("&bypass_cache=true"), nil); r.status != 400 {
		t.Errorf("revoked credential = %d %s", r.status, r.body)
	}

	down := &imds.Front{Upstream: &http.Client{Timeout: 5 * time.Second}, ServerURL: "https://127.0.0.1:1", Credential: f.cred}
	srv2 := httptest.NewServer(down)
	defer srv2.Close()
	r = get(t, srv2.URL, tokenTarget(""), nil)
	if r.status != 500 || !strings.HasPrefix(r.body, `{"error":"unknown","error_description":"Failed to retrieve token from the Active directory.`) {
		t.Errorf("unreachable server = %d %s", r.status, r.body)
	}
}

// TestTrustErrors: a server certificate the machine does not trust (or one
// that does not name the server's host) is a configuration error, answered
// at once with a permanent 400 that carries the fix — not the retryable
// 500 of an unreachable server, which clients retry for about a minute.
func TestTrustErrors(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the request reached the untrusted server: %s", r.URL)
	}))
	defer up.Close()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	trusting := up.Client() // trusts the test server's certificate (127.0.0.1, ::1, example.com)
	tests := []struct {
		name     string
		upstream *http.Client
		server   string
		wantFix  string
		hostname bool
	}{
		{"unknown authority", &http.Client{Timeout: 5 * time.Second}, up.URL, "FIX-THE-CA", false},
		{"name not in the certificate", trusting, "https://localhost:" + port, "FIX-THE-NAME", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := &imds.Front{Upstream: tt.upstream, ServerURL: tt.server, Credential: "cofferm_x", FixCA: "FIX-THE-CA", FixName: "FIX-THE-NAME"}
			srv := httptest.NewServer(front)
			defer srv.Close()
			start := time.Now()
			r := get(t, srv.URL, tokenTarget(""), nil)
			var e map[string]string
			_ = json.Unmarshal([]byte(r.body), &e)
			if r.status != 400 || e["error"] != "invalid_request" || !strings.Contains(e["error_description"], "Configuration error") ||
				!strings.Contains(e["error_description"], tt.wantFix) {
				t.Errorf("token = %d %s, want 400 invalid_request with %q", r.status, r.body, tt.wantFix)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the answer took %s", d)
			}
			r = get(t, srv.URL, "/metadata/identity/info?api-version=2018-02-01", nil)
			if r.status != 400 || !strings.Contains(r.body, tt.wantFix) {
				t.Errorf("info = %d %s", r.status, r.body)
			}
			_, _, err := front.Instance(context.Background())
			te := imds.AsTrustError(err)
			if te == nil || te.Hostname != tt.hostname || te.Server != tt.server {
				t.Errorf("Instance error = %v (%#v), want a TrustError (hostname %v)", err, te, tt.hostname)
			}
		})
	}
	// An unreachable server is not a trust error.
	if te := imds.AsTrustError(&net.OpError{Op: "dial", Err: errors.New("connection refused")}); te != nil {
		t.Errorf("AsTrustError(dial error) = %v", te)
	}
}
