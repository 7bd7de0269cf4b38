package arm

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

func (h *Handler) roleWire(a *model.RoleAssignment) wire.RoleAssignment {
	var out wire.RoleAssignment
	out.ID = a.Scope + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name
	out.Name, out.Type = a.Name, "Microsoft.Authorization/roleAssignments"
	out.Properties.RoleDefinitionID = "/subscriptions/" + h.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + a.RoleDefinitionID
	out.Properties.PrincipalID, out.Properties.PrincipalType, out.Properties.Scope = a.PrincipalID, a.PrincipalType, a.Scope
	out.Properties.CreatedOn = rfc3339(a.Created)
	return out
}

func (h *Handler) listRoleAssignments(c *call, scope string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, scope, false); err != nil {
		return err
	}
	all, err := h.Store.ListRoleAssignments(c.ctx())
	if err != nil {
		return err
	}
	out := wire.Page[wire.RoleAssignment]{Value: []wire.RoleAssignment{}}
	for i := range all {
		// ARM lists assignments at, above and below the scope.
		if policy.ScopeCovers(all[i].Scope, scope) || policy.ScopeCovers(scope, all[i].Scope) {
			out.Value = append(out.Value, h.roleWire(&all[i]))
		}
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func (h *Handler) roleAssignment(c *call, scope, name string) error {
	switch c.r.Method {
	case http.MethodGet:
		if err := h.authorize(c, scope, false); err != nil {
			return err
		}
		all, err := h.Store.ListRoleAssignments(c.ctx())
		if err != nil {
			return err
		}
		for i := range all {
			if strings.EqualFold(all[i].Name, name) {
				httpx.WriteJSON(c.w, http.StatusOK, h.roleWire(&all[i]))
				return nil
			}
		}
		return armErr(errs.NotExist, "RoleAssignmentNotFound", "The role assignment '"+name+"' is not found.")
	case http.MethodPut:
		if err := h.authorize(c, scope, true); err != nil {
			return err
		}
		if _, err := uuid.Parse(name); err != nil {
			return armErr(errs.Invalid, "InvalidRoleAssignmentId", "The role assignment ID '"+name+"' is not valid. The role assignment ID must be a GUID.")
		}
		var body struct {
			Properties struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
				PrincipalType    string `json:"principalType"`
			} `json:"properties"`
		}
		if err := decode(c, &body); err != nil {
			return err
		}
		role, ok := policy.LookupRole(body.Properties.RoleDefinitionID)
		if !ok {
			return armErr(errs.Invalid, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+body.Properties.RoleDefinitionID+"' does not exist.")
		}
		if _, err := h.Store.GetPrincipal(c.ctx(), body.Properties.PrincipalID); err != nil {
			return armErr(errs.Invalid, "PrincipalNotFound", "Principal "+body.Properties.PrincipalID+" does not exist in the directory "+h.TenantID+".")
		}
		a := &model.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + strings.ToLower(name),
			Name: strings.ToLower(name), Scope: scope, RoleDefinitionID: role.ID, PrincipalID: body.Properties.PrincipalID,
			PrincipalType: body.Properties.PrincipalType, Created: h.Now()}
		if err := h.Store.CreateRoleAssignment(c.ctx(), a); err != nil {
			if errs.KindOf(err) == errs.Exist {
				return armErr(errs.Conflict, "RoleAssignmentExists", "The role assignment already exists.")
			}
			return err
		}
		httpx.WriteJSON(c.w, http.StatusCreated, h.roleWire(a))
		return nil
	case http.MethodDelete:
		if err := h.authorize(c, scope, true); err != nil {
			return err
		}
		all, err := h.Store.ListRoleAssignments(c.ctx())
		if err != nil {
			return err
		}
		for i := range all {
			if strings.EqualFold(all[i].Name, name) {
				if err := h.Store.DeleteRoleAssignment(c.ctx(), all[i].Name); err != nil {
					return err
				}
				httpx.WriteJSON(c.w, http.StatusOK, h.roleWire(&all[i]))
				return nil
			}
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return methodNotAllowed(c)
}
