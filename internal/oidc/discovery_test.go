package oidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestInstanceDiscoveryTenant(t *testing.T) {
	const tid = "7a1c5d2e-0000-4000-8000-000000000001"
	h := &Handler{TenantID: tid, Now: time.Now}
	mux := http.NewServeMux()
	h.Mount(mux)
	ae := func(s string) string { return "&authorization_endpoint=" + url.QueryEscape(s) }
	for _, tc := range []struct {
		name, path string
		status     int
		want       string // tenant_discovery_endpoint
	}{
		{"MSAL Python, v2 authority", "/common/discovery/instance?api-version=1.0" + ae("https://localhost/"+tid+"/oauth2/v2.0/authorize"),
			200, "https://localhost/" + tid + "/v2.0/.well-known/openid-configuration"},
		{"organizations", "/common/discovery/instance?api-version=1.1" + ae("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"),
			200, "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"},
		{"v1 authorize endpoint", "/common/discovery/instance?api-version=1.1" + ae("https://login.microsoftonline.com/"+tid+"/oauth2/authorize"),
			200, "https://login.microsoftonline.com/" + tid + "/.well-known/openid-configuration"},
		{"port kept", "/common/discovery/instance?api-version=1.1" + ae("https://localhost:8443/"+tid+"/oauth2/v2.0/authorize"),
			200, "https://localhost:8443/" + tid + "/v2.0/.well-known/openid-configuration"},
		{"tenant from the path", "/" + tid + "/discovery/instance?api-version=1.1", 200,
			"https://login.microsoftonline.com/" + tid + "/v2.0/.well-known/openid-configuration"},
		{"no endpoint, common", "/common/discovery/instance?api-version=1.1", 200,
			"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"},
		{"http endpoint", "/common/discovery/instance?api-version=1.1" + ae("http://localhost/"+tid+"/oauth2/v2.0/authorize"), 400, ""},
		{"no tenant segment", "/common/discovery/instance?api-version=1.1" + ae("https://localhost/"), 400, ""},
		{"template tenant", "/common/discovery/instance?api-version=1.1" + ae("https://localhost/{tenant}/oauth2/v2.0/authorize"), 400, ""},
		{"userinfo", "/common/discovery/instance?api-version=1.1" + ae("https://u:p@localhost/"+tid+"/oauth2/v2.0/authorize"), 400, ""},
		{"not a URL", "/common/discovery/instance?api-version=1.1" + ae("https://[::1"), 400, ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "https://login.microsoftonline.com"+tc.path, nil)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, w.Code, tc.status, w.Body)
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.status == 200 && body["tenant_discovery_endpoint"] != tc.want {
			t.Errorf("%s: tenant_discovery_endpoint = %v, want %s", tc.name, body["tenant_discovery_endpoint"], tc.want)
		}
		if tc.status == 400 && body["error"] != "invalid_instance" {
			t.Errorf("%s: error = %v", tc.name, body["error"])
		}
	}
}
