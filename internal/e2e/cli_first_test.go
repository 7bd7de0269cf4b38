package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The first hour with the CLI (issue 7): `coffer serve &` and the next
// command at once, what the CLI says when no server runs, logins kept per
// server, errors that end with the next step, `coffer env --identity`, and
// a quiet backgrounded server. All through the real binary.

// serveProc is a `coffer serve` process started without waiting for it.
type serveProc struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    *procOutput
	done   chan struct{}
}

// startServe starts `coffer serve` on a free port with the default log
// settings and returns at once, as `coffer serve &` does.
func startServe(t *testing.T, coffer string, env []string, args ...string) *serveProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, coffer, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	p := &serveProc{cmd: cmd, cancel: cancel, out: &procOutput{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("server output:\n%s", p.output())
		}
	})
	return p
}

// stop ends the server (SIGKILL via the context) and waits for it.
func (p *serveProc) stop() {
	p.cancel()
	<-p.done
}

func (p *serveProc) output() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.b.String()
}

// newFirstCLI is a cliEnv for a fresh data directory; no server runs yet.
func newFirstCLI(t *testing.T) (*cliEnv, string) {
	t.Helper()
	coffer, _ := binaries(t)
	dir := t.TempDir()
	return &cliEnv{t: t, coffer: coffer, env: baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+filepath.Join(dir, "config"))}, dir
}

// TestCLIFirstServeThenCommand runs the README's opening lines verbatim in
// a shell: `coffer serve &` and, at once, commands. They wait for the
// starting server (one "waiting" line at most), and the backgrounded
// server prints nothing per command at its default log level. A second
// start, with the previous run's server.json still there, works the same.
func TestCLIFirstServeThenCommand(t *testing.T) {
	coffer, _ := binaries(t)
	dir := t.TempDir()
	script := `set -e
coffer serve --addr 127.0.0.1:0 2>"$LOG" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
` + "%s\n"
	run := func(commands, log string) (string, string) {
		t.Helper()
		cmd := exec.Command("bash", "-c", strings.Replace(script, "%s", commands, 1))
		cmd.Env = baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+filepath.Join(dir, "config"),
			"PATH="+filepath.Dir(coffer)+":"+os.Getenv("PATH"), "LOG="+log)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			b, _ := os.ReadFile(log)
			t.Fatalf("script failed: %v\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", err, stdout.String(), stderr.String(), b)
		}
		return stdout.String(), stderr.String()
	}
	checkQuiet := func(log string) {
		t.Helper()
		b, _ := os.ReadFile(log)
		if !strings.Contains(string(b), "coffer is serving") {
			t.Errorf("the server log lacks its start line:\n%s", b)
		}
		if strings.Contains(string(b), "msg=request") || strings.Count(string(b), "\n") > 3 {
			t.Errorf("the backgrounded server printed per-request lines at its default level:\n%s", b)
		}
	}

	log1 := filepath.Join(t.TempDir(), "serve1.log")
	out, errOut := run(`coffer group create -n rg1 -o none
coffer keyvault create -n kvfirst -g rg1 -o none
coffer keyvault secret set --vault-name kvfirst -n s1 --value v1 -o none
coffer keyvault secret show --vault-name kvfirst -n s1 -o json`, log1)
	var secret map[string]any
	if err := json.Unmarshal([]byte(out), &secret); err != nil || secret["value"] != "v1" {
		t.Errorf("secret show printed %q (%v)", out, err)
	}
	if n := strings.Count(errOut, "waiting for coffer serve"); n > 1 {
		t.Errorf("%d waiting lines, want at most one:\n%s", n, errOut)
	}
	checkQuiet(log1)

	// Restart: server.json of the stopped server is still there.
	if _, err := os.Stat(filepath.Join(dir, "server.json")); err != nil {
		t.Fatal(err)
	}
	log2 := filepath.Join(t.TempDir(), "serve2.log")
	out, _ = run(`coffer group show -n rg1 -o json`, log2)
	if !strings.Contains(out, `"name": "rg1"`) {
		t.Errorf("group show after a restart printed %q", out)
	}
	checkQuiet(log2)
}

