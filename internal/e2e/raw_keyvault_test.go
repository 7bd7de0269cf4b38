package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestChallenge: every request without a token gets the 401 challenge the
// SDKs parse, before the path, the api-version or the body is looked at
// (azure-wire-spec §0.1, §2.1).
func TestChallenge(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tid := env.Instance.TenantID
	wantHdr := `Bearer authorization="https://login.microsoftonline.com/` + tid + `", resource="https://vault.azure.net"`
	base := kvURL(env, "")
	tests := []struct {
		name, method, url, auth string
		body                    []byte
		wantHdr                 string
	}{
		{name: "PUT empty body", method: "PUT", url: base + "/secrets/foo?api-version=7.6"},
		{name: "GET latest trailing slash", method: "GET", url: base + "/secrets/foo/?api-version=2026-04-01"},
		{name: "list", method: "GET", url: base + "/secrets?api-version=7.5"},
		{name: "bad name", method: "PUT", url: base + "/secrets/bad%20name?api-version=7.6", body: []byte(`{"value":"x"}`)},
		{name: "no api-version", method: "PUT", url: base + "/secrets/foo", body: []byte(`{"value":"x"}`)},
		{name: "bad api-version", method: "GET", url: base + "/secrets/foo?api-version=abc"},
		{name: "garbage body", method: "PUT", url: base + "/secrets/foo?api-version=7.6", body: []byte(`{{{not json`)},
		{name: "unknown route", method: "GET", url: base + "/keys/foo?api-version=7.6"},
		{name: "wrong method", method: "POST", url: base + "/secrets/foo?api-version=7.6"},
		{name: "purge", method: "DELETE", url: base + "/deletedsecrets/foo?api-version=7.6"},
		{name: "basic auth", method: "GET", url: base + "/secrets/foo?api-version=7.6", auth: "Basic dXNlcjpwYXNz"},
		{name: "empty bearer", method: "GET", url: base + "/secrets/foo?api-version=7.6", auth: "Bearer "},
		{name: "bearer keyword only", method: "GET", url: base + "/secrets/foo?api-version=7.6", auth: "Bearer"},
		{name: "explicit 443", method: "PUT", url: "https://default.vault.azure.net:443/secrets/foo?api-version=7.6"},
		{name: "non-default port", method: "PUT", url: "https://default.vault.azure.net:8443/secrets/foo?api-version=7.6",
			wantHdr: `Bearer authorization="https://login.microsoftonline.com:8443/` + tid + `", resource="https://vault.azure.net:8443"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr map[string]string
			if tt.auth != "" {
				hdr = map[string]string{"Authorization": tt.auth}
			}
			r := rawDo(t, env, tt.method, tt.url, "", tt.body, hdr)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401 (body %s)", r.Status, r.Body)
			}
			want := wantHdr
			if tt.wantHdr != "" {
				want = tt.wantHdr
			}
			if got := r.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			if string(r.Body) != akv10000 {
				t.Errorf("body = %s, want %s", r.Body, akv10000)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			// What the Go SDK checks (challenge_policy.go): the request's
			// URL.Host (with port) must end in "." + the resource's Host.
			u, _ := url.Parse(tt.url)
			res := strings.TrimSuffix(strings.Split(r.Header.Get("WWW-Authenticate"), `resource="`)[1], `"`)
			ru, _ := url.Parse(res)
			if !strings.HasSuffix(u.Host, "."+ru.Host) && u.Port() != "443" {
				t.Errorf("Go SDK resource check fails: %q does not end in %q", u.Host, "."+ru.Host)
			}
		})
	}
}

// TestChallengeLocalProfile: the local profile's authority is the listener
// itself, with the port, and the resource carries the port too.
func TestChallengeLocalProfile(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	r := rawDo(t, env, "PUT", kvURL(env, "/secrets/x?api-version=7.6"), "", nil, nil)
	want := `Bearer authorization="https://localhost:` + env.Port() + `/` + env.Instance.TenantID +
		`", resource="https://vault.localhost:` + env.Port() + `"`
	if r.Status != 401 || r.Header.Get("WWW-Authenticate") != want {
		t.Errorf("got %d %q, want 401 %q", r.Status, r.Header.Get("WWW-Authenticate"), want)
	}
	// A token for the advertised resource (with its port) is accepted.
	tok := clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, "https://vault.localhost:"+env.Port()+"/.default")
	if r := rawDo(t, env, "GET", kvURL(env, "/secrets?api-version=7.6"), tok, nil, nil); r.Status != 200 {
		t.Errorf("list with port-carrying audience = %d %s", r.Status, r.Body)
	}
}

// TestResponseHeaders: the real service's headers on success and on error;
// purge's 204 has neither body nor Content-Type.
func TestResponseHeaders(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	putSecret(t, env, tok, "hdr", map[string]any{"value": "v"})
	if r := rawDo(t, env, "DELETE", kvURL(env, "/secrets/hdr?api-version=7.6"), tok, nil, nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	putSecret(t, env, tok, "hdr2", map[string]any{"value": "v"})
	tests := []struct {
		name, method, path, token string
		body                      []byte
		status                    int
	}{
		{"get", "GET", "/secrets/hdr2/?api-version=7.6", tok, nil, 200},
		{"set", "PUT", "/secrets/hdr3?api-version=7.6", tok, []byte(`{"value":"v"}`), 200},
		{"list", "GET", "/secrets?api-version=7.6", tok, nil, 200},
		{"not found", "GET", "/secrets/nope?api-version=7.6", tok, nil, 404},
		{"bad request", "GET", "/secrets/nope?api-version=abc", tok, nil, 400},
		{"unauthenticated", "GET", "/secrets/nope?api-version=7.6", "", nil, 401},
		{"purge", "DELETE", "/deletedsecrets/hdr?api-version=7.6", tok, nil, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cid := "client-" + tt.name
			r := rawDo(t, env, tt.method, kvURL(env, tt.path), tt.token, tt.body, map[string]string{"x-ms-client-request-id": cid})
			if r.Status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", r.Status, tt.status, r.Body)
			}
			for k, want := range map[string]string{"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1", "x-ms-client-request-id": cid} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if id := r.Header.Get("x-ms-request-id"); !guidRE.MatchString(id) {
				t.Errorf("x-ms-request-id = %q, want a GUID", id)
			}
			if tt.status == http.StatusNoContent {
				if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
					t.Errorf("204 has body %q, Content-Type %q", r.Body, r.Header.Get("Content-Type"))
				}
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !json.Valid(r.Body) {
				t.Errorf("body is not JSON: %q", r.Body)
			}
		})
	}
	// Two requests never share a request id.
	a := rawDo(t, env, "GET", kvURL(env, "/secrets?api-version=7.6"), tok, nil, nil)
	b := rawDo(t, env, "GET", kvURL(env, "/secrets?api-version=7.6"), tok, nil, nil)
	if a.Header.Get("x-ms-request-id") == b.Header.Get("x-ms-request-id") {
		t.Error("x-ms-request-id repeats")
	}
}

