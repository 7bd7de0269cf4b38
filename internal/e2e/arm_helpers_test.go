package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// Helpers for the ARM tests: the real ARM Go SDK clients against an
// AzureCloud-profile server. The clients are unmodified apart from the
// transport, which pins every host name (management.azure.com,
// login.microsoftonline.com, *.vault.azure.net) to the test server.

const (
	armMgmtURL   = "https://management.azure.com"
	armMgmtScope = "https://management.azure.com/.default"
	// armLocation is deliberately not Coffer's default location.
	armLocation = "eastus"
	// kvSecretsUserRoleID is the built-in "Key Vault Secrets User" role.
	kvSecretsUserRoleID = "4633458b-17de-408a-b874-0445c86b69e6"
)

// armSDK holds one set of ARM SDK clients acting as one principal.
type armSDK struct {
	env    *testenv.Env
	sub    string
	groups *armresources.ResourceGroupsClient
	vms    *armcompute.VirtualMachinesClient
	vaults *armkeyvault.VaultsClient
	ids    *armmsi.UserAssignedIdentitiesClient
	roles  *armauthorization.RoleAssignmentsClient
}

// newARMSDK builds the clients for the bootstrap admin.
func newARMSDK(t *testing.T, env *testenv.Env) *armSDK {
	t.Helper()
	return newARMSDKAs(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
}

// newARMSDKAs builds the clients for a service principal. Only the
// transport is set; the cloud is the SDK's default (public Azure).
func newARMSDKAs(t *testing.T, env *testenv.Env, clientID, secret string) *armSDK {
	t.Helper()
	copts := azcore.ClientOptions{Transport: env.Client()}
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: copts})
	if err != nil {
		t.Fatal(err)
	}
	opts := &arm.ClientOptions{ClientOptions: copts}
	sub := env.Instance.SubscriptionID
	k := &armSDK{env: env, sub: sub}
	if k.groups, err = armresources.NewResourceGroupsClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if k.vms, err = armcompute.NewVirtualMachinesClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if k.vaults, err = armkeyvault.NewVaultsClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if k.ids, err = armmsi.NewUserAssignedIdentitiesClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	if k.roles, err = armauthorization.NewRoleAssignmentsClient(sub, cred, opts); err != nil {
		t.Fatal(err)
	}
	return k
}

// armPoll is how the tests wait for long-running operations.
var armPoll = &runtime.PollUntilDoneOptions{Frequency: 50 * time.Millisecond}

func (k *armSDK) createGroup(t *testing.T, name string) armresources.ResourceGroup {
	t.Helper()
	r, err := k.groups.CreateOrUpdate(context.Background(), name, armresources.ResourceGroup{Location: to.Ptr(armLocation)}, nil)
	if err != nil {
		t.Fatalf("create resource group %s: %v", name, err)
	}
	return r.ResourceGroup
}

func (k *armSDK) deleteGroup(t *testing.T, name string) {
	t.Helper()
	p, err := k.groups.BeginDelete(context.Background(), name, nil)
	if err != nil {
		t.Fatalf("delete resource group %s: %v", name, err)
	}
	if _, err := p.PollUntilDone(context.Background(), armPoll); err != nil {
		t.Fatalf("delete resource group %s: polling: %v", name, err)
	}
}

// vaultParams is a minimal, valid create body.
func (k *armSDK) vaultParams(policies ...*armkeyvault.AccessPolicyEntry) armkeyvault.VaultCreateOrUpdateParameters {
	return armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr(armLocation),
		Properties: &armkeyvault.VaultProperties{
			TenantID:       to.Ptr(k.env.Instance.TenantID),
			SKU:            &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
			AccessPolicies: policies,
		},
	}
}

func (k *armSDK) putVault(rg, name string, p armkeyvault.VaultCreateOrUpdateParameters) (armkeyvault.Vault, error) {
	ctx := context.Background()
	poller, err := k.vaults.BeginCreateOrUpdate(ctx, rg, name, p, nil)
	if err != nil {
		return armkeyvault.Vault{}, err
	}
	r, err := poller.PollUntilDone(ctx, armPoll)
	return r.Vault, err
}

func (k *armSDK) createVault(t *testing.T, rg, name string, policies ...*armkeyvault.AccessPolicyEntry) armkeyvault.Vault {
	t.Helper()
	v, err := k.putVault(rg, name, k.vaultParams(policies...))
	if err != nil {
		t.Fatalf("create vault %s: %v", name, err)
	}
	return v
}

// policy is an access-policy entry of this tenant with secret permissions.
func (k *armSDK) policy(objectID string, perms ...armkeyvault.SecretPermissions) *armkeyvault.AccessPolicyEntry {
	e := &armkeyvault.AccessPolicyEntry{
		TenantID: to.Ptr(k.env.Instance.TenantID), ObjectID: to.Ptr(objectID),
		Permissions: &armkeyvault.Permissions{Secrets: []*armkeyvault.SecretPermissions{}},
	}
	for _, p := range perms {
		e.Permissions.Secrets = append(e.Permissions.Secrets, to.Ptr(p))
	}
	return e
}

