package keys

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/wire"
)

func testK256(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := Generate(EC, 0, 0, P256K)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// k256FromPublicJWK parses a served P-256K JWK with the library directly,
// as a client holding only the JWK would.
func k256FromPublicJWK(t *testing.T, j wire.JSONWebKey) *secp256k1.PublicKey {
	t.Helper()
	if j.Kty != EC || j.Crv != "P-256K" || j.D != "" {
		t.Fatalf("JWK = %+v", j)
	}
	x, err1 := DecodeB64(j.X)
	y, err2 := DecodeB64(j.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 || strings.ContainsAny(j.X+j.Y, "=+/") {
		t.Fatalf("x, y = %q, %q: want 32 bytes each, unpadded base64url", j.X, j.Y)
	}
	pub, err := secp256k1.ParsePubKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestK256KnownPoint: d = 1 gives the generator of secp256k1 (SEC 2
// §2.4.1), so the curve is the one JWK's "P-256K" names.
func TestK256KnownPoint(t *testing.T) {
	one := make([]byte, 32)
	one[31] = 1
	gx, _ := hex.DecodeString("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
	gy, _ := hex.DecodeString("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")
	k, err := FromJWK(&wire.JSONWebKey{Kty: EC, Crv: P256K, D: b64(one), X: b64(gx), Y: b64(gy)})
	if err != nil {
		t.Fatal(err)
	}
	j := Public(k, EC)
	if j.Crv != "P-256K" || j.X != b64(gx) || j.Y != b64(gy) {
		t.Fatalf("Public = %+v", j)
	}
	if Size(k) != 256 {
		t.Errorf("Size = %d", Size(k))
	}
}

// TestES256K: signatures made by the vault verify with the library on the
// public JWK alone; signatures made by the library (and their high-S twins,
// which other signers produce) verify in the vault; tampering does not.
func TestES256K(t *testing.T) {
	k := testK256(t)
	pub := k256FromPublicJWK(t, Public(k, EC))
	digest := Digest(ES256K, []byte("signed with ES256K"))
	sig, err := Sign(k, ES256K, digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 64 {
		t.Fatalf("signature is %d bytes, want r||s = 64", len(sig))
	}
	var r, s secp256k1.ModNScalar
	r.SetByteSlice(sig[:32])
	s.SetByteSlice(sig[32:])
	if !k1ecdsa.NewSignature(&r, &s).Verify(digest, pub) {
		t.Fatal("the library does not verify the vault's signature")
	}
	if ok, err := Verify(k.Public(), ES256K, digest, sig); !ok || err != nil {
		t.Fatalf("Verify(own) = %v, %v", ok, err)
	}

	// The library's own signature (with the key parsed back from storage).
	der, err := Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	lib := k1ecdsa.Sign(back.(*K256PrivateKey).k, digest)
	lr, ls := lib.R(), lib.S()
	rb, sb := lr.Bytes(), ls.Bytes()
	libSig := append(rb[:], sb[:]...)
	if ok, _ := Verify(k.Public(), ES256K, digest, libSig); !ok {
		t.Fatal("the library's signature does not verify")
	}
	// High-S: s' = n - s is the same signature for ECDSA.
	n := secp256k1.Params().N
	hs := new(big.Int).Sub(n, new(big.Int).SetBytes(sb[:]))
	high := append(rb[:], fixed(hs.Bytes(), 32)...)
	if ok, _ := Verify(k.Public(), ES256K, digest, high); !ok {
		t.Fatal("the high-S twin does not verify")
	}

	bad := bytes.Clone(sig)
	bad[10] ^= 1
	other := Digest(ES256K, []byte("something else"))
	overN := append(fixed(n.Bytes(), 32), sig[32:]...)
	for name, c := range map[string]struct{ d, s []byte }{
		"flipped bit": {digest, bad}, "other digest": {other, sig}, "short": {digest, sig[:63]},
		"r = n": {digest, overN}, "zero": {digest, make([]byte, 64)},
	} {
		if ok, err := Verify(k.Public(), ES256K, c.d, c.s); ok || err != nil {
			t.Errorf("%s: Verify = %v, %v; want false, nil", name, ok, err)
		}
	}
}

// TestK256Storage: the stored form is standard PKCS#8 with the secp256k1
// named curve (OpenSSL reads it when present); it round-trips.
func TestK256Storage(t *testing.T) {
	k := testK256(t)
	der, err := Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		t.Fatal("x509 parsed a secp256k1 key: the special case may be obsolete")
	}
	back, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if Public(back, EC).X != Public(k, EC).X || Public(back, EC).Y != Public(k, EC).Y {
		t.Fatal("public key changed through storage")
	}
	for name, d := range map[string][]byte{"truncated": der[:len(der)-3], "garbage": []byte("nope")} {
		if _, err := Parse(d); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("openssl not installed: the interoperability check is skipped")
		return
	}
	f := filepath.Join(t.TempDir(), "k.der")
	if err := os.WriteFile(f, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-inform", "DER", "-in", f, "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	// SubjectPublicKeyInfo ends with the uncompressed point.
	j := Public(k, EC)
	x, _ := DecodeB64(j.X)
	y, _ := DecodeB64(j.Y)
	if !bytes.HasSuffix(out, append(append([]byte{4}, x...), y...)) {
		t.Fatal("openssl derived another public key")
	}
}

// TestK256Import: a P-256K JWK with its private part imports; one whose
// parts disagree, or whose d is out of range, is refused with BadParameter.
func TestK256Import(t *testing.T) {
	k := testK256(t).(*K256PrivateKey)
	j := Public(k, EC)
	j.D = b64(k.k.Serialize())
	got, err := FromJWK(&j)
	if err != nil {
		t.Fatal(err)
	}
	if Public(got, EC).X != j.X {
		t.Fatal("imported key differs")
	}
	hsm := j
	hsm.Kty = ECHSM
	if _, err := FromJWK(&hsm); err != nil {
		t.Errorf("EC-HSM spelling: %v", err)
	}
	n := secp256k1.Params().N
	cases := map[string]func(j *wire.JSONWebKey){
		"other x":     func(j *wire.JSONWebKey) { j.X = Public(testK256(t), EC).X },
		"d = 0":       func(j *wire.JSONWebKey) { j.D = b64(make([]byte, 32)) },
		"d = n":       func(j *wire.JSONWebKey) { j.D = b64(n.Bytes()) },
		"d too long":  func(j *wire.JSONWebKey) { j.D = b64(make([]byte, 33)) },
		"no d":        func(j *wire.JSONWebKey) { j.D = "" },
		"bad base64":  func(j *wire.JSONWebKey) { j.Y = "***" },
		"wrong curve": func(j *wire.JSONWebKey) { j.Crv = "secp256k1" },
	}
	for name, mutate := range cases {
		c := j
		mutate(&c)
		_, err := FromJWK(&c)
		if code, _, _ := errs.Details(err); errs.KindOf(err) != errs.Invalid || code != "BadParameter" {
			t.Errorf("%s: err = %v, want BadParameter", name, err)
		}
	}
}
