package e2e

// The JavaScript SDKs (@azure/identity + @azure/keyvault-secrets, unmodified)
// against the instance metadata service (IMDS) protocol, as served by
// `coffer agent` on a simulated VM and by the proxy of `coffer run`.
// js_test.go covers the App Service protocol; the scripts are js/imds.mjs
// (ManagedIdentityCredential or DefaultAzureCredential + SecretClient) and
// js/fetch.mjs (one GET through the SDKs' HTTP pipeline). Both record every
// TCP connection the Node process opens (js/netlog.mjs), so the tests also
// check where the traffic went.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// jsConn is one TCP connection a script opened (netlog.mjs).
type jsConn struct {
	Host          string   `json:"host"`
	Port          *int     `json:"port"`
	RemoteAddress string   `json:"remoteAddress"`
	RemotePort    *int     `json:"remotePort"`
	Lookups       []string `json:"lookups"`
	Error         string   `json:"error"`
}

func (c jsConn) remote() string {
	if c.RemoteAddress == "" || c.RemotePort == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d", c.RemoteAddress, *c.RemotePort)
}

func (c jsConn) String() string {
	port := "?"
	if c.Port != nil {
		port = fmt.Sprint(*c.Port)
	}
	s := c.Host + ":" + port + " -> " + c.remote()
	if len(c.Lookups) > 0 {
		s += " (resolved " + strings.Join(c.Lookups, ",") + ")"
	}
	if c.Error != "" {
		s += " error " + c.Error
	}
	return s
}

// jsIMDSResult is what imds.mjs prints.
type jsIMDSResult struct {
	OK             bool     `json:"ok"`
	Credential     string   `json:"credential"`
	Value          string   `json:"value"`
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Version        string   `json:"version"`
	VaultURL       string   `json:"vaultUrl"`
	TokenExpiresOn *float64 `json:"tokenExpiresOn"`
	IMDSLog        []string `json:"imdsLog"`
	RequestURLs    []string `json:"requestUrls"`
	Connections    []jsConn `json:"connections"`
	jsError
}

// jsFetchResult is what fetch.mjs prints.
type jsFetchResult struct {
	OK          bool     `json:"ok"`
	Status      *int     `json:"status"`
	ContentType string   `json:"contentType"`
	Body        string   `json:"body"`
	Error       *jsError `json:"error"`
	Connections []jsConn `json:"connections"`
	jsError
}

// jsScript is the absolute path of a script in js/: Node resolves the
// packages from the script's own directory (js/node_modules), whatever the
// working directory, also inside a network namespace.
func jsScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(jsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nodeEnv is a minimal, explicit environment for a script: nothing from
// the developer's shell (AZURE_*, IDENTITY_*, proxies, ...) leaks in.
func nodeEnv(t *testing.T, extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NODE_NO_WARNINGS=1"}
	if lvl := os.Getenv("AZURE_LOG_LEVEL"); lvl != "" { // SDK logging on stderr, for debugging
		env = append(env, "AZURE_LOG_LEVEL="+lvl)
	}
	return append(env, extra...)
}

// runJSCmd runs cmd (a node script, possibly wrapped in `ip netns exec` or
// `coffer run`), decodes the last JSON line of its stdout into out and
// returns whether it exited 0, and its stderr.
func runJSCmd(t *testing.T, label string, cmd *exec.Cmd, out any) (bool, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s: %v\nstderr:\n%s", label, err, stderr.String())
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
		t.Fatalf("%s printed no JSON line (exit %v after %v)\nstdout:\n%s\nstderr:\n%s", label, err, time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	}
	if jerr := json.Unmarshal([]byte(line), out); jerr != nil {
		t.Fatalf("%s: decoding %s: %v", label, line, jerr)
	}
	logLine := line
	if len(logLine) > 800 {
		logLine = logLine[:800] + "…"
	}
	t.Logf("%s (exit %v, %v): %s", label, err, time.Since(start).Round(time.Millisecond), logLine)
	errText := stderr.String()
	if errText != "" {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s stderr:\n%s", label, errText)
			}
		})
	}
	return err == nil, errText
}

