// Package netlimit bounds what clients can hold on a listener: how many
// connections it keeps open in all and per client address (Listener), and
// how long each phase of an HTTP exchange may take (Limits.Server).
//
// Every Coffer listener (the server's, the agent's IMDS, the `coffer run`
// proxy) is built from a Limits, so that a client that opens connections
// and sends nothing, sends headers a byte at a time, or announces a body
// that never comes is cut off in bounded time and cannot take every file
// descriptor: the per-address cap is below the total, so one address
// flooding the listener leaves room for the others (and /healthz).
package netlimit

import (
	"cmp"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are the timeouts and caps of one HTTP listener. A zero field takes
// its value from the defaults given to WithDefaults.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a body
	// announced by Content-Length that never comes ends the connection.
	// Also what the server spends draining a body its handler left unread.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response: a client that stops reading is dropped.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections that carry no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request line plus headers.
	MaxHeaderBytes int
	// MaxConns caps the connections open on the listener at once.
	MaxConns int
	// MaxConnsPerAddr caps them per client address (IPv4 address or
	// IPv6 /64). Keep it below MaxConns so one address cannot lock out
	// the rest.
	MaxConnsPerAddr int
}

// ServerDefaults are the main server's limits. Key Vault values are at
// most 25 KB, so 30 s to read a request is generous; 1,024 descriptors is
// a common ulimit, hence 512 connections.
var ServerDefaults = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	MaxConns:          512,
	MaxConnsPerAddr:   128,
}

// WithDefaults returns l with each zero field taken from d.
func (l Limits) WithDefaults(d Limits) Limits {
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	l.ReadTimeout = cmp.Or(l.ReadTimeout, d.ReadTimeout)
	l.WriteTimeout = cmp.Or(l.WriteTimeout, d.WriteTimeout)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, d.IdleTimeout)
	l.MaxHeaderBytes = cmp.Or(l.MaxHeaderBytes, d.MaxHeaderBytes)
	l.MaxConns = cmp.Or(l.MaxConns, d.MaxConns)
	l.MaxConnsPerAddr = cmp.Or(l.MaxConnsPerAddr, d.MaxConnsPerAddr)
	return l
}

// Server returns an http.Server for h with l's timeouts. Hijacked
// connections (CONNECT tunnels) leave its deadlines behind and must bound
// themselves.
func (l Limits) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Listen wraps ln with l's connection caps.
func (l Limits) Listen(ln net.Listener) *Listener {
	return &Listener{Listener: ln, Max: l.MaxConns, PerAddr: l.MaxConnsPerAddr}
}

// Listener caps the connections a net.Listener hands out. At a cap, an
// idle keep-alive connection (one between requests, as Track reports) is
// closed to make room: clients reconnect transparently, and a client that
// leaves pooled connections behind does not lock itself out. Failing that,
// the new connection is accepted and closed at once (reset, so it costs
// neither side a TIME_WAIT): refusing it in the kernel backlog instead
// would also stall the well-behaved clients queued behind it. Counts drop
// when the connection is closed, by whoever closes it.
type Listener struct {
	net.Listener
	// Max and PerAddr are the caps; zero or less means none.
	Max, PerAddr int
	// OnRefuse, if set, is called for each connection closed over a cap
	// with "total" or "per_address" (for metrics and logs).
	OnRefuse func(reason string)

	mu     sync.Mutex
	open   int
	byAddr map[string]map[*conn]struct{}
}

// Track makes srv report its connections' states to l, so that idle
// keep-alive connections can be reclaimed at a cap. Call it before Serve.
func (l *Listener) Track(srv *http.Server) {
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if prev != nil {
			prev(c, st)
		}
		if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
			c = nc.NetConn()
		}
		if lc, ok := c.(*conn); ok {
			lc.idle.Store(st == http.StateIdle)
		}
	}
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addrKey(c.RemoteAddr())
		lc := &conn{Conn: c, l: l, key: key}
		if reason := l.admit(lc); reason != "" {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			if l.OnRefuse != nil {
				l.OnRefuse(reason)
			}
			continue
		}
		return lc, nil
	}
}

// Open reports the connections currently open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *Listener) admit(c *conn) (refused string) {
	var evicted []*conn
	defer func() {
		for _, e := range evicted {
			e.Conn.Close() // its slot is already free
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.PerAddr > 0 && len(l.byAddr[c.key]) >= l.PerAddr {
		e := l.evictIdleLocked(c.key)
		if e == nil {
			return "per_address"
		}
		evicted = append(evicted, e)
	}
	if l.Max > 0 && l.open >= l.Max {
		e := l.evictIdleLocked("")
		if e == nil {
			return "total"
		}
		evicted = append(evicted, e)
	}
	if l.byAddr == nil {
		l.byAddr = map[string]map[*conn]struct{}{}
	}
	if l.byAddr[c.key] == nil {
		l.byAddr[c.key] = map[*conn]struct{}{}
	}
	l.open++
	l.byAddr[c.key][c] = struct{}{}
	return ""
}

// evictIdleLocked frees the slot of one idle connection (of key, or of any
// address for ""), marks it closed and returns it for closing; nil if
// there is none.
func (l *Listener) evictIdleLocked(key string) *conn {
	for k, set := range l.byAddr {
		if key != "" && k != key {
			continue
		}
		for c := range set {
			if c.idle.Load() && c.closed.CompareAndSwap(false, true) {
				l.releaseLocked(c)
				return c
			}
		}
	}
	return nil
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked(c)
}

func (l *Listener) releaseLocked(c *conn) {
	l.open--
	delete(l.byAddr[c.key], c)
	if len(l.byAddr[c.key]) == 0 {
		delete(l.byAddr, c.key)
	}
}

// addrKey is the client address a per-address cap counts: the IP, or for
// IPv6 its /64, since one host commonly holds a whole /64.
func addrKey(a net.Addr) string {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		ip = net.ParseIP(host)
		if ip == nil {
			return host
		}
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String()
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	l      *Listener
	key    string
	closed atomic.Bool
	idle   atomic.Bool // between requests (see Track)
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c)
	}
	return c.Conn.Close()
}
