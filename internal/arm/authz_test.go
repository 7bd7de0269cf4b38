package arm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// These tests drive the ARM handler over HTTP only (its stable entry
// point), with principals, tokens and role assignments made directly in
// the store so that each case states exactly what the caller holds.

const (
	armBase          = "https://management.azure.com"
	armAudience      = "https://management.azure.com/"
	roleReader       = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	roleContributor  = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	roleOwner        = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	roleSecretsUser  = "4633458b-17de-408a-b874-0445c86b69e6"
	groupsAPI        = "2021-04-01"
	roleAssignAPI    = "2022-04-01"
	testLocation     = "westus"
	testGroupClaimID = "0b7a3c1e-1111-4222-8333-944445555666"
)

type armResp struct {
	status int
	code   string
	body   string
}

func armDo(t *testing.T, env *testenv.Env, method, path, tok string, body []byte) armResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, armBase+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal(b, &e)
	return armResp{resp.StatusCode, e.Error.Code, string(b)}
}

// principalToken creates a service principal and returns a management
// token for it (with groups, if any, in the groups claim).
func principalToken(t *testing.T, env *testenv.Env, name string, groups ...string) (string, string) {
	t.Helper()
	p := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: name,
		Type: model.PrincipalServicePrincipal, Created: time.Now()}
	if err := env.Store.CreatePrincipal(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	tok, err := env.Minter.Mint(p, armAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		return tok.Raw, p.ObjectID
	}
	c := tok.Claims
	c.Groups = groups
	raw, err := env.Minter.Keys.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw, p.ObjectID
}

