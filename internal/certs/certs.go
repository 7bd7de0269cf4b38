// Package certs is the X.509 side of Key Vault certificates: it checks and
// completes a certificate policy, issues self-signed certificates and CSRs
// from it, reads imported PKCS#12 and PEM bundles, and encodes the backing
// secret's value. It does no storage and knows nothing of HTTP; its errors
// are BadParameter errors ready to render.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/wire"
)

// Content types of the backing secret.
const (
	ContentTypePKCS12 = "application/x-pkcs12"
	ContentTypePEM    = "application/x-pem-file"
)

// Issuer names Coffer understands. Self issues at once; Unknown leaves the
// operation pending for a merge, which Coffer does not implement.
const (
	IssuerSelf    = "Self"
	IssuerUnknown = "Unknown"
)

func badParameter(msg string) error {
	return errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg(msg))
}

// keyUsages maps Azure's key_usage names to x509 bits.
var keyUsages = []struct {
	name string
	bit  x509.KeyUsage
}{
	{"digitalSignature", x509.KeyUsageDigitalSignature},
	{"nonRepudiation", x509.KeyUsageContentCommitment},
	{"keyEncipherment", x509.KeyUsageKeyEncipherment},
	{"dataEncipherment", x509.KeyUsageDataEncipherment},
	{"keyAgreement", x509.KeyUsageKeyAgreement},
	{"keyCertSign", x509.KeyUsageCertSign},
	{"cRLSign", x509.KeyUsageCRLSign},
	{"encipherOnly", x509.KeyUsageEncipherOnly},
	{"decipherOnly", x509.KeyUsageDecipherOnly},
}

