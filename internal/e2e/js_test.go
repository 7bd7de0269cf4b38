package e2e

// Tests that drive Coffer with the unmodified JavaScript SDKs
// (@azure/identity, @azure/keyvault-secrets): the scripts in js/ run under
// Node and print one JSON line, which is asserted here.
//
// They need Node (20 or newer) and js/node_modules. When node_modules is
// missing or does not match js/package.json, the test runs `npm ci` in js/
// (the npm registry must be reachable). Without node on PATH the tests
// fail in strict runs (scripts/test, CI) and skip with a record otherwise
// (internal/testreq). CI can install ahead of
// time with `npm ci --prefix internal/e2e/js`.
//
// Name resolution: the scripts use the real vault and login names
// (https://<vault>.vault.azure.net/, https://login.microsoftonline.com/),
// as Go tests do with testenv.Transport. Node has no per-process hosts
// file, *.localhost does not resolve everywhere, and the public names use
// port 443 while the test server listens on a random port, so a DNS patch
// would not be enough. Instead the Node process gets HTTPS_PROXY pointing at
// a small CONNECT proxy (connectProxy below) that tunnels every host:port to
// the test server. That is the SDKs' own, documented proxy support
// (core-rest-pipeline's proxyPolicy, used by Key Vault and by MSAL through
// @azure/identity), so no SDK or Node code is patched; TLS is still end to
// end with the real name as SNI, verified against Coffer's CA given in
// NODE_EXTRA_CA_CERTS. The proxy records the CONNECT targets, so the tests
// also check which names the SDKs asked for.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/testreq"
	"github.com/coffer-dev/coffer/internal/vaults"
)

const jsDir = "js" // relative to this package's directory (go test's working directory)

var (
	npmOnce sync.Once
	npmErr  error
)

// requireJS needs node (testreq: a failure in strict runs, a recorded skip
// otherwise) and installs
// js/node_modules with `npm ci` when needed (once per test binary).
func requireJS(t *testing.T) {
	t.Helper()
	testreq.Need(t, "node")
	npmOnce.Do(func() {
		if npmErr = checkNodeVersion(); npmErr == nil {
			npmErr = installNodeModules()
		}
	})
	if npmErr != nil {
		t.Fatalf("preparing %s/node_modules: %v", jsDir, npmErr)
	}
}

// checkNodeVersion requires Node 20 or newer (the SDKs declare >= 20 or
// >= 22; 20 is what these tests are known to pass on).
func checkNodeVersion() error {
	out, err := exec.Command("node", "-p", "process.versions.node").Output()
	if err != nil {
		return fmt.Errorf("node -p process.versions.node: %w", err)
	}
	v := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		return fmt.Errorf("node %s found, the JavaScript SDK tests need Node 20 or newer", v)
	}
	return nil
}

// installNodeModules runs `npm ci` unless every package in
// package-lock.json is installed at its locked version.
func installNodeModules() error {
	raw, err := os.ReadFile(filepath.Join(jsDir, "package-lock.json"))
	if err != nil {
		return err
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		return fmt.Errorf("package-lock.json: %w", err)
	}
	upToDate := len(lock.Packages) > 1
	for path, want := range lock.Packages {
		if !strings.HasPrefix(path, "node_modules/") {
			continue // "" is the project itself
		}
		var got struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(jsDir, filepath.FromSlash(path), "package.json"))
		if err != nil || json.Unmarshal(b, &got) != nil || got.Version != want.Version {
			upToDate = false
			break
		}
	}
	if upToDate {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("node_modules missing or stale and npm not found on PATH (run `npm ci --prefix internal/e2e/js`): %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = jsDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", jsDir, err, out)
	}
	return nil
}

// connectProxy is an HTTP proxy that answers only CONNECT and tunnels every
// target to one address: the test server.
type connectProxy struct {
	upstream string
	mu       sync.Mutex
	targets  map[string]bool
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "this test proxy only tunnels (CONNECT); "+r.Method+" "+r.URL.String()+" was sent through it", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.targets[strings.ToLower(r.Host)] = true
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, brw) // brw may hold bytes the client sent right after CONNECT
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	io.Copy(conn, up)
	conn.Close()
	<-done
}

