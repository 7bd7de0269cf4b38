package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
)

func newTestCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA()
	if err != nil {
		t.Fatalf("NewCA() = %v", err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	before := time.Now()
	ca := newTestCA(t)
	c := ca.Certificate()

	if !strings.HasPrefix(c.Subject.CommonName, "Coffer Local CA ") || len(c.Subject.CommonName) <= len("Coffer Local CA ") {
		t.Errorf("CommonName = %q, want \"Coffer Local CA <id>\"", c.Subject.CommonName)
	}
	if !c.BasicConstraintsValid || !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("BasicConstraints = (valid %v, CA %v, MaxPathLen %d, zero %v), want (true, true, 0, true)",
			c.BasicConstraintsValid, c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if years := c.NotAfter.Sub(before).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("validity = %.2f years, want 10", years)
	}
	if !c.NotBefore.Before(before) {
		t.Errorf("NotBefore = %v, want before %v", c.NotBefore, before)
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId = %x, want 20 bytes", c.SubjectKeyId)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 || c.SerialNumber.BitLen() < 64 {
		t.Errorf("SerialNumber = %v (%d bits), want random positive 128-bit", c.SerialNumber, c.SerialNumber.BitLen())
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("PublicKey = %T, want ECDSA P-256", c.PublicKey)
	}
	// Self-signed and valid as a root.
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Errorf("root.Verify(own pool) = %v", err)
	}

	other := newTestCA(t)
	if other.Certificate().Subject.CommonName == c.Subject.CommonName {
		t.Errorf("two CAs share CommonName %q", c.Subject.CommonName)
	}
	if other.Certificate().SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("two CAs share serial %v", c.SerialNumber)
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatalf("MarshalPEM() = %v", err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("MarshalPEM() key PEM is not a PKCS#8 \"PRIVATE KEY\" block")
	}
	if !bytes.Equal(certPEM, ca.CertPEM()) {
		t.Errorf("MarshalPEM() cert differs from CertPEM()")
	}

	got, err := ParseCA(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("ParseCA(MarshalPEM()) = %v", err)
	}
	if !got.Certificate().Equal(ca.Certificate()) {
		t.Errorf("ParseCA(MarshalPEM()) certificate differs from the original")
	}

	// A leaf from the reloaded CA verifies against the original root.
	leaf, err := got.Issue([]string{"myvault.vault.azure.net"}, time.Hour)
	if err != nil {
		t.Fatalf("Issue() after ParseCA = %v", err)
	}
	opts := x509.VerifyOptions{DNSName: "myvault.vault.azure.net", Roots: ca.Pool()}
	if _, err := leaf.Leaf.Verify(opts); err != nil {
		t.Errorf("reloaded CA leaf.Verify(original pool) = %v", err)
	}

	// A SEC 1 key is accepted too.
	ec, err := x509.MarshalECPrivateKey(ca.key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ec})
	if _, err := ParseCA(certPEM, ecPEM); err != nil {
		t.Errorf("ParseCA(cert, EC PRIVATE KEY) = %v", err)
	}
}

