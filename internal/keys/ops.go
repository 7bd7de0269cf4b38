package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // RSA-OAEP is defined with SHA-1 (RFC 7518 §4.3)
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"math/big"
)

// Encryption algorithms (also used for wrapkey/unwrapkey).
const (
	RSAOAEP    = "RSA-OAEP"
	RSAOAEP256 = "RSA-OAEP-256"
	RSA15      = "RSA1_5"
)

// Signature algorithms.
const (
	RS256  = "RS256"
	RS384  = "RS384"
	RS512  = "RS512"
	PS256  = "PS256"
	PS384  = "PS384"
	PS512  = "PS512"
	ES256  = "ES256"
	ES384  = "ES384"
	ES512  = "ES512"
	ES256K = "ES256K"
)

func invalidAlg(alg string) error {
	return badParameter(fmt.Sprintf("Invalid algorithm '%s'.", alg))
}

func algNotForKey(alg, what string) error {
	return badParameter(fmt.Sprintf("Algorithm '%s' is not supported for %s.", alg, what))
}

// KnownEncryptionAlg reports whether alg is an encryption algorithm name
// Key Vault defines (valid or not for a given key).
func KnownEncryptionAlg(alg string) bool {
	switch alg {
	case RSAOAEP, RSAOAEP256, RSA15, "A128GCM", "A192GCM", "A256GCM", "A128KW", "A192KW", "A256KW",
		"A128CBC", "A192CBC", "A256CBC", "A128CBCPAD", "A192CBCPAD", "A256CBCPAD", "CKM_AES_KEY_WRAP", "CKM_AES_KEY_WRAP_PAD":
		return true
	}
	return false
}

// KnownSignatureAlg reports whether alg is a signature algorithm name Key
// Vault defines.
func KnownSignatureAlg(alg string) bool {
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, ES256K, "HS256", "HS384", "HS512":
		return true
	}
	return false
}

func rsaPub(pub crypto.PublicKey, alg string) (*rsa.PublicKey, error) {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, algNotForKey(alg, "key type 'EC'")
	}
	return k, nil
}

// Encrypt encrypts (or wraps) pt with an RSA public key.
func Encrypt(pub crypto.PublicKey, alg string, pt []byte) ([]byte, error) {
	if !KnownEncryptionAlg(alg) {
		return nil, invalidAlg(alg)
	}
	k, err := rsaPub(pub, alg)
	if err != nil {
		return nil, err
	}
	var out []byte
	switch alg {
	case RSAOAEP:
		out, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, k, pt, nil)
	case RSAOAEP256:
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, k, pt, nil)
	case RSA15:
		//lint:ignore SA1019 RSA1_5 is one of Key Vault's algorithms; clients that choose it must keep working
		out, err = rsa.EncryptPKCS1v15(rand.Reader, k, pt)
	default:
		return nil, algNotForKey(alg, "key type 'RSA'")
	}
	if errors.Is(err, rsa.ErrMessageTooLong) {
		return nil, badParameter(fmt.Sprintf("The value is too long for a %d-bit key and algorithm '%s'.", k.N.BitLen(), alg))
	}
	if err != nil {
		return nil, badParameter("The value could not be encrypted.")
	}
	return out, nil
}

// Decrypt decrypts (or unwraps) ct with an RSA private key.
func Decrypt(priv crypto.Signer, alg string, ct []byte) ([]byte, error) {
	if !KnownEncryptionAlg(alg) {
		return nil, invalidAlg(alg)
	}
	k, ok := priv.(*rsa.PrivateKey)
	if !ok {
		return nil, algNotForKey(alg, "key type 'EC'")
	}
	var out []byte
	var err error
	switch alg {
	case RSAOAEP:
		out, err = rsa.DecryptOAEP(sha1.New(), nil, k, ct, nil)
	case RSAOAEP256:
		out, err = rsa.DecryptOAEP(sha256.New(), nil, k, ct, nil)
	case RSA15:
		//lint:ignore SA1019 RSA1_5 is one of Key Vault's algorithms; clients that choose it must keep working
		out, err = rsa.DecryptPKCS1v15(nil, k, ct)
	default:
		return nil, algNotForKey(alg, "key type 'RSA'")
	}
	if err != nil {
		// One message for every failure: which step failed is an oracle.
		return nil, badParameter("The value could not be decrypted with this key and algorithm.")
	}
	return out, nil
}

