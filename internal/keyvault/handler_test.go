package keyvault

import (
	"net/http/httptest"
	"slices"
	"sort"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
)

func TestParseAPIVersion(t *testing.T) {
	tests := []struct {
		in                  string
		ok, recoverableDays bool
	}{
		{"2015-06-01", true, false},
		{"2016-10-01", true, false},
		{"7.0", true, false},
		{"7.1", true, true},
		{"7.3-preview", true, true},
		{"7.6-preview.2", true, true},
		{"7.6", true, true},
		{"2025-06-01", true, true},
		{"2025-07-01", true, true},
		{"2026-04-01", true, true},
		{"2027-01-01", true, true},
		{"8.0", true, true},
		{"", false, false},
		{"abc", false, false},
		{"6.0", false, false},
		{"7", false, false},
		{"7.6.1", false, false},
		{" 7.6", false, false},
		{"2014-01-01", false, false},
		{"2020-01-01", false, false},
		{"2025-13-01", false, false},
		{"2025-00-10", false, false},
		{"2025-01-32", false, false},
	}
	for _, tt := range tests {
		got, ok := parseAPIVersion(tt.in)
		if ok != tt.ok || got.hasRecoverableDays != tt.recoverableDays || (ok && got.raw != tt.in) {
			t.Errorf("parseAPIVersion(%q) = %+v, %v, want ok %v recoverableDays %v", tt.in, got, ok, tt.ok, tt.recoverableDays)
		}
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		in    string
		segs  []string
		trail bool
		err   bool
	}{
		{"/secrets", []string{"secrets"}, false, false},
		{"/secrets/", []string{"secrets"}, true, false},
		{"/secrets/a/", []string{"secrets", "a"}, true, false},
		{"//secrets//a//v", []string{"secrets", "a", "v"}, false, false},
		{"/Secrets/a", []string{"secrets", "a"}, false, false},
		{"/prefix/secrets/a", []string{"secrets", "a"}, false, false},
		{"/secrets/a%2Fb", []string{"secrets", "a/b"}, false, false},
		{"/secrets/bad%20name", []string{"secrets", "bad name"}, false, false},
		{"/DeletedSecrets/a/recover", []string{"deletedsecrets", "a", "recover"}, false, false},
		{"/keys/a", []string{"keys", "a"}, false, false},
		{"/", nil, true, false},
		{"/secrets/%zz", nil, false, true},
	}
	for _, tt := range tests {
		segs, trail, err := splitPath(tt.in)
		if (err != nil) != tt.err || (err == nil && (!slices.Equal(segs, tt.segs) || trail != tt.trail)) {
			t.Errorf("splitPath(%q) = %q, %v, %v, want %q, %v, err %v", tt.in, segs, trail, err, tt.segs, tt.trail, tt.err)
		}
	}
}