// Default extended key usages of a new policy: server and client auth.
var defaultEKUs = []string{"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}

var oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

func ptr[T any](v T) *T { return &v }

// NormalizePolicy checks a policy given to create or import and fills in
// what Azure fills in. forCreate requires what issuing needs (a subject or
// SANs); import takes those from the certificate.
func NormalizePolicy(p *wire.CertificatePolicy, forCreate bool) (*wire.CertificatePolicy, error) {
	if p == nil {
		if forCreate {
			return nil, badParameter("Property policy is required.")
		}
		p = &wire.CertificatePolicy{}
	}
	out := *p
	out.ID = ""
	kp := wire.CertKeyProperties{}
	if p.KeyProps != nil {
		kp = *p.KeyProps
	}
	if kp.Kty == "" {
		kp.Kty = "RSA"
	}
	switch strings.TrimSuffix(kp.Kty, "-HSM") {
	case "RSA":
		if kp.Crv != "" {
			return nil, badParameter("Property crv is not valid for key type " + kp.Kty + ".")
		}
		if kp.KeySize == nil {
			kp.KeySize = ptr(2048)
		}
		if s := *kp.KeySize; s != 2048 && s != 3072 && s != 4096 {
			return nil, badParameter(fmt.Sprintf("Invalid key size %d. Valid key sizes for RSA keys are 2048, 3072 and 4096.", s))
		}
	case "EC":
		if kp.Crv == "" {
			kp.Crv = "P-256"
		}
		want := map[string]int{"P-256": 256, "P-384": 384, "P-521": 521, "P-256K": 256}[kp.Crv]
		if want == 0 {
			return nil, badParameter("Invalid curve name " + kp.Crv + ". Valid curves are P-256, P-384, P-521 and P-256K.")
		}
		if kp.Crv == "P-256K" && forCreate {
			// Azure issues P-256K certificates; Coffer keeps such a policy
			// (as Azure does on a policy update) but cannot sign X.509 on
			// secp256k1, so issuing one is refused rather than faked.
			return nil, badParameter("Certificates with curve P-256K are not supported by this vault; use P-256, P-384 or P-521.")
		}
		if kp.KeySize != nil && *kp.KeySize != want {
			return nil, badParameter(fmt.Sprintf("Key size %d does not match curve %s.", *kp.KeySize, kp.Crv))
		}
		kp.KeySize = ptr(want)
	default:
		return nil, badParameter("Invalid key type " + kp.Kty + ". Valid key types are RSA, RSA-HSM, EC and EC-HSM.")
	}
	if kp.Exportable == nil {
		kp.Exportable = ptr(true)
	}
	if kp.ReuseKey == nil {
		kp.ReuseKey = ptr(false)
	}
	out.KeyProps = &kp

	ct := ContentTypePKCS12
	if p.SecretProps != nil && p.SecretProps.ContentType != "" {
		ct = p.SecretProps.ContentType
	}
	if ct != ContentTypePKCS12 && ct != ContentTypePEM {
		return nil, badParameter("Invalid content type " + ct + ". Valid content types are application/x-pkcs12 and application/x-pem-file.")
	}
	out.SecretProps = &wire.CertSecretProperties{ContentType: ct}

	x := wire.X509CertificateProperties{}
	if p.X509Props != nil {
		x = *p.X509Props
	}
	if x.Subject != "" {
		if _, err := ParseSubject(x.Subject); err != nil {
			return nil, err
		}
	}
	if forCreate && x.Subject == "" && (x.SANs == nil || len(x.SANs.DNSNames)+len(x.SANs.Emails)+len(x.SANs.UPNs) == 0) {
		return nil, badParameter("Either subject or subject alternative names must be specified in the certificate policy.")
	}
	if x.ValidityMonths == nil {
		if forCreate {
			x.ValidityMonths = ptr(12)
		}
	} else if m := *x.ValidityMonths; m < 1 || m > 1200 {
		return nil, badParameter(fmt.Sprintf("Invalid validity_months %d. The value must be between 1 and 1200.", m))
	}
	for _, ku := range x.KeyUsage {
		if _, ok := keyUsageBit(ku); !ok {
			return nil, badParameter("Invalid key usage " + ku + ".")
		}
	}
	if x.KeyUsage == nil && forCreate {
		x.KeyUsage = []string{"digitalSignature", "keyEncipherment"}
		if strings.HasPrefix(kp.Kty, "EC") {
			x.KeyUsage = []string{"digitalSignature"}
		}
	}
	for _, e := range x.Ekus {
		if _, err := parseOID(e); err != nil {
			return nil, badParameter("Invalid extended key usage " + e + ".")
		}
	}
	if x.Ekus == nil && forCreate {
		x.Ekus = defaultEKUs
	}
	out.X509Props = &x

	iss := wire.CertIssuerParameters{}
	if p.Issuer != nil {
		iss = *p.Issuer
	}
	if iss.Name == "" {
		iss.Name = IssuerUnknown
		if forCreate {
			iss.Name = IssuerSelf
		}
	}
	switch {
	case strings.EqualFold(iss.Name, IssuerSelf):
		iss.Name = IssuerSelf
	case strings.EqualFold(iss.Name, IssuerUnknown):
		iss.Name = IssuerUnknown
	}
	out.Issuer = &iss

	for _, la := range p.LifetimeActions {
		if la.Action == nil || (la.Action.ActionType != "AutoRenew" && la.Action.ActionType != "EmailContacts") {
			return nil, badParameter("Invalid lifetime action. Valid action types are AutoRenew and EmailContacts.")
		}
		if la.Trigger == nil || (la.Trigger.LifetimePercentage == nil) == (la.Trigger.DaysBeforeExpiry == nil) {
			return nil, badParameter("A lifetime action trigger needs exactly one of lifetime_percentage and days_before_expiry.")
		}
		if lp := la.Trigger.LifetimePercentage; lp != nil && (*lp < 1 || *lp > 99) {
			return nil, badParameter("lifetime_percentage must be between 1 and 99.")
		}
	}
	if out.LifetimeActions == nil {
		action := "AutoRenew"
		if iss.Name == IssuerUnknown {
			action = "EmailContacts"
		}
		la := wire.CertLifetimeAction{}
		la.Trigger = &struct {
			LifetimePercentage *int `json:"lifetime_percentage,omitempty"`
			DaysBeforeExpiry   *int `json:"days_before_expiry,omitempty"`
		}{LifetimePercentage: ptr(80)}
		la.Action = &struct {
			ActionType string `json:"action_type,omitempty"`
		}{ActionType: action}
		out.LifetimeActions = []wire.CertLifetimeAction{la}
	}
	return &out, nil
}

func keyUsageBit(name string) (x509.KeyUsage, bool) {
	for _, ku := range keyUsages {
		if strings.EqualFold(ku.name, name) {
			return ku.bit, true
		}
	}
	return 0, false
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, errors.New("short oid")
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n := 0
		if p == "" || len(p) > 9 {
			return nil, errors.New("bad arc")
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, errors.New("bad arc")
			}
			n = n*10 + int(c-'0')
		}
		oid[i] = n
	}
	return oid, nil
}

