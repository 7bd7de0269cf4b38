// Package runproxy is the per-process HTTP proxy behind `coffer run
// --identity`. The child process gets HTTP_PROXY/HTTPS_PROXY pointing here,
// so unmodified SDKs reach
//
//   - the instance metadata service at http://169.254.169.254 (absolute-form
//     requests, answered in-process by the VM's imds.Front), and
//   - Coffer's own HTTPS names (vaults, login, management, localhost)
//     through CONNECT tunnels spliced to the Coffer listener, which
//     terminates TLS itself with certificates chosen by SNI; the proxy never
//     sees plaintext.
//
// Nothing else is proxied: every other host gets a 403 naming it, and the
// proxy never dials anything but the Coffer listener, so it is not an open
// relay. Every request needs the per-run Basic proxy credentials, because
// the listener is on 127.0.0.1 and other local users must not be able to
// borrow the VM's identity through it.
package runproxy

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/netlimit"
)

// IMDSHost is the instance metadata service's address.
const IMDSHost = "169.254.169.254"

// DefaultIdleTimeout closes tunnels that carried no bytes either way for
// this long; SDK connection pools reconnect transparently.
const DefaultIdleTimeout = 5 * time.Minute

// Limits bound the proxy's listener. Only the one child process tree
// uses it, from 127.0.0.1, so the per-address cap is the total. CONNECT
// tunnels leave the HTTP deadlines behind once hijacked and are bounded by
// IdleTimeout instead; a tunnel counts against the caps while it is open.
var Limits = netlimit.Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      90 * time.Second,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	MaxConns:          512,
	MaxConnsPerAddr:   512,
}

// dialTimeout bounds connecting to the Coffer listener.
const dialTimeout = 10 * time.Second

// Proxy is the forward proxy. Set the fields, then Start; Close stops it
// and every tunnel.
type Proxy struct {
	// Front answers instance metadata requests (an *imds.Front).
	Front http.Handler
	// ServerAddr is the host:port of the Coffer listener; the only address
	// the proxy ever dials.
	ServerAddr string
	// Profile decides which names are Coffer's.
	Profile cloud.Profile
	// User and Password are the proxy credentials clients must present.
	User, Password string
	// Logger receives refusals and tunnel errors; nil discards.
	Logger *slog.Logger
	// IdleTimeout overrides DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Limits override Limits field by field (tests shorten them).
	Limits netlimit.Limits

	mu     sync.Mutex
	srv    *http.Server
	conns  map[net.Conn]struct{} // hijacked client and server ends
	closed bool
	wg     sync.WaitGroup
}

