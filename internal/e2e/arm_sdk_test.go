package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestARMSeedWalkthrough is the seed scenario with the real ARM Go SDK and
// azsecrets: resource group, VM with a system-assigned identity, vault
// with a "Secret Management" access policy for the VM, a secret set by the
// admin and read as the VM, then the resource group deleted and the
// cleanup verified.
func TestARMSeedWalkthrough(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	sub, tenant := env.Instance.SubscriptionID, env.Instance.TenantID
	const rg, vmName, vaultName = "seed-rg", "seed-vm", "seed-kv-sdk"
	rgID := "/subscriptions/" + sub + "/resourceGroups/" + rg

	// Resource group.
	g := k.createGroup(t, rg)
	if *g.ID != rgID || *g.Name != rg || *g.Location != armLocation || *g.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("resource group = %s %s %s %s", *g.ID, *g.Name, *g.Location, *g.Properties.ProvisioningState)
	}
	if ex, err := k.groups.CheckExistence(ctx, rg, nil); err != nil || !ex.Success {
		t.Fatalf("CheckExistence(%s) = %v, %v", rg, ex.Success, err)
	}
	// Tags: PUT sets them, a PATCH without tags keeps them, one with tags replaces them.
	if _, err := k.groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr(armLocation),
		Tags: map[string]*string{"env": to.Ptr("seed")}}, nil); err != nil {
		t.Fatal(err)
	}
	if up, err := k.groups.Update(ctx, rg, armresources.ResourceGroupPatchable{}, nil); err != nil || up.Tags["env"] == nil || *up.Tags["env"] != "seed" {
		t.Errorf("PATCH without tags = %v, %v; want the tags kept", up.Tags, err)
	}
	if up, err := k.groups.Update(ctx, rg, armresources.ResourceGroupPatchable{Tags: map[string]*string{"owner": to.Ptr("ops")}}, nil); err != nil ||
		len(up.Tags) != 1 || up.Tags["owner"] == nil {
		t.Errorf("PATCH with tags = %v, %v", up.Tags, err)
	}

	// VM with a system-assigned identity: the minimal body Coffer needs.
	vmPoller, err := k.vms.BeginCreateOrUpdate(ctx, rg, vmName, armcompute.VirtualMachine{
		Location: to.Ptr(armLocation),
		Identity: &armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityTypeSystemAssigned)},
	}, nil)
	if err != nil {
		t.Fatalf("create VM: %v", err)
	}
	vmResp, err := vmPoller.PollUntilDone(ctx, armPoll)
	if err != nil {
		t.Fatalf("create VM: polling: %v", err)
	}
	vm := vmResp.VirtualMachine
	if vm.Identity == nil || vm.Identity.PrincipalID == nil || !guidRE.MatchString(*vm.Identity.PrincipalID) {
		t.Fatalf("VM identity = %+v, want a system-assigned principal", vm.Identity)
	}
	if *vm.Identity.Type != armcompute.ResourceIdentityTypeSystemAssigned || *vm.Identity.TenantID != tenant {
		t.Errorf("VM identity type %s tenant %s", *vm.Identity.Type, *vm.Identity.TenantID)
	}
	if *vm.ID != rgID+"/providers/Microsoft.Compute/virtualMachines/"+vmName || *vm.Type != "Microsoft.Compute/virtualMachines" ||
		*vm.Properties.ProvisioningState != "Succeeded" || !guidRE.MatchString(*vm.Properties.VMID) {
		t.Errorf("VM = %s %s %s vmId %s", *vm.ID, *vm.Type, *vm.Properties.ProvisioningState, *vm.Properties.VMID)
	}
	vmPrincipal := *vm.Identity.PrincipalID
	got, err := k.vms.Get(ctx, rg, vmName, nil)
	if err != nil || *got.Identity.PrincipalID != vmPrincipal {
		t.Fatalf("GET VM = %v, %v", got.Identity, err)
	}

	// Vault with the Secret Management template for the VM.
	v := k.createVault(t, rg, vaultName, k.policy(vmPrincipal, armSecretManagement...))
	p := v.Properties
	if *v.ID != rgID+"/providers/Microsoft.KeyVault/vaults/"+vaultName || *v.Type != "Microsoft.KeyVault/vaults" || *v.Location != armLocation {
		t.Errorf("vault = %s %s %s", *v.ID, *v.Type, *v.Location)
	}
	if *p.VaultURI != "https://"+vaultName+".vault.azure.net/" || *p.TenantID != tenant || *p.SKU.Name != armkeyvault.SKUNameStandard ||
		*p.SKU.Family != armkeyvault.SKUFamilyA || !*p.EnableSoftDelete || *p.SoftDeleteRetentionInDays != 90 ||
		*p.EnableRbacAuthorization || *p.ProvisioningState != armkeyvault.VaultProvisioningStateSucceeded {
		t.Errorf("vault properties = uri %s tenant %s sku %s/%s softDelete %v/%d rbac %v state %s", *p.VaultURI, *p.TenantID,
			*p.SKU.Family, *p.SKU.Name, *p.EnableSoftDelete, *p.SoftDeleteRetentionInDays, *p.EnableRbacAuthorization, *p.ProvisioningState)
	}
	if want := []string{vmPrincipal + ":get,list,set,delete,recover,backup,restore"}; !slices.Equal(armPolicySummary(p.AccessPolicies), want) {
		t.Errorf("access policies = %v, want %v", armPolicySummary(p.AccessPolicies), want)
	}
	if v.SystemData == nil || v.SystemData.CreatedAt == nil || time.Since(*v.SystemData.CreatedAt) > time.Minute {
		t.Errorf("systemData = %+v", v.SystemData)
	}

	// The admin needs a policy of its own to write the secret.
	if _, err := k.vaults.UpdateAccessPolicy(ctx, rg, vaultName, armkeyvault.AccessPolicyUpdateKindAdd, armkeyvault.VaultAccessPolicyParameters{
		Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{
			k.policy(env.Instance.AdminObjectID, armkeyvault.SecretPermissionsSet, armkeyvault.SecretPermissionsGet),
		}},
	}, nil); err != nil {
		t.Fatalf("add admin access policy: %v", err)
	}
	admin := sdkClient(t, env, vaultName, env.Admin.ClientID, env.Admin.ClientSecret)
	if _, err := admin.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("hunter2")}, nil); err != nil {
		t.Fatalf("SetSecret as admin: %v", err)
	}

	// Read it as the VM: an unmodified ManagedIdentityCredential over the
	// App Service protocol. The identity is selected by its object id (the
	// VM's principalId from ARM) because msal-go caches managed-identity
	// tokens per process, keyed by the selected identity: the default
	// system-assigned key may hold another test server's token.
	machineCred, _, err := env.Resources.NewCredential(ctx, sub, rg, vmName)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDENTITY_ENDPOINT", "https://localhost:"+env.Port()+"/msi/token")
	t.Setenv("IDENTITY_HEADER", machineCred)
	copts := azcore.ClientOptions{Transport: env.Client()}
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: copts, ID: azidentity.ObjectID(vmPrincipal),
	})
	if err != nil {
		t.Fatal(err)
	}
	asVM, err := azsecrets.NewClient(env.VaultURL(vaultName), mi, &azsecrets.ClientOptions{ClientOptions: copts})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := asVM.GetSecret(ctx, "db-password", "", nil)
	if err != nil {
		t.Fatalf("GetSecret as the VM: %v", err)
	}
	if *sec.Value != "hunter2" {
		t.Errorf("secret value as the VM = %q", *sec.Value)
	}
	// The template has no purge: the policy is honoured exactly.
	if _, err := asVM.DeleteSecret(ctx, "db-password", nil); err != nil {
		t.Fatalf("DeleteSecret as the VM: %v", err)
	}
	waitFor(t, "deleted secret", 5*time.Second, func() error {
		_, err := asVM.GetDeletedSecret(ctx, "db-password", nil)
		return err
	})
	_, err = asVM.PurgeDeletedSecret(ctx, "db-password", nil)
	wantStatus(t, "PurgeDeletedSecret as the VM", err, http.StatusForbidden, "Forbidden")
	if _, err := asVM.RecoverDeletedSecret(ctx, "db-password", nil); err != nil {
		t.Fatalf("RecoverDeletedSecret as the VM: %v", err)
	}
	waitFor(t, "recovered secret", 5*time.Second, func() error {
		_, err := asVM.GetSecret(ctx, "db-password", "", nil)
		return err
	})

	// Tokens minted before the deletion, fetched over raw HTTP so no
	// client cache is involved.
	st, vmVaultTok := armMSIToken(t, env, machineCred, "https://vault.azure.net", nil)
	if st != http.StatusOK {
		t.Fatalf("MSI vault token before deletion: %d", st)
	}
	st, vmARMTok := armMSIToken(t, env, machineCred, "https://management.azure.com/", nil)
	if st != http.StatusOK {
		t.Fatalf("MSI ARM token before deletion: %d", st)
	}
	if armJWTClaim(t, vmVaultTok, "oid") != vmPrincipal {
		t.Fatalf("VM token oid = %s, want %s", armJWTClaim(t, vmVaultTok, "oid"), vmPrincipal)
	}
	// A role assignment at the group's scope, which must go with the group.
	ra, err := k.roles.Create(ctx, strings.TrimPrefix(rgID, "/"), uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + kvSecretsUserRoleID),
			PrincipalID:      to.Ptr(vmPrincipal), PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		},
	}, nil)
	if err != nil {
		t.Fatalf("role assignment at the group: %v", err)
	}

	// Delete the resource group: 202 + polling, as ARM.
	k.deleteGroup(t, rg)

	// The group is gone.
	_, err = k.groups.Get(ctx, rg, nil)
	wantARMSDKError(t, "GET deleted group", err, http.StatusNotFound, "ResourceGroupNotFound")
	if ex, err := k.groups.CheckExistence(ctx, rg, nil); err != nil || ex.Success {
		t.Errorf("CheckExistence(deleted group) = %v, %v", ex.Success, err)
	}
	_, err = k.vms.Get(ctx, rg, vmName, nil)
	wantARMSDKError(t, "GET VM in deleted group", err, http.StatusNotFound, "ResourceGroupNotFound")
	_, err = k.vaults.Get(ctx, rg, vaultName, nil)
	wantARMSDKError(t, "GET vault in deleted group", err, http.StatusNotFound, "ResourceGroupNotFound")

	// The vault is soft-deleted: listed and gettable as a deleted vault.
	var listed *armkeyvault.DeletedVault
	pager := k.vaults.NewListDeletedPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list deleted vaults: %v", err)
		}
		for _, dv := range page.Value {
			if *dv.Name == vaultName {
				listed = dv
			}
		}
	}
	if listed == nil {
		t.Fatalf("vault %s not among the deleted vaults", vaultName)
	}
	dv, err := k.vaults.GetDeleted(ctx, vaultName, armLocation, nil)
	if err != nil {
		t.Fatalf("GetDeleted: %v", err)
	}
	dp := dv.Properties
	if *dv.ID != "/subscriptions/"+sub+"/providers/Microsoft.KeyVault/locations/"+armLocation+"/deletedVaults/"+vaultName ||
		*dv.Type != "Microsoft.KeyVault/deletedVaults" || *dp.VaultID != *v.ID || *dp.Location != armLocation || *dp.PurgeProtectionEnabled {
		t.Errorf("deleted vault = %s %s vaultId %s location %s purgeProtection %v", *dv.ID, *dv.Type, *dp.VaultID, *dp.Location, *dp.PurgeProtectionEnabled)
	}
	if d := time.Since(*dp.DeletionDate); d < -time.Minute || d > time.Minute {
		t.Errorf("deletionDate = %s", *dp.DeletionDate)
	}
	if got := dp.ScheduledPurgeDate.Sub(*dp.DeletionDate); got != 90*24*time.Hour {
		t.Errorf("scheduledPurgeDate - deletionDate = %s, want 90 days", got)
	}

	// With the group re-created the vault and the VM are plain 404s.
	k.createGroup(t, rg)
	_, err = k.vaults.Get(ctx, rg, vaultName, nil)
	wantARMSDKError(t, "GET soft-deleted vault", err, http.StatusNotFound, "ResourceNotFound")
	_, err = k.vms.Get(ctx, rg, vmName, nil)
	wantARMSDKError(t, "GET deleted VM", err, http.StatusNotFound, "ResourceNotFound")
	// The role assignment went with the group.
	_, err = k.roles.Get(ctx, strings.TrimPrefix(rgID, "/"), *ra.Name, nil)
	wantARMSDKError(t, "GET role assignment of the deleted group", err, http.StatusNotFound, "RoleAssignmentNotFound")

	// The VM's identity is gone: its tokens are refused everywhere.
	r := rawDo(t, env, http.MethodGet, env.VaultURL(env.Instance.DefaultVault)+"secrets/anything?api-version=7.6", vmVaultTok, nil, nil)
	r.wantKVError(t, "data plane with the deleted VM's token", http.StatusUnauthorized, "Unauthorized", "")
	r = armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"?api-version=2022-12-01", vmARMTok, nil)
	r.wantARMError(t, "ARM with the deleted VM's token", http.StatusUnauthorized, "InvalidAuthenticationToken")
	if _, err := env.Store.GetPrincipal(ctx, vmPrincipal); errs.KindOf(err) != errs.NotExist {
		t.Errorf("VM principal after group deletion: %v, want NotExist", err)
	}
	// ... and its machine credential no longer gets tokens.
	if st, _ := armMSIToken(t, env, machineCred, "https://vault.azure.net", nil); st != http.StatusUnauthorized {
		t.Errorf("MSI token with the deleted VM's credential = %d, want 401", st)
	}
}