func TestParseCAErrors(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	_, otherKeyPEM, err := newTestCA(t).MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue([]string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})

	tests := []struct {
		name    string
		cert    []byte
		key     []byte
		wantMsg string
	}{
		{"empty cert", nil, keyPEM, "no CERTIFICATE"},
		{"key as cert", keyPEM, keyPEM, "no CERTIFICATE"},
		{"garbage cert", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), keyPEM, "bad CA certificate"},
		{"leaf as CA", leafPEM, keyPEM, "not a signing CA"},
		{"empty key", certPEM, nil, "no private key"},
		{"wrong key type", certPEM, certPEM, "unsupported key PEM type"},
		{"garbage key", certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), "bad CA private key"},
		{"other CA's key", certPEM, otherKeyPEM, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCA(tt.cert, tt.key)
			if !errors.Is(err, errs.E(errs.Invalid)) {
				t.Fatalf("ParseCA() = %v, want Invalid error", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ParseCA() = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name    string
		names   []string
		wantDNS []string
		wantIP  []string
		wantCN  string
	}{
		{"host", []string{"localhost"}, []string{"localhost"}, nil, "localhost"},
		{"wildcard", []string{"*.vault.azure.net", "a.vault.azure.net"}, []string{"*.vault.azure.net", "a.vault.azure.net"}, nil, "*.vault.azure.net"},
		{"canonical", []string{"Login.MicrosoftOnline.COM.", "login.microsoftonline.com"}, []string{"login.microsoftonline.com"}, nil, "login.microsoftonline.com"},
		{"ips", []string{"127.0.0.1", "::1", "[::1]"}, nil, []string{"127.0.0.1", "::1"}, "127.0.0.1"},
		{"mixed", []string{"localhost", "127.0.0.1", "myvault.vault.localhost"}, []string{"localhost", "myvault.vault.localhost"}, []string{"127.0.0.1"}, "localhost"},
		{"long name", []string{strings.Repeat("a", 63) + ".example.com"}, []string{strings.Repeat("a", 63) + ".example.com"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			tc, err := ca.Issue(tt.names, 24*time.Hour)
			if err != nil {
				t.Fatalf("Issue(%q) = %v", tt.names, err)
			}
			leaf := tc.Leaf
			if leaf == nil || len(tc.Certificate) != 1 || !bytes.Equal(tc.Certificate[0], leaf.Raw) {
				t.Fatalf("Issue(%q): chain must be exactly the leaf, with Leaf set", tt.names)
			}
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("Issue(%q) DNSNames = %q, want %q", tt.names, leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIP) {
				t.Errorf("Issue(%q) IPAddresses = %q, want %q", tt.names, ips, tt.wantIP)
			}
			if leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("Issue(%q) CommonName = %q, want %q", tt.names, leaf.Subject.CommonName, tt.wantCN)
			}
			if leaf.IsCA {
				t.Errorf("Issue(%q) IsCA = true", tt.names)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("Issue(%q) KeyUsage = %v, want DigitalSignature", tt.names, leaf.KeyUsage)
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("Issue(%q) ExtKeyUsage = %v, want [ServerAuth]", tt.names, leaf.ExtKeyUsage)
			}
			if !bytes.Equal(leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
				t.Errorf("Issue(%q) AuthorityKeyId = %x, want CA SubjectKeyId %x", tt.names, leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId)
			}
			if skew := before.Sub(leaf.NotBefore); skew < 59*time.Minute || skew > 61*time.Minute {
				t.Errorf("Issue(%q) NotBefore = now-%v, want now-1h", tt.names, skew)
			}
			if d := leaf.NotAfter.Sub(before); d < 23*time.Hour || d > 25*time.Hour {
				t.Errorf("Issue(%q) NotAfter = now+%v, want now+24h", tt.names, d)
			}
			if _, ok := tc.PrivateKey.(*ecdsa.PrivateKey); !ok {
				t.Errorf("Issue(%q) PrivateKey = %T, want *ecdsa.PrivateKey", tt.names, tc.PrivateKey)
			}
			for _, n := range slices.Concat(tt.wantDNS, tt.wantIP) {
				host := strings.Replace(n, "*", "anything", 1)
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
					t.Errorf("Issue(%q) leaf.Verify(%q) = %v", tt.names, host, err)
				}
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name     string
		names    []string
		validity time.Duration
	}{
		{"no names", nil, time.Hour},
		{"empty name", []string{"localhost", ""}, time.Hour},
		{"only a dot", []string{"."}, time.Hour},
		{"empty label", []string{"a..b"}, time.Hour},
		{"bad char", []string{"my vault.localhost"}, time.Hour},
		{"inner wildcard", []string{"a.*.example.com"}, time.Hour},
		{"bare wildcard", []string{"*"}, time.Hour},
		{"label too long", []string{strings.Repeat("a", 64) + ".com"}, time.Hour},
		{"name too long", []string{strings.Repeat("abcdefghi.", 26) + "com"}, time.Hour},
		{"ip zone", []string{"fe80::1%eth0"}, time.Hour},
		{"zero validity", []string{"localhost"}, 0},
		{"negative validity", []string{"localhost"}, -time.Hour},
		{"validity too long", []string{"localhost"}, MaxLeafValidity + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := ca.Issue(tt.names, tt.validity)
			if !errors.Is(err, errs.E(errs.Invalid)) {
				t.Errorf("Issue(%q, %v) = %v, %v, want Invalid error", tt.names, tt.validity, tc, err)
			}
		})
	}
	if _, err := ca.Issue([]string{"localhost"}, MaxLeafValidity); err != nil {
		t.Errorf("Issue(localhost, MaxLeafValidity) = %v, want success", err)
	}
}

func TestCANeverShowsKey(t *testing.T) {
	ca := newTestCA(t)
	_, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ca.key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := new(big.Int).SetBytes(raw).String() // how a leaked big.Int would print
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("ca", "ca", ca)
	for _, out := range []string{fmt.Sprint(ca), fmt.Sprintf("%+v", ca), buf.String()} {
		if strings.Contains(out, d) || strings.Contains(out, string(keyPEM)) {
			t.Errorf("formatted CA leaks its key: %s", out)
		}
		if !strings.Contains(out, ca.Certificate().Subject.CommonName) {
			t.Errorf("formatted CA = %q, want its name", out)
		}
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		serverName string
		wantKey    string
		wantNames  []string
	}{
		{"localhost", "localhost", []string{"localhost"}},
		{"coffer.test", "coffer.test", []string{"coffer.test"}},
		{"myvault.vault.azure.net", "*.vault.azure.net", []string{"*.vault.azure.net", "myvault.vault.azure.net"}},
		{"MyVault.Vault.Azure.NET.", "*.vault.azure.net", []string{"*.vault.azure.net", "myvault.vault.azure.net"}},
		{"login.microsoftonline.com", "*.microsoftonline.com", []string{"*.microsoftonline.com", "login.microsoftonline.com"}},
		{"a.b.vault.localhost", "*.b.vault.localhost", []string{"*.b.vault.localhost", "a.b.vault.localhost"}},
		{"10.1.2.3", "10.1.2.3", []string{"10.1.2.3"}},
	}
	for _, tt := range tests {
		key, names, err := group(tt.serverName)
		if err != nil || key != tt.wantKey || !slices.Equal(names, tt.wantNames) {
			t.Errorf("group(%q) = %q, %q, %v, want %q, %q, nil", tt.serverName, key, names, err, tt.wantKey, tt.wantNames)
		}
	}
	for _, bad := range []string{"", "*.vault.azure.net", "bad name", "a..b"} {
		if key, _, err := group(bad); err == nil {
			t.Errorf("group(%q) = %q, nil, want error", bad, key)
		}
	}
	// An IP literal in a SAN list keeps its canonical form.
	if s, err := parseNames([]string{"::FFFF:7F00:1"}); err != nil || len(s.ips) != 1 || !s.ips[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("parseNames(::ffff:7f00:1) = %+v, %v", s, err)
	}
}
