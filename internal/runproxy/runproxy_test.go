package runproxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/imds"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/runproxy"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/vaults"
)

const (
	proxyUser     = "run-user"
	proxyPassword = "run-password"
	secretName    = "mi-test"
	secretValue   = "My Secret"
)

// scenario is a real Coffer server with a VM that may read secretName in
// the default vault, and a proxy serving that VM's identity.
type scenario struct {
	env    *testenv.Env
	caFile string
	addr   string // the proxy's host:port
	proxy  *runproxy.Proxy
	imds   *recorder
}

// recorder notes the IMDS requests that reach the Front.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.Path+" Metadata="+req.Header.Get("Metadata")+" query="+strconv.FormatBool(req.URL.RawQuery != ""))
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen
	r.seen = nil
	return s
}

func start(t *testing.T) *scenario {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vm1", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, "coffer", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := env.Vaults.OpenVault(ctx, env.Instance.DefaultVault)
	if err != nil {
		t.Fatal(err)
	}
	value := secretValue
	if _, _, err := env.Vaults.SetSecret(ctx, v, secretName, vaults.SetParams{Value: &value}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.UpdateVault(ctx, env.Instance.DefaultVault, func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, model.AccessPolicy{TenantID: env.Instance.TenantID, ObjectID: vm.SystemAssigned,
			Permissions: model.Permissions{Secrets: []string{"get"}}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, env.CA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	front := &imds.Front{
		Upstream:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.CA.Pool()}}, Timeout: 10 * time.Second},
		ServerURL:  "https://127.0.0.1:" + env.Port(),
		Credential: cred,
		Logger:     logger,
	}
	rec := &recorder{next: front}
	p := &runproxy.Proxy{Front: rec, ServerAddr: env.Addr, Profile: env.Profile, User: proxyUser, Password: proxyPassword, Logger: logger}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &scenario{env: env, caFile: caFile, addr: addr, proxy: p, imds: rec}
}

// buildMiclient builds testdata/miclient, an unmodified SDK program.
func buildMiclient(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "miclient")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/miclient")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build miclient: %v", err)
	}
	return out
}

// childEnv is the test's environment with everything that could steer the
// child elsewhere removed, plus what `coffer run` sets.
func childEnv(s *scenario, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch u := strings.ToUpper(k); {
		case strings.HasSuffix(u, "_PROXY"), strings.HasPrefix(u, "AZURE_"), strings.HasPrefix(u, "IDENTITY_"),
			strings.HasPrefix(u, "MSI_"), u == "IMDS_ENDPOINT", u == "SSL_CERT_FILE", u == "SSL_CERT_DIR":
			continue
		}
		env = append(env, kv)
	}
	pu := runproxy.ProxyURL(s.addr, proxyUser, proxyPassword)
	env = append(env, "HTTP_PROXY="+pu, "HTTPS_PROXY="+pu, "http_proxy="+pu, "https_proxy="+pu, "NO_PROXY=", "no_proxy=",
		"SSL_CERT_FILE="+s.caFile)
	return append(env, extra...)
}

// TestUnmodifiedGoProgram: a separate Go program using azidentity's IMDS
// source (no IDENTITY_ENDPOINT) and azsecrets against
// https://default.vault.azure.net/ reads a secret as the VM, with only the
// environment `coffer run` sets. The probe of DefaultAzureCredential is
// answered too. All its traffic goes to the proxy on 127.0.0.1.
func TestUnmodifiedGoProgram(t *testing.T) {
	bin := buildMiclient(t)
	s := start(t)
	const (
		probe = "/metadata/identity/oauth2/token Metadata= query=false"
		token = "/metadata/identity/oauth2/token Metadata=true query=true"
	)
	for _, tt := range []struct {
		credKind string
		imds     []string
	}{
		{"managed", []string{token}},
		{"default", []string{probe, token}},
	} {
		credKind := tt.credKind
		t.Run(credKind, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = childEnv(s, "COFFER_TEST_VAULT_URL=https://"+s.env.Instance.DefaultVault+".vault.azure.net/",
				"COFFER_TEST_SECRET_NAME="+secretName, "COFFER_TEST_CREDENTIAL="+credKind)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("miclient: %v\n%s", err, stderr.String())
			}
			if string(out) != secretValue {
				t.Errorf("miclient printed %q, want %q", out, secretValue)
			}
			if got := s.imds.take(); !slices.Equal(got, tt.imds) {
				t.Errorf("IMDS requests %q, want %q", got, tt.imds)
			}
		})
	}
}