// TestARMUserAssignedIdentity: armmsi create/get/list/delete and attaching
// the identity to a VM next to its system-assigned one.
func TestARMUserAssignedIdentity(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	sub, tenant := env.Instance.SubscriptionID, env.Instance.TenantID
	const rg = "uami-rg"
	k.createGroup(t, rg)

	created, err := k.ids.CreateOrUpdate(ctx, rg, "app-identity", armmsi.Identity{
		Location: to.Ptr(armLocation), Tags: map[string]*string{"team": to.Ptr("payments")},
	}, nil)
	if err != nil {
		t.Fatalf("create identity: %v", err)
	}
	u := created.Identity
	wantID := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity"
	if *u.ID != wantID || *u.Name != "app-identity" || *u.Type != "Microsoft.ManagedIdentity/userAssignedIdentities" || *u.Location != armLocation {
		t.Errorf("identity = %s %s %s %s", *u.ID, *u.Name, *u.Type, *u.Location)
	}
	if !guidRE.MatchString(*u.Properties.PrincipalID) || !guidRE.MatchString(*u.Properties.ClientID) || *u.Properties.TenantID != tenant {
		t.Errorf("identity properties = %+v", *u.Properties)
	}
	if u.Tags["team"] == nil || *u.Tags["team"] != "payments" {
		t.Errorf("identity tags = %v", u.Tags)
	}
	again, err := k.ids.CreateOrUpdate(ctx, rg, "app-identity", armmsi.Identity{Location: to.Ptr(armLocation)}, nil)
	if err != nil || *again.Properties.PrincipalID != *u.Properties.PrincipalID || *again.Properties.ClientID != *u.Properties.ClientID {
		t.Fatalf("second PUT changed the identity: %v", err)
	}
	get, err := k.ids.Get(ctx, rg, "app-identity", nil)
	if err != nil || *get.Properties.PrincipalID != *u.Properties.PrincipalID {
		t.Fatalf("GET identity = %v, %v", get.Properties, err)
	}
	if names := listIdentities(t, k, rg); !slices.Equal(names, []string{"app-identity"}) {
		t.Errorf("identities in %s = %v", rg, names)
	}
	if names := listIdentities(t, k, ""); !slices.Contains(names, "app-identity") {
		t.Errorf("identities in the subscription = %v", names)
	}

	// A VM with a system-assigned identity, then both kinds.
	putVM := func(id *armcompute.VirtualMachineIdentity) armcompute.VirtualMachine {
		t.Helper()
		p, err := k.vms.BeginCreateOrUpdate(ctx, rg, "uami-vm", armcompute.VirtualMachine{Location: to.Ptr(armLocation), Identity: id}, nil)
		if err != nil {
			t.Fatalf("PUT VM: %v", err)
		}
		r, err := p.PollUntilDone(ctx, armPoll)
		if err != nil {
			t.Fatalf("PUT VM: polling: %v", err)
		}
		return r.VirtualMachine
	}
	vm := putVM(&armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityTypeSystemAssigned)})
	system := *vm.Identity.PrincipalID
	vm = putVM(&armcompute.VirtualMachineIdentity{
		Type:                   to.Ptr(armcompute.ResourceIdentityTypeSystemAssignedUserAssigned),
		UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{*u.ID: {}},
	})
	checkBoth := func(what string, vm armcompute.VirtualMachine) {
		t.Helper()
		id := vm.Identity
		if id == nil || *id.Type != armcompute.ResourceIdentityTypeSystemAssignedUserAssigned || *id.PrincipalID != system {
			t.Fatalf("%s: identity = %+v, want both kinds with principal %s", what, id, system)
		}
		ref := id.UserAssignedIdentities[*u.ID]
		if len(id.UserAssignedIdentities) != 1 || ref == nil || ref.PrincipalID == nil || ref.ClientID == nil {
			t.Fatalf("%s: userAssignedIdentities = %v", what, id.UserAssignedIdentities)
		}
		if *ref.PrincipalID != *u.Properties.PrincipalID || *ref.ClientID != *u.Properties.ClientID {
			t.Errorf("%s: user-assigned principal/client = %s/%s, want %s/%s", what, *ref.PrincipalID, *ref.ClientID,
				*u.Properties.PrincipalID, *u.Properties.ClientID)
		}
	}
	checkBoth("PUT VM", vm)
	got, err := k.vms.Get(ctx, rg, "uami-vm", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkBoth("GET VM", got.VirtualMachine)

	// The VM can now get tokens as either identity, and only those.
	cred, _, err := env.Resources.NewCredential(ctx, sub, rg, "uami-vm")
	if err != nil {
		t.Fatal(err)
	}
	st, tok := armMSIToken(t, env, cred, "https://vault.azure.net", url.Values{"client_id": {*u.Properties.ClientID}})
	if st != http.StatusOK || armJWTClaim(t, tok, "oid") != *u.Properties.PrincipalID {
		t.Fatalf("user-assigned token: %d oid %s", st, tok)
	}
	st, tok = armMSIToken(t, env, cred, "https://vault.azure.net", nil)
	if st != http.StatusOK || armJWTClaim(t, tok, "oid") != system {
		t.Fatalf("system-assigned token: %d", st)
	}

	// PATCH back to system-assigned only detaches the identity.
	up, err := k.vms.BeginUpdate(ctx, rg, "uami-vm", armcompute.VirtualMachineUpdate{
		Identity: &armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityTypeSystemAssigned)},
	}, nil)
	if err != nil {
		t.Fatalf("PATCH VM: %v", err)
	}
	patched, err := up.PollUntilDone(ctx, armPoll)
	if err != nil {
		t.Fatal(err)
	}
	if id := patched.Identity; *id.Type != armcompute.ResourceIdentityTypeSystemAssigned || *id.PrincipalID != system || len(id.UserAssignedIdentities) != 0 {
		t.Errorf("patched identity = %s %s %v", *id.Type, *id.PrincipalID, id.UserAssignedIdentities)
	}
	if st, _ := armMSIToken(t, env, cred, "https://vault.azure.net", url.Values{"client_id": {*u.Properties.ClientID}}); st != http.StatusBadRequest {
		t.Errorf("token for a detached identity = %d, want 400", st)
	}

	// Delete the identity: gone from GET and lists, its principal too.
	if _, err := k.ids.Delete(ctx, rg, "app-identity", nil); err != nil {
		t.Fatalf("delete identity: %v", err)
	}
	_, err = k.ids.Get(ctx, rg, "app-identity", nil)
	wantARMSDKError(t, "GET deleted identity", err, http.StatusNotFound, "ResourceNotFound")
	if names := listIdentities(t, k, rg); len(names) != 0 {
		t.Errorf("identities after delete = %v", names)
	}
	if _, err := env.Store.GetPrincipal(ctx, *u.Properties.PrincipalID); errs.KindOf(err) != errs.NotExist {
		t.Errorf("identity principal after delete: %v", err)
	}
	if _, err := k.ids.Delete(ctx, rg, "app-identity", nil); err != nil {
		t.Errorf("second delete (204): %v", err)
	}
	// Attaching a deleted identity is refused and changes nothing.
	p, err := k.vms.BeginCreateOrUpdate(ctx, rg, "uami-vm", armcompute.VirtualMachine{Location: to.Ptr(armLocation), Identity: &armcompute.VirtualMachineIdentity{
		Type:                   to.Ptr(armcompute.ResourceIdentityTypeSystemAssignedUserAssigned),
		UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{*u.ID: {}},
	}}, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, armPoll)
	}
	wantARMSDKError(t, "attach a deleted identity", err, http.StatusBadRequest, "FailedIdentityOperation")
	got, err = k.vms.Get(ctx, rg, "uami-vm", nil)
	if err != nil || *got.Identity.Type != armcompute.ResourceIdentityTypeSystemAssigned || *got.Identity.PrincipalID != system {
		t.Errorf("VM after refused attach = %+v, %v", got.Identity, err)
	}
}

