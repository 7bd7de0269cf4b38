// Package keys is the cryptography of Key Vault keys, without I/O: key
// generation, JWK import and export (base64url without padding, as Key
// Vault writes it), the PKCS#8 form private keys are stored in, and the
// operations encrypt, decrypt, wrap, unwrap, sign and verify with exactly
// the algorithms and encodings the Azure SDKs' local cryptography expects.
//
// Errors carry Key Vault's wire codes (BadParameter …) so the service and
// transport layers can pass them through unchanged. No error ever includes
// key material, plaintext or ciphertext.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
)

// Key types as Key Vault spells them. The -HSM spellings are accepted and
// recorded; in Coffer they behave like their software counterparts.
const (
	RSA    = "RSA"
	RSAHSM = "RSA-HSM"
	EC     = "EC"
	ECHSM  = "EC-HSM"
)

// Curves.
const (
	P256  = "P-256"
	P384  = "P-384"
	P521  = "P-521"
	P256K = "P-256K"
)

// Key operations (JsonWebKeyOperation).
const (
	OpEncrypt   = "encrypt"
	OpDecrypt   = "decrypt"
	OpSign      = "sign"
	OpVerify    = "verify"
	OpWrapKey   = "wrapKey"
	OpUnwrapKey = "unwrapKey"
	OpImport    = "import"
	OpExport    = "export"
)

// AllOps are the operation names a key's key_ops may hold, in Azure's order.
var AllOps = []string{OpEncrypt, OpDecrypt, OpSign, OpVerify, OpWrapKey, OpUnwrapKey, OpImport, OpExport}

// DefaultOps are the key_ops a new key gets when the request names none.
func DefaultOps(kty string) []string {
	if BaseKty(kty) == EC {
		return []string{OpSign, OpVerify}
	}
	return []string{OpEncrypt, OpDecrypt, OpSign, OpVerify, OpWrapKey, OpUnwrapKey}
}

// RSA key sizes a vault creates and imports.
var rsaSizes = []int{2048, 3072, 4096}

// BaseKty maps the -HSM spellings onto the software type; "" for unknown.
func BaseKty(kty string) string {
	switch kty {
	case RSA, RSAHSM:
		return RSA
	case EC, ECHSM:
		return EC
	}
	return ""
}

func badParameter(msg string) error {
	return errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg(msg))
}

// NormalizeOps validates key_ops and returns them spelt as Azure spells
// them (names compare case-insensitively), without duplicates.
func NormalizeOps(ops []string) ([]string, error) {
	out := make([]string, 0, len(ops))
	for _, o := range ops {
		i := slices.IndexFunc(AllOps, func(k string) bool { return strings.EqualFold(k, o) })
		if i < 0 {
			return nil, badParameter(fmt.Sprintf("Invalid key operation '%s'. Valid operations are: %s.", o, strings.Join(AllOps, ", ")))
		}
		if !slices.Contains(out, AllOps[i]) {
			out = append(out, AllOps[i])
		}
	}
	return out, nil
}

func curveOf(crv string) (elliptic.Curve, error) {
	switch crv {
	case P256:
		return elliptic.P256(), nil
	case P384:
		return elliptic.P384(), nil
	case P521:
		return elliptic.P521(), nil
	}
	// P-256K is not an elliptic.Curve here (see secp256k1.go); callers
	// branch on it before asking for a curve.
	return nil, badParameter(fmt.Sprintf("Invalid curve '%s'. Valid curves are: P-256, P-384, P-521, P-256K.", crv))
}

func curveName(c elliptic.Curve) string { return c.Params().Name }

// Generate creates a private key. size and exp apply to RSA (0 means the
// default 2048 and 65537), crv to EC ("" means P-256).
func Generate(kty string, size, exp int, crv string) (crypto.Signer, error) {
	switch BaseKty(kty) {
	case RSA:
		if crv != "" {
			return nil, badParameter("The parameter 'crv' is not valid for key type '" + kty + "'.")
		}
		if size == 0 {
			size = 2048
		}
		if !slices.Contains(rsaSizes, size) {
			return nil, badParameter(fmt.Sprintf("Invalid key size %d for key type '%s'. Valid sizes are: 2048, 3072, 4096.", size, kty))
		}
		if exp != 0 && exp != 65537 {
			return nil, badParameter(fmt.Sprintf("Invalid public exponent %d. The only supported public exponent is 65537.", exp))
		}
		return rsa.GenerateKey(rand.Reader, size)
	case EC:
		if size != 0 {
			return nil, badParameter("The parameter 'key_size' is not valid for key type '" + kty + "'.")
		}
		if crv == "" {
			crv = P256
		}
		if crv == P256K {
			return generateK256()
		}
		c, err := curveOf(crv)
		if err != nil {
			return nil, err
		}
		return ecdsa.GenerateKey(c, rand.Reader)
	}
	return nil, badParameter(fmt.Sprintf("Invalid key type '%s'. Valid key types are: RSA, RSA-HSM, EC, EC-HSM.", kty))
}

// Marshal encodes a private key for storage (PKCS#8 DER).
func Marshal(priv crypto.Signer) ([]byte, error) {
	if k, ok := priv.(*K256PrivateKey); ok {
		return marshalK256(k)
	}
	b, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	return b, nil
}

// Parse decodes a stored private key.
func Parse(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// x509 knows no secp256k1; such a key is ours to decode.
		if k1, err1 := parseK256(der); err1 == nil {
			return k1, nil
		}
		return nil, errs.E(errs.Internal, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errs.E(errs.Internal, "stored key is not a signer")
	}
	return s, nil
}

// Size is the key size in bits (RSA modulus, EC curve).
func Size(priv crypto.Signer) int {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return k.N.BitLen()
	case *ecdsa.PrivateKey:
		return k.Curve.Params().BitSize
	case *K256PrivateKey:
		return 256
	}
	return 0
}

// b64 encodes Key Vault's way: base64url without padding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodeB64 accepts base64url with or without padding, and standard
// base64, which some tools produce. It rejects anything else.
func DecodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// fixed left-pads b to n bytes (EC coordinates have a fixed width).
func fixed(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

func intBytes(i int) []byte { return big.NewInt(int64(i)).Bytes() }
