package arm

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/wire"
)

// regions are the locations the providers advertise for regional types.
// Coffer accepts any location; this is the list tools show and validate
// against (display names, as ARM returns them).
var regions = []string{
	"East US", "East US 2", "West US", "West US 2", "West US 3", "Central US", "North Central US", "South Central US",
	"West Central US", "Canada Central", "Canada East", "Brazil South", "North Europe", "West Europe", "UK South",
	"UK West", "France Central", "Germany West Central", "Switzerland North", "Norway East", "Sweden Central",
	"East Asia", "Southeast Asia", "Japan East", "Japan West", "Korea Central", "Australia East", "Australia Southeast",
	"Central India", "South India", "South Africa North", "UAE North",
}

var managedHSMsAPI = []string{"2025-05-01", "2024-11-01", "2023-07-01", "2023-02-01", "2022-07-01", "2021-10-01", "2021-06-01-preview", "2020-04-01-preview"}

// providerType describes one resource type; global types have no locations.
type providerType struct {
	name     string
	global   bool
	versions []string
	caps     string
}

// providerCatalog is what Coffer serves, per namespace (ARM's casing).
var providerCatalog = []struct {
	namespace string
	types     []providerType
}{
	{"Microsoft.Authorization", []providerType{
		{name: "roleAssignments", global: true, versions: roleAssignmentsAPI.versions},
		{name: "roleDefinitions", global: true, versions: roleAssignmentsAPI.versions},
	}},
	{"Microsoft.Compute", []providerType{
		{name: "virtualMachines", versions: vmsAPI.versions, caps: "CrossResourceGroupResourceMove, CrossSubscriptionResourceMove, SystemAssignedResourceIdentity"},
	}},
	{"Microsoft.KeyVault", []providerType{
		{name: "vaults", versions: vaultsAPI.versions, caps: "CrossResourceGroupResourceMove, CrossSubscriptionResourceMove, SupportsTags, SupportsLocation"},
		{name: "vaults/accessPolicies", versions: vaultsAPI.versions},
		{name: "deletedVaults", global: true, versions: vaultsAPI.versions},
		{name: "locations/deletedVaults", versions: vaultsAPI.versions},
		{name: "checkNameAvailability", global: true, versions: vaultsAPI.versions},
		{name: "managedHSMs", versions: managedHSMsAPI, caps: "SupportsTags, SupportsLocation"},
		{name: "deletedManagedHSMs", global: true, versions: managedHSMsAPI},
		{name: "locations/deletedManagedHSMs", versions: managedHSMsAPI},
	}},
	{"Microsoft.ManagedIdentity", []providerType{
		{name: "userAssignedIdentities", versions: identitiesAPI.versions, caps: "CrossResourceGroupResourceMove, CrossSubscriptionResourceMove, SupportsTags, SupportsLocation"},
	}},
	{"Microsoft.Resources", []providerType{
		{name: "subscriptions", global: true, versions: resourcesAPI.versions},
		{name: "resourceGroups", global: true, versions: resourcesAPI.versions},
		{name: "resources", global: true, versions: resourcesAPI.versions},
		{name: "providers", global: true, versions: resourcesAPI.versions},
		{name: "tenants", global: true, versions: resourcesAPI.versions},
		{name: "subscriptions/operationresults", global: true, versions: resourcesAPI.versions},
	}},
}

// providerWire renders a namespace; sub is "" at tenant level, where ARM
// names the provider without an id prefix or registration state.
func providerWire(i int, sub string) wire.Provider {
	p := providerCatalog[i]
	out := wire.Provider{Namespace: p.namespace, ResourceTypes: []wire.ProviderResourceType{}}
	if sub != "" {
		out.ID = "/subscriptions/" + sub + "/providers/" + p.namespace
		out.RegistrationState, out.RegistrationPolicy = "Registered", "RegistrationRequired"
	}
	for _, t := range p.types {
		rt := wire.ProviderResourceType{ResourceType: t.name, Locations: []string{}, APIVersions: t.versions, Capabilities: t.caps}
		if !t.global {
			rt.Locations = regions
		}
		out.ResourceTypes = append(out.ResourceTypes, rt)
	}
	return out
}

func findProvider(ns string) int {
	for i, p := range providerCatalog {
		if strings.EqualFold(p.namespace, ns) {
			return i
		}
	}
	return -1
}

// providers answers GET …/providers, GET …/providers/{ns} and
// POST …/providers/{ns}/register (a no-op: every namespace is registered)
// at subscription level (sub set) or tenant level (sub "").
func (h *Handler) providers(c *call, sub string, rest []string) error {
	if sub != "" {
		if err := h.requireSubscriptionVisible(c, sub); err != nil {
			return err
		}
	}
	switch {
	case len(rest) == 0:
		if c.r.Method != http.MethodGet {
			return methodNotAllowed(c)
		}
		out := wire.Page[wire.Provider]{Value: []wire.Provider{}}
		for i := range providerCatalog {
			out.Value = append(out.Value, providerWire(i, sub))
		}
		httpx.WriteJSON(c.w, http.StatusOK, out)
		return nil
	case len(rest) == 1 || (len(rest) == 2 && eq(rest[1], "register") && sub != ""):
		i := findProvider(rest[0])
		if i < 0 {
			return armErr(errs.NotExist, "InvalidResourceNamespace", "The resource namespace '"+rest[0]+"' is invalid.")
		}
		want := http.MethodGet
		if len(rest) == 2 {
			want = http.MethodPost
		}
		if c.r.Method != want {
			return methodNotAllowed(c)
		}
		httpx.WriteJSON(c.w, http.StatusOK, providerWire(i, sub))
		return nil
	}
	return notFound(c)
}

// listLocations answers GET /subscriptions/{sub}/locations (az account
// list-locations) with the regions the providers advertise.
func (h *Handler) listLocations(c *call, sub string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.requireSubscriptionVisible(c, sub); err != nil {
		return err
	}
	out := wire.Page[map[string]any]{Value: []map[string]any{}}
	for _, r := range regions {
		name := normLocation(r)
		out.Value = append(out.Value, map[string]any{
			"id": "/subscriptions/" + sub + "/locations/" + name, "name": name, "displayName": r, "regionalDisplayName": r,
			"type": "Region", "metadata": map[string]any{"regionType": "Physical", "regionCategory": "Recommended"},
		})
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}
