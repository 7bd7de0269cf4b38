package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

func manyTags(n, valueLen int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("t%02d", i)] = strings.Repeat("v", valueLen)
	}
	return m
}

// TestBadInput: malformed names, bodies and routes are 4xx in Key Vault's
// error shape, never 500, and store nothing.
func TestBadInput(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	existing := putSecret(t, env, tok, "existing", map[string]any{"value": "keep", "tags": map[string]string{"k": "v"}})
	existingVer := existing["id"].(string)[strings.LastIndex(existing["id"].(string), "/")+1:]
	long := strings.Repeat("a", 128)
	const q = "?api-version=7.6"

	tests := []struct {
		name   string
		method string
		path   string // under the vault URL, without the query
		query  string // replaces q when set
		body   []byte
		status int
		code   string
		// check is the secret that must not exist afterwards.
		check string
	}{
		{name: "name with space", method: "PUT", path: "/secrets/bad%20name", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter"},
		{name: "name with underscore", method: "PUT", path: "/secrets/a_b", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter"},
		{name: "name with dot", method: "PUT", path: "/secrets/a.b", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter"},
		{name: "name of 128 chars", method: "PUT", path: "/secrets/" + long, body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter"},
		{name: "name with unicode", method: "PUT", path: "/secrets/caf%C3%A9", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter"},
		{name: "name with encoded slash", method: "PUT", path: "/secrets/a%2Fb", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter", check: "a"},
		{name: "GET name with encoded slash", method: "GET", path: "/secrets/existing%2F" + existingVer, status: 400, code: "BadParameter"},
		{name: "PUT with trailing slash", method: "PUT", path: "/secrets/trail/", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter", check: "trail"},
		{name: "GET bad name", method: "GET", path: "/secrets/a_b/", status: 400, code: "BadParameter"},
		{name: "DELETE bad name", method: "DELETE", path: "/secrets/a_b", status: 400, code: "BadParameter"},
		{name: "deleted bad name", method: "GET", path: "/deletedsecrets/a_b", status: 400, code: "BadParameter"},
		{name: "versions bad name", method: "GET", path: "/secrets/a_b/versions", status: 400, code: "BadParameter"},
		{name: "value too long", method: "PUT", path: "/secrets/big", body: jsonBody(t, map[string]string{"value": strings.Repeat("x", 25601)}), status: 400, code: "BadParameter", check: "big"},
		{name: "value too long multibyte", method: "PUT", path: "/secrets/big", body: jsonBody(t, map[string]string{"value": strings.Repeat("é", 12801)}), status: 400, code: "BadParameter", check: "big"},
		{name: "body over 256 KiB", method: "PUT", path: "/secrets/huge", body: jsonBody(t, map[string]string{"value": strings.Repeat("x", 300<<10)}), status: 413, check: "huge"},
		{name: "body of 1 MiB whitespace", method: "PUT", path: "/secrets/huge", body: []byte(`{"value":"x"` + strings.Repeat(" ", 1<<20) + `}`), status: 413, check: "huge"},
		{name: "invalid JSON", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":`), status: 400, code: "BadParameter", check: "bad"},
		{name: "trailing garbage", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x"} {}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "empty body", method: "PUT", path: "/secrets/bad", body: []byte{}, status: 400, code: "BadParameter", check: "bad"},
		{name: "JSON null", method: "PUT", path: "/secrets/bad", body: []byte(`null`), status: 400, code: "BadParameter", check: "bad"},
		{name: "JSON array", method: "PUT", path: "/secrets/bad", body: []byte(`[{"value":"x"}]`), status: 400, code: "BadParameter", check: "bad"},
		{name: "value missing", method: "PUT", path: "/secrets/bad", body: []byte(`{"contentType":"x"}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "value null", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":null}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "value is a number", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":12345}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "value is an object", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":{"a":1}}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "tags not an object", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x","tags":"a=b"}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "tag value a number", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x","tags":{"a":1}}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "enabled a string", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x","attributes":{"enabled":"no"}}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "exp a float", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x","attributes":{"exp":1.5}}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "exp a date string", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x","attributes":{"exp":"2030-01-01T00:00:00Z"}}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "16 tags", method: "PUT", path: "/secrets/bad", body: jsonBody(t, map[string]any{"value": "x", "tags": manyTags(16, 1)}), status: 400, code: "BadParameter", check: "bad"},
		{name: "tag value 513 chars", method: "PUT", path: "/secrets/bad", body: jsonBody(t, map[string]any{"value": "x", "tags": manyTags(1, 513)}), status: 400, code: "BadParameter", check: "bad"},
		{name: "tag name 513 chars", method: "PUT", path: "/secrets/bad", body: jsonBody(t, map[string]any{"value": "x", "tags": map[string]string{strings.Repeat("n", 513): "v"}}), status: 400, code: "BadParameter", check: "bad"},
		{name: "empty tag name", method: "PUT", path: "/secrets/bad", body: []byte(`{"value":"x","tags":{"":"v"}}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "contentType 256 chars", method: "PUT", path: "/secrets/bad", body: jsonBody(t, map[string]any{"value": "x", "contentType": strings.Repeat("c", 256)}), status: 400, code: "BadParameter", check: "bad"},
		{name: "PATCH unknown version", method: "PATCH", path: "/secrets/existing/0123456789abcdef0123456789abcdef", body: []byte(`{"tags":{}}`), status: 404, code: "SecretNotFound"},
		{name: "PATCH non-hex version", method: "PATCH", path: "/secrets/existing/nope", body: []byte(`{"tags":{}}`), status: 404, code: "SecretNotFound"},
		{name: "PATCH unknown secret", method: "PATCH", path: "/secrets/bad/", body: []byte(`{"tags":{}}`), status: 404, code: "SecretNotFound", check: "bad"},
		{name: "PATCH 16 tags", method: "PATCH", path: "/secrets/existing/", body: jsonBody(t, map[string]any{"tags": manyTags(16, 1)}), status: 400, code: "BadParameter"},
		{name: "PATCH tags wrong type", method: "PATCH", path: "/secrets/existing/" + existingVer, body: []byte(`{"tags":["a"]}`), status: 400, code: "BadParameter"},
		{name: "PATCH invalid JSON", method: "PATCH", path: "/secrets/existing/", body: []byte(`{`), status: 400, code: "BadParameter"},
		{name: "PATCH contentType 256", method: "PATCH", path: "/secrets/existing/", body: jsonBody(t, map[string]any{"contentType": strings.Repeat("c", 256)}), status: 400, code: "BadParameter"},
		{name: "GET unknown version", method: "GET", path: "/secrets/existing/0123456789abcdef0123456789abcdef", status: 404, code: "SecretNotFound"},
		{name: "restore garbage base64", method: "POST", path: "/secrets/restore", body: []byte(`{"value":"!!!"}`), status: 400, code: "BadParameter"},
		{name: "restore not a backup", method: "POST", path: "/secrets/restore", body: []byte(`{"value":"aGVsbG8gd29ybGQ"}`), status: 400, code: "BadParameter"},
		{name: "restore value a number", method: "POST", path: "/secrets/restore", body: []byte(`{"value":5}`), status: 400, code: "BadParameter"},
		{name: "restore no value", method: "POST", path: "/secrets/restore", body: []byte(`{}`), status: 400, code: "BadParameter"},
		{name: "recover unknown", method: "POST", path: "/deletedsecrets/bad/recover", status: 404, code: "SecretNotFound", check: "bad"},
		{name: "purge unknown", method: "DELETE", path: "/deletedsecrets/bad", status: 404, code: "SecretNotFound"},
		{name: "purge live secret", method: "DELETE", path: "/deletedsecrets/existing", status: 404, code: "SecretNotFound"},
		{name: "backup unknown", method: "POST", path: "/secrets/bad/backup", status: 404, code: "SecretNotFound", check: "bad"},
		{name: "unknown collection", method: "GET", path: "/storage", status: 404},
		{name: "unknown certificate", method: "GET", path: "/certificates/x", status: 404},
		{name: "root", method: "GET", path: "/", status: 404},
		{name: "too many segments", method: "GET", path: "/secrets/a/b/c", status: 404},
		{name: "deleted too many segments", method: "GET", path: "/deletedsecrets/a/b", status: 404},
		{name: "deleted unknown action", method: "POST", path: "/deletedsecrets/a/undo", status: 404},
		{name: "POST secret", method: "POST", path: "/secrets/bad", body: []byte(`{"value":"x"}`), status: 405, check: "bad"},
		{name: "POST list", method: "POST", path: "/secrets", body: []byte(`{"value":"x"}`), status: 405},
		{name: "DELETE list", method: "DELETE", path: "/secrets", status: 405},
		{name: "PUT version", method: "PUT", path: "/secrets/bad/0123456789abcdef0123456789abcdef", body: []byte(`{"value":"x"}`), status: 405, check: "bad"},
		{name: "GET backup", method: "GET", path: "/secrets/existing/backup", status: 405},
		{name: "PUT deleted", method: "PUT", path: "/deletedsecrets/bad", body: []byte(`{"value":"x"}`), status: 405, check: "bad"},
		{name: "GET recover", method: "GET", path: "/deletedsecrets/bad/recover", status: 405},
		{name: "HEAD secret", method: "HEAD", path: "/secrets/existing", status: 405},
		{name: "OPTIONS", method: "OPTIONS", path: "/secrets", status: 405},
		{name: "duplicate api-version", method: "PUT", path: "/secrets/bad", query: "?api-version=7.6&api-version=7.5", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "malformed query", method: "PUT", path: "/secrets/bad", query: "?api-version=7.6&x=%zz", body: []byte(`{"value":"x"}`), status: 400, code: "BadParameter", check: "bad"},
		{name: "unsupported outContentType", method: "GET", path: "/secrets/existing/", query: "?api-version=2025-07-01&outContentType=text/html", status: 400, code: "BadParameter"},
	}
	listBefore := listIDs(t, env, tok, kvURL(env, "/secrets"+q))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query := q
			if tt.query != "" {
				query = tt.query
			}
			r := rawDo(t, env, tt.method, kvURL(env, tt.path+query), tok, tt.body, nil)
			if r.Status >= 500 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if r.Status != tt.status {
				t.Errorf("status = %d, want %d (body %.300s)", r.Status, tt.status, r.Body)
			}
			if r.Status == http.StatusMethodNotAllowed {
				if allow := r.Header.Get("Allow"); allow == "" || strings.Contains(allow, tt.method) {
					t.Errorf("405 Allow = %q", allow)
				}
			}
			if tt.method != "HEAD" {
				code, _, _ := r.kvError(t)
				if tt.code != "" && code != tt.code {
					t.Errorf("code = %s, want %s", code, tt.code)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if tt.check != "" {
				if g := rawDo(t, env, "GET", kvURL(env, "/secrets/"+tt.check+"/"+q), tok, nil, nil); g.Status != 404 {
					t.Errorf("afterwards GET %s = %d %s", tt.check, g.Status, g.Body)
				}
			}
		})
	}
	if after := listIDs(t, env, tok, kvURL(env, "/secrets"+q)); !slices.Equal(after, listBefore) {
		t.Errorf("list changed from %v to %v", listBefore, after)
	}
	// The existing secret is untouched: one version, same value and tags.
	r := rawDo(t, env, "GET", kvURL(env, "/secrets/existing/"+q), tok, nil, nil)
	if m := r.obj(t); m["value"] != "keep" || m["id"] != existing["id"] || fmt.Sprint(m["tags"]) != "map[k:v]" {
		t.Errorf("existing secret changed: %s", r.Body)
	}
	if ids := listIDs(t, env, tok, kvURL(env, "/secrets/existing/versions"+q)); len(ids) != 1 {
		t.Errorf("existing secret has versions %v", ids)
	}
	if ids := listIDs(t, env, tok, kvURL(env, "/deletedsecrets"+q)); len(ids) != 0 {
		t.Errorf("deleted secrets %v", ids)
	}
}

// TestInputLimits: values exactly at each limit are accepted, so the
// rejections above are the limits and not something else.
func TestInputLimits(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	tests := []struct {
		name string
		body map[string]any
	}{
		{strings.Repeat("a", 127), map[string]any{"value": "x"}},
		{"-starts-with-dash", map[string]any{"value": "x"}},
		{"0digit", map[string]any{"value": "x"}},
		{"value-25600", map[string]any{"value": strings.Repeat("x", 25600)}},
		{"tags-15", map[string]any{"value": "x", "tags": manyTags(15, 512)}},
		{"tag-name-512", map[string]any{"value": "x", "tags": map[string]string{strings.Repeat("n", 512): "v"}}},
		{"content-type-255", map[string]any{"value": "x", "contentType": strings.Repeat("c", 255)}},
		{"empty-value", map[string]any{"value": ""}},
		{"unicode-value", map[string]any{"value": "pässwörd ✓ \u0000 \"quoted\""}},
		{"unknown-fields", map[string]any{"value": "x", "kid": "k", "managed": true, "attributes": map[string]any{"created": 1, "recoveryLevel": "Purgeable"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name[:min(len(tt.name), 20)], func(t *testing.T) {
			r := rawDo(t, env, "PUT", kvURL(env, "/secrets/"+tt.name+"?api-version=7.6"), tok, jsonBody(t, tt.body), nil)
			if r.Status != http.StatusOK {
				t.Fatalf("PUT = %d %.300s", r.Status, r.Body)
			}
			g := rawDo(t, env, "GET", kvURL(env, "/secrets/"+tt.name+"/?api-version=7.6"), tok, nil, nil)
			if g.Status != 200 || g.obj(t)["value"] != tt.body["value"] {
				t.Errorf("GET = %d, value differs", g.Status)
			}
		})
	}
	// Read-only attributes in the body are ignored.
	g := rawDo(t, env, "GET", kvURL(env, "/secrets/unknown-fields?api-version=7.6"), tok, nil, nil).obj(t)
	if a := g["attributes"].(map[string]any); a["created"] == json.Number("1") || a["recoveryLevel"] != "Recoverable+Purgeable" {
		t.Errorf("read-only attributes were taken from the body: %v", a)
	}
	if _, ok := g["kid"]; ok {
		t.Errorf("kid was taken from the body: %v", g)
	}
}

// TestRandomRequestsNever5xx sends a fixed pseudo-random mix of methods,
// paths (including encoded, dot and NUL segments), queries and bodies: no
// combination may produce a 5xx or an empty 200.
func TestRandomRequestsNever5xx(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	putSecret(t, env, tok, "a", map[string]any{"value": "x"})
	segs := []string{"secrets", "deletedsecrets", "a", "A", "b", "restore", "backup", "versions", "recover", "", "%2F", "..", ".", "%00", "%25", "0123456789abcdef0123456789abcdef", "keys", "x%20y", "%E2%82%AC"}
	methods := []string{"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}
	bodies := []string{"", "{}", "null", `{"value":"v"}`, `{"value":"v","attributes":{"enabled":false}}`, `{"attributes":{"enabled":true}}`, `{"tags":null}`, `{"tags":{"a":"b"}}`, `{"value":""}`, "[", `{"value":"AAAA"}`, `{"value":"KUF6dXJlS2V5VmF1bHRTZWNyZXRCYWNrdXBWMS5taWNyb3NvZnQuY29tAQ"}`, "\x00\xff"}
	queries := []string{"api-version=7.6", "api-version=7.6&maxresults=1", "api-version=2016-10-01", "api-version=7.6&$skiptoken=eyJhZnRlciI6IloifQ", "api-version=7.6&outContentType=application/x-pem-file", ""}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1500 {
		n := r.IntN(4) + 1
		var p []string
		for j := 0; j < n; j++ {
			p = append(p, segs[r.IntN(len(segs))])
		}
		u := kvURL(env, "/"+strings.Join(p, "/")+"?"+queries[r.IntN(len(queries))])
		m := methods[r.IntN(len(methods))]
		var b []byte
		if bs := bodies[r.IntN(len(bodies))]; bs != "" {
			b = []byte(bs)
		}
		resp, err := rawTry(env, m, u, tok, b, nil)
		if err != nil {
			t.Errorf("%s %s: %v", m, u, err)
			continue
		}
		if resp.Status >= 500 {
			t.Errorf("%s %s %q -> %d %s", m, u, b, resp.Status, resp.Body)
		}
		if resp.Status == 200 && m != "HEAD" && len(resp.Body) == 0 {
			t.Errorf("%s %s -> 200 empty", m, u)
		}
	}
}
