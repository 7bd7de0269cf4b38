package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testreq"
)

const body = "hello from coffer"

// allowTest admits the names a cloud profile and the local vault names use.
func allowTest(host string) bool {
	for _, suffix := range []string{".vault.azure.net", ".vault.localhost"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return host == "login.microsoftonline.com" || host == "management.azure.com" || host == "coffer.test"
}

// serve runs an HTTPS server with ca.TLSConfig(is) on a real listener on
// 127.0.0.1 and returns its address.
func serve(t *testing.T, ca *CA, is *Issuer) string {
	t.Helper()
	return serveOn(t, "127.0.0.1:0", ca, is)
}

func serveOn(t *testing.T, addr string, ca *CA, is *Issuer) string {
	t.Helper()
	ln, err := tls.Listen("tcp", addr, ca.TLSConfig(is))
	if err != nil {
		t.Fatalf("tls.Listen(%s) = %v", addr, err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		// Handshakes the tests make fail on purpose are logged by the
		// server, possibly after the test ends, so they go nowhere.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// handshake connects to addr, verifying with pool and serverName ("" means
// the host of addr, without SNI for an IP), and returns the server's leaf.
func handshake(t *testing.T, addr, serverName string, pool *x509.CertPool) (*x509.Certificate, error) {
	t.Helper()
	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: serverName}}
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// served returns the certificate the server presents for serverName,
// without verifying it.
func served(t *testing.T, addr, serverName string) *x509.Certificate {
	t.Helper()
	d := &tls.Dialer{Config: &tls.Config{ServerName: serverName, InsecureSkipVerify: true}}
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("handshake(%q) without verification = %v", serverName, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}

func TestIssuerHandshake(t *testing.T) {
	ca := newTestCA(t)
	is := NewIssuer(ca, allowTest, []string{"localhost", "127.0.0.1", "::1"})
	addr := serve(t, ca, is)
	def := []string{"localhost"}

	tests := []struct {
		name       string
		serverName string
		wantDNS    []string
	}{
		{"localhost uses the default", "localhost", def},
		{"vault", "myvault.vault.azure.net", []string{"*.vault.azure.net", "myvault.vault.azure.net"}},
		{"second vault shares the wildcard", "other.vault.azure.net", []string{"*.vault.azure.net", "myvault.vault.azure.net"}},
		{"login", "login.microsoftonline.com", []string{"*.microsoftonline.com", "login.microsoftonline.com"}},
		{"management", "management.azure.com", []string{"*.azure.com", "management.azure.com"}},
		{"local vault", "myvault.vault.localhost", []string{"*.vault.localhost", "myvault.vault.localhost"}},
		{"two labels are exact", "coffer.test", []string{"coffer.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := handshake(t, addr, tt.serverName, ca.Pool())
			if err != nil {
				t.Fatalf("handshake(%q) = %v", tt.serverName, err)
			}
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("handshake(%q) DNSNames = %q, want %q", tt.serverName, leaf.DNSNames, tt.wantDNS)
			}
		})
	}

	mine, err := handshake(t, addr, "myvault.vault.azure.net", ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	other, err := handshake(t, addr, "other.vault.azure.net", ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	if mine.SerialNumber.Cmp(other.SerialNumber) != 0 {
		t.Errorf("vault certificates differ: serial %v vs %v, want one shared wildcard", mine.SerialNumber, other.SerialNumber)
	}
	// default, *.vault.azure.net, *.microsoftonline.com, *.azure.com,
	// *.vault.localhost, coffer.test.
	if got := is.issued.Load(); got != 6 {
		t.Errorf("issued %d certificates, want 6", got)
	}
}

func TestIssuerNoSNI(t *testing.T) {
	ca := newTestCA(t)
	is := NewIssuer(ca, allowTest, []string{"localhost", "127.0.0.1", "::1"})

	tests := []struct {
		name   string
		listen string
	}{
		{"ipv4", "127.0.0.1:0"},
		{"ipv6", "[::1]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ipv6" {
				ln, err := net.Listen("tcp", tt.listen)
				if err != nil {
					// Platform, not setup: containers often have no ::1.
					// Not routed through testreq on purpose.
					t.Skipf("no IPv6 loopback on this machine (a platform limit, not a missing tool): %v", err)
				}
				ln.Close()
			}
			addr := serveOn(t, tt.listen, ca, is)
			// No ServerName: the client verifies the IP of addr and,
			// as for any IP, sends no SNI.
			leaf, err := handshake(t, addr, "", ca.Pool())
			if err != nil {
				t.Fatalf("handshake(%s) = %v", addr, err)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if want := []string{"127.0.0.1", "::1"}; !slices.Equal(ips, want) {
				t.Errorf("handshake(%s) IPAddresses = %q, want %q", addr, ips, want)
			}
		})
	}
	if got := is.issued.Load(); got != 1 {
		t.Errorf("issued %d certificates, want 1 (the cached default)", got)
	}
}

func TestIssuerDisallowed(t *testing.T) {
	ca := newTestCA(t)
	var mu sync.Mutex
	var asked []string
	allow := func(host string) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, host)
		return allowTest(host)
	}
	is := NewIssuer(ca, allow, nil)
	addr := serve(t, ca, is)

	for _, name := range []string{"evil.example.com", "vault.azure.net", "evil.vault.azure.org"} {
		t.Run(name, func(t *testing.T) {
			_, err := handshake(t, addr, name, ca.Pool())
			var he x509.HostnameError
			if !errors.As(err, &he) {
				t.Fatalf("handshake(%q) = %v, want x509.HostnameError", name, err)
			}
			got := served(t, addr, name)
			def := served(t, addr, "")
			if got.SerialNumber.Cmp(def.SerialNumber) != 0 {
				t.Errorf("handshake(%q) served %q, want the default certificate %q", name, got.DNSNames, def.DNSNames)
			}
		})
	}
	if got := is.issued.Load(); got != 1 {
		t.Errorf("issued %d certificates, want 1 (the default)", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(asked, "evil.example.com") {
		t.Errorf("allow was asked %q, want evil.example.com among them", asked)
	}
}

func TestIssuerConcurrent(t *testing.T) {
	ca := newTestCA(t)
	is := NewIssuer(ca, allowTest, nil)
	addr := serve(t, ca, is)
	// Issue the default certificate first, so that only the new name counts.
	if _, err := handshake(t, addr, "localhost", ca.Pool()); err != nil {
		t.Fatal(err)
	}
	before := is.issued.Load()

	const n = 50
	const name = "concurrent.vault.azure.net"
	serials := make([]string, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			leaf, err := handshake(t, addr, name, ca.Pool())
			if err != nil {
				t.Errorf("handshake(%q) = %v", name, err)
				return
			}
			serials[k] = leaf.SerialNumber.String()
		})
	}
	wg.Wait()
	if got := is.issued.Load() - before; got != 1 {
		t.Errorf("%d concurrent handshakes issued %d certificates, want 1", n, got)
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(serials))); len(distinct) != 1 {
		t.Errorf("concurrent handshakes saw serials %q, want one", distinct)
	}
}

func TestIssuerRenew(t *testing.T) {
	ca := newTestCA(t)
	is := NewIssuer(ca, allowTest, nil)
	now := time.Now()
	is.now = func() time.Time { return now }

	get := func(serverName string) *x509.Certificate {
		t.Helper()
		tc, err := is.GetCertificate(&tls.ClientHelloInfo{ServerName: serverName})
		if err != nil {
			t.Fatalf("GetCertificate(%q) = %v", serverName, err)
		}
		return tc.Leaf
	}
	first := get("myvault.vault.azure.net")
	firstDefault := get("")

	now = now.Add(leafValidity - renewBefore - time.Hour)
	if got := get("myvault.vault.azure.net"); got.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("GetCertificate %v before the renewal window issued a new certificate", renewBefore+time.Hour)
	}

	now = now.Add(2 * time.Hour)
	renewed := get("other.vault.azure.net")
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("GetCertificate inside the renewal window returned the old certificate")
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed NotAfter = %v, want after %v", renewed.NotAfter, first.NotAfter)
	}
	if got := get("myvault.vault.azure.net"); got.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
		t.Errorf("GetCertificate after renewal = serial %v, want the renewed %v", got.SerialNumber, renewed.SerialNumber)
	}
	if got := get(""); got.SerialNumber.Cmp(firstDefault.SerialNumber) == 0 {
		t.Errorf("default certificate was not renewed")
	}
	if _, err := renewed.Verify(x509.VerifyOptions{DNSName: "myvault.vault.azure.net", Roots: ca.Pool(), CurrentTime: now}); err != nil {
		t.Errorf("renewed.Verify() = %v", err)
	}
}

