package arm

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

const roleDefinitionRead = "Microsoft.Authorization/roleDefinitions/read"

// roleDescriptions are Azure's descriptions of the built-in roles Coffer knows.
var roleDescriptions = map[string]string{
	"Owner":                          "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
	"Contributor":                    "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
	"Reader":                         "View all resources, but does not allow you to make any changes.",
	"Key Vault Administrator":        "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Secrets Officer":      "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Secrets User":         "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Reader":               "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Certificate User":     "Read certificate contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Certificates Officer": "Perform any action on the certificates of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Crypto Officer":       "Perform any action on the keys of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
	"Key Vault Contributor":          "Manage key vaults, but does not allow you to assign roles in Azure RBAC, and does not allow you to access secrets, keys, or certificates.",
}

// roleDefinitionID is the id ARM gives a built-in role: under the
// subscription, whatever scope it was read through.
func (h *Handler) roleDefinitionID(guid string) string {
	return "/subscriptions/" + h.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

func (h *Handler) roleDefinitionWire(r policy.RoleDefinition) wire.RoleDefinition {
	var out wire.RoleDefinition
	out.ID, out.Name, out.Type = h.roleDefinitionID(r.ID), r.ID, "Microsoft.Authorization/roleDefinitions"
	p := &out.Properties
	p.RoleName, p.Type, p.Description, p.AssignableScopes = r.Name, "BuiltInRole", roleDescriptions[r.Name], []string{"/"}
	p.Permissions = []wire.RolePermission{{Actions: nonNil(r.Actions), NotActions: nonNil(r.NotActions), DataActions: nonNil(r.DataActions), NotDataActions: []string{}}}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// roleDefinitionFilter is the $filter of RoleDefinitions_List: one of
// "roleName eq '{name}'" or "type eq 'BuiltInRole'|'CustomRole'".
type roleDefinitionFilter struct{ prop, val string }

func parseRoleDefinitionFilter(raw string) (roleDefinitionFilter, error) {
	if strings.TrimSpace(raw) == "" {
		return roleDefinitionFilter{}, nil
	}
	bad := armErr(errs.Invalid, "UnsupportedQuery", "The filter '"+raw+"' is not supported. Supported filters: roleName eq '{name}', type eq 'BuiltInRole' or 'CustomRole'.")
	toks, ok := lexFilter(raw)
	if !ok || len(toks) != 3 || toks[0].kind != tIdent || toks[1].kind != tIdent || !strings.EqualFold(toks[1].text, "eq") || toks[2].kind != tString {
		return roleDefinitionFilter{}, bad
	}
	prop := strings.ToLower(toks[0].text)
	if prop != "rolename" && prop != "type" {
		return roleDefinitionFilter{}, bad
	}
	return roleDefinitionFilter{prop: prop, val: toks[2].text}, nil
}

func (f roleDefinitionFilter) match(r policy.RoleDefinition) bool {
	switch f.prop {
	case "rolename":
		return strings.EqualFold(r.Name, f.val)
	case "type":
		return strings.EqualFold(f.val, "BuiltInRole")
	}
	return true
}

func (h *Handler) listRoleDefinitions(c *call, scope string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, scope, roleDefinitionRead); err != nil {
		return err
	}
	f, err := parseRoleDefinitionFilter(c.r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	out := wire.Page[wire.RoleDefinition]{Value: []wire.RoleDefinition{}}
	for _, r := range policy.BuiltinRoles {
		if f.match(r) {
			out.Value = append(out.Value, h.roleDefinitionWire(r))
		}
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func (h *Handler) roleDefinition(c *call, scope, id string) error {
	if c.r.Method != http.MethodGet {
		if c.r.Method == http.MethodPut || c.r.Method == http.MethodDelete {
			return armErr(errs.Invalid, "BadRequest", "Coffer serves the built-in roles only; custom role definitions cannot be created or deleted.")
		}
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, scope, roleDefinitionRead); err != nil {
		return err
	}
	r, ok := policy.LookupRole(id)
	if !ok || !strings.EqualFold(r.ID, id) {
		return armErr(errs.NotExist, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+id+"' does not exist.")
	}
	httpx.WriteJSON(c.w, http.StatusOK, h.roleDefinitionWire(r))
	return nil
}
