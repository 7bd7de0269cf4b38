package e2e

import (
	"cmp"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/model"
)

// TestAuthzAccessPolicy is the access-policy matrix (azure-wire-spec §1.5,
// §2.3): for each secret permission alone, a fresh service principal
// created through Graph and granted that one permission through ARM can do
// exactly the operations it allows with the unmodified azsecrets client;
// every other operation is 403 Forbidden/AccessDenied naming the caller and
// the missing permission (§1.9). Then "all", permission names in another
// case, the Secret Management template, compound identities and policies
// for another tenant.
func TestAuthzAccessPolicy(t *testing.T) {
	w := newAzWorld(t)
	const vault = "authz-policy"
	w.createVault(t, vault, false)

	self := func(p azPrincipal) string { return p.AppID }
	otherApp := func(azPrincipal) string { return uuid.NewString() }
	withoutPurge := slices.DeleteFunc(allOpNames(), func(n string) bool { return n == "purge" })
	tests := []struct {
		name    string
		perms   []string
		appID   func(azPrincipal) string // compound identity: applicationId of the entry
		tenant  string                   // entry's tenant; "" = the vault's
		allowed []string
	}{
		{name: "get", perms: []string{"get"}, allowed: []string{"get", "get-deleted"}},
		{name: "list", perms: []string{"list"}, allowed: []string{"list", "versions", "list-deleted"}},
		{name: "set", perms: []string{"set"}, allowed: []string{"set", "update"}},
		{name: "delete", perms: []string{"delete"}, allowed: []string{"delete"}},
		{name: "backup", perms: []string{"backup"}, allowed: []string{"backup"}},
		{name: "restore", perms: []string{"restore"}, allowed: []string{"restore"}},
		{name: "recover", perms: []string{"recover"}, allowed: []string{"recover"}},
		{name: "purge", perms: []string{"purge"}, allowed: []string{"purge"}},
		{name: "all", perms: []string{"all"}, allowed: allOpNames()},
		{name: "mixed case", perms: []string{"Get", "LIST"}, allowed: []string{"get", "get-deleted", "list", "versions", "list-deleted"}},
		{name: "secret management template", perms: model.SecretManagementTemplate, allowed: withoutPurge},
		{name: "compound identity", perms: []string{"all"}, appID: self, allowed: allOpNames()},
		{name: "compound identity other app", perms: []string{"all"}, appID: otherApp, allowed: nil},
		{name: "other tenant", perms: []string{"all"}, tenant: uuid.NewString(), allowed: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := w.newPrincipal(t, "authz "+tt.name)
			appID := ""
			if tt.appID != nil {
				appID = tt.appID(p)
			}
			w.addPolicy(t, w.armTok, vault, policyEntry(cmp.Or(tt.tenant, w.tenant), p.ObjectID, appID, tt.perms...)).
				expect(t, "add access policy", http.StatusOK)
			fx := w.prepare(t, vault, secretSuffix(tt.name))
			w.checkOps(t, p, fx, tt.allowed, deniedByPolicy)
		})
	}
}

// TestAuthzAccessPolicyChanges: permissions take effect at once when the
// policy changes through ARM, without a new token: granted by add, taken
// away by remove.
func TestAuthzAccessPolicyChanges(t *testing.T) {
	w := newAzWorld(t)
	const vault = "authz-policy-change"
	w.createVault(t, vault, false)
	p := w.newPrincipal(t, "authz changes")
	fx := w.prepare(t, vault, "changes")
	tok := w.token(t, p, vaultScope)
	get := "/secrets/" + fx.live + "?api-version=7.6"

	msg := w.kv(t, "GET", vault, get, tok, nil).wantKVError(t, "get before grant", http.StatusForbidden, "Forbidden", "AccessDenied")
	if want := w.accessDeniedMsg(p, "get", vault); msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	w.addPolicy(t, w.armTok, vault, policyEntry(w.tenant, p.ObjectID, "", "get")).expect(t, "add", http.StatusOK)
	if r := w.kv(t, "GET", vault, get, tok, nil); r.Status != http.StatusOK {
		t.Fatalf("get after grant = %d %s", r.Status, r.Body)
	}
	w.arm(t, "PUT", w.vaultID(vault)+"/accessPolicies/remove", vaultsAPI, w.armTok,
		map[string]any{"properties": map[string]any{"accessPolicies": []any{policyEntry(w.tenant, p.ObjectID, "", "get")}}}).
		expect(t, "remove", http.StatusOK)
	w.kv(t, "GET", vault, get, tok, nil).wantKVError(t, "get after remove", http.StatusForbidden, "Forbidden", "AccessDenied")
}
