package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestAppServiceGoSDK: an unmodified ManagedIdentityCredential, pointed at
// Coffer by IDENTITY_ENDPOINT/IDENTITY_HEADER only, reads a secret as the
// VM; a VM without an access policy is refused.
func TestAppServiceGoSDK(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vm1", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, "coffer", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	admin := sdkClient(t, env, "default", env.Admin.ClientID, env.Admin.ClientSecret)
	if _, err := admin.SetSecret(ctx, "mi-test", azsecrets.SetSecretParameters{Value: to.Ptr("My Secret")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.UpdateVault(ctx, "default", func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, model.AccessPolicy{TenantID: env.Instance.TenantID, ObjectID: vm.SystemAssigned,
			Permissions: model.Permissions{Secrets: model.SecretManagementTemplate}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	t.Setenv("IDENTITY_ENDPOINT", "https://localhost:"+env.Port()+"/msi/token")
	t.Setenv("IDENTITY_HEADER", cred)
	opts := azcore.ClientOptions{Transport: env.Client()}
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	c, err := azsecrets.NewClient(env.VaultURL("default"), mi, &azsecrets.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecret(ctx, "mi-test", "", nil)
	if err != nil {
		t.Fatalf("GetSecret as VM: %v", err)
	}
	if *got.Value != "My Secret" {
		t.Errorf("value = %q", *got.Value)
	}

	// A second VM without an access policy gets 403.
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vm2", resources.VMSpec{SystemAssigned: true}); err != nil {
		t.Fatal(err)
	}
	cred2, _, err := env.Resources.NewCredential(ctx, sub, "coffer", "vm2")
	if err != nil {
		t.Fatal(err)
	}
	// msal-go caches managed-identity tokens per process and identity
	// kind, so a second "VM" in this process is exercised over raw HTTP.
	tok := appServiceToken(t, env, cred2, "https://vault.azure.net")
	req, _ := http.NewRequest("GET", env.VaultURL("default")+"secrets/mi-test?api-version=2016-10-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET as VM without policy = %d, want 403", resp.StatusCode)
	}

	// Deleting the first VM makes its (cached) token useless at once.
	if err := env.Resources.DeleteVM(ctx, sub, "coffer", "vm1"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(ctx, "mi-test", "", nil)
	if err == nil {
		t.Fatal("GetSecret with a deleted VM's token succeeded")
	}
}

// appServiceToken fetches a token over the App Service protocol.
func appServiceToken(t *testing.T, env *testenv.Env, cred, resource string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://localhost:"+env.Port()+"/msi/token?api-version=2019-08-01&resource="+url.QueryEscape(resource), nil)
	req.Header.Set("X-IDENTITY-HEADER", cred)
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("App Service token: %d %v %v", resp.StatusCode, body, err)
	}
	for k, v := range body {
		if _, ok := v.(string); !ok {
			t.Errorf("token field %s is %T, want string", k, v)
		}
	}
	return body["access_token"].(string)
}
