package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// keyOp is one key operation of the authorization matrix: its access-policy
// permission, its RBAC dataAction, and how to perform it on a fixture.
type keyOp struct {
	name, perm, action string
	run                func(fx *keyFixture, tok string) *rawResp
}

// keyFixture is what one identity's key operations run against, prepared
// by the admin: a live RSA key with a ciphertext and a signature, a key to
// delete, soft-deleted keys to get, recover and purge, and a backup blob of
// a purged key to restore.
type keyFixture struct {
	w                                  *azWorld
	vault, sfx                         string
	live, del, gone, rec, pur, restore string
	ct, sig, blob                      string
	digest                             string
}

const keyAPI = "?api-version=7.5"

func (fx *keyFixture) do(t *testing.T, method, path, tok string, body any) *rawResp {
	t.Helper()
	var b []byte
	if body != nil {
		b = jsonBody(t, body)
	} else if method != "GET" && method != "DELETE" {
		b = []byte("{}")
	}
	return fx.w.kv(t, method, fx.vault, path+keyAPI, tok, b)
}

func (w *azWorld) prepareKeys(t *testing.T, vault, sfx, adminTok string) *keyFixture {
	t.Helper()
	fx := &keyFixture{w: w, vault: vault, sfx: sfx, live: "live-" + sfx, del: "del-" + sfx, gone: "gone-" + sfx,
		rec: "rec-" + sfx, pur: "pur-" + sfx, restore: "rst-" + sfx, digest: b64u(make([]byte, 32))}
	ok := func(r *rawResp, what string) *rawResp {
		t.Helper()
		if r.Status/100 != 2 {
			t.Fatalf("admin %s: %d %s", what, r.Status, r.Body)
		}
		return r
	}
	ok(fx.do(t, "POST", "/keys/"+fx.live+"/create", adminTok, map[string]any{"kty": "RSA"}), "create live")
	for _, n := range []string{fx.del, fx.gone, fx.rec, fx.pur, fx.restore} {
		ok(fx.do(t, "POST", "/keys/"+n+"/create", adminTok, map[string]any{"kty": "EC"}), "create "+n)
	}
	var blob struct{ Value string }
	ok(fx.do(t, "POST", "/keys/"+fx.restore+"/backup", adminTok, nil), "backup").jsonInto(t, &blob)
	fx.blob = blob.Value
	for _, n := range []string{fx.gone, fx.rec, fx.pur, fx.restore} {
		ok(fx.do(t, "DELETE", "/keys/"+n, adminTok, nil), "delete "+n)
	}
	ok(fx.do(t, "DELETE", "/deletedkeys/"+fx.restore, adminTok, nil), "purge "+fx.restore)
	var res struct{ Value string }
	ok(fx.do(t, "POST", "/keys/"+fx.live+"/encrypt", adminTok, map[string]any{"alg": "RSA-OAEP-256", "value": fx.digest}), "encrypt").jsonInto(t, &res)
	fx.ct = res.Value
	ok(fx.do(t, "POST", "/keys/"+fx.live+"/sign", adminTok, map[string]any{"alg": "RS256", "value": fx.digest}), "sign").jsonInto(t, &res)
	fx.sig = res.Value
	return fx
}