// checkSecret checks what imds.mjs read: the value, and an id, name,
// version and vault URL naming the vault by its public name; and a token
// that lives more than an hour (msal-node reads only expires_on).
func checkSecret(t *testing.T, label string, got jsIMDSResult, vaultHost, name, value string) {
	t.Helper()
	if got.Value != value {
		t.Errorf("%s: value = %q, want %q", label, got.Value, value)
	}
	idRE := regexp.MustCompile(`^https://` + regexp.QuoteMeta(vaultHost) + `/secrets/` + regexp.QuoteMeta(name) + `/([0-9a-f]{32})$`)
	if m := idRE.FindStringSubmatch(got.ID); m == nil || got.Version != m[1] {
		t.Errorf("%s: id = %q, version %q; want %s", label, got.ID, got.Version, idRE)
	}
	if got.Name != name || got.VaultURL != "https://"+vaultHost {
		t.Errorf("%s: name/vaultUrl = %q %q", label, got.Name, got.VaultURL)
	}
	if got.TokenExpiresOn == nil || time.UnixMilli(int64(*got.TokenExpiresOn)).Before(time.Now().Add(time.Hour)) {
		t.Errorf("%s: token expiresOnTimestamp = %v, want more than an hour ahead (expires_on parsed)", label, got.TokenExpiresOn)
	}
}

func logHas(lines []string, substr string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, substr) })
}

// IMDS URLs as @azure/identity + msal-node send them: the probe (no query),
// the token request, and the token request when the host comes from
// AZURE_POD_IDENTITY_AUTHORITY_HOST (msal-common's UrlString adds a slash).
const (
	jsIMDSProbeURL    = "http://169.254.169.254/metadata/identity/oauth2/token"
	jsIMDSTokenURL    = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&"
	jsIMDSPodTokenURL = "http://169.254.169.254/metadata/identity/oauth2/token/?api-version=2018-02-01&"
)

// checkIMDSRequests checks, from the SDKs' request log, that the token came
// from IMDS at tokenURL, and whether DefaultAzureCredential's probe was
// sent (and found the endpoint).
func checkIMDSRequests(t *testing.T, got jsIMDSResult, tokenURL string, probe bool) {
	t.Helper()
	if !slices.ContainsFunc(got.RequestURLs, func(u string) bool { return strings.HasPrefix(u, tokenURL) }) {
		t.Errorf("no token request to %s…; requests sent: %q", tokenURL, got.RequestURLs)
	}
	if sent := slices.Contains(got.RequestURLs, jsIMDSProbeURL); sent != probe {
		t.Errorf("IMDS probe sent = %v, want %v; requests sent: %q", sent, probe, got.RequestURLs)
	}
	if probe && !logHas(got.IMDSLog, "The Azure IMDS endpoint is available") {
		t.Errorf("DefaultAzureCredential's IMDS probe did not find the endpoint; IMDS log: %q", got.IMDSLog)
	}
}