// checkWireValues asserts that every timestamp in a decoded body is an integer
// and that nothing is null except a top-level nextLink.
func checkWireValues(t *testing.T, what string, m map[string]any) {
	t.Helper()
	walkJSONTree("", m, func(path string, v any) {
		if v == nil && path != ".nextLink" {
			t.Errorf("%s: %s is null", what, path)
		}
		last := path[strings.LastIndex(path, ".")+1:]
		switch last {
		case "created", "updated", "nbf", "exp", "deletedDate", "scheduledPurgeDate", "recoverableDays":
			n, ok := v.(json.Number)
			if _, err := strconv.ParseInt(string(n), 10, 64); !ok || err != nil {
				t.Errorf("%s: %s = %v, want an integer", what, path, v)
			}
		}
	})
}

func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := jsonKeys(m); !slices.Equal(got, want) {
		t.Errorf("%s members = %v, want %v", what, got, want)
	}
}

// TestWireJSON checks the JSON of every operation against the real
// service's: field names and casing, integer timestamps, omitted absent
// fields, ids, and error codes.
func TestWireJSON(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	host := "https://default.vault.azure.net"

	// Full set: every optional field present.
	full := putSecret(t, env, tok, "Full", map[string]any{
		"value": "v1", "contentType": "text/plain", "tags": map[string]string{"a": "b"},
		"attributes": map[string]any{"enabled": true, "nbf": 1893459661, "exp": 2208992461},
	})
	checkWireValues(t, "set", full)
	wantKeys(t, "set", full, "value", "contentType", "id", "attributes", "tags")
	attrs := full["attributes"].(map[string]any)
	wantKeys(t, "set attributes", attrs, "enabled", "nbf", "exp", "created", "updated", "recoveryLevel", "recoverableDays")
	if attrs["nbf"] != json.Number("1893459661") || attrs["exp"] != json.Number("2208992461") || attrs["recoveryLevel"] != "Recoverable+Purgeable" || attrs["recoverableDays"] != json.Number("90") {
		t.Errorf("set attributes = %v", attrs)
	}
	fullID := full["id"].(string)
	fullVer := strings.TrimPrefix(fullID, host+"/secrets/Full/")
	if !versionRE.MatchString(fullVer) {
		t.Fatalf("id = %s, want %s/secrets/Full/<32 hex>", fullID, host)
	}

	// Minimal set: absent fields are omitted, not null or empty.
	min := putSecret(t, env, tok, "min", map[string]any{"value": ""})
	checkWireValues(t, "minimal set", min)
	wantKeys(t, "minimal set", min, "value", "id", "attributes")
	wantKeys(t, "minimal set attributes", min["attributes"].(map[string]any), "enabled", "created", "updated", "recoveryLevel", "recoverableDays")
	if min["value"] != "" {
		t.Errorf("empty value came back as %v", min["value"])
	}

	// GET with and without trailing slash, double slashes, :443, JS's
	// percent-encoded api%2Dversion: all the same bundle.
	get := func(rawURL string, hdr map[string]string) map[string]any {
		t.Helper()
		r := rawDo(t, env, "GET", rawURL, tok, nil, hdr)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", rawURL, r.Status, r.Body)
		}
		return r.obj(t)
	}
	for _, u := range []string{
		host + "/secrets/Full?api-version=7.6",
		host + "/secrets/Full/?api-version=7.6",
		host + "/secrets/full/?api-version=7.6",
		host + "/secrets/Full/" + fullVer + "?api-version=7.6",
		host + "/secrets/Full/" + strings.ToUpper(fullVer) + "?api-version=7.6",
		host + "//secrets//Full?api-version=7.6",
		host + "//secrets/Full//?api-version=7.6",
		host + ":443/secrets/Full?api-version=7.6",
		host + "/secrets/Full/?api%2Dversion=7.6",
		host + "/secrets/Full?API-VERSION=7.6",
	} {
		got := get(u, nil)
		if got["id"] != fullID || got["value"] != "v1" {
			t.Errorf("GET %s = id %v value %v, want %s", u, got["id"], got["value"], fullID)
		}
		checkWireValues(t, u, got)
	}
	// A Host with :443 (as some clients send it) yields ids without a port.
	if got := get(host+"/secrets/Full?api-version=7.6", map[string]string{"Host": "default.vault.azure.net:443"}); got["id"] != fullID {
		t.Errorf("Host with :443: id = %v, want %s", got["id"], fullID)
	}

	// PATCH returns no value.
	r := rawDo(t, env, "PATCH", host+"/secrets/Full/"+fullVer+"?api-version=7.6", tok, []byte(`{"tags":{"c":"d"}}`), nil)
	if r.Status != 200 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	patched := r.obj(t)
	checkWireValues(t, "patch", patched)
	wantKeys(t, "patch", patched, "contentType", "id", "attributes", "tags")

	// Second version, then list (base ids, no values, nextLink null) and
	// versions (full ids).
	v2 := putSecret(t, env, tok, "Full", map[string]any{"value": "v2"})
	r = rawDo(t, env, "GET", host+"/secrets?api-version=7.6", tok, nil, nil)
	list := r.obj(t)
	wantKeys(t, "list", list, "value", "nextLink")
	if nl, ok := list["nextLink"]; !ok || nl != nil {
		t.Errorf("last page nextLink = %v, want null", nl)
	}
	checkWireValues(t, "list", list)
	items := list["value"].([]any)
	var ids []string
	for _, it := range items {
		m := it.(map[string]any)
		if _, ok := m["value"]; ok {
			t.Errorf("list item carries a value: %v", m)
		}
		for k := range m {
			if !slices.Contains([]string{"id", "attributes", "tags", "contentType", "managed"}, k) {
				t.Errorf("list item has member %q", k)
			}
		}
		ids = append(ids, m["id"].(string))
	}
	if want := []string{host + "/secrets/Full", host + "/secrets/min"}; !slices.Equal(ids, want) {
		t.Errorf("list ids = %v, want %v", ids, want)
	}
	r = rawDo(t, env, "GET", host+"/secrets/Full/versions?api-version=7.6", tok, nil, nil)
	vl := r.obj(t)
	checkWireValues(t, "versions", vl)
	ids = nil
	for _, it := range vl["value"].([]any) {
		m := it.(map[string]any)
		if _, ok := m["value"]; ok {
			t.Errorf("version item carries a value: %v", m)
		}
		ids = append(ids, m["id"].(string))
	}
	slices.Sort(ids)
	want := []string{fullID, v2["id"].(string)}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("version ids = %v, want %v", ids, want)
	}

	// Disabled: 403 Forbidden / SecretDisabled with lower-case innererror.
	rawDo(t, env, "PATCH", host+"/secrets/min/?api-version=7.6", tok, []byte(`{"attributes":{"enabled":false}}`), nil)
	r = rawDo(t, env, "GET", host+"/secrets/min/?api-version=7.6", tok, nil, nil)
	msg := r.wantKVError(t, "GET disabled", 403, "Forbidden", "SecretDisabled")
	if msg != "Operation get is not allowed on a disabled secret." {
		t.Errorf("SecretDisabled message = %q", msg)
	}
	if !strings.Contains(string(r.Body), `"innererror":{"code":"SecretDisabled"}`) {
		t.Errorf("body %s lacks lower-case innererror", r.Body)
	}

	// Delete: 200 deleted bundle without value; name reserved (409).
	r = rawDo(t, env, "DELETE", host+"/secrets/Full?api-version=7.6", tok, nil, nil)
	if r.Status != 200 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	del := r.obj(t)
	checkWireValues(t, "delete", del)
	// The latest version (v2) has neither content type nor tags.
	wantKeys(t, "delete", del, "recoveryId", "deletedDate", "scheduledPurgeDate", "id", "attributes")
	if del["recoveryId"] != host+"/deletedsecrets/Full" || del["id"] != v2["id"] {
		t.Errorf("deleted bundle ids = %v %v", del["recoveryId"], del["id"])
	}
	r = rawDo(t, env, "PUT", host+"/secrets/FULL?api-version=7.6", tok, []byte(`{"value":"again"}`), nil)
	msg = r.wantKVError(t, "PUT deleted name", 409, "Conflict", "ObjectIsDeletedButRecoverable")
	if msg != "Secret Full is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged." {
		t.Errorf("conflict message = %q", msg)
	}
	r = rawDo(t, env, "GET", host+"/deletedsecrets?api-version=7.6", tok, nil, nil)
	dl := r.obj(t)
	checkWireValues(t, "deleted list", dl)
	if nl, ok := dl["nextLink"]; !ok || nl != nil {
		t.Errorf("deleted list nextLink = %v", nl)
	}
	if items := dl["value"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != host+"/secrets/Full" {
		t.Errorf("deleted list = %s", r.Body)
	} else {
		wantKeys(t, "deleted item", items[0].(map[string]any), "recoveryId", "deletedDate", "scheduledPurgeDate", "id", "attributes")
	}
	r = rawDo(t, env, "GET", host+"/deletedsecrets/nope?api-version=7.6", tok, nil, nil)
	if msg := r.wantKVError(t, "GET deleted unknown", 404, "SecretNotFound", ""); msg != "Deleted Secret not found: nope" {
		t.Errorf("message = %q", msg)
	}
	r = rawDo(t, env, "GET", host+"/secrets/nope/?api-version=7.6", tok, nil, nil)
	if msg := r.wantKVError(t, "GET unknown", 404, "SecretNotFound", ""); !strings.HasPrefix(msg, "A secret with (name/id) nope was not found in this key vault.") {
		t.Errorf("message = %q", msg)
	}

	// Recover returns the latest version without value; backup is base64url.
	r = rawDo(t, env, "POST", host+"/deletedsecrets/Full/recover?api-version=7.6", tok, nil, nil)
	if r.Status != 200 {
		t.Fatalf("recover: %d %s", r.Status, r.Body)
	}
	rec := r.obj(t)
	if _, ok := rec["value"]; ok || rec["id"] != v2["id"] {
		t.Errorf("recover = %s", r.Body)
	}
	r = rawDo(t, env, "POST", host+"/secrets/Full/backup?api-version=7.6", tok, nil, nil)
	bk := r.obj(t)
	wantKeys(t, "backup", bk, "value")
	if s, _ := bk["value"].(string); s == "" || strings.ContainsAny(s, "+/=") {
		t.Errorf("backup value %q is not unpadded base64url", s)
	}
}

