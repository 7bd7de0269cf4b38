package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/pki"
)

// TestServerTLS: a replica behind a load balancer serves the balancer's
// name with Coffer's CA (--tls-name) or with the operator's certificate
// (--tls-cert/--tls-key), and keeps serving its own names from its CA.
func TestServerTLS(t *testing.T) {
	operatorCA, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := operatorCA.Issue([]string{"public.example.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kb, _ := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)

	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", InMemory: true,
		TLS: ServerTLS{Names: []string{"coffer-lb.example.test"}, CertFile: certFile, KeyFile: keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	handshake := func(name string, roots *x509.CertPool) error {
		c, err := tls.DialWithDialer(&netDialer, "tcp", s.Addr, &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, tt := range []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"coffer-lb.example.test", s.CA.Pool(), true},    // --tls-name
		{"public.example.test", operatorCA.Pool(), true}, // --tls-cert
		{"public.example.test", s.CA.Pool(), false},
		{"localhost", s.CA.Pool(), true},
		{"other-lb.example.test", s.CA.Pool(), false},
	} {
		if err := handshake(tt.name, tt.roots); (err == nil) != tt.ok {
			t.Errorf("handshake for %s: %v, want ok=%v", tt.name, err, tt.ok)
		}
	}

	for _, bad := range []ServerTLS{
		{Names: []string{"not a name"}},
		{CertFile: certFile},
		{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: keyFile},
	} {
		if s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", InMemory: true, TLS: bad}); err == nil {
			s.Close()
			t.Errorf("Start accepted %+v", bad)
		}
	}
}

var netDialer = net.Dialer{Timeout: 5 * time.Second}
