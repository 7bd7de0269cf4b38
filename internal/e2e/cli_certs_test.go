package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// TestCLICertificates drives `coffer keyvault certificate` through create
// (waiting for the operation), import of PEM and PKCS#12 files, show,
// download (public certificate only), list, and the delete lifecycle, with
// the real binary against `coffer serve`; the private key is then read
// through the certificate's secret.
func TestCLICertificates(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("keyvault", "create", "-n", "kvcerts", "-g", "rgc", "-o", "none")
	dir := t.TempDir()

	policy := `{"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=cli.example.com","sans":{"dns_names":["cli.example.com"]},"validity_months":3},"issuer":{"name":"Self"},"secret_props":{"contentType":"application/x-pem-file"}}`
	cert := c.ok("keyvault", "certificate", "create", "--vault-name", "kvcerts", "-n", "web", "--policy", policy, "--tags", "team=a")
	if field(cert, "tags", "team") != "a" || field(cert, "policy", "issuer", "name") != "Self" || field(cert, "x5t") == "" {
		t.Fatalf("create = %v", cert)
	}
	id := field(cert, "id")

	// az's camelCase policy spelling, from a file.
	polFile := filepath.Join(dir, "policy.json")
	def := c.ok("keyvault", "certificate", "get-default-policy")
	if field(def, "issuerParameters", "name") != "Self" {
		t.Fatalf("get-default-policy = %v", def)
	}
	if err := os.WriteFile(polFile, []byte(`{"issuerParameters":{"name":"Self"},"keyProperties":{"keyType":"RSA","keySize":2048},"x509CertificateProperties":{"subject":"CN=az","validityInMonths":12}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := c.ok("keyvault", "certificate", "create", "--vault-name", "kvcerts", "-n", "azstyle", "--policy", "@"+polFile); field(r, "policy", "key_props", "kty") != "RSA" || field(r, "policy", "x509_props", "subject") != "CN=az" {
		t.Fatalf("create from az policy = %v", r)
	}

	pemOut := filepath.Join(dir, "web.pem")
	c.ok("keyvault", "certificate", "download", "--id", id, "-f", pemOut)
	b, err := os.ReadFile(pemOut)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil || leaf.Subject.CommonName != "cli.example.com" || strings.Contains(string(b), "PRIVATE") {
		t.Fatalf("downloaded certificate: %v %s", err, leaf.Subject)
	}
	c.fails("already exists", "keyvault", "certificate", "download", "--vault-name", "kvcerts", "-n", "web", "-f", pemOut)

	// The private key comes through the secret; re-import that PEM bundle.
	sec := c.ok("keyvault", "secret", "show", "--vault-name", "kvcerts", "-n", "web")
	if field(sec, "contentType") != "application/x-pem-file" || !strings.Contains(field(sec, "value"), "PRIVATE KEY") {
		t.Fatalf("secret of the certificate = %v", sec)
	}
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundle, []byte(field(sec, "value")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := c.ok("keyvault", "certificate", "import", "--vault-name", "kvcerts", "-n", "copy-pem", "-f", bundle); field(r, "x5t") != field(cert, "x5t") {
		t.Fatalf("PEM import = %v", r)
	}
	var key any
	rest := []byte(field(sec, "value"))
	for {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "PRIVATE KEY" {
			key, _ = x509.ParsePKCS8PrivateKey(blk.Bytes)
		}
	}
	pfx, err := pkcs12.Modern.Encode(key, leaf, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	pfxPath := filepath.Join(dir, "web.pfx")
	if err := os.WriteFile(pfxPath, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	imp := c.ok("keyvault", "certificate", "import", "--vault-name", "kvcerts", "-n", "copy-pfx", "-f", pfxPath, "--password", "pw")
	if field(imp, "x5t") != field(cert, "x5t") || field(imp, "policy", "secret_props", "contentType") != "application/x-pkcs12" {
		t.Fatalf("PFX import = %v", imp)
	}
	sp := c.ok("keyvault", "secret", "show", "--vault-name", "kvcerts", "-n", "copy-pfx")
	raw, _ := base64.StdEncoding.DecodeString(field(sp, "value"))
	if _, got, err := pkcs12.Decode(raw, ""); err != nil || !got.Equal(leaf) {
		t.Fatalf("PFX secret: %v", err)
	}
	c.fails("BadParameter", "keyvault", "certificate", "import", "--vault-name", "kvcerts", "-n", "bad", "-f", pfxPath, "--password", "nope")

	if cs := asList(c.ok("keyvault", "certificate", "list", "--vault-name", "kvcerts")); len(cs) != 4 {
		t.Fatalf("list = %v", cs)
	}
	c.ok("keyvault", "certificate", "create", "--vault-name", "kvcerts", "-n", "web", "--policy", policy, "-o", "none")
	if vs := asList(c.ok("keyvault", "certificate", "list-versions", "--vault-name", "kvcerts", "-n", "web")); len(vs) != 2 {
		t.Fatalf("versions = %d", len(vs))
	}
	c.ok("keyvault", "certificate", "delete", "--vault-name", "kvcerts", "-n", "web", "-o", "none")
	if ds := asList(c.ok("keyvault", "certificate", "list-deleted", "--vault-name", "kvcerts")); len(ds) != 1 {
		t.Fatalf("list-deleted = %v", ds)
	}
	c.ok("keyvault", "certificate", "recover", "--vault-name", "kvcerts", "-n", "web", "-o", "none")
	c.ok("keyvault", "certificate", "show", "--vault-name", "kvcerts", "-n", "web", "-o", "none")
	c.ok("keyvault", "certificate", "delete", "--vault-name", "kvcerts", "-n", "web", "-o", "none")
	c.ok("keyvault", "certificate", "purge", "--vault-name", "kvcerts", "-n", "web")
	c.fails("CertificateNotFound", "keyvault", "certificate", "show", "--vault-name", "kvcerts", "-n", "web")
	c.fails("SecretNotFound", "keyvault", "secret", "show", "--vault-name", "kvcerts", "-n", "web")
}
