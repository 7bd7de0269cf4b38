package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/imds"
	"github.com/coffer-dev/coffer/internal/runproxy"
)

// childWaitDelay is how long a child gets to exit after SIGTERM (sent when
// ctx ends) before it is killed.
const childWaitDelay = 10 * time.Second

// runWithIdentity runs argv as the VM whose machine credential is given:
// it serves that VM's instance metadata service and Coffer's names to the
// child through a private proxy (see internal/runproxy), so unmodified SDKs
// using managed identity get the VM's tokens. It returns the child's exit
// code (128+n if a signal n ended it). err is set only when the child could
// not be run at all.
//
// serverURL is the Coffer server's base URL (for tokens); serverAddr is the
// host:port its listener accepts TLS on (for tunnels). caFile is Coffer's CA
// certificate, trusted for both and handed to the child; "" means the
// system roots.
func runWithIdentity(ctx context.Context, serverURL, serverAddr string, profile cloud.Profile, caFile, credential string,
	argv []string, stdout, stderr io.Writer) (exitCode int, err error) {
	if len(argv) == 0 {
		return 2, errors.New("no command to run")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 127, err
	}
	upstream, err := upstreamClient(caFile, nil)
	if err != nil {
		return 1, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	front := &imds.Front{Upstream: upstream, ServerURL: serverURL, Credential: credential, Logger: logger}
	user, password := randomToken(12), randomToken(24)
	proxy := &runproxy.Proxy{Front: front, ServerAddr: serverAddr, Profile: profile, User: user, Password: password, Logger: logger}
	addr, err := proxy.Start()
	if err != nil {
		return 1, err
	}
	defer proxy.Close()

	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = childEnv(os.Environ(), runproxy.ProxyURL(addr, user, password), caFile)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = childWaitDelay

	// Registered before the child starts, so no signal meant for it is
	// lost and none kills coffer first. A terminal's Ctrl-C reaches the
	// child directly too (same process group); forwarding it again is
	// harmless for programs that treat SIGINT as "stop".
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 126, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			return exitStatus(cmd, err)
		}
	}
}

// exitStatus turns Wait's result into a shell-style exit code. Once the
// child has run, its status is the answer; Wait's other errors (a
// cancelled ctx, output still open after WaitDelay) say nothing more.
func exitStatus(cmd *exec.Cmd, err error) (int, error) {
	st := cmd.ProcessState
	if st == nil {
		return 1, err
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return st.ExitCode(), nil
}

// proxyVars are replaced by the run's proxy, in both spellings that tools
// read. NO_PROXY is emptied so no Coffer name bypasses it.
var proxyVars = []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}

// identityVars would make SDKs pick another managed-identity source than
// IMDS (App Service, Cloud Shell, Azure ML, Arc, pod identity) and so
// bypass the VM's identity; they are removed.
var identityVars = []string{
	"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
	"MSI_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
}

// principalSecretVars configure a service principal or user, which
// DefaultAzureCredential tries before managed identity; `eval $(coffer env)`
// sets some of them to the admin credential. Running "as the VM" must not
// silently run as someone else, so they are removed, and AZURE_CLIENT_ID
// with them (with a secret it names that principal; without one it selects
// a user-assigned identity of the VM, and is kept).
var principalSecretVars = []string{
	"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
	"AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
}

// childEnv is env with the run's proxy and CA in place and every variable
// that would route around the VM's identity removed.
func childEnv(env []string, proxyURL, caFile string) []string {
	drop := map[string]bool{"NO_PROXY": true, "no_proxy": true}
	for _, k := range caVars {
		drop[k] = caFile != ""
	}
	for _, k := range proxyVars {
		drop[k] = true
	}
	for _, k := range identityVars {
		drop[k] = true
	}
	hadSecret := false
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		for _, s := range principalSecretVars {
			if k == s {
				hadSecret, drop[k] = true, true
			}
		}
	}
	if hadSecret {
		drop["AZURE_CLIENT_ID"] = true
	}
	out := make([]string, 0, len(env)+10)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	for _, k := range proxyVars {
		out = append(out, k+"="+proxyURL)
	}
	out = append(out, "NO_PROXY=", "no_proxy=")
	if caFile != "" {
		for _, k := range caVars {
			out = append(out, k+"="+caFile)
		}
	}
	return out
}

// caVars point each common client at Coffer's CA: Go and OpenSSL
// (SSL_CERT_FILE), Node.js, curl, and Python's requests.
var caVars = []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"}

// upstreamClient is an HTTP client for the Coffer server that trusts caFile
// ("" means the system roots, which honour SSL_CERT_FILE). proxy is the
// Transport's Proxy func (nil: connect directly).
func upstreamClient(caFile string, proxy func(*http.Request) (*url.URL, error)) (*http.Client, error) {
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tcfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               proxy,
		TLSClientConfig:     tcfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	// Never follow redirects: the machine credential header would be sent
	// on to wherever a 3xx points (Go strips only Authorization and Cookie).
	return &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// randomToken is n random bytes, base64url: URL-safe in HTTP_PROXY's userinfo.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