// TestARMAccessPolicies: accessPolicies/{add,replace,remove} through the
// SDK, and their effect on the data plane.
func TestARMAccessPolicies(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	const rg, vault = "ap-rg", "ap-kv-sdk"
	k.createGroup(t, rg)
	admin := env.Instance.AdminObjectID
	sp := newARMPrincipal(t, env, "ap reader")
	other := newARMPrincipal(t, env, "ap other")
	k.createVault(t, rg, vault, k.policy(admin, armkeyvault.SecretPermissionsAll))
	if _, err := sdkClient(t, env, vault, env.Admin.ClientID, env.Admin.ClientSecret).SetSecret(ctx, "s1",
		azsecrets.SetSecretParameters{Value: to.Ptr("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	spClient := sdkClient(t, env, vault, sp.AppID, sp.Secret)
	canGet := func() bool {
		_, err := spClient.GetSecret(ctx, "s1", "", nil)
		if err != nil {
			wantStatus(t, "GetSecret", err, http.StatusForbidden, "Forbidden")
		}
		return err == nil
	}
	if canGet() {
		t.Fatal("principal without a policy can read")
	}

	update := func(kind armkeyvault.AccessPolicyUpdateKind, entries ...*armkeyvault.AccessPolicyEntry) []string {
		t.Helper()
		r, err := k.vaults.UpdateAccessPolicy(ctx, rg, vault, kind, armkeyvault.VaultAccessPolicyParameters{
			Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: entries},
		}, nil)
		if err != nil {
			t.Fatalf("accessPolicies/%s: %v", kind, err)
		}
		if r.Type == nil || *r.Type != "Microsoft.KeyVault/vaults/accessPolicies" || r.ID == nil ||
			!strings.HasPrefix(*r.ID, "/subscriptions/"+k.sub+"/resourceGroups/"+rg+"/providers/Microsoft.KeyVault/vaults/"+vault+"/accessPolicies") {
			t.Errorf("accessPolicies/%s response id %v type %v", kind, r.ID, r.Type)
		}
		v, err := k.vaults.Get(ctx, rg, vault, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, stored := armPolicySummary(r.Properties.AccessPolicies), armPolicySummary(v.Properties.AccessPolicies); !slices.Equal(got, stored) {
			t.Errorf("accessPolicies/%s answered %v but the vault has %v", kind, got, stored)
		}
		return armPolicySummary(v.Properties.AccessPolicies)
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: policies = %v, want %v", what, got, want)
		}
	}

	// add appends a new entry and unions permissions into an existing one.
	got := update(armkeyvault.AccessPolicyUpdateKindAdd, k.policy(sp.ObjectID, armkeyvault.SecretPermissionsGet))
	check("add new", got, admin+":all", sp.ObjectID+":get")
	if !canGet() {
		t.Error("get not granted after add")
	}
	got = update(armkeyvault.AccessPolicyUpdateKindAdd, k.policy(sp.ObjectID, armkeyvault.SecretPermissionsList, armkeyvault.SecretPermissionsGet),
		k.policy(other.ObjectID, armkeyvault.SecretPermissionsSet))
	check("add merge", got, admin+":all", sp.ObjectID+":get,list", other.ObjectID+":set")

	// replace replaces the entry's permissions.
	got = update(armkeyvault.AccessPolicyUpdateKindReplace, k.policy(sp.ObjectID, armkeyvault.SecretPermissionsList))
	check("replace", got, admin+":all", sp.ObjectID+":list", other.ObjectID+":set")
	if canGet() {
		t.Error("get still granted after replace with list")
	}

	// remove drops listed permissions, and entries left empty.
	got = update(armkeyvault.AccessPolicyUpdateKindRemove, k.policy(other.ObjectID, armkeyvault.SecretPermissionsSet))
	check("remove entry", got, admin+":all", sp.ObjectID+":list")
	update(armkeyvault.AccessPolicyUpdateKindAdd, k.policy(sp.ObjectID, armkeyvault.SecretPermissionsGet))
	got = update(armkeyvault.AccessPolicyUpdateKindRemove, k.policy(sp.ObjectID, armkeyvault.SecretPermissionsList))
	check("remove permission", got, admin+":all", sp.ObjectID+":get")
	if !canGet() {
		t.Error("get lost when list was removed")
	}
	got = update(armkeyvault.AccessPolicyUpdateKindRemove, k.policy(sp.ObjectID))
	check("remove all of an entry", got, admin+":all")
	if canGet() {
		t.Error("get still granted after the entry was removed")
	}

	// An unknown operation kind and an unknown vault.
	_, err := k.vaults.UpdateAccessPolicy(ctx, rg, vault, armkeyvault.AccessPolicyUpdateKind("merge"), armkeyvault.VaultAccessPolicyParameters{
		Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{k.policy(sp.ObjectID, armkeyvault.SecretPermissionsGet)}},
	}, nil)
	wantARMSDKError(t, "accessPolicies/merge", err, http.StatusBadRequest, "BadRequest")
	_, err = k.vaults.UpdateAccessPolicy(ctx, rg, "ap-kv-missing", armkeyvault.AccessPolicyUpdateKindAdd, armkeyvault.VaultAccessPolicyParameters{
		Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{k.policy(sp.ObjectID, armkeyvault.SecretPermissionsGet)}},
	}, nil)
	wantARMSDKError(t, "accessPolicies on a missing vault", err, http.StatusNotFound, "ResourceNotFound")
	v, _ := k.vaults.Get(ctx, rg, vault, nil)
	check("after refused updates", armPolicySummary(v.Properties.AccessPolicies), admin+":all")
}

