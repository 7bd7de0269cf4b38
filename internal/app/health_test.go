package app_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvfault"
)

func probe(t *testing.T, s *app.Server, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool()}}}
	res, err := c.Get("https://localhost:" + port(s) + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var body map[string]string
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body["status"]
}

// TestReadyz: /readyz follows the store (a failing or hanging read gives
// 503 within its deadline) while /healthz, liveness, stays 200.
func TestReadyz(t *testing.T) {
	var fault *kvfault.Store
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", InMemory: true,
		WrapStore: func(st kv.Store) kv.Store { fault = kvfault.Wrap(st); return fault }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name       string
		rule       *kvfault.Rule
		wantReady  int
		wantStatus string
	}{
		{"store answers", nil, 200, "ready"},
		{"store fails", &kvfault.Rule{Ops: kvfault.Get}, 503, "store unavailable"},
		{"store unavailable", &kvfault.Rule{Ops: kvfault.Get, Err: kvfault.ErrUnavailable}, 503, "store unavailable"},
		{"store hangs", &kvfault.Rule{Ops: kvfault.Get, Hang: true}, 503, "store unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rule != nil {
				defer fault.Inject(*tt.rule)()
			}
			if code, status := probe(t, s, "/readyz"); code != tt.wantReady || status != tt.wantStatus {
				t.Errorf("/readyz = %d %q, want %d %q", code, status, tt.wantReady, tt.wantStatus)
			}
			if code, _ := probe(t, s, "/healthz"); code != 200 {
				t.Errorf("/healthz = %d, want 200 whatever the store does", code)
			}
		})
	}
}

// slowGets delays every Get while on.
type slowGets struct {
	kv.Store
	on atomic.Bool
}

func (s *slowGets) Get(ctx context.Context, key string) ([]byte, error) {
	if s.on.Load() {
		time.Sleep(time.Second)
	}
	return s.Store.Get(ctx, key)
}

// TestCloseDrains: a request in flight when Close is called is answered;
// the server then refuses new connections.
func TestCloseDrains(t *testing.T) {
	slow := &slowGets{}
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", InMemory: true,
		WrapStore: func(st kv.Store) kv.Store { slow.Store = st; return slow }})
	if err != nil {
		t.Fatal(err)
	}
	slow.on.Store(true)
	type answer struct {
		code   int
		status string
	}
	done := make(chan answer, 1)
	go func() {
		code, status := probe(t, s, "/readyz")
		done <- answer{code, status}
	}()
	time.Sleep(300 * time.Millisecond) // the probe is now waiting on the store
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case a := <-done:
		if a.code != 200 || a.status != "ready" {
			t.Errorf("the request in flight got %d %q, want 200 ready", a.code, a.status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight was not answered")
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool()}}}
	if res, err := c.Get("https://localhost:" + port(s) + "/healthz"); err == nil {
		res.Body.Close()
		t.Errorf("after Close the server still answers: %d", res.StatusCode)
	}
}