// TestJSIMDSAgent: on a simulated VM (a network namespace whose hosts file
// pins the AzureCloud names to `coffer serve` on 127.0.0.1:443, and whose
// 169.254.169.254 is served by `coffer agent`), an unmodified Node program
// with ManagedIdentityCredential() — no IDENTITY_ENDPOINT/MSI_* set, so the
// IMDS source — and SecretClient on https://<vault>.vault.azure.net reads a
// secret. So does DefaultAzureCredential, whose 1 s IMDS probe must find
// the agent, and DefaultAzureCredential with
// AZURE_POD_IDENTITY_AUTHORITY_HOST=http://169.254.169.254 (msal-node then
// asks for the lower-cased path with a trailing slash, and the probe is
// skipped). The SDKs' request log and the Node process's connections show
// the token requests went to 169.254.169.254:80 and nowhere else.
func TestJSIMDSAgent(t *testing.T) {
	requireJS(t)
	requireRootAndIP(t) // before building: newNetns would skip only afterwards
	coffer, _ := binaries(t)
	const rg, vault, secretName, value = "js-imds", "kvjsimds", "js-mi", "JS via IMDS: p@ss w0rd/ü"
	vaultHost := vault + ".vault.azure.net"
	ns := newNetns(t, []string{"127.0.0.1 " + vaultHost + " login.microsoftonline.com management.azure.com"}, "169.254.169.254/32")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	env := baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+filepath.Join(dir, "config"))

	ns.start("coffer serve", env, coffer, "serve", "--cloud", "AzureCloud", "--addr", "127.0.0.1:443", "--log-level", "warn")
	waitFor(t, "coffer serve", 30*time.Second, func() error {
		_, err := ns.try(env, "curl", "-sf", "--cacert", ca, "https://management.azure.com/healthz")
		return err
	})
	cli := func(args ...string) map[string]any {
		t.Helper()
		return decodeJSON(t, ns.run(env, coffer, args...))
	}
	cli("group", "create", "-n", rg, "-l", "eastus")
	principal := str(cli("vm", "create", "-n", "vm1", "-g", rg, "--assign-identity"), "identity", "principalId")
	if principal == "" {
		t.Fatal("vm create printed no identity.principalId")
	}
	cli("keyvault", "create", "-n", vault, "-g", rg)
	cli("keyvault", "secret", "set", "--vault-name", vault, "-n", secretName, "--value", value)
	cli("keyvault", "set-policy", "-n", vault, "--object-id", principal, "--template", "Secret Management")
	credFile := filepath.Join(dir, "vm1.credential")
	ns.run(env, coffer, "vm", "credential", "create", "-n", "vm1", "-g", rg, "--credential-file", credFile)

	ns.start("coffer agent", env, coffer, "agent", "--server", "https://localhost:443", "--credential-file", credFile,
		"--addr", "169.254.169.254:80", "--ca-file", ca)
	// Ready when it answers; the probe-style request (no Metadata header)
	// gets a 400 without asking the server, so no token is cached yet.
	waitFor(t, "coffer agent", 30*time.Second, func() error {
		code, err := ns.try(env, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://169.254.169.254/metadata/identity/oauth2/token")
		if err == nil && code != "400" {
			err = fmt.Errorf("probe answered %s, want 400", code)
		}
		return err
	})

	script := jsScript(t, "imds.mjs")
	for _, tc := range []struct {
		name     string
		vars     []string
		tokenURL string
		probe    bool
	}{
		{"ManagedIdentityCredential", []string{"CREDENTIAL=managed"}, jsIMDSTokenURL, false},
		{"DefaultAzureCredential", []string{"CREDENTIAL=default"}, jsIMDSTokenURL, true},
		// The pod-identity override names the same agent; the path gets a
		// trailing slash and DefaultAzureCredential does not probe.
		{"AZURE_POD_IDENTITY_AUTHORITY_HOST", []string{"CREDENTIAL=default", "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://169.254.169.254"},
			jsIMDSPodTokenURL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			vars := nodeEnv(t, append([]string{"NODE_EXTRA_CA_CERTS=" + ca, "VAULT_URL=https://" + vaultHost + "/",
				"SECRET_NAME=" + secretName, "TOKEN_SCOPE=https://vault.azure.net/.default"}, tc.vars...)...)
			var got jsIMDSResult
			if ok, _ := runJSCmd(t, "node imds.mjs in the namespace", ns.command(ctx, vars, "node", script), &got); !ok || !got.OK {
				t.Fatalf("imds.mjs (%s) failed: %v", tc.name, got.jsError)
			}
			t.Logf("requests sent: %q", got.RequestURLs)
			checkSecret(t, tc.name, got, vaultHost, secretName, value)

			// Tokens came from the agent at 169.254.169.254:80, the vault
			// was reached by its name at the server, and nothing else.
			toIMDS, toVault := false, false
			for _, c := range got.Connections {
				switch r := c.remote(); {
				case c.Error != "":
					t.Errorf("connection %v failed", c)
				case r == "169.254.169.254:80":
					toIMDS = true
				case r == "127.0.0.1:443" && slices.Contains(c.Lookups, vaultHost):
					toVault = true
				default:
					t.Errorf("unexpected connection %v", c)
				}
			}
			if !toIMDS || !toVault {
				t.Errorf("connections %v: want one to 169.254.169.254:80 (IMDS) and one to %s at 127.0.0.1:443", got.Connections, vaultHost)
			}
			checkIMDSRequests(t, got, tc.tokenURL, tc.probe)
		})
	}
}

