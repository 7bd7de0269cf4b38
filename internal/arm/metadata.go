package arm

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/httpx"
)

// CloudMetadata serves GET /metadata/endpoints, ARM's cloud description, so
// tools that take a custom cloud (az cloud register, msrestazure,
// Terraform's metadata_host, the Go SDK's cloud config) find Coffer's
// login, ARM, Graph and Key Vault endpoints. ARM has published three shapes:
//
//   - api-version 1.0 and 2015-01-01 (until 2018): one flat object with
//     galleryEndpoint, graphEndpoint, portalEndpoint and authentication
//     (msrestazure and az cloud register ask for 2015-01-01);
//   - 2018-01-01 up to 2019-05-01: one object in the newer shape (name,
//     resourceManager, authentication, suffixes, …);
//   - 2019-05-01 and later (2022-09-01): a list of such objects.
//
// Every value is one Coffer answers to: the audiences are ones ARM accepts,
// graph names the Microsoft Graph Coffer serves (there is no Azure AD
// Graph), and the vault suffix carries the listener's port when it is not
// 443, as the hosts do.
func CloudMetadata(p cloud.Profile) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e := endpointsFor(p, r.Host)
		v := r.URL.Query().Get("api-version")
		switch {
		case v == "1.0" || (v != "" && v < "2018-01-01"):
			httpx.WriteJSON(w, http.StatusOK, e.legacy())
		case v != "" && v < "2019-05-01":
			httpx.WriteJSON(w, http.StatusOK, e.current())
		default:
			httpx.WriteJSON(w, http.StatusOK, []any{e.current()})
		}
	}
}

// cloudEndpoints are the URLs of one profile as seen through one Host.
type cloudEndpoints struct {
	name, login, arm, graph, portal, vaultDNS string
	audiences                                 []string
}

func endpointsFor(p cloud.Profile, hostport string) cloudEndpoints {
	port := cloud.PortSuffix(hostport)
	// The local profile has no host names of its own: everything is on
	// the listener, reached by whatever name the caller used.
	local := cloud.StripPort(hostport)
	if local == "" {
		local = "localhost"
	}
	if strings.Contains(local, ":") {
		local = "[" + local + "]"
	}
	host := func(h string) string {
		if h == "" {
			h = local
		}
		return "https://" + h + port + "/"
	}
	e := cloudEndpoints{name: p.Name, login: host(p.LoginHost), arm: host(p.ManagementHost), graph: host(p.GraphHost),
		vaultDNS: p.VaultSuffix + port}
	e.portal = e.arm + "portal/"
	if p.GraphHost != "" {
		e.graph = p.GraphResource() + "/"
	}
	e.audiences = metadataAudiences(p)
	return e
}

// metadataAudiences lists the management audiences ARM accepts, in ARM's
// form (with the trailing slash), the classic one first as Azure does:
// clients take the first as the resource of their ARM tokens.
func metadataAudiences(p cloud.Profile) []string {
	var out []string
	for _, a := range p.ManagementAudiences {
		if strings.HasSuffix(a, "/") {
			if strings.Contains(a, "management.core.") {
				out = append([]string{a}, out...)
			} else {
				out = append(out, a)
			}
		}
	}
	return out
}

func (e cloudEndpoints) legacy() map[string]any {
	return map[string]any{
		"galleryEndpoint": e.arm,
		"graphEndpoint":   e.graph,
		"portalEndpoint":  e.portal,
		"authentication": map[string]any{
			"loginEndpoint": e.login,
			"audiences":     e.audiences,
		},
	}
}

func (e cloudEndpoints) current() map[string]any {
	return map[string]any{
		"name":                     e.name,
		"portal":                   e.portal,
		"resourceManager":          e.arm,
		"gallery":                  e.arm,
		"graph":                    e.graph,
		"graphAudience":            e.graph,
		"microsoftGraphResourceId": e.graph,
		"authentication": map[string]any{
			"loginEndpoint":    e.login,
			"audiences":        e.audiences,
			"tenant":           "common",
			"identityProvider": "AAD",
		},
		"suffixes": map[string]any{
			"keyVaultDns": e.vaultDNS,
		},
	}
}