// TestAccessDeniedMessage: a principal outside the access policy gets 403
// Forbidden/AccessDenied naming its appid and oid and the permission.
func TestAccessDeniedMessage(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	appID, secret := createServicePrincipal(t, env, "outsider")
	p, err := env.Store.GetPrincipalByAppID(t.Context(), appID)
	if err != nil {
		t.Fatal(err)
	}
	tok := clientToken(t, env, appID, secret, vaultScope)
	tests := []struct{ method, path, perm string }{
		{"GET", "/secrets/x/?api-version=7.6", "get"},
		{"GET", "/secrets?api-version=7.6", "list"},
		{"PUT", "/secrets/x?api-version=7.6", "set"},
		{"DELETE", "/secrets/x?api-version=7.6", "delete"},
		{"DELETE", "/deletedsecrets/x?api-version=7.6", "purge"},
		{"POST", "/secrets/x/backup?api-version=7.6", "backup"},
		{"POST", "/deletedsecrets/x/recover?api-version=7.6", "recover"},
	}
	for _, tt := range tests {
		t.Run(tt.perm, func(t *testing.T) {
			var body []byte
			if tt.method == "PUT" {
				body = []byte(`{"value":"v"}`)
			}
			r := rawDo(t, env, tt.method, kvURL(env, tt.path), tok, body, nil)
			msg := r.wantKVError(t, tt.method+" "+tt.path, 403, "Forbidden", "AccessDenied")
			want := "The user, group or application 'appid=" + appID + ";oid=" + p.ObjectID + ";iss=https://sts.windows.net/" +
				env.Instance.TenantID + "/' does not have secrets " + tt.perm + " permission on key vault 'default;location="
			if !strings.HasPrefix(msg, want) {
				t.Errorf("message = %q, want prefix %q", msg, want)
			}
		})
	}
	// With get only, list is still denied and get is allowed.
	grantSecrets(t, env, p.ObjectID, "Get")
	admin := adminToken(t, env)
	putSecret(t, env, admin, "x", map[string]any{"value": "v"})
	if r := rawDo(t, env, "GET", kvURL(env, "/secrets/x?api-version=7.6"), tok, nil, nil); r.Status != 200 {
		t.Errorf("GET with get permission = %d %s", r.Status, r.Body)
	}
	r := rawDo(t, env, "GET", kvURL(env, "/secrets?api-version=7.6"), tok, nil, nil)
	r.wantKVError(t, "list with get only", 403, "Forbidden", "AccessDenied")
}

