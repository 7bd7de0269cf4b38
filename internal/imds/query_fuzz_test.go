package imds_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/coffer-dev/coffer/internal/imds"
)

// downTransport fails every request at once: the fuzzed Front never
// reaches a server.
type downTransport struct{}

func (downTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("server down")
}

// FuzzQuery: whatever the path, query and headers, the Front answers a
// JSON body with one of IMDS's statuses; a 500 only for a request valid
// enough to need the (unreachable) server. Never a panic.
func FuzzQuery(f *testing.F) {
	f.Add("GET", "/metadata/identity/oauth2/token", "api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net", true)
	f.Add("GET", "/metadata/identity/oauth2/token", "api-version=2018-02-01&resource=x&client_id=a&object_id=b", true)
	f.Add("GET", "/metadata/identity/oauth2/token", "api-version=2018-02-01&resource=x&resource=y", true)
	f.Add("GET", "/metadata/identity/oauth2/token", "api-version=2018-02-01&resource=x&bypass_cache=yes", true)
	f.Add("GET", "/metadata/instance/compute/vmId", "api-version=2021-02-01&format=text", true)
	f.Add("GET", "//metadata//versions/", "", true)
	f.Add("POST", "/metadata/identity/info", "api-version=2018-02-01", true)
	f.Add("GET", "/metadata/identity/oauth2/token", "%zz", true)
	f.Add("GET", "/metadata/identity/oauth2/token", "api-version=2018-02-01&resource=x", false)
	front := &imds.Front{Upstream: &http.Client{Transport: downTransport{}}, ServerURL: "https://coffer.invalid", Credential: "cofferm_x",
		IdentityRate: 1 << 30, IdentityConcurrency: 1 << 10, MetadataRate: 1 << 30}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, metadata bool) {
		if !validMethod(method) {
			return // net/http would not deliver it
		}
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}, Host: "169.254.169.254"}
		if metadata {
			r.Header.Set("Metadata", "true")
		}
		w := httptest.NewRecorder()
		front.ServeHTTP(w, r)
		switch w.Code {
		case 200, 400, 404, 405, 429, 500:
		default:
			t.Fatalf("%s %s?%s = %d", method, path, rawQuery, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s?%s = %d with a body that is not JSON: %q", method, path, rawQuery, w.Code, w.Body.String())
		}
		if w.Code == 500 && !metadata {
			t.Fatalf("a request without Metadata: true reached the server: %s %s?%s", method, path, rawQuery)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '<' || c == '>' || c == '@' || c == ',' || c == ';' ||
			c == ':' || c == '\\' || c == '"' || c == '/' || c == '[' || c == ']' || c == '?' || c == '=' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}
