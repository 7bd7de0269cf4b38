package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/wire"
)

var (
	testKeysOnce sync.Once
	testRSA      crypto.Signer
	testEC       map[string]crypto.Signer
)

func fixtures(t testing.TB) (crypto.Signer, map[string]crypto.Signer) {
	testKeysOnce.Do(func() {
		var err error
		if testRSA, err = Generate(RSA, 2048, 0, ""); err != nil {
			panic(err)
		}
		testEC = map[string]crypto.Signer{}
		for _, c := range []string{P256, P384, P521} {
			if testEC[c], err = Generate(EC, 0, 0, c); err != nil {
				panic(err)
			}
		}
	})
	return testRSA, testEC
}

// publicFromJWK rebuilds a public key from the served JWK only, the way a
// client's local cryptography does.
func publicFromJWK(t *testing.T, j wire.JSONWebKey) crypto.PublicKey {
	t.Helper()
	dec := func(s string) []byte {
		if strings.ContainsAny(s, "=+/") {
			t.Fatalf("JWK member %q is not unpadded base64url", s)
		}
		b, err := DecodeB64(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if j.D != "" || j.P != "" || j.Q != "" || j.DP != "" || j.DQ != "" || j.QI != "" {
		t.Fatalf("public JWK carries private members: %+v", j)
	}
	switch j.Kty {
	case RSA:
		return &rsa.PublicKey{N: new(big.Int).SetBytes(dec(j.N)), E: int(new(big.Int).SetBytes(dec(j.E)).Int64())}
	case EC:
		c, err := curveOf(j.Crv)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ECPublicKey(c, dec(j.X), dec(j.Y))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	t.Fatalf("kty %q", j.Kty)
	return nil
}

func TestEncryptDecryptInteroperates(t *testing.T) {
	priv, _ := fixtures(t)
	pub := publicFromJWK(t, Public(priv, RSA)).(*rsa.PublicKey)
	pt := []byte("a 32-byte data encryption key..")
	for _, alg := range []string{RSAOAEP, RSAOAEP256, RSA15} {
		t.Run(alg, func(t *testing.T) {
			ct, err := Encrypt(priv.Public(), alg, pt)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Decrypt(priv, alg, ct); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Decrypt = %q, %v", got, err)
			}
			// Encrypted locally with the standard library on the public JWK.
			var local []byte
			switch alg {
			case RSAOAEP:
				local, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, pt, nil)
			case RSAOAEP256:
				local, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, pt, nil)
			case RSA15:
				//lint:ignore SA1019 RSA1_5 is one of Key Vault's algorithms; clients that choose it must keep working
				local, err = rsa.EncryptPKCS1v15(rand.Reader, pub, pt)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Decrypt(priv, alg, local); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Decrypt(local) = %q, %v", got, err)
			}
			// A ciphertext for another algorithm does not decrypt.
			other := RSAOAEP256
			if alg == RSAOAEP256 {
				other = RSAOAEP
			}
			if _, err := Decrypt(priv, other, ct); errs.KindOf(err) != errs.Invalid {
				t.Fatalf("Decrypt with %s: %v, want Invalid", other, err)
			}
		})
	}
}

