package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestARMCloudMetadataLegacyShape: api-version 2015-01-01 is the flat
// document msrestazure (az cloud register --endpoint-resource-manager)
// reads, fetched as arm_endpoint + "/metadata/…", i.e. with a double slash.
func TestARMCloudMetadataLegacyShape(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	for _, u := range []string{
		armMgmtURL + "/metadata/endpoints?api-version=2015-01-01",
		armMgmtURL + "//metadata/endpoints?api-version=2015-01-01",
		armMgmtURL + "/metadata/endpoints?api-version=1.0",
	} {
		r := rawDo(t, env, http.MethodGet, u, "", nil, nil)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &doc); err != nil || r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", u, r.Status, r.Body)
		}
		var keys []string
		for k := range doc {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"authentication", "galleryEndpoint", "graphEndpoint", "portalEndpoint"}) {
			t.Errorf("%s: members %v", u, keys)
		}
		var auth struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
		}
		var graph string
		_ = json.Unmarshal(doc["authentication"], &auth)
		_ = json.Unmarshal(doc["graphEndpoint"], &graph)
		if auth.LoginEndpoint != "https://login.microsoftonline.com/" || len(auth.Audiences) == 0 ||
			auth.Audiences[0] != "https://management.core.windows.net/" || graph != "https://graph.microsoft.com/" {
			t.Errorf("%s: authentication %+v graph %q", u, auth, graph)
		}
	}
}

// TestLocalProfileCloudMetadataWorks: in the local profile every value of
// the metadata is usable as is: tokens for the advertised ARM audience and
// Graph resource are accepted, the Graph resource is also where Graph
// answers (az uses it as the base URL), the login endpoint serves the
// tenant's discovery, and the vault suffix carries the port.
func TestLocalProfileCloudMetadataWorks(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	base := "https://localhost:" + env.Port() + "/"
	r := rawDo(t, env, http.MethodGet, base+"metadata/endpoints?api-version=2022-09-01", "", nil, nil)
	var clouds []struct {
		ResourceManager string `json:"resourceManager"`
		Authentication  struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
		} `json:"authentication"`
		Graph                    string `json:"graph"`
		GraphAudience            string `json:"graphAudience"`
		MicrosoftGraphResourceID string `json:"microsoftGraphResourceId"`
		Suffixes                 struct {
			KeyVaultDNS string `json:"keyVaultDns"`
		} `json:"suffixes"`
	}
	if err := json.Unmarshal(r.Body, &clouds); err != nil || len(clouds) != 1 {
		t.Fatalf("metadata: %d %s", r.Status, r.Body)
	}
	c := clouds[0]
	if c.ResourceManager != base || c.Authentication.LoginEndpoint != base || c.Suffixes.KeyVaultDNS != "vault.localhost:"+env.Port() {
		t.Errorf("metadata = %+v", c)
	}
	if c.Graph != base || c.GraphAudience != base || c.MicrosoftGraphResourceID != base {
		t.Errorf("graph entries = %q %q %q", c.Graph, c.GraphAudience, c.MicrosoftGraphResourceID)
	}
	for _, aud := range c.Authentication.Audiences {
		tok := clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, aud+".default")
		if r := rawDo(t, env, http.MethodGet, c.ResourceManager+"subscriptions?api-version=2022-12-01", tok, nil, nil); r.Status != http.StatusOK {
			t.Errorf("ARM with a token for audience %s: %d %s", aud, r.Status, r.Body)
		}
	}
	gtok := clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, c.MicrosoftGraphResourceID+".default")
	if r := rawDo(t, env, http.MethodGet, c.MicrosoftGraphResourceID+"v1.0/servicePrincipals", gtok, nil, nil); r.Status != http.StatusOK {
		t.Errorf("Graph with a token for the advertised resource: %d %s", r.Status, r.Body)
	}
	// That token opens neither ARM nor the vaults.
	if r := rawDo(t, env, http.MethodGet, c.ResourceManager+"subscriptions?api-version=2022-12-01", gtok, nil, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("ARM with the Graph token: %d", r.Status)
	}
	vaultURL := "https://" + env.Instance.DefaultVault + "." + c.Suffixes.KeyVaultDNS + "/secrets?api-version=7.4"
	if r := rawDo(t, env, http.MethodGet, vaultURL, gtok, nil, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("vault with the Graph token: %d %s", r.Status, r.Body)
	}
	_, doc := getIssuerJSON(t, env, c.Authentication.LoginEndpoint+env.Instance.TenantID+"/v2.0/.well-known/openid-configuration")
	if doc["token_endpoint"] == nil {
		t.Errorf("discovery under the login endpoint: %v", doc)
	}
}