func keyOps(t *testing.T) []keyOp {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b64u(ecPoint(t, ek)[1:33]),
		"y": b64u(ecPoint(t, ek)[33:]), "d": b64u(ecScalar(t, ek))}
	const kp = "Microsoft.KeyVault/vaults/keys/"
	op := func(name, perm, action, method string, path func(*keyFixture) string, body func(*keyFixture) any) keyOp {
		return keyOp{name, perm, action, func(fx *keyFixture, tok string) *rawResp {
			var b any
			if body != nil {
				b = body(fx)
			}
			return fx.do(t, method, path(fx), tok, b)
		}}
	}
	live := func(suffix string) func(*keyFixture) string {
		return func(fx *keyFixture) string { return "/keys/" + fx.live + suffix }
	}
	cryptoBody := func(alg string, val func(*keyFixture) string) func(*keyFixture) any {
		return func(fx *keyFixture) any { return map[string]any{"alg": alg, "value": val(fx)} }
	}
	digest := func(fx *keyFixture) string { return fx.digest }
	ct := func(fx *keyFixture) string { return fx.ct }
	return []keyOp{
		op("get", "get", kp+"read", "GET", live(""), nil),
		op("list", "list", kp+"read", "GET", func(*keyFixture) string { return "/keys" }, nil),
		op("versions", "list", kp+"read", "GET", live("/versions"), nil),
		op("create", "create", kp+"create/action", "POST", func(fx *keyFixture) string { return "/keys/new-" + fx.sfx + "/create" },
			func(*keyFixture) any { return map[string]any{"kty": "EC"} }),
		op("import", "import", kp+"import/action", "PUT", func(fx *keyFixture) string { return "/keys/imp-" + fx.sfx },
			func(*keyFixture) any { return map[string]any{"key": jwk} }),
		op("update", "update", kp+"update/action", "PATCH", live(""), func(*keyFixture) any { return map[string]any{"tags": map[string]string{"a": "b"}} }),
		op("delete", "delete", kp+"delete", "DELETE", func(fx *keyFixture) string { return "/keys/" + fx.del }, nil),
		op("get deleted", "get", kp+"read", "GET", func(fx *keyFixture) string { return "/deletedkeys/" + fx.gone }, nil),
		op("recover", "recover", kp+"recover/action", "POST", func(fx *keyFixture) string { return "/deletedkeys/" + fx.rec + "/recover" }, nil),
		op("purge", "purge", kp+"purge/action", "DELETE", func(fx *keyFixture) string { return "/deletedkeys/" + fx.pur }, nil),
		op("backup", "backup", kp+"backup/action", "POST", live("/backup"), nil),
		op("restore", "restore", kp+"restore/action", "POST", func(*keyFixture) string { return "/keys/restore" },
			func(fx *keyFixture) any { return map[string]any{"value": fx.blob} }),
		op("encrypt", "encrypt", kp+"encrypt/action", "POST", live("/encrypt"), cryptoBody("RSA-OAEP-256", digest)),
		op("decrypt", "decrypt", kp+"decrypt/action", "POST", live("/decrypt"), cryptoBody("RSA-OAEP-256", ct)),
		op("wrapKey", "wrapKey", kp+"wrap/action", "POST", live("/wrapkey"), cryptoBody("RSA-OAEP-256", digest)),
		op("unwrapKey", "unwrapKey", kp+"unwrap/action", "POST", live("/unwrapkey"), cryptoBody("RSA-OAEP-256", ct)),
		op("sign", "sign", kp+"sign/action", "POST", live("/sign"), cryptoBody("RS256", digest)),
		op("verify", "verify", kp+"verify/action", "POST", live("/verify"),
			func(fx *keyFixture) any { return map[string]any{"alg": "RS256", "digest": fx.digest, "value": fx.sig} }),
		op("rotate", "rotate", kp+"rotate/action", "POST", live("/rotate"), nil),
		op("get rotation policy", "getrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/read", "GET", live("/rotationpolicy"), nil),
		op("set rotation policy", "setrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/write", "PUT", live("/rotationpolicy"),
			func(*keyFixture) any {
				return map[string]any{"lifetimeActions": []any{map[string]any{"trigger": map[string]any{"timeBeforeExpiry": "P30D"}, "action": map[string]any{"type": "Notify"}}},
					"attributes": map[string]any{"expiryTime": "P1Y"}}
			}),
	}
}

func opNames(ops []keyOp) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.name)
	}
	return out
}

// checkKeyOps runs every operation as p and compares with allowed; denials
// must be Azure's 403 for the vault's permission model.
func (w *azWorld) checkKeyOps(t *testing.T, ops []keyOp, fx *keyFixture, p azPrincipal, allowed []string, rbac bool) {
	t.Helper()
	tok := w.token(t, p, vaultScope)
	for _, o := range ops {
		r := o.run(fx, tok)
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
		case !rbac && (inner != "AccessDenied" || !strings.Contains(msg, " does not have keys "+o.perm+" permission on key vault '"+fx.vault+";location="+authzLocation+"'")):
			t.Errorf("%s: %s: access-policy denial %s %q", p.Name, o.name, inner, msg)
		}
	}
}

func keyPolicyEntry(tenant, objectID string, keys []string, secrets []string) map[string]any {
	perms := map[string]any{}
	if keys != nil {
		perms["keys"] = keys
	}
	if secrets != nil {
		perms["secrets"] = secrets
	}
	return map[string]any{"tenantId": tenant, "objectId": objectID, "permissions": perms}
}

