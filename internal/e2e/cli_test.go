package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliEnv runs the real coffer binary against a `coffer serve` process.
type cliEnv struct {
	t      *testing.T
	coffer string
	env    []string
}

func startCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	coffer, _ := binaries(t)
	dir := t.TempDir()
	c := &cliEnv{t: t, coffer: coffer, env: baseEnv("COFFER_DATA_DIR="+dir, "COFFER_CONFIG_DIR="+filepath.Join(dir, "config"))}
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, coffer, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn")
	srv.Env = c.env
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitFor(t, "coffer serve", 30*time.Second, func() error {
		_, err := os.Stat(filepath.Join(dir, "server.json"))
		return err
	})
	return c
}

// run runs the CLI and returns stdout, stderr and the exit code.
func (c *cliEnv) run(args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(c.coffer, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs the CLI, requires success and decodes JSON output.
func (c *cliEnv) ok(args ...string) any {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("coffer %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("coffer %s printed non-JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// fails runs the CLI and requires a non-zero exit with stderr containing want.
func (c *cliEnv) fails(want string, args ...string) {
	c.t.Helper()
	_, errOut, code := c.run(args...)
	if code == 0 || !strings.Contains(errOut, want) {
		c.t.Fatalf("coffer %s: exit %d, stderr %q; want failure containing %q", strings.Join(args, " "), code, errOut, want)
	}
}

func field(v any, path ...string) string {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// TestCLIServicePrincipalsAndRBAC: ad sp create-for-rbac with a role, an
// RBAC vault, login as the service principal, role assignment list/delete,
// credential reset and delete — all through the CLI binary.
func TestCLIServicePrincipalsAndRBAC(t *testing.T) {
	c := startCLIEnv(t)
	sub := field(c.ok("account", "show"), "id")
	c.ok("group", "create", "-n", "rg1")
	vault := c.ok("keyvault", "create", "-n", "kvrbac", "-g", "rg1", "--enable-rbac-authorization")
	vaultID := field(vault, "id")
	if field(vault, "properties", "vaultUri") == "" {
		t.Fatalf("vault = %v", vault)
	}
	// RBAC vaults grant nothing by default, not even to their creator.
	c.fails("ForbiddenByRbac", "keyvault", "secret", "set", "--vault-name", "kvrbac", "-n", "s1", "--value", "v1")
	list := c.ok("ad", "sp", "list", "--display-name", "coffer-admin").([]any)
	if len(list) != 1 {
		t.Fatalf("ad sp list --display-name coffer-admin = %v", list)
	}
	adminApp := list[0].(map[string]any)["appId"].(string)
	c.ok("role", "assignment", "create", "--assignee", adminApp, "--role", "Key Vault Secrets Officer", "--scope", vaultID)
	c.ok("keyvault", "secret", "set", "--vault-name", "kvrbac", "-n", "s1", "--value", "v1")

	sp := c.ok("ad", "sp", "create-for-rbac", "-n", "ci-bot", "--role", "Key Vault Secrets User", "--scopes", "/subscriptions/"+sub+"/resourceGroups/rg1")
	appID, password := field(sp, "appId"), field(sp, "password")
	if appID == "" || len(password) < 32 || field(sp, "displayName") != "ci-bot" || field(sp, "tenant") == "" {
		t.Fatalf("create-for-rbac = %v", sp)
	}
	assigned := c.ok("role", "assignment", "list", "--assignee", appID, "--scope", "/subscriptions/"+sub).([]any)
	if len(assigned) != 1 {
		t.Fatalf("role assignment list --assignee = %v", assigned)
	}

	// As the service principal: Secrets User reads but cannot write.
	c.ok("login", "--service-principal", "-u", appID, "-p", password)
	if got := field(c.ok("keyvault", "secret", "show", "--vault-name", "kvrbac", "-n", "s1"), "value"); got != "v1" {
		t.Errorf("secret show as Secrets User = %q", got)
	}
	c.fails("ForbiddenByRbac", "keyvault", "secret", "set", "--vault-name", "kvrbac", "-n", "s1", "--value", "v2")
	c.fails("AuthorizationFailed", "group", "create", "-n", "rg2")
	c.ok("logout")

	// Removing the role removes the access.
	c.ok("role", "assignment", "delete", "--assignee", appID, "--role", "Key Vault Secrets User", "--scope", "/subscriptions/"+sub+"/resourceGroups/rg1")
	c.ok("login", "--service-principal", "-u", appID, "-p", password)
	c.fails("ForbiddenByRbac", "keyvault", "secret", "show", "--vault-name", "kvrbac", "-n", "s1")
	c.ok("logout")

	// A credential reset retires the old secret.
	reset := c.ok("ad", "sp", "credential", "reset", "--id", appID)
	if field(reset, "password") == "" || field(reset, "password") == password {
		t.Fatalf("credential reset = %v", reset)
	}
	c.fails("invalid_client", "login", "--service-principal", "-u", appID, "-p", password)
	c.ok("login", "--service-principal", "-u", appID, "-p", field(reset, "password"))
	c.ok("logout")

	c.ok("ad", "sp", "delete", "--id", appID)
	if left := c.ok("ad", "sp", "list", "--display-name", "ci-bot").([]any); len(left) != 0 {
		t.Errorf("after delete, ad sp list = %v", left)
	}
	c.fails("unauthorized_client", "login", "--service-principal", "-u", appID, "-p", field(reset, "password"))

	// People get tables; every command has --help.
	out, _, code := c.run("group", "list", "-o", "table")
	if code != 0 || !strings.Contains(out, "rg1") || !strings.Contains(out, "Name") {
		t.Errorf("group list -o table = %d %q", code, out)
	}
	for _, args := range [][]string{{"--help"}, {"keyvault", "secret", "set", "--help"}, {"vm", "credential", "create", "--help"}, {"ad", "sp", "create-for-rbac", "--help"}} {
		if out, _, code := c.run(args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("coffer %v: %d %q", args, code, out)
		}
	}
	c.fails("'frobnicate' is misspelled or not recognized by the system.", "frobnicate")
}
