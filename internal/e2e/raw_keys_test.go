package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testenv"
)

// keyKV counts the stored key records and key material entries, to prove
// that a refused request stored nothing.
func keyKV(t *testing.T, env *testenv.Env) (records, material int) {
	t.Helper()
	r, err := env.Store.KV().List(context.Background(), "keys/")
	if err != nil {
		t.Fatal(err)
	}
	m, err := env.Store.KV().List(context.Background(), "keymaterial/")
	if err != nil {
		t.Fatal(err)
	}
	return len(r), len(m)
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestRawKeyErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.5"
	post := func(path string, body any) *rawResp {
		return rawDo(t, env, "POST", kvURL(env, path+api), tok, jsonBody(t, body), nil)
	}
	past, future := time.Now().Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix()
	for name, body := range map[string]map[string]any{
		"rk": {"kty": "RSA"},
		"ek": {"kty": "EC", "crv": "P-256"},
		"dk": {"kty": "RSA", "attributes": map[string]any{"enabled": false}},
		"xk": {"kty": "RSA", "attributes": map[string]any{"exp": past}},
		"fk": {"kty": "RSA", "attributes": map[string]any{"nbf": future}},
		"vk": {"kty": "RSA", "key_ops": []string{"verify", "encrypt"}},
	} {
		if r := post("/keys/"+name+"/create", body); r.Status != http.StatusOK {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
	}
	// A ciphertext for rk, for the decrypt rows.
	var enc struct{ Value string }
	if err := json.Unmarshal(post("/keys/dk/encrypt", map[string]any{"alg": "RSA-OAEP", "value": b64u([]byte("x"))}).Body, &enc); err != nil || enc.Value == "" {
		t.Fatalf("encrypt with a disabled key must work (public operation): %v", err)
	}

	appID, secret := createServicePrincipal(t, env, "secrets-only")
	p, err := env.Store.GetPrincipalByAppID(context.Background(), appID)
	if err != nil {
		t.Fatal(err)
	}
	grantSecrets(t, env, p.ObjectID, "all")
	secretsTok := clientToken(t, env, appID, secret, vaultScope)
	denied := "The user, group or application 'appid=" + appID + ";oid=" + p.ObjectID + ";iss=https://sts.windows.net/" +
		env.Instance.TenantID + "/' does not have keys %s permission on key vault 'default;location=local'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"

	d32 := b64u(make([]byte, 32))
	huge := strings.Repeat("A", 300<<10)
	tests := []struct {
		name, method, path string
		token              string // "" = admin
		body               any
		status             int
		code, inner, msg   string // msg: exact when non-empty
	}{
		{"unknown key", "GET", "/keys/nope", "", nil, 404, "KeyNotFound", "",
			"A key with (name/id) nope was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"},
		{"unknown version", "GET", "/keys/rk/0123456789abcdef0123456789abcdef", "", nil, 404, "KeyNotFound", "", ""},
		{"unknown key sign", "POST", "/keys/nope/sign", "", map[string]any{"alg": "RS256", "value": d32}, 404, "KeyNotFound", "", ""},
		{"unknown deleted key", "GET", "/deletedkeys/nope", "", nil, 404, "KeyNotFound", "", "Deleted Key not found: nope"},
		{"disabled sign", "POST", "/keys/dk/sign", "", map[string]any{"alg": "RS256", "value": d32}, 403, "Forbidden", "KeyDisabled", "Operation sign is not allowed on a disabled key."},
		{"disabled decrypt", "POST", "/keys/dk/decrypt", "", map[string]any{"alg": "RSA-OAEP", "value": enc.Value}, 403, "Forbidden", "KeyDisabled", "Operation decrypt is not allowed on a disabled key."},
		{"disabled unwrap", "POST", "/keys/dk/unwrapkey", "", map[string]any{"alg": "RSA-OAEP", "value": enc.Value}, 403, "Forbidden", "KeyDisabled", "Operation unwrapKey is not allowed on a disabled key."},
		{"disabled get works", "GET", "/keys/dk", "", nil, 200, "", "", ""},
		{"expired sign", "POST", "/keys/xk/sign", "", map[string]any{"alg": "RS256", "value": d32}, 403, "Forbidden", "KeyExpired", "Operation sign is not allowed on an expired key."},
		{"expired wrap", "POST", "/keys/xk/wrapkey", "", map[string]any{"alg": "RSA-OAEP", "value": d32}, 403, "Forbidden", "KeyExpired", ""},
		{"expired verify works", "POST", "/keys/xk/verify", "", map[string]any{"alg": "RS256", "digest": d32, "value": b64u(make([]byte, 256))}, 200, "", "", ""},
		{"not yet valid encrypt", "POST", "/keys/fk/encrypt", "", map[string]any{"alg": "RSA-OAEP", "value": d32}, 403, "Forbidden", "KeyNotYetValid", ""},
		{"op not in key_ops", "POST", "/keys/vk/sign", "", map[string]any{"alg": "RS256", "value": d32}, 403, "Forbidden", "KeyOperationForbidden", "Operation sign is not permitted on this key."},
		{"wrapKey not in key_ops", "POST", "/keys/vk/wrapkey", "", map[string]any{"alg": "RSA-OAEP", "value": d32}, 403, "Forbidden", "KeyOperationForbidden", "Operation wrapKey is not permitted on this key."},
		{"ES256 on RSA", "POST", "/keys/rk/sign", "", map[string]any{"alg": "ES256", "value": d32}, 400, "BadParameter", "", "Algorithm 'ES256' is not supported for key type 'RSA'."},
		{"RS256 on EC", "POST", "/keys/ek/sign", "", map[string]any{"alg": "RS256", "value": d32}, 400, "BadParameter", "", ""},
		{"ES384 on P-256", "POST", "/keys/ek/sign", "", map[string]any{"alg": "ES384", "value": b64u(make([]byte, 48))}, 400, "BadParameter", "", ""},
		{"unknown alg", "POST", "/keys/rk/encrypt", "", map[string]any{"alg": "RSA-OAEP-512", "value": d32}, 400, "BadParameter", "", "Invalid algorithm 'RSA-OAEP-512'."},
		{"AES alg on RSA", "POST", "/keys/rk/wrapkey", "", map[string]any{"alg": "A256KW", "value": d32}, 400, "BadParameter", "", ""},
		{"missing alg", "POST", "/keys/rk/sign", "", map[string]any{"value": d32}, 400, "BadParameter", "", "The parameter 'alg' is required."},
		{"malformed base64url", "POST", "/keys/rk/sign", "", map[string]any{"alg": "RS256", "value": "not*base64"}, 400, "BadParameter", "", "The parameter 'value' is not valid base64url."},
		{"malformed signature", "POST", "/keys/rk/verify", "", map[string]any{"alg": "RS256", "digest": d32, "value": "%%"}, 400, "BadParameter", "", ""},
		{"digest length", "POST", "/keys/rk/sign", "", map[string]any{"alg": "RS512", "value": d32}, 400, "BadParameter", "", ""},
		{"plaintext too long", "POST", "/keys/rk/encrypt", "", map[string]any{"alg": "RSA-OAEP-256", "value": b64u(make([]byte, 300))}, 400, "BadParameter", "", ""},
		{"oversized body", "POST", "/keys/rk/encrypt", "", map[string]any{"alg": "RSA-OAEP", "value": huge}, 413, "RequestBodyTooLarge", "", ""},
		{"bad ciphertext", "POST", "/keys/rk/decrypt", "", map[string]any{"alg": "RSA-OAEP", "value": d32}, 400, "BadParameter", "", ""},
		{"secrets-only get", "GET", "/keys/rk", secretsTok, nil, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "get", 1)},
		{"secrets-only list", "GET", "/keys", secretsTok, nil, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "list", 1)},
		{"secrets-only create", "POST", "/keys/new1/create", secretsTok, map[string]any{"kty": "RSA"}, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "create", 1)},
		{"secrets-only sign", "POST", "/keys/rk/sign", secretsTok, map[string]any{"alg": "RS256", "value": d32}, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "sign", 1)},
		{"secrets-only unwrap", "POST", "/keys/rk/unwrapkey", secretsTok, map[string]any{"alg": "RSA-OAEP", "value": d32}, 403, "Forbidden", "AccessDenied", strings.Replace(denied, "%s", "unwrapKey", 1)},
		{"bad kty", "POST", "/keys/new2/create", "", map[string]any{"kty": "DSA"}, 400, "BadParameter", "", ""},
		{"oct kty", "POST", "/keys/new2/create", "", map[string]any{"kty": "oct"}, 400, "BadParameter", "", ""},
		{"missing kty", "POST", "/keys/new2/create", "", map[string]any{}, 400, "BadParameter", "", ""},
		{"RSA 1024", "POST", "/keys/new2/create", "", map[string]any{"kty": "RSA", "key_size": 1024}, 400, "BadParameter", "", ""},
		{"P-256K with a key size", "POST", "/keys/new2/create", "", map[string]any{"kty": "EC", "crv": "P-256K", "key_size": 256}, 400, "BadParameter", "", ""},
		{"unknown curve", "POST", "/keys/new2/create", "", map[string]any{"kty": "EC-HSM", "crv": "P-192"}, 400, "BadParameter", "", ""},
		{"bad key_ops", "POST", "/keys/new2/create", "", map[string]any{"kty": "RSA", "key_ops": []string{"fly"}}, 400, "BadParameter", "", ""},
		{"too many tags", "POST", "/keys/new2/create", "", map[string]any{"kty": "EC", "tags": manyTags(16, 1)}, 400, "BadParameter", "", ""},
		{"invalid name", "POST", "/keys/bad_name/create", "", map[string]any{"kty": "EC"}, 400, "BadParameter", "", ""},
		{"import public only", "PUT", "/keys/new3", "", map[string]any{"key": map[string]any{"kty": "EC", "crv": "P-256", "x": d32, "y": d32}}, 400, "BadParameter", "", ""},
		{"import no key", "PUT", "/keys/new3", "", map[string]any{"tags": map[string]string{}}, 400, "BadParameter", "", ""},
		{"import bad point", "PUT", "/keys/new3", "", map[string]any{"key": map[string]any{"kty": "EC", "crv": "P-256", "x": d32, "y": d32, "d": b64u([]byte{1})}}, 400, "BadParameter", "", ""},
		{"rotate unknown", "POST", "/keys/nope/rotate", "", nil, 404, "KeyNotFound", "", ""},
		{"bad rotation policy", "PUT", "/keys/rk/rotationpolicy", "", map[string]any{"lifetimeActions": []any{map[string]any{"trigger": map[string]any{}, "action": map[string]any{"type": "Rotate"}}}}, 400, "BadParameter", "", ""},
		{"bad rotation action", "PUT", "/keys/rk/rotationpolicy", "", map[string]any{"lifetimeActions": []any{map[string]any{"trigger": map[string]any{"timeAfterCreate": "P1D"}, "action": map[string]any{"type": "Explode"}}}}, 400, "BadParameter", "", ""},
		{"restore garbage", "POST", "/keys/restore", "", map[string]any{"value": b64u([]byte("not a backup"))}, 400, "BadParameter", "", ""},
		{"update unknown", "PATCH", "/keys/nope", "", map[string]any{"tags": map[string]string{"a": "b"}}, 404, "KeyNotFound", "", ""},
		{"wrong method", "GET", "/keys/rk/create", "", nil, 405, "BadParameter", "", ""},
	}
	recs, mats := keyKV(t, env)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := tt.token
			if tk == "" {
				tk = tok
			}
			var body []byte
			if tt.body != nil {
				body = jsonBody(t, tt.body)
			} else if tt.method != "GET" {
				body = []byte("{}")
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
			if strings.Contains(msg, "AAAA") {
				t.Errorf("message echoes request data: %q", msg)
			}
		})
	}
	if r, m := keyKV(t, env); r != recs || m != mats {
		t.Fatalf("refused requests stored something: records %d→%d, material %d→%d", recs, r, mats, m)
	}
}