// Targets returns the host:port values clients asked to tunnel to.
func (p *connectProxy) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for t := range p.targets {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// jsHarness runs the scripts in js/ against one test server.
type jsHarness struct {
	env   *testenv.Env
	proxy *connectProxy
	base  []string // environment shared by every run
}

func newJSHarness(t *testing.T, env *testenv.Env) *jsHarness {
	t.Helper()
	requireJS(t)
	caFile := filepath.Join(t.TempDir(), "coffer-ca.pem")
	if err := os.WriteFile(caFile, env.CA.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{upstream: env.Addr, targets: map[string]bool{}}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	// A minimal, explicit environment: nothing from the developer's shell
	// (AZURE_*, IDENTITY_*, IMDS_ENDPOINT, NO_PROXY, ...) leaks into the SDKs.
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"NODE_EXTRA_CA_CERTS=" + caFile,
		"HTTPS_PROXY=" + ps.URL,
		"NODE_NO_WARNINGS=1",
	}
	if lvl := os.Getenv("AZURE_LOG_LEVEL"); lvl != "" { // SDK logging on stderr, for debugging
		base = append(base, "AZURE_LOG_LEVEL="+lvl)
	}
	return &jsHarness{env: env, proxy: p, base: base}
}

// run executes `node js/<script>` with extra environment variables, decodes
// its JSON line into out and returns whether the script exited 0.
func (h *jsHarness) run(t *testing.T, script string, vars map[string]string, out any) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = jsDir
	cmd.Env = slices.Clone(h.base)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("node %s: %v\nstderr:\n%s", script, err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("node %s timed out\nstdout:\n%s\nstderr:\n%s", script, stdout.String(), stderr.String())
	}
	var line string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); strings.HasPrefix(s, "{") {
			line = s
		}
	}
	if line == "" {
		t.Fatalf("node %s printed no JSON line (exit %v)\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	if jerr := json.Unmarshal([]byte(line), out); jerr != nil {
		t.Fatalf("node %s: decoding %s: %v", script, line, jerr)
	}
	logLine := line
	if len(logLine) > 600 {
		logLine = logLine[:600] + "…"
	}
	t.Logf("node %s (exit %v): %s", script, err, logLine)
	if stderr.Len() > 0 {
		errText := stderr.String()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %s stderr:\n%s", script, errText)
			}
		})
	}
	return err == nil
}

// jsError is what the scripts print for a failed call (lib.mjs errorInfo).
type jsError struct {
	StatusCode *int   `json:"statusCode"`
	Code       string `json:"code"`
	Name       string `json:"name"`
	Message    string `json:"message"`
}

func (e jsError) String() string {
	sc := "null"
	if e.StatusCode != nil {
		sc = fmt.Sprint(*e.StatusCode)
	}
	return fmt.Sprintf("%s %s (%s: %s)", sc, e.Code, e.Name, e.Message)
}

func (e jsError) is(status int, code string) bool {
	return e.StatusCode != nil && *e.StatusCode == status && e.Code == code
}

