package netlimit_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/netlimit"
	"github.com/coffer-dev/coffer/internal/netlimit/netlimittest"
)

func TestListenerCaps(t *testing.T) {
	tests := []struct {
		name          string
		max, perAddr  int
		from          []string // source address of each dial, in order
		wantOpen      int
		wantRefusedBy map[string]int
	}{
		{"no caps", 0, 0, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2"}, 3, map[string]int{}},
		{"per address", 0, 2, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"}, 3, map[string]int{"per_address": 1}},
		{"total", 2, 0, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, 2, map[string]int{"total": 1}},
		{"both", 3, 2, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"}, 3, map[string]int{"per_address": 1, "total": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			refused := map[string]int{}
			ln := &netlimit.Listener{Listener: raw, Max: tt.max, PerAddr: tt.perAddr, OnRefuse: func(r string) {
				mu.Lock()
				refused[r]++
				mu.Unlock()
			}}
			defer ln.Close()
			accepted := make(chan net.Conn, len(tt.from))
			acceptDone := make(chan struct{})
			go func() {
				defer close(acceptDone)
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted <- c
				}
			}()
			var clients []net.Conn
			for i, src := range tt.from {
				// A refused connection may fail its dial already (reset).
				if c, err := netlimittest.From(src, raw.Addr().String())(); err == nil {
					clients = append(clients, c)
				}
				// Let Accept decide on this one before the next dial, so
				// which one is refused is deterministic.
				waitFor(t, func() bool {
					mu.Lock()
					n := refused["total"] + refused["per_address"]
					mu.Unlock()
					return len(accepted)+n == i+1
				})
			}
			if got := ln.Open(); got != tt.wantOpen {
				t.Errorf("Open() = %d, want %d", got, tt.wantOpen)
			}
			mu.Lock()
			if fmt.Sprint(refused) != fmt.Sprint(tt.wantRefusedBy) {
				t.Errorf("refused = %v, want %v", refused, tt.wantRefusedBy)
			}
			mu.Unlock()
			// Closing gives the slots back, once each.
			ln.Close()
			<-acceptDone
			close(accepted)
			for c := range accepted {
				c.Close()
				c.Close()
			}
			if got := ln.Open(); got != 0 {
				t.Errorf("after closing every connection Open() = %d, want 0", got)
			}
			for _, c := range clients {
				c.Close()
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}

// testLimits are short enough for tests to see every bound take effect.
var testLimits = netlimit.Limits{
	ReadHeaderTimeout: 500 * time.Millisecond,
	ReadTimeout:       time.Second,
	WriteTimeout:      2 * time.Second,
	IdleTimeout:       time.Second,
	MaxHeaderBytes:    8 << 10,
	MaxConns:          64,
	MaxConnsPerAddr:   16,
}

// TestServerUnderAttack runs the attacks against a plain HTTP server built
// from Limits, whose handler (like Coffer's 401 path) never reads the body.
func TestServerUnderAttack(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := testLimits.Listen(raw)
	srv := testLimits.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	go srv.Serve(ln)
	defer srv.Close()
	addr := raw.Addr().String()
	attacker := netlimittest.From("127.0.0.2", addr)

	t.Run("slow body", func(t *testing.T) {
		netlimittest.SlowBody(t, attacker, "localhost", "/secrets/x", 10*time.Second)
	})
	t.Run("slowloris", func(t *testing.T) {
		netlimittest.Slowloris(t, attacker, "localhost", 10*time.Second)
	})
	t.Run("flood", func(t *testing.T) {
		stop := netlimittest.Flood(attacker, 300)
		defer stop()
		client := clientFrom("127.0.0.1")
		maxOpen := 0
		n := netlimittest.ServedThroughout(t, 3*time.Second, func() error {
			maxOpen = max(maxOpen, ln.Open())
			res, err := client.Get("http://" + addr + "/healthz")
			if err != nil {
				return err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				return fmt.Errorf("status %d", res.StatusCode)
			}
			return nil
		})
		if maxOpen > testLimits.MaxConns || maxOpen < testLimits.MaxConnsPerAddr {
			t.Errorf("open connections peaked at %d; want the flood to fill its per-address cap %d and never pass the total %d",
				maxOpen, testLimits.MaxConnsPerAddr, testLimits.MaxConns)
		}
		t.Logf("%d requests served during the flood; at most %d connections open", n, maxOpen)
	})
}

// clientFrom is an HTTP client whose every request opens a new connection
// from src, so that each one has to get past the listener's caps.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// TestIdleReclaimed: at the per-address cap, an idle keep-alive connection
// of that address is closed to admit a new one, so a client that leaves
// pooled connections behind is not locked out; connections in the middle
// of a request (here: headers still coming) are never reclaimed.
func TestIdleReclaimed(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := netlimit.Limits{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, IdleTimeout: time.Minute, MaxConns: 100, MaxConnsPerAddr: 3}
	ln := limits.Listen(raw)
	srv := limits.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ln.Track(srv)
	go srv.Serve(ln)
	defer srv.Close()
	addr := raw.Addr().String()

	// Three clients, each leaving one idle keep-alive connection behind.
	for i := range 3 {
		c := &http.Client{Transport: &http.Transport{}}
		res, err := c.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		res.Body.Close()
	}
	waitFor(t, func() bool { return ln.Open() == 3 })
	// A fourth from the same address is served: an idle one makes room.
	res, err := clientFrom("127.0.0.1").Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("with idle connections at the cap: %v", err)
	}
	res.Body.Close()
	if n := ln.Open(); n > 3 {
		t.Errorf("%d connections open, cap 3", n)
	}
	// Two idle ones remain once the fourth (no keep-alive) is closed.
	waitFor(t, func() bool { return ln.Open() == 2 })

	// Busy connections (a request's headers half sent) are not reclaimed.
	var busy []net.Conn
	before := ln.Open()
	for range 3 {
		c, err := netlimittest.From("127.0.0.3", addr)()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\n")
		busy = append(busy, c)
	}
	waitFor(t, func() bool { return ln.Open() == before+3 })
	c, err := netlimittest.From("127.0.0.3", addr)()
	if err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Error("a fourth connection from an address with three busy ones was admitted")
	}
	for _, b := range busy {
		if _, err := io.WriteString(b, "Host: x\r\n\r\n"); err != nil {
			t.Errorf("a busy connection was closed: %v", err)
		}
		b.Close()
	}
}
