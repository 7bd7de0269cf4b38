package e2e

// Helpers for the tests that drive Coffer with the tools Azure users already
// have: Debian's Azure CLI (`az`, package azure-cli) and the Azure SDK for
// Python (python3-azure). Both run inside a network namespace whose hosts
// file pins the AzureCloud names (login, management, Graph, vaults) to a
// `coffer serve --cloud AzureCloud` on port 443, so the tools talk to the
// names they were built for and nothing in them is configured for Coffer
// except trust in its CA (REQUESTS_CA_BUNDLE: requests ignores
// SSL_CERT_FILE).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// systemPython is the interpreter Debian's python3-azure is installed for.
// A python3 found first on PATH (pyenv, a virtualenv) usually lacks those
// packages, so the tests never use PATH to find it.
const systemPython = "/usr/bin/python3"

// azCommandTimeout bounds one az or python run; az needs 1–2 s to start on
// a slow machine, so a minute means something hangs.
const azCommandTimeout = 90 * time.Second

// requireTool skips, or under CI fails, with the reason a tool is missing.
func requireTool(t *testing.T, problem string) {
	t.Helper()
	if problem == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must provide it; run scripts/install-deps)", problem)
	}
	t.Skip(problem + " (scripts/install-deps installs it)")
}

// debianAz is Debian's Azure CLI. The tests use it by path: another az on
// PATH (pip, Microsoft's packages) is another version with other gaps.
const debianAz = "/usr/bin/az"

// requireAzCLI returns the path of the Azure CLI.
func requireAzCLI(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(debianAz); err != nil {
		requireTool(t, "needs the Azure CLI at "+debianAz+" (Debian package azure-cli)")
	}
	return debianAz
}

// requireAzurePython checks that the system interpreter has the Azure SDK
// modules the Python tests import.
func requireAzurePython(t *testing.T) {
	t.Helper()
	problem := ""
	if _, err := os.Stat(systemPython); err != nil {
		problem = "needs " + systemPython
	} else if out, err := exec.Command(systemPython, "-E", "-s", "-c", "import azure.identity, azure.keyvault.secrets, msal").CombinedOutput(); err != nil {
		problem = fmt.Sprintf("needs the Azure SDK for Python in %s (Debian packages python3-azure, python3-msal): %v\n%s", systemPython, err, out)
	}
	requireTool(t, problem)
}

// azureNS is a simulated Azure: a network namespace whose AzureCloud names
// resolve to a Coffer server inside it.
type azureNS struct {
	*netns
	coffer string
	dir    string // the server's data directory
	ca     string // Coffer's CA certificate (PEM file)
	env    []string
	// The administrator service principal Coffer created on first start.
	tenant, clientID, secret string
}

// newAzureNS starts `coffer serve --cloud AzureCloud` on :443 in a new
// namespace whose hosts file names login, management, Graph and the given
// vaults, with 169.254.169.254 on its loopback for a simulated VM.
func newAzureNS(t *testing.T, vaults ...string) *azureNS {
	t.Helper()
	names := []string{"login.microsoftonline.com", "management.azure.com", "graph.microsoft.com"}
	for _, v := range vaults {
		names = append(names, v+".vault.azure.net")
	}
	return newCofferNS(t, "AzureCloud", names...)
}

