package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// certOp is one operation of the certificate authorization matrix. kind is
// the permission family that governs it: "certificates", or "secrets" for
// reading the certificate's private key through its secret.
type certOp struct {
	name, kind, perm, action string
	run                      func(t *testing.T, fx *certFixture, tok string) *rawResp
}

// certFixture is what one identity's certificate operations run against,
// prepared by the admin: a live certificate, one to delete, soft-deleted
// ones to get, recover and purge, a backup of a purged one, contacts and
// issuers.
type certFixture struct {
	*keyFixture
	pemValue string
}

// selfPolicy is a small Self-issued EC policy, quick to issue.
func selfPolicy(cn string) map[string]any {
	return map[string]any{"policy": map[string]any{
		"key_props":  map[string]any{"kty": "EC", "crv": "P-256", "exportable": true},
		"x509_props": map[string]any{"subject": "CN=" + cn, "validity_months": 12},
		"issuer":     map[string]any{"name": "Self"},
	}}
}

// testPEM is a self-signed certificate with its key, as PEM.
func testPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "pem"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

func (w *azWorld) prepareCerts(t *testing.T, vault, sfx, adminTok string) *certFixture {
	t.Helper()
	fx := &certFixture{keyFixture: &keyFixture{w: w, vault: vault, sfx: sfx, live: "live-" + sfx, del: "del-" + sfx, gone: "gone-" + sfx,
		rec: "rec-" + sfx, pur: "pur-" + sfx, restore: "rst-" + sfx}, pemValue: testPEM(t)}
	ok := func(r *rawResp, what string) *rawResp {
		t.Helper()
		if r.Status/100 != 2 {
			t.Fatalf("admin %s: %d %s", what, r.Status, r.Body)
		}
		return r
	}
	for _, n := range []string{fx.live, fx.del, fx.gone, fx.rec, fx.pur, fx.restore} {
		ok(fx.do(t, "POST", "/certificates/"+n+"/create", adminTok, selfPolicy(n)), "create "+n)
	}
	var blob struct{ Value string }
	ok(fx.do(t, "POST", "/certificates/"+fx.restore+"/backup", adminTok, nil), "backup").jsonInto(t, &blob)
	fx.blob = blob.Value
	for _, n := range []string{fx.gone, fx.rec, fx.pur, fx.restore} {
		ok(fx.do(t, "DELETE", "/certificates/"+n, adminTok, nil), "delete "+n)
	}
	ok(fx.do(t, "DELETE", "/deletedcertificates/"+fx.restore, adminTok, nil), "purge "+fx.restore)
	ok(fx.do(t, "PUT", "/certificates/contacts", adminTok, map[string]any{"contacts": []map[string]any{{"email": "ops@example.com"}}}), "contacts")
	for _, n := range []string{"get-" + sfx, "del-" + sfx} {
		ok(fx.do(t, "PUT", "/certificates/issuers/"+n, adminTok, map[string]any{"provider": "Self"}), "issuer "+n)
	}
	return fx
}

