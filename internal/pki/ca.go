package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
)

// MaxLeafValidity is the longest validity [CA.Issue] accepts: 397 days, the
// limit browsers enforce on server certificates. With the one-hour back-dating
// of NotBefore the total span stays under the 398-day ceiling.
const MaxLeafValidity = 397 * 24 * time.Hour

const (
	// clockSkew back-dates NotBefore so that a client whose clock runs a
	// little slow still accepts a certificate issued a moment ago.
	clockSkew = time.Hour
	// caYears is the validity of a new root.
	caYears = 10
)

// CA is Coffer's local certificate authority: a self-signed root that clients
// trust, and its private key. It is immutable and safe for concurrent use.
//
// A CA never prints or logs its key: String and LogValue show only the
// root's name and fingerprint.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// NewCA creates a new root: an ECDSA P-256 key and a self-signed certificate
// named "Coffer Local CA <random id>", valid for ten years, that may sign
// leaf certificates only (path length zero).
func NewCA() (*CA, error) {
	const op errs.Op = "pki.NewCA"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	// The random id tells roots apart in trust stores, where several
	// installations (or a re-created CA) may sit side by side.
	id := make([]byte, 4)
	rand.Read(id) // never fails since Go 1.24
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Coffer"},
			CommonName:   "Coffer Local CA " + hex.EncodeToString(id),
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(caYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return newCA(cert, key), nil
}

func newCA(cert *x509.Certificate, key crypto.Signer) *CA {
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		key:     key,
	}
}

// ParseCA loads a CA stored by [CA.MarshalPEM]. The key may be PKCS#8
// ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). ParseCA checks that the
// certificate is a CA allowed to sign certificates and that the key belongs
// to it; it does not check expiry (see [CA.Certificate]).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	const op errs.Op = "pki.ParseCA"
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errs.E(op, errs.Invalid, "no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "bad CA certificate", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errs.E(op, errs.Invalid, "certificate is not a signing CA")
	}
	block, _ = pem.Decode(keyPEM)
	if block == nil {
		return nil, errs.E(op, errs.Invalid, "no private key PEM block")
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("unsupported key PEM type %q", block.Type))
	}
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "bad CA private key", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("unsupported key type %T", key))
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errs.E(op, errs.Invalid, "private key does not match CA certificate")
	}
	return newCA(cert, signer), nil
}

// MarshalPEM returns the root certificate and its private key (PKCS#8,
// "PRIVATE KEY") in PEM form, for storage. The key PEM is a secret.
func (c *CA) MarshalPEM() (certPEM, keyPEM []byte, err error) {
	const op errs.Op = "pki.MarshalPEM"
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, nil, errs.E(op, errs.Internal, err)
	}
	return c.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CertPEM returns the root certificate in PEM form: the file clients are
// given as SSL_CERT_FILE or NODE_EXTRA_CA_CERTS. The caller owns the slice.
func (c *CA) CertPEM() []byte { return bytes.Clone(c.certPEM) }

// Certificate returns the parsed root certificate. It is shared; the caller
// must not modify it.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Pool returns a new pool holding only the root, for clients (and tests) that
// should trust Coffer and nothing else. The caller owns the pool.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// Issue signs a server certificate for names with a new ECDSA P-256 key.
// Each name is a DNS name, which may be a wildcard such as
// "*.vault.azure.net", or an IP literal; names are lower-cased and a trailing
// dot is dropped. Validity must be positive and at most [MaxLeafValidity];
// the certificate is back-dated by an hour for clock skew and never outlives
// the root. The chain holds the leaf only, and Leaf is set.
func (c *CA) Issue(names []string, validity time.Duration) (*tls.Certificate, error) {
	return c.issue(names, validity, time.Now())
}

func (c *CA) issue(names []string, validity time.Duration, now time.Time) (*tls.Certificate, error) {
	const op errs.Op = "pki.Issue"
	if validity <= 0 || validity > MaxLeafValidity {
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("validity %v not in (0, %v]", validity, MaxLeafValidity))
	}
	sans, err := parseNames(names)
	if err != nil {
		return nil, errs.E(op, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	notAfter := now.Add(validity)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Coffer"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              sans.dns,
		IPAddresses:           sans.ips,
		AuthorityKeyId:        c.cert.SubjectKeyId,
	}
	// Clients match on SANs only; the common name is for humans reading the
	// certificate, and X.520 caps it at 64 characters.
	if first := sans.all[0]; len(first) <= 64 {
		tmpl.Subject.CommonName = first
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// TLSConfig returns a server configuration that takes its certificates from
// i, which is normally NewIssuer(c, ...); a nil i serves the default names
// only. It allows TLS 1.2 and later and offers HTTP/2.
func (c *CA) TLSConfig(i *Issuer) *tls.Config {
	if i == nil {
		i = NewIssuer(c, nil, nil)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: i.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// String returns the root's common name; it never includes the key.
func (c *CA) String() string { return c.cert.Subject.CommonName }

// LogValue logs the root's name and SHA-256 fingerprint, never the key.
func (c *CA) LogValue() slog.Value {
	sum := sha256.Sum256(c.cert.Raw)
	return slog.GroupValue(
		slog.String("name", c.cert.Subject.CommonName),
		slog.String("sha256", hex.EncodeToString(sum[:])),
		slog.Time("not_after", c.cert.NotAfter),
	)
}

// randomSerial returns a random, positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, err
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives a key identifier from the subjectPublicKey bits, by
// RFC 7093 section 2 method 1: the leftmost 160 bits of their SHA-256 hash.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

var (
	_ fmt.Stringer   = (*CA)(nil)
	_ slog.LogValuer = (*CA)(nil)
)