// TestAPIVersions: released, preview and unknown newer versions are
// served; anything else is 400 BadParameter with Azure's message. Versions
// before 7.1 do not carry recoverableDays.
func TestAPIVersions(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	putSecret(t, env, tok, "ver", map[string]any{"value": "v"})
	tests := []struct {
		query           string
		status          int
		recoverableDays bool
		msg             string
	}{
		{query: "api-version=2016-10-01", status: 200},
		{query: "api-version=7.0", status: 200},
		{query: "api-version=7.1", status: 200, recoverableDays: true},
		{query: "api-version=7.3-preview", status: 200, recoverableDays: true},
		{query: "api-version=7.5", status: 200, recoverableDays: true},
		{query: "api-version=7.6", status: 200, recoverableDays: true},
		{query: "api-version=7.6-preview.2", status: 200, recoverableDays: true},
		{query: "api-version=2025-07-01", status: 200, recoverableDays: true},
		{query: "api-version=2026-04-01", status: 200, recoverableDays: true},
		{query: "api-version=2027-01-01", status: 200, recoverableDays: true},
		{query: "api%2Dversion=2026-04-01", status: 200, recoverableDays: true},
		{query: "api-version=abc", status: 400, msg: "The specified version (abc) is not recognized. Consider using the latest supported version (2026-04-01)."},
		{query: "api-version=6.0", status: 400, msg: "The specified version (6.0) is not recognized. Consider using the latest supported version (2026-04-01)."},
		{query: "api-version=2014-01-01", status: 400, msg: "The specified version (2014-01-01) is not recognized. Consider using the latest supported version (2026-04-01)."},
		{query: "api-version=2025-13-01", status: 400},
		{query: "api-version=7.6&api-version=7.5", status: 400},
		{query: "api-version=", status: 400},
		{query: "", status: 400},
		{query: "maxresults=1", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := rawDo(t, env, "GET", kvURL(env, "/secrets/ver?"+tt.query), tok, nil, nil)
			if tt.status != 200 {
				msg := r.wantKVError(t, tt.query, tt.status, "BadParameter", "")
				if tt.msg != "" && msg != tt.msg {
					t.Errorf("message = %q, want %q", msg, tt.msg)
				}
				return
			}
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			m := r.obj(t)
			_, has := m["attributes"].(map[string]any)["recoverableDays"]
			if has != tt.recoverableDays || m["value"] != "v" {
				t.Errorf("recoverableDays present = %v, want %v (body %s)", has, tt.recoverableDays, r.Body)
			}
		})
	}
	// The PowerShell tutorial's exact request: token up front, no trailing
	// slash, api-version 2016-10-01.
	r := rawDo(t, env, "GET", "https://default.vault.azure.net/secrets/ver?api-version=2016-10-01", tok, nil, nil)
	if r.Status != 200 || r.obj(t)["value"] != "v" {
		t.Errorf("2016-10-01 GET = %d %s", r.Status, r.Body)
	}
}

