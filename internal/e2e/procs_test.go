package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testreq"
)

// requireRootAndIP needs what network namespaces need: root, iproute2
// and curl. testreq decides whether their absence fails (strict: CI and
// scripts/test) or skips with a record (scripts/test --allow-skips).
func requireRootAndIP(t *testing.T) {
	t.Helper()
	testreq.Root(t)
	testreq.Need(t, "ip", "curl")
}

// netns is a network namespace with its own loopback and /etc/hosts: a
// simulated VM whose names point where the test says.
type netns struct {
	t    *testing.T
	name string
	mu   sync.Mutex
	bufs map[string]*bytes.Buffer
}

func newNetns(t *testing.T, hosts []string, addrs ...string) *netns {
	t.Helper()
	requireRootAndIP(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := &netns{t: t, name: "coffer-" + hex.EncodeToString(b), bufs: map[string]*bytes.Buffer{}}
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", n.name)
	dir := filepath.Join("/etc/netns", n.name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "pids", n.name).Run()
		if out, err := exec.Command("ip", "netns", "pids", n.name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", n.name).Run()
		_ = os.RemoveAll(dir)
		if t.Failed() {
			n.mu.Lock()
			for name, b := range n.bufs {
				t.Logf("--- output of %s ---\n%s", name, b.String())
			}
			n.mu.Unlock()
		}
	})
	run("-n", n.name, "link", "set", "lo", "up")
	for _, a := range addrs {
		run("-n", n.name, "addr", "add", a, "dev", "lo")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := "127.0.0.1 localhost\n::1 localhost\n" + strings.Join(hosts, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// baseEnv is a clean environment: no proxies or identity endpoints leak in
// from the machine running the tests.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT",
			"MSI_SECRET", "IMDS_ENDPOINT", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST", "COFFER_DATA_DIR":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// command builds a command that runs inside the namespace.
func (n *netns) command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", n.name, name}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.Env = env
	return cmd
}

// run runs a command in the namespace and returns its stdout; it fails the
// test on a non-zero exit.
func (n *netns) run(env []string, name string, args ...string) string {
	n.t.Helper()
	out, err := n.try(env, name, args...)
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (n *netns) try(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := n.command(ctx, env, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// start runs a long-lived process in the namespace until the test ends.
func (n *netns) start(label string, env []string, name string, args ...string) {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := n.command(ctx, env, name, args...)
	buf := &procOutput{}
	n.mu.Lock()
	n.bufs[label] = &buf.b
	n.mu.Unlock()
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		cancel()
		n.t.Fatalf("starting %s: %v", label, err)
	}
	n.t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
}

type procOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *procOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// waitFor polls try until it succeeds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, try func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}
