package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/coffer-dev/coffer/internal/testenv"
)

// objectKV counts every stored entry of the object kinds a certificate
// touches, to prove that a refused request stored nothing.
func objectKV(t *testing.T, env *testenv.Env) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range []string{"certs/", "keys/", "keymaterial/", "secrets/", "secretversions/", "secretvalues/", "certissuers/", "certcontacts/"} {
		pairs, err := env.Store.KV().List(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = len(pairs)
	}
	return out
}

func TestRawCertificateErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.5"
	if r := rawDo(t, env, "POST", kvURL(env, "/certificates/c1/create"+api), tok, jsonBody(t, selfPolicy("c1")), nil); r.Status != 202 {
		t.Fatalf("create c1: %d %s", r.Status, r.Body)
	}
	c1 := rawDo(t, env, "GET", kvURL(env, "/certificates/c1"+api), tok, nil, nil).obj(t)
	c1Ver := c1["id"].(string)[strings.LastIndex(c1["id"].(string), "/")+1:]
	if r := rawDo(t, env, "PUT", kvURL(env, "/secrets/plain"+api), tok, jsonBody(t, map[string]any{"value": "v"}), nil); r.Status != 200 {
		t.Fatalf("set plain: %d %s", r.Status, r.Body)
	}

	appID, secret := createServicePrincipal(t, env, "secrets-only")
	p, err := env.Store.GetPrincipalByAppID(context.Background(), appID)
	if err != nil {
		t.Fatal(err)
	}
	grantSecrets(t, env, p.ObjectID, "all")
	secretsTok := clientToken(t, env, appID, secret, vaultScope)
	denied := "The user, group or application 'appid=" + appID + ";oid=" + p.ObjectID + ";iss=https://sts.windows.net/" +
		env.Instance.TenantID + "/' does not have certificates %s permission on key vault 'default;location=local'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"

	// Import material: a key and a certificate that do not belong together,
	// and a PKCS#12 sealed with a password.
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k1.Public(), k1)
	leaf, _ := x509.ParseCertificate(der)
	k2der, _ := x509.MarshalPKCS8PrivateKey(k2)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	mismatched := certPEM + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k2der}))
	pfx, err := pkcs12.Modern.Encode(k1, leaf, nil, "right")
	if err != nil {
		t.Fatal(err)
	}
	pemPolicy := map[string]any{"secret_props": map[string]any{"contentType": "application/x-pem-file"}}
	withPolicy := func(pol map[string]any) map[string]any { return map[string]any{"policy": pol} }
	x509Subject := map[string]any{"subject": "CN=x"}

	tests := []struct {
		name, method, path string
		token              string // "" = admin
		body               any
		status             int
		code, inner, msg   string // msg: exact when non-empty
	}{
		{"unknown certificate", "GET", "/certificates/nope", "", nil, 404, "CertificateNotFound", "",
			"A certificate with (name/id) nope was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"},
		{"unknown version", "GET", "/certificates/c1/0123456789abcdef0123456789abcdef", "", nil, 404, "CertificateNotFound", "", ""},
		{"unknown deleted", "GET", "/deletedcertificates/nope", "", nil, 404, "CertificateNotFound", "", "Deleted Certificate not found: nope"},
		{"unknown pending", "GET", "/certificates/nope/pending", "", nil, 404, "PendingCertificateNotFound", "", ""},
		{"unknown policy", "GET", "/certificates/nope/policy", "", nil, 404, "CertificateNotFound", "", ""},
		{"unknown issuer", "GET", "/certificates/issuers/nope", "", nil, 404, "CertificateIssuerNotFound", "", "Issuer not found"},
		{"no contacts", "GET", "/certificates/contacts", "", nil, 404, "ContactsNotFound", "", "Contacts not found"},
		{"update unknown", "PATCH", "/certificates/nope/", "", map[string]any{"tags": map[string]string{"a": "b"}}, 404, "CertificateNotFound", "", ""},
		{"delete unknown", "DELETE", "/certificates/nope", "", nil, 404, "CertificateNotFound", "", ""},
		{"create without policy", "POST", "/certificates/n1/create", "", map[string]any{}, 400, "BadParameter", "", "Property policy is required."},
		{"create no subject", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"issuer": map[string]any{"name": "Self"}}), 400, "BadParameter", "", ""},
		{"create bad subject", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": map[string]any{"subject": "nonsense"}}), 400, "BadParameter", "", ""},
		{"create bad kty", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"key_props": map[string]any{"kty": "oct"}, "x509_props": x509Subject}), 400, "BadParameter", "", ""},
		{"create RSA 1024", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"key_props": map[string]any{"kty": "RSA", "key_size": 1024}, "x509_props": x509Subject}), 400, "BadParameter", "", ""},
		{"create bad curve", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"key_props": map[string]any{"kty": "EC", "crv": "P-192"}, "x509_props": x509Subject}), 400, "BadParameter", "", ""},
		{"create bad content type", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"secret_props": map[string]any{"contentType": "text/plain"}, "x509_props": x509Subject}), 400, "BadParameter", "", ""},
		{"create bad key usage", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": map[string]any{"subject": "CN=x", "key_usage": []string{"flying"}}}), 400, "BadParameter", "", ""},
		{"create bad eku", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": map[string]any{"subject": "CN=x", "ekus": []string{"server-auth"}}}), 400, "BadParameter", "", ""},
		{"create bad validity", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": map[string]any{"subject": "CN=x", "validity_months": 0}}), 400, "BadParameter", "", ""},
		{"create bad SAN", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": map[string]any{"subject": "CN=x", "sans": map[string]any{"dns_names": []string{"a b"}}}}), 400, "BadParameter", "", ""},
		{"create bad lifetime action", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": x509Subject, "lifetime_actions": []any{map[string]any{"trigger": map[string]any{"lifetime_percentage": 80}, "action": map[string]any{"action_type": "Explode"}}}}), 400, "BadParameter", "", ""},
		{"create external issuer", "POST", "/certificates/n1/create", "", withPolicy(map[string]any{"x509_props": x509Subject, "issuer": map[string]any{"name": "DigiCert"}}), 400, "BadParameter", "", ""},
		{"create over a plain secret", "POST", "/certificates/plain/create", "", selfPolicy("plain"), 409, "Conflict", "", ""},
		{"create invalid name", "POST", "/certificates/bad_name/create", "", selfPolicy("x"), 400, "BadParameter", "", ""},
		{"create malformed JSON", "POST", "/certificates/n1/create", "", "{", 400, "BadParameter", "", ""},
		{"import no value", "POST", "/certificates/n2/import", "", map[string]any{}, 400, "BadParameter", "", "Property value is required."},
		{"import not base64", "POST", "/certificates/n2/import", "", map[string]any{"value": "***"}, 400, "BadParameter", "", ""},
		{"import not PKCS#12", "POST", "/certificates/n2/import", "", map[string]any{"value": base64.StdEncoding.EncodeToString([]byte("hello"))}, 400, "BadParameter", "", ""},
		{"import wrong password", "POST", "/certificates/n2/import", "", map[string]any{"value": base64.StdEncoding.EncodeToString(pfx), "pwd": "wrong"}, 400, "BadParameter", "", ""},
		{"import PEM without key", "POST", "/certificates/n2/import", "", map[string]any{"value": certPEM, "policy": pemPolicy}, 400, "BadParameter", "", ""},
		{"import PEM key mismatch", "POST", "/certificates/n2/import", "", map[string]any{"value": mismatched, "policy": pemPolicy}, 400, "BadParameter", "", ""},
		{"import PEM garbage", "POST", "/certificates/n2/import", "", map[string]any{"value": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "policy": pemPolicy}, 400, "BadParameter", "", ""},
		{"import kty mismatch", "POST", "/certificates/n2/import", "", map[string]any{"value": base64.StdEncoding.EncodeToString(pfx), "pwd": "right", "policy": map[string]any{"key_props": map[string]any{"kty": "RSA"}}}, 400, "BadParameter", "", ""},
		{"policy bad update", "PATCH", "/certificates/c1/policy", "", map[string]any{"x509_props": map[string]any{"validity_months": -1}}, 400, "BadParameter", "", ""},
		{"restore garbage", "POST", "/certificates/restore", "", map[string]any{"value": b64u([]byte("not a backup"))}, 400, "BadParameter", "", ""},
		{"restore key backup", "POST", "/certificates/restore", "", map[string]any{"value": ""}, 400, "BadParameter", "", ""},
		{"contacts without email", "PUT", "/certificates/contacts", "", map[string]any{"contacts": []any{map[string]any{"name": "x"}}}, 400, "BadParameter", "", ""},
		{"issuer bad provider", "PUT", "/certificates/issuers/i1", "", map[string]any{"provider": "NoSuchCA"}, 400, "BadParameter", "", ""},
		{"merge without an operation in progress", "POST", "/certificates/c1/pending/merge", "", map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(der)}}, 404, "PendingCertificateNotFound", "", ""},
		{"merge nothing", "POST", "/certificates/c1/pending/merge", "", map[string]any{}, 400, "BadParameter", "", "Property x5c is required."},
		{"wrong method", "GET", "/certificates/c1/create", "", nil, 405, "BadParameter", "", ""},
		{"secrets-only get", "GET", "/certificates/c1", secretsTok, nil, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "get", 1)},
		{"secrets-only create", "POST", "/certificates/n3/create", secretsTok, selfPolicy("n3"), 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "create", 1)},
		{"secrets-only import", "POST", "/certificates/n3/import", secretsTok, map[string]any{"value": mismatched}, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "import", 1)},
		{"secrets-only reads the key", "GET", "/secrets/c1", secretsTok, nil, 200, "", "", ""},
		// The certificate's secret and key are managed by it (managed:
		// true): the secrets and keys APIs refuse to change, remove or back
		// them up, 403 Forbidden with Secret/KeyManagedByKeyVault. The texts
		// follow Key Vault's answers seen in the field: secret delete
		// (confirmed, 2026) and key backup (confirmed, 2022, "Key"
		// capitalised); the other operations' texts are the same template
		// with their operation's name (best guess).
		{"set the certificate's secret", "PUT", "/secrets/c1", "", map[string]any{"value": "x"}, 403, "Forbidden", "SecretManagedByKeyVault", managedMsg("set", "secret")},
		{"update the certificate's secret", "PATCH", "/secrets/c1/" + c1Ver, "", map[string]any{"attributes": map[string]any{"enabled": false}}, 403, "Forbidden", "SecretManagedByKeyVault", managedMsg("update", "secret")},
		{"update the certificate's secret, latest", "PATCH", "/secrets/c1/", "", map[string]any{"tags": map[string]string{"a": "b"}}, 403, "Forbidden", "SecretManagedByKeyVault", managedMsg("update", "secret")},
		{"delete the certificate's secret", "DELETE", "/secrets/c1", "", nil, 403, "Forbidden", "SecretManagedByKeyVault", managedMsg("delete", "secret")},
		{"back up the certificate's secret", "POST", "/secrets/c1/backup", "", nil, 403, "Forbidden", "SecretManagedByKeyVault", managedMsg("backup", "secret")},
		{"delete the certificate's key", "DELETE", "/keys/c1", "", nil, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("delete", "Key")},
		{"update the certificate's key", "PATCH", "/keys/c1/" + c1Ver, "", map[string]any{"attributes": map[string]any{"enabled": false}}, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("update", "Key")},
		{"update the certificate's key, latest", "PATCH", "/keys/c1/", "", map[string]any{"key_ops": []string{"sign"}}, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("update", "Key")},
		{"back up the certificate's key", "POST", "/keys/c1/backup", "", nil, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("backup", "Key")},
		{"new version of the certificate's key", "POST", "/keys/c1/create", "", map[string]any{"kty": "EC"}, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("create", "Key")},
		{"import over the certificate's key", "PUT", "/keys/c1", "", map[string]any{"key": ecJWK(k2)}, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("import", "Key")},
		{"rotate the certificate's key", "POST", "/keys/c1/rotate", "", nil, 403, "Forbidden", "KeyManagedByKeyVault", managedMsg("rotate", "Key")},
		{"the certificate's key signs", "POST", "/keys/c1/sign", "", map[string]any{"alg": "ES256", "value": b64u(make([]byte, 32))}, 200, "", "", ""},
	}
	before := objectKV(t, env)
	c1Before := rawDo(t, env, "GET", kvURL(env, "/secrets/c1"+api), tok, nil, nil).Body
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := tt.token
			if tk == "" {
				tk = tok
			}
			var body []byte
			switch b := tt.body.(type) {
			case nil:
				if tt.method != "GET" && tt.method != "DELETE" {
					body = []byte("{}")
				}
			case string:
				body = []byte(b)
			default:
				body = jsonBody(t, b)
			}
			r := rawDo(t, env, tt.method, kvURL(env, tt.path+api), tk, body, nil)
			if tt.code == "" {
				if r.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
				}
				return
			}
			msg := r.wantKVError(t, tt.name, tt.status, tt.code, tt.inner)
			if tt.msg != "" && msg != tt.msg {
				t.Errorf("message %q\nwant    %q", msg, tt.msg)
			}
			if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, "right") {
				t.Errorf("message echoes request data: %q", msg)
			}
		})
	}
	after := objectKV(t, env)
	for p, n := range before {
		if after[p] != n {
			t.Errorf("refused requests stored something under %s: %d → %d", p, n, after[p])
		}
	}
	// The refused updates changed nothing in place either.
	if got := rawDo(t, env, "GET", kvURL(env, "/secrets/c1"+api), tok, nil, nil).Body; string(got) != string(c1Before) {
		t.Errorf("the certificate's secret changed:\n%s\nwas\n%s", got, c1Before)
	}
}