// newCofferNS starts `coffer serve --cloud <profile>` on 127.0.0.1:443 in
// a new namespace whose hosts file sends the given names to it.
func newCofferNS(t *testing.T, profile string, names ...string) *azureNS {
	t.Helper()
	coffer, _ := binaries(t)
	ns := newNetns(t, []string{"127.0.0.1 " + strings.Join(names, " ")}, "169.254.169.254/32")
	// Every other name fails at once instead of waiting for a resolver
	// the namespace cannot reach (az and MSAL look a few up on their own).
	if err := os.WriteFile(filepath.Join("/etc/netns", ns.name, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := &azureNS{netns: ns, coffer: coffer, dir: dir, ca: filepath.Join(dir, "ca.pem")}
	a.env = cleanToolEnv("COFFER_DATA_DIR="+dir, "SSL_CERT_FILE="+a.ca)
	ns.start("coffer serve", a.env, coffer, "serve", "--cloud", profile, "--addr", "127.0.0.1:443", "--log-level", "warn")
	waitFor(t, "coffer serve", 30*time.Second, func() error {
		_, err := ns.try(a.env, "curl", "-sf", "--cacert", a.ca, "https://localhost/healthz")
		return err
	})
	b, err := os.ReadFile(filepath.Join(dir, "admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var admin struct{ TenantID, ClientID, ClientSecret string }
	if err := json.Unmarshal(b, &admin); err != nil {
		t.Fatal(err)
	}
	a.tenant, a.clientID, a.secret = admin.TenantID, admin.ClientID, admin.ClientSecret
	return a
}

// cleanToolEnv is baseEnv without anything that would point Python or the
// Azure tools elsewhere: another interpreter's settings (pyenv), the
// caller's az profile or CA bundles, Azure SDK settings.
func cleanToolEnv(extra ...string) []string {
	var env []string
	for _, kv := range baseEnv() {
		k, _, _ := strings.Cut(kv, "=")
		k = strings.ToUpper(k)
		if strings.HasPrefix(k, "PYTHON") || strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "MSAL_") ||
			k == "REQUESTS_CA_BUNDLE" || k == "CURL_CA_BUNDLE" || k == "SSL_CERT_FILE" || k == "SSL_CERT_DIR" || k == "VIRTUAL_ENV" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// cli runs the coffer CLI (as the administrator) and decodes its JSON. It
// takes the (sub)test to fail: netns.run would fail the parent.
func (a *azureNS) cli(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := a.try(a.env, a.coffer, args...)
	if err != nil {
		t.Fatalf("coffer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return decodeJSON(t, out)
}

// simulatedVM creates a VM with a system-assigned identity through the
// coffer CLI and serves its IMDS at 169.254.169.254:80 with `coffer agent`.
// It returns the identity's principal (object) ID.
func (a *azureNS) simulatedVM(t *testing.T, vm, rg string) string {
	t.Helper()
	principal := str(a.cli(t, "vm", "create", "-n", vm, "-g", rg, "--assign-identity"), "identity", "principalId")
	if principal == "" {
		t.Fatal("vm create printed no identity.principalId")
	}
	credFile := filepath.Join(a.dir, vm+".credential")
	cred := str(a.cli(t, "vm", "credential", "create", "-n", vm, "-g", rg), "credential")
	if err := os.WriteFile(credFile, []byte(cred+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start("coffer agent "+vm, a.env, a.coffer, "agent", "--server", "https://localhost:443", "--credential-file", credFile,
		"--addr", "169.254.169.254:80", "--ca-file", a.ca)
	waitFor(t, "coffer agent", 30*time.Second, func() error {
		_, err := a.try(a.env, "curl", "-sf", "-H", "Metadata: true",
			"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net")
		return err
	})
	return principal
}

// azCLI runs the Azure CLI inside the namespace with a profile of its own
// (AZURE_CONFIG_DIR), so logins in one test do not leak into another or
// into the machine's ~/.azure.
type azCLI struct {
	a   *azureNS
	t   *testing.T
	az  string
	env []string
}

// newAz is az as on a machine that trusts Coffer's CA and nothing more.
func (a *azureNS) newAz(t *testing.T, az string) *azCLI {
	return a.newAzWith(t, az, "REQUESTS_CA_BUNDLE="+a.ca)
}

// newAzAfterEnv is az in the operator's shell after eval "$(coffer env)":
// whatever coffer env exports (it must include REQUESTS_CA_BUNDLE) and
// nothing else.
func (a *azureNS) newAzAfterEnv(t *testing.T, az string) *azCLI {
	t.Helper()
	out, err := a.try(a.env, a.coffer, "env")
	if err != nil {
		t.Fatalf("coffer env: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^export ([A-Z_]+)='(.*)'$`)
	var vars []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("coffer env printed %q", l)
		}
		vars = append(vars, m[1]+"="+strings.ReplaceAll(m[2], `'\''`, "'"))
	}
	return a.newAzWith(t, az, vars...)
}

func (a *azureNS) newAzWith(t *testing.T, az string, vars ...string) *azCLI {
	return &azCLI{a: a, t: t, az: az, env: cleanToolEnv(append([]string{
		"AZURE_CONFIG_DIR=" + t.TempDir(),
		"AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_NO_COLOR=true",
		"AZURE_CORE_ONLY_SHOW_ERRORS=true",
		"AZURE_CORE_SURVEY_MESSAGE=false",
	}, vars...)...)}
}

// in returns the same profile reporting to t (a subtest): failing the
// parent test from a subtest's goroutine is not allowed.
func (c *azCLI) in(t *testing.T) *azCLI {
	d := *c
	d.t = t
	return &d
}

// try runs az with --debug (the log goes to stderr and is only read to
// explain failures) and returns stdout, stderr and the exit error.
func (c *azCLI) try(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), azCommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := c.a.command(ctx, c.env, "timeout", append([]string{"-k", "5", fmt.Sprint(int(azCommandTimeout.Seconds())), c.az}, append(args, "--debug")...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// run runs az and returns its stdout; on failure it fails the test with
// the HTTP exchanges that went wrong, taken from az's debug log.
func (c *azCLI) run(args ...string) string {
	c.t.Helper()
	out, debug, err := c.try(args...)
	if err != nil {
		c.t.Fatalf("az %s: %v\n%s", redactArgs(args), err, azFailure(debug))
	}
	return out
}

// json runs az and decodes the JSON it prints.
func (c *azCLI) json(args ...string) any {
	c.t.Helper()
	out := c.run(args...)
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("az %s printed no JSON: %v\n%s", redactArgs(args), err, out)
	}
	return v
}

// obj is json for commands that print one object.
func (c *azCLI) obj(args ...string) map[string]any {
	c.t.Helper()
	m, ok := c.json(args...).(map[string]any)
	if !ok {
		c.t.Fatalf("az %s did not print an object", redactArgs(args))
	}
	return m
}

// tsv runs az with -o tsv and returns the trimmed lines.
func (c *azCLI) tsv(args ...string) []string {
	c.t.Helper()
	out := strings.TrimSpace(c.run(append(args, "-o", "tsv")...))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// fails runs az expecting a non-zero exit and returns the error lines it
// printed (without the debug log). A success is an error, not fatal: the
// steps after it still say something.
func (c *azCLI) fails(args ...string) string {
	c.t.Helper()
	out, debug, err := c.try(args...)
	if err == nil {
		c.t.Errorf("az %s succeeded, want an error; it printed\n%s", redactArgs(args), out)
	}
	return azErrorLines(debug)
}

// login signs in as a service principal.
func (c *azCLI) login(clientID, secret, tenant string) []any {
	c.t.Helper()
	v, _ := c.json("login", "--service-principal", "-u", clientID, "-p", secret, "--tenant", tenant).([]any)
	return v
}

// redactArgs hides the value after -p/--password so failures do not print
// a client secret.
func redactArgs(args []string) string {
	out := append([]string(nil), args...)
	for i := range out {
		if (out[i] == "-p" || out[i] == "--password") && i+1 < len(out) {
			out[i+1] = "***"
		}
	}
	return strings.Join(out, " ")
}

var (
	// urllib3 logs every exchange as: https://host:443 "GET /path?q HTTP/1.1" 404 170
	urllib3Line = regexp.MustCompile(`urllib3\.connectionpool: (https?://\S+) "(\S+) (\S+) HTTP/[\d.]+" (\d{3})`)
	bodyMarker  = regexp.MustCompile(`: Response content:\s*$`)
	logPrefix   = regexp.MustCompile(`^(DEBUG|INFO|WARNING): [\w.]+: `)
)

// azFailure condenses az's debug log to what a reader needs: every HTTP
// exchange that answered 4xx/5xx (method, URL, status, body) and az's own
// error lines.
func azFailure(debug string) string {
	var b strings.Builder
	lines := strings.Split(debug, "\n")
	for i, l := range lines {
		m := urllib3Line.FindStringSubmatch(l)
		if m == nil || m[4] < "400" {
			continue
		}
		fmt.Fprintf(&b, "  %s %s%s -> %s", m[2], m[1], m[3], m[4])
		// The body follows the next "Response content:" marker (azure-core
		// and az's own request logger both print one).
		for j := i + 1; j < len(lines) && j < i+40; j++ {
			if urllib3Line.MatchString(lines[j]) {
				break
			}
			if bodyMarker.MatchString(lines[j]) && j+1 < len(lines) {
				body := logPrefix.ReplaceAllString(lines[j+1], "")
				if len(body) > 600 {
					body = body[:600] + "…"
				}
				fmt.Fprintf(&b, " %s", body)
				break
			}
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		b.WriteString("  (no HTTP exchange failed)\n")
	}
	return "failing requests:\n" + b.String() + "az said:\n" + azErrorLines(debug)
}

// azErrorLines returns what az prints without --debug: its ERROR lines.
func azErrorLines(debug string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(debug))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "ERROR: ") && !strings.HasPrefix(l, "ERROR: az_command_data_logger") {
			b.WriteString(strings.TrimPrefix(strings.TrimPrefix(l, "ERROR: "), "cli.azure.cli.core.azclierror: "))
			b.WriteString("\n")
		}
	}
	return b.String()
}

// python runs one of testdata/python's scripts with the system interpreter
// inside the namespace and decodes the JSON object it prints last.
func (a *azureNS) python(t *testing.T, env []string, script string, args ...string) map[string]any {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "python", script))
	if err != nil {
		t.Fatal(err)
	}
	return a.pythonCmd(t, env, systemPython, append([]string{"-E", "-s", path}, args...)...)
}

// pythonCmd runs a command (an interpreter or a shell wrapping one) and
// decodes the last line of its output.
func (a *azureNS) pythonCmd(t *testing.T, env []string, name string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), azCommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := a.command(ctx, env, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(args[len(args)-1]), err, stdout.String(), stderr.String())
	}
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return decodeJSON(t, out)
}

// pythonFails runs a script that must fail and returns its output.
func (a *azureNS) pythonFails(t *testing.T, env []string, script string, args ...string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "python", script))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), azCommandTimeout)
	defer cancel()
	out, err := a.command(ctx, env, systemPython, append([]string{"-E", "-s", path}, args...)...).CombinedOutput()
	if err == nil {
		t.Fatalf("%s %s succeeded, want a failure:\n%s", script, strings.Join(args, " "), out)
	}
	return string(out)
}
