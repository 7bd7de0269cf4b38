package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair issues a certificate for names from ca and writes it and its
// key as PEM files, returning their paths.
func writePair(t *testing.T, dir string, ca *CA, names ...string) (string, string) {
	t.Helper()
	c, err := ca.Issue(names, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestFileCert: the operator's certificate is served for the names it
// covers and Coffer's issuer for the rest; a renewed pair on disk is
// picked up without a restart; unusable files are refused at load.
func TestFileCert(t *testing.T) {
	operatorCA, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	coffer, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, operatorCA, "lb.example.test")
	fc, err := LoadFileCert(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fc.CheckEvery = time.Nanosecond
	get := fc.GetCertificate(NewIssuer(coffer, func(string) bool { return true }, nil).GetCertificate)
	issuerOf := func(name string) string {
		t.Helper()
		c, err := get(&tls.ClientHelloInfo{ServerName: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		leaf := c.Leaf
		if leaf == nil {
			leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		switch string(leaf.AuthorityKeyId) {
		case string(operatorCA.Certificate().SubjectKeyId):
			return "operator"
		case string(coffer.Certificate().SubjectKeyId):
			return "coffer"
		}
		return "unknown"
	}
	for _, tt := range []struct{ name, want string }{
		{"lb.example.test", "operator"},
		{"LB.Example.Test.", "operator"},
		{"localhost", "coffer"},
		{"myvault.vault.localhost", "coffer"},
		{"", "coffer"},
	} {
		if got := issuerOf(tt.name); got != tt.want {
			t.Errorf("%q: served by %s, want %s", tt.name, got, tt.want)
		}
	}

	// Renewal: a new pair for another name replaces the old one.
	writePair(t, dir, operatorCA, "lb2.example.test")
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(certFile, later, later)
	_ = os.Chtimes(keyFile, later, later)
	if got := issuerOf("lb2.example.test"); got != "operator" {
		t.Errorf("after renewal, lb2.example.test served by %s", got)
	}
	if got := issuerOf("lb.example.test"); got != "coffer" {
		t.Errorf("after renewal, the old name is still served the operator's certificate")
	}
	// A half-written renewal keeps the last good pair.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(keyFile, later.Add(time.Minute), later.Add(time.Minute))
	if got := issuerOf("lb2.example.test"); got != "operator" {
		t.Errorf("a broken key file replaced the served certificate")
	}

	if _, err := LoadFileCert(certFile, keyFile); err == nil {
		t.Error("LoadFileCert accepted a broken key")
	}
	if _, err := LoadFileCert(filepath.Join(dir, "missing"), keyFile); err == nil {
		t.Error("LoadFileCert accepted a missing certificate")
	}
}

func TestValidateNames(t *testing.T) {
	for _, tt := range []struct {
		names []string
		ok    bool
	}{
		{nil, true},
		{[]string{"lb.example.com", "*.vault.example.com", "10.0.0.5"}, true},
		{[]string{"bad name"}, false},
		{[]string{"lb.example.com", "-x-.example..com"}, false},
	} {
		if err := ValidateNames(tt.names); (err == nil) != tt.ok {
			t.Errorf("ValidateNames(%q) = %v", tt.names, err)
		}
	}
}