func TestIssuerCanonicalSNI(t *testing.T) {
	ca := newTestCA(t)
	var got string
	is := NewIssuer(ca, func(host string) bool { got = host; return true }, nil)
	tc, err := is.GetCertificate(&tls.ClientHelloInfo{ServerName: "MyVault.Vault.Azure.NET."})
	if err != nil {
		t.Fatalf("GetCertificate() = %v", err)
	}
	if got != "myvault.vault.azure.net" {
		t.Errorf("allow(%q), want allow(%q)", got, "myvault.vault.azure.net")
	}
	if want := []string{"*.vault.azure.net", "myvault.vault.azure.net"}; !slices.Equal(tc.Leaf.DNSNames, want) {
		t.Errorf("GetCertificate() DNSNames = %q, want %q", tc.Leaf.DNSNames, want)
	}

	// An invalid name never reaches allow and gets the default.
	got = ""
	tc, err = is.GetCertificate(&tls.ClientHelloInfo{ServerName: "bad name.example"})
	if err != nil || got != "" || !slices.Equal(tc.Leaf.DNSNames, []string{"localhost"}) {
		t.Errorf("GetCertificate(bad name) = %q, %v; allow(%q), want the default certificate and no allow call", tc.Leaf.DNSNames, err, got)
	}
}