// armSecretManagement is the portal's "Secret Management" template.
var armSecretManagement = []armkeyvault.SecretPermissions{
	armkeyvault.SecretPermissionsGet, armkeyvault.SecretPermissionsList, armkeyvault.SecretPermissionsSet,
	armkeyvault.SecretPermissionsDelete, armkeyvault.SecretPermissionsRecover, armkeyvault.SecretPermissionsBackup,
	armkeyvault.SecretPermissionsRestore,
}

// armPolicySummary renders policies as "objectId:perm,perm" strings, sorted as
// the server returns them, for comparisons.
func armPolicySummary(aps []*armkeyvault.AccessPolicyEntry) []string {
	var out []string
	for _, ap := range aps {
		var perms []string
		if ap.Permissions != nil {
			for _, p := range ap.Permissions.Secrets {
				perms = append(perms, strings.ToLower(string(*p)))
			}
		}
		out = append(out, *ap.ObjectID+":"+strings.Join(perms, ","))
	}
	return out
}

// wantARMSDKError asserts an SDK call failed with status and ARM error code.
func wantARMSDKError(t *testing.T, what string, err error, status int, code string) *azcore.ResponseError {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want %d %s", what, status, code)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: error %v is not an azcore.ResponseError", what, err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("%s = %d %s, want %d %s", what, re.StatusCode, re.ErrorCode, status, code)
	}
	return re
}

// armPrincipal is a service principal created directly in the store (as
// helpers_test.go's createServicePrincipal does), with its object id.
type armPrincipal struct {
	ObjectID, AppID, Secret string
}

func newARMPrincipal(t *testing.T, env *testenv.Env, name string) armPrincipal {
	t.Helper()
	secret, cred := identity.NewClientSecret(time.Now())
	p := &model.Principal{
		ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: name,
		Type: model.PrincipalServicePrincipal, Credentials: []model.Credential{cred}, Created: time.Now(),
	}
	if err := env.Store.CreatePrincipal(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return armPrincipal{ObjectID: p.ObjectID, AppID: p.AppID, Secret: secret}
}

// armTokenFor is a management-audience token for a client.
func armTokenFor(t *testing.T, env *testenv.Env, clientID, secret string) string {
	t.Helper()
	return clientToken(t, env, clientID, secret, armMgmtScope)
}

// armRaw sends a raw ARM request; path includes the query.
func armRaw(t *testing.T, env *testenv.Env, method, path, token string, body []byte) *rawResp {
	t.Helper()
	return rawDo(t, env, method, armMgmtURL+path, token, body, nil)
}

// wantARMError asserts status and that the body is exactly ARM's error
// shape {"error":{"code","message"}} with the given code; it returns the
// message.
func (r *rawResp) wantARMError(t *testing.T, what string, status int, code string) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d (body %s)", what, r.Status, status, r.Body)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &top); err != nil || len(top) != 1 || top["error"] == nil {
		t.Fatalf("%s: body %q is not an ARM error", what, r.Body)
	}
	var e map[string]json.RawMessage
	if err := json.Unmarshal(top["error"], &e); err != nil {
		t.Fatalf("%s: error member %s is not an object", what, top["error"])
	}
	for k := range e {
		if k != "code" && k != "message" {
			t.Errorf("%s: error has unexpected member %q (body %s)", what, k, r.Body)
		}
	}
	var gotCode, msg string
	if err := json.Unmarshal(e["code"], &gotCode); err != nil || gotCode == "" {
		t.Errorf("%s: error code missing or not a string: %s", what, r.Body)
	}
	if err := json.Unmarshal(e["message"], &msg); err != nil || msg == "" {
		t.Errorf("%s: error message missing or not a string: %s", what, r.Body)
	}
	if gotCode != code {
		t.Errorf("%s: code %s, want %s (message %q)", what, gotCode, code, msg)
	}
	return msg
}

// armMSIToken asks the App Service token endpoint for a token with a machine
// credential, bypassing every client-side cache. It returns the status and,
// on success, the access token.
func armMSIToken(t *testing.T, env *testenv.Env, cred, resource string, extra url.Values) (int, string) {
	t.Helper()
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {resource}}
	for k, v := range extra {
		q[k] = v
	}
	r := rawDo(t, env, http.MethodGet, "https://localhost:"+env.Port()+"/msi/token?"+q.Encode(), "", nil,
		map[string]string{"X-IDENTITY-HEADER": cred})
	if r.Status != http.StatusOK {
		return r.Status, ""
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.AccessToken == "" {
		t.Fatalf("MSI token response %s: %v", r.Body, err)
	}
	return r.Status, body.AccessToken
}

// armJWTClaim returns one string claim of a JWT without verifying it.
func armJWTClaim(t *testing.T, tok, name string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	s, _ := claims[name].(string)
	return s
}