// TestCLIFirstNoServer: with no server, a command says so promptly, names
// the data directory and says how to start one; after a server stops, it
// says that it has stopped.
func TestCLIFirstNoServer(t *testing.T) {
	c, dir := newFirstCLI(t)
	check := func(want ...string) {
		t.Helper()
		start := time.Now()
		_, errOut, code := c.run("group", "list")
		if code == 0 {
			t.Fatal("group list succeeded without a server")
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("stderr lacks %q:\n%s", w, errOut)
			}
		}
		if strings.Contains(errOut, "waiting for coffer serve") {
			t.Errorf("waited for a server that is not starting:\n%s", errOut)
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("took %s to say there is no server", d)
		}
	}
	check("no coffer server is running with data directory "+dir, "Start it with `coffer serve`")
	other := t.TempDir()
	_, errOut, _ := c.run("--data-dir", other, "group", "list")
	if !strings.Contains(errOut, "Start it with `coffer serve --data-dir "+other+"`") {
		t.Errorf("with --data-dir, the hint should name it:\n%s", errOut)
	}

	srv := startServe(t, c.coffer, c.env)
	c.ok("group", "list")
	srv.stop()
	check("has stopped", "Start it with `coffer serve`")
}

// TestCLIFirstLoginPerServer: a login applies to one server only; a failed
// login keeps the previous one; a stale login's error names it and says how
// to change it; logout returns to the admin of --data-dir.
func TestCLIFirstLoginPerServer(t *testing.T) {
	coffer, _ := binaries(t)
	config := filepath.Join(t.TempDir(), "config")
	dirA, dirB := t.TempDir(), t.TempDir()
	c := &cliEnv{t: t, coffer: coffer, env: baseEnv("COFFER_CONFIG_DIR=" + config)}
	startServe(t, coffer, baseEnv("COFFER_DATA_DIR="+dirA))
	startServe(t, coffer, baseEnv("COFFER_DATA_DIR="+dirB))
	// The admin of A in a config directory of its own, for what only an
	// admin may do while the shared one holds a service-principal login.
	admin := &cliEnv{t: t, coffer: coffer, env: baseEnv("COFFER_CONFIG_DIR="+filepath.Join(t.TempDir(), "admin"), "COFFER_DATA_DIR="+dirA)}
	adminID := func(dir string) string {
		var a struct{ ClientID string }
		b, err := os.ReadFile(filepath.Join(dir, "admin.json"))
		if err != nil || json.Unmarshal(b, &a) != nil {
			t.Fatalf("admin.json of %s: %v", dir, err)
		}
		return a.ClientID
	}
	user := func(dir string) string {
		t.Helper()
		return field(c.ok("--data-dir", dir, "account", "show"), "user", "name")
	}

	sp := admin.ok("ad", "sp", "create-for-rbac", "-n", "login-bot")
	appID, password := field(sp, "appId"), field(sp, "password")
	c.ok("--data-dir", dirA, "login", "--service-principal", "-u", appID, "-p", password)
	if got := user(dirA); got != appID {
		t.Errorf("server A: user %q, want the service principal %s", got, appID)
	}
	if got, want := user(dirB), adminID(dirB); got != want {
		t.Errorf("server B: user %q, want its admin %s (a login is per server)", got, want)
	}

	// A failed login says so and keeps the previous login.
	_, errOut, code := c.run("--data-dir", dirA, "login", "--service-principal", "-u", appID, "-p", "wrong-secret")
	if code == 0 || !strings.Contains(errOut, "login failed") || !strings.Contains(errOut, "invalid_client") || !strings.Contains(errOut, "still uses service principal "+appID) {
		t.Errorf("bad login: exit %d\n%s", code, errOut)
	}
	if got := user(dirA); got != appID {
		t.Errorf("after a failed login, user %q, want %s still", got, appID)
	}

	// A stale login (its secret was reset) names itself and the way out,
	// not a network fault.
	admin.ok("ad", "sp", "credential", "reset", "--id", appID)
	_, errOut, code = c.run("--data-dir", dirA, "group", "list")
	for _, want := range []string{"service principal " + appID, "stored by `coffer login`", "invalid_client", "`coffer logout`", "coffer login --service-principal"} {
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("with a stale login: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
	if strings.Contains(errOut, "reaching coffer") {
		t.Errorf("a refused login reads like a network fault:\n%s", errOut)
	}

	c.ok("--data-dir", dirA, "logout")
	if got, want := user(dirA), adminID(dirA); got != want {
		t.Errorf("after logout, user %q, want the admin of A %s", got, want)
	}
}

// hintedCommand extracts the first `coffer …` command of a hint and splits
// it into arguments (double quotes group words).
func hintedCommand(t *testing.T, hint, prefix string) []string {
	t.Helper()
	m := regexp.MustCompile("`(" + regexp.QuoteMeta(prefix) + "[^`]*)`").FindStringSubmatch(hint)
	if m == nil {
		t.Fatalf("no `%s…` in the hint:\n%s", prefix, hint)
	}
	var args []string
	for _, part := range regexp.MustCompile(`"[^"]*"|\S+`).FindAllString(m[1], -1) {
		args = append(args, strings.Trim(part, `"`))
	}
	return args[1:] // drop "coffer"
}

// TestCLIFirstErrorHints: the common mistakes end with the next step, and
// the suggested commands work when run as printed.
func TestCLIFirstErrorHints(t *testing.T) {
	c, dir := newFirstCLI(t)
	srv := startServe(t, c.coffer, c.env)
	c.ok("group", "list")

	// coffer env points every common client at the CA.
	exports, _, _ := c.run("env")
	for _, k := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"} {
		if !strings.Contains(exports, "export "+k+"='"+filepath.Join(dir, "ca.pem")+"'") {
			t.Errorf("coffer env lacks %s:\n%s", k, exports)
		}
	}

	_, errOut, _ := c.run("keyvault", "secret", "list", "--vault-name", "nosuchvault")
	if !strings.Contains(errOut, "VaultNotFound") || !strings.Contains(errOut, "`coffer keyvault list`") || !strings.Contains(errOut, "`coffer keyvault list-deleted`") {
		t.Errorf("VaultNotFound hint:\n%s", errOut)
	}
	_, errOut, _ = c.run("group", "show", "-n", "nosuchgroup")
	if !strings.Contains(errOut, "`coffer group create -n nosuchgroup`") {
		t.Errorf("ResourceGroupNotFound hint:\n%s", errOut)
	}

	// A service principal without access: access policy, then RBAC. The
	// hinted commands, run by the admin as printed, grant the access.
	sp := c.ok("ad", "sp", "create-for-rbac", "-n", "hint-bot")
	c.ok("keyvault", "create", "-n", "kvrbach", "-g", "rg1", "--enable-rbac-authorization")
	c.ok("keyvault", "secret", "set", "--vault-name", "default", "-n", "s1", "--value", "v1")
	asBot := &cliEnv{t: t, coffer: c.coffer, env: baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+filepath.Join(t.TempDir(), "bot"))}
	asBot.ok("login", "--service-principal", "-u", field(sp, "appId"), "-p", field(sp, "password"))

	_, errOut, _ = asBot.run("keyvault", "secret", "show", "--vault-name", "default", "-n", "s1")
	if !strings.Contains(errOut, "AccessDenied") || !strings.Contains(errOut, "logged in as service principal "+field(sp, "appId")) {
		t.Errorf("access-policy denial:\n%s", errOut)
	}
	c.ok(hintedCommand(t, errOut, "coffer keyvault set-policy")...)
	if got := field(asBot.ok("keyvault", "secret", "show", "--vault-name", "default", "-n", "s1"), "value"); got != "v1" {
		t.Errorf("after the hinted set-policy, secret show = %q", got)
	}

	_, errOut, _ = asBot.run("keyvault", "secret", "show", "--vault-name", "kvrbach", "-n", "s1")
	if !strings.Contains(errOut, "ForbiddenByRbac") || !strings.Contains(errOut, `--role "Key Vault Secrets User"`) {
		t.Errorf("RBAC denial:\n%s", errOut)
	}
	c.ok(hintedCommand(t, errOut, "coffer role assignment create")...)
	if _, errOut, _ := asBot.run("keyvault", "secret", "show", "--vault-name", "kvrbach", "-n", "s1"); !strings.Contains(errOut, "SecretNotFound") {
		t.Errorf("after the hinted role assignment, secret show should find no secret (not be refused):\n%s", errOut)
	}

	// A server that stops between commands.
	srv.stop()
	_, errOut, _ = c.run("group", "list")
	if !strings.Contains(errOut, "Start it with `coffer serve`") {
		t.Errorf("stopped server:\n%s", errOut)
	}
}