func TestSignVerifiesWithStdlib(t *testing.T) {
	rsaKey, ecKeys := fixtures(t)
	cases := []struct {
		alg string
		key crypto.Signer
	}{
		{RS256, rsaKey}, {RS384, rsaKey}, {RS512, rsaKey},
		{PS256, rsaKey}, {PS384, rsaKey}, {PS512, rsaKey},
		{ES256, ecKeys[P256]}, {ES384, ecKeys[P384]}, {ES512, ecKeys[P521]},
	}
	for _, c := range cases {
		t.Run(c.alg, func(t *testing.T) {
			kty := RSA
			if _, ok := c.key.(*ecdsa.PrivateKey); ok {
				kty = EC
			}
			pub := publicFromJWK(t, Public(c.key, kty))
			digest := Digest(c.alg, []byte("message"))
			sig, err := Sign(c.key, c.alg, digest)
			if err != nil {
				t.Fatal(err)
			}
			h, family, _ := signHash(c.alg)
			switch family {
			case "RS":
				err = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), h, digest, sig)
			case "PS":
				err = rsa.VerifyPSS(pub.(*rsa.PublicKey), h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			case "ES":
				k := pub.(*ecdsa.PublicKey)
				n := (k.Curve.Params().BitSize + 7) / 8
				if len(sig) != 2*n {
					t.Fatalf("ECDSA signature is %d bytes, want %d (r||s)", len(sig), 2*n)
				}
				if !ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
					err = rsa.ErrVerification
				}
			}
			if err != nil {
				t.Fatalf("stdlib verify: %v", err)
			}
			if ok, err := Verify(pub, c.alg, digest, sig); !ok || err != nil {
				t.Fatalf("Verify = %v, %v", ok, err)
			}
			sig[len(sig)-1] ^= 1
			if ok, err := Verify(pub, c.alg, digest, sig); ok || err != nil {
				t.Fatalf("Verify(tampered) = %v, %v, want false, nil", ok, err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	rsaKey, ecKeys := fixtures(t)
	d32 := make([]byte, 32)
	cases := []struct {
		name string
		run  func() error
	}{
		{"ES256 on RSA", func() error { _, err := Sign(rsaKey, ES256, d32); return err }},
		{"RS256 on EC", func() error { _, err := Sign(ecKeys[P256], RS256, d32); return err }},
		{"ES384 on P-256", func() error { _, err := Sign(ecKeys[P256], ES384, make([]byte, 48)); return err }},
		{"ES256K on P-256", func() error { _, err := Sign(ecKeys[P256], ES256K, d32); return err }},
		{"short digest", func() error { _, err := Sign(rsaKey, RS256, d32[:20]); return err }},
		{"unknown alg", func() error { _, err := Sign(rsaKey, "RS1", d32); return err }},
		{"encrypt with EC", func() error { _, err := Encrypt(ecKeys[P256].Public(), RSAOAEP, d32); return err }},
		{"AES alg on RSA", func() error { _, err := Encrypt(rsaKey.Public(), "A256KW", d32); return err }},
		{"plaintext too long", func() error { _, err := Encrypt(rsaKey.Public(), RSAOAEP256, make([]byte, 200)); return err }},
		{"garbage ciphertext", func() error { _, err := Decrypt(rsaKey, RSAOAEP, []byte("x")); return err }},
		{"unknown curve", func() error { _, err := Generate(EC, 0, 0, "P-257"); return err }},
		{"ES256 on P-256K", func() error { _, err := Sign(testK256(t), ES256, d32); return err }},
		{"RS256 on P-256K", func() error { _, err := Sign(testK256(t), RS256, d32); return err }},
		{"ES256K short digest", func() error { _, err := Sign(testK256(t), ES256K, d32[:20]); return err }},
		{"encrypt with P-256K", func() error { _, err := Encrypt(testK256(t).Public(), RSAOAEP, d32); return err }},
		{"RSA 1024", func() error { _, err := Generate(RSA, 1024, 0, ""); return err }},
		{"exponent 3", func() error { _, err := Generate(RSA, 2048, 3, ""); return err }},
		{"oct", func() error { _, err := Generate("oct", 0, 0, ""); return err }},
		{"bad op", func() error { _, err := NormalizeOps([]string{"sign", "fly"}); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if code, _, _ := errs.Details(err); errs.KindOf(err) != errs.Invalid || code != "BadParameter" {
				t.Fatalf("err = %v, want Invalid/BadParameter", err)
			}
		})
	}
}

func TestJWKImportRoundTrip(t *testing.T) {
	rsaKey, ecKeys := fixtures(t)
	r := rsaKey.(*rsa.PrivateKey)
	full := Public(r, RSA)
	full.D, full.P, full.Q = b64(r.D.Bytes()), b64(r.Primes[0].Bytes()), b64(r.Primes[1].Bytes())
	got, err := FromJWK(&full)
	if err != nil {
		t.Fatal(err)
	}
	if !got.(*rsa.PrivateKey).Equal(r) {
		t.Fatal("imported RSA key differs")
	}
	e := ecKeys[P384].(*ecdsa.PrivateKey)
	ej := Public(e, EC)
	d, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ej.D = b64(d)
	if got, err := FromJWK(&ej); err != nil || !got.(*ecdsa.PrivateKey).Equal(e) {
		t.Fatalf("EC import: %v", err)
	}
	bad := []struct {
		name string
		mut  func(j wire.JSONWebKey) wire.JSONWebKey
	}{
		{"public only", func(j wire.JSONWebKey) wire.JSONWebKey { j.D = ""; return j }},
		{"bad base64", func(j wire.JSONWebKey) wire.JSONWebKey { j.P = "!!"; return j }},
		{"wrong prime", func(j wire.JSONWebKey) wire.JSONWebKey { j.Q = j.P; return j }},
		{"no kty", func(j wire.JSONWebKey) wire.JSONWebKey { j.Kty = ""; return j }},
	}
	for _, b := range bad {
		j := b.mut(full)
		if _, err := FromJWK(&j); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: err = %v, want Invalid", b.name, err)
		}
	}
	ej.X = b64(e.Y.Bytes()) // point does not match d
	if _, err := FromJWK(&ej); errs.KindOf(err) != errs.Invalid {
		t.Errorf("EC with wrong point: %v", err)
	}
	// Stored form round-trips.
	der, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := Parse(der); err != nil || !back.(*rsa.PrivateKey).Equal(r) {
		t.Fatalf("Parse(Marshal) = %v", err)
	}
}

func BenchmarkSignRS256(b *testing.B) {
	k, _ := fixtures(b)
	d := Digest(RS256, []byte("x"))
	for b.Loop() {
		if _, err := Sign(k, RS256, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	k, _ := fixtures(b)
	d := Digest(RS256, []byte("x"))
	sig, _ := Sign(k, RS256, d)
	for b.Loop() {
		if ok, _ := Verify(k.Public(), RS256, d, sig); !ok {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkSignES256(b *testing.B) {
	_, ec := fixtures(b)
	d := Digest(ES256, []byte("x"))
	for b.Loop() {
		if _, err := Sign(ec[P256], ES256, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrapRSAOAEP256(b *testing.B) {
	k, _ := fixtures(b)
	dek := make([]byte, 32)
	for b.Loop() {
		if _, err := Encrypt(k.Public(), RSAOAEP256, dek); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapRSAOAEP256(b *testing.B) {
	k, _ := fixtures(b)
	ct, _ := Encrypt(k.Public(), RSAOAEP256, make([]byte, 32))
	for b.Loop() {
		if _, err := Decrypt(k, RSAOAEP256, ct); err != nil {
			b.Fatal(err)
		}
	}
}
