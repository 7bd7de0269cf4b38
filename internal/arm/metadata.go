package arm

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/httpx"
)

// CloudMetadata serves GET /metadata/endpoints, ARM's cloud description, so
// tools that take a custom cloud (az cloud register, Terraform's
// metadata_host) find Coffer's login, ARM and Key Vault endpoints. From
// api-version 2022-09-01 ARM answers a list of clouds, before it one object.
func CloudMetadata(p cloud.Profile) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		port := cloud.PortSuffix(r.Host)
		login, mgmt, graph := p.LoginHost, p.ManagementHost, p.GraphHost
		if login == "" {
			login = "localhost"
		}
		if mgmt == "" {
			mgmt = "localhost"
		}
		if graph == "" {
			graph = "localhost"
		}
		doc := map[string]any{
			"name":            p.Name,
			"portal":          "https://" + mgmt + port + "/portal/",
			"resourceManager": "https://" + mgmt + port + "/",
			"authentication": map[string]any{
				"loginEndpoint":    "https://" + login + port + "/",
				"audiences":        p.ManagementAudiences,
				"tenant":           "common",
				"identityProvider": "AAD",
			},
			// Coffer serves Microsoft Graph only (no Azure AD Graph), so the
			// legacy "graph" entries name it too.
			"graph":                    "https://" + graph + port + "/",
			"graphAudience":            "https://" + graph + port + "/",
			"microsoftGraphResourceId": "https://" + graph + port + "/",
			"suffixes": map[string]any{
				"keyVaultDns": p.VaultSuffix,
				"storage":     "core.windows.net",
			},
		}
		if v := r.URL.Query().Get("api-version"); v == "" || strings.Compare(v, "2022-09-01") >= 0 {
			httpx.WriteJSON(w, http.StatusOK, []any{doc})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, doc)
	}
}
