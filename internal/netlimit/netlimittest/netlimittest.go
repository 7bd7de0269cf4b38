// Package netlimittest holds the denial-of-service attacks the listener
// tests run against every Coffer listener: a body that never comes, headers
// sent a byte at a time, and a flood of idle connections, while a
// well-behaved client keeps making requests. Test-only: import it from
// _test.go files.
package netlimittest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Dialer opens one connection to the listener under test, ready for HTTP
// (past the TLS handshake for a TLS listener).
type Dialer func() (net.Conn, error)

// From returns a Dialer for plain TCP from the loopback address src (any
// 127.0.0.0/8 address works on Linux), so that tests can play several
// client addresses.
func From(src, addr string) Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return func() (net.Conn, error) { return d.Dial("tcp", addr) }
}

// closedWithin reads from c until the server closes it; it reports whether
// that happened within bound.
func closedWithin(c net.Conn, bound time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// SlowBody sends a request whose headers announce a body that never comes
// and fails t unless the server ends the connection within bound.
func SlowBody(t testing.TB, dial Dialer, host, path string, bound time.Duration) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatalf("slow body: dial: %v", err)
	}
	defer c.Close()
	req := "PUT " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("slow body: write: %v", err)
	}
	if !closedWithin(c, bound) {
		t.Errorf("slow body: the connection was still open after %v", bound)
	}
}

// Slowloris sends a request's headers one byte every 100 ms, forever, and
// fails t unless the server ends the connection within bound.
func Slowloris(t testing.TB, dial Dialer, host string, bound time.Duration) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatalf("slowloris: dial: %v", err)
	}
	defer c.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		head := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n"
		for i := 0; ; i++ {
			b := "X"
			if i < len(head) {
				b = head[i : i+1]
			}
			if _, err := io.WriteString(c, b); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	if !closedWithin(c, bound) {
		t.Errorf("slowloris: the connection was still open after %v", bound)
	}
	c.Close()
	<-done
}

// Flood opens n connections with dial, each sending the start of a request
// line and then nothing, and holds them (reconnecting those the server
// closes) until the returned stop is called. Dial failures are expected
// once the server's caps are reached and are not errors.
func Flood(dial Dialer, n int) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				c, err := dial()
				if err != nil {
					select {
					case <-quit:
						return
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				io.WriteString(c, "GET /")
				closed := make(chan struct{})
				go func() { io.Copy(io.Discard, c); close(closed) }()
				select {
				case <-quit:
					c.Close()
					<-closed
					return
				case <-closed:
					c.Close()
				}
			}
		}()
	}
	return func() { close(quit); wg.Wait() }
}

// ServedThroughout calls get repeatedly for d and fails t on any error:
// the well-behaved client must be served all along.
func ServedThroughout(t testing.TB, d time.Duration, get func() error) (requests int) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if err := get(); err != nil {
			t.Errorf("a well-behaved client was not served after %d requests: %v", requests, err)
			return requests
		}
		requests++
		// Well-behaved: ten a second, within every rate limit
		// (IMDS allows 20 identity requests a second).
		time.Sleep(100 * time.Millisecond)
	}
	return requests
}
