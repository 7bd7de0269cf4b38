package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// TestAuthzRBAC: in a vault with enableRbacAuthorization the data plane
// authorizes by role assignments inherited from parent scopes
// (azure-wire-spec §2.4), never by access policies; denials are 403
// Forbidden/ForbiddenByRbac with the message of §1.9.
func TestAuthzRBAC(t *testing.T) {
	w := newAzWorld(t)
	// One vault name is a prefix of the other: scopes must compare on
	// whole path segments.
	const vault, other = "authz-rbac", "authz-rbac-other"
	w.createVault(t, vault, true)
	w.createVault(t, other, true)

	metadata := []string{"list", "versions", "list-deleted", "get-deleted"}
	atSub := func(*opFixture) string { return w.subID() }
	atRG := func(*opFixture) string { return w.rgID() }
	atVault := func(*opFixture) string { return w.vaultID(vault) }
	tests := []struct {
		name    string
		role    string // "" = no role assignment
		scope   func(fx *opFixture) string
		policy  bool // also an access policy granting everything
		allowed []string
	}{
		{name: "secrets user at resource group", role: roleSecretsUser, scope: atRG, allowed: append([]string{"get"}, metadata...)},
		{name: "secrets officer at vault", role: roleSecretsOfficer, scope: atVault, allowed: allOpNames()},
		{name: "reader at subscription", role: roleKVReader, scope: atSub, allowed: metadata},
		{name: "administrator at vault", role: roleKVAdministrator, scope: atVault, allowed: allOpNames()},
		{name: "officer at another vault", role: roleSecretsOfficer, scope: func(*opFixture) string { return w.vaultID(other) }},
		{name: "secrets user at secret scope", role: roleSecretsUser,
			scope:   func(fx *opFixture) string { return w.vaultID(vault) + "/secrets/" + fx.live },
			allowed: []string{"get", "versions"}},
		{name: "certificate user at vault", role: roleCertificateUser, scope: atVault, allowed: append([]string{"get"}, metadata...)},
		{name: "crypto officer at vault", role: roleCryptoOfficer, scope: atVault},
		{name: "no assignment"},
		{name: "access policy only", policy: true},
		{name: "contributor at subscription", role: roleContributor, scope: atSub},
		{name: "owner at subscription", role: roleOwner, scope: atSub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := w.newPrincipal(t, "rbac "+tt.name)
			fx := w.prepare(t, vault, secretSuffix(tt.name))
			if tt.role != "" {
				w.assignRole(t, w.armTok, tt.scope(fx), tt.role, p.ObjectID).expect(t, "role assignment", http.StatusCreated)
			}
			if tt.policy {
				w.addPolicy(t, w.armTok, vault, policyEntry(w.tenant, p.ObjectID, "", "all")).expect(t, "access policy", http.StatusOK)
			}
			w.checkOps(t, p, fx, tt.allowed, deniedByRbac)
		})
	}

	// A vault-scope assignment works on its vault and on no other, in
	// both directions of the name prefix.
	for _, pair := range [][2]string{{other, vault}, {vault, other}} {
		assigned, notAssigned := pair[0], pair[1]
		t.Run("officer at "+assigned+" only", func(t *testing.T) {
			p := w.newPrincipal(t, "rbac officer "+assigned)
			w.assignRole(t, w.armTok, w.vaultID(assigned), roleSecretsOfficer, p.ObjectID).expect(t, "role assignment", http.StatusCreated)
			_, err := w.client(t, p, assigned).SetSecret(context.Background(), "there", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
			if err != nil {
				t.Fatalf("SetSecret on the assigned vault: %v", err)
			}
			_, err = w.client(t, p, notAssigned).SetSecret(context.Background(), "here", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
			wantStatus(t, "SetSecret on the other vault", err, http.StatusForbidden, "Forbidden")
		})
	}

	// A secret-scope assignment grants that secret only.
	t.Run("secret scope covers one secret", func(t *testing.T) {
		p := w.newPrincipal(t, "rbac one secret")
		fx := w.prepare(t, vault, "one-secret")
		w.assignRole(t, w.armTok, w.vaultID(vault)+"/secrets/"+fx.live, roleSecretsUser, p.ObjectID).expect(t, "role assignment", http.StatusCreated)
		tok := w.token(t, p, vaultScope)
		if r := w.kv(t, "GET", vault, "/secrets/"+fx.live+"?api-version=7.6", tok, nil); r.Status != http.StatusOK {
			t.Fatalf("GET assigned secret = %d %s", r.Status, r.Body)
		}
		// Secret names are case-insensitive, so is the scope.
		if r := w.kv(t, "GET", vault, "/secrets/LIVE-ONE-SECRET?api-version=7.6", tok, nil); r.Status != http.StatusOK {
			t.Fatalf("GET assigned secret in upper case = %d %s", r.Status, r.Body)
		}
		msg := w.kv(t, "GET", vault, "/secrets/"+fx.del+"?api-version=7.6", tok, nil).
			wantKVError(t, "GET another secret", http.StatusForbidden, "Forbidden", "ForbiddenByRbac")
		if want := w.rbacDeniedMsg(p, dataActionPrefix+"getSecret/action", vault, fx.del); msg != want {
			t.Errorf("message = %q, want %q", msg, want)
		}
	})
}

// TestAuthzControlPlaneRoles: Contributor and Owner at subscription scope
// manage vaults but get no data access in either permission model. They
// can grant themselves an access policy through ARM, which then works in an
// access-policy vault and is ignored in an RBAC vault. "Key Vault data
// permissions never leak through control-plane roles."
func TestAuthzControlPlaneRoles(t *testing.T) {
	w := newAzWorld(t)
	const apVault, rbacVault = "authz-cp-policy", "authz-cp-rbac"
	w.createVault(t, apVault, false)
	w.createVault(t, rbacVault, true)
	reads := []string{"get", "get-deleted", "list", "versions", "list-deleted"}
	for _, role := range []struct{ name, id string }{{"contributor", roleContributor}, {"owner", roleOwner}} {
		t.Run(role.name, func(t *testing.T) {
			p := w.newPrincipal(t, "control plane "+role.name)
			w.assignRole(t, w.armTok, w.subID(), role.id, p.ObjectID).expect(t, "role assignment", http.StatusCreated)
			armTok := w.token(t, p, armScope)
			for _, v := range []string{apVault, rbacVault} {
				w.arm(t, "GET", w.vaultID(v), vaultsAPI, armTok, nil).expect(t, "GET vault "+v, http.StatusOK)
			}
			fxAP := w.prepare(t, apVault, role.name)
			fxRBAC := w.prepare(t, rbacVault, role.name)
			t.Run("no data access, policy vault", func(t *testing.T) { w.checkOps(t, p, fxAP, nil, deniedByPolicy) })
			t.Run("no data access, rbac vault", func(t *testing.T) { w.checkOps(t, p, fxRBAC, nil, deniedByRbac) })

			// Grant itself get and list through ARM with its own token.
			self := policyEntry(w.tenant, p.ObjectID, "", "get", "list")
			for _, v := range []string{apVault, rbacVault} {
				w.addPolicy(t, armTok, v, self).expect(t, "self-granted access policy on "+v, http.StatusOK)
			}
			t.Run("self-granted policy, policy vault", func(t *testing.T) { w.checkOps(t, p, fxAP, reads, deniedByPolicy) })
			t.Run("self-granted policy, rbac vault", func(t *testing.T) { w.checkOps(t, p, fxRBAC, nil, deniedByRbac) })
		})
	}

	// Without a role, ARM itself is closed.
	t.Run("no role", func(t *testing.T) {
		p := w.newPrincipal(t, "control plane none")
		armTok := w.token(t, p, armScope)
		r := w.arm(t, "GET", w.vaultID(apVault), vaultsAPI, armTok, nil)
		if r.Status != http.StatusForbidden {
			t.Fatalf("GET vault without role = %d %s", r.Status, r.Body)
		}
		r = w.addPolicy(t, armTok, apVault, policyEntry(w.tenant, p.ObjectID, "", "all"))
		if r.Status != http.StatusForbidden {
			t.Fatalf("self-granted access policy without role = %d %s", r.Status, r.Body)
		}
	})
}