// TestRawKeyPaging: key lists and version lists page with maxresults and a
// nextLink that the client follows as is; a version added between two
// pages neither repeats nor hides a version already listed.
func TestRawKeyPaging(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	create := func(name string) {
		t.Helper()
		if r := rawDo(t, env, "POST", kvURL(env, "/keys/"+name+"/create?api-version=7.5"), tok, []byte(`{"kty":"EC"}`), nil); r.Status != http.StatusOK {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
	}
	for i := range 12 {
		create("page-" + string(rune('a'+i)))
	}
	kids := func(first string) []string {
		var out []string
		next := first
		for pages := 0; next != ""; pages++ {
			if pages > 50 {
				t.Fatal("paging does not end")
			}
			r := rawDo(t, env, "GET", next, tok, nil, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
			}
			var page struct {
				Value []struct {
					Kid string `json:"kid"`
				} `json:"value"`
				NextLink *string `json:"nextLink"`
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Value) > 5 {
				t.Fatalf("page of %d items, maxresults 5", len(page.Value))
			}
			for _, v := range page.Value {
				out = append(out, v.Kid)
			}
			next = ""
			if page.NextLink != nil {
				next = *page.NextLink
			}
			if pages == 0 && strings.Contains(first, "/versions") {
				create("page-a") // a new version between two pages
			}
		}
		return out
	}
	if got := kids(kvURL(env, "/keys?api-version=7.5&maxresults=5")); len(got) != 12 {
		t.Fatalf("listed %d keys, want 12: %v", len(got), got)
	}
	for range 9 {
		create("page-a")
	}
	got := kids(kvURL(env, "/keys/page-a/versions?api-version=7.5&maxresults=5"))
	seen := map[string]bool{}
	for _, k := range got {
		if seen[k] {
			t.Fatalf("version %s listed twice", k)
		}
		seen[k] = true
	}
	if len(got) != 10 {
		t.Fatalf("listed %d versions, want the 10 that existed when listing began: %v", len(got), got)
	}
	r := rawDo(t, env, "GET", kvURL(env, "/keys?api-version=7.5&maxresults=26"), tok, nil, nil)
	r.wantKVError(t, "maxresults 26", http.StatusBadRequest, "BadParameter", "")
}