// subjectAttrs maps the attribute names Azure accepts in a subject to OIDs.
var subjectAttrs = map[string]asn1.ObjectIdentifier{
	"CN": {2, 5, 4, 3}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "C": {2, 5, 4, 6},
	"L": {2, 5, 4, 7}, "S": {2, 5, 4, 8}, "ST": {2, 5, 4, 8}, "STREET": {2, 5, 4, 9},
	"E": {1, 2, 840, 113549, 1, 9, 1}, "EMAIL": {1, 2, 840, 113549, 1, 9, 1},
	"DC": {0, 9, 2342, 19200300, 100, 1, 25}, "SERIALNUMBER": {2, 5, 4, 5},
	"T": {2, 5, 4, 12}, "TITLE": {2, 5, 4, 12}, "G": {2, 5, 4, 42}, "SN": {2, 5, 4, 4},
	"POSTALCODE": {2, 5, 4, 17},
}

// ParseSubject reads an X.500 distinguished name as Azure accepts it
// ("CN=a, O=b", commas or semicolons, backslash escapes), keeping order.
func ParseSubject(s string) (pkix.Name, error) {
	var parts []string
	var cur strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ',' || r == ';':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	parts = append(parts, cur.String())
	var name pkix.Name
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		oid := subjectAttrs[strings.ToUpper(k)]
		if !ok || oid == nil || v == "" {
			return pkix.Name{}, badParameter("The subject name " + s + " is not a valid X500 name.")
		}
		v = strings.Trim(v, `"`)
		name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{Type: oid, Value: v})
	}
	return name, nil
}

// Template builds the certificate template a policy describes, for a key
// of the given public half, valid from now.
func Template(p *wire.CertificatePolicy, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	x := p.X509Props
	months := 12
	if x.ValidityMonths != nil {
		months = *x.ValidityMonths
	}
	t := &x509.Certificate{
		SerialNumber: serial,
		// Azure backdates notBefore by five minutes against clock skew.
		NotBefore:             now.Add(-5 * time.Minute).UTC().Truncate(time.Second),
		NotAfter:              now.AddDate(0, months, 0).UTC().Truncate(time.Second),
		BasicConstraintsValid: true,
	}
	if x.Subject != "" {
		name, err := ParseSubject(x.Subject)
		if err != nil {
			return nil, err
		}
		t.Subject = name
	}
	for _, ku := range x.KeyUsage {
		bit, _ := keyUsageBit(ku)
		t.KeyUsage |= bit
	}
	for _, e := range x.Ekus {
		oid, _ := parseOID(e)
		t.UnknownExtKeyUsage = append(t.UnknownExtKeyUsage, oid)
	}
	if x.SANs != nil {
		ext, err := sanExtension(x.SANs, x.Subject == "")
		if err != nil {
			return nil, err
		}
		if ext != nil {
			t.ExtraExtensions = append(t.ExtraExtensions, *ext)
		}
	}
	return t, nil
}

// sanExtension encodes DNS names, emails and UPNs (otherName, which
// crypto/x509 cannot write) as one subjectAltName extension.
func sanExtension(s *wire.SubjectAlternativeNames, critical bool) (*pkix.Extension, error) {
	var names []asn1.RawValue
	for _, e := range s.Emails {
		if e == "" || !isASCII(e) {
			return nil, badParameter("Invalid email in subject alternative names: " + e)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(e)})
	}
	for _, d := range s.DNSNames {
		if d == "" || !isASCII(d) || strings.ContainsAny(d, " ,;") {
			return nil, badParameter("Invalid DNS name in subject alternative names: " + d)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, u := range s.UPNs {
		if u == "" {
			return nil, badParameter("Invalid UPN in subject alternative names.")
		}
		val, err := asn1.MarshalWithParams(u, "utf8")
		if err != nil {
			return nil, badParameter("Invalid UPN in subject alternative names: " + u)
		}
		// otherName ::= [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
		oid, err := asn1.Marshal(oidUPN)
		if err != nil {
			return nil, errs.E(errs.Internal, err)
		}
		wrapped, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: val})
		if err != nil {
			return nil, errs.E(errs.Internal, err)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, wrapped...)})
	}
	if len(names) == 0 {
		return nil, nil
	}
	b, err := asn1.Marshal(names)
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	return &pkix.Extension{Id: oidSAN, Critical: critical, Value: b}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// SelfSign issues the policy's certificate for priv, signed by itself.
func SelfSign(p *wire.CertificatePolicy, priv crypto.Signer, now time.Time) ([]byte, error) {
	t, err := Template(p, now)
	if err != nil {
		return nil, err
	}
	t.Issuer = t.Subject
	der, err := x509.CreateCertificate(rand.Reader, t, t, priv.Public(), priv)
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	return der, nil
}

