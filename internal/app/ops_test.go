package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// lockedBuffer is a goroutine-safe audit sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// opsEnv starts a server in the AzureCloud profile with cfg's operations
// settings and returns it as a testenv.Env (for its pinned client).
func opsEnv(t testing.TB, cfg app.Config) *testenv.Env {
	t.Helper()
	cfg.Addr, cfg.InMemory, cfg.Cloud = "127.0.0.1:0", true, cloud.AzureCloud
	s, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tt, _ := t.(*testing.T)
	return &testenv.Env{Server: s, T: tt}
}

// call sends one request and returns status and body.
func call(t *testing.T, env *testenv.Env, method, u, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// adminToken gets a token for resource through the real token endpoint.
func adminToken(t *testing.T, env *testenv.Env, resource string) string {
	t.Helper()
	res, err := env.Client().PostForm("https://login.microsoftonline.com/"+env.Instance.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {env.Admin.ClientID}, "client_secret": {env.Admin.ClientSecret},
		"scope": {resource + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// metricValue finds the sample line that starts with name{labels} (labels
// in the exposition's order) and returns its value, "" if absent.
func metricValue(text, series string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return ""
}

// TestMetrics: the counters move as operations happen; /metrics is only on
// the operator address; no secret name or value ever shows in it.
func TestMetrics(t *testing.T) {
	env := opsEnv(t, app.Config{MetricsAddr: "127.0.0.1:0", Throttle: &keyvault.Throttle{Rate: 0.0001, Burst: 8, Now: time.Now}})
	const secretName, secretValue = "metrics-probe-name", "metrics-probe-value-8c1f"
	vault := "https://" + env.Instance.DefaultVault + ".vault.azure.net"
	before := scrape(t, env.MetricsAddr)
	if metricValue(before, `coffer_tokens_issued_total{endpoint="oauth2"}`) != "" {
		t.Fatalf("tokens counted before any was issued:\n%s", before)
	}
	tok := adminToken(t, env, "https://vault.azure.net")
	if st, b := call(t, env, "PUT", vault+"/secrets/"+secretName+"?api-version=7.5", tok, map[string]string{"value": secretValue}); st != 200 {
		t.Fatalf("set: %d %s", st, b)
	}
	if st, _ := call(t, env, "GET", vault+"/secrets/"+secretName+"?api-version=7.5", tok, nil); st != 200 {
		t.Fatalf("get: %d", st)
	}
	if st, _ := call(t, env, "GET", vault+"/secrets/"+secretName+"?api-version=7.5", "", nil); st != 401 {
		t.Fatalf("get without a token: %d", st)
	}
	throttled := false
	for range 20 {
		if st, _ := call(t, env, "GET", vault+"/secrets?api-version=7.5", tok, nil); st == 429 {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("never throttled")
	}
	after := scrape(t, env.MetricsAddr)
	for series, want := range map[string]string{
		`coffer_tokens_issued_total{endpoint="oauth2"}`:                                    "1",
		`coffer_http_requests_total{api="keyvault",code="200",operation="SecretSet"}`:      "1",
		`coffer_http_requests_total{api="keyvault",code="200",operation="SecretGet"}`:      "1",
		`coffer_http_requests_total{api="keyvault",code="401",operation="SecretGet"}`:      "1",
		`coffer_http_requests_total{api="token",code="200",operation="TokenIssue"}`:        "1",
		`coffer_auth_failures_total{api="keyvault",code="401",reason="Unauthorized"}`:      "1",
		`coffer_throttled_requests_total{api="keyvault"}`:                                  "1",
		`coffer_http_request_duration_seconds_count{api="keyvault",operation="SecretSet"}`: "1",
	} {
		if got := metricValue(after, series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	// The read cache's counters: the GET read records the SET had just
	// read (hits), and the first reads filled it (misses).
	for _, name := range []string{"coffer_cache_hits_total", "coffer_cache_misses_total"} {
		b, _ := strconv.ParseFloat(metricValue(before, name), 64)
		a, err := strconv.ParseFloat(metricValue(after, name), 64)
		if err != nil || a <= b {
			t.Errorf("%s went from %q to %q, want it to grow", name, metricValue(before, name), metricValue(after, name))
		}
	}
	if strings.Contains(after, secretName) || strings.Contains(after, secretValue) || strings.Contains(after, env.Instance.DefaultVault) {
		t.Errorf("the metrics name the secret or the vault:\n%s", after)
	}
	// Not on the public listener.
	if st, _ := call(t, env, "GET", "https://localhost:"+env.Port()+"/metrics", "", nil); st != 404 {
		t.Errorf("GET /metrics on the public listener = %d, want 404", st)
	}
}

// auditLine is the part of an audit line the tests read.
type auditLine struct {
	OperationName string `json:"operationName"`
	ResultType    string `json:"resultType"`
	ResourceID    string `json:"resourceId"`
	Identity      *struct {
		Claim map[string]string `json:"claim"`
	} `json:"identity"`
	Properties struct {
		ID             string `json:"id"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		RequestID      string `json:"requestId"`
	} `json:"properties"`
	CallerIPAddress string `json:"callerIpAddress"`
}

func parseAudit(t *testing.T, text string) []auditLine {
	t.Helper()
	var out []auditLine
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "" {
			continue
		}
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, a)
	}
	return out
}

// TestAuditLifecycle: a secret's lifecycle writes exactly the expected
// operations with their callers, and no audit line holds a secret value or
// a token.
func TestAuditLifecycle(t *testing.T) {
	sink := &lockedBuffer{}
	env := opsEnv(t, app.Config{AuditWriter: sink})
	vault := "https://" + env.Instance.DefaultVault + ".vault.azure.net"
	values := []string{"first-value-0d2c", "second-value-77ab"}
	tok := adminToken(t, env, "https://vault.azure.net")
	armTok := adminToken(t, env, "https://management.azure.com")
	steps := []struct {
		method, url string
		body        any
		token       string
		want        int
	}{
		{"PUT", vault + "/secrets/db?api-version=7.5", map[string]string{"value": values[0]}, tok, 200},
		{"PUT", vault + "/secrets/db?api-version=7.5", map[string]string{"value": values[1]}, tok, 200},
		{"GET", vault + "/secrets/db?api-version=7.5", nil, tok, 200},
		{"GET", vault + "/secrets/db?api-version=7.5", nil, "", 401},
		{"GET", vault + "/secrets/db/versions?api-version=7.5", nil, tok, 200},
		{"DELETE", vault + "/secrets/db?api-version=7.5", nil, tok, 200},
		{"GET", vault + "/deletedsecrets/db?api-version=7.5", nil, tok, 200},
		{"DELETE", vault + "/deletedsecrets/db?api-version=7.5", nil, tok, 204},
		{"GET", "https://management.azure.com/subscriptions/" + env.Instance.SubscriptionID + "/resourcegroups?api-version=2021-04-01", nil, armTok, 200},
	}
	for _, s := range steps {
		if st, b := call(t, env, s.method, s.url, s.token, s.body); st != s.want {
			t.Fatalf("%s %s = %d %s, want %d", s.method, s.url, st, b, s.want)
		}
	}
	text := sink.String()
	lines := parseAudit(t, text)
	want := []string{"TokenIssue", "TokenIssue", "SecretSet", "SecretSet", "SecretGet", "SecretGet", "SecretListVersions",
		"SecretDelete", "SecretGetDeleted", "SecretPurge", "ResourceGroupList"}
	var got []string
	for _, l := range lines {
		got = append(got, l.OperationName)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("operations = %v, want %v\n%s", got, want, text)
	}
	admin := env.Instance.AdminObjectID
	for i, l := range lines {
		anonymous := i == 5 // the 401
		switch {
		case anonymous && (l.Identity != nil || l.ResultType != "Failure" || l.Properties.HTTPStatusCode != 401):
			t.Errorf("line %d (no token): %+v", i, l)
		case !anonymous && (l.Identity == nil || l.Identity.Claim["oid"] != admin || l.Identity.Claim["tid"] != env.Instance.TenantID || l.ResultType != "Success"):
			t.Errorf("line %d (%s): caller %+v, result %s; want the admin %s", i, l.OperationName, l.Identity, l.ResultType, admin)
		}
		if l.CallerIPAddress != "127.0.0.1" || l.Properties.RequestID == "" {
			t.Errorf("line %d: caller IP %q, request id %q", i, l.CallerIPAddress, l.Properties.RequestID)
		}
		if strings.HasPrefix(l.OperationName, "Secret") && (!strings.Contains(strings.ToLower(l.ResourceID), "/providers/microsoft.keyvault/vaults/"+env.Instance.DefaultVault) ||
			!strings.Contains(l.Properties.ID, "/secrets/db") && !strings.Contains(l.Properties.ID, "/deletedsecrets/db")) {
			t.Errorf("line %d: resourceId %q, id %q", i, l.ResourceID, l.Properties.ID)
		}
	}
	for _, secret := range append(values, tok, armTok, env.Admin.ClientSecret) {
		if strings.Contains(text, secret) {
			t.Errorf("the audit log holds a secret value, token or credential (%.12s…)", secret)
		}
	}
}

// failingWriter fails while broken is set.
type failingWriter struct {
	mu     sync.Mutex
	broken bool
	lockedBuffer
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		return 0, errors.New("disk full")
	}
	return f.lockedBuffer.Write(p)
}

// TestAuditFailClosed: with --audit-fail-closed, a secret read whose audit
// line cannot be written is answered 503 without the value; once the log
// works again, so does the server.
func TestAuditFailClosed(t *testing.T) {
	sink := &failingWriter{}
	env := opsEnv(t, app.Config{AuditWriter: sink, AuditFailClosed: true})
	vault := "https://" + env.Instance.DefaultVault + ".vault.azure.net"
	const value = "fail-closed-value-5e1a"
	tok := adminToken(t, env, "https://vault.azure.net")
	if st, _ := call(t, env, "PUT", vault+"/secrets/fc?api-version=7.5", tok, map[string]string{"value": value}); st != 200 {
		t.Fatalf("set: %d", st)
	}
	sink.mu.Lock()
	sink.broken = true
	sink.mu.Unlock()
	for i := range 2 { // the first fails on writing, the second before running
		st, b := call(t, env, "GET", vault+"/secrets/fc?api-version=7.5", tok, nil)
		if st != 503 || strings.Contains(string(b), value) || !strings.Contains(string(b), "audit") {
			t.Errorf("read %d with a broken audit log = %d %s, want 503 without the value", i, st, b)
		}
	}
	sink.mu.Lock()
	sink.broken = false
	sink.mu.Unlock()
	// The next request's refusal line is written, which heals the log.
	call(t, env, "GET", vault+"/secrets/fc?api-version=7.5", tok, nil)
	if st, b := call(t, env, "GET", vault+"/secrets/fc?api-version=7.5", tok, nil); st != 200 || !strings.Contains(string(b), value) {
		t.Errorf("read after the log recovered = %d %s", st, b)
	}
	_ = time.Second
}

// TestAuditSkipsProbes: health probes and discovery are not operations:
// no audit lines, and they answer even when a fail-closed log is broken.
func TestAuditSkipsProbes(t *testing.T) {
	sink := &failingWriter{broken: true}
	env := opsEnv(t, app.Config{AuditWriter: sink, AuditFailClosed: true})
	for _, p := range []string{"/healthz", "/readyz", "/" + env.Instance.TenantID + "/v2.0/.well-known/openid-configuration"} {
		if st, b := call(t, env, "GET", "https://localhost:"+env.Port()+p, "", nil); st != 200 {
			t.Errorf("GET %s with a broken audit log = %d %s", p, st, b)
		}
	}
	working := &lockedBuffer{}
	env = opsEnv(t, app.Config{AuditWriter: working})
	for _, p := range []string{"/healthz", "/readyz", "/" + env.Instance.TenantID + "/v2.0/.well-known/openid-configuration"} {
		call(t, env, "GET", "https://localhost:"+env.Port()+p, "", nil)
	}
	if s := working.String(); s != "" {
		t.Errorf("audit lines for probes: %s", s)
	}
}
