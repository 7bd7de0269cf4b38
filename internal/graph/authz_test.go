package graph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

const (
	appReadAll = "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30" // Application.Read.All
	dirReadAll = "7ab1d382-f21e-4acd-a863-ba3e13f7da61" // Directory.Read.All
	userRead   = "df021288-bdef-4463-88db-98f22de89214" // User.Read.All
)

// as returns a copy of g that sends tok.
func (g *gw) as(tok string) *gw { return &gw{env: g.env, tok: tok} }

// graphToken gets a Graph token for a service principal's secret.
func (g *gw) graphToken(t *testing.T, clientID, secret string) (string, []string) {
	t.Helper()
	r := g.tokenResp(t, clientID, secret)
	if r.status != http.StatusOK {
		t.Fatalf("token for %s: %d %s", clientID, r.status, r.body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(r.body, &tr)
	return tr.AccessToken, rolesOf(t, tr.AccessToken)
}

func (g *gw) tokenResp(t *testing.T, clientID, secret string) *resp {
	t.Helper()
	form := "grant_type=client_credentials&client_id=" + clientID + "&client_secret=" + secret + "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
	req, _ := http.NewRequest("POST", g.env.AuthorityHost()+g.env.Instance.TenantID+"/oauth2/v2.0/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := g.env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{res.StatusCode, res.Header, b}
}

// rolesOf reads the roles claim of a token (unverified: the server
// verifies; the test only looks).
func rolesOf(t *testing.T, tok string) []string {
	t.Helper()
	var c identity.Claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil {
		t.Fatalf("token payload: %v", err)
	}
	return c.Roles
}

// newSP creates an application, its service principal and a password
// through Graph as the admin, and returns the SP's object id, appId and
// secret.
func (g *gw) newSP(t *testing.T, name string) (oid, appID, secret string) {
	t.Helper()
	app := g.do(t, "POST", "/applications", map[string]any{"displayName": name}).want(t, 201).obj(t)
	appID = app["appId"].(string)
	sp := g.do(t, "POST", "/servicePrincipals", map[string]any{"appId": appID}).want(t, 201).obj(t)
	pw := g.do(t, "POST", "/applications/"+app["id"].(string)+"/addPassword", map[string]any{}).want(t, 200).obj(t)
	return sp["id"].(string), appID, pw["secretText"].(string)
}

// graphSPID finds Microsoft Graph's service principal as scripts do.
func (g *gw) graphSPID(t *testing.T) string {
	t.Helper()
	got := g.do(t, "GET", filterURL("servicePrincipals", "appId eq '"+cloud.GraphAppID+"'"), nil).want(t, 200).values(t)
	if len(got) != 1 || got[0]["displayName"] != "Microsoft Graph" {
		t.Fatalf("Microsoft Graph's service principal: %v", got)
	}
	return got[0]["id"].(string)
}

// TestGraphReadAuthorization is the read matrix: which caller, with which
// Graph application permission, reads which collection. App-only callers
// (service principals, managed identities) need a permission; users read
// with the default user permissions; the admin reads everything; writes
// stay with the admin whatever the permission.
func TestGraphReadAuthorization(t *testing.T) {
	g := start(t)
	ctx := context.Background()
	graphSP := g.graphSPID(t)

	type caller struct {
		name string
		tok  string
	}
	spToken := func(name string, roleIDs ...string) caller {
		oid, appID, secret := g.newSP(t, name)
		for _, id := range roleIDs {
			g.do(t, "POST", "/servicePrincipals/"+oid+"/appRoleAssignments",
				map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": id}).want(t, 201)
		}
		tok, roles := g.graphToken(t, appID, secret)
		if len(roles) != len(roleIDs) {
			t.Fatalf("%s: roles claim %v, want %d roles", name, roles, len(roleIDs))
		}
		return caller{name, tok}
	}
	// A managed identity with Application.Read.All, granted through
	// appRoleAssignedTo on Graph's service principal (as Azure scripts do).
	mi := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "build-agent",
		Type: model.PrincipalManagedIdentity, ResourceID: "/subscriptions/" + g.env.Instance.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/build-agent"}
	if err := g.env.Store.CreatePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	g.do(t, "POST", "/servicePrincipals/"+graphSP+"/appRoleAssignedTo",
		map[string]any{"principalId": mi.ObjectID, "resourceId": graphSP, "appRoleId": appReadAll}).want(t, 201)
	mi, _ = g.env.Store.GetPrincipal(ctx, mi.ObjectID)
	miTok, err := g.env.Minter.Mint(mi, "https://graph.microsoft.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bareMI := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "bare-mi",
		Type: model.PrincipalManagedIdentity, ResourceID: mi.ResourceID + "2"}
	if err := g.env.Store.CreatePrincipal(ctx, bareMI); err != nil {
		t.Fatal(err)
	}
	bareMITok, _ := g.env.Minter.Mint(bareMI, "https://graph.microsoft.com", time.Hour)
	// A directory user (delegated token).
	u := g.do(t, "POST", "/users", map[string]any{"accountEnabled": true, "displayName": "Dana", "mailNickname": "dana",
		"userPrincipalName": "dana@" + app.TenantDomain, "passwordProfile": map[string]any{"password": "Correct-Horse-9"}}).want(t, 201).obj(t)
	user, _ := g.env.Store.GetPrincipal(ctx, u["id"].(string))
	userTok, err := g.env.Minter.MintUser(user, "https://graph.microsoft.com", "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Directory.AccessAsUser.All", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	callers := []caller{
		{"admin", g.tok},
		spToken("no-permission"),
		spToken("app-reader", appReadAll),
		spToken("dir-reader", dirReadAll),
		spToken("user-reader", userRead),
		{"mi-app-reader", miTok.Raw},
		{"mi-no-permission", bareMITok.Raw},
		{"user", userTok.Raw},
	}
	reads := []struct{ name, method, path string }{
		{"applications", "GET", "/applications"},
		{"servicePrincipals", "GET", "/servicePrincipals"},
		{"service principal", "GET", "/servicePrincipals/" + mi.ObjectID},
		{"appRoleAssignments", "GET", "/servicePrincipals/" + mi.ObjectID + "/appRoleAssignments"},
		{"getByIds", "POST", "/directoryObjects/getByIds"},
		{"users", "GET", "/users"},
	}
	allowed := map[string]map[string]bool{
		"admin":            {"applications": true, "servicePrincipals": true, "service principal": true, "appRoleAssignments": true, "getByIds": true, "users": true},
		"no-permission":    {},
		"app-reader":       {"applications": true, "servicePrincipals": true, "service principal": true, "appRoleAssignments": true, "getByIds": true},
		"dir-reader":       {"applications": true, "servicePrincipals": true, "service principal": true, "appRoleAssignments": true, "getByIds": true, "users": true},
		"user-reader":      {"users": true},
		"mi-app-reader":    {"applications": true, "servicePrincipals": true, "service principal": true, "appRoleAssignments": true, "getByIds": true},
		"mi-no-permission": {},
		"user":             {"applications": true, "servicePrincipals": true, "service principal": true, "appRoleAssignments": true, "getByIds": true, "users": true},
	}
	for _, c := range callers {
		for _, rd := range reads {
			t.Run(c.name+"/"+rd.name, func(t *testing.T) {
				r := g.as(c.tok).do(t, rd.method, rd.path, map[string]any{"ids": []string{mi.ObjectID}})
				if allowed[c.name][rd.name] {
					r.want(t, http.StatusOK)
					return
				}
				r.want(t, http.StatusForbidden)
				code, msg := r.graphErr(t)
				if code != "Authorization_RequestDenied" || msg != "Insufficient privileges to complete the operation." {
					t.Errorf("error %s %q", code, msg)
				}
			})
		}
		// No permission lets anyone but the admin write.
		if c.name != "admin" {
			r := g.as(c.tok).do(t, "POST", "/applications", map[string]any{"displayName": "x"}).want(t, http.StatusForbidden)
			if code, _ := r.graphErr(t); code != "Authorization_RequestDenied" {
				t.Errorf("%s: write answered %s", c.name, code)
			}
			g.as(c.tok).do(t, "POST", "/servicePrincipals/"+mi.ObjectID+"/appRoleAssignments",
				map[string]any{"principalId": mi.ObjectID, "resourceId": graphSP, "appRoleId": dirReadAll}).want(t, http.StatusForbidden)
		}
	}
}

// TestAppRoleAssignments: granting, listing and revoking Graph's app
// roles, with Graph's answers for what cannot be granted.
func TestAppRoleAssignments(t *testing.T) {
	g := start(t)
	graphSP := g.graphSPID(t)
	oid, appID, secret := g.newSP(t, "granted")

	// Graph's service principal lists the roles by value and id.
	sp := g.do(t, "GET", "/servicePrincipals(appId='"+cloud.GraphAppID+"')", nil).want(t, 200).obj(t)
	found := false
	for _, r := range sp["appRoles"].([]any) {
		m := r.(map[string]any)
		found = found || m["value"] == "Application.Read.All" && m["id"] == appReadAll
	}
	if sp["id"] != graphSP || !found {
		t.Fatalf("Microsoft Graph service principal: %v", sp)
	}
	g.do(t, "GET", "/servicePrincipals/"+graphSP, nil).want(t, 200)
	// A plain listing shows the tenant's own principals only.
	for _, o := range g.do(t, "GET", "/servicePrincipals", nil).want(t, 200).values(t) {
		if o["id"] == graphSP {
			t.Error("unfiltered list includes Microsoft Graph")
		}
	}

	a := g.do(t, "POST", "/servicePrincipals/"+oid+"/appRoleAssignments",
		map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": appReadAll}).want(t, 201).obj(t)
	if a["principalId"] != oid || a["resourceId"] != graphSP || a["appRoleId"] != appReadAll || a["principalType"] != "ServicePrincipal" ||
		a["resourceDisplayName"] != "Microsoft Graph" || a["principalDisplayName"] != "granted" || len(a["id"].(string)) != 43 {
		t.Errorf("assignment = %v", a)
	}
	bad := []struct {
		name string
		path string
		body map[string]any
		msg  string
	}{
		{"again", "/servicePrincipals/" + oid + "/appRoleAssignments", map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": appReadAll},
			"Permission being assigned already exists on the object."},
		{"unknown role", "/servicePrincipals/" + oid + "/appRoleAssignments", map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": "00000000-0000-0000-0000-000000000001"},
			"Permission being assigned was not found on application '" + cloud.GraphAppID + "'."},
		{"resource without roles", "/servicePrincipals/" + oid + "/appRoleAssignments", map[string]any{"principalId": oid, "resourceId": oid, "appRoleId": appReadAll},
			"Permission being assigned was not found on application '" + appID + "'."},
		{"not a guid", "/servicePrincipals/" + oid + "/appRoleAssignments", map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": "Application.Read.All"},
			"Invalid value specified for property 'appRoleId' of resource 'AppRoleAssignment'."},
	}
	for _, b := range bad {
		code, msg := g.do(t, "POST", b.path, b.body).want(t, 400).graphErr(t)
		if code != "Request_BadRequest" || msg != b.msg {
			t.Errorf("%s: %s %q, want %q", b.name, code, msg, b.msg)
		}
	}

	list := g.do(t, "GET", "/servicePrincipals/"+oid+"/appRoleAssignments", nil).want(t, 200).values(t)
	to := g.do(t, "GET", "/servicePrincipals/"+graphSP+"/appRoleAssignedTo", nil).want(t, 200).values(t)
	if len(list) != 1 || list[0]["id"] != a["id"] || len(to) != 1 || to[0]["id"] != a["id"] {
		t.Fatalf("appRoleAssignments %v, appRoleAssignedTo %v", list, to)
	}
	if _, roles := g.graphToken(t, appID, secret); len(roles) != 1 || roles[0] != "Application.Read.All" {
		t.Errorf("roles claim %v", roles)
	}
	// Only Graph tokens carry the roles.
	kv, err := g.env.Minter.Mint(mustPrincipal(t, g, oid), "https://vault.azure.net", time.Hour)
	if err != nil || len(kv.Claims.Roles) != 0 {
		t.Errorf("Key Vault token roles %v (%v)", kv.Claims.Roles, err)
	}

	g.do(t, "DELETE", "/servicePrincipals/"+oid+"/appRoleAssignments/"+a["id"].(string), nil).want(t, 204)
	g.do(t, "DELETE", "/servicePrincipals/"+oid+"/appRoleAssignments/"+a["id"].(string), nil).want(t, 404)
	if _, roles := g.graphToken(t, appID, secret); len(roles) != 0 {
		t.Errorf("roles claim after revocation %v", roles)
	}
	// Granted and revoked through appRoleAssignedTo too.
	b := g.do(t, "POST", "/servicePrincipals/"+graphSP+"/appRoleAssignedTo",
		map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": dirReadAll}).want(t, 201).obj(t)
	g.do(t, "DELETE", "/servicePrincipals/"+graphSP+"/appRoleAssignedTo/"+b["id"].(string), nil).want(t, 204)
	if got := g.do(t, "GET", "/servicePrincipals/"+oid+"/appRoleAssignments", nil).want(t, 200).values(t); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
}

func mustPrincipal(t *testing.T, g *gw, oid string) *model.Principal {
	t.Helper()
	p, err := g.env.Store.GetPrincipal(context.Background(), oid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	appWrite   = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9" // Application.ReadWrite.All
	userWrite  = "741f803b-c850-494e-b5df-cde7c675a1ca" // User.ReadWrite.All
	grantWrite = "06b708a9-e830-4db3-a914-8e69da51d44f" // AppRoleAssignment.ReadWrite.All
)

// TestGraphWriteAuthorization: app-only callers write with the ReadWrite
// permission of the collection (app role grants with
// AppRoleAssignment.ReadWrite.All), never to the admins' own objects.
func TestGraphWriteAuthorization(t *testing.T) {
	g := start(t)
	ctx := context.Background()
	graphSP := g.graphSPID(t)
	writer := func(name string, roleIDs ...string) *gw {
		oid, appID, secret := g.newSP(t, name)
		for _, id := range roleIDs {
			g.do(t, "POST", "/servicePrincipals/"+oid+"/appRoleAssignments",
				map[string]any{"principalId": oid, "resourceId": graphSP, "appRoleId": id}).want(t, 201)
		}
		tok, _ := g.graphToken(t, appID, secret)
		return g.as(tok)
	}
	targetOID, targetAppID, _ := g.newSP(t, "target")
	targetApp := g.do(t, "GET", filterURL("applications", "appId eq '"+targetAppID+"'"), nil).want(t, 200).values(t)[0]["id"].(string)
	admin := mustPrincipal(t, g, g.env.Instance.AdminObjectID)
	if admin.ApplicationObjectID == "" || g.env.Instance.AdminUserObjectID == "" {
		t.Fatalf("the admins lack an application or a user: %+v", admin)
	}
	u := g.do(t, "POST", "/users", map[string]any{"accountEnabled": true, "displayName": "Eve", "mailNickname": "eve",
		"userPrincipalName": "eve@" + app.TenantDomain, "passwordProfile": map[string]any{"password": "Correct-Horse-9"}}).want(t, 201).obj(t)

	apps := writer("app-writer", appWrite)
	users := writer("user-writer", userWrite)
	grants := writer("grant-writer", grantWrite)
	type call struct {
		name, method, path string
		body               map[string]any
	}
	calls := []call{
		{"create application", "POST", "/applications", map[string]any{"displayName": "made-by-a-writer"}},
		{"password on an application", "POST", "/applications/" + targetApp + "/addPassword", map[string]any{}},
		{"disable a service principal", "PATCH", "/servicePrincipals/" + targetOID, map[string]any{"accountEnabled": true}},
		{"update a user", "PATCH", "/users/" + u["id"].(string), map[string]any{"displayName": "Eve E."}},
		{"grant an app role", "POST", "/servicePrincipals/" + targetOID + "/appRoleAssignments", map[string]any{"principalId": targetOID, "resourceId": graphSP, "appRoleId": appReadAll}},
		// The admins' own objects: nobody else's to change.
		{"password on the admin", "POST", "/applications/" + admin.ApplicationObjectID + "/addPassword", map[string]any{}},
		{"password on the admin by appId", "POST", "/servicePrincipals(appId='" + admin.AppID + "')/addPassword", map[string]any{}},
		{"disable the admin", "PATCH", "/servicePrincipals/" + admin.ObjectID, map[string]any{"accountEnabled": false}},
		{"reset the admin user's password", "PATCH", "/users/" + g.env.Instance.AdminUserObjectID, map[string]any{"passwordProfile": map[string]any{"password": "Another-Horse-7"}}},
		{"reset the admin user's password by UPN", "PATCH", "/users/admin@" + app.TenantDomain, map[string]any{"passwordProfile": map[string]any{"password": "Another-Horse-7"}}},
	}
	allowed := map[*gw]map[string]int{
		apps:   {"create application": 201, "password on an application": 200, "disable a service principal": 204},
		users:  {"update a user": 204},
		grants: {"grant an app role": 201},
	}
	for _, w := range []struct {
		name string
		g    *gw
	}{{"app-writer", apps}, {"user-writer", users}, {"grant-writer", grants}} {
		for _, c := range calls {
			t.Run(w.name+"/"+c.name, func(t *testing.T) {
				r := w.g.do(t, c.method, c.path, c.body)
				if want, ok := allowed[w.g][c.name]; ok {
					r.want(t, want)
					return
				}
				if code, _ := r.want(t, http.StatusForbidden).graphErr(t); code != "Authorization_RequestDenied" {
					t.Errorf("code %s", code)
				}
			})
		}
	}
	// The admin's credentials are as they were.
	if got := mustPrincipal(t, g, admin.ObjectID); len(got.Credentials) != len(admin.Credentials) || got.Disabled {
		t.Errorf("the admin changed: %d credentials (was %d), disabled %v", len(got.Credentials), len(admin.Credentials), got.Disabled)
	}
	if _, err := g.env.Store.GetPrincipal(ctx, g.env.Instance.AdminUserObjectID); err != nil {
		t.Fatal(err)
	}
}
