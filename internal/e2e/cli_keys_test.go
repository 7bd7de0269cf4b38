package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// TestCLIKeys drives `coffer keyvault key` through create, import, show,
// download (public key only), list, rotate, backup/restore and the delete
// lifecycle, with the real binary against `coffer serve`.
func TestCLIKeys(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("keyvault", "create", "-n", "kvkeys", "-g", "rgk", "--sku", "premium", "-o", "none")
	dir := t.TempDir()

	k := c.ok("keyvault", "key", "create", "--vault-name", "kvkeys", "-n", "signer", "--kty", "EC", "--curve", "P-384", "--protection", "hsm", "--tags", "team=a")
	if field(k, "key", "kty") != "EC-HSM" || field(k, "key", "crv") != "P-384" || field(k, "tags", "team") != "a" {
		t.Fatalf("create = %v", k)
	}
	kid := field(k, "key", "kid")

	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ek)
	pemPath := filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := c.ok("keyvault", "key", "import", "--vault-name", "kvkeys", "-n", "imported", "--pem-file", pemPath, "--ops", "sign", "verify")
	if field(imp, "key", "kty") != "EC" || field(imp, "key", "d") != "" {
		t.Fatalf("import = %v", imp)
	}
	pubPath := filepath.Join(dir, "imported.pub.pem")
	c.ok("keyvault", "key", "download", "--vault-name", "kvkeys", "-n", "imported", "-f", pubPath)
	b, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil || !ek.PublicKey.Equal(pub) {
		t.Fatalf("downloaded public key does not match the imported key: %v", err)
	}
	c.fails("already exists", "keyvault", "key", "download", "--vault-name", "kvkeys", "-n", "imported", "-f", pubPath)

	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaPath := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(rsaPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := c.ok("keyvault", "key", "import", "--vault-name", "kvkeys", "-n", "rsa", "--pem-file", rsaPath); field(r, "key", "kty") != "RSA" {
		t.Fatalf("RSA import = %v", r)
	}

	if got := c.ok("keyvault", "key", "show", "--id", kid); field(got, "key", "kid") != kid {
		t.Fatalf("show --id = %v", got)
	}
	c.ok("keyvault", "key", "rotate", "--vault-name", "kvkeys", "-n", "signer", "-o", "none")
	if vs := asList(c.ok("keyvault", "key", "list-versions", "--vault-name", "kvkeys", "-n", "signer")); len(vs) != 2 {
		t.Fatalf("versions after rotate = %d", len(vs))
	}
	if ks := asList(c.ok("keyvault", "key", "list", "--vault-name", "kvkeys")); len(ks) != 3 {
		t.Fatalf("list = %v", ks)
	}

	bk := filepath.Join(dir, "signer.bak")
	c.ok("keyvault", "key", "backup", "--vault-name", "kvkeys", "-n", "signer", "-f", bk)
	c.ok("keyvault", "key", "delete", "--vault-name", "kvkeys", "-n", "signer", "-o", "none")
	if ds := asList(c.ok("keyvault", "key", "list-deleted", "--vault-name", "kvkeys")); len(ds) != 1 {
		t.Fatalf("list-deleted = %v", ds)
	}
	c.ok("keyvault", "key", "recover", "--vault-name", "kvkeys", "-n", "signer", "-o", "none")
	c.ok("keyvault", "key", "delete", "--vault-name", "kvkeys", "-n", "signer", "-o", "none")
	c.ok("keyvault", "key", "purge", "--vault-name", "kvkeys", "-n", "signer")
	c.fails("KeyNotFound", "keyvault", "key", "show", "--vault-name", "kvkeys", "-n", "signer")
	if r := c.ok("keyvault", "key", "restore", "--vault-name", "kvkeys", "-f", bk); field(r, "key", "crv") != "P-384" {
		t.Fatalf("restore = %v", r)
	}
	c.fails("invalid choice", "keyvault", "key", "create", "--vault-name", "kvkeys", "-n", "x", "--protection", "cloud")
	k256 := c.ok("keyvault", "key", "create", "--vault-name", "kvkeys", "-n", "k256", "--kty", "EC", "--curve", "P-256K")
	if field(k256, "key", "crv") != "P-256K" {
		t.Errorf("key create --curve P-256K = %v", k256)
	}
	checkK256Download(t, c, dir, k256)
	c.fails("BadParameter", "keyvault", "key", "create", "--vault-name", "kvkeys", "-n", "x", "--kty", "EC", "--curve", "P-192")

	// rotation-policy: the default, then one given inline and one from a file.
	if p := c.ok("keyvault", "key", "rotation-policy", "show", "--vault-name", "kvkeys", "-n", "k256"); field(p, "id") == "" {
		t.Errorf("rotation-policy show = %v", p)
	}
	inline := `{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y"}}`
	if p := c.ok("keyvault", "key", "rotation-policy", "update", "--vault-name", "kvkeys", "-n", "k256", "--value", inline); field(p, "attributes", "expiryTime") != "P1Y" {
		t.Errorf("rotation-policy update (inline) = %v", p)
	}
	polPath := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(polPath, []byte(`{"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P30D"},"action":{"type":"Notify"}}],"attributes":{"expiryTime":"P90D"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := c.ok("keyvault", "key", "rotation-policy", "update", "--vault-name", "kvkeys", "-n", "k256", "--value", polPath); field(p, "attributes", "expiryTime") != "P90D" {
		t.Errorf("rotation-policy update (file) = %v", p)
	}
	c.fails("BadParameter", "keyvault", "key", "rotation-policy", "update", "--vault-name", "kvkeys", "-n", "k256", "--value", `{"attributes":{"expiryTime":"P7D"}}`)
	c.fails("not a JSON rotation policy", "keyvault", "key", "rotation-policy", "update", "--vault-name", "kvkeys", "-n", "k256", "--value", "{nope")
}
