package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

const graphBase = "https://graph.microsoft.com/v1.0"

// gw is a running server and the admin's Graph token.
type gw struct {
	env *testenv.Env
	tok string
}

func start(t *testing.T) *gw {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {env.Admin.ClientID},
		"client_secret": {env.Admin.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := env.Client().PostForm(env.AuthorityHost()+env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return &gw{env: env, tok: tr.AccessToken}
}

// token runs the client-credentials grant for a Graph token.
func (g *gw) token(t *testing.T, clientID, secret string) *http.Response {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}}
	r, err := g.env.Client().PostForm(g.env.AuthorityHost()+g.env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as az's send_raw_request does; hdr adds headers
// (e.g. ConsistencyLevel).
func (g *gw) do(t *testing.T, method, rawURL string, body any, hdr ...string) *resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	if strings.HasPrefix(rawURL, "/") {
		rawURL = graphBase + rawURL
	}
	req, err := http.NewRequestWithContext(context.Background(), method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.tok)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := g.env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return &resp{r.StatusCode, r.Header, b}
}

func (r *resp) want(t *testing.T, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d %s, want %d", r.status, r.body, status)
	}
	return r
}

func (r *resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

// values is the "value" list of a collection response.
func (r *resp) values(t *testing.T) []map[string]any {
	t.Helper()
	var out struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Value == nil {
		t.Fatalf("body %s is not a collection: %v", r.body, err)
	}
	return out.Value
}

// graphErr checks Graph's error shape and returns code and message.
func (r *resp) graphErr(t *testing.T) (string, string) {
	t.Helper()
	var e struct {
		Error struct {
			Code       string            `json:"code"`
			Message    string            `json:"message"`
			InnerError map[string]string `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body %s is not a Graph error", r.body)
	}
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if e.Error.InnerError[k] == "" {
			t.Errorf("innerError lacks %s: %s", k, r.body)
		}
	}
	return e.Error.Code, e.Error.Message
}

// azQuote percent-encodes everything but unreserved characters, as
// Python's urllib.parse.quote with an empty safe set, which az applies to
// $filter values.
func azQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

func filterURL(coll, filter string) string { return "/" + coll + "?$filter=" + azQuote(filter) }

func ids(objs []map[string]any) string {
	var out []string
	for _, o := range objs {
		out = append(out, o["displayName"].(string))
	}
	return strings.Join(out, ",")
}

// TestAzServicePrincipalFlow replays, request by request, what az 2.45's
// `ad sp create-for-rbac --name`, `ad app create`, `ad sp show/list`,
// `keyvault create` (signed-in principal lookup) and `role assignment
// create --assignee` send to Graph.
func TestAzServicePrincipalFlow(t *testing.T) {
	g := start(t)

	// create-for-rbac --name ci-deploy: look for an existing service
	// principal, then for applications whose name starts with it.
	if got := g.do(t, "GET", filterURL("servicePrincipals", "displayName eq 'ci-deploy'"), nil).want(t, 200).values(t); len(got) != 0 {
		t.Fatalf("existing service principals: %v", got)
	}
	if got := g.do(t, "GET", filterURL("applications", "startswith(displayName,'ci-deploy')"), nil).want(t, 200).values(t); len(got) != 0 {
		t.Fatalf("existing applications: %v", got)
	}
	app := g.do(t, "POST", "/applications", map[string]any{"displayName": "ci-deploy", "keyCredentials": []any{}}).want(t, 201).obj(t)
	appID, appObj := app["appId"].(string), app["id"].(string)
	if pc, ok := app["passwordCredentials"].([]any); !ok || len(pc) != 0 || app["identifierUris"] == nil {
		t.Fatalf("new application: %v", app)
	}
	pw := g.do(t, "POST", "/applications/"+appObj+"/addPassword", map[string]any{"passwordCredential": map[string]any{
		"displayName": "rbac", "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": "2099-01-01T00:00:00Z"}}).want(t, 200).obj(t)
	if s, _ := pw["secretText"].(string); s == "" {
		t.Fatalf("addPassword: %v", pw)
	}
	sp := g.do(t, "POST", "/servicePrincipals", map[string]any{"appId": appID, "accountEnabled": true}).want(t, 201).obj(t)
	spID := sp["id"].(string)
	if sp["servicePrincipalType"] != "Application" || sp["appOwnerOrganizationId"] != g.env.Instance.TenantID || sp["accountEnabled"] != true {
		t.Errorf("service principal: %v", sp)
	}

	// Running create-for-rbac again: az finds the service principal by
	// name and the application by prefix, PATCHes the application and
	// reads it back.
	if got := g.do(t, "GET", filterURL("servicePrincipals", "displayName eq 'ci-deploy'"), nil).want(t, 200).values(t); len(got) != 1 || got[0]["id"] != spID {
		t.Fatalf("service principal by name: %v", got)
	}
	g.do(t, "PATCH", "/applications/"+appObj, map[string]any{"displayName": "ci-deploy"}).want(t, 204)
	got := g.do(t, "GET", "/applications/"+appObj, nil).want(t, 200).obj(t)
	if pc := got["passwordCredentials"].([]any); len(pc) != 1 || pc[0].(map[string]any)["secretText"] != nil {
		t.Errorf("application passwordCredentials: %v", pc)
	}

	// ad sp show --id <appId>, keyvault create's signed-in lookup, role
	// assignment create --assignee <appId>: servicePrincipalNames lookup.
	spn := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalNames/any(c:c eq '"+appID+"')"), nil).want(t, 200).values(t)
	if len(spn) != 1 || spn[0]["id"] != spID {
		t.Fatalf("servicePrincipalNames lookup: %v", spn)
	}
	g.do(t, "GET", "/servicePrincipals/"+spID, nil).want(t, 200)
	// The admin (az login --service-principal -u <admin appId>) is found too.
	adm := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalNames/any(c:c eq '"+g.env.Admin.ClientID+"')"), nil).want(t, 200).values(t)
	if len(adm) != 1 || adm[0]["id"] != g.env.Instance.AdminObjectID {
		t.Fatalf("admin lookup: %v", adm)
	}
	// ad sp show --id <objectId>: no name matches, az then GETs the id.
	if got := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalNames/any(c:c eq '"+spID+"')"), nil).want(t, 200).values(t); len(got) != 0 {
		t.Errorf("object id matched as a name: %v", got)
	}
	// keyvault create first tries /me, which fails for app tokens.
	if code, msg := g.do(t, "GET", "/me", nil).want(t, 400).graphErr(t); code != "BadRequest" || !strings.Contains(msg, "delegated") {
		t.Errorf("/me: %s %s", code, msg)
	}
	// keyvault set-policy --upn and role assignment --assignee <upn> look
	// users up; Coffer's directory has none.
	if got := g.do(t, "GET", filterURL("users", "userPrincipalName eq 'ann@contoso.com'"), nil).want(t, 200).values(t); len(got) != 0 {
		t.Errorf("users: %v", got)
	}
	if code, _ := g.do(t, "GET", filterURL("users", "shoeSize eq 'x'"), nil).want(t, 400).graphErr(t); code != "BadRequest" {
		t.Errorf("users with unknown property: %s", code)
	}
	// role assignment create --assignee <objectId> and role assignment
	// list name principals through getByIds.
	byIDs := g.do(t, "POST", "/directoryObjects/getByIds", map[string]any{
		"ids":   []string{spID, "00000000-0000-0000-0000-000000000000", appObj},
		"types": []string{"user", "group", "servicePrincipal", "directoryObjectPartnerReference"}}).want(t, 200).values(t)
	if len(byIDs) != 1 || byIDs[0]["id"] != spID || byIDs[0]["@odata.type"] != "#microsoft.graph.servicePrincipal" {
		t.Errorf("getByIds: %v", byIDs)
	}

	// ad app update --identifier-uris, then the lookups by URI.
	g.do(t, "PATCH", "/applications/"+appObj, map[string]any{"identifierUris": []string{"api://ci-deploy"}}).want(t, 204)
	byURI := g.do(t, "GET", filterURL("applications", "identifierUris/any(s:s eq 'api://ci-deploy')"), nil).want(t, 200).values(t)
	if len(byURI) != 1 || byURI[0]["id"] != appObj {
		t.Fatalf("identifierUris lookup: %v", byURI)
	}
	bySPN := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalNames/any(c:c eq 'API://ci-deploy')"), nil).want(t, 200).values(t)
	if len(bySPN) != 1 || bySPN[0]["id"] != spID {
		t.Fatalf("service principal by identifier URI: %v", bySPN)
	}
	other := g.do(t, "POST", "/applications", map[string]any{"displayName": "other"}).want(t, 201).obj(t)
	if code, _ := g.do(t, "PATCH", "/applications/"+other["id"].(string), map[string]any{"identifierUris": []string{"api://ci-deploy"}}).want(t, 400).graphErr(t); code != "Request_BadRequest" {
		t.Errorf("duplicate identifier URI: %s", code)
	}

	// Alternate key.
	if got := g.do(t, "GET", "/servicePrincipals(appId='"+appID+"')", nil).want(t, 200).obj(t); got["id"] != spID {
		t.Errorf("servicePrincipals(appId=): %v", got)
	}
	if got := g.do(t, "GET", "/applications(appId='"+appID+"')", nil).want(t, 200).obj(t); got["id"] != appObj {
		t.Errorf("applications(appId=): %v", got)
	}

	// ad sp credential reset: the password belongs to the service
	// principal, authenticates, and is listed there only.
	spPw := g.do(t, "POST", "/servicePrincipals/"+spID+"/addPassword", map[string]any{"passwordCredential": map[string]any{
		"displayName": nil, "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": "2099-01-01T00:00:00Z"}}).want(t, 200).obj(t)
	spSecret, _ := spPw["secretText"].(string)
	if tok := g.token(t, appID, spSecret); tok.StatusCode != http.StatusOK {
		t.Errorf("token with the service principal's password: %d", tok.StatusCode)
	}
	spCreds := g.do(t, "GET", "/servicePrincipals/"+spID, nil).want(t, 200).obj(t)["passwordCredentials"].([]any)
	appCreds := g.do(t, "GET", "/applications/"+appObj, nil).want(t, 200).obj(t)["passwordCredentials"].([]any)
	if len(spCreds) != 1 || spCreds[0].(map[string]any)["keyId"] != spPw["keyId"] || spCreds[0].(map[string]any)["secretText"] != nil || len(appCreds) != 1 {
		t.Errorf("passwordCredentials: service principal %v, application %v", spCreds, appCreds)
	}
	g.do(t, "POST", "/applications/"+appObj+"/removePassword", map[string]any{"keyId": spPw["keyId"]}).want(t, 404)
	g.do(t, "POST", "/servicePrincipals/"+spID+"/removePassword", map[string]any{"keyId": spPw["keyId"]}).want(t, 204)
	if tok := g.token(t, appID, spSecret); tok.StatusCode == http.StatusOK {
		t.Error("removed service principal password still gets a token")
	}

	// ad sp delete --id <appId>; ad app delete --id <appId>.
	g.do(t, "DELETE", "/servicePrincipals/"+spID, nil).want(t, 204)
	if got := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalNames/any(c:c eq '"+appID+"')"), nil).want(t, 200).values(t); len(got) != 0 {
		t.Errorf("deleted service principal still listed: %v", got)
	}
	g.do(t, "DELETE", "/applications/"+appObj, nil).want(t, 204)
}

// TestManagedIdentityServicePrincipal: a user-assigned identity is a
// service principal of type ManagedIdentity, found by its client id.
func TestManagedIdentityServicePrincipal(t *testing.T) {
	g := start(t)
	u, _, err := g.env.Resources.CreateOrUpdateUAMI(context.Background(), g.env.Instance.SubscriptionID, g.env.Instance.DefaultGroup, "build-agent", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalNames/any(c:c eq '"+u.ClientID+"')"), nil).want(t, 200).values(t)
	if len(got) != 1 || got[0]["id"] != u.PrincipalID || got[0]["servicePrincipalType"] != "ManagedIdentity" || got[0]["displayName"] != "build-agent" {
		t.Fatalf("managed identity: %v", got)
	}
	alt, _ := got[0]["alternativeNames"].([]any)
	if len(alt) != 2 || alt[0] != "isExplicit=True" || !strings.EqualFold(alt[1].(string), u.ResourceID()) {
		t.Errorf("alternativeNames = %v", alt)
	}
	if code, _ := g.do(t, "POST", "/servicePrincipals/"+u.PrincipalID+"/addPassword", map[string]any{}).want(t, 400).graphErr(t); code != "Request_BadRequest" {
		t.Errorf("password on a managed identity: %s", code)
	}
	mi := g.do(t, "GET", filterURL("servicePrincipals", "servicePrincipalType eq 'ManagedIdentity'"), nil).want(t, 200).values(t)
	if len(mi) != 1 {
		t.Errorf("servicePrincipalType filter: %v", mi)
	}
	byAlt := g.do(t, "GET", filterURL("servicePrincipals", "alternativeNames/any(x:x eq '"+u.ResourceID()+"')"), nil).want(t, 200).values(t)
	if len(byAlt) != 1 {
		t.Errorf("alternativeNames filter: %v", byAlt)
	}
}

// TestQueryOptions: $filter, $search, $select, $top paging, $count and
// $orderby, with Graph's errors for what it does not serve.
func TestQueryOptions(t *testing.T) {
	g := start(t)
	for _, n := range []string{"web-front", "web-back", "batch", "O'Neil"} {
		app := g.do(t, "POST", "/applications", map[string]any{"displayName": n}).want(t, 201).obj(t)
		g.do(t, "POST", "/servicePrincipals", map[string]any{"appId": app["appId"]}).want(t, 201)
	}
	eventual := []string{"ConsistencyLevel", "eventual"}

	ok := []struct {
		name, path string
		hdr        []string
		want       string
	}{
		{"startswith", filterURL("servicePrincipals", "startswith(displayName,'web')") + "&$orderby=displayName&$count=true", eventual, "web-back,web-front"},
		{"quote escaping", filterURL("servicePrincipals", "displayName eq 'o''neil'"), nil, "O'Neil"},
		{"or and in", filterURL("applications", "displayName in ('batch','nope') or displayName eq 'web-back'") + "&$orderby=displayName&$count=true", eventual, "batch,web-back"},
		{"ne needs advanced", filterURL("applications", "displayName ne 'batch' and startswith(displayName,'web')") + "&$count=true&$orderby=displayName%20desc", eventual, "web-front,web-back"},
		{"not", filterURL("servicePrincipals", "not(startswith(displayName,'web')) and displayName ne 'coffer-admin'") + "&$count=true&$orderby=displayName", eventual, "batch,Microsoft Graph,O'Neil"},
		{"search", "/servicePrincipals?$search=" + azQuote(`"displayName:front" OR "displayName:batch"`) + "&$orderby=displayName", eventual, "batch,web-front"},
		{"orderby alone", "/applications?$orderby=displayName", nil, "batch,coffer-admin,O'Neil,web-back,web-front"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(g.do(t, "GET", tt.path, nil, tt.hdr...).want(t, 200).values(t)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	bad := []struct {
		name, path string
		hdr        []string
		code, msg  string
	}{
		{"unsupported property", filterURL("servicePrincipals", "notes eq 'x'"), nil, "Request_UnsupportedQuery",
			"Unsupported or invalid query filter clause specified for property 'notes' of resource 'ServicePrincipal'."},
		{"complex property", filterURL("applications", "passwordCredentials/any(p:p eq 'x')"), nil, "Request_UnsupportedQuery", "Complex query on property passwordCredentials is not supported."},
		{"unknown property", filterURL("servicePrincipals", "colour eq 'x'"), nil, "BadRequest", "Could not find a property named 'colour' on type 'microsoft.graph.servicePrincipal'."},
		{"malformed", filterURL("servicePrincipals", "displayName eq 'x"), nil, "BadRequest", "Invalid filter clause"},
		{"malformed lambda", filterURL("servicePrincipals", "servicePrincipalNames/any(c c eq 'x')"), nil, "BadRequest", "Invalid filter clause"},
		{"ne without advanced", filterURL("servicePrincipals", "displayName ne 'x'"), nil, "Request_UnsupportedQuery", "Operator 'ne' is not supported"},
		{"ne without $count", filterURL("servicePrincipals", "displayName ne 'x'"), eventual, "Request_UnsupportedQuery", "Operator 'ne' is not supported"},
		{"search without header", "/servicePrincipals?$search=" + azQuote(`"displayName:web"`), nil, "Request_UnsupportedQuery", "ConsistencyLevel: eventual"},
		{"search unquoted", "/servicePrincipals?$search=displayName:web", eventual, "Request_BadRequest", "Invalid search clause"},
		{"top too large", "/servicePrincipals?$top=1000", nil, "Request_BadRequest", "Invalid page size specified: '1000'"},
		{"top zero", "/servicePrincipals?$top=0", nil, "Request_BadRequest", "Invalid page size"},
		{"bad skiptoken", "/servicePrincipals?$skiptoken=garbage", nil, "Directory_ExpiredPageToken", "page token"},
		{"select unknown", "/servicePrincipals?$select=colour", nil, "BadRequest", "Could not find a property named 'colour'"},
		{"skip", "/servicePrincipals?$skip=1", nil, "Request_BadRequest", "'$skip' is not supported by the service."},
		{"expand", "/servicePrincipals?$expand=owners", nil, "BadRequest", "'$expand'"},
		{"orderby with filter", filterURL("servicePrincipals", "startswith(displayName,'web')") + "&$orderby=displayName", nil, "Request_UnsupportedQuery", "Sorting not supported for current query."},
		{"orderby other property", "/servicePrincipals?$orderby=appId", nil, "Request_UnsupportedQuery", "Sorting not supported"},
		{"count segment without header", "/servicePrincipals/$count", nil, "Request_BadRequest", "$count is not currently supported."},
		{"duplicate option", "/servicePrincipals?$top=1&$top=2", nil, "BadRequest", "more than once"},
		{"alternate key", "/servicePrincipals(displayName='x')", nil, "BadRequest", "alternate key"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := g.do(t, "GET", tt.path, nil, tt.hdr...).want(t, 400).graphErr(t)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("error %s %q, want %s containing %q", code, msg, tt.code, tt.msg)
			}
		})
	}

	t.Run("select", func(t *testing.T) {
		r := g.do(t, "GET", filterURL("servicePrincipals", "displayName eq 'batch'")+"&$select=DisplayName,appId", nil).want(t, 200)
		m := r.obj(t)
		if m["@odata.context"] != graphBase+"/$metadata#servicePrincipals(displayName,appId)" {
			t.Errorf("@odata.context = %v", m["@odata.context"])
		}
		v := r.values(t)
		if len(v) != 1 || len(v[0]) != 2 || v[0]["displayName"] != "batch" || v[0]["appId"] == nil {
			t.Errorf("selected = %v", v)
		}
	})
	t.Run("count", func(t *testing.T) {
		m := g.do(t, "GET", filterURL("servicePrincipals", "startswith(displayName,'web')")+"&$count=true&$top=1", nil, eventual...).want(t, 200).obj(t)
		if m["@odata.count"] != float64(2) || len(m["value"].([]any)) != 1 {
			t.Errorf("count response = %v", m)
		}
		// Without the header Graph ignores $count=true.
		if m := g.do(t, "GET", "/servicePrincipals?$count=true", nil).want(t, 200).obj(t); m["@odata.count"] != nil {
			t.Errorf("count without ConsistencyLevel = %v", m["@odata.count"])
		}
		r := g.do(t, "GET", "/applications/$count?$filter="+azQuote("startswith(displayName,'web')"), nil, eventual...).want(t, 200)
		if string(r.body) != "2" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("$count = %q %s", r.body, r.header.Get("Content-Type"))
		}
	})
	t.Run("paging", func(t *testing.T) {
		// az follows @odata.nextLink until it is absent.
		var names []string
		next := graphBase + "/servicePrincipals?$top=2&$orderby=displayName"
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("too many pages")
			}
			var page struct {
				Value []map[string]any `json:"value"`
				Next  string           `json:"@odata.nextLink"`
			}
			if err := json.Unmarshal(g.do(t, "GET", next, nil).want(t, 200).body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Value) > 2 {
				t.Fatalf("page of %d", len(page.Value))
			}
			for _, v := range page.Value {
				names = append(names, v["displayName"].(string))
			}
			next = page.Next
		}
		if got := strings.Join(names, ","); got != "batch,coffer-admin,O'Neil,web-back,web-front" {
			t.Errorf("paged = %s", got)
		}
	})
	t.Run("get with select", func(t *testing.T) {
		id := g.do(t, "GET", filterURL("applications", "displayName eq 'batch'"), nil).want(t, 200).values(t)[0]["id"].(string)
		m := g.do(t, "GET", "/applications/"+id+"?$select=identifierUris", nil).want(t, 200).obj(t)
		if len(m) != 2 || m["identifierUris"] == nil || m["@odata.context"] != graphBase+"/$metadata#applications(identifierUris)/$entity" {
			t.Errorf("get with $select = %v", m)
		}
	})
}

// TestApplicationBody: what POST/PATCH /applications accept and reject.
func TestApplicationBody(t *testing.T) {
	g := start(t)
	tests := []struct {
		name string
		body map[string]any
		code string
	}{
		{"no name", map[string]any{"keyCredentials": []any{}}, "Request_BadRequest"},
		{"unknown property", map[string]any{"displayName": "x", "colour": "red"}, "Request_BadRequest"},
		{"unmodelled property", map[string]any{"displayName": "x", "web": map[string]any{}}, "Request_BadRequest"},
		{"key credential", map[string]any{"displayName": "x", "keyCredentials": []any{map[string]any{"key": "abc"}}}, "Request_BadRequest"},
		{"multi-tenant", map[string]any{"displayName": "x", "signInAudience": "AzureADMultipleOrgs"}, "Request_BadRequest"},
		{"bad URI", map[string]any{"displayName": "x", "identifierUris": []string{"not a uri"}}, "Request_BadRequest"},
		{"wrong type", map[string]any{"displayName": 5}, "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := g.do(t, "POST", "/applications", tt.body).want(t, 400).graphErr(t); code != tt.code {
				t.Errorf("code %s, want %s", code, tt.code)
			}
		})
	}
	app := g.do(t, "POST", "/applications", map[string]any{"displayName": "tagged", "tags": []string{"ci"}, "signInAudience": "AzureADMyOrg",
		"identifierUris": []string{"api://tagged"}}).want(t, 201).obj(t)
	if got := g.do(t, "GET", filterURL("applications", "tags/any(t:t eq 'CI')"), nil).want(t, 200).values(t); len(got) != 1 || got[0]["id"] != app["id"] {
		t.Errorf("tags filter: %v", got)
	}
}
