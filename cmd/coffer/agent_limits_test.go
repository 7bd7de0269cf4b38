package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/netlimit"
	"github.com/coffer-dev/coffer/internal/netlimit/netlimittest"
)

// startAgent runs runAgent for m on 127.0.0.1 until the test ends and
// returns the address it serves.
func startAgent(t *testing.T, m *machine, cfg agentConfig) (addr string, logs *syncBuffer) {
	t.Helper()
	cfg.server = "https://localhost:" + m.env.Port()
	cfg.credentialFile = writeFile(t, t.TempDir(), "agent.credential", m.cred, 0o600)
	cfg.caFile = m.caFile
	cfg.addr = "127.0.0.1:0"
	logs = &syncBuffer{}
	logger, _ := newLogger("json", "debug", logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runAgent(ctx, cfg, logger) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
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
	}
	return addr, logs
}

// agentToken asks the agent at addr for a Key Vault token with client.
func agentToken(client *http.Client, addr string) (int, map[string]string, error) {
	req, _ := http.NewRequest("GET", "http://"+addr+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net", nil)
	req.Header.Set("Metadata", "true")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]string
	err = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, err
}

// TestAgentUnderAttack: the agent's IMDS listener cuts off a body that
// never comes and byte-by-byte headers, and a flood from one address
// leaves tokens flowing to another.
func TestAgentUnderAttack(t *testing.T) {
	m := newMachine(t)
	addr, _ := startAgent(t, m, agentConfig{limits: netlimit.Limits{
		ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, IdleTimeout: time.Second,
		MaxConns: 96, MaxConnsPerAddr: 32,
	}})
	attacker := netlimittest.From("127.0.0.2", addr)
	t.Run("slow body", func(t *testing.T) {
		netlimittest.SlowBody(t, attacker, "169.254.169.254", "/metadata/identity/oauth2/token", 10*time.Second)
	})
	t.Run("slowloris", func(t *testing.T) {
		netlimittest.Slowloris(t, attacker, "169.254.169.254", 10*time.Second)
	})
	t.Run("flood", func(t *testing.T) {
		stop := netlimittest.Flood(attacker, 300)
		defer stop()
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		netlimittest.ServedThroughout(t, 3*time.Second, func() error {
			status, body, err := agentToken(client, addr)
			if err != nil {
				return err
			}
			if status != http.StatusOK || body["access_token"] == "" {
				return fmt.Errorf("token: %d %v", status, body["error_description"])
			}
			return nil
		})
	})
}

// TestAgentRevocation: after `vm credential revoke`, the agent stops
// serving tokens within its --recheck-interval, without any client
// bypassing its cache, and says so in its log.
func TestAgentRevocation(t *testing.T) {
	m := newMachine(t)
	const recheck = 500 * time.Millisecond
	addr, logs := startAgent(t, m, agentConfig{recheck: recheck})
	client := &http.Client{Timeout: 5 * time.Second}
	if status, body, err := agentToken(client, addr); err != nil || status != 200 || body["access_token"] == "" {
		t.Fatalf("token before revocation: %d %v %v", status, body["error_description"], err)
	}
	if _, err := m.env.Resources.RevokeCredentials(context.Background(), m.env.Instance.SubscriptionID, "coffer", "vm1", ""); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	// Generous: the documented bound is one interval; allow scheduling slack.
	for deadline := revoked.Add(recheck + 10*time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, body, err := agentToken(client, addr)
		if err != nil {
			t.Fatal(err)
		}
		if status == 400 && strings.Contains(body["error_description"], "rejected this machine's credential") {
			break
		}
		if status != 200 {
			t.Fatalf("unexpected answer: %d %v", status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent still serves tokens %v after the revocation", time.Since(revoked))
		}
	}
	t.Logf("tokens stopped %v after the revocation (recheck interval %v)", time.Since(revoked).Round(time.Millisecond), recheck)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "no longer accepts this machine's credential"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not log the revocation:\n%s", logs.String())
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"90m", now.Add(90 * time.Minute), false},
		{"12h", now.Add(12 * time.Hour), false},
		{"30d", now.Add(30 * 24 * time.Hour), false},
		{"2026-02-01T00:00:00Z", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), false},
		{"2025-12-31T00:00:00Z", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"0d", time.Time{}, true},
		{"xd", time.Time{}, true},
		{"tomorrow", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseExpiry(tt.in, now)
		if tt.wantErr != (err != nil) || (!tt.wantErr && !got.Equal(tt.want)) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
