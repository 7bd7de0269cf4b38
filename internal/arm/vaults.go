package arm

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/vaults"
	"github.com/coffer-dev/coffer/internal/wire"
)

// vaultURI is the data-plane URL of a vault under the profile, with the
// port the caller used when it is not 443 (so links work on a dev port).
func (h *Handler) vaultURI(c *call, name string) string {
	port := ""
	if i := strings.LastIndex(c.host, ":"); i >= 0 && !strings.HasSuffix(c.host, "]") {
		port = c.host[i:]
	}
	return "https://" + strings.ToLower(name) + "." + h.Profile.VaultSuffix + port + "/"
}

func toWirePolicies(aps []model.AccessPolicy) []wire.AccessPolicyEntry {
	out := []wire.AccessPolicyEntry{}
	for _, ap := range aps {
		out = append(out, wire.AccessPolicyEntry{TenantID: ap.TenantID, ObjectID: ap.ObjectID, ApplicationID: ap.ApplicationID,
			Permissions: wire.Permissions{Keys: ap.Permissions.Keys, Secrets: ap.Permissions.Secrets, Certificates: ap.Permissions.Certificates, Storage: ap.Permissions.Storage}})
	}
	return out
}

func fromWirePolicies(in []wire.AccessPolicyEntry) []model.AccessPolicy {
	if in == nil {
		return nil
	}
	out := []model.AccessPolicy{}
	for _, ap := range in {
		out = append(out, model.AccessPolicy{TenantID: ap.TenantID, ObjectID: ap.ObjectID, ApplicationID: ap.ApplicationID,
			Permissions: model.Permissions{Keys: ap.Permissions.Keys, Secrets: ap.Permissions.Secrets, Certificates: ap.Permissions.Certificates, Storage: ap.Permissions.Storage}})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func (h *Handler) vaultWire(c *call, v *model.Vault) wire.Vault {
	out := wire.Vault{ID: v.ResourceID(), Name: v.Name, Type: "Microsoft.KeyVault/vaults", Location: v.Location, Tags: v.Tags,
		SystemData: systemData(v.CreatedBy, v.Created, v.UpdatedBy, v.Updated)}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	out.Properties = wire.VaultProperties{
		TenantID: v.TenantID, Sku: &wire.Sku{Family: "A", Name: v.SKU}, AccessPolicies: toWirePolicies(v.AccessPolicies),
		VaultURI:             h.vaultURI(c, v.Name),
		EnabledForDeployment: ptr(false), EnabledForDiskEncryption: ptr(false), EnabledForTemplateDeployment: ptr(false),
		EnableSoftDelete: ptr(v.EnableSoftDelete), SoftDeleteRetentionInDays: ptr(v.SoftDeleteRetentionInDays),
		EnableRbacAuthorization: ptr(v.EnableRbacAuthorization), PublicNetworkAccess: cmp.Or(v.PublicNetworkAccess, "Enabled"), ProvisioningState: "Succeeded",
		NetworkAcls: toWireNetwork(v.NetworkACLs),
	}
	if v.EnablePurgeProtection {
		out.Properties.EnablePurgeProtection = ptr(true)
	}
	return out
}

// Operation names the vault handlers authorize.
const (
	vaultRead  = "Microsoft.KeyVault/vaults/read"
	vaultWrite = "Microsoft.KeyVault/vaults/write"
	// roleAssignmentWrite is the right to grant access (Owner, User Access
	// Administrator), also required to change a vault's permission model.
	roleAssignmentWrite = "Microsoft.Authorization/roleAssignments/write"
	vaultDelete         = "Microsoft.KeyVault/vaults/delete"
	vaultPoliciesWrite  = "Microsoft.KeyVault/vaults/accessPolicies/write"
	deletedVaultsList   = "Microsoft.KeyVault/deletedVaults/read"
	deletedVaultRead    = "Microsoft.KeyVault/locations/deletedVaults/read"
	deletedVaultPurge   = "Microsoft.KeyVault/locations/deletedVaults/purge/action"
	checkNameAvailRead  = "Microsoft.KeyVault/checkNameAvailability/read"
)

const vaultResourceType = "Microsoft.KeyVault/vaults"

func vaultScope(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.KeyVault/vaults/" + name
}

func (h *Handler) listVaults(c *call, sub, rg string) error {
	return listIn(h, c, sub, rg, vaultRead, h.Vaults.ListVaults, (*model.Vault).ResourceID, func(v *model.Vault) wire.Vault { return h.vaultWire(c, v) })
}

// rbacDefaultVersion: from this control-plane api-version on, new vaults
// default to Azure RBAC (azure-wire-spec §4.3).
const rbacDefaultVersion = "2026-02-01"

func (h *Handler) vault(c *call, sub, rg, name string) error {
	scope := vaultScope(sub, rg, name)
	switch c.r.Method {
	case http.MethodGet:
		if err := h.authorize(c, scope, vaultRead); err != nil {
			return err
		}
		if _, err := h.Resources.Group(c.ctx(), sub, rg); err != nil {
			return err
		}
		v, err := h.Vaults.Vault(c.ctx(), sub, rg, name)
		if err != nil {
			return err
		}
		httpx.WriteJSON(c.w, http.StatusOK, h.vaultWire(c, v))
		return nil
	case http.MethodPut, http.MethodPatch:
		if err := h.authorize(c, scope, vaultWrite); err != nil {
			return err
		}
		if _, err := h.Resources.Group(c.ctx(), sub, rg); err != nil {
			return err
		}
		var body wire.VaultCreateOrUpdateParameters
		if err := decode(c, &body); err != nil {
			return err
		}
		if c.r.Method == http.MethodPut && body.Properties == nil {
			return armErr(errs.Invalid, "BadRequest", "The property 'properties' is required.")
		}
		if body.Properties == nil {
			body.Properties = &wire.VaultProperties{}
		}
		p := body.Properties
		if c.r.Method == http.MethodPatch {
			if _, err := h.Vaults.Vault(c.ctx(), sub, rg, name); err != nil {
				return err
			}
		}
		spec := vaults.VaultSpec{
			Location: body.Location, Tags: body.Tags, TenantID: p.TenantID,
			AccessPolicies: fromWirePolicies(p.AccessPolicies), EnableSoftDelete: p.EnableSoftDelete,
			SoftDeleteRetentionInDays: p.SoftDeleteRetentionInDays, EnablePurgeProtection: p.EnablePurgeProtection,
			EnableRbacAuthorization: p.EnableRbacAuthorization, Recover: strings.EqualFold(p.CreateMode, "recover"),
			NetworkACLs: fromWireNetwork(p.NetworkAcls), PublicNetworkAccess: p.PublicNetworkAccess,
		}
		if p.CreateMode != "" && !strings.EqualFold(p.CreateMode, "recover") && !strings.EqualFold(p.CreateMode, "default") {
			return armErr(errs.Invalid, "BadRequest", "The property 'createMode' must be 'default' or 'recover'.")
		}
		if p.Sku != nil {
			if !strings.EqualFold(p.Sku.Name, "standard") && !strings.EqualFold(p.Sku.Name, "premium") {
				return armErr(errs.Invalid, "BadRequest", "The sku name '"+p.Sku.Name+"' is invalid. Allowed: standard, premium.")
			}
			if !strings.EqualFold(p.Sku.Family, "A") {
				return armErr(errs.Invalid, "BadRequest", "The sku family '"+p.Sku.Family+"' is invalid. Allowed: A.")
			}
			spec.SKU = p.Sku.Name
		}
		if spec.TenantID != "" && !identity.IsGUID(spec.TenantID) {
			return armErr(errs.Invalid, "BadRequest", "The property 'tenantId' must be a GUID; '"+spec.TenantID+"' is not.")
		}
		if spec.TenantID != "" && !strings.EqualFold(spec.TenantID, h.TenantID) {
			return armErr(errs.Invalid, "BadRequest", "The tenant '"+spec.TenantID+"' is not the tenant of this Coffer ("+h.TenantID+").")
		}
		// Changing an existing vault's permission model decides who reads
		// its secrets, so it needs the right to grant access
		// (roleAssignments/write), not just vaults/write: otherwise a
		// Contributor could switch an RBAC vault to access policies and
		// grant itself the data.
		if existing, err := h.Vaults.Vault(c.ctx(), sub, rg, name); err == nil && p.EnableRbacAuthorization != nil &&
			*p.EnableRbacAuthorization != existing.EnableRbacAuthorization {
			if err := h.authorize(c, scope, roleAssignmentWrite); err != nil {
				return err
			}
		}
		v, created, err := h.Vaults.CreateOrUpdateVault(c.ctx(), sub, rg, name, spec, c.caller.AppID, c.api >= rbacDefaultVersion)
		if err != nil {
			return err
		}
		return writeUpsert(c, created, h.vaultWire(c, v))
	case http.MethodDelete:
		if err := h.authorize(c, scope, vaultDelete); err != nil {
			return err
		}
		if _, err := h.Resources.Group(c.ctx(), sub, rg); err != nil {
			return err
		}
		found, err := h.Vaults.DeleteVault(c.ctx(), sub, rg, name)
		if err != nil {
			return err
		}
		if !found {
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
		c.w.WriteHeader(http.StatusOK)
		return nil
	}
	return methodNotAllowed(c)
}

func (h *Handler) accessPolicies(c *call, sub, rg, name, kind string) error {
	if c.r.Method != http.MethodPut {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, vaultScope(sub, rg, name), vaultPoliciesWrite); err != nil {
		return err
	}
	if _, err := h.Resources.Group(c.ctx(), sub, rg); err != nil {
		return err
	}
	var body struct {
		Properties *struct {
			AccessPolicies []wire.AccessPolicyEntry `json:"accessPolicies"`
		} `json:"properties"`
	}
	if err := decode(c, &body); err != nil {
		return err
	}
	if body.Properties == nil || body.Properties.AccessPolicies == nil {
		return armErr(errs.Invalid, "BadRequest", "The property 'properties.accessPolicies' is required.")
	}
	v, err := h.Vaults.UpdateAccessPolicies(c.ctx(), sub, rg, name, kind, fromWirePolicies(body.Properties.AccessPolicies), c.caller.AppID)
	if err != nil {
		return err
	}
	var out wire.VaultAccessPolicyParameters
	out.ID = v.ResourceID() + "/accessPolicies/" + strings.ToLower(kind)
	out.Type = "Microsoft.KeyVault/vaults/accessPolicies"
	out.Properties.AccessPolicies = toWirePolicies(v.AccessPolicies)
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func (h *Handler) deletedWire(v *model.Vault) wire.DeletedVault {
	var out wire.DeletedVault
	out.ID = "/subscriptions/" + v.SubscriptionID + "/providers/Microsoft.KeyVault/locations/" + v.Location + "/deletedVaults/" + v.Name
	out.Name, out.Type = v.Name, "Microsoft.KeyVault/deletedVaults"
	out.Properties.VaultID = v.ResourceID()
	out.Properties.Location = v.Location
	out.Properties.DeletionDate = rfc3339(*v.Deleted)
	out.Properties.ScheduledPurgeDate = rfc3339(vaults.ScheduledPurgeDate(v))
	out.Properties.Tags = v.Tags
	if out.Properties.Tags == nil {
		out.Properties.Tags = map[string]string{}
	}
	out.Properties.PurgeProtectionEnabled = v.EnablePurgeProtection
	return out
}

func (h *Handler) listDeletedVaults(c *call, sub string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, "/subscriptions/"+sub, deletedVaultsList); err != nil {
		return err
	}
	vs, err := h.Vaults.ListDeletedVaults(c.ctx(), sub)
	if err != nil {
		return err
	}
	out := wire.Page[wire.DeletedVault]{Value: []wire.DeletedVault{}}
	for i := range vs {
		out.Value = append(out.Value, h.deletedWire(&vs[i]))
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func (h *Handler) deletedVault(c *call, sub, name string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, "/subscriptions/"+sub, deletedVaultRead); err != nil {
		return err
	}
	v, err := h.Vaults.DeletedVault(c.ctx(), sub, name)
	if err != nil {
		return err
	}
	httpx.WriteJSON(c.w, http.StatusOK, h.deletedWire(v))
	return nil
}

func (h *Handler) purgeDeletedVault(c *call, sub, name string) error {
	if c.r.Method != http.MethodPost {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, "/subscriptions/"+sub, deletedVaultPurge); err != nil {
		return err
	}
	if err := h.Vaults.PurgeDeletedVault(c.ctx(), sub, name); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) checkNameAvailability(c *call, sub string) error {
	if c.r.Method != http.MethodPost {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, "/subscriptions/"+sub, checkNameAvailRead); err != nil {
		return err
	}
	var body struct {
		Name *string `json:"name"`
		Type *string `json:"type"`
	}
	if err := decode(c, &body); err != nil {
		return err
	}
	if body.Name == nil || *body.Name == "" {
		return armErr(errs.Invalid, "BadRequest", "The property 'name' is required.")
	}
	if body.Type == nil || !strings.EqualFold(*body.Type, vaultResourceType) {
		return armErr(errs.Invalid, "BadRequest", "The property 'type' must be '"+vaultResourceType+"'.")
	}
	name := *body.Name
	out := map[string]any{"nameAvailable": true}
	if !vaults.ValidVaultName(name) {
		out = map[string]any{"nameAvailable": false, "reason": "AccountNameInvalid", "message": "Vault name '" + name +
			"' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."}
	} else if _, err := h.Store.GetVault(c.ctx(), name); err == nil {
		// Live or soft-deleted: either way the name cannot be used.
		out = map[string]any{"nameAvailable": false, "reason": "AlreadyExists", "message": "The vault name '" + name + "' is already in use."}
	} else if errs.KindOf(err) != errs.NotExist {
		return err
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func fromWireNetwork(n *wire.NetworkRuleSet) *model.NetworkACLs {
	if n == nil {
		return nil
	}
	out := &model.NetworkACLs{Bypass: n.Bypass, DefaultAction: n.DefaultAction}
	for _, r := range n.IPRules {
		out.IPRules = append(out.IPRules, r.Value)
	}
	for _, r := range n.VirtualNetworkRules {
		out.VirtualNetworkRules = append(out.VirtualNetworkRules, r.ID)
	}
	return out
}

// toWireNetwork renders the firewall; a vault without one shows Azure's
// default (allow, bypass AzureServices).
func toWireNetwork(n *model.NetworkACLs) *wire.NetworkRuleSet {
	out := &wire.NetworkRuleSet{Bypass: "AzureServices", DefaultAction: "Allow", IPRules: []wire.IPRule{}, VirtualNetworkRules: []wire.VirtualNetworkRule{}}
	if n == nil {
		return out
	}
	out.Bypass, out.DefaultAction = n.Bypass, n.DefaultAction
	for _, r := range n.IPRules {
		out.IPRules = append(out.IPRules, wire.IPRule{Value: r})
	}
	for _, id := range n.VirtualNetworkRules {
		out.VirtualNetworkRules = append(out.VirtualNetworkRules, wire.VirtualNetworkRule{ID: id})
	}
	return out
}
