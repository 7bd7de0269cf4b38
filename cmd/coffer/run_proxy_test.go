package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// machine is a real server with VM vm1 allowed to get secret "mi-test"
// ("My Secret") in the default vault, its credential and the CA file.
type machine struct {
	env    *testenv.Env
	vm     *model.Compute
	cred   string
	caFile string
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	return newMachineIn(t, "")
}

// newMachineIn is newMachine with the server's data in dataDir ("": memory).
func newMachineIn(t *testing.T, dataDir string) *machine {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, DataDir: dataDir})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vm1", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, "coffer", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := env.Vaults.OpenVault(ctx, env.Instance.DefaultVault)
	if err != nil {
		t.Fatal(err)
	}
	value := "My Secret"
	if _, _, err := env.Vaults.SetSecret(ctx, v, "mi-test", vaults.SetParams{Value: &value}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.UpdateVault(ctx, env.Instance.DefaultVault, func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, model.AccessPolicy{TenantID: env.Instance.TenantID, ObjectID: vm.SystemAssigned,
			Permissions: model.Permissions{Secrets: []string{"get"}}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, env.CA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &machine{env: env, vm: vm, cred: cred, caFile: caFile}
}

func (m *machine) run(ctx context.Context, argv ...string) (int, string, string, error) {
	var stdout, stderr bytes.Buffer
	code, err := runWithIdentity(ctx, "https://localhost:"+m.env.Port(), m.env.Addr, m.env.Profile, m.caFile, m.cred, argv, &stdout, &stderr)
	return code, stdout.String(), stderr.String(), err
}

// TestRunWithIdentity: an unmodified SDK program run through
// runWithIdentity reads the secret as the VM, even when the caller's
// environment points elsewhere: another MI endpoint, another proxy, a
// NO_PROXY covering Azure, and a service principal (which would win in
// DefaultAzureCredential) are all overridden.
func TestRunWithIdentity(t *testing.T) {
	bin := goBuild(t, "../../internal/runproxy/testdata/miclient")
	m := newMachine(t)
	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi/token", "IDENTITY_HEADER": "elsewhere",
		"HTTPS_PROXY": "http://127.0.0.1:1", "HTTP_PROXY": "http://127.0.0.1:1", "NO_PROXY": ".azure.net,169.254.169.254",
		"AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000000a", "AZURE_CLIENT_SECRET": "not-a-secret",
		"AZURE_TENANT_ID":       "00000000-0000-0000-0000-00000000000b",
		"COFFER_TEST_VAULT_URL": "https://" + m.env.Instance.DefaultVault + ".vault.azure.net/", "COFFER_TEST_SECRET_NAME": "mi-test",
	} {
		t.Setenv(k, v)
	}
	for _, kind := range []string{"managed", "default"} {
		t.Setenv("COFFER_TEST_CREDENTIAL", kind)
		code, out, errOut, err := m.run(context.Background(), bin)
		if err != nil || code != 0 || out != "My Secret" {
			t.Errorf("%s: runWithIdentity = %d, %v; stdout %q; stderr %s", kind, code, err, out, errOut)
		}
	}
}

// goBuild builds the main package at dir and returns the binary's path.
func goBuild(t *testing.T, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	build := exec.Command("go", "build", "-o", bin, dir)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build %s: %v", dir, err)
	}
	return bin
}

// TestCofferRunBinary: the real `coffer run` binary, against a server
// whose data directory it reads, runs an unmodified SDK program as the VM
// and passes its exit status through.
func TestCofferRunBinary(t *testing.T) {
	if testing.Short() {
		// -short is the caller asking for a quick run; scripts/test never
		// passes it, so the full suite always builds and runs the binary.
		t.Skip("-short: builds two binaries")
	}
	coffer := goBuild(t, ".")
	// A `coffer run` that cannot even print its help is the breakage this
	// test exists to catch: fail, never skip.
	if out, err := exec.Command(coffer, "run", "--help").CombinedOutput(); err != nil {
		t.Fatalf("coffer run --help: %v\n%s", err, out)
	}
	miclient := goBuild(t, "../../internal/runproxy/testdata/miclient")
	dataDir := t.TempDir()
	m := newMachineIn(t, dataDir)
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(coffer, append([]string{"run", "--identity", "vm1", "--resource-group", "coffer", "--"}, args...)...)
		cmd.Env = append(os.Environ(), "COFFER_DATA_DIR="+dataDir,
			"COFFER_TEST_VAULT_URL=https://"+m.env.Instance.DefaultVault+".vault.azure.net/", "COFFER_TEST_SECRET_NAME=mi-test")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("coffer run: %v", err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	if code, out, errOut := run(miclient); code != 0 || out != "My Secret" {
		t.Errorf("coffer run miclient = %d %q; stderr %s", code, out, errOut)
	}
	if code, _, errOut := run("sh", "-c", "exit 5"); code != 5 {
		t.Errorf("coffer run sh -c 'exit 5' = %d; stderr %s", code, errOut)
	}
}

// TestRunExitCodes: the child's exit status comes back, shell-style.
func TestRunExitCodes(t *testing.T) {
	m := newMachine(t)
	ctx := context.Background()
	if code, out, _, err := m.run(ctx, "sh", "-c", "echo hi; exit 3"); code != 3 || err != nil || out != "hi\n" {
		t.Errorf("exit 3: got %d, %v, %q", code, err, out)
	}
	if code, _, _, err := m.run(ctx, "sh", "-c", "kill -KILL $$"); code != 128+9 || err != nil {
		t.Errorf("killed: got %d, %v", code, err)
	}
	if code, _, _, err := m.run(ctx, "coffer-no-such-command"); code != 127 || err == nil {
		t.Errorf("missing command: got %d, %v", code, err)
	}
	if code, _, _, err := m.run(ctx); code != 2 || err == nil {
		t.Errorf("no command: got %d, %v", code, err)
	}
}

// childScript traps SIGTERM and SIGINT, reporting which it got, and says
// when it is ready.
const childScript = `trap 'echo got-term; exit 7' TERM; trap 'echo got-int; exit 8' INT; touch "$1"; while :; do sleep 0.05; done`

// TestRunSignals: SIGTERM and SIGINT sent to coffer reach the child; a
// cancelled ctx sends it SIGTERM.
func TestRunSignals(t *testing.T) {
	m := newMachine(t)
	for _, tt := range []struct {
		name string
		send func(cancel context.CancelFunc)
		code int
		out  string
	}{
		{"SIGTERM", func(context.CancelFunc) { _ = syscall.Kill(os.Getpid(), syscall.SIGTERM) }, 7, "got-term\n"},
		{"SIGINT", func(context.CancelFunc) { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) }, 8, "got-int\n"},
		{"ctx cancelled", func(cancel context.CancelFunc) { cancel() }, 7, "got-term\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				code int
				out  string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				code, out, _, err := m.run(ctx, "sh", "-c", childScript, "sh", ready)
				done <- result{code, out, err}
			}()
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("child never became ready")
				}
				time.Sleep(10 * time.Millisecond)
			}
			tt.send(cancel)
			select {
			case r := <-done:
				if r.code != tt.code || r.out != tt.out || r.err != nil {
					t.Errorf("got %d %q %v, want %d %q", r.code, r.out, r.err, tt.code, tt.out)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("child did not exit")
			}
		})
	}
}

