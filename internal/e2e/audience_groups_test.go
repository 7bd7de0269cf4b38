package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// TestVaultAudienceStrictness: on the wire, a token whose audience only
// resembles the Key Vault resource (credentials, a query, a fragment,
// another host) is a 401 AKV10022 naming it, with the challenge; the
// control token with the exact audience is served.
func TestVaultAudienceStrictness(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	admin, err := env.Store.GetPrincipal(t.Context(), env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	tokenFor := func(aud string) string {
		tok, err := env.Minter.Mint(admin, vaultResource, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c := tok.Claims
		c.Audience = aud
		raw, err := env.Minter.Keys.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	url := kvURL(env, "/secrets?api-version=7.6")
	for _, aud := range []string{"https://vault.azure.net", "https://vault.azure.net/"} {
		if r := rawDo(t, env, "GET", url, tokenFor(aud), nil, nil); r.Status != 200 {
			t.Fatalf("control %q: %d %s", aud, r.Status, r.Body)
		}
	}
	for _, aud := range []string{
		"https://user@vault.azure.net",
		"https://vault.azure.net@evil.example",
		"https://vault.azure.net?x=1",
		"https://vault.azure.net/#frag",
		"https://vault.azure.net.evil.example",
		"https://vault.azure.com",
		"https://evil.example/vault.azure.net",
	} {
		t.Run(aud, func(t *testing.T) {
			r := rawDo(t, env, "GET", url, tokenFor(aud), nil, nil)
			msg := r.wantKVError(t, aud, 401, "Unauthorized", "")
			if want := "AKV10022: Invalid audience. Expected https://vault.azure.net, found: " + aud + "."; msg != want {
				t.Errorf("message = %q, want %q", msg, want)
			}
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate challenge")
			}
		})
	}
}

// TestGroupMembershipOnTheWire: an access-policy entry or role assignment
// for a group lets a token that lists the group in its groups claim read
// a secret, and no other token. Coffer has no Entra groups of its own:
// its tokens never carry groups, so the tokens here are signed by the
// server's key with the claim added, as a group-aware issuer would.
func TestGroupMembershipOnTheWire(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	const group = "6f1c2a7e-0000-4000-8000-00000000beef"
	appID, _ := createServicePrincipal(t, env, "grouped")
	sp, err := env.Store.GetPrincipalByAppID(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	tokenWith := func(groups ...string) string {
		tok, err := env.Minter.Mint(sp, vaultResource, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c := tok.Claims
		c.Groups = groups
		raw, err := env.Minter.Keys.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	vault := env.Instance.DefaultVault
	v, err := env.Vaults.OpenVault(ctx, vault)
	if err != nil {
		t.Fatal(err)
	}
	value := "group secret"
	if _, _, err := env.Vaults.SetSecret(ctx, v, "g", vaults.SetParams{Value: &value}); err != nil {
		t.Fatal(err)
	}
	get := func(tok string) int {
		return rawDo(t, env, "GET", kvURL(env, "/secrets/g?api-version=7.6"), tok, nil, nil).Status
	}
	member, other, none := tokenWith("11111111-2222-3333-4444-555555555555", group), tokenWith("11111111-2222-3333-4444-555555555555"), tokenWith()

	// Access policies: nobody until the group gets an entry.
	for name, tok := range map[string]string{"member": member, "non-member": other, "no groups": none} {
		if s := get(tok); s != 403 {
			t.Errorf("before any grant, %s: %d, want 403", name, s)
		}
	}
	if err := env.Store.UpdateVault(ctx, vault, func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, model.AccessPolicy{TenantID: env.Instance.TenantID, ObjectID: group,
			Permissions: model.Permissions{Secrets: []string{"get"}}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s := get(member); s != 200 {
		t.Errorf("access policy for the group, member: %d, want 200", s)
	}
	for name, tok := range map[string]string{"non-member": other, "no groups": none} {
		if s := get(tok); s != 403 {
			t.Errorf("access policy for the group, %s: %d, want 403", name, s)
		}
	}

	// RBAC: the same with a role assignment to the group.
	var scope string
	if err := env.Store.UpdateVault(ctx, vault, func(v *model.Vault) error {
		v.EnableRbacAuthorization, scope = true, v.ResourceID()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s := get(member); s != 403 {
		t.Errorf("RBAC vault without an assignment, member: %d, want 403 (access policies no longer apply)", s)
	}
	if err := env.Store.CreateRoleAssignment(ctx, &model.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + identity.NewObjectID(),
		Name: identity.NewObjectID(), Scope: scope, RoleDefinitionID: "4633458b-17de-408a-b874-0445c86b69e6", PrincipalID: group,
		PrincipalType: "Group", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if s := get(member); s != 200 {
		t.Errorf("Secrets User for the group, member: %d, want 200", s)
	}
	for name, tok := range map[string]string{"non-member": other, "no groups": none} {
		if s := get(tok); s != 403 {
			t.Errorf("Secrets User for the group, %s: %d, want 403", name, s)
		}
	}
	if r := rawDo(t, env, "PUT", kvURL(env, "/secrets/g?api-version=7.6"), member, []byte(`{"value":"x"}`), nil); r.Status != 403 {
		t.Errorf("Secrets User for the group, member sets: %d, want 403", r.Status)
	}
}