// TestJSCofferRun: `coffer run --identity vm1 -g G -- node imds.mjs` against
// `coffer serve --cloud AzureCloud` on an ephemeral port: the run's proxy
// answers the IMDS requests (plain HTTP, absolute form, sent to the proxy
// because core-rest-pipeline uses HTTPS_PROXY for every scheme) and tunnels
// https://<vault>.vault.azure.net to the server, so the unmodified SDKs read
// the secret, with ManagedIdentityCredential, with DefaultAzureCredential
// (probe through the proxy), and with a developer's environment that points
// elsewhere. A request for https://example.com (or http://) in the same
// environment gets the proxy's 403, and nothing leaves the machine: the
// Node process connects only to the proxy on 127.0.0.1 and resolves no
// name, and the proxy logs the refusal.
func TestJSCofferRun(t *testing.T) {
	requireJS(t)
	coffer, _ := binaries(t)
	const rg, vault, secretName, value = "js-run", "kvjsrun", "js-run-secret", "JS via coffer run: p@ss w0rd/ü"
	vaultHost := vault + ".vault.azure.net"
	dir := t.TempDir()
	configDir := filepath.Join(dir, "config")
	c := &cliEnv{t: t, coffer: coffer, env: baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+configDir)}

	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, coffer, "serve", "--cloud", "AzureCloud", "--addr", "127.0.0.1:0", "--log-level", "warn")
	srv.Env = c.env
	logs := &procOutput{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("server log:\n%s", logs.b.String())
			logs.mu.Unlock()
		}
	})
	waitFor(t, "coffer serve", 30*time.Second, func() error {
		_, err := os.Stat(filepath.Join(dir, "server.json"))
		return err
	})

	c.ok("group", "create", "-n", rg, "-l", "eastus")
	principal := field(c.ok("vm", "create", "-n", "vm1", "-g", rg, "--assign-identity"), "identity", "principalId")
	if principal == "" {
		t.Fatal("vm create printed no identity.principalId")
	}
	if uri := field(c.ok("keyvault", "create", "-n", vault, "-g", rg), "properties", "vaultUri"); !strings.HasPrefix(uri, "https://"+vaultHost+":") {
		t.Errorf("vaultUri = %q, want https://%s:<port>/", uri, vaultHost)
	}
	c.ok("keyvault", "secret", "set", "--vault-name", vault, "-n", secretName, "--value", value)
	c.ok("keyvault", "set-policy", "-n", vault, "--object-id", principal, "--template", "Secret Management")

	// run starts `coffer run --identity vm1 -g rg -- node <script>`; the
	// environment is what the developer's shell would hold.
	run := func(t *testing.T, script string, vars []string, out any) (bool, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, coffer, "run", "--identity", "vm1", "-g", rg, "--", "node", jsScript(t, script))
		cmd.Dir = jsDir
		cmd.Env = nodeEnv(t, append([]string{"COFFER_DATA_DIR=" + dir, "COFFER_CONFIG_DIR=" + configDir}, vars...)...)
		return runJSCmd(t, "coffer run -- node "+script, cmd, out)
	}

	// onlyProxy checks that every connection went to one loopback port
	// (the run's proxy) without a DNS lookup.
	onlyProxy := func(t *testing.T, conns []jsConn) {
		t.Helper()
		if len(conns) == 0 {
			t.Error("no connections recorded")
		}
		port := -1
		for _, c := range conns {
			if c.Host != "127.0.0.1" || c.RemoteAddress != "127.0.0.1" || c.RemotePort == nil || len(c.Lookups) > 0 || c.Error != "" {
				t.Errorf("connection %v: want one to the proxy on 127.0.0.1, without a lookup", c)
				continue
			}
			if port == -1 {
				port = *c.RemotePort
			} else if *c.RemotePort != port {
				t.Errorf("connections to two local ports (%d, %d): %v", port, *c.RemotePort, conns)
			}
		}
	}

	for _, tc := range []struct {
		name string
		vars []string
	}{
		{"ManagedIdentityCredential", []string{"CREDENTIAL=managed"}},
		{"DefaultAzureCredential", []string{"CREDENTIAL=default"}},
		// A developer's shell: another proxy for every scheme, NO_PROXY
		// covering Azure, a pod-identity host, App Service variables and a
		// service principal (which DefaultAzureCredential would try first).
		// coffer run must replace or drop them all, or the SDK goes elsewhere.
		{"developer environment", []string{"CREDENTIAL=default",
			"HTTPS_PROXY=http://127.0.0.1:1", "https_proxy=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "ALL_PROXY=http://127.0.0.1:1",
			"NO_PROXY=.vault.azure.net,169.254.169.254,localhost", "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:1",
			"IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", "IDENTITY_HEADER=elsewhere", "NODE_EXTRA_CA_CERTS=/nonexistent/ca.pem",
			"AZURE_TENANT_ID=00000000-0000-0000-0000-00000000000b", "AZURE_CLIENT_ID=00000000-0000-0000-0000-00000000000a", "AZURE_CLIENT_SECRET=not-a-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := append([]string{"VAULT_URL=https://" + vaultHost + "/", "SECRET_NAME=" + secretName,
				"TOKEN_SCOPE=https://vault.azure.net/.default"}, tc.vars...)
			var got jsIMDSResult
			if ok, _ := run(t, "imds.mjs", vars, &got); !ok || !got.OK {
				t.Fatalf("coffer run -- node imds.mjs (%s) failed: %v", tc.name, got.jsError)
			}
			t.Logf("requests sent: %q", got.RequestURLs)
			checkSecret(t, tc.name, got, vaultHost, secretName, value)
			onlyProxy(t, got.Connections)
			// The default IMDS URL even where AZURE_POD_IDENTITY_AUTHORITY_HOST
			// was set: coffer run drops it.
			checkIMDSRequests(t, got, jsIMDSTokenURL, tc.vars[0] == "CREDENTIAL=default")
		})
	}

	// Other hosts are refused by the proxy itself, before it dials anything.
	for _, u := range []struct{ url, target string }{
		{"https://example.com/", "example.com:443"},
		{"http://example.com/", "example.com"},
	} {
		t.Run(u.url, func(t *testing.T) {
			var got jsFetchResult
			ok, stderr := run(t, "fetch.mjs", []string{"FETCH_URL=" + u.url}, &got)
			if !ok || !got.OK {
				t.Fatalf("fetch.mjs %s failed: %v", u.url, got.jsError)
			}
			if got.Status == nil || *got.Status != 403 {
				t.Errorf("GET %s through coffer run: status %v, error %v; want the proxy's 403", u.url, got.Status, got.Error)
			}
			// The proxy's own answer (an open relay would have tunnelled or
			// fetched; a relayed answer would not carry this text).
			if got.Body != "" && !strings.Contains(got.Body, "refusing to proxy to "+u.target) {
				t.Errorf("GET %s: body %q, want the proxy's refusal", u.url, got.Body)
			}
			if !strings.Contains(stderr, "refused to proxy") || !strings.Contains(stderr, "target="+u.target) {
				t.Errorf("coffer run did not log the refusal of %s; stderr:\n%s", u.target, stderr)
			}
			onlyProxy(t, got.Connections)
		})
	}
}