func certOps() []certOp {
	const ca = "Microsoft.KeyVault/vaults/certificates/"
	const cas = "Microsoft.KeyVault/vaults/certificatecas/"
	const contacts = "Microsoft.KeyVault/vaults/certificatecontacts/write"
	get := func(path func(fx *certFixture) string) func(t *testing.T, fx *certFixture, tok string) *rawResp {
		return func(t *testing.T, fx *certFixture, tok string) *rawResp { return fx.do(t, "GET", path(fx), tok, nil) }
	}
	return []certOp{
		{"get", "certificates", "get", ca + "read", get(func(fx *certFixture) string { return "/certificates/" + fx.live })},
		{"get policy", "certificates", "get", ca + "read", get(func(fx *certFixture) string { return "/certificates/" + fx.live + "/policy" })},
		{"get pending", "certificates", "get", ca + "read", get(func(fx *certFixture) string { return "/certificates/" + fx.live + "/pending" })},
		{"get deleted", "certificates", "get", ca + "read", get(func(fx *certFixture) string { return "/deletedcertificates/" + fx.gone })},
		{"list", "certificates", "list", ca + "read", get(func(*certFixture) string { return "/certificates" })},
		{"versions", "certificates", "list", ca + "read", get(func(fx *certFixture) string { return "/certificates/" + fx.live + "/versions" })},
		{"list deleted", "certificates", "list", ca + "read", get(func(*certFixture) string { return "/deletedcertificates" })},
		{"update", "certificates", "update", ca + "update/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "PATCH", "/certificates/"+fx.live+"/", tok, map[string]any{"tags": map[string]string{"k": "v"}})
		}},
		{"update policy", "certificates", "update", ca + "update/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "PATCH", "/certificates/"+fx.live+"/policy", tok, map[string]any{"x509_props": map[string]any{"validity_months": 13}})
		}},
		{"create", "certificates", "create", ca + "create/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "POST", "/certificates/new-"+fx.sfx+"/create", tok, selfPolicy("new"))
		}},
		{"import", "certificates", "import", ca + "import/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "POST", "/certificates/imp-"+fx.sfx+"/import", tok, map[string]any{"value": fx.pemValue,
				"policy": map[string]any{"secret_props": map[string]any{"contentType": "application/x-pem-file"}}})
		}},
		{"delete", "certificates", "delete", ca + "delete", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "DELETE", "/certificates/"+fx.del, tok, nil)
		}},
		{"recover", "certificates", "recover", ca + "recover/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "POST", "/deletedcertificates/"+fx.rec+"/recover", tok, nil)
		}},
		{"purge", "certificates", "purge", ca + "purge/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "DELETE", "/deletedcertificates/"+fx.pur, tok, nil)
		}},
		{"backup", "certificates", "backup", ca + "backup/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "POST", "/certificates/"+fx.live+"/backup", tok, nil)
		}},
		{"restore", "certificates", "restore", ca + "restore/action", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "POST", "/certificates/restore", tok, map[string]any{"value": fx.blob})
		}},
		{"get contacts", "certificates", "managecontacts", contacts, get(func(*certFixture) string { return "/certificates/contacts" })},
		{"set contacts", "certificates", "managecontacts", contacts, func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "PUT", "/certificates/contacts", tok, map[string]any{"contacts": []map[string]any{{"email": "b@example.com"}}})
		}},
		{"get issuer", "certificates", "getissuers", cas + "read", get(func(fx *certFixture) string { return "/certificates/issuers/get-" + fx.sfx })},
		{"list issuers", "certificates", "listissuers", cas + "read", get(func(*certFixture) string { return "/certificates/issuers" })},
		{"set issuer", "certificates", "setissuers", cas + "write", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "PUT", "/certificates/issuers/set-"+fx.sfx, tok, map[string]any{"provider": "Self"})
		}},
		{"delete issuer", "certificates", "deleteissuers", cas + "delete", func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "DELETE", "/certificates/issuers/del-"+fx.sfx, tok, nil)
		}},
		{"delete contacts", "certificates", "managecontacts", contacts, func(t *testing.T, fx *certFixture, tok string) *rawResp {
			return fx.do(t, "DELETE", "/certificates/contacts", tok, nil)
		}},
		// The private key comes back as a secret: certificate permissions alone do not read it.
		{"read secret", "secrets", "get", "Microsoft.KeyVault/vaults/secrets/getSecret/action", get(func(fx *certFixture) string { return "/secrets/" + fx.live })},
	}
}

func certOpNames(ops []certOp, kind string) []string {
	var out []string
	for _, o := range ops {
		if kind == "" || o.kind == kind {
			out = append(out, o.name)
		}
	}
	return out
}

func (w *azWorld) checkCertOps(t *testing.T, ops []certOp, fx *certFixture, p azPrincipal, allowed []string, rbac bool) {
	t.Helper()
	tok := w.token(t, p, vaultScope)
	for _, o := range ops {
		r := o.run(t, fx, tok)
		if slices.Contains(allowed, o.name) {
			if r.Status/100 != 2 {
				t.Errorf("%s: %s = %d %s, want success", p.Name, o.name, r.Status, r.Body)
			}
			continue
		}
		if r.Status != http.StatusForbidden {
			t.Errorf("%s: %s = %d %s, want 403", p.Name, o.name, r.Status, r.Body)
			continue
		}
		code, inner, msg := r.kvError(t)
		switch {
		case code != "Forbidden":
			t.Errorf("%s: %s: code %s", p.Name, o.name, code)
		case rbac && (inner != "ForbiddenByRbac" || !strings.Contains(msg, "Action: '"+o.action+"'")):
			t.Errorf("%s: %s: RBAC denial %s %q", p.Name, o.name, inner, msg)
		case !rbac && (inner != "AccessDenied" || !strings.Contains(msg, " does not have "+o.kind+" "+o.perm+" permission on key vault '"+fx.vault+";location="+authzLocation+"'")):
			t.Errorf("%s: %s: access-policy denial %s %q", p.Name, o.name, inner, msg)
		}
	}
}