// Start listens on 127.0.0.1 (an ephemeral port) and serves in the
// background. It returns the listener's host:port.
func (p *Proxy) Start() (string, error) {
	if p.Front == nil || p.ServerAddr == "" || p.User == "" || p.Password == "" {
		return "", errors.New("runproxy: Front, ServerAddr, User and Password are required")
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.IdleTimeout <= 0 {
		p.IdleTimeout = DefaultIdleTimeout
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.conns = map[net.Conn]struct{}{}
	limits := p.Limits.WithDefaults(Limits)
	p.srv = limits.Server(http.HandlerFunc(p.serve))
	p.srv.ErrorLog = slog.NewLogLogger(p.Logger.Handler(), slog.LevelDebug)
	srv := p.srv
	conns := limits.Listen(ln)
	conns.Track(p.srv)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := srv.Serve(conns); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.Logger.Error("coffer run: proxy stopped", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Close stops listening, closes every connection and tunnel and waits for
// them to finish.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	srv := p.srv
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="coffer"`)
		plain(w, http.StatusProxyAuthRequired, "coffer run: proxy authentication required (use the HTTP_PROXY URL coffer run set, with its user and password)")
		return
	}
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	if r.URL.Host == "" {
		plain(w, http.StatusBadRequest, "coffer run: this is an HTTP proxy; send absolute-form requests (http://host/path)")
		return
	}
	host, port := r.URL.Hostname(), r.URL.Port()
	if r.URL.Scheme == "http" && host == IMDSHost && (port == "" || port == "80") {
		r.Header.Del("Proxy-Authorization")
		r.Header.Del("Proxy-Connection")
		p.Front.ServeHTTP(w, r)
		return
	}
	if r.URL.Scheme == "http" && p.servesTarget(host, cmp.Or(port, "80")) {
		p.refuse(w, r.URL.Host, "Coffer serves "+host+" over HTTPS only; use https://")
		return
	}
	p.refuse(w, r.URL.Host, p.servedNames())
}

// authorized checks Proxy-Authorization: Basic against User/Password in
// constant time (both compared, so timing reveals neither).
func (p *Proxy) authorized(r *http.Request) bool {
	scheme, enc, ok := strings.Cut(r.Header.Get("Proxy-Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(p.User))
	pw := subtle.ConstantTimeCompare([]byte(pass), []byte(p.Password))
	return u&pw == 1
}

// servesTarget reports whether host:port names the Coffer listener. Cloud
// names (vaults, login, management, graph) are Coffer's on any port.
// localhost and IP literals are Coffer's only on its own port: anything
// else there is some other local service the child should not be sent to
// Coffer in its place.
func (p *Proxy) servesTarget(host, port string) bool {
	if c, _ := p.Profile.Classify(host); c != cloud.HostBare {
		return true
	}
	if !p.Profile.ServesName(host) {
		return false
	}
	_, sport, err := net.SplitHostPort(p.ServerAddr)
	return err == nil && port == sport
}

// servedNames explains, for a refusal, which names are proxied.
func (p *Proxy) servedNames() string {
	names := []string{"vaults (*." + p.Profile.VaultSuffix + ")"}
	for _, h := range []string{p.Profile.LoginHost, p.Profile.ManagementHost, p.Profile.GraphHost} {
		if h != "" {
			names = append(names, h)
		}
	}
	if _, port, err := net.SplitHostPort(p.ServerAddr); err == nil {
		names = append(names, "localhost:"+port)
	}
	names = append(names, "the instance metadata service (http://"+IMDSHost+")")
	return "Coffer only serves " + strings.Join(names, ", ")
}

func (p *Proxy) refuse(w http.ResponseWriter, target, why string) {
	p.Logger.Warn("coffer run: refused to proxy", "target", target)
	plain(w, http.StatusForbidden, "coffer run: refusing to proxy to "+target+": "+why)
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// connect tunnels CONNECT host:port to the Coffer listener when host is
// one of Coffer's names. The bytes are spliced, not inspected: the client's
// TLS session ends at the Coffer server, verified against Coffer's CA.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		plain(w, http.StatusBadRequest, "coffer run: CONNECT needs host:port")
		return
	}
	if host == IMDSHost {
		p.refuse(w, r.Host, "the instance metadata service is plain HTTP; send http:// requests through the proxy instead of CONNECT")
		return
	}
	if !p.servesTarget(host, port) {
		p.refuse(w, r.Host, p.servedNames())
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		plain(w, http.StatusInternalServerError, "coffer run: cannot tunnel on this connection")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.ServerAddr)
	cancel()
	if err != nil {
		p.Logger.Warn("coffer run: cannot reach the coffer server", "server", p.ServerAddr, "err", err)
		plain(w, http.StatusBadGateway, "coffer run: cannot reach the Coffer server at "+p.ServerAddr)
		return
	}
	client, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.track(client, up) {
		client.Close()
		up.Close()
		return
	}
	go func() {
		defer p.wg.Done()
		defer p.untrack(client, up)
		_ = client.SetWriteDeadline(time.Now().Add(dialTimeout))
		if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			return
		}
		// A client may send its TLS ClientHello right behind the CONNECT
		// without waiting for the 200; the server's reader may hold it.
		if n := brw.Reader.Buffered(); n > 0 {
			b, _ := brw.Reader.Peek(n)
			if _, err := up.Write(b); err != nil {
				return
			}
		}
		p.splice(client, up)
	}()
}

// track registers a tunnel's two ends so Close can end it, and counts the
// tunnel's goroutine in wg (under the lock, so Close never waits on a
// WaitGroup that is still growing); false if the proxy is already closed.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	p.wg.Add(1)
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	for _, c := range conns {
		delete(p.conns, c)
		c.Close()
	}
	p.mu.Unlock()
}

// splice copies both ways until both directions end, an error occurs, or
// neither direction has carried a byte for IdleTimeout.
func (p *Proxy) splice(client, up net.Conn) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan error, 2)
	go func() { done <- p.pipe(up, client, &last) }()
	go func() { done <- p.pipe(client, up, &last) }()
	for range 2 {
		if err := <-done; err != nil {
			// An error (not EOF) in one direction ends both: closing
			// unblocks the other pipe.
			client.Close()
			up.Close()
		}
	}
}

// pipe copies src to dst. A read deadline that passes while the other
// direction was busy is not idleness, so it is extended. On EOF it
// half-closes dst so the peer sees the end of the stream, and returns nil.
func (p *Proxy) pipe(dst, src net.Conn, last *atomic.Int64) error {
	buf := make([]byte, 32<<10)
	for {
		_ = src.SetReadDeadline(time.Now().Add(p.IdleTimeout))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			_ = dst.SetWriteDeadline(time.Now().Add(p.IdleTimeout))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
				return nil
			}
			return err
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < p.IdleTimeout:
		default:
			return err
		}
	}
}

// ProxyURL is the URL clients put in HTTP_PROXY/HTTPS_PROXY for a proxy
// listening on addr.
func ProxyURL(addr, user, password string) string {
	return (&url.URL{Scheme: "http", User: url.UserPassword(user, password), Host: addr}).String()
}
