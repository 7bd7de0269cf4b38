package keys

// P-256K (secp256k1) keys and ES256K signatures. Go's standard library has
// no secp256k1 (crypto/ecdsa and crypto/x509 know only the NIST curves), so
// these keys are their own types, backed by decred's secp256k1 package (the
// Go implementation of the curve that btcd, go-ethereum's pure-Go build and
// others rely on; constant-time private-key arithmetic, RFC 6979 nonces).
// Stored keys keep the standard PKCS#8 form (id-ecPublicKey with the
// secp256k1 named curve, RFC 5915 inside), built here because x509 cannot.

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/coffer-dev/coffer/internal/errs"
)

// K256PrivateKey is a P-256K private key with its public point (computed
// once: deriving it is a scalar multiplication).
type K256PrivateKey struct {
	k   *secp256k1.PrivateKey
	pub *secp256k1.PublicKey
}

func newK256(k *secp256k1.PrivateKey) *K256PrivateKey { return &K256PrivateKey{k, k.PubKey()} }

// K256PublicKey is a P-256K public key.
type K256PublicKey struct{ k *secp256k1.PublicKey }

// Public returns the public half (a *K256PublicKey).
func (p *K256PrivateKey) Public() crypto.PublicKey { return &K256PublicKey{p.pub} }

// Sign signs a SHA-256 digest and returns the ASN.1 DER signature, as
// crypto.Signer implementations of ECDSA do. (The vault's sign operation
// uses Sign in this package, which returns JWS's r||s.) rand is unused: the
// nonce is deterministic (RFC 6979).
func (p *K256PrivateKey) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return k1ecdsa.Sign(p.k, digest).Serialize(), nil
}

// X and Y are the public point's coordinates, 32 bytes each.
func (p *K256PublicKey) X() []byte { return fixed(p.k.X().Bytes(), 32) }
func (p *K256PublicKey) Y() []byte { return fixed(p.k.Y().Bytes(), 32) }

func generateK256() (*K256PrivateKey, error) {
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	return newK256(k), nil
}

// k256FromJWK builds the private key of an imported P-256K JWK, checking
// that d is a valid scalar and that x, y are its public point.
func k256FromJWK(d, x, y []byte) (*K256PrivateKey, error) {
	invalid := badParameter("The JSON Web Key is not a valid EC private key.")
	if len(d) > 32 || len(x) > 32 || len(y) > 32 {
		return nil, invalid
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(d); overflow || s.IsZero() {
		return nil, invalid
	}
	k := newK256(secp256k1.NewPrivateKey(&s))
	pub := k.pub
	if string(fixed(pub.X().Bytes(), 32)) != string(fixed(x, 32)) || string(fixed(pub.Y().Bytes(), 32)) != string(fixed(y, 32)) {
		return nil, badParameter("The JSON Web Key is not a valid EC private key: the public point does not match.")
	}
	return k, nil
}

// signK256 returns the JWS ES256K signature r||s (32 bytes each) of a
// SHA-256 digest. Signatures are low-S, which every verifier accepts.
func signK256(k *K256PrivateKey, digest []byte) []byte {
	sig := k1ecdsa.Sign(k.k, digest)
	r, s := sig.R(), sig.S()
	rb, sb := r.Bytes(), s.Bytes()
	return append(rb[:], sb[:]...)
}

// verifyK256 checks a JWS ES256K signature r||s; high-S signatures (from
// signers that do not normalise) verify too, as in JWS.
func verifyK256(pub *K256PublicKey, digest, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	var r, s secp256k1.ModNScalar
	if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) {
		return false // r or s ≥ n
	}
	return k1ecdsa.NewSignature(&r, &s).Verify(digest, pub.k)
}

// PKCS#8 with the secp256k1 named curve (RFC 5208, RFC 5915, SEC 2).
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
}

type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	PublicKey  asn1.BitString `asn1:"optional,explicit,tag:1"`
}

func marshalK256(k *K256PrivateKey) ([]byte, error) {
	params, err := asn1.Marshal(oidSecp256k1)
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	pub := k.pub.SerializeUncompressed()
	inner, err := asn1.Marshal(ecPrivateKey{Version: 1, PrivateKey: k.k.Serialize(),
		PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	der, err := asn1.Marshal(pkcs8{Algo: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}, PrivateKey: inner})
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	return der, nil
}

var errNotK256 = errors.New("not a secp256k1 PKCS#8 key")

// parseK256 decodes what marshalK256 wrote; errNotK256 for any other DER.
func parseK256(der []byte) (*K256PrivateKey, error) {
	var p pkcs8
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 || !p.Algo.Algorithm.Equal(oidECPublicKey) {
		return nil, errNotK256
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(p.Algo.Parameters.FullBytes, &curve); err != nil || !curve.Equal(oidSecp256k1) {
		return nil, errNotK256
	}
	var inner ecPrivateKey
	if _, err := asn1.Unmarshal(p.PrivateKey, &inner); err != nil || inner.Version != 1 || len(inner.PrivateKey) != 32 {
		return nil, errNotK256
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(inner.PrivateKey); overflow || s.IsZero() {
		return nil, errNotK256
	}
	return newK256(secp256k1.NewPrivateKey(&s)), nil
}
