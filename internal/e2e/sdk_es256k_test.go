package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// exerciseES256K: P-256K keys through azkeys. A created key (EC and
// EC-HSM) and an imported one sign ES256K; each signature verifies with
// the secp256k1 library on the served JWK alone (the SDK has no local
// ES256K), and a signature the library made verifies in the vault.
func exerciseES256K(t *testing.T, c *azkeys.Client) {
	t.Helper()
	ctx := context.Background()
	digest := sha256.Sum256([]byte("coffer signs this with ES256K"))
	check := func(name string, jwk *azkeys.JSONWebKey, local *secp256k1.PrivateKey) {
		t.Helper()
		if *jwk.Crv != azkeys.CurveNameP256K || len(jwk.X) != 32 || len(jwk.Y) != 32 || jwk.D != nil {
			t.Fatalf("%s: JWK crv %s, |x| %d, |y| %d", name, *jwk.Crv, len(jwk.X), len(jwk.Y))
		}
		pub, err := secp256k1.ParsePubKey(append(append([]byte{4}, jwk.X...), jwk.Y...))
		if err != nil {
			t.Fatalf("%s: served point: %v", name, err)
		}
		s, err := c.Sign(ctx, name, "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256K), Value: digest[:]}, nil)
		if err != nil {
			t.Fatalf("%s: Sign ES256K: %v", name, err)
		}
		if len(s.Result) != 64 {
			t.Fatalf("%s: signature of %d bytes, want r||s", name, len(s.Result))
		}
		var r, sv secp256k1.ModNScalar
		r.SetByteSlice(s.Result[:32])
		sv.SetByteSlice(s.Result[32:])
		if !k1ecdsa.NewSignature(&r, &sv).Verify(digest[:], pub) {
			t.Fatalf("%s: the library does not verify the vault's ES256K signature", name)
		}
		verify := func(sig []byte) bool {
			t.Helper()
			v, err := c.Verify(ctx, name, "", azkeys.VerifyParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256K), Digest: digest[:], Signature: sig}, nil)
			if err != nil || v.Value == nil {
				t.Fatalf("%s: Verify: %v", name, err)
			}
			return *v.Value
		}
		if !verify(s.Result) {
			t.Fatalf("%s: the vault does not verify its own signature", name)
		}
		bad := slices.Clone(s.Result)
		bad[40] ^= 1
		if verify(bad) {
			t.Fatalf("%s: a tampered signature verified", name)
		}
		if local != nil {
			ls := k1ecdsa.Sign(local, digest[:])
			lr, lsv := ls.R(), ls.S()
			rb, sb := lr.Bytes(), lsv.Bytes()
			if !verify(append(rb[:], sb[:]...)) {
				t.Fatalf("%s: the vault does not verify the library's signature", name)
			}
		}
		// ES256 is for P-256 only.
		_, err = c.Sign(ctx, name, "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Value: digest[:]}, nil)
		wantStatus(t, name+": ES256 on P-256K", err, 400, "BadParameter")
	}
	for _, kty := range []azkeys.KeyType{azkeys.KeyTypeEC, azkeys.KeyTypeECHSM} {
		name := "ec-p256k-" + map[azkeys.KeyType]string{azkeys.KeyTypeEC: "sw", azkeys.KeyTypeECHSM: "hsm"}[kty]
		k, err := c.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(kty), Curve: to.Ptr(azkeys.CurveNameP256K)}, nil)
		if err != nil {
			t.Fatalf("CreateKey %s P-256K: %v", kty, err)
		}
		if *k.Key.Kty != kty {
			t.Fatalf("created kty %s, want %s", *k.Key.Kty, kty)
		}
		check(name, k.Key, nil)
	}
	local, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := local.PubKey().SerializeUncompressed()
	imp, err := c.ImportKey(ctx, "imported-p256k", azkeys.ImportKeyParameters{Key: &azkeys.JSONWebKey{
		Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveNameP256K), X: pub[1:33], Y: pub[33:], D: local.Serialize(),
		KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationSign), to.Ptr(azkeys.KeyOperationVerify)}}}, nil)
	if err != nil {
		t.Fatalf("ImportKey P-256K: %v", err)
	}
	check("imported-p256k", imp.Key, local)
}

// checkK256Download: key download of a P-256K key writes a
// SubjectPublicKeyInfo with the secp256k1 curve and the served point, which
// OpenSSL reads (when installed).
func checkK256Download(t *testing.T, c *cliEnv, dir string, created any) {
	t.Helper()
	path := filepath.Join(dir, "k256.pub.pem")
	c.ok("keyvault", "key", "download", "--vault-name", "kvkeys", "-n", "k256", "-f", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("download wrote %q", b)
	}
	var spki struct {
		Algo pkix.AlgorithmIdentifier
		Key  asn1.BitString
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(block.Bytes, &spki); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(spki.Algo.Parameters.FullBytes, &curve); err != nil || !curve.Equal(asn1.ObjectIdentifier{1, 3, 132, 0, 10}) {
		t.Fatalf("curve = %v, %v", curve, err)
	}
	x, _ := base64.RawURLEncoding.DecodeString(field(created, "key", "x"))
	y, _ := base64.RawURLEncoding.DecodeString(field(created, "key", "y"))
	if want := append(append([]byte{4}, x...), y...); !bytes.Equal(spki.Key.Bytes, want) {
		t.Fatal("downloaded point differs from the served JWK")
	}
	if _, err := secp256k1.ParsePubKey(spki.Key.Bytes); err != nil {
		t.Fatalf("downloaded point: %v", err)
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(openssl, "pkey", "-pubin", "-in", path, "-noout", "-text").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "secp256k1") {
			t.Fatalf("openssl pkey: %v\n%s", err, out)
		}
	}
}