// TestChildEnv: the child's environment routes everything through the
// run's proxy and drops what would route around the VM's identity. want is
// the exact result; wantGone names variables that must not survive in any
// form (a regression that kept one, even reordered, is named precisely);
// wantExtra lists entries childEnv must add that the input did not have.
func TestChildEnv(t *testing.T) {
	const proxy = "http://u:p@127.0.0.1:5000"
	proxies := []string{"HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy, "http_proxy=" + proxy, "https_proxy=" + proxy, "NO_PROXY=", "no_proxy="}
	tests := []struct {
		name      string
		in        []string
		caFile    string
		want      []string
		wantGone  []string
		wantExtra []string
	}{
		{
			name: "service principal removed with its client id",
			in: []string{"PATH=/bin", "HOME=/h", "HTTP_PROXY=http://corp:3128", "https_proxy=http://corp:3128", "NO_PROXY=.azure.net",
				"AZURE_CLIENT_ID=app", "AZURE_CLIENT_SECRET=s", "AZURE_TENANT_ID=t", "IDENTITY_ENDPOINT=http://x", "IDENTITY_HEADER=h",
				"MSI_ENDPOINT=http://y", "SSL_CERT_FILE=/etc/other.pem"},
			caFile: "/data/ca.pem",
			want: []string{"PATH=/bin", "HOME=/h", "AZURE_TENANT_ID=t",
				"HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy, "http_proxy=" + proxy, "https_proxy=" + proxy, "NO_PROXY=", "no_proxy=",
				"SSL_CERT_FILE=/data/ca.pem", "NODE_EXTRA_CA_CERTS=/data/ca.pem", "CURL_CA_BUNDLE=/data/ca.pem", "REQUESTS_CA_BUNDLE=/data/ca.pem"},
			wantGone:  []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT"},
			wantExtra: []string{"HTTPS_PROXY=" + proxy, "http_proxy=" + proxy, "no_proxy=", "NODE_EXTRA_CA_CERTS=/data/ca.pem", "CURL_CA_BUNDLE=/data/ca.pem", "REQUESTS_CA_BUNDLE=/data/ca.pem"},
		},
		{
			name:      "a user-assigned client id without a secret is kept",
			in:        []string{"AZURE_CLIENT_ID=uami", "SSL_CERT_FILE=/etc/mine.pem"},
			caFile:    "",
			want:      append([]string{"AZURE_CLIENT_ID=uami", "SSL_CERT_FILE=/etc/mine.pem"}, proxies...),
			wantExtra: proxies,
		},
		{
			name: "every other credential source removed",
			in: []string{"AZURE_CLIENT_ID=app", "AZURE_CLIENT_CERTIFICATE_PATH=/c.pem", "AZURE_CLIENT_CERTIFICATE_PASSWORD=pw",
				"AZURE_USERNAME=u", "AZURE_PASSWORD=p", "AZURE_FEDERATED_TOKEN_FILE=/f", "IDENTITY_SERVER_THUMBPRINT=t",
				"IMDS_ENDPOINT=http://z", "MSI_SECRET=m", "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://p"},
			want: proxies,
			wantGone: []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME",
				"AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST"},
			wantExtra: proxies,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := childEnv(tt.in, proxy, tt.caFile)
			for _, k := range tt.wantGone {
				for _, kv := range got {
					if strings.HasPrefix(kv, k+"=") {
						t.Errorf("childEnv kept %s (as %q); it must be removed", k, kv)
					}
				}
			}
			for _, kv := range tt.wantExtra {
				if slices.Contains(tt.in, kv) {
					t.Fatalf("bad test: wantExtra %q is already in the input", kv)
				}
				if !slices.Contains(got, kv) {
					t.Errorf("childEnv did not add %q", kv)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("childEnv(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRandomToken: proxy credentials differ per run and fit in a URL.
func TestRandomToken(t *testing.T) {
	a, b := randomToken(24), randomToken(24)
	if a == b || len(a) != 32 || strings.ContainsAny(a, "+/=:@") {
		t.Errorf("randomToken = %q, %q", a, b)
	}
}