// signHash is the hash an algorithm signs, and whether it is RSA (PKCS#1
// v1.5 or PSS) or ECDSA with the curve it requires.
func signHash(alg string) (h crypto.Hash, family string, curve string) {
	switch alg {
	case RS256:
		return crypto.SHA256, "RS", ""
	case RS384:
		return crypto.SHA384, "RS", ""
	case RS512:
		return crypto.SHA512, "RS", ""
	case PS256:
		return crypto.SHA256, "PS", ""
	case PS384:
		return crypto.SHA384, "PS", ""
	case PS512:
		return crypto.SHA512, "PS", ""
	case ES256:
		return crypto.SHA256, "ES", P256
	case ES384:
		return crypto.SHA384, "ES", P384
	case ES512:
		return crypto.SHA512, "ES", P521
	case ES256K:
		return crypto.SHA256, "ES", P256K
	}
	return 0, "", ""
}

// checkSign validates alg against the key and the digest's length.
func checkSign(pub crypto.PublicKey, alg string, digest []byte) (crypto.Hash, string, error) {
	if !KnownSignatureAlg(alg) {
		return 0, "", invalidAlg(alg)
	}
	h, family, crv := signHash(alg)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if family != "RS" && family != "PS" {
			return 0, "", algNotForKey(alg, "key type 'RSA'")
		}
	case *ecdsa.PublicKey:
		if family != "ES" {
			return 0, "", algNotForKey(alg, "key type 'EC'")
		}
		if curveName(k.Curve) != crv {
			return 0, "", algNotForKey(alg, "curve '"+curveName(k.Curve)+"'")
		}
	case *K256PublicKey:
		if family != "ES" {
			return 0, "", algNotForKey(alg, "key type 'EC'")
		}
		if crv != P256K {
			return 0, "", algNotForKey(alg, "curve '"+P256K+"'")
		}
	default:
		return 0, "", algNotForKey(alg, "this key")
	}
	if len(digest) != h.Size() {
		return 0, "", badParameter(fmt.Sprintf("The digest length %d is invalid for algorithm '%s'; it must be %d bytes.", len(digest), alg, h.Size()))
	}
	return h, family, nil
}

// Sign signs a digest. RSA signatures are PKCS#1 v1.5 or PSS with a salt as
// long as the hash; ECDSA signatures are r||s, each the curve's byte size,
// as JWS defines them (RFC 7518 §3.4).
func Sign(priv crypto.Signer, alg string, digest []byte) ([]byte, error) {
	h, family, err := checkSign(priv.Public(), alg, digest)
	if err != nil {
		return nil, err
	}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if family == "PS" {
			return rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(nil, k, h, digest)
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return nil, err
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		return append(fixed(r.Bytes(), n), fixed(s.Bytes(), n)...), nil
	case *K256PrivateKey:
		return signK256(k, digest), nil
	}
	return nil, algNotForKey(alg, "this key")
}

// Verify checks a signature over a digest. A wrong signature is (false,
// nil); only a request that cannot be evaluated is an error.
func Verify(pub crypto.PublicKey, alg string, digest, sig []byte) (bool, error) {
	h, family, err := checkSign(pub, alg, digest)
	if err != nil {
		return false, err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if family == "PS" {
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil, nil
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil, nil
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return false, nil
		}
		r := new(big.Int).SetBytes(sig[:n])
		s := new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(k, digest, r, s), nil
	case *K256PublicKey:
		return verifyK256(k, digest, sig), nil
	}
	return false, nil
}

// Digest hashes data with the hash an algorithm signs (for tests and the CLI).
func Digest(alg string, data []byte) []byte {
	h, _, _ := signHash(alg)
	var hh hash.Hash
	switch h {
	case crypto.SHA384:
		hh = sha512.New384()
	case crypto.SHA512:
		hh = sha512.New()
	default:
		hh = sha256.New()
	}
	hh.Write(data)
	return hh.Sum(nil)
}
