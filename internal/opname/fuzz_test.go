package opname

import (
	"net/http"
	"net/url"
	"testing"
	"unicode"

	"github.com/coffer-dev/coffer/internal/cloud"
)

var apis = map[string]bool{KeyVault: true, ARM: true, Graph: true, Token: true, Health: true, Metadata: true, Other: true}

// FuzzClassify: whatever the request, the name is a short identifier from
// the fixed vocabulary (safe as a metric label) and the API one of the
// families; never a panic.
func FuzzClassify(f *testing.F) {
	f.Add("GET", "v1.vault.azure.net", "/secrets/db/abc")
	f.Add("PUT", "management.azure.com", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v")
	f.Add("POST", "graph.microsoft.com", "/v1.0/applications(appId='x')/addPassword")
	f.Add("POST", "login.microsoftonline.com", "/t/oauth2/v2.0/token")
	f.Add("DELETE", "localhost:8443", "//secrets//x/../y")
	f.Fuzz(func(t *testing.T, method, host, path string) {
		r := &http.Request{Method: method, Host: host, URL: &url.URL{Path: path}}
		op := Classify(cloud.AzureCloud, r)
		if !apis[op.API] {
			t.Fatalf("API %q", op.API)
		}
		if len(op.Name) == 0 || len(op.Name) > 64 {
			t.Fatalf("name %q", op.Name)
		}
		for _, c := range op.Name {
			if c > unicode.MaxASCII || !unicode.IsLetter(c) {
				t.Fatalf("name %q from %s %s %s is not a plain identifier", op.Name, method, host, path)
			}
		}
	})
}