// CSR is the certificate signing request for the policy and priv.
func CSR(p *wire.CertificatePolicy, priv crypto.Signer) ([]byte, error) {
	t, err := Template(p, time.Now())
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: t.Subject, ExtraExtensions: t.ExtraExtensions}, priv)
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	return der, nil
}

// Thumbprint is x5t: the SHA-1 of the DER certificate, base64url.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SecretValue encodes the backing secret's value: PKCS#12 (base64, no
// password, as Azure serves it) or PEM (PKCS#8 key, then the chain). A
// policy with exportable=false keeps the private key out of it.
func SecretValue(contentType string, priv crypto.Signer, chain []*x509.Certificate, exportable bool) (string, error) {
	if !exportable {
		if contentType == ContentTypePEM {
			var b strings.Builder
			for _, c := range chain {
				_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
			return b.String(), nil
		}
		pfx, err := pkcs12.LegacyDES.EncodeTrustStore(chain, "")
		if err != nil {
			return "", errs.E(errs.Internal, err)
		}
		return base64.StdEncoding.EncodeToString(pfx), nil
	}
	if contentType == ContentTypePEM {
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return "", errs.E(errs.Internal, err)
		}
		var b strings.Builder
		_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		for _, c := range chain {
			_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return b.String(), nil
	}
	// LegacyDES (3DES with a SHA-1 MAC) is what Key Vault's own PFX use,
	// and every platform's PKCS#12 reader (Windows, OpenSSL, Java, Go,
	// node-forge) accepts it with an empty password.
	pfx, err := pkcs12.LegacyDES.Encode(priv, chain[0], chain[1:], "")
	if err != nil {
		return "", errs.E(errs.Internal, err)
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// Parsed is an imported certificate with its private key.
type Parsed struct {
	Key   crypto.Signer
	Chain []*x509.Certificate // leaf first
	// Given is the same certificates in the order of the value, for
	// preserveCertOrder.
	Given []*x509.Certificate
}

// ParseImport reads an import's value: PEM text for application/x-pem-file,
// else base64 PKCS#12 (pwd its password).
func ParseImport(contentType, value, pwd string) (*Parsed, error) {
	var p Parsed
	if contentType == ContentTypePEM {
		rest := []byte(value)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch {
			case b.Type == "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, badParameter("The specified PEM X.509 certificate content is in an unexpected format. Please check if certificate is in valid PEM format.")
				}
				p.Chain = append(p.Chain, c)
			case strings.HasSuffix(b.Type, "PRIVATE KEY"):
				if p.Key != nil {
					return nil, badParameter("The specified PEM content has more than one private key.")
				}
				k, err := parsePrivateKey(b.Bytes)
				if err != nil {
					return nil, badParameter("The specified PEM private key content is in an unexpected format. Please check if private key is in valid PEM format.")
				}
				p.Key = k
			}
		}
		if len(p.Chain) == 0 {
			return nil, badParameter("The specified PEM X.509 certificate content is in an unexpected format. Please check if certificate is in valid PEM format.")
		}
		if p.Key == nil {
			return nil, badParameter("The specified PEM content does not contain a private key.")
		}
	} else {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(value), "=")); err != nil {
				return nil, badParameter("The specified certificate content is not valid base64.")
			}
		}
		key, leaf, cas, err := pkcs12.DecodeChain(raw, pwd)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, badParameter("The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate is in valid PKCS#12 format.")
		}
		if err != nil {
			return nil, badParameter("The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate is in valid PKCS#12 format.")
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, badParameter("The private key type is not supported.")
		}
		p.Key, p.Chain = s, append([]*x509.Certificate{leaf}, cas...)
	}
	p.Given = slices.Clone(p.Chain)
	// The leaf is the certificate whose public key is the private key's.
	for i, c := range p.Chain {
		if samePublic(c.PublicKey, p.Key.Public()) {
			p.Chain[0], p.Chain[i] = p.Chain[i], p.Chain[0]
			return &p, nil
		}
	}
	return nil, badParameter("The private key does not match the certificate's public key.")
}

