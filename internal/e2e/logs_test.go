package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLogged boots a server whose debug-level log (text and JSON) goes
// into buf.
func startLogged(t *testing.T, buf *lockedBuffer) *testenv.Env {
	t.Helper()
	h := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true})
	s, err := app.Start(context.Background(), app.Config{
		Addr: "127.0.0.1:0", Cloud: cloud.AzureCloud, InMemory: true, Logger: slog.New(h),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testenv.Env{Server: s, T: t}
}

// TestSecretsNeverLogged drives every operation, successful and failing,
// with recognisable secret values and checks that neither they nor the
// credentials reach the debug log.
func TestSecretsNeverLogged(t *testing.T) {
	var buf lockedBuffer
	env := startLogged(t, &buf)
	const (
		value    = "SECRET-VALUE-7f3a9c-do-not-log"
		value2   = "SECRET-VALUE-2-b81e44-do-not-log"
		badValue = "SECRET-VALUE-BAD-0c2d-do-not-log"
	)
	tok := adminToken(t, env)
	do := func(method, path string, body string) {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		rawDo(t, env, method, kvURL(env, path), tok, b, nil)
	}
	do("PUT", "/secrets/logged?api-version=7.6", `{"value":"`+value+`","contentType":"text/plain"}`)
	do("PUT", "/secrets/logged?api-version=7.6", `{"value":"`+value2+`"}`)
	do("GET", "/secrets/logged/?api-version=7.6", "")
	do("GET", "/secrets/logged/versions?api-version=7.6", "")
	do("GET", "/secrets?api-version=7.6", "")
	do("PATCH", "/secrets/logged/?api-version=7.6", `{"tags":{"a":"b"}}`)
	do("POST", "/secrets/logged/backup?api-version=7.6", "")
	do("DELETE", "/secrets/logged?api-version=7.6", "")
	do("PUT", "/secrets/logged?api-version=7.6", `{"value":"`+value+`"}`) // 409
	do("GET", "/deletedsecrets/logged?api-version=7.6", "")
	do("POST", "/deletedsecrets/logged/recover?api-version=7.6", "")
	// Failing requests whose bodies carry a value.
	do("PUT", "/secrets/bad_name?api-version=7.6", `{"value":"`+badValue+`"}`)
	do("PUT", "/secrets/broken?api-version=7.6", `{"value":"`+badValue+`",`)
	do("PUT", "/secrets/broken?api-version=7.6", `{"value":"`+badValue+`","tags":{"`+badValue+`":5}}`)
	do("PUT", "/secrets/broken?api-version=7.6", `{"value":"`+badValue+strings.Repeat("x", 26000)+`"}`)
	do("PUT", "/secrets/broken?api-version=7.6", `{"value":"`+badValue+strings.Repeat("x", 300<<10)+`"}`)
	do("PUT", "/secrets/broken?api-version=abc", `{"value":"`+badValue+`"}`)
	do("POST", "/secrets/restore?api-version=7.6", `{"value":"`+badValue+`"}`)
	rawDo(t, env, "PUT", kvURL(env, "/secrets/anon?api-version=7.6"), "", []byte(`{"value":"`+badValue+`"}`), nil)
	rawDo(t, env, "PUT", kvURL(env, "/secrets/anon?api-version=7.6"), tok[:len(tok)-4]+"AAAA", []byte(`{"value":"`+badValue+`"}`), nil)
	// A failed login with a wrong secret.
	postForm(t, env, tokenURL(env, "v2"), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {env.Admin.ClientID},
		"client_secret": {"WRONG-" + env.Admin.ClientSecret}, "scope": {vaultScope},
	})

	log := buf.String()
	if !strings.Contains(log, "request") {
		t.Fatalf("the log is empty; the test would prove nothing:\n%s", log)
	}
	for what, s := range map[string]string{
		"secret value": value, "second value": value2, "rejected value": badValue,
		"client secret": env.Admin.ClientSecret, "access token": tok, "token signature": tok[strings.LastIndex(tok, ".")+1:],
	} {
		if strings.Contains(log, s) {
			t.Errorf("the log contains the %s:\n%s", what, log)
		}
	}
}