// rawProxy sends one request line (plus headers) to the proxy and reads
// the response, keeping the connection for tunnels.
func rawProxy(t *testing.T, addr, requestLine string, headers ...string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString(requestLine + "\r\n")
	host := strings.Fields(requestLine)[1]
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	} else if strings.HasPrefix(host, "/") {
		host = addr
	}
	b.WriteString("Host: " + host + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: strings.Fields(requestLine)[0]})
	if err != nil {
		t.Fatalf("%s: %v", requestLine, err)
	}
	return resp, c, br
}

func basic(user, password string) string {
	return "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuthentication: without the run's proxy credentials every kind of
// request gets 407 and a Basic challenge; nothing is served.
func TestAuthentication(t *testing.T) {
	s := start(t)
	imdsLine := "GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net HTTP/1.1"
	tests := []struct {
		name, line string
		headers    []string
	}{
		{"IMDS without credentials", imdsLine, []string{"Metadata: true"}},
		{"IMDS with a wrong password", imdsLine, []string{"Metadata: true", basic(proxyUser, "wrong")}},
		{"IMDS with a wrong user", imdsLine, []string{"Metadata: true", basic("someone", proxyPassword)}},
		{"IMDS with Authorization instead", imdsLine, []string{"Metadata: true", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(proxyUser+":"+proxyPassword))}},
		{"IMDS with a Bearer scheme", imdsLine, []string{"Metadata: true", "Proxy-Authorization: Bearer " + proxyPassword}},
		{"CONNECT without credentials", "CONNECT default.vault.azure.net:443 HTTP/1.1", nil},
		{"CONNECT with a wrong password", "CONNECT default.vault.azure.net:443 HTTP/1.1", []string{basic(proxyUser, proxyPassword+"x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, _ := rawProxy(t, s.addr, tt.line, tt.headers...)
			b := body(t, resp)
			if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") != `Basic realm="coffer"` {
				t.Errorf("%s = %d (Proxy-Authenticate %q) %s, want 407", tt.line, resp.StatusCode, resp.Header.Get("Proxy-Authenticate"), b)
			}
			if strings.Contains(b, "access_token") {
				t.Errorf("a token was served without proxy credentials")
			}
		})
	}

	// With the credentials the same IMDS request is answered.
	resp, _, _ := rawProxy(t, s.addr, imdsLine, "Metadata: true", basic(proxyUser, proxyPassword))
	if b := body(t, resp); resp.StatusCode != 200 || !strings.Contains(b, `"access_token"`) {
		t.Errorf("authenticated IMDS request = %d %s", resp.StatusCode, b)
	}
}