func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("unsupported key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return x509.ParseECPrivateKey(der)
}

func samePublic(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(eq)
	return ok && e.Equal(b)
}

// PolicyFromCertificate is the policy Azure derives for an imported
// certificate, merged under the policy the import gave.
func PolicyFromCertificate(given *wire.CertificatePolicy, leaf *x509.Certificate, priv crypto.Signer) *wire.CertificatePolicy {
	out := *given
	kp := *given.KeyProps
	switch k := priv.Public().(type) {
	case *rsa.PublicKey:
		kp.Kty, kp.Crv = "RSA", ""
		kp.KeySize = ptr(k.N.BitLen())
	case *ecdsa.PublicKey:
		kp.Kty = "EC"
		kp.Crv = map[string]string{"P-256": "P-256", "P-384": "P-384", "P-521": "P-521"}[k.Curve.Params().Name]
		kp.KeySize = ptr(k.Curve.Params().BitSize)
	}
	out.KeyProps = &kp
	x := *given.X509Props
	if x.Subject == "" {
		x.Subject = leaf.Subject.String()
	}
	if x.SANs == nil && (len(leaf.DNSNames) > 0 || len(leaf.EmailAddresses) > 0) {
		x.SANs = &wire.SubjectAlternativeNames{DNSNames: leaf.DNSNames, Emails: leaf.EmailAddresses}
	}
	if x.KeyUsage == nil {
		for _, ku := range keyUsages {
			if leaf.KeyUsage&ku.bit != 0 {
				x.KeyUsage = append(x.KeyUsage, ku.name)
			}
		}
	}
	if x.Ekus == nil {
		for _, e := range leaf.ExtKeyUsage {
			if oid, ok := extKeyUsageOIDs[e]; ok {
				x.Ekus = append(x.Ekus, oid)
			}
		}
		for _, oid := range leaf.UnknownExtKeyUsage {
			x.Ekus = append(x.Ekus, oid.String())
		}
	}
	if x.ValidityMonths == nil {
		months := int(leaf.NotAfter.Sub(leaf.NotBefore).Hours()/24/30.4375 + 0.5)
		x.ValidityMonths = ptr(max(months, 1))
	}
	out.X509Props = &x
	return &out
}

var extKeyUsageOIDs = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageServerAuth:      "1.3.6.1.5.5.7.3.1",
	x509.ExtKeyUsageClientAuth:      "1.3.6.1.5.5.7.3.2",
	x509.ExtKeyUsageCodeSigning:     "1.3.6.1.5.5.7.3.3",
	x509.ExtKeyUsageEmailProtection: "1.3.6.1.5.5.7.3.4",
	x509.ExtKeyUsageTimeStamping:    "1.3.6.1.5.5.7.3.8",
	x509.ExtKeyUsageOCSPSigning:     "1.3.6.1.5.5.7.3.9",
}

// KeyOps are the backing key's key_ops for the policy's key usage, as
// Azure derives them.
func KeyOps(kty string, usage []string) []string {
	var ops []string
	has := func(n string) bool {
		for _, u := range usage {
			if strings.EqualFold(u, n) {
				return true
			}
		}
		return false
	}
	if has("digitalSignature") || has("nonRepudiation") || has("keyCertSign") || has("cRLSign") {
		ops = append(ops, "sign", "verify")
	}
	if strings.HasPrefix(kty, "RSA") {
		if has("keyEncipherment") {
			ops = append(ops, "wrapKey", "unwrapKey")
		}
		if has("dataEncipherment") {
			ops = append(ops, "encrypt", "decrypt")
		}
	}
	if ops == nil {
		ops = []string{}
	}
	return ops
}