func TestKeyAccessPolicyMatrix(t *testing.T) {
	w := newAzWorld(t)
	const vault = "kv-keys-ap"
	w.createVault(t, vault, false)
	w.addPolicy(t, w.armTok, vault, keyPolicyEntry(w.tenant, w.adminOID, []string{"all"}, []string{"all"})).expect(t, "admin key policy", http.StatusOK)
	adminTok := clientToken(t, w.env, w.env.Admin.ClientID, w.env.Admin.ClientSecret, vaultScope)
	ops := keyOps(t)
	all := opNames(ops)
	cases := []struct {
		name    string
		keys    []string
		secrets []string
		allowed []string
	}{
		{"get-sign", []string{"get", "sign"}, nil, []string{"get", "get deleted", "sign"}},
		{"cmk", []string{"Get", "WrapKey", "UnwrapKey"}, nil, []string{"get", "get deleted", "wrapKey", "unwrapKey"}},
		{"rotation", []string{"list", "getrotationpolicy", "setrotationpolicy", "rotate"}, nil, []string{"list", "versions", "get rotation policy", "set rotation policy", "rotate"}},
		{"secrets-only", nil, []string{"all"}, nil},
		{"keys-all", []string{"all"}, nil, all},
		{"every-perm", []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore", "decrypt", "encrypt",
			"unwrapKey", "wrapKey", "verify", "sign", "purge", "rotate", "getrotationpolicy", "setrotationpolicy"}, nil, all},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := w.newPrincipal(t, "ap-"+c.name)
			w.addPolicy(t, w.armTok, vault, keyPolicyEntry(w.tenant, p.ObjectID, c.keys, c.secrets)).expect(t, "policy", http.StatusOK)
			fx := w.prepareKeys(t, vault, c.name, adminTok)
			w.checkKeyOps(t, ops, fx, p, c.allowed, false)
		})
	}
}

func TestKeyRBACMatrix(t *testing.T) {
	w := newAzWorld(t)
	const vault = "kv-keys-rbac"
	w.createVault(t, vault, true)
	adminTok := clientToken(t, w.env, w.env.Admin.ClientID, w.env.Admin.ClientSecret, vaultScope)
	ops := keyOps(t)
	all := opNames(ops)
	reads := []string{"get", "list", "versions", "get deleted"}
	cases := []struct {
		name, role string
		allowed    []string
	}{
		{"crypto-officer", roleCryptoOfficer, all},
		{"administrator", roleKVAdministrator, all},
		{"crypto-user", "12338af0-0e69-4776-bea7-57ae8d297424", append(slices.Clone(reads), "update", "backup", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify")},
		{"service-encryption", "e147488a-f6f5-4113-8e2d-b22465e65bf6", append(slices.Clone(reads), "wrapKey", "unwrapKey")},
		{"reader", roleKVReader, append(slices.Clone(reads), "get rotation policy")},
		{"secrets-officer", roleSecretsOfficer, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := w.newPrincipal(t, "rbac-"+c.name)
			w.assignRole(t, w.armTok, w.vaultID(vault), c.role, p.ObjectID).expect(t, "assign", http.StatusCreated)
			fx := w.prepareKeys(t, vault, c.name, adminTok)
			w.checkKeyOps(t, ops, fx, p, c.allowed, true)
		})
	}
	// A role assigned at one key's scope covers that key only.
	t.Run("key scope", func(t *testing.T) {
		p := w.newPrincipal(t, "rbac-key-scope")
		fx := w.prepareKeys(t, vault, "scoped", adminTok)
		w.assignRole(t, w.armTok, w.vaultID(vault)+"/keys/"+fx.live, roleCryptoOfficer, p.ObjectID).expect(t, "assign", http.StatusCreated)
		tok := w.token(t, p, vaultScope)
		if r := fx.do(t, "POST", "/keys/"+fx.live+"/sign", tok, map[string]any{"alg": "RS256", "value": fx.digest}); r.Status != http.StatusOK {
			t.Fatalf("sign on the scoped key: %d %s", r.Status, r.Body)
		}
		r := fx.do(t, "GET", "/keys/"+fx.del, tok, nil)
		if r.Status != http.StatusForbidden {
			t.Fatalf("get another key: %d", r.Status)
		}
		var e struct{ Error struct{ Message string } }
		_ = json.Unmarshal(r.Body, &e)
		if !strings.Contains(e.Error.Message, "Resource: '"+strings.ToLower(w.vaultID(vault))+"/keys/"+fx.del+"'") {
			t.Fatalf("denial names the wrong resource: %q", e.Error.Message)
		}
	})
}