// managedMsg is Key Vault's refusal text for an operation on a
// certificate's secret ("secret") or key ("Key") through their own API.
func managedMsg(op, noun string) string {
	return `Operation "` + op + `" is not allowed on this ` + noun + `, since it is associated with a certificate. ` +
		`Perform the operation on the corresponding certificate. For more information refer to ` +
		`https://docs.microsoft.com/en-us/azure/key-vault/certificates/about-certificates#composition-of-a-certificate`
}

// ecJWK is k as a JWK with its private part, for an import.
func ecJWK(k *ecdsa.PrivateKey) map[string]any {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	d, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64u(pub[1:33]), "y": b64u(pub[33:]), "d": b64u(d)}
}

// TestRawCertificateShapes checks the JSON Azure's clients parse: the 202
// of a create with its Location, the completed operation, and the bundle.
func TestRawCertificateShapes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.5"
	r := rawDo(t, env, "POST", kvURL(env, "/certificates/shape/create"+api), tok, jsonBody(t, selfPolicy("shape")), nil)
	if r.Status != 202 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	op := r.obj(t)
	if op["status"] != "inProgress" || op["status_details"] == nil || op["cancellation_requested"] != false || op["csr"] == nil || op["request_id"] == nil {
		t.Fatalf("202 body %s", r.Body)
	}
	if loc := r.Header.Get("Location"); !strings.HasSuffix(strings.SplitN(loc, "?", 2)[0], "/certificates/shape/pending") || !strings.Contains(loc, "request_id="+op["request_id"].(string)) {
		t.Fatalf("Location %q", loc)
	}
	r = rawDo(t, env, "GET", kvURL(env, "/certificates/shape/pending"+api), tok, nil, nil)
	done := r.obj(t)
	if done["status"] != "completed" || !strings.HasSuffix(done["target"].(string), "/certificates/shape") {
		t.Fatalf("pending: %s", r.Body)
	}
	r = rawDo(t, env, "GET", kvURL(env, "/certificates/shape"+api), tok, nil, nil)
	b := r.obj(t)
	for _, k := range []string{"id", "kid", "sid", "x5t", "cer", "attributes", "policy"} {
		if b[k] == nil {
			t.Fatalf("bundle lacks %s: %s", k, r.Body)
		}
	}
	if strings.ContainsAny(b["x5t"].(string), "+/=") {
		t.Fatalf("x5t is not base64url: %s", b["x5t"])
	}
	pol := b["policy"].(map[string]any)
	for _, k := range []string{"id", "key_props", "secret_props", "x509_props", "lifetime_actions", "issuer", "attributes"} {
		if pol[k] == nil {
			t.Fatalf("policy lacks %s: %s", k, r.Body)
		}
	}
	if pol["secret_props"].(map[string]any)["contentType"] != "application/x-pkcs12" {
		t.Fatalf("default content type: %v", pol["secret_props"])
	}
	attrs := b["attributes"].(map[string]any)
	if attrs["recoveryLevel"] == nil || attrs["nbf"] == nil || attrs["exp"] == nil {
		t.Fatalf("attributes %v", attrs)
	}
}
