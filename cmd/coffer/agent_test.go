package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is umask-filtered
		t.Fatal(err)
	}
	return p
}

func TestReadCredentialFile(t *testing.T) {
	dir := t.TempDir()
	const cred = "cofferm_0123456789abcdef0123456789abcdef.c2VjcmV0"
	systemd := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", systemd)
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr string
	}{
		{"private, trailing newline", writeFile(t, dir, "ok", cred+"\n", 0o600), cred, ""},
		{"read-only owner", writeFile(t, dir, "ro", "  "+cred+"\r\n", 0o400), cred, ""},
		{"world readable: warned, accepted", writeFile(t, dir, "world", cred, 0o644), cred, ""},
		{"group writable", writeFile(t, dir, "gw", cred, 0o620), "", "is writable by group or others (mode 0620)"},
		{"group readable: warned, accepted", writeFile(t, dir, "group", cred, 0o640), cred, ""},
		{"JSON as printed by vm credential create", writeFile(t, dir, "json", `{"keyId":"k","credential":"`+cred+`"}`, 0o600), cred, ""},
		{"systemd credential (ACL mask shows as group read)", writeFile(t, systemd, "agent.credential", cred, 0o440), cred, ""},
		{"not a machine credential", writeFile(t, dir, "other", "hunter2", 0o600), "", "does not hold a Coffer machine credential"},
		{"two lines", writeFile(t, dir, "two", cred+"\n"+cred, 0o600), "", "does not hold a Coffer machine credential"},
		{"directory", dir, "", "not a regular file"},
		{"missing", filepath.Join(dir, "nope"), "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readCredentialFile(tt.path)
			if tt.wantErr == "" && (err != nil || got != tt.want) {
				t.Errorf("readCredentialFile = %q, %v, want %q", got, err, tt.want)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("readCredentialFile error = %v, want one containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "cofferm_0123") {
				t.Errorf("error reveals the credential: %v", err)
			}
		})
	}
}

// TestAgentCommand: `coffer agent` configured only by COFFER_AGENT_*
// variables (plus --addr on the command line) checks its credential,
// serves IMDS over plain HTTP, never logs the credential or tokens, and
// stops when its context ends.
func TestAgentCommand(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	credFile := writeFile(t, dir, "agent.credential", m.cred+"\n", 0o600)
	t.Setenv("COFFER_AGENT_SERVER", "https://localhost:"+m.env.Port())
	t.Setenv("COFFER_AGENT_CREDENTIAL_FILE", credFile)
	t.Setenv("COFFER_AGENT_CA_FILE", m.caFile)
	t.Setenv("COFFER_AGENT_ADDR", "169.254.169.254:80") // overridden by the flag
	t.Setenv("COFFER_AGENT_LOG_FORMAT", "json")

	logs := &syncBuffer{}
	cmd := newAgentCmd()
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0"})
	cmd.SetErr(logs)
	cmd.SetOut(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "serving the instance metadata service" {
				addr, _ = rec["addr"].(string)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("agent exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never served; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), m.vm.ResourceID()) {
		t.Errorf("the log does not name the VM:\n%s", logs.String())
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net", nil)
	req.Header.Set("Metadata", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]string
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok["access_token"] == "" || resp.Header.Get("Server") == "" {
		t.Fatalf("token through the agent: %d %v %v", resp.StatusCode, tok, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	if l := logs.String(); strings.Contains(l, m.cred) || strings.Contains(l, tok["access_token"]) || strings.Contains(l, "cofferm_") {
		t.Errorf("the log holds the credential or a token:\n%s", l)
	}
}

// TestAgentRefuses: configuration errors stop the agent before it listens,
// with a message that says what to do.
func TestAgentRefuses(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "good", m.cred, 0o600)
	bogus := writeFile(t, dir, "bogus", "cofferm_0123456789abcdef0123456789abcdef.bm9wZQ", 0o600)
	loose := writeFile(t, dir, "loose", m.cred, 0o666)
	server := "https://localhost:" + m.env.Port()
	tests := []struct {
		name string
		cfg  agentConfig
		want string
	}{
		{"no server", agentConfig{credentialFile: good}, "--server and --credential-file are required"},
		{"plain HTTP server", agentConfig{server: "http://localhost:" + m.env.Port(), credentialFile: good}, "must be an https:// URL"},
		{"world-writable credential file", agentConfig{server: server, credentialFile: loose, caFile: m.caFile}, "chmod 600 " + loose},
		{"rejected credential", agentConfig{server: server, credentialFile: bogus, caFile: m.caFile}, "rejected the machine credential"},
		{"bad CA file", agentConfig{server: server, credentialFile: good, caFile: good}, "holds no PEM certificate"},
		{"address not on this machine", agentConfig{server: server, credentialFile: good, caFile: m.caFile, addr: "192.0.2.1:0"}, "ip addr add 192.0.2.1/32 dev lo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, _ := newLogger("text", "error", io.Discard)
			err := runAgent(context.Background(), tt.cfg, logger)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runAgent = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestAgentUntrustedServer: without the CA, the agent reports a
// configuration error at startup (not "cannot reach the server yet"), names
// the flag that fixes it, keeps serving, and answers clients at once with
// that error instead of letting them retry for a minute and a half.
func TestAgentUntrustedServer(t *testing.T) {
	m := newMachine(t)
	credFile := writeFile(t, t.TempDir(), "agent.credential", m.cred, 0o600)
	t.Setenv("SSL_CERT_FILE", filepath.Join(t.TempDir(), "none.pem")) // the system roots lack Coffer's CA anyway
	logs := &syncBuffer{}
	logger, _ := newLogger("json", "info", logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cfg := agentConfig{server: "https://localhost:" + m.env.Port(), credentialFile: credFile, addr: "127.0.0.1:0"}
	go func() { done <- runAgent(ctx, cfg, logger) }()

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "serving the instance metadata service" {
				addr, _ = rec["addr"].(string)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("agent exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never served; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	l := logs.String()
	if !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, "configuration error") || !strings.Contains(l, "--ca-file") ||
		strings.Contains(l, "cannot reach the coffer server") {
		t.Errorf("startup log does not report the trust failure as a configuration error with the fix:\n%s", l)
	}

	start := time.Now()
	req, _ := http.NewRequest("GET", "http://"+addr+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net", nil)
	req.Header.Set("Metadata", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(body["error_description"], "COFFER_AGENT_CA_FILE") {
		t.Errorf("token through an agent that does not trust the server = %d %v", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the client waited %s", d)
	}
}