// TestARMRoleAssignments: armauthorization create/get/list/delete at vault
// scope with "Key Vault Secrets User", and its effect on an RBAC vault.
func TestARMRoleAssignments(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	sub := env.Instance.SubscriptionID
	const rg, vault = "ra-rg", "ra-kv-sdk"
	k.createGroup(t, rg)
	k.createGroup(t, "ra-other-rg")
	params := k.vaultParams()
	params.Properties.EnableRbacAuthorization = to.Ptr(true)
	v, err := k.putVault(rg, vault, params)
	if err != nil {
		t.Fatal(err)
	}
	if !*v.Properties.EnableRbacAuthorization {
		t.Fatal("vault is not in RBAC mode")
	}
	scope := *v.ID
	roleDef := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + kvSecretsUserRoleID
	assignRole := func(scope, name, role, principal string) (armauthorization.RoleAssignment, error) {
		r, err := k.roles.Create(ctx, scope, name, armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(role), PrincipalID: to.Ptr(principal),
				PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
			},
		}, nil)
		return r.RoleAssignment, err
	}
	assign := func(scope, name, principal string) (armauthorization.RoleAssignment, error) {
		return assignRole(scope, name, roleDef, principal)
	}

	// The admin seeds a secret with a data role of its own (Secrets Officer).
	officer := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	if _, err := assignRole(scope, uuid.NewString(), officer, env.Instance.AdminObjectID); err != nil {
		t.Fatalf("admin role assignment: %v", err)
	}
	if _, err := sdkClient(t, env, vault, env.Admin.ClientID, env.Admin.ClientSecret).SetSecret(ctx, "s1",
		azsecrets.SetSecretParameters{Value: to.Ptr("v1")}, nil); err != nil {
		t.Fatal(err)
	}

	sp := newARMPrincipal(t, env, "ra reader")
	spClient := sdkClient(t, env, vault, sp.AppID, sp.Secret)
	_, err = spClient.GetSecret(ctx, "s1", "", nil)
	wantStatus(t, "GetSecret without a role", err, http.StatusForbidden, "Forbidden")

	name := uuid.NewString()
	ra, err := assign(scope, name, sp.ObjectID)
	if err != nil {
		t.Fatalf("create role assignment: %v", err)
	}
	wantRA := scope + "/providers/Microsoft.Authorization/roleAssignments/" + name
	if *ra.ID != wantRA || *ra.Name != name || *ra.Type != "Microsoft.Authorization/roleAssignments" {
		t.Errorf("role assignment = %s %s %s, want id %s", *ra.ID, *ra.Name, *ra.Type, wantRA)
	}
	if p := ra.Properties; *p.RoleDefinitionID != roleDef || *p.PrincipalID != sp.ObjectID || *p.Scope != scope ||
		*p.PrincipalType != armauthorization.PrincipalTypeServicePrincipal {
		t.Errorf("role assignment properties = %s %s %s %s", *p.RoleDefinitionID, *p.PrincipalID, *p.Scope, *p.PrincipalType)
	}

	// Secrets User: get, not set.
	if _, err := spClient.GetSecret(ctx, "s1", "", nil); err != nil {
		t.Errorf("GetSecret as Secrets User: %v", err)
	}
	_, err = spClient.SetSecret(ctx, "s1", azsecrets.SetSecretParameters{Value: to.Ptr("v2")}, nil)
	wantStatus(t, "SetSecret as Secrets User", err, http.StatusForbidden, "Forbidden")

	// Get, and list at the vault, at a parent and at an unrelated scope.
	g, err := k.roles.Get(ctx, scope, name, nil)
	if err != nil || *g.ID != wantRA {
		t.Fatalf("GET role assignment = %v, %v", g.ID, err)
	}
	list := func(scope string, filter *string) []string {
		t.Helper()
		var names []string
		pager := k.roles.NewListForScopePager(scope, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: filter})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list role assignments at %s: %v", scope, err)
			}
			for _, a := range page.Value {
				names = append(names, *a.Name)
			}
		}
		return names
	}
	// Inherited assignments are listed too: besides the new one and the
	// one made before, the admin user's Owner at the subscription.
	if names := list(scope, nil); !slices.Contains(names, name) || len(names) != 3 {
		t.Errorf("assignments at the vault = %v, want 3 including %s", names, name)
	}
	if names := list(scope, to.Ptr("principalId eq '"+sp.ObjectID+"'")); !slices.Equal(names, []string{name}) {
		t.Errorf("assignments at the vault for the principal = %v, want [%s]", names, name)
	}
	if names := list("subscriptions/"+sub, nil); !slices.Contains(names, name) {
		t.Errorf("assignments at the subscription = %v, want %s among them", names, name)
	}
	if names := list("subscriptions/"+sub+"/resourceGroups/ra-other-rg", nil); slices.Contains(names, name) {
		t.Errorf("assignments at an unrelated group = %v, must not include %s", names, name)
	}

	// Deleting through an unrelated scope must not touch it.
	if _, err := k.roles.Delete(ctx, "subscriptions/"+sub+"/resourceGroups/ra-other-rg", name, nil); err != nil {
		t.Fatalf("delete at an unrelated scope: %v", err)
	}
	if _, err := k.roles.Get(ctx, scope, name, nil); err != nil {
		t.Fatalf("assignment gone after a delete at an unrelated scope: %v", err)
	}
	_, err = k.roles.Get(ctx, "subscriptions/"+sub+"/resourceGroups/ra-other-rg", name, nil)
	wantARMSDKError(t, "GET at an unrelated scope", err, http.StatusNotFound, "RoleAssignmentNotFound")

	// Delete: answered with the assignment; then 404, and the data plane closes.
	del, err := k.roles.Delete(ctx, scope, name, nil)
	if err != nil || del.ID == nil || *del.ID != wantRA {
		t.Fatalf("delete role assignment = %v, %v", del.ID, err)
	}
	_, err = k.roles.Get(ctx, scope, name, nil)
	wantARMSDKError(t, "GET deleted role assignment", err, http.StatusNotFound, "RoleAssignmentNotFound")
	if names := list(scope, nil); slices.Contains(names, name) {
		t.Errorf("deleted assignment still listed: %v", names)
	}
	_, err = spClient.GetSecret(ctx, "s1", "", nil)
	wantStatus(t, "GetSecret after the assignment was deleted", err, http.StatusForbidden, "Forbidden")
	if _, err := k.roles.Delete(ctx, scope, name, nil); err != nil {
		t.Errorf("second delete (204): %v", err)
	}

	// Refused: an unknown role, an unknown principal, a non-GUID name.
	_, err = k.roles.Create(ctx, scope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + uuid.NewString()),
			PrincipalID:      to.Ptr(sp.ObjectID),
		},
	}, nil)
	wantARMSDKError(t, "unknown role definition", err, http.StatusBadRequest, "RoleDefinitionDoesNotExist")
	_, err = assign(scope, uuid.NewString(), uuid.NewString())
	wantARMSDKError(t, "unknown principal", err, http.StatusBadRequest, "PrincipalNotFound")
	_, err = assign(scope, "not-a-guid", sp.ObjectID)
	wantARMSDKError(t, "non-GUID name", err, http.StatusBadRequest, "InvalidRoleAssignmentId")
	// A second assignment of the same role to the same principal at the same scope.
	if _, err := assign(scope, uuid.NewString(), sp.ObjectID); err != nil {
		t.Fatal(err)
	}
	_, err = assign(scope, uuid.NewString(), sp.ObjectID)
	wantARMSDKError(t, "duplicate role assignment", err, http.StatusConflict, "RoleAssignmentExists")
}

