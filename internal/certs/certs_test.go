package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/wire"
)

func intp(n int) *int { return &n }

func TestNormalizePolicy(t *testing.T) {
	subj := &wire.X509CertificateProperties{Subject: "CN=a"}
	tests := []struct {
		name   string
		in     *wire.CertificatePolicy
		create bool
		bad    string // substring of the BadParameter message; "" = valid
		check  func(t *testing.T, p *wire.CertificatePolicy)
	}{
		{"create needs a policy", nil, true, "policy is required", nil},
		{"import needs none", nil, false, "", func(t *testing.T, p *wire.CertificatePolicy) {
			if p.Issuer.Name != IssuerUnknown || p.LifetimeActions[0].Action.ActionType != "EmailContacts" {
				t.Errorf("import defaults: issuer %s, action %s", p.Issuer.Name, p.LifetimeActions[0].Action.ActionType)
			}
		}},
		{"create defaults", &wire.CertificatePolicy{X509Props: subj}, true, "", func(t *testing.T, p *wire.CertificatePolicy) {
			if p.KeyProps.Kty != "RSA" || *p.KeyProps.KeySize != 2048 || !*p.KeyProps.Exportable || *p.KeyProps.ReuseKey ||
				p.SecretProps.ContentType != ContentTypePKCS12 || *p.X509Props.ValidityMonths != 12 || p.Issuer.Name != IssuerSelf ||
				!slices.Equal(p.X509Props.KeyUsage, []string{"digitalSignature", "keyEncipherment"}) || !slices.Equal(p.X509Props.Ekus, defaultEKUs) ||
				*p.LifetimeActions[0].Trigger.LifetimePercentage != 80 || p.LifetimeActions[0].Action.ActionType != "AutoRenew" {
				t.Errorf("defaults %+v %+v %+v", p.KeyProps, p.X509Props, p.Issuer)
			}
		}},
		{"EC defaults", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC-HSM"}, X509Props: subj}, true, "", func(t *testing.T, p *wire.CertificatePolicy) {
			if p.KeyProps.Crv != "P-256" || *p.KeyProps.KeySize != 256 || !slices.Equal(p.X509Props.KeyUsage, []string{"digitalSignature"}) {
				t.Errorf("EC defaults %+v %v", p.KeyProps, p.X509Props.KeyUsage)
			}
		}},
		{"issuer case folded", &wire.CertificatePolicy{X509Props: subj, Issuer: &wire.CertIssuerParameters{Name: "self"}}, true, "", func(t *testing.T, p *wire.CertificatePolicy) {
			if p.Issuer.Name != IssuerSelf {
				t.Errorf("issuer %s", p.Issuer.Name)
			}
		}},
		{"SANs alone suffice", &wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{SANs: &wire.SubjectAlternativeNames{UPNs: []string{"u@x"}}}}, true, "", nil},
		{"no subject", &wire.CertificatePolicy{}, true, "subject or subject alternative names", nil},
		{"bad subject", &wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{Subject: "CN"}}, true, "not a valid X500 name", nil},
		{"unknown attribute", &wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{Subject: "XX=1"}}, true, "not a valid X500 name", nil},
		{"bad kty", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "oct"}, X509Props: subj}, true, "Invalid key type", nil},
		{"RSA size", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "RSA", KeySize: intp(1024)}, X509Props: subj}, true, "Invalid key size", nil},
		{"RSA with curve", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "RSA", Crv: "P-256"}, X509Props: subj}, true, "crv", nil},
		{"curve", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC", Crv: "P-192"}, X509Props: subj}, true, "Invalid curve", nil},
		{"P-256K kept on update", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC", Crv: "P-256K", KeySize: intp(256)}}, false, "", func(t *testing.T, p *wire.CertificatePolicy) {
			if p.KeyProps.Crv != "P-256K" || *p.KeyProps.KeySize != 256 {
				t.Errorf("P-256K policy %+v", p.KeyProps)
			}
		}},
		{"P-256K not issued", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC", Crv: "P-256K"}, X509Props: subj}, true, "P-256K are not supported", nil},
		{"P-256K size mismatch", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC", Crv: "P-256K", KeySize: intp(384)}}, false, "does not match", nil},
		{"curve size mismatch", &wire.CertificatePolicy{KeyProps: &wire.CertKeyProperties{Kty: "EC", Crv: "P-384", KeySize: intp(256)}, X509Props: subj}, true, "does not match", nil},
		{"content type", &wire.CertificatePolicy{SecretProps: &wire.CertSecretProperties{ContentType: "text/plain"}, X509Props: subj}, true, "Invalid content type", nil},
		{"validity", &wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{Subject: "CN=a", ValidityMonths: intp(0)}}, true, "validity_months", nil},
		{"key usage", &wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{Subject: "CN=a", KeyUsage: []string{"fly"}}}, true, "Invalid key usage", nil},
		{"eku", &wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{Subject: "CN=a", Ekus: []string{"1.x"}}}, true, "extended key usage", nil},
		{"lifetime action type", &wire.CertificatePolicy{X509Props: subj, LifetimeActions: []wire.CertLifetimeAction{{}}}, true, "lifetime action", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NormalizePolicy(tt.in, tt.create)
			if tt.bad != "" {
				if err == nil || errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("err = %v, want BadParameter with %q", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestParseSubject(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"CN=a.example.com", "CN=a.example.com"},
		{"CN=a, O=Org; OU=Unit, C=US", "C=US,OU=Unit,O=Org,CN=a"},
		{`CN=a\, b, O="Quoted"`, `O=Quoted,CN=a\, b`},
	} {
		n, err := ParseSubject(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		// pkix renders RDNs in reverse (RFC 4514) order.
		if got := n.ToRDNSequence().String(); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSelfSignHonoursPolicy(t *testing.T) {
	p, err := NormalizePolicy(&wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{
		Subject: "CN=svc, O=Coffer", ValidityMonths: intp(3), KeyUsage: []string{"digitalSignature", "cRLSign"}, Ekus: []string{"1.3.6.1.5.5.7.3.2"},
		SANs: &wire.SubjectAlternativeNames{DNSNames: []string{"svc.example"}, Emails: []string{"a@example"}, UPNs: []string{"svc@example"}},
	}}, true)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	der, err := SelfSign(p, priv, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if c.Subject.CommonName != "svc" || c.Issuer.String() != c.Subject.String() || !slices.Equal(c.DNSNames, []string{"svc.example"}) ||
		!slices.Equal(c.EmailAddresses, []string{"a@example"}) || c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCRLSign ||
		!slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || !c.NotAfter.Equal(now.AddDate(0, 3, 0)) {
		t.Fatalf("certificate %v %v %v %v %v", c.Subject, c.DNSNames, c.KeyUsage, c.ExtKeyUsage, c.NotAfter)
	}
	// crypto/x509 keeps SANs it cannot decode (the UPN otherName) as unhandled.
	if len(c.UnhandledCriticalExtensions) != 0 {
		t.Fatalf("SAN must be non-critical with a subject: %v", c.UnhandledCriticalExtensions)
	}
	csr, err := CSR(p, priv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := x509.ParseCertificateRequest(csr)
	if err != nil || r.CheckSignature() != nil || r.Subject.CommonName != "svc" || !slices.Equal(r.DNSNames, []string{"svc.example"}) {
		t.Fatalf("CSR: %v", err)
	}
}

func selfSigned(t *testing.T, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	p, _ := NormalizePolicy(&wire.CertificatePolicy{X509Props: &wire.X509CertificateProperties{Subject: "CN=x"}}, true)
	der, err := SelfSign(p, priv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestSecretValueRoundTrip(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, tc := range []struct {
		name string
		priv crypto.Signer
		ct   string
	}{{"RSA PKCS#12", rk, ContentTypePKCS12}, {"EC PKCS#12", ek, ContentTypePKCS12}, {"RSA PEM", rk, ContentTypePEM}, {"EC PEM", ek, ContentTypePEM}} {
		t.Run(tc.name, func(t *testing.T) {
			c := selfSigned(t, tc.priv)
			v, err := SecretValue(tc.ct, tc.priv, []*x509.Certificate{c}, true)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseImport(tc.ct, v, "")
			if err != nil {
				t.Fatalf("the secret does not import back: %v", err)
			}
			if !got.Chain[0].Equal(c) || !samePublic(got.Key.Public(), tc.priv.Public()) {
				t.Fatal("round trip changed the certificate or key")
			}
			// Not exportable: the certificate without its key.
			v, err = SecretValue(tc.ct, tc.priv, []*x509.Certificate{c}, false)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct == ContentTypePEM {
				if strings.Contains(v, "PRIVATE KEY") || !strings.Contains(v, "CERTIFICATE") {
					t.Fatalf("non-exportable PEM: %q", v)
				}
				return
			}
			raw, _ := base64.StdEncoding.DecodeString(v)
			certs, err := pkcs12.DecodeTrustStore(raw, "")
			if err != nil || len(certs) != 1 || !certs[0].Equal(c) {
				t.Fatalf("non-exportable PKCS#12: %v", err)
			}
		})
	}
}

func TestParseImportPicksTheLeaf(t *testing.T) {
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caCert := selfSigned(t, ca)
	leafCert := selfSigned(t, leafKey)
	kd, _ := x509.MarshalECPrivateKey(leafKey)
	// CA first, then the key (SEC 1), then the leaf: the leaf is the one the key belongs to.
	v := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafCert.Raw}))
	p, err := ParseImport(ContentTypePEM, v, "")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Chain[0].Equal(leafCert) || len(p.Chain) != 2 {
		t.Fatalf("leaf not first: %d certificates", len(p.Chain))
	}
	for _, bad := range []string{
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})) + string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})),
		"not pem at all",
	} {
		if _, err := ParseImport(ContentTypePEM, bad, ""); errs.KindOf(err) != errs.Invalid {
			t.Errorf("ParseImport(%.30q) = %v, want BadParameter", bad, err)
		}
	}
}

func TestKeyOps(t *testing.T) {
	for _, tt := range []struct {
		kty   string
		usage []string
		want  []string
	}{
		{"RSA", []string{"digitalSignature", "keyEncipherment"}, []string{"sign", "verify", "wrapKey", "unwrapKey"}},
		{"RSA-HSM", []string{"dataEncipherment"}, []string{"encrypt", "decrypt"}},
		{"EC", []string{"digitalSignature", "keyEncipherment"}, []string{"sign", "verify"}},
		{"EC", []string{"keyAgreement"}, []string{}},
	} {
		if got := KeyOps(tt.kty, tt.usage); !slices.Equal(got, tt.want) {
			t.Errorf("KeyOps(%s, %v) = %v, want %v", tt.kty, tt.usage, got, tt.want)
		}
	}
}
