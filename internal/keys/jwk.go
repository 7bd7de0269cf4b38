package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"
	"slices"

	"github.com/coffer-dev/coffer/internal/wire"
)

// Public returns the public JWK fields of priv (kty, n/e or crv/x/y); the
// caller fills kid and key_ops.
func Public(priv crypto.Signer, kty string) wire.JSONWebKey {
	j := wire.JSONWebKey{Kty: kty}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		j.N = b64(k.N.Bytes())
		j.E = b64(intBytes(k.E))
	case *ecdsa.PrivateKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		j.Crv = curveName(k.Curve)
		j.X = b64(fixed(k.X.Bytes(), n))
		j.Y = b64(fixed(k.Y.Bytes(), n))
	case *K256PrivateKey:
		pub := k.Public().(*K256PublicKey)
		j.Crv, j.X, j.Y = P256K, b64(pub.X()), b64(pub.Y())
	}
	return j
}

// field decodes one base64url JWK member; name is for the error.
func field(name, v string) ([]byte, error) {
	if v == "" {
		return nil, badParameter(fmt.Sprintf("The JSON Web Key is missing the required property '%s'.", name))
	}
	b, err := DecodeB64(v)
	if err != nil || len(b) == 0 {
		return nil, badParameter(fmt.Sprintf("The JSON Web Key property '%s' is not valid base64url.", name))
	}
	return b, nil
}

func bigField(name, v string) (*big.Int, error) {
	b, err := field(name, v)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

// FromJWK builds a private key from an imported JWK, which must carry the
// private parts. The key's consistency is checked, so a key whose public
// and private halves disagree is refused rather than stored.
func FromJWK(j *wire.JSONWebKey) (crypto.Signer, error) {
	switch BaseKty(j.Kty) {
	case RSA:
		if j.D == "" {
			return nil, badParameter("The JSON Web Key to import must include the private key.")
		}
		n, err := bigField("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := bigField("e", j.E)
		if err != nil {
			return nil, err
		}
		d, err := bigField("d", j.D)
		if err != nil {
			return nil, err
		}
		p, err := bigField("p", j.P)
		if err != nil {
			return nil, err
		}
		q, err := bigField("q", j.Q)
		if err != nil {
			return nil, err
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, badParameter("The JSON Web Key has an unsupported public exponent.")
		}
		if !slices.Contains(rsaSizes, n.BitLen()) {
			return nil, badParameter(fmt.Sprintf("Invalid key size %d for key type '%s'. Valid sizes are: 2048, 3072, 4096.", n.BitLen(), j.Kty))
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
		if err := k.Validate(); err != nil {
			return nil, badParameter("The JSON Web Key is not a valid RSA private key.")
		}
		k.Precompute()
		return k, nil
	case EC:
		var c elliptic.Curve
		if j.Crv != P256K {
			var err error
			if c, err = curveOf(j.Crv); err != nil {
				return nil, err
			}
		}
		if j.D == "" {
			return nil, badParameter("The JSON Web Key to import must include the private key.")
		}
		d, err := field("d", j.D)
		if err != nil {
			return nil, err
		}
		x, err := field("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := field("y", j.Y)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return k256FromJWK(d, x, y)
		}
		n := (c.Params().BitSize + 7) / 8
		if len(d) > n || len(x) > n || len(y) > n {
			return nil, badParameter("The JSON Web Key is not a valid EC private key.")
		}
		k, err := ecdsa.ParseRawPrivateKey(c, fixed(d, n))
		if err != nil {
			return nil, badParameter("The JSON Web Key is not a valid EC private key.")
		}
		if k.X.Cmp(new(big.Int).SetBytes(x)) != 0 || k.Y.Cmp(new(big.Int).SetBytes(y)) != 0 {
			return nil, badParameter("The JSON Web Key is not a valid EC private key: the public point does not match.")
		}
		return k, nil
	}
	return nil, badParameter(fmt.Sprintf("Invalid key type '%s'. Valid key types are: RSA, RSA-HSM, EC, EC-HSM.", j.Kty))
}

// ECPublicKey builds the public key at (x, y) on curve c from a JWK's
// big-endian coordinates, refusing points that are not on the curve.
func ECPublicKey(c elliptic.Curve, x, y []byte) (*ecdsa.PublicKey, error) {
	n := (c.Params().BitSize + 7) / 8
	if len(x) > n || len(y) > n {
		return nil, badParameter("The JSON Web Key is not a valid EC public key.")
	}
	point := append(append([]byte{4}, fixed(x, n)...), fixed(y, n)...)
	k, err := ecdsa.ParseUncompressedPublicKey(c, point)
	if err != nil {
		return nil, badParameter("The JSON Web Key is not a valid EC public key.")
	}
	return k, nil
}