// TestARMCloudMetadata: GET /metadata/endpoints in ARM's shape, so a custom
// cloud can be registered from it.
func TestARMCloudMetadata(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	r := rawDo(t, env, http.MethodGet, armMgmtURL+"/metadata/endpoints?api-version=2022-09-01", "", nil, nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("metadata: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var clouds []struct {
		Name            string `json:"name"`
		ResourceManager string `json:"resourceManager"`
		Authentication  struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
			Tenant        string   `json:"tenant"`
		} `json:"authentication"`
		Suffixes struct {
			KeyVaultDNS string `json:"keyVaultDns"`
		} `json:"suffixes"`
		MicrosoftGraphResourceID string `json:"microsoftGraphResourceId"`
	}
	if err := json.Unmarshal(r.Body, &clouds); err != nil || len(clouds) != 1 {
		t.Fatalf("metadata body is not a list of one cloud: %s (%v)", r.Body, err)
	}
	c := clouds[0]
	if c.Name != "AzureCloud" || c.ResourceManager != "https://management.azure.com/" ||
		c.Authentication.LoginEndpoint != "https://login.microsoftonline.com/" || c.Suffixes.KeyVaultDNS != "vault.azure.net" {
		t.Errorf("metadata = %+v", c)
	}
	if !slices.Contains(c.Authentication.Audiences, "https://management.core.windows.net/") ||
		!slices.Contains(c.Authentication.Audiences, "https://management.azure.com/") {
		t.Errorf("audiences = %v", c.Authentication.Audiences)
	}
	if c.MicrosoftGraphResourceID != "https://graph.microsoft.com/" {
		t.Errorf("microsoftGraphResourceId = %q", c.MicrosoftGraphResourceID)
	}
	// The audiences are the ones ARM accepts: a token for the first works.
	tok := clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, c.Authentication.Audiences[0]+"/.default")
	if r := armRaw(t, env, http.MethodGet, "/subscriptions?api-version=2022-12-01", tok, nil); r.Status != http.StatusOK {
		t.Errorf("ARM with a token for the metadata's audience: %d %s", r.Status, r.Body)
	}

	// 2019-05-01 is a list too; 2018-01-01 one object of the same shape.
	r = rawDo(t, env, http.MethodGet, armMgmtURL+"/metadata/endpoints?api-version=2019-05-01", "", nil, nil)
	var list []map[string]any
	if err := json.Unmarshal(r.Body, &list); err != nil || len(list) != 1 || list[0]["resourceManager"] != "https://management.azure.com/" {
		t.Errorf("metadata 2019-05-01 = %s (%v)", r.Body, err)
	}
	r = rawDo(t, env, http.MethodGet, armMgmtURL+"/metadata/endpoints?api-version=2018-01-01", "", nil, nil)
	var one map[string]any
	if err := json.Unmarshal(r.Body, &one); err != nil || one["resourceManager"] != "https://management.azure.com/" {
		t.Errorf("metadata 2018-01-01 = %s (%v)", r.Body, err)
	}
}

// listIdentities lists// listIdentities lists user-assigned identities of a group (or, with rg "",
// of the subscription) through the SDK's pagers.
func listIdentities(t *testing.T, k *armSDK, rg string) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	add := func(page []*armmsi.Identity, err error) {
		if err != nil {
			t.Fatalf("list identities: %v", err)
		}
		for _, x := range page {
			names = append(names, *x.Name)
		}
	}
	if rg == "" {
		for p := k.ids.NewListBySubscriptionPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			add(page.Value, err)
		}
		return names
	}
	for p := k.ids.NewListByResourceGroupPager(rg, nil); p.More(); {
		page, err := p.NextPage(ctx)
		add(page.Value, err)
	}
	return names
}