// TestCLIFirstEnvIdentity: after `eval "$(coffer env)"` and then `eval
// "$(coffer env --identity VM)"`, an unmodified DefaultAzureCredential
// program authenticates as the VM, not as the admin: refused without an
// access policy for the VM, allowed with one.
func TestCLIFirstEnvIdentity(t *testing.T) {
	coffer, _ := binaries(t)
	envclient := filepath.Join(filepath.Dir(coffer), "envclient")
	ns := newNetns(t, []string{"127.0.0.1 default.vault.azure.net login.microsoftonline.com management.azure.com"})
	dir := t.TempDir()
	env := baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+filepath.Join(dir, "config"))
	ns.start("coffer serve", env, coffer, "serve", "--cloud", "AzureCloud", "--addr", "127.0.0.1:443")
	vm := decodeJSON(t, ns.run(env, coffer, "vm", "create", "-n", "vm1", "--assign-identity"))
	principal := str(vm, "identity", "principalId")
	if principal == "" {
		t.Fatalf("vm create = %v", vm)
	}

	// eval "$(coffer env)" then eval "$(coffer env --identity vm1)".
	progEnv := evalExports(t, env, ns.run(env, coffer, "env"))
	out := ns.run(env, coffer, "env", "--identity", "vm1")
	for _, want := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "COFFER_VAULT_URL"} {
		if !strings.Contains(out, "export "+want+"=") {
			t.Errorf("env --identity lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "export AZURE_CLIENT_SECRET") || strings.Contains(out, "export AZURE_CLIENT_ID") {
		t.Errorf("env --identity exports the admin's credential:\n%s", out)
	}
	progEnv = evalExports(t, progEnv, out)
	for _, kv := range progEnv {
		for _, gone := range []string{"AZURE_CLIENT_SECRET=", "AZURE_CLIENT_ID=", "AZURE_TENANT_ID="} {
			if strings.HasPrefix(kv, gone) {
				t.Errorf("after eval, %s is still set", gone)
			}
		}
	}

	if out, err := ns.try(progEnv, envclient); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("without an access policy for the VM, envclient = %v\n%s", err, out)
	}
	ns.run(env, coffer, "keyvault", "set-policy", "-n", "default", "--object-id", principal, "--secret-permissions", "get,set")
	got := decodeJSON(t, ns.run(progEnv, envclient))
	if str(got, "value") != "hello from DefaultAzureCredential" {
		t.Errorf("envclient as the VM = %v", got)
	}
}

var envLine = regexp.MustCompile(`^export ([A-Z_]+)='(.*)'$`)

// evalExports applies `coffer env` output (unset and export lines) to env,
// as eval in a shell would.
func evalExports(t *testing.T, env []string, out string) []string {
	t.Helper()
	set := map[string]string{}
	var order []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			order = append(order, k)
		}
		set[k] = v
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if names, ok := strings.CutPrefix(l, "unset "); ok {
			for _, k := range strings.Fields(names) {
				delete(set, k)
			}
			continue
		}
		m := envLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("coffer env printed %q", l)
		}
		if _, ok := set[m[1]]; !ok {
			order = append(order, m[1])
		}
		set[m[1]] = strings.ReplaceAll(m[2], `'\''`, "'")
	}
	var res []string
	for _, k := range order {
		if v, ok := set[k]; ok {
			res = append(res, k+"="+v)
		}
	}
	return res
}
