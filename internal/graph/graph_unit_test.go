package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// These tests use only the handler's HTTP surface (the query language is
// being extended elsewhere; only the long-standing displayName/appId eq
// filters are relied on here).

const graphHost = "https://graph.microsoft.com"

type gresp struct {
	status int
	code   string
	body   []byte
	header http.Header
}

func gdo(t *testing.T, env *testenv.Env, method, path, tok string, body any) gresp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, graphHost+path, rd)
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
	return gresp{resp.StatusCode, e.Error.Code, b, resp.Header}
}

func mint(t *testing.T, env *testenv.Env, p *model.Principal, aud string) string {
	t.Helper()
	tok, err := env.Minter.Mint(p, aud, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Raw
}

// TestGraphRequests: authentication, authorization (reads with a Graph
// permission, writes for the admin only), id validation and the protected
// principals.
func TestGraphRequests(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	admin, err := env.Store.GetPrincipal(ctx, env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	// The reader holds Application.Read.All, as in Entra an application
	// must to read the directory; stranger holds no permission.
	sp := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "reader",
		Type: model.PrincipalServicePrincipal, Created: time.Now(),
		AppRoleAssignments: []model.AppRoleAssignment{{ID: "a1", AppRoleID: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"}}}
	stranger := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "stranger",
		Type: model.PrincipalServicePrincipal, Created: time.Now()}
	for _, p := range []*model.Principal{sp, stranger} {
		if err := env.Store.CreatePrincipal(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, env.Instance.SubscriptionID, env.Instance.DefaultGroup, "gvm", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	adminTok := mint(t, env, admin, "https://graph.microsoft.com")
	readerTok := mint(t, env, sp, "https://graph.microsoft.com")
	unknownGUID := identity.NewObjectID()
	tests := []struct {
		name, method, path, tok string
		body                    any
		status                  int
		code                    string
	}{
		{"no token", "GET", "/v1.0/applications", "", nil, 401, "InvalidAuthenticationToken"},
		{"vault token", "GET", "/v1.0/applications", mint(t, env, admin, "https://vault.azure.net"), nil, 401, "InvalidAuthenticationToken"},
		{"management token", "GET", "/v1.0/applications", mint(t, env, admin, "https://management.azure.com/"), nil, 401, "InvalidAuthenticationToken"},
		{"reader lists applications", "GET", "/v1.0/applications", readerTok, nil, 200, ""},
		{"reader lists service principals", "GET", "/v1.0/servicePrincipals", readerTok, nil, 200, ""},
		{"no permission, no list", "GET", "/v1.0/servicePrincipals", mint(t, env, stranger, "https://graph.microsoft.com"), nil, 403, "Authorization_RequestDenied"},
		{"no permission, no object", "GET", "/v1.0/servicePrincipals/" + sp.ObjectID, mint(t, env, stranger, "https://graph.microsoft.com"), nil, 403, "Authorization_RequestDenied"},
		{"reader cannot create an application", "POST", "/v1.0/applications", readerTok, map[string]string{"displayName": "x"}, 403, "Authorization_RequestDenied"},
		{"reader cannot delete a principal", "DELETE", "/v1.0/servicePrincipals/" + sp.ObjectID, readerTok, nil, 403, "Authorization_RequestDenied"},
		{"malformed object id", "GET", "/v1.0/servicePrincipals/not-a-guid", readerTok, nil, 400, "Request_BadRequest"},
		{"malformed application id", "GET", "/v1.0/applications/1234", readerTok, nil, 400, "Request_BadRequest"},
		{"unknown service principal", "GET", "/v1.0/servicePrincipals/" + unknownGUID, readerTok, nil, 404, "Request_ResourceNotFound"},
		{"unknown application", "GET", "/v1.0/applications/" + unknownGUID, readerTok, nil, 404, "Request_ResourceNotFound"},
		{"malformed filter", "GET", "/v1.0/servicePrincipals?$filter=" + url.QueryEscape("startswith(displayName,'a') and"), readerTok, nil, 400, "BadRequest"},
		{"admin cannot delete itself", "DELETE", "/v1.0/servicePrincipals/" + admin.ObjectID, adminTok, nil, 400, "Request_BadRequest"},
		{"admin cannot delete a managed identity", "DELETE", "/v1.0/servicePrincipals/" + vm.SystemAssigned, adminTok, nil, 400, "Request_BadRequest"},
		{"unknown segment (as Graph: 400)", "GET", "/v1.0/nosuchsegment", readerTok, nil, 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gdo(t, env, tt.method, tt.path, tt.tok, tt.body)
			if r.status != tt.status || (tt.code != "" && r.code != tt.code) {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, r.status, r.body, tt.status, tt.code)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" && tt.tok == "" {
				t.Error("401 without a challenge")
			}
		})
	}
	// The protected principals are still there.
	for _, oid := range []string{admin.ObjectID, vm.SystemAssigned, sp.ObjectID} {
		if r := gdo(t, env, "GET", "/v1.0/servicePrincipals/"+oid, readerTok, nil); r.status != 200 {
			t.Errorf("GET servicePrincipals/%s = %d after the refused deletes", oid, r.status)
		}
	}
}

// TestGraphApplicationLifecycle: an application's secret is shown once
// (addPassword) and never again; filters find it by name and app id;
// deleting the service principal keeps the registration.
func TestGraphApplicationLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	admin, err := env.Store.GetPrincipal(context.Background(), env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, env, admin, "https://graph.microsoft.com")
	var app struct{ ID, AppID string }
	r := gdo(t, env, "POST", "/v1.0/applications", tok, map[string]string{"displayName": "unit-app"})
	if r.status != 201 {
		t.Fatalf("create application: %d %s", r.status, r.body)
	}
	_ = json.Unmarshal(r.body, &app)
	r = gdo(t, env, "POST", "/v1.0/servicePrincipals", tok, map[string]string{"appId": app.AppID})
	if r.status != 201 {
		t.Fatalf("create service principal: %d %s", r.status, r.body)
	}
	var sp struct{ ID string }
	_ = json.Unmarshal(r.body, &sp)
	r = gdo(t, env, "POST", "/v1.0/applications/"+app.ID+"/addPassword", tok, map[string]any{"passwordCredential": map[string]string{"displayName": "ci"}})
	var pw struct{ SecretText, KeyID string }
	if err := json.Unmarshal(r.body, &pw); r.status != 200 || err != nil || len(pw.SecretText) < 30 {
		t.Fatalf("addPassword: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1.0/applications/" + app.ID, "/v1.0/applications", "/v1.0/servicePrincipals/" + sp.ID, "/v1.0/servicePrincipals"} {
		if r := gdo(t, env, "GET", path, tok, nil); r.status != 200 || bytes.Contains(r.body, []byte(pw.SecretText)) {
			t.Errorf("GET %s = %d, reveals the secret: %v", path, r.status, bytes.Contains(r.body, []byte(pw.SecretText)))
		}
	}
	for _, f := range []string{"displayName eq 'unit-app'", "displayName eq 'UNIT-APP'", "appId eq '" + app.AppID + "'"} {
		var list struct{ Value []struct{ AppID string } }
		r := gdo(t, env, "GET", "/v1.0/applications?$filter="+url.QueryEscape(f), tok, nil)
		if err := json.Unmarshal(r.body, &list); r.status != 200 || err != nil || len(list.Value) != 1 || list.Value[0].AppID != app.AppID {
			t.Errorf("filter %q: %d %s", f, r.status, r.body)
		}
	}
	var none struct{ Value []any }
	r = gdo(t, env, "GET", "/v1.0/applications?$filter="+url.QueryEscape("displayName eq 'unit'"), tok, nil)
	if err := json.Unmarshal(r.body, &none); r.status != 200 || err != nil || len(none.Value) != 0 {
		t.Errorf("prefix must not match: %d %s", r.status, r.body)
	}
	if r := gdo(t, env, "DELETE", "/v1.0/servicePrincipals/"+sp.ID, tok, nil); r.status != 204 {
		t.Fatalf("delete service principal: %d %s", r.status, r.body)
	}
	if r := gdo(t, env, "GET", "/v1.0/servicePrincipals/"+sp.ID, tok, nil); r.status != 404 {
		t.Errorf("deleted service principal: %d", r.status)
	}
	if r := gdo(t, env, "GET", "/v1.0/applications/"+app.ID, tok, nil); r.status != 200 || !strings.Contains(string(r.body), pw.KeyID) {
		t.Errorf("the registration (with its password) should remain: %d %s", r.status, r.body)
	}
}
