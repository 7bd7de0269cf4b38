package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// vaultAlreadyExistsMsg is ARM's exact message (azure-wire-spec §4.3).
const vaultAlreadyExistsMsg = "The vault name '%s' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information about VaultAlreadyExists, soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740."

// rfc3339UTC is how ARM writes times (unlike the data plane's Unix seconds).
var rfc3339UTC = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

const vaultsAPIVersion = "2024-11-01"

func vaultPathOf(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.KeyVault/vaults/" + name
}

// TestARMVaultRules: the vault-level rules of the control plane, through
// the SDK where it exposes them and raw HTTP where the exact wire matters.
func TestARMVaultRules(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	sub := env.Instance.SubscriptionID
	admin := env.Instance.AdminObjectID
	tok := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	const rg1, rg2 = "rules-rg1", "rules-rg2"
	k.createGroup(t, rg1)
	k.createGroup(t, rg2)
	get := func(rg, name string) (armkeyvault.Vault, error) {
		r, err := k.vaults.Get(ctx, rg, name, nil)
		return r.Vault, err
	}
	deleteVault := func(rg, name string) {
		t.Helper()
		if _, err := k.vaults.Delete(ctx, rg, name, nil); err != nil {
			t.Fatalf("delete vault %s: %v", name, err)
		}
	}
	isDeleted := func(name string) bool {
		t.Helper()
		for p := k.vaults.NewListDeletedPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, dv := range page.Value {
				if *dv.Name == name {
					return true
				}
			}
		}
		return false
	}

	t.Run("purge protection cannot be disabled", func(t *testing.T) {
		params := k.vaultParams()
		params.Properties.EnablePurgeProtection = to.Ptr(true)
		v, err := k.putVault(rg1, "rules-pp", params)
		if err != nil {
			t.Fatal(err)
		}
		if v.Properties.EnablePurgeProtection == nil || !*v.Properties.EnablePurgeProtection {
			t.Fatalf("enablePurgeProtection = %v", v.Properties.EnablePurgeProtection)
		}
		_, err = k.vaults.Update(ctx, rg1, "rules-pp", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(false)},
		}, nil)
		wantARMSDKError(t, "PATCH enablePurgeProtection=false", err, http.StatusBadRequest, "BadRequest")
		params.Properties.EnablePurgeProtection = to.Ptr(false)
		_, err = k.putVault(rg1, "rules-pp", params)
		wantARMSDKError(t, "PUT enablePurgeProtection=false", err, http.StatusBadRequest, "BadRequest")
		// Omitting it keeps it on.
		params.Properties.EnablePurgeProtection = nil
		if v, err = k.putVault(rg1, "rules-pp", params); err != nil || !*v.Properties.EnablePurgeProtection {
			t.Fatalf("PUT without enablePurgeProtection = %v, %v", v.Properties.EnablePurgeProtection, err)
		}
		if v, err = get(rg1, "rules-pp"); err != nil || !*v.Properties.EnablePurgeProtection {
			t.Fatalf("GET = %v, %v", v.Properties.EnablePurgeProtection, err)
		}
		// Turning it on later is allowed.
		k.createVault(t, rg1, "rules-pp-later")
		u, err := k.vaults.Update(ctx, rg1, "rules-pp-later", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(true)},
		}, nil)
		if err != nil || !*u.Properties.EnablePurgeProtection {
			t.Fatalf("PATCH enablePurgeProtection=true = %v, %v", u.Properties, err)
		}
	})

	t.Run("retention is immutable and 7..90", func(t *testing.T) {
		params := k.vaultParams()
		params.Properties.SoftDeleteRetentionInDays = to.Ptr[int32](30)
		v, err := k.putVault(rg1, "rules-ret", params)
		if err != nil || *v.Properties.SoftDeleteRetentionInDays != 30 {
			t.Fatalf("create with 30 days = %v, %v", v.Properties, err)
		}
		_, err = k.vaults.Update(ctx, rg1, "rules-ret", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{SoftDeleteRetentionInDays: to.Ptr[int32](60)},
		}, nil)
		wantARMSDKError(t, "PATCH retention 30→60", err, http.StatusBadRequest, "BadRequest")
		params.Properties.SoftDeleteRetentionInDays = to.Ptr[int32](90)
		_, err = k.putVault(rg1, "rules-ret", params)
		wantARMSDKError(t, "PUT retention 30→90", err, http.StatusBadRequest, "BadRequest")
		if _, err := k.vaults.Update(ctx, rg1, "rules-ret", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{SoftDeleteRetentionInDays: to.Ptr[int32](30)},
		}, nil); err != nil {
			t.Errorf("PATCH with the same retention: %v", err)
		}
		if v, _ := get(rg1, "rules-ret"); *v.Properties.SoftDeleteRetentionInDays != 30 {
			t.Errorf("retention after refused changes = %d", *v.Properties.SoftDeleteRetentionInDays)
		}
		for _, days := range []int32{-1, 0, 6, 91, 365} {
			name := fmt.Sprintf("rules-ret-x%d", days+10)
			params.Properties.SoftDeleteRetentionInDays = to.Ptr(days)
			_, err := k.putVault(rg1, name, params)
			wantARMSDKError(t, fmt.Sprintf("create with %d days", days), err, http.StatusBadRequest, "BadRequest")
			_, err = get(rg1, name)
			wantARMSDKError(t, "GET after refused create", err, http.StatusNotFound, "ResourceNotFound")
		}
		for _, days := range []int32{7, 90} {
			params.Properties.SoftDeleteRetentionInDays = to.Ptr(days)
			if v, err := k.putVault(rg1, fmt.Sprintf("rules-ret-ok%d", days), params); err != nil || *v.Properties.SoftDeleteRetentionInDays != days {
				t.Errorf("create with %d days = %v", days, err)
			}
		}
	})

	t.Run("name reuse while soft-deleted", func(t *testing.T) {
		k.createVault(t, rg1, "rules-reuse", k.policy(admin, armkeyvault.SecretPermissionsAll))
		deleteVault(rg1, "rules-reuse")
		if !isDeleted("rules-reuse") {
			t.Fatal("deleted vault not listed as deleted")
		}
		_, err := get(rg1, "rules-reuse")
		wantARMSDKError(t, "GET soft-deleted vault", err, http.StatusNotFound, "ResourceNotFound")
		_, err = k.putVault(rg1, "rules-reuse", k.vaultParams())
		wantARMSDKError(t, "re-create in the same group", err, http.StatusConflict, "VaultAlreadyExists")
		for _, rg := range []string{rg1, rg2} {
			body := jsonBody(t, k.vaultParams())
			r := armRaw(t, env, http.MethodPut, vaultPathOf(sub, rg, "rules-reuse")+"?api-version="+vaultsAPIVersion, tok, body)
			if msg := r.wantARMError(t, "re-create in "+rg, http.StatusConflict, "VaultAlreadyExists"); msg != fmt.Sprintf(vaultAlreadyExistsMsg, "rules-reuse") {
				t.Errorf("VaultAlreadyExists message = %q", msg)
			}
		}
		if !isDeleted("rules-reuse") {
			t.Error("refused re-creation touched the deleted vault")
		}
		_, err = get(rg2, "rules-reuse")
		wantARMSDKError(t, "GET in the other group", err, http.StatusNotFound, "ResourceNotFound")
	})

	t.Run("name taken in another group", func(t *testing.T) {
		v := k.createVault(t, rg1, "rules-taken", k.policy(admin, armkeyvault.SecretPermissionsGet))
		_, err := k.putVault(rg2, "rules-taken", k.vaultParams())
		wantARMSDKError(t, "create in another group", err, http.StatusConflict, "VaultAlreadyExists")
		r := armRaw(t, env, http.MethodPut, vaultPathOf(sub, rg2, "RULES-TAKEN")+"?api-version="+vaultsAPIVersion, tok, jsonBody(t, k.vaultParams()))
		r.wantARMError(t, "create in another group, other case", http.StatusConflict, "VaultAlreadyExists")
		_, err = get(rg2, "rules-taken")
		wantARMSDKError(t, "GET in the other group", err, http.StatusNotFound, "ResourceNotFound")
		got, err := get(rg1, "rules-taken")
		if err != nil || *got.ID != *v.ID || !slices.Equal(armPolicySummary(got.Properties.AccessPolicies), armPolicySummary(v.Properties.AccessPolicies)) {
			t.Errorf("original vault changed: %v", err)
		}
	})

	t.Run("recover restores policies and secrets", func(t *testing.T) {
		sp := newARMPrincipal(t, env, "rules recover")
		v := k.createVault(t, rg1, "rules-recover", k.policy(admin, armkeyvault.SecretPermissionsAll), k.policy(sp.ObjectID, armkeyvault.SecretPermissionsGet))
		adminKV := sdkClient(t, env, "rules-recover", env.Admin.ClientID, env.Admin.ClientSecret)
		for _, n := range []string{"kept", "gone"} {
			if _, err := adminKV.SetSecret(ctx, n, azsecrets.SetSecretParameters{Value: to.Ptr("value-" + n)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := adminKV.DeleteSecret(ctx, "gone", nil); err != nil {
			t.Fatal(err)
		}
		spKV := sdkClient(t, env, "rules-recover", sp.AppID, sp.Secret)
		if _, err := spKV.GetSecret(ctx, "kept", "", nil); err != nil {
			t.Fatal(err)
		}
		deleteVault(rg1, "rules-recover")
		if _, err := spKV.GetSecret(ctx, "kept", "", nil); err == nil {
			t.Fatal("secret readable in a soft-deleted vault")
		}

		// createMode recover on a name that is not deleted at all.
		params := k.vaultParams()
		params.Properties.CreateMode = to.Ptr(armkeyvault.CreateModeRecover)
		_, err := k.putVault(rg1, "rules-nothing", params)
		wantARMSDKError(t, "recover a vault that was never deleted", err, http.StatusNotFound, "SoftDeletedVaultDoesNotExist")
		_, err = get(rg1, "rules-nothing")
		wantARMSDKError(t, "GET after refused recover", err, http.StatusNotFound, "ResourceNotFound")
		// Recovering into another group is refused.
		_, err = k.putVault(rg2, "rules-recover", params)
		wantARMSDKError(t, "recover into another group", err, http.StatusConflict, "VaultAlreadyExists")

		r, err := k.putVault(rg1, "rules-recover", params)
		if err != nil {
			t.Fatalf("recover: %v", err)
		}
		if *r.ID != *v.ID || !slices.Equal(armPolicySummary(r.Properties.AccessPolicies), armPolicySummary(v.Properties.AccessPolicies)) {
			t.Errorf("recovered vault = %s %v, want %s %v", *r.ID, armPolicySummary(r.Properties.AccessPolicies), *v.ID, armPolicySummary(v.Properties.AccessPolicies))
		}
		if isDeleted("rules-recover") {
			t.Error("recovered vault still listed as deleted")
		}
		got, err := spKV.GetSecret(ctx, "kept", "", nil)
		if err != nil || *got.Value != "value-kept" {
			t.Fatalf("GetSecret after recover = %v", err)
		}
		// The secret deleted before the vault is still deleted, and recoverable.
		if _, err := adminKV.GetDeletedSecret(ctx, "gone", nil); err != nil {
			t.Errorf("GetDeletedSecret after vault recover: %v", err)
		}
		_, err = adminKV.GetSecret(ctx, "gone", "", nil)
		wantStatus(t, "GetSecret of a secret deleted before the vault", err, http.StatusNotFound, "SecretNotFound")
		// Recovering a live vault is a no-op.
		if _, err := k.putVault(rg1, "rules-recover", params); err != nil {
			t.Errorf("recover of a live vault: %v", err)
		}
	})

	t.Run("purge frees the name", func(t *testing.T) {
		k.createVault(t, rg1, "rules-purge", k.policy(admin, armkeyvault.SecretPermissionsAll))
		adminKV := sdkClient(t, env, "rules-purge", env.Admin.ClientID, env.Admin.ClientSecret)
		if _, err := adminKV.SetSecret(ctx, "old", azsecrets.SetSecretParameters{Value: to.Ptr("old")}, nil); err != nil {
			t.Fatal(err)
		}
		deleteVault(rg1, "rules-purge")
		p, err := k.vaults.BeginPurgeDeleted(ctx, "rules-purge", armLocation, nil)
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		if _, err := p.PollUntilDone(ctx, armPoll); err != nil {
			t.Fatalf("purge: polling: %v", err)
		}
		_, err = k.vaults.GetDeleted(ctx, "rules-purge", armLocation, nil)
		wantARMSDKError(t, "GetDeleted after purge", err, http.StatusNotFound, "DeletedVaultNotFound")
		if isDeleted("rules-purge") {
			t.Error("purged vault still listed")
		}
		// The name is free, even in another group, and the new vault is empty.
		k.createVault(t, rg2, "rules-purge", k.policy(admin, armkeyvault.SecretPermissionsAll))
		_, err = adminKV.GetSecret(ctx, "old", "", nil)
		wantStatus(t, "old secret in the new vault", err, http.StatusNotFound, "SecretNotFound")
		_, err = adminKV.GetDeletedSecret(ctx, "old", nil)
		wantStatus(t, "old deleted secret in the new vault", err, http.StatusNotFound, "SecretNotFound")
		// Purging what is not deleted.
		_, err = k.vaults.BeginPurgeDeleted(ctx, "rules-purge", armLocation, nil)
		wantARMSDKError(t, "purge a live vault", err, http.StatusNotFound, "DeletedVaultNotFound")
	})

	t.Run("purge protection refuses purge", func(t *testing.T) {
		params := k.vaultParams()
		params.Properties.EnablePurgeProtection = to.Ptr(true)
		if _, err := k.putVault(rg1, "rules-ppurge", params); err != nil {
			t.Fatal(err)
		}
		deleteVault(rg1, "rules-ppurge")
		_, err := k.vaults.BeginPurgeDeleted(ctx, "rules-ppurge", armLocation, nil)
		wantARMSDKError(t, "purge a purge-protected vault", err, http.StatusConflict, "InvalidOperation")
		r := armRaw(t, env, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.KeyVault/locations/"+armLocation+
			"/deletedVaults/rules-ppurge/purge?api-version="+vaultsAPIVersion, tok, nil)
		if msg := r.wantARMError(t, "raw purge", http.StatusConflict, "InvalidOperation"); msg != "Operation 'DeletedVaultPurge' is not allowed." {
			t.Errorf("message = %q", msg)
		}
		dv, err := k.vaults.GetDeleted(ctx, "rules-ppurge", armLocation, nil)
		if err != nil || !*dv.Properties.PurgeProtectionEnabled {
			t.Fatalf("deleted vault after refused purge = %v", err)
		}
		_, err = k.putVault(rg1, "rules-ppurge", k.vaultParams())
		wantARMSDKError(t, "reuse of a purge-protected name", err, http.StatusConflict, "VaultAlreadyExists")
	})

	t.Run("deleted vault wire shape", func(t *testing.T) {
		params := k.vaultParams()
		params.Properties.SoftDeleteRetentionInDays = to.Ptr[int32](7)
		params.Tags = map[string]*string{"env": to.Ptr("test")}
		v, err := k.putVault(rg1, "rules-shape", params)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now().UTC().Add(-time.Second)
		deleteVault(rg1, "rules-shape")
		r := armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.KeyVault/locations/"+armLocation+
			"/deletedVaults/rules-shape?api-version="+vaultsAPIVersion, tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET deleted vault: %d %s", r.Status, r.Body)
		}
		var dv struct {
			ID, Name, Type string
			Properties     map[string]json.RawMessage
		}
		if err := json.Unmarshal(r.Body, &dv); err != nil {
			t.Fatal(err)
		}
		if dv.ID != "/subscriptions/"+sub+"/providers/Microsoft.KeyVault/locations/"+armLocation+"/deletedVaults/rules-shape" ||
			dv.Name != "rules-shape" || dv.Type != "Microsoft.KeyVault/deletedVaults" {
			t.Errorf("deleted vault = %s %s %s", dv.ID, dv.Name, dv.Type)
		}
		var props struct {
			VaultID                string            `json:"vaultId"`
			Location               string            `json:"location"`
			DeletionDate           string            `json:"deletionDate"`
			ScheduledPurgeDate     string            `json:"scheduledPurgeDate"`
			Tags                   map[string]string `json:"tags"`
			PurgeProtectionEnabled *bool             `json:"purgeProtectionEnabled"`
		}
		if err := json.Unmarshal(r.Body[bytes.Index(r.Body, []byte(`"properties"`))+len(`"properties":`):len(r.Body)-1], &props); err != nil {
			t.Fatalf("properties: %v (%s)", err, r.Body)
		}
		if props.VaultID != *v.ID || props.Location != armLocation || props.Tags["env"] != "test" || props.PurgeProtectionEnabled == nil || *props.PurgeProtectionEnabled {
			t.Errorf("properties = %+v", props)
		}
		for name, s := range map[string]string{"deletionDate": props.DeletionDate, "scheduledPurgeDate": props.ScheduledPurgeDate} {
			if !rfc3339UTC.MatchString(s) {
				t.Errorf("%s = %q, want RFC 3339 UTC", name, s)
			}
		}
		del, _ := time.Parse(time.RFC3339, props.DeletionDate)
		purge, _ := time.Parse(time.RFC3339, props.ScheduledPurgeDate)
		if del.Before(before) || del.After(time.Now().Add(time.Second)) || purge.Sub(del) != 7*24*time.Hour {
			t.Errorf("deletionDate %s scheduledPurgeDate %s (retention 7 days)", props.DeletionDate, props.ScheduledPurgeDate)
		}
		// The list has ARM's page shape.
		r = armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.KeyVault/deletedVaults?api-version="+vaultsAPIVersion, tok, nil)
		var page struct {
			Value []struct {
				Name string `json:"name"`
			} `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil || r.Status != http.StatusOK ||
			!slices.ContainsFunc(page.Value, func(x struct {
				Name string `json:"name"`
			}) bool {
				return x.Name == "rules-shape"
			}) {
			t.Errorf("deleted vault list: %d %s", r.Status, r.Body)
		}
		_, err = k.vaults.GetDeleted(ctx, "rules-never", armLocation, nil)
		wantARMSDKError(t, "GetDeleted of an unknown name", err, http.StatusNotFound, "DeletedVaultNotFound")
	})

	t.Run("checkNameAvailability", func(t *testing.T) {
		k.createVault(t, rg1, "rules-cna-live")
		k.createVault(t, rg1, "rules-cna-del")
		deleteVault(rg1, "rules-cna-del")
		for _, c := range []struct {
			name      string
			available bool
			reason    armkeyvault.Reason
		}{
			{"rules-cna-free", true, ""},
			{"rules-cna-live", false, armkeyvault.ReasonAlreadyExists},
			{"RULES-CNA-LIVE", false, armkeyvault.ReasonAlreadyExists},
			{"rules-cna-del", false, armkeyvault.ReasonAlreadyExists},
			{"ab", false, armkeyvault.ReasonAccountNameInvalid},
			{"1-starts-with-digit", false, armkeyvault.ReasonAccountNameInvalid},
			{"has--double", false, armkeyvault.ReasonAccountNameInvalid},
		} {
			r, err := k.vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{
				Name: to.Ptr(c.name), Type: to.Ptr("Microsoft.KeyVault/vaults"),
			}, nil)
			if err != nil {
				t.Fatalf("CheckNameAvailability(%s): %v", c.name, err)
			}
			if *r.NameAvailable != c.available || (c.reason == "") != (r.Reason == nil) || (r.Reason != nil && *r.Reason != c.reason) {
				t.Errorf("CheckNameAvailability(%s) = %v %v, want %v %q", c.name, *r.NameAvailable, r.Reason, c.available, c.reason)
			}
			if !c.available && (r.Message == nil || *r.Message == "") {
				t.Errorf("CheckNameAvailability(%s): no message", c.name)
			}
		}
		path := "/subscriptions/" + sub + "/providers/Microsoft.KeyVault/checkNameAvailability?api-version=" + vaultsAPIVersion
		armRaw(t, env, http.MethodPost, path, tok, []byte(`{"name":"rules-cna-x","type":"Microsoft.Storage/storageAccounts"}`)).
			wantARMError(t, "checkNameAvailability of another type", http.StatusBadRequest, "BadRequest")
		armRaw(t, env, http.MethodPost, path, tok, []byte(`{"type":"Microsoft.KeyVault/vaults"}`)).
			wantARMError(t, "checkNameAvailability without a name", http.StatusBadRequest, "BadRequest")
	})
}

// armBadCase is one bad ARM request: it must fail with exactly status and
// code in ARM's error shape, and leave no trace.
type armBadCase struct {
	name   string
	method string
	path   string // including the query
	token  string // "" sends none
	body   string
	status int
	code   string
	// absent is a path whose GET (as the admin) must answer 404 absentCode
	// after the request: nothing was created.
	absent, absentCode string
	// unchanged is a path whose GET body must be the same before and after.
	unchanged string
}

// TestARMBadInput: a table of bad ARM requests. Every one gets ARM's error
// shape with the exact 4xx, never a 500, and stores nothing.
func TestARMBadInput(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	sub, tenant := env.Instance.SubscriptionID, env.Instance.TenantID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	const rg = "bad-rg"
	k.createGroup(t, rg)
	k.createVault(t, rg, "bad-kv-ok", k.policy(env.Instance.AdminObjectID, armkeyvault.SecretPermissionsGet))
	if _, err := k.ids.CreateOrUpdate(ctx, rg, "bad-id-ok", armmsi.Identity{Location: to.Ptr(armLocation)}, nil); err != nil {
		t.Fatal(err)
	}
	noRole := newARMPrincipal(t, env, "no role")
	noRoleTok := armTokenFor(t, env, noRole.AppID, noRole.Secret)
	contributor := newARMPrincipal(t, env, "contributor")
	reader := newARMPrincipal(t, env, "reader")
	for _, a := range []struct {
		p           armPrincipal
		role, scope string
	}{
		{contributor, "b24988ac-6180-42a0-ab88-20f7382dd24c", "subscriptions/" + sub},
		{reader, "acdd72a7-3385-48ef-bd42-f606fba81ae7", "subscriptions/" + sub + "/resourceGroups/" + rg},
	} {
		r := armRaw(t, env, http.MethodPut, "/"+a.scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", admin,
			jsonBody(t, map[string]any{"properties": map[string]any{"principalId": a.p.ObjectID,
				"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + a.role}}))
		if r.Status != http.StatusCreated {
			t.Fatalf("role assignment: %d %s", r.Status, r.Body)
		}
	}
	contributorTok := armTokenFor(t, env, contributor.AppID, contributor.Secret)
	readerTok := armTokenFor(t, env, reader.AppID, reader.Secret)
	vaultTok := adminToken(t, env) // a Key Vault audience: wrong for ARM

	const (
		rgAPI    = "?api-version=2025-04-01"
		kvAPI    = "?api-version=" + vaultsAPIVersion
		vmAPI    = "?api-version=2024-11-01"
		idAPI    = "?api-version=2024-11-30"
		raAPI    = "?api-version=2022-04-01"
		subsPath = "/subscriptions/"
	)
	rgPath := func(name string) string { return subsPath + sub + "/resourcegroups/" + name }
	vault := func(rg, name string) string { return vaultPathOf(sub, rg, name) }
	vm := func(rg, name string) string {
		return subsPath + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name
	}
	uami := func(rg, name string) string {
		return subsPath + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
	}
	vaultBody := func(props string) string {
		return `{"location":"eastus","properties":{` + props + `}}`
	}
	okProps := `"tenantId":"` + tenant + `","sku":{"family":"A","name":"standard"},"accessPolicies":[]`
	withPolicy := func(entry string) string {
		return vaultBody(`"tenantId":"` + tenant + `","sku":{"family":"A","name":"standard"},"accessPolicies":[` + entry + `]`)
	}
	policyBody := func(entry string) string { return `{"properties":{"accessPolicies":[` + entry + `]}}` }
	entry := func(perms string) string {
		return `{"tenantId":"` + tenant + `","objectId":"` + noRole.ObjectID + `","permissions":` + perms + `}`
	}
	okUAMI := uami(rg, "bad-id-ok")
	missingUAMI := uami(rg, "bad-id-missing")
	vmBody := func(identity string) string { return `{"location":"eastus","identity":` + identity + `}` }
	raBody := func(role, principal string) string {
		return `{"properties":{"roleDefinitionId":"/subscriptions/` + sub + `/providers/Microsoft.Authorization/roleDefinitions/` + role + `","principalId":"` + principal + `"}}`
	}
	raName := uuid.NewString()
	raPath := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + raName

	cases := []armBadCase{
		// Names.
		{name: "vault name too short", method: "PUT", path: vault(rg, "ab") + kvAPI, body: vaultBody(okProps), status: 400, code: "VaultNameNotValid", absent: vault(rg, "ab") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault name too long", method: "PUT", path: vault(rg, "a234567890123456789012345") + kvAPI, body: vaultBody(okProps), status: 400, code: "VaultNameNotValid", absent: vault(rg, "a234567890123456789012345") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault name starts with a digit", method: "PUT", path: vault(rg, "1vault") + kvAPI, body: vaultBody(okProps), status: 400, code: "VaultNameNotValid", absent: vault(rg, "1vault") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault name ends with a hyphen", method: "PUT", path: vault(rg, "vault-") + kvAPI, body: vaultBody(okProps), status: 400, code: "VaultNameNotValid", absent: vault(rg, "vault-") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault name with double hyphen", method: "PUT", path: vault(rg, "va--ult") + kvAPI, body: vaultBody(okProps), status: 400, code: "VaultNameNotValid", absent: vault(rg, "va--ult") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault name with underscore", method: "PUT", path: vault(rg, "vault_one") + kvAPI, body: vaultBody(okProps), status: 400, code: "VaultNameNotValid", absent: vault(rg, "vault_one") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "group name with bang", method: "PUT", path: rgPath("bad!rg") + rgAPI, body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceGroup", absent: rgPath("bad!rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "group name ending in a dot", method: "PUT", path: rgPath("bad.") + rgAPI, body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceGroup", absent: rgPath("bad.") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "group name with a space", method: "PUT", path: rgPath("bad%20rg") + rgAPI, body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceGroup", absent: rgPath("bad%20rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "group name too long", method: "PUT", path: rgPath(strings.Repeat("g", 91)) + rgAPI, body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceGroup", absent: rgPath(strings.Repeat("g", 91)) + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "VM name starting with a hyphen", method: "PUT", path: vm(rg, "-vm") + vmAPI, body: vmBody(`{"type":"SystemAssigned"}`), status: 400, code: "InvalidParameter", absent: vm(rg, "-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "VM name with bang", method: "PUT", path: vm(rg, "vm!") + vmAPI, body: vmBody(`{"type":"SystemAssigned"}`), status: 400, code: "InvalidParameter", absent: vm(rg, "vm!") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "VM name too long", method: "PUT", path: vm(rg, strings.Repeat("v", 65)) + vmAPI, body: vmBody(`{"type":"SystemAssigned"}`), status: 400, code: "InvalidParameter", absent: vm(rg, strings.Repeat("v", 65)) + vmAPI, absentCode: "ResourceNotFound"},
		{name: "identity name too short", method: "PUT", path: uami(rg, "ab") + idAPI, body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceName", absent: uami(rg, "ab") + idAPI, absentCode: "ResourceNotFound"},

		// api-version.
		{name: "missing api-version", method: "PUT", path: rgPath("apiv-rg"), body: `{"location":"eastus"}`, status: 400, code: "MissingApiVersionParameter", absent: rgPath("apiv-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "empty api-version", method: "PUT", path: rgPath("apiv-rg") + "?api-version=", body: `{"location":"eastus"}`, status: 400, code: "MissingApiVersionParameter", absent: rgPath("apiv-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "malformed api-version", method: "PUT", path: rgPath("apiv-rg") + "?api-version=abc", body: `{"location":"eastus"}`, status: 400, code: "InvalidApiVersionParameter", absent: rgPath("apiv-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "impossible date api-version", method: "GET", path: rgPath(rg) + "?api-version=2025-13-01", status: 400, code: "InvalidApiVersionParameter"},
		{name: "unknown api-version for groups", method: "PUT", path: rgPath("apiv-rg") + "?api-version=2099-01-01", body: `{"location":"eastus"}`, status: 400, code: "InvalidApiVersionParameter", absent: rgPath("apiv-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "malformed api-version for vaults", method: "PUT", path: vault(rg, "apiv-kv") + "?api-version=7.4", body: vaultBody(okProps), status: 400, code: "InvalidApiVersionParameter", absent: vault(rg, "apiv-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "unknown api-version for vaults", method: "PUT", path: vault(rg, "apiv-kv") + "?api-version=2099-01-01", body: vaultBody(okProps), status: 400, code: "NoRegisteredProviderFound", absent: vault(rg, "apiv-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "Key Vault api-version for VMs", method: "PUT", path: vm(rg, "apiv-vm") + "?api-version=2015-06-01", body: vmBody(`{"type":"SystemAssigned"}`), status: 400, code: "NoRegisteredProviderFound", absent: vm(rg, "apiv-vm") + vmAPI, absentCode: "ResourceNotFound"},

		// Malformed bodies and wrong JSON types.
		{name: "empty body", method: "PUT", path: rgPath("body-rg") + rgAPI, status: 400, code: "InvalidRequestContent", absent: rgPath("body-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "truncated JSON", method: "PUT", path: rgPath("body-rg") + rgAPI, body: `{"location":`, status: 400, code: "InvalidRequestContent", absent: rgPath("body-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "not JSON", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: `location=eastus`, status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "trailing garbage", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: vaultBody(okProps) + `}`, status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "JSON array body", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: `[]`, status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "JSON null body", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: `null`, status: 400, code: "BadRequest", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "location is a number", method: "PUT", path: rgPath("body-rg") + rgAPI, body: `{"location":5}`, status: 400, code: "InvalidRequestContent", absent: rgPath("body-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "tags is a list", method: "PUT", path: rgPath("body-rg") + rgAPI, body: `{"location":"eastus","tags":["a"]}`, status: 400, code: "InvalidRequestContent", absent: rgPath("body-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "tenantId is a number", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: vaultBody(`"tenantId":5,"sku":{"family":"A","name":"standard"}`), status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "retention is a string", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: vaultBody(okProps + `,"softDeleteRetentionInDays":"90"`), status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "purge protection is a string", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: vaultBody(okProps + `,"enablePurgeProtection":"yes"`), status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "accessPolicies is an object", method: "PUT", path: vault(rg, "body-kv") + kvAPI, body: vaultBody(`"tenantId":"` + tenant + `","sku":{"family":"A","name":"standard"},"accessPolicies":{}`), status: 400, code: "InvalidRequestContent", absent: vault(rg, "body-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "identity is a string", method: "PUT", path: vm(rg, "body-vm") + vmAPI, body: vmBody(`"SystemAssigned"`), status: 400, code: "InvalidRequestContent", absent: vm(rg, "body-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "malformed access-policy body", method: "PUT", path: vault(rg, "bad-kv-ok") + "/accessPolicies/add" + kvAPI, body: `{"properties":`, status: 400, code: "InvalidRequestContent", unchanged: vault(rg, "bad-kv-ok") + kvAPI},
		{name: "body too large", method: "PUT", path: rgPath("body-rg") + rgAPI, body: `{"location":"eastus","tags":{"t":"` + strings.Repeat("x", 2<<20) + `"}}`, status: 413, code: "RequestEntityTooLarge", absent: rgPath("body-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},

		// Missing or invalid properties.
		{name: "group without location", method: "PUT", path: rgPath("body-rg") + rgAPI, body: `{}`, status: 400, code: "LocationRequired", absent: rgPath("body-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "vault without properties", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: `{"location":"eastus"}`, status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault without tenantId", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"sku":{"family":"A","name":"standard"}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault without sku", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"tenantId":"` + tenant + `"`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault without location", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: `{"properties":{` + okProps + `}}`, status: 400, code: "LocationRequired", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault sku name gold", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"tenantId":"` + tenant + `","sku":{"family":"A","name":"gold"}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault sku family B", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"tenantId":"` + tenant + `","sku":{"family":"B","name":"standard"}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault sku without name", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"tenantId":"` + tenant + `","sku":{"family":"A"}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "vault of another tenant", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"tenantId":"` + uuid.NewString() + `","sku":{"family":"A","name":"standard"}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "tenantId not a GUID", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(`"tenantId":"contoso","sku":{"family":"A","name":"standard"}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "unknown createMode", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: vaultBody(okProps + `,"createMode":"clone"`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "unknown secret permission", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: withPolicy(entry(`{"secrets":["get","fly"]}`)), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "unknown key permission", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: withPolicy(entry(`{"keys":["fly"]}`)), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "unknown certificate permission", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: withPolicy(entry(`{"certificates":["fly"]}`)), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "access policy without objectId", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: withPolicy(`{"tenantId":"` + tenant + `","permissions":{"secrets":["get"]}}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "access policy tenantId not a GUID", method: "PUT", path: vault(rg, "prop-kv") + kvAPI, body: withPolicy(`{"tenantId":"contoso","objectId":"` + noRole.ObjectID + `","permissions":{"secrets":["get"]}}`), status: 400, code: "BadRequest", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "access policy update with unknown permission", method: "PUT", path: vault(rg, "bad-kv-ok") + "/accessPolicies/add" + kvAPI, body: policyBody(entry(`{"secrets":["fly"]}`)), status: 400, code: "BadRequest", unchanged: vault(rg, "bad-kv-ok") + kvAPI},
		{name: "access policy update of unknown kind", method: "PUT", path: vault(rg, "bad-kv-ok") + "/accessPolicies/merge" + kvAPI, body: policyBody(entry(`{"secrets":["get"]}`)), status: 400, code: "BadRequest", unchanged: vault(rg, "bad-kv-ok") + kvAPI},
		{name: "access policy update without properties", method: "PUT", path: vault(rg, "bad-kv-ok") + "/accessPolicies/add" + kvAPI, body: `{}`, status: 400, code: "BadRequest", unchanged: vault(rg, "bad-kv-ok") + kvAPI},
		{name: "vault PATCH of a missing vault", method: "PATCH", path: vault(rg, "prop-kv") + kvAPI, body: `{"properties":{"enablePurgeProtection":true}}`, status: 404, code: "ResourceNotFound", absent: vault(rg, "prop-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "existing vault moved to another location", method: "PUT", path: vault(rg, "bad-kv-ok") + kvAPI, body: `{"location":"westus","properties":{` + okProps + `}}`, status: 409, code: "InvalidResourceLocation", unchanged: vault(rg, "bad-kv-ok") + kvAPI},

		// Identities.
		{name: "bad identity type", method: "PUT", path: vm(rg, "id-vm") + vmAPI, body: vmBody(`{"type":"Magic"}`), status: 400, code: "InvalidIdentityType", absent: vm(rg, "id-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "UserAssigned without identities", method: "PUT", path: vm(rg, "id-vm") + vmAPI, body: vmBody(`{"type":"UserAssigned"}`), status: 400, code: "InvalidIdentityValues", absent: vm(rg, "id-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "SystemAssigned with user identities", method: "PUT", path: vm(rg, "id-vm") + vmAPI, body: vmBody(`{"type":"SystemAssigned","userAssignedIdentities":{"` + okUAMI + `":{}}}`), status: 400, code: "InvalidIdentityValues", absent: vm(rg, "id-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "unknown user-assigned identity", method: "PUT", path: vm(rg, "id-vm") + vmAPI, body: vmBody(`{"type":"UserAssigned","userAssignedIdentities":{"` + missingUAMI + `":{}}}`), status: 400, code: "FailedIdentityOperation", absent: vm(rg, "id-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "malformed user-assigned identity id", method: "PUT", path: vm(rg, "id-vm") + vmAPI, body: vmBody(`{"type":"UserAssigned","userAssignedIdentities":{"not-an-id":{}}}`), status: 400, code: "InvalidIdentityValues", absent: vm(rg, "id-vm") + vmAPI, absentCode: "ResourceNotFound"},
		{name: "user-assigned identity value is a string", method: "PUT", path: vm(rg, "id-vm") + vmAPI, body: vmBody(`{"type":"UserAssigned","userAssignedIdentities":{"` + okUAMI + `":"yes"}}`), status: 400, code: "InvalidRequestContent", absent: vm(rg, "id-vm") + vmAPI, absentCode: "ResourceNotFound"},

		// Unknown parents.
		{name: "vault in an unknown group", method: "PUT", path: vault("nope-rg", "prop-kv") + kvAPI, body: vaultBody(okProps), status: 404, code: "ResourceGroupNotFound", absent: rgPath("nope-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "VM in an unknown group", method: "PUT", path: vm("nope-rg", "vm1") + vmAPI, body: vmBody(`{"type":"SystemAssigned"}`), status: 404, code: "ResourceGroupNotFound", absent: rgPath("nope-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "identity in an unknown group", method: "PUT", path: uami("nope-rg", "id1") + idAPI, body: `{"location":"eastus"}`, status: 404, code: "ResourceGroupNotFound", absent: rgPath("nope-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "vault list of an unknown group", method: "GET", path: subsPath + sub + "/resourceGroups/nope-rg/providers/Microsoft.KeyVault/vaults" + kvAPI, status: 404, code: "ResourceGroupNotFound"},
		{name: "delete an unknown group", method: "DELETE", path: rgPath("nope-rg") + rgAPI, status: 404, code: "ResourceGroupNotFound", absent: rgPath("nope-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "unknown subscription", method: "PUT", path: subsPath + uuid.NewString() + "/resourcegroups/sub-rg" + rgAPI, body: `{"location":"eastus"}`, status: 404, code: "SubscriptionNotFound", absent: rgPath("sub-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "role assignment in an unknown subscription", method: "PUT", path: subsPath + uuid.NewString() + "/providers/Microsoft.Authorization/roleAssignments/" + raName + raAPI, body: raBody(kvSecretsUserRoleID, noRole.ObjectID), status: 404, code: "SubscriptionNotFound", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},
		{name: "role assignment in an unknown group", method: "PUT", path: rgPath("nope-rg") + "/providers/Microsoft.Authorization/roleAssignments/" + raName + raAPI, body: raBody(kvSecretsUserRoleID, noRole.ObjectID), status: 404, code: "ResourceGroupNotFound", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},
		{name: "unknown resource type", method: "GET", path: subsPath + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Storage/storageAccounts/x" + "?api-version=2023-01-01", status: 404, code: "InvalidResourceType"},

		// Role assignments.
		{name: "role assignment name not a GUID", method: "PUT", path: "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/not-a-guid" + raAPI, body: raBody(kvSecretsUserRoleID, noRole.ObjectID), status: 400, code: "InvalidRoleAssignmentId"},
		{name: "unknown role definition", method: "PUT", path: raPath + raAPI, body: raBody(uuid.NewString(), noRole.ObjectID), status: 400, code: "RoleDefinitionDoesNotExist", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},
		{name: "unknown principal", method: "PUT", path: raPath + raAPI, body: raBody(kvSecretsUserRoleID, uuid.NewString()), status: 400, code: "PrincipalNotFound", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},
		{name: "role assignment without principal", method: "PUT", path: raPath + raAPI, body: `{"properties":{"roleDefinitionId":"` + kvSecretsUserRoleID + `"}}`, status: 400, code: "PrincipalNotFound", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},

		// Authentication and authorization.
		{name: "no token", method: "PUT", path: rgPath("auth-rg") + rgAPI, token: "-", body: `{"location":"eastus"}`, status: 401, code: "AuthenticationFailed", absent: rgPath("auth-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "garbage token", method: "PUT", path: rgPath("auth-rg") + rgAPI, token: "abc.def.ghi", body: `{"location":"eastus"}`, status: 401, code: "InvalidAuthenticationToken", absent: rgPath("auth-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "Key Vault token", method: "PUT", path: rgPath("auth-rg") + rgAPI, token: vaultTok, body: `{"location":"eastus"}`, status: 401, code: "InvalidAuthenticationTokenAudience", absent: rgPath("auth-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "no token, no api-version", method: "GET", path: rgPath(rg), token: "-", status: 401, code: "AuthenticationFailed"},
		{name: "no role: create group", method: "PUT", path: rgPath("auth-rg") + rgAPI, token: noRoleTok, body: `{"location":"eastus"}`, status: 403, code: "AuthorizationFailed", absent: rgPath("auth-rg") + rgAPI, absentCode: "ResourceGroupNotFound"},
		{name: "no role: read group", method: "GET", path: rgPath(rg) + rgAPI, token: noRoleTok, status: 403, code: "AuthorizationFailed"},
		{name: "no role: list groups", method: "GET", path: subsPath + sub + "/resourcegroups" + rgAPI, token: noRoleTok, status: 403, code: "AuthorizationFailed"},
		{name: "no role: read vault", method: "GET", path: vault(rg, "bad-kv-ok") + kvAPI, token: noRoleTok, status: 403, code: "AuthorizationFailed"},
		{name: "no role: create vault", method: "PUT", path: vault(rg, "auth-kv") + kvAPI, token: noRoleTok, body: vaultBody(okProps), status: 403, code: "AuthorizationFailed", absent: vault(rg, "auth-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "no role: grant itself a policy", method: "PUT", path: vault(rg, "bad-kv-ok") + "/accessPolicies/add" + kvAPI, token: noRoleTok, body: policyBody(entry(`{"secrets":["all"]}`)), status: 403, code: "AuthorizationFailed", unchanged: vault(rg, "bad-kv-ok") + kvAPI},
		{name: "no role: grant itself Owner", method: "PUT", path: raPath + raAPI, token: noRoleTok, body: raBody("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", noRole.ObjectID), status: 403, code: "AuthorizationFailed", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},
		{name: "no role: delete group", method: "DELETE", path: rgPath(rg) + rgAPI, token: noRoleTok, status: 403, code: "AuthorizationFailed", unchanged: rgPath(rg) + rgAPI},
		{name: "no role: machine credential", method: "POST", path: vm(rg, "auth-vm") + "/cofferCredentials" + vmAPI, token: noRoleTok, status: 403, code: "AuthorizationFailed"},
		{name: "no role: check name", method: "POST", path: subsPath + sub + "/providers/Microsoft.KeyVault/checkNameAvailability" + kvAPI, token: noRoleTok, body: `{"name":"bad-kv-ok","type":"Microsoft.KeyVault/vaults"}`, status: 403, code: "AuthorizationFailed"},
		{name: "reader: create vault", method: "PUT", path: vault(rg, "auth-kv") + kvAPI, token: readerTok, body: vaultBody(okProps), status: 403, code: "AuthorizationFailed", absent: vault(rg, "auth-kv") + kvAPI, absentCode: "ResourceNotFound"},
		{name: "reader: outside its scope", method: "GET", path: subsPath + sub + "/resourcegroups" + rgAPI, token: readerTok, status: 403, code: "AuthorizationFailed"},
		{name: "contributor: grant itself Owner", method: "PUT", path: raPath + raAPI, token: contributorTok, body: raBody("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", contributor.ObjectID), status: 403, code: "AuthorizationFailed", absent: raPath + raAPI, absentCode: "RoleAssignmentNotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token
			switch tok {
			case "":
				tok = admin
			case "-":
				tok = ""
			}
			var before []byte
			if c.unchanged != "" {
				r := armRaw(t, env, http.MethodGet, c.unchanged, admin, nil)
				if r.Status != http.StatusOK {
					t.Fatalf("GET %s before: %d %s", c.unchanged, r.Status, r.Body)
				}
				before = r.Body
			}
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			r := armRaw(t, env, c.method, c.path, tok, body)
			if r.Status >= 500 {
				t.Fatalf("%s %s = %d %s", c.method, c.path, r.Status, r.Body)
			}
			r.wantARMError(t, c.method+" "+c.path, c.status, c.code)
			if r.Header.Get("x-ms-request-id") == "" || r.Header.Get("x-ms-correlation-request-id") == "" {
				t.Errorf("missing request id headers: %v", r.Header)
			}
			if c.status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
			if c.absent != "" {
				armRaw(t, env, http.MethodGet, c.absent, admin, nil).wantARMError(t, "GET "+c.absent+" afterwards", http.StatusNotFound, c.absentCode)
			}
			if c.unchanged != "" {
				r := armRaw(t, env, http.MethodGet, c.unchanged, admin, nil)
				if r.Status != http.StatusOK || !bytes.Equal(r.Body, before) {
					t.Errorf("%s changed:\nbefore %s\nafter  %s", c.unchanged, before, r.Body)
				}
			}
		})
	}
	// Nothing in the table created a role assignment, at any scope.
	all, err := env.Store.ListRoleAssignments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if strings.EqualFold(a.Name, raName) || strings.EqualFold(a.PrincipalID, noRole.ObjectID) {
			t.Errorf("role assignment %s at %s for %s was stored", a.Name, a.Scope, a.PrincipalID)
		}
	}
	// The reader does see what its role covers: the table's 403s are not
	// blanket refusals.
	if r := armRaw(t, env, http.MethodGet, vault(rg, "bad-kv-ok")+kvAPI, readerTok, nil); r.Status != http.StatusOK {
		t.Errorf("reader GET vault = %d %s", r.Status, r.Body)
	}
	if r := armRaw(t, env, http.MethodPut, rgPath("contrib-rg")+rgAPI, contributorTok, []byte(`{"location":"eastus"}`)); r.Status != http.StatusCreated {
		t.Errorf("contributor PUT group = %d %s", r.Status, r.Body)
	}
}
