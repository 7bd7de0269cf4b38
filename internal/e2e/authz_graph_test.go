package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// graphErr checks Microsoft Graph's error shape
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}
// and the status and code, and returns the message.
func (r *rawResp) graphErr(t *testing.T, what string, status int, code string) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
	var body struct {
		Error struct {
			Code       string            `json:"code"`
			Message    string            `json:"message"`
			InnerError map[string]string `json:"innerError"`
		} `json:"error"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &top); err != nil || len(top) != 1 || json.Unmarshal(top["error"], &body.Error) != nil {
		t.Fatalf("%s: body %s is not a Graph error", what, r.Body)
	}
	e := body.Error
	if e.Code != code || e.Message == "" {
		t.Errorf("%s: error %q %q, want code %s", what, e.Code, e.Message, code)
	}
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if e.InnerError[k] == "" {
			t.Errorf("%s: innerError lacks %q: %s", what, k, r.Body)
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	return e.Message
}

// tokenStatus runs the client-credentials grant and returns the response.
func (w *azWorld) tokenStatus(t *testing.T, clientID, secret, scope string) *rawResp {
	t.Helper()
	return postForm(t, w.env, tokenURL(w.env, "v2"), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope},
	})
}

func oauthCode(t *testing.T, r *rawResp) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

// TestGraphServicePrincipalLifecycle: an application, its service principal
// and password credentials, created through Graph with the admin's token,
// give a working credential; removing the password or deleting the
// service principal takes it away, including tokens already issued.
func TestGraphServicePrincipalLifecycle(t *testing.T) {
	w := newAzWorld(t)
	const vault = "graph-lifecycle"
	w.createVault(t, vault, false)

	// Application.
	r := w.graph(t, "POST", "/v1.0/applications", w.graphTok, map[string]any{"displayName": "ci-pipeline"}).
		expect(t, "create application", http.StatusCreated)
	app := r.obj(t)
	appID, appObjID := app["appId"].(string), app["id"].(string)
	if !guidRE.MatchString(appID) || !guidRE.MatchString(appObjID) || app["displayName"] != "ci-pipeline" {
		t.Fatalf("application = %s", r.Body)
	}
	if got, want := app["@odata.context"], "https://graph.microsoft.com/v1.0/$metadata#applications/$entity"; got != want {
		t.Errorf("@odata.context = %v, want %s", got, want)
	}
	if pc, ok := app["passwordCredentials"].([]any); !ok || len(pc) != 0 {
		t.Errorf("new application passwordCredentials = %v", app["passwordCredentials"])
	}

	// A password before the service principal exists gets no token.
	p := azPrincipal{Name: "ci-pipeline", AppID: appID, AppObjectID: appObjID}
	p.Secret, p.KeyID = w.addPassword(t, p)
	if r := w.tokenStatus(t, appID, p.Secret, vaultScope); r.Status == http.StatusOK {
		t.Fatalf("token without a service principal = %d %s", r.Status, r.Body)
	}

	// Service principal.
	r = w.graph(t, "POST", "/v1.0/servicePrincipals", w.graphTok, map[string]any{"appId": appID}).
		expect(t, "create service principal", http.StatusCreated)
	sp := r.obj(t)
	p.ObjectID, _ = sp["id"].(string)
	if !guidRE.MatchString(p.ObjectID) || sp["appId"] != appID || p.ObjectID == appObjID || sp["servicePrincipalType"] != "Application" {
		t.Fatalf("service principal = %s", r.Body)
	}
	w.graph(t, "POST", "/v1.0/servicePrincipals", w.graphTok, map[string]any{"appId": appID}).
		graphErr(t, "second service principal", http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue")

	// The credential works: a Key Vault token and a read through the SDK.
	w.addPolicy(t, w.armTok, vault, policyEntry(w.tenant, p.ObjectID, "", "get")).expect(t, "access policy", http.StatusOK)
	fx := w.prepare(t, vault, "lifecycle")
	got, err := w.client(t, p, vault).GetSecret(context.Background(), fx.live, "", nil)
	if err != nil || *got.Value != fx.liveValue {
		t.Fatalf("GetSecret with the new credential: %v", err)
	}

	// The secret is shown once: reads carry a hint, never the text.
	r = w.graph(t, "GET", "/v1.0/applications/"+appObjID, w.graphTok, nil).expect(t, "get application", http.StatusOK)
	var shown struct {
		PasswordCredentials []struct {
			KeyID      string  `json:"keyId"`
			Hint       string  `json:"hint"`
			SecretText *string `json:"secretText"`
		} `json:"passwordCredentials"`
	}
	r.jsonInto(t, &shown)
	if len(shown.PasswordCredentials) != 1 || shown.PasswordCredentials[0].KeyID != p.KeyID ||
		shown.PasswordCredentials[0].SecretText != nil || !strings.HasPrefix(p.Secret, shown.PasswordCredentials[0].Hint) {
		t.Errorf("application passwordCredentials = %s", r.Body)
	}
	if strings.Contains(string(r.Body), p.Secret) {
		t.Error("GET application shows the client secret")
	}

	// removePassword: that secret no longer gets a token; another one does.
	second, _ := w.addPassword(t, p)
	w.graph(t, "POST", "/v1.0/applications/"+appObjID+"/removePassword", w.graphTok, map[string]any{"keyId": p.KeyID}).
		expect(t, "removePassword", http.StatusNoContent)
	r = w.tokenStatus(t, appID, p.Secret, vaultScope)
	if r.Status != http.StatusUnauthorized || oauthCode(t, r) != "invalid_client" {
		t.Errorf("token with the removed secret = %d %s, want 401 invalid_client", r.Status, r.Body)
	}
	w.graph(t, "POST", "/v1.0/applications/"+appObjID+"/removePassword", w.graphTok, map[string]any{"keyId": p.KeyID}).
		graphErr(t, "removePassword again", http.StatusNotFound, "Request_ResourceNotFound")
	p.Secret = second
	kvTok := w.token(t, p, vaultScope)
	graphTok := w.token(t, p, graphScope)
	if r := w.kv(t, "GET", vault, "/secrets/"+fx.live+"?api-version=7.6", kvTok, nil); r.Status != http.StatusOK {
		t.Fatalf("GET with the second secret = %d %s", r.Status, r.Body)
	}

	// Deleting the service principal: no new tokens, and issued ones stop
	// working on Key Vault (and Graph) at once. The app registration stays.
	w.graph(t, "DELETE", "/v1.0/servicePrincipals/"+p.ObjectID, w.graphTok, nil).expect(t, "delete service principal", http.StatusNoContent)
	r = w.tokenStatus(t, appID, second, vaultScope)
	if r.Status == http.StatusOK {
		t.Errorf("token after the service principal was deleted = %d %s", r.Status, r.Body)
	}
	r = w.kv(t, "GET", vault, "/secrets/"+fx.live+"?api-version=7.6", kvTok, nil)
	r.wantKVError(t, "Key Vault with a deleted principal's token", http.StatusUnauthorized, "Unauthorized", "")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without a challenge")
	}
	w.graph(t, "GET", "/v1.0/applications", graphTok, nil).
		graphErr(t, "Graph with a deleted principal's token", http.StatusUnauthorized, "InvalidAuthenticationToken")
	w.graph(t, "GET", "/v1.0/servicePrincipals/"+p.ObjectID, w.graphTok, nil).
		graphErr(t, "GET deleted service principal", http.StatusNotFound, "Request_ResourceNotFound")
	w.graph(t, "GET", "/v1.0/applications/"+appObjID, w.graphTok, nil).expect(t, "application after SP delete", http.StatusOK)

	// A service principal created again is a new object: the old one's
	// tokens and access policy do not come back; the app's password works
	// for the new one.
	r = w.graph(t, "POST", "/v1.0/servicePrincipals", w.graphTok, map[string]any{"appId": appID}).
		expect(t, "re-create service principal", http.StatusCreated)
	again := p
	again.ObjectID, _ = r.obj(t)["id"].(string)
	if !guidRE.MatchString(again.ObjectID) || again.ObjectID == p.ObjectID {
		t.Fatalf("re-created service principal id %q, want a new one (old %s)", again.ObjectID, p.ObjectID)
	}
	w.kv(t, "GET", vault, "/secrets/"+fx.live+"?api-version=7.6", kvTok, nil).
		wantKVError(t, "old token after re-creation", http.StatusUnauthorized, "Unauthorized", "")
	msg := w.kv(t, "GET", vault, "/secrets/"+fx.live+"?api-version=7.6", w.token(t, again, vaultScope), nil).
		wantKVError(t, "new service principal without a policy", http.StatusForbidden, "Forbidden", "AccessDenied")
	if want := w.accessDeniedMsg(again, "get", vault); msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	w.graph(t, "GET", "/v1.0/servicePrincipals/"+p.ObjectID, w.graphTok, nil).
		graphErr(t, "GET old service principal", http.StatusNotFound, "Request_ResourceNotFound")
	w.graph(t, "GET", "/v1.0/applications/"+appObjID, w.graphTok, nil).expect(t, "application after re-creation", http.StatusOK)

	// Deleting the application removes it and its service principal.
	w.graph(t, "DELETE", "/v1.0/applications/"+appObjID, w.graphTok, nil).expect(t, "delete application", http.StatusNoContent)
	w.graph(t, "GET", "/v1.0/applications/"+appObjID, w.graphTok, nil).
		graphErr(t, "GET deleted application", http.StatusNotFound, "Request_ResourceNotFound")
	w.graph(t, "GET", "/v1.0/servicePrincipals/"+again.ObjectID, w.graphTok, nil).
		graphErr(t, "GET service principal of deleted application", http.StatusNotFound, "Request_ResourceNotFound")
	if r := w.tokenStatus(t, appID, second, vaultScope); r.Status == http.StatusOK {
		t.Errorf("token after the application was deleted = %d %s", r.Status, r.Body)
	}
}

// TestGraphFilter: $filter by displayName and appId, as az and the SDKs
// send it, on applications and service principals, on the Graph host and
// the bare host.
func TestGraphFilter(t *testing.T) {
	w := newAzWorld(t)
	alpha := w.newPrincipal(t, "filter-alpha")
	beta := w.newPrincipal(t, "filter-beta")
	quoted := w.newPrincipal(t, "o'brien")

	list := func(t *testing.T, base, coll, filter string) []map[string]any {
		t.Helper()
		u := base + "/v1.0/" + coll + "?$filter=" + url.PathEscape(filter)
		r := w.do(t, "GET", u, w.graphTok, nil).expect(t, "GET "+u, http.StatusOK)
		var out struct {
			Context string           `json:"@odata.context"`
			Value   []map[string]any `json:"value"`
		}
		r.jsonInto(t, &out)
		if want := "https://graph.microsoft.com/v1.0/$metadata#" + coll; out.Context != want {
			t.Errorf("@odata.context = %q, want %q", out.Context, want)
		}
		return out.Value
	}
	one := func(t *testing.T, got []map[string]any, key, want string) {
		t.Helper()
		if len(got) != 1 || got[0][key] != want {
			t.Fatalf("filter matched %v, want exactly one with %s %s", got, key, want)
		}
	}
	for _, base := range []string{graphBase, "https://localhost"} {
		t.Run(base, func(t *testing.T) {
			one(t, list(t, base, "applications", "displayName eq 'filter-alpha'"), "appId", alpha.AppID)
			one(t, list(t, base, "applications", "appId eq '"+beta.AppID+"'"), "id", beta.AppObjectID)
			one(t, list(t, base, "applications", "displayName eq 'o''brien'"), "appId", quoted.AppID)
			one(t, list(t, base, "servicePrincipals", "displayName eq 'filter-beta'"), "id", beta.ObjectID)
			one(t, list(t, base, "servicePrincipals", "appId eq '"+alpha.AppID+"'"), "id", alpha.ObjectID)
			if got := list(t, base, "servicePrincipals", "displayName eq 'nobody'"); len(got) != 0 {
				t.Errorf("filter for nobody matched %v", got)
			}
		})
	}
	r := w.graph(t, "GET", "/v1.0/applications?$filter="+url.PathEscape("notes eq 'filter'"), w.graphTok, nil)
	r.graphErr(t, "unsupported filter", http.StatusBadRequest, "Request_UnsupportedQuery")
}

// TestGraphAuthorization: only the admin writes to the directory; a plain
// service principal gets 403 Authorization_RequestDenied, even with Owner
// on the subscription (Azure RBAC roles are not directory roles). Tokens
// must be Graph tokens of an existing principal.
func TestGraphAuthorization(t *testing.T) {
	w := newAzWorld(t)
	p := w.newPrincipal(t, "plain")
	target := w.newPrincipal(t, "target")
	w.assignRole(t, w.armTok, w.subID(), roleOwner, p.ObjectID).expect(t, "owner", http.StatusCreated)
	tok := w.token(t, p, graphScope)
	denied := []struct{ method, path string }{
		{"POST", "/v1.0/applications"},
		{"POST", "/v1.0/servicePrincipals"},
		{"POST", "/v1.0/applications/" + target.AppObjectID + "/addPassword"},
		{"POST", "/v1.0/applications/" + target.AppObjectID + "/removePassword"},
		{"DELETE", "/v1.0/applications/" + target.AppObjectID},
		{"DELETE", "/v1.0/servicePrincipals/" + target.ObjectID},
	}
	for _, d := range denied {
		w.graph(t, d.method, d.path, tok, map[string]any{"displayName": "x", "appId": target.AppID, "keyId": target.KeyID}).
			graphErr(t, d.method+" "+d.path, http.StatusForbidden, "Authorization_RequestDenied")
	}
	// Nothing happened: the target still gets tokens.
	w.token(t, target, vaultScope)

	w.graph(t, "GET", "/v1.0/applications", "", nil).graphErr(t, "no token", http.StatusUnauthorized, "InvalidAuthenticationToken")
	w.graph(t, "GET", "/v1.0/applications", w.token(t, p, vaultScope), nil).
		graphErr(t, "Key Vault token on Graph", http.StatusUnauthorized, "InvalidAuthenticationToken")
}

// TestGraphNotFound: unknown ids are 404 Request_ResourceNotFound naming the
// id; malformed ids are 400 Request_BadRequest.
func TestGraphNotFound(t *testing.T) {
	w := newAzWorld(t)
	id := uuid.NewString()
	for _, tt := range []struct{ method, path string }{
		{"GET", "/v1.0/applications/" + id},
		{"GET", "/v1.0/servicePrincipals/" + id},
		{"DELETE", "/v1.0/applications/" + id},
		{"DELETE", "/v1.0/servicePrincipals/" + id},
		{"POST", "/v1.0/applications/" + id + "/addPassword"},
	} {
		msg := w.graph(t, tt.method, tt.path, w.graphTok, map[string]any{}).
			graphErr(t, tt.method+" "+tt.path, http.StatusNotFound, "Request_ResourceNotFound")
		if want := "Resource '" + id + "' does not exist or one of its queried reference-property objects are not present."; msg != want {
			t.Errorf("%s %s: message %q, want %q", tt.method, tt.path, msg, want)
		}
	}
	// The service principal's id is not an application's id, and back.
	p := w.newPrincipal(t, "ids")
	w.graph(t, "GET", "/v1.0/applications/"+p.ObjectID, w.graphTok, nil).
		graphErr(t, "application by SP id", http.StatusNotFound, "Request_ResourceNotFound")
	w.graph(t, "GET", "/v1.0/servicePrincipals/"+p.AppObjectID, w.graphTok, nil).
		graphErr(t, "service principal by application id", http.StatusNotFound, "Request_ResourceNotFound")
	msg := w.graph(t, "GET", "/v1.0/applications/not-a-guid", w.graphTok, nil).
		graphErr(t, "malformed id", http.StatusBadRequest, "Request_BadRequest")
	if want := "Invalid object identifier 'not-a-guid'."; msg != want {
		t.Errorf("malformed id message %q, want %q", msg, want)
	}
	w.graph(t, "POST", "/v1.0/servicePrincipals", w.graphTok, map[string]any{"appId": id}).
		graphErr(t, "service principal for unknown app", http.StatusBadRequest, "Request_BadRequest")

	// innerError echoes the caller's client-request-id; the date has no zone.
	crid := uuid.NewString()
	r := rawDo(t, w.env, "GET", graphBase+"/v1.0/applications/"+id, w.graphTok, nil, map[string]string{"client-request-id": crid})
	r.graphErr(t, "with client-request-id", http.StatusNotFound, "Request_ResourceNotFound")
	var body struct {
		Error struct {
			InnerError map[string]string `json:"innerError"`
		} `json:"error"`
	}
	r.jsonInto(t, &body)
	if got := body.Error.InnerError["client-request-id"]; got != crid {
		t.Errorf("client-request-id = %q, want %q", got, crid)
	}
	if got := body.Error.InnerError["date"]; !graphDateRE.MatchString(got) {
		t.Errorf("innerError date = %q, want yyyy-mm-ddThh:mm:ss", got)
	}
}

var graphDateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$`)
