package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// ValidateNames checks names (DNS names, wildcards, IP literals) the way
// issuance will, so that a bad name is refused at start rather than at
// the first handshake.
func ValidateNames(names []string) error {
	if len(names) == 0 {
		return nil
	}
	_, err := parseNames(names)
	return err
}

// FileCert is an operator's certificate and key (PEM files), for the
// names a load balancer or a public CA vouches for. It is re-read when
// either file changes, checked at most every CheckEvery, so a renewed
// certificate is served without a restart.
type FileCert struct {
	certFile, keyFile string
	// CheckEvery bounds how often the files are looked at; zero means 10 s.
	CheckEvery time.Duration

	mu       sync.Mutex
	cert     *tls.Certificate
	certMod  time.Time
	keyMod   time.Time
	lastSeen time.Time
}

// LoadFileCert loads the pair, failing when it is unusable (missing,
// mismatched, expired).
func LoadFileCert(certFile, keyFile string) (*FileCert, error) {
	f := &FileCert{certFile: certFile, keyFile: keyFile}
	if err := f.load(time.Now()); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FileCert) load(now time.Time) error {
	cs, err := os.Stat(f.certFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	ks, err := os.Stat(f.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	if f.cert != nil && cs.ModTime().Equal(f.certMod) && ks.ModTime().Equal(f.keyMod) {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", f.certFile, f.keyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("TLS certificate %s: %w", f.certFile, err)
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("TLS certificate %s expired on %s", f.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	pair.Leaf = leaf
	f.cert, f.certMod, f.keyMod = &pair, cs.ModTime(), ks.ModTime()
	return nil
}

// current returns the certificate, re-reading the files when they
// changed; a failed re-read keeps the previous pair (a half-written
// renewal must not take the listener down).
func (f *FileCert) current(now time.Time) *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	every := f.CheckEvery
	if every == 0 {
		every = 10 * time.Second
	}
	if now.Sub(f.lastSeen) >= every {
		f.lastSeen = now
		_ = f.load(now)
	}
	return f.cert
}

// Leaf is the certificate served now.
func (f *FileCert) Leaf() *x509.Certificate { return f.current(time.Now()).Leaf }

// GetCertificate serves the operator's certificate to handshakes for the
// names it covers (by SNI, or by the address dialed when there is no SNI),
// and defers to next (Coffer's own issuer) for every other name, such as
// per-vault host names.
func (f *FileCert) GetCertificate(next func(*tls.ClientHelloInfo) (*tls.Certificate, error)) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert := f.current(time.Now())
		name := canonical(hello.ServerName)
		if name == "" && hello.Conn != nil {
			if a, ok := hello.Conn.LocalAddr().(*net.TCPAddr); ok {
				name = a.IP.String()
			}
		}
		if name != "" && cert.Leaf.VerifyHostname(name) == nil {
			return cert, nil
		}
		if next == nil {
			return nil, errors.New("pki: no certificate for " + name)
		}
		return next(hello)
	}
}