func certPolicyEntry(tenant, objectID string, certs, secrets []string) map[string]any {
	perms := map[string]any{}
	if certs != nil {
		perms["certificates"] = certs
	}
	if secrets != nil {
		perms["secrets"] = secrets
	}
	return map[string]any{"tenantId": tenant, "objectId": objectID, "permissions": perms}
}

func TestCertificateAccessPolicyMatrix(t *testing.T) {
	w := newAzWorld(t)
	const vault = "kv-certs-ap"
	w.createVault(t, vault, false)
	w.addPolicy(t, w.armTok, vault, map[string]any{"tenantId": w.tenant, "objectId": w.adminOID,
		"permissions": map[string]any{"certificates": []string{"all"}, "secrets": []string{"all"}, "keys": []string{"all"}}}).expect(t, "admin policy", http.StatusOK)
	adminTok := clientToken(t, w.env, w.env.Admin.ClientID, w.env.Admin.ClientSecret, vaultScope)
	ops := certOps()
	certsAll := certOpNames(ops, "certificates")
	reads := []string{"get", "get policy", "get pending", "get deleted", "list", "versions", "list deleted"}
	issuers := []string{"get issuer", "list issuers", "set issuer", "delete issuer"}
	cases := []struct {
		name           string
		certs, secrets []string
		allowed        []string
	}{
		{"reads", []string{"Get", "List"}, nil, reads},
		{"issuer-reads", []string{"getissuers", "listissuers"}, nil, []string{"get issuer", "list issuers"}},
		{"manageissuers", []string{"manageissuers"}, nil, issuers},
		{"contacts", []string{"managecontacts"}, nil, []string{"get contacts", "set contacts", "delete contacts"}},
		{"secrets-only", nil, []string{"all"}, []string{"read secret"}},
		{"certs-all", []string{"all"}, nil, certsAll},
		{"certs-and-secret-get", []string{"all"}, []string{"get"}, certOpNames(ops, "")},
		{"every-perm", []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore", "managecontacts",
			"getissuers", "listissuers", "setissuers", "deleteissuers", "purge"}, nil, certsAll},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := w.newPrincipal(t, "ap-"+c.name)
			w.addPolicy(t, w.armTok, vault, certPolicyEntry(w.tenant, p.ObjectID, c.certs, c.secrets)).expect(t, "policy", http.StatusOK)
			fx := w.prepareCerts(t, vault, c.name, adminTok)
			w.checkCertOps(t, ops, fx, p, c.allowed, false)
		})
	}
}

func TestCertificateRBACMatrix(t *testing.T) {
	w := newAzWorld(t)
	const vault = "kv-certs-rbac"
	w.createVault(t, vault, true)
	adminTok := clientToken(t, w.env, w.env.Admin.ClientID, w.env.Admin.ClientSecret, vaultScope)
	ops := certOps()
	reads := []string{"get", "get policy", "get pending", "get deleted", "list", "versions", "list deleted"}
	cases := []struct {
		name, role string
		allowed    []string
	}{
		{"certificates-officer", "a4417e6f-fecd-4de8-b567-7b0420556985", certOpNames(ops, "certificates")},
		{"administrator", roleKVAdministrator, certOpNames(ops, "")},
		{"reader", roleKVReader, append(slices.Clone(reads), "get issuer", "list issuers")},
		{"certificate-user", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", append(slices.Clone(reads), "read secret")},
		{"secrets-officer", roleSecretsOfficer, []string{"read secret"}},
		{"crypto-officer", roleCryptoOfficer, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := w.newPrincipal(t, "rbac-"+c.name)
			w.assignRole(t, w.armTok, w.vaultID(vault), c.role, p.ObjectID).expect(t, "assign", http.StatusCreated)
			fx := w.prepareCerts(t, vault, c.name, adminTok)
			w.checkCertOps(t, ops, fx, p, c.allowed, true)
		})
	}
}
