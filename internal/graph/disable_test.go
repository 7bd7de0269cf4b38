package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// tokenFor runs the client-credentials grant for scope and returns the
// response.
func (g *gw) tokenFor(t *testing.T, clientID, secret, scope string) *resp {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
	r, err := g.env.Client().PostForm(g.env.AuthorityHost()+g.env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return &resp{r.StatusCode, r.Header, b}
}

func accessToken(t *testing.T, r *resp) string {
	t.Helper()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return tr.AccessToken
}

// bearer sends a request with tok to an absolute URL.
func (g *gw) bearer(t *testing.T, method, u, tok string) *resp {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	r, err := g.env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return &resp{r.StatusCode, r.Header, b}
}

// TestDisableServicePrincipal: PATCH accountEnabled=false refuses new
// tokens with Entra's AADSTS7000112 and makes tokens issued before fail at
// once on Key Vault, ARM and Graph (though they verify and sit in the
// verified-token cache); enabling it again restores access. Managed
// identities and the bootstrap admin cannot be disabled.
func TestDisableServicePrincipal(t *testing.T) {
	g := start(t)
	ctx := context.Background()
	oid, appID, secret := g.newSP(t, "to-disable")
	g.do(t, "POST", "/servicePrincipals/"+oid+"/appRoleAssignments",
		map[string]any{"principalId": oid, "resourceId": g.graphSPID(t), "appRoleId": appReadAll}).want(t, 201)
	const vault = "disable-me"
	if _, _, err := g.env.Vaults.CreateOrUpdateVault(ctx, g.env.Instance.SubscriptionID, g.env.Instance.DefaultGroup, vault, vaults.VaultSpec{
		Location: "westeurope", TenantID: g.env.Instance.TenantID, SKU: "standard",
		AccessPolicies: []model.AccessPolicy{{TenantID: g.env.Instance.TenantID, ObjectID: oid, Permissions: model.Permissions{Secrets: []string{"list"}}}},
	}, "test", false); err != nil {
		t.Fatal(err)
	}
	kvURL := strings.TrimSuffix(g.env.VaultURL(vault), "/") + "/secrets?api-version=7.6"
	armURL := "https://management.azure.com/subscriptions?api-version=2022-12-01"
	kvTok := accessToken(t, g.tokenFor(t, appID, secret, "https://vault.azure.net/.default"))
	armTok := accessToken(t, g.tokenFor(t, appID, secret, "https://management.azure.com/.default"))
	graphTok := accessToken(t, g.tokenFor(t, appID, secret, "https://graph.microsoft.com/.default"))
	// Used once, so the tokens are in the verified-token cache.
	g.bearer(t, "GET", kvURL, kvTok).want(t, 200)
	g.bearer(t, "GET", armURL, armTok).want(t, 200)
	g.as(graphTok).do(t, "GET", "/servicePrincipals/"+oid, nil).want(t, 200)

	g.do(t, "PATCH", "/servicePrincipals/"+oid, map[string]any{"accountEnabled": false}).want(t, 204)
	if got := g.do(t, "GET", "/servicePrincipals/"+oid, nil).want(t, 200).obj(t); got["accountEnabled"] != false {
		t.Errorf("accountEnabled = %v", got["accountEnabled"])
	}

	r := g.tokenFor(t, appID, secret, "https://vault.azure.net/.default").want(t, 400)
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	_ = json.Unmarshal(r.body, &oe)
	want := "AADSTS7000112: Application '" + appID + "'(to-disable) is disabled."
	if oe.Error != "unauthorized_client" || !strings.HasPrefix(oe.Description, want) || len(oe.Codes) != 1 || oe.Codes[0] != 7000112 {
		t.Errorf("token for a disabled principal: %s, want unauthorized_client %q", r.body, want)
	}

	var kvErr struct {
		Error struct{ Code, Message string }
	}
	kvResp := g.bearer(t, "GET", kvURL, kvTok).want(t, 401)
	_ = json.Unmarshal(kvResp.body, &kvErr)
	if kvErr.Error.Code != "Unauthorized" || !strings.Contains(kvErr.Error.Message, "AKV10001") || kvResp.header.Get("WWW-Authenticate") == "" {
		t.Errorf("Key Vault with a disabled principal's token: %+v, challenge %q", kvErr, kvResp.header.Get("WWW-Authenticate"))
	}
	var armErr struct{ Error struct{ Code string } }
	_ = json.Unmarshal(g.bearer(t, "GET", armURL, armTok).want(t, 401).body, &armErr)
	if armErr.Error.Code != "InvalidAuthenticationToken" {
		t.Errorf("ARM with a disabled principal's token: %+v", armErr)
	}
	if code, _ := g.as(graphTok).do(t, "GET", "/servicePrincipals/"+oid, nil).want(t, 401).graphErr(t); code != "InvalidAuthenticationToken" {
		t.Errorf("Graph with a disabled principal's token: %s", code)
	}

	// Enabled again: the old tokens and new ones work.
	g.do(t, "PATCH", "/servicePrincipals/"+oid, map[string]any{"accountEnabled": true}).want(t, 204)
	g.bearer(t, "GET", kvURL, kvTok).want(t, 200)
	accessToken(t, g.tokenFor(t, appID, secret, "https://vault.azure.net/.default"))

	// Managed identities belong to their resource: Entra refuses, even
	// to an admin. The bootstrap admin cannot lock everyone out.
	mi := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "mi",
		Type: model.PrincipalManagedIdentity, ResourceID: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi", Created: time.Now()}
	if err := g.env.Store.CreatePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	if code, _ := g.do(t, "PATCH", "/servicePrincipals/"+mi.ObjectID, map[string]any{"accountEnabled": false}).want(t, 403).graphErr(t); code != "Authorization_RequestDenied" {
		t.Errorf("disabling a managed identity: %s", code)
	}
	if code, _ := g.do(t, "PATCH", "/servicePrincipals/"+g.env.Instance.AdminObjectID, map[string]any{"accountEnabled": false}).want(t, 400).graphErr(t); code != "Request_BadRequest" {
		t.Errorf("disabling the admin: %s", code)
	}
	for _, body := range []map[string]any{{"displayName": "renamed"}, {"accountEnabled": "no"}, {"accountEnabled": nil}} {
		if code, _ := g.do(t, "PATCH", "/servicePrincipals/"+oid, body).want(t, 400).graphErr(t); code != "Request_BadRequest" {
			t.Errorf("PATCH %v: %s", body, code)
		}
	}
	// Only the admin disables.
	if code, _ := g.as(graphTok).do(t, "PATCH", "/servicePrincipals/"+oid, map[string]any{"accountEnabled": false}).want(t, 403).graphErr(t); code != "Authorization_RequestDenied" {
		t.Errorf("self-service disable: %s", code)
	}
	// Created disabled (Graph's POST takes accountEnabled too).
	app := g.do(t, "POST", "/applications", map[string]any{"displayName": "born-disabled"}).want(t, 201).obj(t)
	sp := g.do(t, "POST", "/servicePrincipals", map[string]any{"appId": app["appId"], "accountEnabled": false}).want(t, 201).obj(t)
	if sp["accountEnabled"] != false {
		t.Errorf("created disabled: %v", sp["accountEnabled"])
	}
}
