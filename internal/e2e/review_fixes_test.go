package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestContributorCannotSwitchPermissionModel: vaults/write is not enough
// to flip enableRbacAuthorization (which would let a Contributor give
// itself an access policy on an RBAC vault); Owner may.
func TestContributorCannotSwitchPermissionModel(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	sub := env.Instance.SubscriptionID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	vaultPath := "/subscriptions/" + sub + "/resourceGroups/coffer/providers/Microsoft.KeyVault/vaults/kvmodel?api-version=2024-11-01"
	create := `{"location":"local","properties":{"tenantId":"` + env.Instance.TenantID + `","sku":{"family":"A","name":"standard"},"enableRbacAuthorization":true}}`
	if r := armRaw(t, env, "PUT", vaultPath, admin, []byte(create)); r.Status != http.StatusCreated {
		t.Fatalf("create RBAC vault: %d %s", r.Status, r.Body)
	}
	grant := func(p armPrincipal, roleID string) {
		t.Helper()
		body := `{"properties":{"roleDefinitionId":"/subscriptions/` + sub + `/providers/Microsoft.Authorization/roleDefinitions/` + roleID + `","principalId":"` + p.ObjectID + `"}}`
		path := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + strings.ToLower(identityGUID()) + "?api-version=2022-04-01"
		if r := armRaw(t, env, "PUT", path, admin, []byte(body)); r.Status != http.StatusCreated {
			t.Fatalf("role assignment: %d %s", r.Status, r.Body)
		}
	}
	contributor := newARMPrincipal(t, env, "contributor")
	grant(contributor, "b24988ac-6180-42a0-ab88-20f7382dd24c")
	owner := newARMPrincipal(t, env, "owner")
	grant(owner, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")

	flip := func(p armPrincipal) *rawResp {
		patch := `{"properties":{"enableRbacAuthorization":false,"accessPolicies":[{"tenantId":"` + env.Instance.TenantID +
			`","objectId":"` + p.ObjectID + `","permissions":{"secrets":["all"]}}]}}`
		return armRaw(t, env, "PATCH", vaultPath, armTokenFor(t, env, p.AppID, p.Secret), []byte(patch))
	}
	flip(contributor).wantARMError(t, "Contributor switching to access policies", http.StatusForbidden, "AuthorizationFailed")
	v, err := env.Store.GetVault(context.Background(), "kvmodel")
	if err != nil || !v.EnableRbacAuthorization || len(v.AccessPolicies) != 0 {
		t.Fatalf("after a refused switch the vault changed: %+v %v", v, err)
	}
	// Contributor may still change other properties.
	tags := `{"tags":{"team":"a"}}`
	if r := armRaw(t, env, "PATCH", vaultPath, armTokenFor(t, env, contributor.AppID, contributor.Secret), []byte(tags)); r.Status != http.StatusOK {
		t.Errorf("Contributor tagging the vault: %d %s", r.Status, r.Body)
	}
	if r := flip(owner); r.Status != http.StatusOK {
		t.Errorf("Owner switching the permission model: %d %s", r.Status, r.Body)
	}
}

// identityGUID is a fresh role-assignment name.
func identityGUID() string { return identity.NewObjectID() }

// TestRecreatedIdentityIsNotReattached: deleting a user-assigned identity
// detaches it from its VMs, so one re-created under the same name is not
// handed to them.
func TestRecreatedIdentityIsNotReattached(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	u, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "coffer", "uami1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vm1", resources.VMSpec{UserAssigned: []string{u.ResourceID()}}); err != nil {
		t.Fatal(err)
	}
	cred, _, err := env.Resources.NewCredential(ctx, sub, "coffer", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Resources.DeleteUAMI(ctx, sub, "coffer", "uami1"); err != nil {
		t.Fatal(err)
	}
	u2, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "coffer", "uami1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, tok := armMSIToken(t, env, cred, "https://vault.azure.net", url.Values{"client_id": {u2.ClientID}})
	if status != http.StatusBadRequest || tok != "" {
		t.Errorf("token for the re-created identity = %d, want 400 (Identity not found)", status)
	}
	vm, err := env.Store.GetCompute(ctx, sub, "coffer", "vm1")
	if err != nil || len(vm.UserAssigned) != 0 {
		t.Errorf("VM still lists deleted identity: %v %v", vm.UserAssigned, err)
	}
}

// TestConcurrentSystemAssignedKeepsOnePrincipal: racing PUTs that ask for
// a system-assigned identity leave exactly one managed-identity principal.
func TestConcurrentSystemAssignedKeepsOnePrincipal(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	if _, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vmrace", resources.VMSpec{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = env.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "vmrace", resources.VMSpec{SystemAssigned: true})
		}()
	}
	wg.Wait()
	all, err := env.Store.ListPrincipals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range all {
		if p.Type == model.PrincipalManagedIdentity && strings.HasSuffix(p.ResourceID, "/vmrace") {
			n++
		}
	}
	vm, _ := env.Store.GetCompute(ctx, sub, "coffer", "vmrace")
	if n != 1 || vm.SystemAssigned == "" {
		t.Errorf("%d managed-identity principals for vmrace (VM has %q), want 1", n, vm.SystemAssigned)
	}
}

// TestSoftDeletedVaultPurgedAfterRetention: at the scheduled purge date the
// vault and its secrets are gone and the name is free.
func TestSoftDeletedVaultPurgedAfterRetention(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, Now: clock})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	path := "/subscriptions/" + sub + "/resourceGroups/coffer/providers/Microsoft.KeyVault/vaults/kvshort?api-version=2024-11-01"
	body := `{"location":"local","properties":{"tenantId":"` + env.Instance.TenantID + `","sku":{"family":"A","name":"standard"},"softDeleteRetentionInDays":7,"accessPolicies":[]}}`
	if r := armRaw(t, env, "PUT", path, admin, []byte(body)); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := armRaw(t, env, "DELETE", path, admin, nil); r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if n, err := env.Vaults.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("PurgeExpired before the date = %d, %v", n, err)
	}
	mu.Lock()
	now = now.Add(7*24*time.Hour + time.Minute)
	mu.Unlock()
	if n, err := env.Vaults.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeExpired after the date = %d, %v", n, err)
	}
	admin = armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	if r := armRaw(t, env, "PUT", path, admin, []byte(body)); r.Status != http.StatusCreated {
		t.Errorf("re-create after purge: %d %s", r.Status, r.Body)
	}
}

// TestLocalProfileManagementAudienceWithoutSlash: the audience the issuer
// mints for scope https://management.azure.com/.default is accepted.
func TestLocalProfileManagementAudienceWithoutSlash(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	tok := clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, "https://management.azure.com/.default")
	r := rawDo(t, env, "GET", "https://localhost:"+env.Port()+"/subscriptions?api-version=2021-04-01", tok, nil, nil)
	if r.Status != http.StatusOK {
		t.Errorf("GET /subscriptions with aud https://management.azure.com = %d %s", r.Status, r.Body)
	}
}
