package app_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/netlimit"
	"github.com/coffer-dev/coffer/internal/netlimit/netlimittest"
)

// attackLimits are short enough for the tests to see each bound bite.
var attackLimits = netlimit.Limits{
	ReadHeaderTimeout: 500 * time.Millisecond,
	ReadTimeout:       time.Second,
	WriteTimeout:      3 * time.Second,
	IdleTimeout:       time.Second,
	MaxConns:          96,
	MaxConnsPerAddr:   32,
}

func startLimited(t *testing.T) *app.Server {
	t.Helper()
	s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", InMemory: true, Limits: attackLimits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tlsFrom dials the server over TLS from the loopback address src.
func tlsFrom(s *app.Server, src string) netlimittest.Dialer {
	raw := netlimittest.From(src, s.Addr)
	return func() (net.Conn, error) {
		c, err := raw()
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, &tls.Config{RootCAs: s.CA.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
}

// TestServerUnderAttack: a body that never comes (on the unauthenticated
// path, where the server answers 401 and drains the body) and headers
// sent byte by byte are cut off; a flood of idle connections from one
// address leaves /healthz answering another.
func TestServerUnderAttack(t *testing.T) {
	s := startLimited(t)
	attacker := tlsFrom(s, "127.0.0.2")
	t.Run("slow body", func(t *testing.T) {
		netlimittest.SlowBody(t, attacker, "localhost", "/secrets/x?api-version=7.5", 10*time.Second)
	})
	t.Run("slowloris", func(t *testing.T) {
		netlimittest.Slowloris(t, attacker, "localhost", 10*time.Second)
	})
	t.Run("flood", func(t *testing.T) {
		// Plain TCP connections that never start TLS, and TLS ones that
		// never finish a request.
		stop1 := netlimittest.Flood(netlimittest.From("127.0.0.2", s.Addr), 200)
		defer stop1()
		stop2 := netlimittest.Flood(attacker, 100)
		defer stop2()
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: d.DialContext, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool()},
		}}
		netlimittest.ServedThroughout(t, 3*time.Second, func() error {
			res, err := client.Get("https://localhost:" + port(s) + "/healthz")
			if err != nil {
				return err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("/healthz answered %d", res.StatusCode)
			}
			return nil
		})
	})
}

func port(s *app.Server) string {
	_, p, _ := net.SplitHostPort(s.Addr)
	return p
}
