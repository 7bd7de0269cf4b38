package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer/internal/imds"
)

// The harness runs its helper servers as child processes of its own
// binary, so that each server has a process to itself as Coffer has:
// childEnv names the role and specEnv the JSON file describing it.
const (
	childEnv = "COFFER_LOAD_CHILD"
	specEnv  = "COFFER_LOAD_SPEC"
)

// ceilingSpec describes the bare server: a TLS listener and a plain one
// (for the IMDS ceiling), and the responses to replay by request.
type ceilingSpec struct {
	TLSAddr   string              `json:"tlsAddr"`
	PlainAddr string              `json:"plainAddr"`
	CertFile  string              `json:"certFile"`
	KeyFile   string              `json:"keyFile"`
	Responses map[string]captured `json:"responses"` // by "METHOD url" (url without scheme and host for plain)
}

// imdsSpec describes the IMDS front's process.
type imdsSpec struct {
	Addr       string `json:"addr"`
	ServerURL  string `json:"serverURL"`
	CAFile     string `json:"caFile"`
	Credential string `json:"credential"`
}

// childMain runs a helper server until SIGTERM or until its stdin (a pipe
// from the harness) closes, so it never outlives the harness.
func childMain(mode string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	var err error
	switch mode {
	case "ceiling":
		err = runCeiling(ctx)
	case "imds":
		err = runIMDS(ctx)
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coffer-load child:", err)
		return 1
	}
	return 0
}

func readSpec(v any) error {
	b, err := os.ReadFile(os.Getenv(specEnv))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// replay answers each request with the captured response for it: the
// same status, headers and body, and nothing else done.
type replay map[string]captured

func (rp replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.RequestURI()
	if r.TLS != nil {
		key = r.Method + " https://" + r.Host + r.URL.RequestURI()
	}
	_, _ = io.Copy(io.Discard, r.Body)
	c, ok := rp[key]
	if !ok {
		http.Error(w, "no captured response for "+key, http.StatusNotFound)
		return
	}
	h := w.Header()
	for k, v := range c.Header {
		h[k] = v
	}
	w.WriteHeader(c.Status)
	_, _ = w.Write(c.Body)
}

func runCeiling(ctx context.Context) error {
	var spec ceilingSpec
	if err := readSpec(&spec); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(spec.CertFile, spec.KeyFile)
	if err != nil {
		return err
	}
	h := replay(spec.Responses)
	tlsLn, err := tls.Listen("tcp", spec.TLSAddr, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return err
	}
	plainLn, err := net.Listen("tcp", spec.PlainAddr)
	if err != nil {
		tlsLn.Close()
		return err
	}
	return serveUntil(ctx, h, tlsLn, plainLn)
}

func runIMDS(ctx context.Context) error {
	var spec imdsSpec
	if err := readSpec(&spec); err != nil {
		return err
	}
	pem, err := os.ReadFile(spec.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("no CA certificate in " + spec.CAFile)
	}
	front := &imds.Front{
		Upstream: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}},
		ServerURL: spec.ServerURL, Credential: spec.Credential, Logger: slog.New(slog.DiscardHandler),
		// IMDS allows 20 token requests per second and 5 at a time; lifted
		// here so that the row measures the front, not the limit.
		IdentityRate: 1 << 30, IdentityConcurrency: 1 << 16,
	}
	ln, err := net.Listen("tcp", spec.Addr)
	if err != nil {
		return err
	}
	return serveUntil(ctx, front, ln)
}

func serveUntil(ctx context.Context, h http.Handler, lns ...net.Listener) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
