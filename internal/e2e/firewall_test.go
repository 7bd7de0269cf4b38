package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestVaultFirewall: networkAcls (defaultAction Deny + ipRules) and
// publicNetworkAccess set through the ARM SDK are enforced on the data
// plane against the TCP peer address, with Azure's 403 bodies.
func TestVaultFirewall(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	k := newARMSDK(t, env)
	k.createGroup(t, "fw")
	admin := k.policy(env.Instance.AdminObjectID, armkeyvault.SecretPermissionsAll)
	k.createVault(t, "fw", "kvfirewall", admin)
	c := sdkClient(t, env, "kvfirewall", env.Admin.ClientID, env.Admin.ClientSecret)
	ctx := context.Background()
	if _, err := c.SetSecret(ctx, "s", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
		t.Fatal(err)
	}

	setNetwork := func(acls *armkeyvault.NetworkRuleSet, public string) armkeyvault.Vault {
		t.Helper()
		p := k.vaultParams(admin)
		p.Properties.NetworkACLs = acls
		if public != "" {
			p.Properties.PublicNetworkAccess = to.Ptr(public)
		}
		v, err := k.putVault("fw", "kvfirewall", p)
		if err != nil {
			t.Fatalf("update network rules: %v", err)
		}
		return v
	}
	getStatus := func() (int, string) {
		t.Helper()
		_, err := c.GetSecret(ctx, "s", "", nil)
		if err == nil {
			return http.StatusOK, ""
		}
		re := respErr(t, err)
		return re.StatusCode, re.ErrorCode
	}

	// Deny by default, only another address allowed: 127.0.0.1 is refused.
	v := setNetwork(&armkeyvault.NetworkRuleSet{
		DefaultAction: to.Ptr(armkeyvault.NetworkRuleActionDeny), Bypass: to.Ptr(armkeyvault.NetworkRuleBypassOptionsNone),
		IPRules: []*armkeyvault.IPRule{{Value: to.Ptr("10.1.2.3")}},
	}, "")
	if got := *v.Properties.NetworkACLs.IPRules[0].Value; got != "10.1.2.3/32" {
		t.Errorf("stored ip rule = %q", got)
	}
	if st, code := getStatus(); st != 403 || code != "Forbidden" {
		t.Fatalf("GET from a denied address = %d %s, want 403 Forbidden", st, code)
	}
	resp := rawVaultGet(t, env, "kvfirewall", "s")
	if !strings.Contains(resp, `"innererror":{"code":"ForbiddenByFirewall"}`) || !strings.Contains(resp, `Client address: 127.0.0.1`) {
		t.Errorf("firewall body = %s", resp)
	}

	// Allowing the loopback range lets the caller in.
	setNetwork(&armkeyvault.NetworkRuleSet{
		DefaultAction: to.Ptr(armkeyvault.NetworkRuleActionDeny),
		IPRules:       []*armkeyvault.IPRule{{Value: to.Ptr("10.1.2.3")}, {Value: to.Ptr("127.0.0.0/8")}},
	}, "")
	if st, code := getStatus(); st != 200 {
		t.Fatalf("GET from an allowed range = %d %s", st, code)
	}

	// Public network access disabled refuses everyone (no private links here).
	setNetwork(nil, "Disabled")
	resp = rawVaultGet(t, env, "kvfirewall", "s")
	if !strings.Contains(resp, `"innererror":{"code":"ForbiddenByConnection"}`) {
		t.Errorf("public access disabled body = %s", resp)
	}
	setNetwork(&armkeyvault.NetworkRuleSet{DefaultAction: to.Ptr(armkeyvault.NetworkRuleActionAllow)}, "Enabled")
	if st, code := getStatus(); st != 200 {
		t.Fatalf("GET after reopening = %d %s", st, code)
	}

	// A malformed rule is refused and changes nothing.
	p := k.vaultParams(admin)
	p.Properties.NetworkACLs = &armkeyvault.NetworkRuleSet{DefaultAction: to.Ptr(armkeyvault.NetworkRuleActionDeny),
		IPRules: []*armkeyvault.IPRule{{Value: to.Ptr("not-an-ip")}}}
	if _, err := k.putVault("fw", "kvfirewall", p); err == nil {
		t.Fatal("a malformed ip rule was accepted")
	}
	if st, _ := getStatus(); st != 200 {
		t.Errorf("after a refused update, GET = %d", st)
	}
}

// rawVaultGet GETs a secret with an admin token and returns the body.
func rawVaultGet(t *testing.T, env *testenv.Env, vault, name string) string {
	t.Helper()
	tok := adminToken(t, env)
	req, _ := http.NewRequest("GET", env.VaultURL(vault)+"secrets/"+name+"?api-version=7.6", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