func assign(t *testing.T, env *testenv.Env, scope, role, principal string) {
	t.Helper()
	name := identity.NewObjectID()
	if err := env.Store.CreateRoleAssignment(context.Background(), &model.RoleAssignment{
		ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, Name: name, Scope: scope,
		RoleDefinitionID: role, PrincipalID: principal, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestAuthorize: what each role, at which scope, lets a caller do; the
// bootstrap admin may do everything. Denials are 403 AuthorizationFailed.
func TestAuthorize(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	subScope := "/subscriptions/" + sub
	for _, rg := range []string{"rg1", "rg10"} {
		if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, rg, testLocation, nil); err != nil {
			t.Fatal(err)
		}
	}
	rg1 := subScope + "/resourceGroups/rg1"
	adminP, err := env.Store.GetPrincipal(ctx, env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	adminTok, err := env.Minter.Mint(adminP, armAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	nobody, _ := principalToken(t, env, "nobody")
	subReader, oid := principalToken(t, env, "sub-reader")
	assign(t, env, subScope, roleReader, oid)
	rgContributor, oid := principalToken(t, env, "rg1-contributor")
	assign(t, env, rg1, roleContributor, oid)
	rgOwner, oid := principalToken(t, env, "rg1-owner")
	assign(t, env, rg1, roleOwner, oid)
	dataOnly, oid := principalToken(t, env, "secrets-user")
	assign(t, env, subScope, roleSecretsUser, oid)
	groupMember, _ := principalToken(t, env, "group-member", testGroupClaimID)
	assign(t, env, rg1, roleContributor, testGroupClaimID)
	target, targetOID := principalToken(t, env, "target")
	_ = target

	getRG := func(rg string) (string, string, []byte) {
		return "GET", subScope + "/resourcegroups/" + rg + "?api-version=" + groupsAPI, nil
	}
	putRG := func(rg string) (string, string, []byte) {
		return "PUT", subScope + "/resourcegroups/" + rg + "?api-version=" + groupsAPI, []byte(`{"location":"` + testLocation + `","tags":{"t":"1"}}`)
	}
	listRG := func() (string, string, []byte) {
		return "GET", subScope + "/resourcegroups?api-version=" + groupsAPI, nil
	}
	// Successful assignments must differ (ARM refuses duplicates): the
	// admin's is Reader, the owner's Secrets User.
	putRole := func(rg string, role ...string) (string, string, []byte) {
		role = append(role, roleReader)
		body, _ := json.Marshal(map[string]any{"properties": map[string]string{
			"roleDefinitionId": subScope + "/providers/Microsoft.Authorization/roleDefinitions/" + role[0], "principalId": targetOID}})
		return "PUT", subScope + "/resourceGroups/" + rg + "/providers/Microsoft.Authorization/roleAssignments/" + identity.NewObjectID() +
			"?api-version=" + roleAssignAPI, body
	}
	type req func() (string, string, []byte)
	tests := []struct {
		name string
		tok  string
		req  req
		want int
	}{
		{"admin reads a group", adminTok.Raw, func() (string, string, []byte) { return getRG("rg1") }, 200},
		{"admin writes a group", adminTok.Raw, func() (string, string, []byte) { return putRG("rg1") }, 200},
		{"admin assigns a role", adminTok.Raw, func() (string, string, []byte) { return putRole("rg1") }, 201},
		{"no assignment: read", nobody, func() (string, string, []byte) { return getRG("rg1") }, 403},
		{"no assignment: list", nobody, listRG, 403},
		{"no assignment: write", nobody, func() (string, string, []byte) { return putRG("rg1") }, 403},
		{"subscription Reader reads", subReader, func() (string, string, []byte) { return getRG("rg1") }, 200},
		{"subscription Reader lists", subReader, listRG, 200},
		{"subscription Reader cannot write", subReader, func() (string, string, []byte) { return putRG("rg1") }, 403},
		{"subscription Reader cannot assign roles", subReader, func() (string, string, []byte) { return putRole("rg1") }, 403},
		{"rg Contributor writes its group", rgContributor, func() (string, string, []byte) { return putRG("rg1") }, 200},
		{"rg Contributor reads its group", rgContributor, func() (string, string, []byte) { return getRG("rg1") }, 200},
		{"rg Contributor cannot read rg10", rgContributor, func() (string, string, []byte) { return getRG("rg10") }, 403},
		{"rg Contributor cannot write rg10", rgContributor, func() (string, string, []byte) { return putRG("rg10") }, 403},
		{"rg Contributor cannot create a group", rgContributor, func() (string, string, []byte) { return putRG("rg2") }, 403},
		{"rg Contributor cannot assign roles", rgContributor, func() (string, string, []byte) { return putRole("rg1") }, 403},
		{"rg Owner assigns roles in its group", rgOwner, func() (string, string, []byte) { return putRole("rg1", roleSecretsUser) }, 201},
		{"rg Owner cannot assign roles in rg10", rgOwner, func() (string, string, []byte) { return putRole("rg10") }, 403},
		{"data-plane role grants no control plane", dataOnly, func() (string, string, []byte) { return getRG("rg1") }, 403},
		{"Contributor by group membership writes", groupMember, func() (string, string, []byte) { return putRG("rg1") }, 200},
		{"Contributor by group membership, other group", groupMember, func() (string, string, []byte) { return putRG("rg10") }, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, body := tt.req()
			r := armDo(t, env, method, path, tt.tok, body)
			if r.status != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, tt.want)
			}
			if tt.want == 403 && (r.code != "AuthorizationFailed" || !strings.Contains(r.body, "does not have authorization to perform action")) {
				t.Errorf("denial body %s", r.body)
			}
		})
	}
}

// TestRequestValidation: malformed requests are 4xx in ARM's error shape
// with ARM's codes, before anything is stored.
func TestRequestValidation(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	adminP, err := env.Store.GetPrincipal(ctx, env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(aud string) string {
		tok, err := env.Minter.Mint(adminP, aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Raw
	}
	tok := mint(armAudience)
	rg := "/subscriptions/" + sub + "/resourcegroups/valid"
	tests := []struct {
		name, method, path, tok string
		body                    []byte
		status                  int
		code                    string
	}{
		{"no token", "GET", rg + "?api-version=" + groupsAPI, "", nil, 401, "AuthenticationFailed"},
		{"vault token", "GET", rg + "?api-version=" + groupsAPI, mint("https://vault.azure.net"), nil, 401, "InvalidAuthenticationTokenAudience"},
		{"garbage token", "GET", rg + "?api-version=" + groupsAPI, "abc.def.ghi", nil, 401, "InvalidAuthenticationToken"},
		{"no api-version", "GET", rg, tok, nil, 400, "MissingApiVersionParameter"},
		{"impossible date", "GET", rg + "?api-version=2021-13-01", tok, nil, 400, "InvalidApiVersionParameter"},
		{"not a date", "GET", rg + "?api-version=latest", tok, nil, 400, "InvalidApiVersionParameter"},
		{"empty body", "PUT", rg + "?api-version=" + groupsAPI, tok, []byte{}, 400, "InvalidRequestContent"},
		{"bad JSON", "PUT", rg + "?api-version=" + groupsAPI, tok, []byte(`{"location":`), 400, "InvalidRequestContent"},
		{"wrong type", "PUT", rg + "?api-version=" + groupsAPI, tok, []byte(`{"location":5}`), 400, "InvalidRequestContent"},
		{"no location", "PUT", rg + "?api-version=" + groupsAPI, tok, []byte(`{}`), 400, "LocationRequired"},
		{"invalid group name", "PUT", "/subscriptions/" + sub + "/resourcegroups/name.?api-version=" + groupsAPI, tok, []byte(`{"location":"westus"}`), 400, "InvalidResourceGroup"},
		{"too large", "PUT", rg + "?api-version=" + groupsAPI, tok, []byte(`{"location":"westus","tags":{"a":"` + strings.Repeat("x", 2<<20) + `"}}`), 413, "RequestEntityTooLarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := armDo(t, env, tt.method, tt.path, tt.tok, tt.body)
			if r.status != tt.status || r.code != tt.code {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, r.status, r.body, tt.status, tt.code)
			}
		})
	}
	if _, err := env.Store.GetResourceGroup(ctx, sub, "valid"); err == nil {
		t.Error("an invalid request created the group")
	}
}
