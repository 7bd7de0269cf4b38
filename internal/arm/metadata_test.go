package arm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
)

func TestCloudMetadataShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       cloud.Profile
		host    string
		version string
		shape   string // legacy, object, list
		arm     string
		vault   string
		graph   string
	}{
		{"az/msrestazure", cloud.AzureCloud, "management.azure.com", "2015-01-01", "legacy", "", "", "https://graph.microsoft.com/"},
		{"go-autorest", cloud.AzureCloud, "management.azure.com", "1.0", "legacy", "", "", "https://graph.microsoft.com/"},
		{"2018", cloud.AzureCloud, "management.azure.com", "2018-01-01", "object", "https://management.azure.com/", "vault.azure.net", "https://graph.microsoft.com/"},
		{"2019", cloud.AzureCloud, "management.azure.com:443", "2019-05-01", "list", "https://management.azure.com/", "vault.azure.net", "https://graph.microsoft.com/"},
		{"2022", cloud.AzureCloud, "management.azure.com", "2022-09-01", "list", "https://management.azure.com/", "vault.azure.net", "https://graph.microsoft.com/"},
		{"no version", cloud.AzureCloud, "management.azure.com", "", "list", "https://management.azure.com/", "vault.azure.net", "https://graph.microsoft.com/"},
		{"pinned on another port", cloud.AzureCloud, "management.azure.com:8443", "2022-09-01", "list", "https://management.azure.com:8443/", "vault.azure.net:8443", "https://graph.microsoft.com/"},
		{"local", cloud.Local, "localhost:8443", "2022-09-01", "list", "https://localhost:8443/", "vault.localhost:8443", "https://localhost:8443/"},
		{"local by IP", cloud.Local, "127.0.0.1:8443", "2022-09-01", "list", "https://127.0.0.1:8443/", "vault.localhost:8443", "https://127.0.0.1:8443/"},
		{"local legacy", cloud.Local, "localhost:8443", "2015-01-01", "legacy", "", "", "https://localhost:8443/"},
	} {
		r := httptest.NewRequest(http.MethodGet, "https://"+tc.host+"/metadata/endpoints?api-version="+tc.version, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		CloudMetadata(tc.p).ServeHTTP(w, r)
		var doc map[string]any
		switch tc.shape {
		case "list":
			var list []map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list) != 1 {
				t.Errorf("%s: not a list of one: %s", tc.name, w.Body)
				continue
			}
			doc = list[0]
		default:
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Errorf("%s: not an object: %s", tc.name, w.Body)
				continue
			}
		}
		auth, _ := doc["authentication"].(map[string]any)
		auds, _ := auth["audiences"].([]any)
		if len(auds) == 0 || auth["loginEndpoint"] == nil {
			t.Errorf("%s: authentication = %v", tc.name, doc["authentication"])
			continue
		}
		for _, a := range auds {
			if !tc.p.IsManagementAudience(a.(string)) {
				t.Errorf("%s: advertised audience %v is not accepted by ARM", tc.name, a)
			}
		}
		if tc.shape == "legacy" {
			if doc["graphEndpoint"] != tc.graph || doc["galleryEndpoint"] == nil || doc["portalEndpoint"] == nil || doc["name"] != nil {
				t.Errorf("%s: legacy document = %v", tc.name, doc)
			}
			continue
		}
		sfx, _ := doc["suffixes"].(map[string]any)
		if doc["name"] != tc.p.Name || doc["resourceManager"] != tc.arm || sfx["keyVaultDns"] != tc.vault ||
			doc["microsoftGraphResourceId"] != tc.graph || doc["graphAudience"] != tc.graph {
			t.Errorf("%s: document = %v", tc.name, doc)
		}
		if !tc.p.IsGraphAudience(tc.graph) {
			t.Errorf("%s: the advertised Graph resource %s is not a Graph audience", tc.name, tc.graph)
		}
	}
}