// jsCreateVault creates a vault with one access-policy entry.
func jsCreateVault(t *testing.T, env *testenv.Env, name, objectID string, perms []string) *model.Vault {
	t.Helper()
	v, _, err := env.Vaults.CreateOrUpdateVault(context.Background(), env.Instance.SubscriptionID, env.Instance.DefaultGroup, name, vaults.VaultSpec{
		Location: "westeurope", TenantID: env.Instance.TenantID, SKU: "standard",
		AccessPolicies: []model.AccessPolicy{{TenantID: env.Instance.TenantID, ObjectID: objectID, Permissions: model.Permissions{Secrets: perms}}},
	}, "js_test", false)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// vaultHost is the vault's host as the client addresses it (with the port
// in the local profile).
func vaultHost(env *testenv.Env, vault string) string {
	return strings.TrimSuffix(strings.TrimPrefix(env.VaultURL(vault), "https://"), "/")
}

// proxyTarget is the CONNECT target a client uses for an https URL's host.
func proxyTarget(hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return hostport + ":443"
}

var jsProfiles = []cloud.Profile{cloud.AzureCloud, cloud.Local}

// TestJSAppService: an App Service app using ManagedIdentityCredential
// (IDENTITY_ENDPOINT/IDENTITY_HEADER) and SecretClient reads a secret as its
// VM's system-assigned identity; another VM's identity, without an access
// policy, gets 403 Forbidden; a bad IDENTITY_HEADER gets no token.
func TestJSAppService(t *testing.T) {
	requireJS(t)
	for _, profile := range jsProfiles {
		t.Run(profile.Name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Cloud: profile})
			h := newJSHarness(t, env)
			ctx := context.Background()
			sub, rg := env.Instance.SubscriptionID, env.Instance.DefaultGroup

			vm, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, rg, "web1", resources.VMSpec{SystemAssigned: true})
			if err != nil {
				t.Fatal(err)
			}
			cred, _, err := env.Resources.NewCredential(ctx, sub, rg, "web1")
			if err != nil {
				t.Fatal(err)
			}
			const vaultName, secretName, value = "js-mi-vault", "Db-Password", "p@ss w0rd/ü"
			v := jsCreateVault(t, env, vaultName, vm.SystemAssigned, model.SecretManagementTemplate)
			_, ver, err := env.Vaults.SetSecret(ctx, v, secretName, vaults.SetParams{Value: new(value)})
			if err != nil {
				t.Fatal(err)
			}
			host := vaultHost(env, vaultName)
			vars := map[string]string{
				"IDENTITY_ENDPOINT": "https://localhost:" + env.Port() + "/msi/token",
				"IDENTITY_HEADER":   cred,
				"VAULT_URL":         env.VaultURL(vaultName),
				"SECRET_NAME":       secretName,
				"TOKEN_SCOPE":       env.Profile.VaultResource() + "/.default",
			}

			var got struct {
				OK             bool     `json:"ok"`
				Value          string   `json:"value"`
				ID             string   `json:"id"`
				Name           string   `json:"name"`
				Version        string   `json:"version"`
				VaultURL       string   `json:"vaultUrl"`
				TokenExpiresOn *float64 `json:"tokenExpiresOn"`
				jsError
			}
			if !h.run(t, "appservice.mjs", vars, &got) || !got.OK {
				t.Fatalf("appservice.mjs as web1 failed: %v", got.jsError)
			}
			if got.Value != value {
				t.Errorf("value = %q, want %q", got.Value, value)
			}
			wantID := "https://" + host + "/secrets/" + secretName + "/" + ver.Version
			if got.ID != wantID || !regexp.MustCompile(`^https://`+regexp.QuoteMeta(host)+`/secrets/Db-Password/[0-9a-f]{32}$`).MatchString(got.ID) {
				t.Errorf("id = %q, want %q", got.ID, wantID)
			}
			if got.Name != secretName || got.Version != ver.Version || got.VaultURL != "https://"+host {
				t.Errorf("name/version/vaultUrl = %q %q %q", got.Name, got.Version, got.VaultURL)
			}
			if got.TokenExpiresOn == nil || time.UnixMilli(int64(*got.TokenExpiresOn)).Before(time.Now().Add(time.Hour)) {
				t.Errorf("token expiresOnTimestamp = %v, want more than an hour ahead (expires_on parsed)", got.TokenExpiresOn)
			}
			targets := h.proxy.Targets()
			for _, want := range []string{proxyTarget(host), "localhost:" + env.Port()} {
				if !slices.Contains(targets, want) {
					t.Errorf("CONNECT targets %v lack %s", targets, want)
				}
			}

			// Another VM, valid identity, no access policy: 403 from Key Vault.
			if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, rg, "web2", resources.VMSpec{SystemAssigned: true}); err != nil {
				t.Fatal(err)
			}
			cred2, _, err := env.Resources.NewCredential(ctx, sub, rg, "web2")
			if err != nil {
				t.Fatal(err)
			}
			vars["IDENTITY_HEADER"] = cred2
			var denied struct {
				OK bool `json:"ok"`
				jsError
			}
			if h.run(t, "appservice.mjs", vars, &denied) || denied.OK {
				t.Fatal("appservice.mjs as web2 (no access policy) succeeded")
			}
			if !denied.is(http.StatusForbidden, "Forbidden") || denied.Name != "RestError" {
				t.Errorf("web2 error = %v, want RestError 403 Forbidden", denied.jsError)
			}

			// A credential no VM has: no token, so no Key Vault call at all.
			vars["IDENTITY_HEADER"] = "not-a-credential"
			var noToken struct {
				OK bool `json:"ok"`
				jsError
			}
			if h.run(t, "appservice.mjs", vars, &noToken) || noToken.OK {
				t.Fatal("appservice.mjs with a bogus IDENTITY_HEADER succeeded")
			}
			if noToken.StatusCode != nil || !strings.Contains(noToken.Name, "Credential") {
				t.Errorf("bogus credential error = %v, want a credential error without a Key Vault status", noToken.jsError)
			}
		})
	}
}

