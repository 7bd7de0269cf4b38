package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// TestRawKeyProtectionBySKU: HSM-protected keys and secure key release
// need a premium vault, as in Key Vault. A standard vault refuses an -HSM
// key type (create, or import with "hsm": true) and the exportable
// attribute; a premium vault refuses an exportable key without a release
// policy, a release policy on a non-exportable key, an exportable software
// key, and a change to an immutable release policy. Nothing is stored on a
// refusal.
//
// Which texts are Key Vault's own: "Hardware key operation not allowed on
// standard vault" (az and Azure PowerShell output; 403 as PowerShell
// reports, the error code "Forbidden" a best guess), AKV.SKR.1001 (the
// Azure .NET SDK's test of Key Vault's answer), AKV.SKR.1004, 1005 and 1020
// (recorded answers in the Azure JS SDK's tests). AKV.SKR.1006's code is
// Key Vault's, its text a best guess.
func TestRawKeyProtectionBySKU(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.5"
	ctx := context.Background()
	all := []string{model.PermAll}
	if _, _, err := env.Vaults.CreateOrUpdateVault(ctx, env.Instance.SubscriptionID, env.Instance.DefaultGroup, "std", vaults.VaultSpec{
		Location: "local", TenantID: env.Instance.TenantID, SKU: "standard",
		AccessPolicies: []model.AccessPolicy{{TenantID: env.Instance.TenantID, ObjectID: env.Instance.AdminObjectID,
			Permissions: model.Permissions{Keys: all, Secrets: all, Certificates: all}}},
	}, "test", false); err != nil {
		t.Fatal(err)
	}
	std := func(path string) string { return strings.TrimSuffix(env.VaultURL("std"), "/") + path }

	policy := map[string]any{"contentType": "application/json; charset=utf-8",
		"data": b64u([]byte(`{"version":"1.0.0","anyOf":[{"authority":"https://attest.example","allOf":[{"claim":"x","equals":true}]}]}`))}
	immutable := map[string]any{"contentType": policy["contentType"], "data": policy["data"], "immutable": true}
	exportable := map[string]any{"exportable": true}
	for name, body := range map[string]map[string]any{
		"plain":  {"kty": "RSA"},
		"frozen": {"kty": "EC-HSM", "attributes": exportable, "release_policy": immutable},
	} {
		if r := rawDo(t, env, "POST", kvURL(env, "/keys/"+name+"/create"+api), tok, jsonBody(t, body), nil); r.Status != http.StatusOK {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := ecJWK(ek)

	tests := []struct {
		name, method, url string
		body              any
		status            int
		code, msg         string
	}{
		{"standard: RSA-HSM", "POST", std("/keys/k1/create"), map[string]any{"kty": "RSA-HSM"}, 403, "Forbidden",
			"Hardware key operation not allowed on standard vault"},
		{"standard: EC-HSM", "POST", std("/keys/k1/create"), map[string]any{"kty": "EC-HSM", "crv": "P-256"}, 403, "Forbidden",
			"Hardware key operation not allowed on standard vault"},
		{"standard: import to HSM", "PUT", std("/keys/k1"), map[string]any{"key": k, "hsm": true}, 403, "Forbidden",
			"Hardware key operation not allowed on standard vault"},
		{"standard: certificate with an RSA-HSM key", "POST", std("/certificates/c1/create"), map[string]any{"policy": map[string]any{
			"key_props": map[string]any{"kty": "RSA-HSM", "key_size": 2048}, "x509_props": map[string]any{"subject": "CN=x"}, "issuer": map[string]any{"name": "Self"}}},
			403, "Forbidden", "Hardware key operation not allowed on standard vault"},
		{"standard: exportable", "POST", std("/keys/k1/create"), map[string]any{"kty": "RSA", "attributes": exportable, "release_policy": policy}, 400, "BadParameter",
			"AKV.SKR.1001: The exportable attribute is only supported with premium vaults and API version >= '7.3-preview'."},
		{"standard: release policy without exportable", "POST", std("/keys/k1/create"), map[string]any{"kty": "RSA", "release_policy": policy}, 400, "BadParameter",
			"AKV.SKR.1005: Non-exportable keys must not have release policy."},
		{"premium: exportable without policy", "POST", kvURL(env, "/keys/k1/create"), map[string]any{"kty": "RSA-HSM", "attributes": exportable}, 400, "BadParameter",
			"AKV.SKR.1004: Exportable keys must have release policy."},
		{"premium: policy without exportable", "POST", kvURL(env, "/keys/k1/create"), map[string]any{"kty": "RSA-HSM", "release_policy": policy}, 400, "BadParameter",
			"AKV.SKR.1005: Non-exportable keys must not have release policy."},
		{"premium: exportable software key", "POST", kvURL(env, "/keys/k1/create"), map[string]any{"kty": "RSA", "attributes": exportable, "release_policy": policy}, 400, "BadParameter", ""},
		{"premium: import exportable software key", "PUT", kvURL(env, "/keys/k1"), map[string]any{"key": k, "attributes": exportable, "release_policy": policy}, 400, "BadParameter", ""},
		{"premium: policy onto a non-exportable key", "PATCH", kvURL(env, "/keys/plain/"), map[string]any{"release_policy": policy}, 400, "BadParameter",
			"AKV.SKR.1005: Non-exportable keys must not have release policy."},
		{"premium: change an immutable policy", "PATCH", kvURL(env, "/keys/frozen/"), map[string]any{"release_policy": policy}, 400, "BadParameter",
			"AKV.SKR.1020: Immutable Key Release Policy cannot be modified."},
	}
	recs, mats := keyKV(t, env)
	objects := objectKV(t, env)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawDo(t, env, tt.method, tt.url+api, tok, jsonBody(t, tt.body), nil)
			msg := r.wantKVError(t, tt.name, tt.status, tt.code, "")
			if tt.msg != "" && msg != tt.msg {
				t.Errorf("message %q\nwant    %q", msg, tt.msg)
			}
			if tt.msg == "" && !strings.HasPrefix(msg, "AKV.SKR.1006: ") {
				t.Errorf("message %q, want AKV.SKR.1006", msg)
			}
		})
	}
	if r, m := keyKV(t, env); r != recs || m != mats {
		t.Fatalf("refused requests stored something: records %d→%d, material %d→%d", recs, r, mats, m)
	}
	for p, n := range objectKV(t, env) {
		if objects[p] != n {
			t.Errorf("refused requests stored something under %s: %d → %d", p, objects[p], n)
		}
	}
	// What a standard vault and a premium one accept.
	for _, ok := range []struct{ url, body string }{
		{std("/keys/soft/create"), `{"kty":"EC","crv":"P-256"}`},
		{kvURL(env, "/keys/hsm/create"), `{"kty":"RSA-HSM","attributes":{"exportable":true},"release_policy":` + string(jsonBody(t, policy)) + `}`},
	} {
		if r := rawDo(t, env, "POST", ok.url+api, tok, []byte(ok.body), nil); r.Status != http.StatusOK {
			t.Errorf("POST %s %s: %d %s", ok.url, ok.body, r.Status, r.Body)
		}
	}
}
