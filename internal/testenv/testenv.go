// Package testenv boots a whole Coffer server on 127.0.0.1 for tests and
// hands out clients that reach it under any host name (a "pinned" DNS:
// every name dials the test server, as a hosts file would), trusting only
// the server's CA. Test code imports it; production code never does.
package testenv

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/kv"
)

// Env is a running test server.
type Env struct {
	*app.Server
	T *testing.T
}

// Options tweak the server.
type Options struct {
	Cloud   cloud.Profile
	DataDir string // empty: in memory
	Now     func() time.Time
	// Throttle limits data-plane transactions per vault (nil: none).
	Throttle *keyvault.Throttle
	// WrapStore wraps the storage backend (see app.Config.WrapStore).
	WrapStore func(kv.Store) kv.Store
}

// Start boots a server and stops it when the test ends.
func Start(t *testing.T, opts Options) *Env {
	t.Helper()
	cfg := app.Config{
		Addr: "127.0.0.1:0", Cloud: opts.Cloud, DataDir: opts.DataDir, InMemory: opts.DataDir == "",
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:    opts.Now, Throttle: opts.Throttle, WrapStore: opts.WrapStore,
	}
	s, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Env{Server: s, T: t}
}

// Port is the server's port.
func (e *Env) Port() string {
	_, p, _ := net.SplitHostPort(e.Addr)
	return p
}

// Transport dials every host name to the test server (as if it were pinned
// in a hosts file) and trusts only Coffer's CA. Use it as an SDK client's
// Transport: the client code and its URLs stay unmodified.
func (e *Env) Transport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, e.Addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: e.CA.Pool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
}

// Client is an http.Client with Transport.
func (e *Env) Client() *http.Client {
	return &http.Client{Transport: e.Transport(), Timeout: 30 * time.Second}
}

// VaultURL is the URL of a vault as clients would write it: the real name
// without a port in cloud profiles (Transport pins every name to the test
// server), with the server's port in the local profile.
func (e *Env) VaultURL(name string) string {
	u := "https://" + strings.ToLower(name) + "." + e.Profile.VaultSuffix
	if e.Profile.LoginHost == "" {
		u += ":" + e.Port()
	}
	return u + "/"
}

// AuthorityHost is the login authority as clients should be configured.
func (e *Env) AuthorityHost() string {
	if e.Profile.LoginHost != "" {
		return "https://" + e.Profile.LoginHost + "/"
	}
	return "https://localhost:" + e.Port() + "/"
}
