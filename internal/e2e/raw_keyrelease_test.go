package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestRawKeyRelease: POST /keys/{name}[/{version}]/release is routed,
// authorized with the release permission, validated (target required, key
// and version must exist) and then refused, since Coffer trusts no
// attestation service: a non-exportable key with a 400, an exportable one
// with a 403. Nothing is released or stored.
func TestRawKeyRelease(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.5"
	policyData := b64u([]byte(`{"version":"1.0.0","anyOf":[{"authority":"https://attest.example","allOf":[{"claim":"x-ms-sevsnpvm-is-debuggable","equals":false}]}]}`))
	for name, body := range map[string]map[string]any{
		"plain": {"kty": "RSA"},
		"exportable": {"kty": "RSA-HSM", "attributes": map[string]any{"exportable": true},
			"release_policy": map[string]any{"contentType": "application/json; charset=utf-8", "data": policyData}},
	} {
		if r := rawDo(t, env, "POST", kvURL(env, "/keys/"+name+"/create"+api), tok, jsonBody(t, body), nil); r.Status != http.StatusOK {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
	}
	appID, secret := createServicePrincipal(t, env, "secrets-only-release")
	p, err := env.Store.GetPrincipalByAppID(context.Background(), appID)
	if err != nil {
		t.Fatal(err)
	}
	grantSecrets(t, env, p.ObjectID, "all")
	secretsTok := clientToken(t, env, appID, secret, vaultScope)
	target := map[string]any{"target": "eyJhbGciOiJub25lIn0.e30."}
	tests := []struct {
		name, path, token string
		body              any
		status            int
		code, inner       string
	}{
		{"no release permission", "/keys/exportable/release", secretsTok, target, 403, "Forbidden", "AccessDenied"},
		{"missing target", "/keys/exportable/release", "", map[string]any{}, 400, "BadParameter", ""},
		{"unknown key", "/keys/nope/release", "", target, 404, "KeyNotFound", ""},
		{"unknown version", "/keys/exportable/0123456789abcdef0123456789abcdef/release", "", target, 404, "KeyNotFound", ""},
		{"not exportable", "/keys/plain/release", "", target, 400, "BadParameter", ""},
		{"exportable, token unverifiable", "/keys/exportable/release", "", target, 403, "Forbidden", ""},
	}
	recs, mats := keyKV(t, env)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := tt.token
			if tk == "" {
				tk = tok
			}
			r := rawDo(t, env, "POST", kvURL(env, tt.path+api), tk, jsonBody(t, tt.body), nil)
			r.wantKVError(t, tt.name, tt.status, tt.code, tt.inner)
		})
	}
	if r, m := keyKV(t, env); r != recs || m != mats {
		t.Fatalf("refused releases stored something: records %d→%d, material %d→%d", recs, r, mats, m)
	}
}