// TestJSClientSecret: a service principal with ClientSecretCredential and
// SecretClient runs a secret lifecycle: set, get (latest, version,
// missing), versions, a list that needs a nextLink, delete/recover pollers,
// purge.
func TestJSClientSecret(t *testing.T) {
	requireJS(t)
	for _, profile := range jsProfiles {
		t.Run(profile.Name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Cloud: profile})
			h := newJSHarness(t, env)
			ctx := context.Background()

			appID, secret := createServicePrincipal(t, env, "js-client")
			sp, err := env.Store.GetPrincipalByAppID(ctx, appID)
			if err != nil {
				t.Fatal(err)
			}
			const vaultName, name, pageSecrets = "js-sp-vault", "JsSecret", 30
			v := jsCreateVault(t, env, vaultName, sp.ObjectID, model.SecretPermissions)
			host := vaultHost(env, vaultName)
			vars := map[string]string{
				"AZURE_TENANT_ID":     env.Instance.TenantID,
				"AZURE_CLIENT_ID":     appID,
				"AZURE_CLIENT_SECRET": secret,
				"VAULT_URL":           env.VaultURL(vaultName),
				"SECRET_NAME":         name,
				"PAGE_SECRETS":        fmt.Sprint(pageSecrets),
			}
			if env.Profile.LoginHost == "" {
				// Local profile: the authority is the listener; MSAL would
				// validate a non-Microsoft host against the public cloud.
				vars["AZURE_AUTHORITY_HOST"] = env.AuthorityHost()
				vars["AZURE_DISABLE_INSTANCE_DISCOVERY"] = "true"
			}

			type idValue struct {
				ID    string `json:"id"`
				Value string `json:"value"`
			}
			var got struct {
				OK         bool     `json:"ok"`
				Set        []string `json:"set"`
				SetValue   string   `json:"setValue"`
				SetVersion string   `json:"setVersion"`
				Latest     idValue  `json:"latest"`
				First      struct {
					idValue
					ContentType string            `json:"contentType"`
					Tags        map[string]string `json:"tags"`
				} `json:"first"`
				Missing   jsError  `json:"missing"`
				Versions  []string `json:"versions"`
				PageSizes []int    `json:"pageSizes"`
				Listed    []struct {
					Name     string `json:"name"`
					ID       string `json:"id"`
					HasValue bool   `json:"hasValue"`
				} `json:"listed"`
				Recovered struct {
					Name  string `json:"name"`
					ID    string `json:"id"`
					Value string `json:"value"`
				} `json:"recovered"`
				Deleted struct {
					Name               string     `json:"name"`
					RecoveryID         string     `json:"recoveryId"`
					DeletedOn          *time.Time `json:"deletedOn"`
					ScheduledPurgeDate *time.Time `json:"scheduledPurgeDate"`
					HasValue           bool       `json:"hasValue"`
				} `json:"deleted"`
				GetDeleted           jsError  `json:"getDeleted"`
				SetDeleted           jsError  `json:"setDeleted"`
				DeletedNames         []string `json:"deletedNames"`
				GotDeletedRecoveryID string   `json:"gotDeletedRecoveryId"`
				GetPurged            jsError  `json:"getPurged"`
				ReSet                idValue  `json:"reSet"`
				jsError
			}
			if !h.run(t, "clientsecret.mjs", vars, &got) || !got.OK {
				t.Fatalf("clientsecret.mjs failed: %v", got.jsError)
			}

			idRE := regexp.MustCompile(`^https://` + regexp.QuoteMeta(host) + `/secrets/` + name + `/([0-9a-f]{32})$`)
			version := func(id string) string {
				m := idRE.FindStringSubmatch(id)
				if m == nil {
					t.Errorf("id %q does not match %s", id, idRE)
					return ""
				}
				return m[1]
			}
			if len(got.Set) != 2 {
				t.Fatalf("set ids = %v", got.Set)
			}
			v1, v2 := version(got.Set[0]), version(got.Set[1])
			if v1 == v2 || got.SetVersion != v1 || got.SetValue != "value-1" {
				t.Errorf("set: versions %q %q, reported version %q, value %q", v1, v2, got.SetVersion, got.SetValue)
			}
			if got.Latest.ID != got.Set[1] || got.Latest.Value != "value-2" {
				t.Errorf("latest = %+v, want %s value-2", got.Latest, got.Set[1])
			}
			if got.First.ID != got.Set[0] || got.First.Value != "value-1" || got.First.ContentType != "text/plain" || got.First.Tags["env"] != "test" {
				t.Errorf("get by version = %+v", got.First)
			}
			if !got.Missing.is(404, "SecretNotFound") {
				t.Errorf("get missing = %v, want 404 SecretNotFound", got.Missing)
			}
			if vs := slices.Sorted(slices.Values(got.Versions)); !slices.Equal(vs, slices.Sorted(slices.Values([]string{v1, v2}))) {
				t.Errorf("versions = %v, want %s and %s", got.Versions, v1, v2)
			}

			// Paging: 31 secrets do not fit one page, so a nextLink was followed.
			total := 0
			for _, n := range got.PageSizes {
				total += n
			}
			if len(got.PageSizes) < 2 || total != pageSecrets+1 {
				t.Errorf("page sizes = %v, want ≥ 2 pages with %d items", got.PageSizes, pageSecrets+1)
			}
			listRE := regexp.MustCompile(`^https://` + regexp.QuoteMeta(host) + `/secrets/[A-Za-z0-9-]+$`)
			seen := map[string]bool{}
			for _, p := range got.Listed {
				if p.HasValue || !listRE.MatchString(p.ID) || !strings.HasSuffix(p.ID, "/"+p.Name) {
					t.Errorf("listed item %+v: want id %s without a value", p, listRE)
				}
				seen[p.Name] = true
			}
			if len(seen) != pageSecrets+1 || !seen[name] || !seen[fmt.Sprintf("%s-page-%02d", name, pageSecrets-1)] {
				t.Errorf("listed %d distinct names: %v", len(seen), seen)
			}

			rec := name + "-page-00"
			if got.Recovered.Name != rec || got.Recovered.Value != "x" || !strings.HasPrefix(got.Recovered.ID, "https://"+host+"/secrets/"+rec+"/") {
				t.Errorf("recovered = %+v", got.Recovered)
			}

			d := got.Deleted
			wantRecoveryID := "https://" + host + "/deletedsecrets/" + name
			if d.Name != name || d.RecoveryID != wantRecoveryID || d.HasValue || got.GotDeletedRecoveryID != wantRecoveryID {
				t.Errorf("deleted = %+v (getDeletedSecret recoveryId %q), want recoveryId %s", d, got.GotDeletedRecoveryID, wantRecoveryID)
			}
			if d.DeletedOn == nil || d.ScheduledPurgeDate == nil || time.Since(*d.DeletedOn) > 5*time.Minute ||
				d.ScheduledPurgeDate.Sub(*d.DeletedOn).Round(time.Hour) != 90*24*time.Hour {
				t.Errorf("deletedOn %v, scheduledPurgeDate %v: want now and 90 days later", d.DeletedOn, d.ScheduledPurgeDate)
			}
			if !got.GetDeleted.is(404, "SecretNotFound") {
				t.Errorf("get deleted = %v, want 404 SecretNotFound", got.GetDeleted)
			}
			if !got.SetDeleted.is(409, "Conflict") {
				t.Errorf("set deleted name = %v, want 409 Conflict", got.SetDeleted)
			}
			if !slices.Equal(got.DeletedNames, []string{name}) {
				t.Errorf("deleted secrets listed = %v, want [%s]", got.DeletedNames, name)
			}
			if !got.GetPurged.is(404, "SecretNotFound") {
				t.Errorf("get purged = %v, want 404 SecretNotFound", got.GetPurged)
			}
			if v3 := version(got.ReSet.ID); v3 == v1 || v3 == v2 || got.ReSet.Value != "value-3" {
				t.Errorf("set after purge = %+v", got.ReSet)
			}

			// The server agrees.
			_, cur, err := env.Vaults.GetSecret(ctx, v, name, "")
			if err != nil || cur.Value != "value-3" {
				t.Errorf("server-side %s = %v, %v", name, cur, err)
			}
			if all, err := env.Vaults.ListSecrets(ctx, v); err != nil || len(all) != pageSecrets+1 {
				t.Errorf("server-side list = %d secrets, %v", len(all), err)
			}

			targets := h.proxy.Targets()
			login := "localhost:" + env.Port()
			if env.Profile.LoginHost != "" {
				login = env.Profile.LoginHost + ":443"
			}
			for _, want := range []string{proxyTarget(host), login} {
				if !slices.Contains(targets, want) {
					t.Errorf("CONNECT targets %v lack %s", targets, want)
				}
			}
		})
	}
}
