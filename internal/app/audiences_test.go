package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestUnknownResource: the token endpoints (v1, v2 and the managed
// identity one) issue tokens for Coffer's APIs and registered applications
// only; anything else gets Entra's AADSTS500011, and only once the client
// has authenticated.
func TestUnknownResource(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	app := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: "api",
		Type: model.PrincipalServicePrincipal, IdentifierURIs: []string{"api://orders"}, Created: time.Now()}
	if err := env.Store.CreatePrincipal(ctx, app); err != nil {
		t.Fatal(err)
	}
	sub := env.Instance.SubscriptionID
	if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", "westus", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm1", resources.VMSpec{SystemAssigned: true}); err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, "rg", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	tid := env.Instance.TenantID
	client := env.Client()
	type answer struct {
		status int
		err    string
		desc   string
	}
	read := func(res *http.Response, err error) answer {
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b struct {
			Error string `json:"error"`
			Desc  string `json:"error_description"`
		}
		json.NewDecoder(res.Body).Decode(&b)
		return answer{res.StatusCode, b.Error, b.Desc}
	}
	secret := env.Admin.ClientSecret
	v1 := func(resource string) answer {
		return read(client.PostForm("https://login.microsoftonline.com/"+tid+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {env.Admin.ClientID}, "client_secret": {secret}, "resource": {resource}}))
	}
	v2 := func(resource string) answer {
		return read(client.PostForm("https://login.microsoftonline.com/"+tid+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {env.Admin.ClientID}, "client_secret": {secret}, "scope": {resource + "/.default"}}))
	}
	msi := func(resource string) answer {
		req, _ := http.NewRequest("GET", "https://localhost:"+env.Port()+"/msi/token?api-version=2019-08-01&resource="+url.QueryEscape(resource), nil)
		req.Header.Set("X-IDENTITY-HEADER", cred)
		return read(client.Do(req))
	}
	tests := []struct {
		resource string
		known    bool
	}{
		{"https://vault.azure.net", true},
		{"https://management.azure.com/", true},
		{"https://management.core.windows.net/", true},
		{"https://graph.microsoft.com", true},
		{cloud.GraphAppID, true},
		{"api://orders", true},
		{"api://orders/", true},
		{app.AppID, true},
		{"https://storage.azure.com", false},
		{"api://unknown", false},
		{"https://vault.azure.net.evil.example", false},
		{identity.NewObjectID(), false},
	}
	for _, tt := range tests {
		for name, get := range map[string]func(string) answer{"v1": v1, "v2": v2, "msi": msi} {
			t.Run(name+" "+tt.resource, func(t *testing.T) {
				a := get(tt.resource)
				if tt.known {
					if a.status != 200 {
						t.Errorf("= %d %s %s, want a token", a.status, a.err, a.desc)
					}
					return
				}
				want := "AADSTS500011: The resource principal named " + tt.resource + " was not found in the tenant named " + tid + "."
				if a.status != 400 || a.err != "invalid_resource" || !strings.HasPrefix(a.desc, want) {
					t.Errorf("= %d %s %q, want 400 invalid_resource %q…", a.status, a.err, a.desc, want)
				}
			})
		}
	}
	// A wrong secret is told so, not whether the resource exists.
	secret = "wrong"
	for _, get := range []func(string) answer{v1, v2} {
		if a := get("api://unknown"); a.status != 401 || a.err != "invalid_client" {
			t.Errorf("unauthenticated client, unknown resource = %d %s, want 401 invalid_client", a.status, a.err)
		}
	}
}