func TestIssuerBounded(t *testing.T) {
	ca := newTestCA(t)
	is := NewIssuer(ca, func(string) bool { return true }, nil)
	is.maxEntries = 4
	def, err := is.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 20 {
		name := fmt.Sprintf("host%d.test", k)
		tc, err := is.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err != nil || tc.Leaf.VerifyHostname(name) != nil {
			t.Fatalf("GetCertificate(%q) = %v, want a certificate for it", name, err)
		}
	}
	is.mu.Lock()
	n := len(is.entries)
	_, hasDefault := is.entries[defaultKey]
	is.mu.Unlock()
	if n > is.maxEntries || !hasDefault {
		t.Errorf("cache holds %d entries (default kept: %v), want at most %d with the default", n, hasDefault, is.maxEntries)
	}
	again, err := is.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || again != def {
		t.Errorf("default certificate was evicted or re-issued")
	}
}

func TestIssuerWaitHonoursContext(t *testing.T) {
	ca := newTestCA(t)
	is := NewIssuer(ca, allowTest, nil)
	// An entry stuck in issuance: waiters must give up with their context.
	is.entries["*.vault.azure.net"] = &entry{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := is.get(ctx, "*.vault.azure.net", []string{"*.vault.azure.net"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get() on a stuck entry = %v, want context.DeadlineExceeded", err)
	}
}

// TestHTTPClient drives the server with net/http over HTTP/2, trusting only
// the CA, the way the Azure SDKs do with SSL_CERT_FILE.
func TestHTTPClient(t *testing.T) {
	ca := newTestCA(t)
	addr := serve(t, ca, NewIssuer(ca, allowTest, nil))
	_, port, _ := net.SplitHostPort(addr)
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
			ForceAttemptHTTP2: true,
			// Pin every name to the test server, as a hosts file does.
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		},
		Timeout: 10 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)

	for _, host := range []string{"localhost", "127.0.0.1", "myvault.vault.azure.net", "login.microsoftonline.com"} {
		t.Run(host, func(t *testing.T) {
			url := "https://" + net.JoinHostPort(host, port) + "/"
			resp, err := client.Get(url)
			if err != nil {
				t.Fatalf("GET %s = %v", url, err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || string(b) != body {
				t.Errorf("GET %s = %d %q, %v, want 200 %q", url, resp.StatusCode, b, err, body)
			}
			if resp.Proto != "HTTP/2.0" {
				t.Errorf("GET %s Proto = %s, want HTTP/2.0", url, resp.Proto)
			}
		})
	}
}

// TestExternalClients proves that clients other than Go's trust the CA:
// curl with --cacert, and Node.js with NODE_EXTRA_CA_CERTS.
func TestExternalClients(t *testing.T) {
	ca := newTestCA(t)
	addr := serve(t, ca, NewIssuer(ca, allowTest, nil))
	_, port, _ := net.SplitHostPort(addr)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		host   string
		wantOK bool
	}{
		{"vault", "myvault.vault.azure.net", true},
		{"login", "login.microsoftonline.com", true},
		{"ip", "127.0.0.1", true},
		{"disallowed", "evil.example.com", false},
	}
	t.Run("curl", func(t *testing.T) {
		curl := testreq.Need(t, "curl")[0]
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				url := "https://" + net.JoinHostPort(tt.host, port) + "/"
				cmd := exec.CommandContext(t.Context(), curl, "--silent", "--show-error", "--max-time", "10",
					"--noproxy", "*", "--cacert", caFile,
					"--resolve", tt.host+":"+port+":127.0.0.1", url)
				out, err := cmd.CombinedOutput()
				if tt.wantOK && (err != nil || string(out) != body) {
					t.Errorf("curl %s = %q, %v, want %q", url, out, err, body)
				}
				// Exit status 60 is curl's "peer certificate cannot be
				// authenticated", not some other failure.
				if !tt.wantOK && cmd.ProcessState.ExitCode() != 60 {
					t.Errorf("curl %s = %q, %v, want a certificate error (exit status 60)", url, out, err)
				}
			})
		}
	})
	t.Run("node", func(t *testing.T) {
		node := testreq.Need(t, "node")[0]
		// Connect to 127.0.0.1, verifying the certificate against host
		// (servername), which is also what Node sends in SNI.
		const script = `
const https = require('https');
const [host, port] = process.argv.slice(1);
const opts = {host: '127.0.0.1', port: +port, path: '/', headers: {Host: host}, timeout: 10000};
if (!/^[0-9.]+$/.test(host)) opts.servername = host;
https.get(opts, res => {
  let b = '';
  res.on('data', d => b += d);
  res.on('end', () => process.stdout.write(b));
}).on('error', e => { process.stderr.write(e.code + ': ' + e.message); process.exit(1); });
`
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cmd := exec.CommandContext(t.Context(), node, "-e", script, tt.host, port)
				cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caFile)
				out, err := cmd.CombinedOutput()
				if tt.wantOK && (err != nil || string(out) != body) {
					t.Errorf("node https.get(%s) = %q, %v, want %q", tt.host, out, err, body)
				}
				if !tt.wantOK && (err == nil || !strings.Contains(string(out), "ERR_TLS_CERT_ALTNAME_INVALID")) {
					t.Errorf("node https.get(%s) = %q, %v, want ERR_TLS_CERT_ALTNAME_INVALID", tt.host, out, err)
				}
			})
		}
	})
}
