package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// The control-plane requests the Azure CLI and SDKs send beyond the
// resource CRUD: generic resource listings (how az finds a vault's group),
// providers, role definitions, managed HSMs, subscriptions and tenants.

// genericEstate is two groups holding two vaults, a VM with a
// system-assigned identity and a user-assigned identity.
type genericEstate struct {
	k          *armSDK
	vmIdentity string // the VM's system-assigned principal id
}

func newGenericEstate(t *testing.T, env *testenv.Env) genericEstate {
	t.Helper()
	ctx := context.Background()
	k := newARMSDK(t, env)
	k.createGroup(t, "gen-a")
	k.createGroup(t, "gen-b")
	p := k.vaultParams()
	p.Tags = map[string]*string{"env": to.Ptr("Prod"), "department": to.Ptr("it")}
	if _, err := k.putVault("gen-a", "kv-demo", p); err != nil {
		t.Fatal(err)
	}
	p = k.vaultParams()
	p.Tags = map[string]*string{"env": to.Ptr("dev")}
	p.Location = to.Ptr("westeurope")
	if _, err := k.putVault("gen-b", "kv-other", p); err != nil {
		t.Fatal(err)
	}
	poller, err := k.vms.BeginCreateOrUpdate(ctx, "gen-a", "vm1", armcompute.VirtualMachine{Location: to.Ptr(armLocation),
		Identity: &armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityTypeSystemAssigned)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := poller.PollUntilDone(ctx, armPoll)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ids.CreateOrUpdate(ctx, "gen-b", "demo-id", armmsi.Identity{Location: to.Ptr(armLocation)}, nil); err != nil {
		t.Fatal(err)
	}
	return genericEstate{k: k, vmIdentity: *vm.Identity.PrincipalID}
}

// listNames GETs a listing and returns its items' names (sorted) and items.
func listNames(t *testing.T, env *testenv.Env, tok, path string) ([]string, []map[string]any) {
	t.Helper()
	r := armRaw(t, env, http.MethodGet, path, tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var page struct {
		Value    []map[string]any `json:"value"`
		NextLink string           `json:"nextLink"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil || page.Value == nil {
		t.Fatalf("GET %s: body %s is not a page (%v)", path, r.Body, err)
	}
	if page.NextLink != "" {
		t.Fatalf("GET %s: unexpected nextLink %s", path, page.NextLink)
	}
	var names []string
	for _, v := range page.Value {
		names = append(names, v["name"].(string))
	}
	sort.Strings(names)
	return names, page.Value
}

func q(filter string) string { return url.QueryEscape(filter) }

func TestARMGenericResources(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	e := newGenericEstate(t, env)
	sub := env.Instance.SubscriptionID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	subList := "/subscriptions/" + sub + "/resources?api-version=2015-11-01"
	rgList := func(rg string) string {
		return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/resources?api-version=2021-04-01"
	}

	// What az keyvault show/set-policy without -g send to find the group.
	names, items := listNames(t, env, admin, subList+"&$filter="+q("resourceType eq 'Microsoft.KeyVault/vaults'"))
	if !slices.Contains(names, "kv-demo") || !slices.Contains(names, "kv-other") || slices.Contains(names, "vm1") {
		t.Errorf("vaults in the subscription = %v", names)
	}
	for _, it := range items {
		if it["name"] != "kv-demo" {
			continue
		}
		wantID := "/subscriptions/" + sub + "/resourceGroups/gen-a/providers/Microsoft.KeyVault/vaults/kv-demo"
		if it["id"] != wantID || it["type"] != "Microsoft.KeyVault/vaults" || it["location"] != armLocation {
			t.Errorf("vault item = %v", it)
		}
		if tags, _ := it["tags"].(map[string]any); tags["env"] != "Prod" {
			t.Errorf("vault item tags = %v", it["tags"])
		}
		for k := range it {
			if !slices.Contains([]string{"id", "name", "type", "location", "tags"}, k) {
				t.Errorf("vault item has member %q, which ARM's GenericResource listing does not show", k)
			}
		}
	}

	// The group listing: exactly the group's resources; the VM carries its identity.
	names, items = listNames(t, env, admin, rgList("gen-a"))
	if !slices.Equal(names, []string{"kv-demo", "vm1"}) {
		t.Errorf("resources in gen-a = %v", names)
	}
	for _, it := range items {
		if it["name"] == "vm1" {
			id, _ := it["identity"].(map[string]any)
			if id["type"] != "SystemAssigned" || id["principalId"] != e.vmIdentity {
				t.Errorf("VM item identity = %v", it["identity"])
			}
		}
	}

	// The $filter forms ARM documents, through the group listing so the
	// default vault stays out of the way.
	for _, tc := range []struct {
		rg, filter string
		want       []string
	}{
		{"gen-b", "resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'", []string{"demo-id"}},
		{"gen-a", "name eq 'VM1'", []string{"vm1"}},
		{"gen-a", "substringof('demo', name)", []string{"kv-demo"}},
		{"gen-b", "substringof('DEMO', name) or resourceType eq 'Microsoft.KeyVault/vaults'", []string{"demo-id", "kv-other"}},
		{"gen-b", "location eq 'West Europe'", []string{"kv-other"}},
		{"gen-a", "resourceGroup eq 'gen-a' and name eq 'vm1' and resourceType eq 'Microsoft.Compute/virtualMachines'", []string{"vm1"}},
		{"gen-a", "identity/principalId eq '" + e.vmIdentity + "'", []string{"vm1"}},
		{"gen-a", "resourceType ne 'Microsoft.KeyVault/vaults'", []string{"vm1"}},
	} {
		got, _ := listNames(t, env, admin, rgList(tc.rg)+"&$filter="+q(tc.filter))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s $filter=%s: %v, want %v", tc.rg, tc.filter, got, tc.want)
		}
	}
	// Tag filters stand alone, and ARM leaves the tags out of their results.
	got, items := listNames(t, env, admin, subList+"&$filter="+q("tagName eq 'env' and tagValue eq 'Prod'"))
	if !slices.Equal(got, []string{"kv-demo"}) {
		t.Errorf("tag filter: %v", got)
	}
	for _, it := range items {
		if _, ok := it["tags"]; ok {
			t.Errorf("tag-filtered item shows tags: %v", it)
		}
	}
	if got, _ := listNames(t, env, admin, subList+"&$filter="+q("startswith(tagName, 'depart')")); !slices.Equal(got, []string{"kv-demo"}) {
		t.Errorf("startswith(tagName): %v", got)
	}

	// Refused filters: ARM's 400 and code.
	for _, f := range []string{
		"tagName eq 'env' and resourceType eq 'Microsoft.KeyVault/vaults'",
		"plan/publisher eq 'x'",
		"name eq 'unterminated",
		"$filter=resourceType eq 'Microsoft.KeyVault/vaults'",
		"name gt 'a'",
	} {
		r := armRaw(t, env, http.MethodGet, subList+"&$filter="+q(f), admin, nil)
		if msg := r.wantARMError(t, "$filter="+f, http.StatusBadRequest, "InvalidFilterInQueryString"); msg != "Invalid $filter '"+f+"' specified in the query string." {
			t.Errorf("$filter=%s: message %q", f, msg)
		}
	}
	armRaw(t, env, http.MethodGet, subList+"&$top=0", admin, nil).wantARMError(t, "$top=0", http.StatusBadRequest, "InvalidTopInQueryString")
	armRaw(t, env, http.MethodGet, subList+"&$skiptoken=bogus", admin, nil).wantARMError(t, "bad skip token", http.StatusBadRequest, "InvalidSkipToken")
	armRaw(t, env, http.MethodGet, rgList("no-such-group"), admin, nil).wantARMError(t, "missing group", http.StatusNotFound, "ResourceGroupNotFound")
	armRaw(t, env, http.MethodPost, rgList("gen-a"), admin, []byte("{}")).wantARMError(t, "POST", http.StatusMethodNotAllowed, "MethodNotAllowed")

	// $expand adds the times and state; unknown names are tolerated.
	_, items = listNames(t, env, admin, rgList("gen-b")+"&$expand="+q("createdTime,changedTime,provisioningState,unknownThing"))
	for _, it := range items {
		if it["createdTime"] == nil || it["changedTime"] == nil || it["provisioningState"] != "Succeeded" {
			t.Errorf("expanded item = %v", it)
		}
	}

	// Paging with the SDK's own pager: $top=1 pages linked by nextLink.
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, env.Admin.ClientID, env.Admin.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: env.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := armresources.NewClient(sub, cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: env.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	var paged []string
	pages := 0
	for p := rc.NewListByResourceGroupPager("gen-b", &armresources.ClientListByResourceGroupOptions{Top: to.Ptr[int32](1)}); p.More(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(page.Value) > 1 {
			t.Errorf("page of %d items with $top=1", len(page.Value))
		}
		for _, r := range page.Value {
			paged = append(paged, *r.Name)
		}
	}
	sort.Strings(paged)
	if !slices.Equal(paged, []string{"demo-id", "kv-other"}) || pages < 2 {
		t.Errorf("paged listing = %v in %d pages", paged, pages)
	}
	var all []string
	for p := rc.NewListPager(&armresources.ClientListOptions{Filter: to.Ptr("substringof('demo', name)"), Top: to.Ptr[int32](1)}); p.More(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Value {
			all = append(all, *r.Name)
		}
	}
	sort.Strings(all)
	if !slices.Equal(all, []string{"demo-id", "kv-demo"}) {
		t.Errorf("filtered paged listing = %v", all)
	}

	// A principal sees only what its roles let it read: Reader on gen-b.
	sp := newARMPrincipal(t, env, "gen-reader")
	spTok := armTokenFor(t, env, sp.AppID, sp.Secret)
	armRaw(t, env, http.MethodGet, subList, spTok, nil).wantARMError(t, "listing without a role", http.StatusForbidden, "AuthorizationFailed")
	if _, err := e.k.roles.Create(context.Background(), "subscriptions/"+sub+"/resourceGroups/gen-b", uuid.NewString(),
		armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
			PrincipalID:      to.Ptr(sp.ObjectID)}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := listNames(t, env, spTok, subList); !slices.Equal(got, []string{"demo-id", "kv-other"}) {
		t.Errorf("Reader on gen-b sees %v", got)
	}
	armRaw(t, env, http.MethodGet, rgList("gen-a"), spTok, nil).wantARMError(t, "Reader on gen-b lists gen-a", http.StatusForbidden, "AuthorizationFailed")
	// The typed subscription-wide listings filter the same way (az identity
	// list, az keyvault list without -g).
	for path, want := range map[string][]string{
		"/subscriptions/" + sub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2023-01-31": {"demo-id"},
		"/subscriptions/" + sub + "/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01":                        {"kv-other"},
		"/subscriptions/" + sub + "/providers/Microsoft.Compute/virtualMachines?api-version=2024-03-01":                nil,
		"/subscriptions/" + sub + "/providers/Microsoft.KeyVault/managedHSMs?api-version=2023-07-01":                   nil,
	} {
		if got, _ := listNames(t, env, spTok, path); !slices.Equal(got, want) {
			t.Errorf("Reader on gen-b: GET %s = %v, want %v", path, got, want)
		}
	}
	// A data role on one vault is a role under the subscription: the
	// listing answers, with nothing the role lets it read.
	sp2 := newARMPrincipal(t, env, "gen-data")
	if _, err := e.k.roles.Create(context.Background(), "subscriptions/"+sub+"/resourceGroups/gen-a/providers/Microsoft.KeyVault/vaults/kv-demo", uuid.NewString(),
		armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + kvSecretsUserRoleID),
			PrincipalID:      to.Ptr(sp2.ObjectID)}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := listNames(t, env, armTokenFor(t, env, sp2.AppID, sp2.Secret), subList); len(got) != 0 {
		t.Errorf("Key Vault Secrets User sees %v", got)
	}
}

// TestARMGroupListTagFilter: az group list --tag k=v.
func TestARMGroupListTagFilter(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	k := newARMSDK(t, env)
	ctx := context.Background()
	for name, tags := range map[string]map[string]*string{"tag-a": {"team": to.Ptr("pay")}, "tag-b": {"team": to.Ptr("ops")}, "tag-c": nil} {
		if _, err := k.groups.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr(armLocation), Tags: tags}, nil); err != nil {
			t.Fatal(err)
		}
	}
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	base := "/subscriptions/" + env.Instance.SubscriptionID + "/resourcegroups?api-version=2022-09-01&$filter="
	if got, _ := listNames(t, env, admin, base+q("tagName eq 'team' and tagValue eq 'pay'")); !slices.Equal(got, []string{"tag-a"}) {
		t.Errorf("groups tagged team=pay: %v", got)
	}
	if got, _ := listNames(t, env, admin, base+q("tagName eq 'TEAM'")); !slices.Equal(got, []string{"tag-a", "tag-b"}) {
		t.Errorf("groups tagged team: %v", got)
	}
	armRaw(t, env, http.MethodGet, base+q("tagValue eq 'pay'"), admin, nil).wantARMError(t, "tagValue alone", http.StatusBadRequest, "InvalidFilterInQueryString")
}

func TestARMProviders(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	sub := env.Instance.SubscriptionID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	r := armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/providers?api-version=2021-04-01", admin, nil)
	var list struct {
		Value []struct {
			ID                string `json:"id"`
			Namespace         string `json:"namespace"`
			RegistrationState string `json:"registrationState"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil || r.Status != http.StatusOK {
		t.Fatalf("providers: %d %s", r.Status, r.Body)
	}
	var nss []string
	for _, p := range list.Value {
		nss = append(nss, p.Namespace)
		if p.RegistrationState != "Registered" || p.ID != "/subscriptions/"+sub+"/providers/"+p.Namespace {
			t.Errorf("provider %+v", p)
		}
	}
	for _, want := range []string{"Microsoft.KeyVault", "Microsoft.Compute", "Microsoft.ManagedIdentity", "Microsoft.Authorization", "Microsoft.Resources"} {
		if !slices.Contains(nss, want) {
			t.Errorf("providers %v lack %s", nss, want)
		}
	}

	// The SDK's Get, as tools use it to pick api-versions and locations.
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, env.Admin.ClientID, env.Admin.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: env.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := armresources.NewProvidersClient(sub, cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: env.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := pc.Get(context.Background(), "microsoft.keyvault", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *kv.Namespace != "Microsoft.KeyVault" || *kv.RegistrationState != "Registered" {
		t.Errorf("Microsoft.KeyVault = %s %s", *kv.Namespace, *kv.RegistrationState)
	}
	found := false
	for _, rt := range kv.ResourceTypes {
		if *rt.ResourceType != "vaults" {
			continue
		}
		found = true
		var versions, locations []string
		for _, v := range rt.APIVersions {
			versions = append(versions, *v)
		}
		for _, l := range rt.Locations {
			locations = append(locations, *l)
		}
		if !slices.Contains(versions, "2022-07-01") || !slices.Contains(versions, "2023-07-01") || !slices.Contains(locations, "East US") {
			t.Errorf("vaults: versions %v locations %v", versions, locations)
		}
	}
	if !found {
		t.Error("Microsoft.KeyVault has no vaults type")
	}
	armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Nope?api-version=2021-04-01", admin, nil).
		wantARMError(t, "unknown namespace", http.StatusNotFound, "InvalidResourceNamespace")
	if r := armRaw(t, env, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.KeyVault/register?api-version=2021-04-01", admin, nil); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"registrationState":"Registered"`) {
		t.Errorf("register: %d %s", r.Status, r.Body)
	}
	// az account list-locations.
	if names, _ := listNames(t, env, admin, "/subscriptions/"+sub+"/locations?api-version=2022-12-01"); !slices.Contains(names, "eastus") || !slices.Contains(names, "westeurope") {
		t.Errorf("locations = %v", names)
	}
	// Tenant level: no subscription, no registration state.
	r = armRaw(t, env, http.MethodGet, "/providers/Microsoft.ManagedIdentity?api-version=2021-04-01", admin, nil)
	var tp map[string]any
	if err := json.Unmarshal(r.Body, &tp); err != nil || r.Status != http.StatusOK || tp["namespace"] != "Microsoft.ManagedIdentity" || tp["registrationState"] != nil {
		t.Errorf("tenant-level provider: %d %s", r.Status, r.Body)
	}
	// A principal without any role in the subscription is refused.
	sp := newARMPrincipal(t, env, "no-role")
	armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/providers?api-version=2021-04-01", armTokenFor(t, env, sp.AppID, sp.Secret), nil).
		wantARMError(t, "providers without a role", http.StatusForbidden, "AuthorizationFailed")
}

// TestARMManagedHSMsEmpty: az keyvault list/list-deleted also list managed
// HSMs and fail on a 404; Coffer has none.
func TestARMManagedHSMsEmpty(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	k := newARMSDK(t, env)
	k.createGroup(t, "hsm-rg")
	sub := env.Instance.SubscriptionID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	kv := "/subscriptions/" + sub + "/providers/Microsoft.KeyVault/"
	for _, p := range []string{
		kv + "managedHSMs?api-version=2022-07-01",
		kv + "deletedManagedHSMs?api-version=2022-07-01",
		"/subscriptions/" + sub + "/resourceGroups/hsm-rg/providers/Microsoft.KeyVault/managedHSMs?api-version=2023-07-01",
	} {
		if r := armRaw(t, env, http.MethodGet, p, admin, nil); r.Status != http.StatusOK || string(r.Body) != `{"value":[]}` {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/hsm-rg/providers/Microsoft.KeyVault/managedHSMs/h1?api-version=2022-07-01", admin, nil).
		wantARMError(t, "one HSM", http.StatusNotFound, "ResourceNotFound")
	armRaw(t, env, http.MethodGet, kv+"locations/eastus/deletedManagedHSMs/h1?api-version=2022-07-01", admin, nil).
		wantARMError(t, "one deleted HSM", http.StatusNotFound, "ResourceNotFound")
	armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/nope/providers/Microsoft.KeyVault/managedHSMs?api-version=2022-07-01", admin, nil).
		wantARMError(t, "HSMs of a missing group", http.StatusNotFound, "ResourceGroupNotFound")
	sp := newARMPrincipal(t, env, "no-role")
	armRaw(t, env, http.MethodGet, kv+"deletedManagedHSMs?api-version=2022-07-01", armTokenFor(t, env, sp.AppID, sp.Secret), nil).
		wantARMError(t, "deleted HSMs without a role", http.StatusForbidden, "AuthorizationFailed")
}

// TestARMRoleDefinitions: az role assignment create --role NAME resolves
// the name with $filter=roleName eq 'NAME'; az role definition list lists.
func TestARMRoleDefinitions(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	k := newARMSDK(t, env)
	k.createGroup(t, "rd-rg")
	sub := env.Instance.SubscriptionID
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, env.Admin.ClientID, env.Admin.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: env.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := armauthorization.NewRoleDefinitionsClient(cred, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: env.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	list := func(scope, filter string) []*armauthorization.RoleDefinition {
		t.Helper()
		var out []*armauthorization.RoleDefinition
		opts := &armauthorization.RoleDefinitionsClientListOptions{}
		if filter != "" {
			opts.Filter = to.Ptr(filter)
		}
		for p := dc.NewListPager(scope, opts); p.More(); {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatalf("list role definitions at %s (%s): %v", scope, filter, err)
			}
			out = append(out, page.Value...)
		}
		return out
	}
	for _, scope := range []string{"subscriptions/" + sub, "subscriptions/" + sub + "/resourceGroups/rd-rg"} {
		got := list(scope, "roleName eq 'Key Vault Secrets User'")
		if len(got) != 1 {
			t.Fatalf("%s: %d definitions named Key Vault Secrets User", scope, len(got))
		}
		d := got[0]
		if *d.ID != "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleDefinitions/"+kvSecretsUserRoleID ||
			*d.Name != kvSecretsUserRoleID || *d.Properties.RoleType != "BuiltInRole" || *d.Properties.RoleName != "Key Vault Secrets User" ||
			len(d.Properties.Permissions) != 1 || len(d.Properties.Permissions[0].DataActions) == 0 {
			t.Errorf("%s: definition = %+v", scope, d.Properties)
		}
	}
	all := list("subscriptions/"+sub, "")
	var roleNames []string
	for _, d := range all {
		roleNames = append(roleNames, *d.Properties.RoleName)
	}
	if !slices.Contains(roleNames, "Owner") || !slices.Contains(roleNames, "Reader") || !slices.Contains(roleNames, "Key Vault Administrator") {
		t.Errorf("role definitions = %v", roleNames)
	}
	if got := list("subscriptions/"+sub, "type eq 'CustomRole'"); len(got) != 0 {
		t.Errorf("custom roles = %d", len(got))
	}
	one, err := dc.Get(context.Background(), "subscriptions/"+sub, "acdd72a7-3385-48ef-bd42-f606fba81ae7", nil)
	if err != nil || *one.Properties.RoleName != "Reader" {
		t.Errorf("get Reader: %v", err)
	}
	_, err = dc.Get(context.Background(), "subscriptions/"+sub, uuid.NewString(), nil)
	wantARMSDKError(t, "unknown role definition", err, http.StatusNotFound, "RoleDefinitionDoesNotExist")
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter="+q("roleName ne 'x'"), admin, nil).
		wantARMError(t, "unsupported role definition filter", http.StatusBadRequest, "UnsupportedQuery")
}

// TestARMSubscriptionVisibility: a principal sees the subscription only
// with a role at or under it; a VM identity with only an access policy
// sees none (as in Azure, where az login --identity then needs
// --allow-no-subscriptions). Every principal sees its tenant.
func TestARMSubscriptionVisibility(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	k.createGroup(t, "vis-rg")
	sub := env.Instance.SubscriptionID
	subs := func(tok string) []string {
		t.Helper()
		r := armRaw(t, env, http.MethodGet, "/subscriptions?api-version=2022-12-01", tok, nil)
		var body struct {
			Value []struct {
				SubscriptionID string `json:"subscriptionId"`
			} `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != http.StatusOK || body.Value == nil {
			t.Fatalf("GET /subscriptions: %d %s", r.Status, r.Body)
		}
		var ids []string
		for _, s := range body.Value {
			ids = append(ids, s.SubscriptionID)
		}
		return ids
	}
	tenants := func(tok string) string {
		t.Helper()
		r := armRaw(t, env, http.MethodGet, "/tenants?api-version=2022-12-01", tok, nil)
		var body struct {
			Value []struct {
				TenantID string `json:"tenantId"`
			} `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != http.StatusOK || len(body.Value) != 1 {
			t.Fatalf("GET /tenants: %d %s", r.Status, r.Body)
		}
		return body.Value[0].TenantID
	}

	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	if got := subs(admin); !slices.Equal(got, []string{sub}) {
		t.Errorf("admin sees %v", got)
	}

	// A VM identity granted only an access policy on the default vault.
	poller, err := k.vms.BeginCreateOrUpdate(ctx, "vis-rg", "vis-vm", armcompute.VirtualMachine{Location: to.Ptr(armLocation),
		Identity: &armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityTypeSystemAssigned)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := poller.PollUntilDone(ctx, armPoll)
	if err != nil {
		t.Fatal(err)
	}
	grantSecrets(t, env, *vm.Identity.PrincipalID, "get", "list")
	machineCred, _, err := env.Resources.NewCredential(ctx, sub, "vis-rg", "vis-vm")
	if err != nil {
		t.Fatal(err)
	}
	st, vmTok := armMSIToken(t, env, machineCred, "https://management.azure.com/", nil)
	if st != http.StatusOK {
		t.Fatalf("VM ARM token: %d", st)
	}
	if got := subs(vmTok); len(got) != 0 {
		t.Errorf("VM identity with only an access policy sees %v", got)
	}
	if tenants(vmTok) != env.Instance.TenantID {
		t.Error("VM identity does not see its tenant")
	}
	armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"?api-version=2022-12-01", vmTok, nil).
		wantARMError(t, "GET the subscription without a role", http.StatusForbidden, "AuthorizationFailed")

	// A role on a group under the subscription makes it visible.
	if _, err := k.roles.Create(ctx, "subscriptions/"+sub+"/resourceGroups/vis-rg", uuid.NewString(),
		armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
			PrincipalID:      vm.Identity.PrincipalID}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := subs(vmTok); !slices.Equal(got, []string{sub}) {
		t.Errorf("VM identity with Reader on a group sees %v", got)
	}
	if r := armRaw(t, env, http.MethodGet, "/subscriptions/"+sub+"?api-version=2022-12-01", vmTok, nil); r.Status != http.StatusOK {
		t.Errorf("GET the subscription with a role: %d %s", r.Status, r.Body)
	}
}

// TestARMRoleAssignmentPrincipalType: ARM always returns principalType,
// deriving it when the creator did not send it.
func TestARMRoleAssignmentPrincipalType(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	k := newARMSDK(t, env)
	k.createGroup(t, "pt-rg")
	sub := env.Instance.SubscriptionID
	u, err := k.ids.CreateOrUpdate(ctx, "pt-rg", "pt-id", armmsi.Identity{Location: to.Ptr(armLocation)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp := newARMPrincipal(t, env, "pt-sp")
	scope := "/subscriptions/" + sub + "/resourceGroups/pt-rg"
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	put := func(principal, ptype string) *rawResp {
		props := map[string]string{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + kvSecretsUserRoleID,
			"principalId": principal}
		if ptype != "" {
			props["principalType"] = ptype
		}
		return armRaw(t, env, http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
			admin, jsonBody(t, map[string]any{"properties": props}))
	}
	for _, tc := range []struct{ what, principal, sent, want string }{
		{"service principal, no type sent", sp.ObjectID, "", "ServicePrincipal"},
		{"managed identity, no type sent", *u.Properties.PrincipalID, "", "ServicePrincipal"},
	} {
		r := put(tc.principal, tc.sent)
		var ra struct {
			Properties struct {
				PrincipalType string `json:"principalType"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(r.Body, &ra); err != nil || r.Status != http.StatusCreated || ra.Properties.PrincipalType != tc.want {
			t.Errorf("%s: %d %s", tc.what, r.Status, r.Body)
		}
	}
	put(sp.ObjectID, "Robot").wantARMError(t, "unknown principalType", http.StatusBadRequest, "InvalidPrincipalType")
	r := armRaw(t, env, http.MethodGet, scope+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", admin, nil)
	var list struct {
		Value []struct {
			Properties struct {
				PrincipalType string `json:"principalType"`
			} `json:"properties"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Value) < 2 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	for _, a := range list.Value {
		if a.Properties.PrincipalType == "" {
			t.Errorf("listed assignment without principalType: %s", r.Body)
		}
	}
}

// TestARMSubscriptionShape: the subscription carries what ARM always sends,
// managedByTenants included (an empty list, never absent: clients print
// a missing one as null).
func TestARMSubscriptionShape(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	sub := env.Instance.SubscriptionID
	admin := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	for _, path := range []string{"/subscriptions/" + sub, "/subscriptions"} {
		r := armRaw(t, env, http.MethodGet, path+"?api-version=2022-12-01", admin, nil)
		var one map[string]any
		var list struct{ Value []map[string]any }
		if path == "/subscriptions" {
			if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Value) != 1 {
				t.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
			}
			one = list.Value[0]
		} else if err := json.Unmarshal(r.Body, &one); err != nil {
			t.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
		}
		if m, ok := one["managedByTenants"].([]any); !ok || len(m) != 0 {
			t.Errorf("GET %s: managedByTenants = %#v, want []", path, one["managedByTenants"])
		}
		if one["subscriptionId"] != sub || one["state"] != "Enabled" {
			t.Errorf("GET %s = %s", path, r.Body)
		}
	}
}