func TestMethodOf(t *testing.T) {
	tests := []struct {
		method, header, value, want string
	}{
		{"GET", "", "", "GET"},
		{"POST", "", "", "POST"},
		{"POST", "X-HTTP-Method", "PATCH", "PATCH"},
		{"POST", "X-HTTP-Method", "delete", "DELETE"},
		{"POST", "X-HTTP-REQUEST", "DELETE", "DELETE"},
		{"POST", "X-HTTP-Method", "PUT", "POST"},
		{"POST", "X-HTTP-Method", "GET", "POST"},
		{"GET", "X-HTTP-Method", "DELETE", "GET"},
		{"PUT", "X-HTTP-Method", "DELETE", "PUT"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/secrets/x", nil)
		if tt.header != "" {
			r.Header.Set(tt.header, tt.value)
		}
		if got := methodOf(r); got != tt.want {
			t.Errorf("methodOf(%s, %s: %s) = %s, want %s", tt.method, tt.header, tt.value, got, tt.want)
		}
	}
}

func TestRoute(t *testing.T) {
	h := &Handler{}
	tests := []struct {
		method  string
		segs    []string
		found   bool
		handled bool
		allowed []string
	}{
		{"GET", []string{"secrets"}, true, true, nil},
		{"POST", []string{"secrets"}, true, false, []string{"GET"}},
		{"POST", []string{"secrets", "restore"}, true, true, nil},
		{"GET", []string{"secrets", "restore"}, true, true, nil},
		{"POST", []string{"secrets", "x"}, true, false, []string{"DELETE", "GET", "PATCH", "PUT"}},
		{"GET", []string{"secrets", "x", "versions"}, true, true, nil},
		{"GET", []string{"secrets", "x", "backup"}, true, false, []string{"POST"}},
		{"PUT", []string{"secrets", "x", "v"}, true, false, []string{"GET", "PATCH"}},
		{"GET", []string{"secrets", "x", "v", "w"}, false, false, nil},
		{"PUT", []string{"deletedsecrets", "x"}, true, false, []string{"DELETE", "GET"}},
		{"GET", []string{"deletedsecrets", "x", "recover"}, true, false, []string{"POST"}},
		{"POST", []string{"deletedsecrets", "x", "undo"}, false, false, nil},
		{"GET", []string{"keys"}, true, true, nil},
		{"POST", []string{"keys", "x", "create"}, true, true, nil},
		{"GET", []string{"keys", "x", "create"}, true, false, []string{"POST"}},
		{"POST", []string{"keys", "x", "sign"}, true, true, nil},
		{"POST", []string{"keys", "x", "v", "wrapkey"}, true, true, nil},
		{"GET", []string{"keys", "x", "v", "sign"}, true, false, []string{"POST"}},
		{"POST", []string{"keys", "x", "v", "release"}, true, true, nil},
		{"POST", []string{"keys", "x", "release"}, true, true, nil},
		{"GET", []string{"keys", "x", "v", "release"}, true, false, []string{"POST"}},
		{"POST", []string{"keys", "x", "v", "export"}, false, false, nil},
		{"PUT", []string{"keys", "x", "rotationpolicy"}, true, true, nil},
		{"DELETE", []string{"deletedkeys", "x"}, true, true, nil},
		{"GET", []string{"certificates"}, true, true, nil},
		{"POST", []string{"certificates", "x", "create"}, true, true, nil},
		{"GET", []string{"certificates", "x", "create"}, true, false, []string{"POST"}},
		{"POST", []string{"certificates", "restore"}, true, true, nil},
		{"GET", []string{"certificates", "contacts"}, true, true, nil},
		{"PUT", []string{"certificates", "issuers", "self"}, true, true, nil},
		{"GET", []string{"certificates", "x", "pending"}, true, true, nil},
		{"PUT", []string{"certificates", "x", "policy"}, true, false, []string{"GET", "PATCH"}},
		{"GET", []string{"certificates", "x", "versions"}, true, true, nil},
		{"POST", []string{"deletedcertificates", "x", "recover"}, true, true, nil},
		{"GET", []string{"certificates", "x", "v", "w"}, false, false, nil},
		{"GET", []string{"storage"}, false, false, nil},
		{"GET", nil, false, false, nil},
	}
	for _, tt := range tests {
		f, allowed, found := h.route(tt.method, tt.segs)
		if found != tt.found || (f != nil) != tt.handled || !slices.Equal(allowed, tt.allowed) {
			t.Errorf("route(%s %v) = handled %v, allowed %v, found %v; want %v, %v, %v",
				tt.method, tt.segs, f != nil, allowed, found, tt.handled, tt.allowed, tt.found)
		}
	}
}

// TestVersionKey: keys ascend from newest to oldest, ties broken by
// insertion order (later first), and never collide.
func TestVersionKey(t *testing.T) {
	type v struct {
		created int64
		ins     int
	}
	// Newest first, as listed.
	want := []v{{200, 3}, {200, 2}, {150, 4}, {100, 1}, {100, 0}, {0, 5}, {-1, 6}, {-1 << 62, 7}}
	keys := make([]string, len(want))
	for i, x := range want {
		keys[i] = versionKey(x.created, x.ins)
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("keys are not ascending in list order: %q", keys)
	}
	if len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Errorf("keys collide: %q", keys)
	}
}

func TestParseQuery(t *testing.T) {
	q, err := parseQuery("api%2Dversion=7.6&MaxResults=5&$skiptoken=abc&flag")
	if err != nil || first(q, "api-version") != "7.6" || first(q, "maxresults") != "5" || first(q, "$skiptoken") != "abc" {
		t.Errorf("parseQuery = %v, %v", q, err)
	}
	for _, bad := range []string{"api-version=7.6&api-version=7.5", "api-version=7.6&API-VERSION=7.5", "x=%zz"} {
		if _, err := parseQuery(bad); err == nil {
			t.Errorf("parseQuery(%q) succeeded", bad)
		}
	}
}

// TestVaultAudienceMemo: remembering the last accepted audience never
// makes a rejected one acceptable, whatever the order of calls.
func TestVaultAudienceMemo(t *testing.T) {
	h := &Handler{Profile: cloud.AzureCloud}
	calls := []struct {
		aud  string
		want bool
	}{
		{"https://management.azure.com/", false},
		{"https://vault.azure.net", true},
		{"https://vault.azure.net", true},
		{"https://vault.azure.net/secrets", false},
		{"https://vault.azure.net/", true},
		{"https://management.azure.com/", false},
		{"", false},
		{"https://vault.azure.net", true},
	}
	for i, c := range calls {
		if got := h.vaultAudience(c.aud); got != c.want {
			t.Errorf("call %d: vaultAudience(%q) = %v, want %v", i, c.aud, got, c.want)
		}
	}
}