// countingListener stands in for the Coffer listener and counts the
// connections the proxy makes to it.
func countingListener(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// TestRefusals: hosts that are not Coffer's get a 403 naming them, and
// nothing is dialed: the only address the proxy could dial is the
// (counting) Coffer listener, and it sees no connection until an allowed
// CONNECT is made.
func TestRefusals(t *testing.T) {
	serverAddr, dials := countingListener(t)
	_, port, _ := net.SplitHostPort(serverAddr)
	front := &imds.Front{ServerURL: "https://" + serverAddr, Credential: "cofferm_unused"}
	p := &runproxy.Proxy{Front: front, ServerAddr: serverAddr, Profile: cloud.AzureCloud, User: proxyUser, Password: proxyPassword,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	auth := basic(proxyUser, proxyPassword)
	tests := []struct {
		name, line string
		status     int
		contains   []string
	}{
		{"CONNECT to example.com", "CONNECT example.com:443 HTTP/1.1", 403,
			[]string{"coffer run: refusing to proxy to example.com:443: Coffer only serves vaults (*.vault.azure.net), login.microsoftonline.com, management.azure.com, graph.microsoft.com, localhost:" + port}},
		{"absolute-form to example.com", "GET http://example.com/ HTTP/1.1", 403, []string{"refusing to proxy to example.com: Coffer only serves"}},
		{"absolute-form to example.com:8080", "GET http://example.com:8080/x HTTP/1.1", 403, []string{"refusing to proxy to example.com:8080"}},
		{"CONNECT to a lookalike", "CONNECT vault.azure.net.example.com:443 HTTP/1.1", 403, []string{"refusing to proxy to vault.azure.net.example.com:443"}},
		{"CONNECT to the bare vault suffix", "CONNECT vault.azure.net:443 HTTP/1.1", 403, []string{"refusing to proxy to vault.azure.net:443"}},
		{"CONNECT to another IP", "CONNECT 10.1.2.3:443 HTTP/1.1", 403, []string{"refusing to proxy to 10.1.2.3:443"}},
		{"CONNECT to another local port", "CONNECT localhost:22 HTTP/1.1", 403, []string{"refusing to proxy to localhost:22"}},
		{"CONNECT to IMDS", "CONNECT 169.254.169.254:80 HTTP/1.1", 403, []string{"instance metadata service is plain HTTP"}},
		{"IMDS on another port", "GET http://169.254.169.254:8080/metadata/instance HTTP/1.1", 403, []string{"refusing to proxy to 169.254.169.254:8080"}},
		{"plain HTTP to a vault", "GET http://default.vault.azure.net/secrets/x HTTP/1.1", 403, []string{"over HTTPS only"}},
		{"origin-form", "GET /metadata/instance HTTP/1.1", 400, []string{"this is an HTTP proxy"}},
		{"CONNECT without a port", "CONNECT example.com HTTP/1.1", 400, []string{"CONNECT needs host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, _ := rawProxy(t, addr, tt.line, auth)
			b := body(t, resp)
			if resp.StatusCode != tt.status {
				t.Errorf("%s = %d %s, want %d", tt.line, resp.StatusCode, b, tt.status)
			}
			for _, c := range tt.contains {
				if !strings.Contains(b, c) {
					t.Errorf("%s: body %q lacks %q", tt.line, b, c)
				}
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	// Control: an allowed CONNECT does dial the listener, and is the only
	// connection it ever saw (earlier dials would have been accepted first).
	resp, _, _ := rawProxy(t, addr, "CONNECT myvault.vault.azure.net:443 HTTP/1.1", auth)
	if resp.StatusCode != 200 {
		t.Fatalf("allowed CONNECT = %d", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for dials.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the Coffer listener saw %d connections, want exactly 1 (the allowed CONNECT)", n)
	}
}

// TestTunnel: CONNECT to Coffer's names reaches the Coffer listener, which
// terminates TLS itself: the client verifies the server's certificate for
// the name it asked for against Coffer's CA.
func TestTunnel(t *testing.T) {
	s := start(t)
	pu, _ := url.Parse(runproxy.ProxyURL(s.addr, proxyUser, proxyPassword))
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: s.env.CA.Pool(), MinVersion: tls.VersionTLS12},
	}}
	for _, u := range []string{
		"https://myvault.vault.azure.net/healthz",
		"https://login.microsoftonline.com/" + s.env.Instance.TenantID + "/v2.0/.well-known/openid-configuration",
		"https://localhost:" + s.env.Port() + "/healthz",
	} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s through the proxy: %v", u, err)
		}
		b := body(t, resp)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d %s", u, resp.StatusCode, b)
		}
		host := resp.Request.URL.Hostname()
		if err := resp.TLS.PeerCertificates[0].VerifyHostname(host); err != nil || resp.TLS.ServerName != host {
			t.Errorf("%s: certificate for %q: %v", u, resp.TLS.ServerName, err)
		}
	}
}

// TestTunnelLifetime: an idle tunnel is closed after IdleTimeout, and Close
// ends open tunnels. The Close case sets an idle timeout of an hour, so
// only Close can end its tunnel within the test's deadline: a Close that
// left tunnels open fails here instead of merely slowing the test down.
func TestTunnelLifetime(t *testing.T) {
	s := start(t)
	s.proxy.Close()
	newProxy := func(idle time.Duration) (*runproxy.Proxy, string) {
		p := &runproxy.Proxy{Front: s.proxy.Front, ServerAddr: s.env.Addr, Profile: s.env.Profile, User: proxyUser, Password: proxyPassword,
			IdleTimeout: idle}
		addr, err := p.Start()
		if err != nil {
			t.Fatal(err)
		}
		return p, addr
	}
	tunnel := func(addr string) *tls.Conn {
		resp, c, br := rawProxy(t, addr, "CONNECT default.vault.azure.net:443 HTTP/1.1", basic(proxyUser, proxyPassword))
		if resp.StatusCode != 200 || br.Buffered() != 0 {
			t.Fatalf("CONNECT = %d", resp.StatusCode)
		}
		tc := tls.Client(c, &tls.Config{ServerName: "default.vault.azure.net", RootCAs: s.env.CA.Pool()})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS through the tunnel: %v", err)
		}
		return tc
	}
	closedWithin := func(tc *tls.Conn, d time.Duration) bool {
		_ = tc.SetReadDeadline(time.Now().Add(d))
		_, err := tc.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}

	t.Run("idle", func(t *testing.T) {
		const idleTimeout = 300 * time.Millisecond
		p, addr := newProxy(idleTimeout)
		defer p.Close()
		start := time.Now()
		idle := tunnel(addr)
		if !closedWithin(idle, 5*time.Second) {
			t.Errorf("an idle tunnel stayed open 5s with an idle timeout of %v", idleTimeout)
		} else if d := time.Since(start); d < idleTimeout {
			t.Errorf("tunnel closed after %v, before the idle timeout", d)
		}
	})

	t.Run("Close", func(t *testing.T) {
		// closeDeadline is generous for a loaded CI machine and still
		// 720 times shorter than the idle timeout.
		const idleTimeout, closeDeadline = time.Hour, 5 * time.Second
		p, addr := newProxy(idleTimeout)
		open := tunnel(addr)
		// The tunnel works and does not end by itself.
		if _, err := io.WriteString(open, "GET /healthz HTTP/1.1\r\nHost: default.vault.azure.net\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = open.SetReadDeadline(time.Now().Add(closeDeadline))
		resp, err := http.ReadResponse(bufio.NewReader(open), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /healthz through the tunnel: %v", err)
		}
		resp.Body.Close()
		if closedWithin(open, 200*time.Millisecond) {
			t.Fatal("the tunnel closed by itself before Close")
		}

		closed := make(chan struct{})
		began := time.Now()
		go func() { p.Close(); close(closed) }()
		if !closedWithin(open, closeDeadline) {
			t.Errorf("Close left a tunnel open for %v (idle timeout %v)", closeDeadline, idleTimeout)
		} else if d := time.Since(began); d > closeDeadline {
			t.Errorf("the tunnel closed %v after Close, want under %v", d, closeDeadline)
		}
		select {
		case <-closed:
		case <-time.After(closeDeadline):
			// Leaks Close's goroutine, which a broken Close would hold
			// for the idle timeout; the test still ends in time.
			t.Errorf("Close did not return within %v", closeDeadline)
		}
	})
}