// TestMethodOverride: POST with X-HTTP-Method PATCH or DELETE acts as that
// method (documented for clients that cannot send them); other overrides
// are ignored.
func TestMethodOverride(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	putSecret(t, env, tok, "ovr", map[string]any{"value": "v"})
	r := rawDo(t, env, "POST", kvURL(env, "/secrets/ovr/?api-version=7.6"), tok, []byte(`{"contentType":"patched"}`), map[string]string{"X-HTTP-Method": "PATCH"})
	if r.Status != 200 || r.obj(t)["contentType"] != "patched" {
		t.Errorf("POST as PATCH = %d %s", r.Status, r.Body)
	}
	r = rawDo(t, env, "POST", kvURL(env, "/secrets/ovr?api-version=7.6"), tok, []byte(`{"value":"w"}`), map[string]string{"X-HTTP-Method": "PUT"})
	r.wantKVError(t, "POST as PUT", 405, "BadParameter", "")
	r = rawDo(t, env, "POST", kvURL(env, "/secrets/ovr?api-version=7.6"), "", nil, map[string]string{"X-HTTP-REQUEST": "DELETE"})
	r.wantKVError(t, "unauthenticated POST as DELETE", 401, "Unauthorized", "")
	r = rawDo(t, env, "POST", kvURL(env, "/secrets/ovr?api-version=7.6"), tok, nil, map[string]string{"X-HTTP-REQUEST": "delete"})
	if r.Status != 200 || r.obj(t)["recoveryId"] == nil {
		t.Errorf("POST as DELETE = %d %s", r.Status, r.Body)
	}
}
