package arm

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

// principalType is what ARM reports for a principal: service principals
// and managed identities alike are "ServicePrincipal".
func principalType(p *model.Principal) string {
	switch p.Type {
	case model.PrincipalServicePrincipal, model.PrincipalManagedIdentity, model.PrincipalApplication:
		return "ServicePrincipal"
	}
	return p.Type
}

// principalTypes are the values ARM accepts in a role assignment's principalType.
var principalTypes = []string{"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}

func (h *Handler) roleWire(c *call, a *model.RoleAssignment) wire.RoleAssignment {
	var out wire.RoleAssignment
	out.ID = a.Scope + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name
	out.Name, out.Type = a.Name, "Microsoft.Authorization/roleAssignments"
	out.Properties.RoleDefinitionID = "/subscriptions/" + h.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + a.RoleDefinitionID
	out.Properties.PrincipalID, out.Properties.PrincipalType, out.Properties.Scope = a.PrincipalID, a.PrincipalType, a.Scope
	if out.Properties.PrincipalType == "" {
		// Assignments made before principalType was recorded: derive it.
		out.Properties.PrincipalType = "ServicePrincipal"
		if p, err := h.Store.GetPrincipal(c.ctx(), a.PrincipalID); err == nil {
			out.Properties.PrincipalType = principalType(p)
		}
	}
	// Assignments are never updated in place, so updated = created.
	out.Properties.CreatedOn = rfc3339(a.Created)
	out.Properties.UpdatedOn = out.Properties.CreatedOn
	if a.CreatedBy != "" {
		by := a.CreatedBy
		out.Properties.CreatedBy, out.Properties.UpdatedBy = &by, &by
	}
	if a.Description != "" {
		d := a.Description
		out.Properties.Description = &d
	}
	return out
}

// assignmentFilter is ARM's $filter for role assignments: atScope(),
// principalId eq '{id}' and assignedTo('{id}'), optionally joined by "and".
type assignmentFilter struct {
	atScope   bool
	principal string
}

var (
	principalEqRE  = regexp.MustCompile(`(?i)^principalId\s+eq\s+'([^']*)'$`)
	assignedToRE   = regexp.MustCompile(`(?i)^assignedTo\('([^']*)'\)$`)
	filterAndRE    = regexp.MustCompile(`(?i)\s+and\s+`)
	atScopeFuncRE  = regexp.MustCompile(`(?i)^atScope\(\)$`)
	roleFilterHelp = "Supported filters: atScope(), principalId eq '{id}', assignedTo('{id}')."
)

func parseAssignmentFilter(raw string) (assignmentFilter, error) {
	var f assignmentFilter
	if strings.TrimSpace(raw) == "" {
		return f, nil
	}
	for _, term := range filterAndRE.Split(strings.TrimSpace(raw), -1) {
		switch term = strings.TrimSpace(term); {
		case atScopeFuncRE.MatchString(term):
			f.atScope = true
		case principalEqRE.MatchString(term):
			f.principal = principalEqRE.FindStringSubmatch(term)[1]
		case assignedToRE.MatchString(term):
			f.principal = assignedToRE.FindStringSubmatch(term)[1]
		default:
			return f, armErr(errs.Invalid, "UnsupportedQuery", "The filter '"+raw+"' is not supported. "+roleFilterHelp)
		}
	}
	return f, nil
}

func (h *Handler) listRoleAssignments(c *call, scope string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, scope, "Microsoft.Authorization/roleAssignments/read"); err != nil {
		return err
	}
	f, err := parseAssignmentFilter(c.r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	all, err := h.Store.ListRoleAssignments(c.ctx())
	if err != nil {
		return err
	}
	out := wire.Page[wire.RoleAssignment]{Value: []wire.RoleAssignment{}}
	for i := range all {
		a := &all[i]
		// ARM lists assignments at, above and below the scope; atScope()
		// keeps those at and above it.
		above := policy.ScopeCovers(a.Scope, scope)
		if !above && (f.atScope || !policy.ScopeCovers(scope, a.Scope)) {
			continue
		}
		if f.principal != "" && !strings.EqualFold(a.PrincipalID, f.principal) {
			continue
		}
		out.Value = append(out.Value, h.roleWire(c, a))
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

// findAssignment returns the assignment with the given name at exactly
// scope, or nil: an assignment is addressed by its scope and name, so a
// request through another scope never reaches it.
func (h *Handler) findAssignment(c *call, scope, name string) (*model.RoleAssignment, error) {
	all, err := h.Store.ListRoleAssignments(c.ctx())
	if err != nil {
		return nil, err
	}
	for i := range all {
		if strings.EqualFold(all[i].Name, name) && sameScope(all[i].Scope, scope) {
			return &all[i], nil
		}
	}
	return nil, nil
}

func sameScope(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}

func roleAssignmentNotFound(name string) error {
	return armErr(errs.NotExist, "RoleAssignmentNotFound", "The role assignment '"+name+"' is not found.")
}

func (h *Handler) roleAssignment(c *call, scope, name string) error {
	switch c.r.Method {
	case http.MethodGet:
		if err := h.authorize(c, scope, "Microsoft.Authorization/roleAssignments/read"); err != nil {
			return err
		}
		a, err := h.findAssignment(c, scope, name)
		if err != nil {
			return err
		}
		if a == nil {
			return roleAssignmentNotFound(name)
		}
		httpx.WriteJSON(c.w, http.StatusOK, h.roleWire(c, a))
		return nil
	case http.MethodPut:
		if err := h.authorize(c, scope, roleAssignmentWrite); err != nil {
			return err
		}
		if _, err := uuid.Parse(name); err != nil {
			return armErr(errs.Invalid, "InvalidRoleAssignmentId", "The role assignment ID '"+name+"' is not valid. The role assignment ID must be a GUID.")
		}
		var body struct {
			Properties *struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
				PrincipalType    string `json:"principalType"`
				Description      string `json:"description"`
				Condition        string `json:"condition"`
				ConditionVersion string `json:"conditionVersion"`
			} `json:"properties"`
		}
		if err := decode(c, &body); err != nil {
			return err
		}
		if body.Properties == nil {
			return armErr(errs.Invalid, "InvalidRequestContent", "The property 'properties' is required.")
		}
		props := body.Properties
		if props.Condition != "" || props.ConditionVersion != "" {
			// An assignment whose condition is stored but not evaluated would
			// grant more than its author meant: refuse it instead.
			return armErr(errs.Invalid, "InvalidRoleAssignmentRequest", "Conditions on role assignments are not supported by this server; create the assignment without 'condition' and 'conditionVersion'.")
		}
		role, ok := policy.LookupRole(props.RoleDefinitionID)
		if !ok {
			return armErr(errs.Invalid, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+props.RoleDefinitionID+"' does not exist.")
		}
		principal, err := h.Store.GetPrincipal(c.ctx(), props.PrincipalID)
		if err != nil || props.PrincipalID == "" {
			return armErr(errs.Invalid, "PrincipalNotFound", "Principal "+props.PrincipalID+" does not exist in the directory "+h.TenantID+".")
		}
		if props.PrincipalType == "" {
			props.PrincipalType = principalType(principal)
		} else if i := slices.IndexFunc(principalTypes, func(t string) bool { return strings.EqualFold(t, props.PrincipalType) }); i >= 0 {
			props.PrincipalType = principalTypes[i]
		} else {
			return armErr(errs.Invalid, "InvalidPrincipalType", "The principal type '"+props.PrincipalType+"' is invalid. Allowed: "+strings.Join(principalTypes, ", ")+".")
		}
		all, err := h.Store.ListRoleAssignments(c.ctx())
		if err != nil {
			return err
		}
		for _, x := range all {
			if sameScope(x.Scope, scope) && strings.EqualFold(x.PrincipalID, props.PrincipalID) && strings.EqualFold(x.RoleDefinitionID, role.ID) {
				return armErr(errs.Conflict, "RoleAssignmentExists", "The role assignment already exists.")
			}
		}
		a := &model.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + strings.ToLower(name),
			Name: strings.ToLower(name), Scope: scope, RoleDefinitionID: role.ID, PrincipalID: props.PrincipalID,
			PrincipalType: props.PrincipalType, Description: props.Description, Created: h.Now()}
		if c.caller != nil {
			a.CreatedBy = c.caller.ObjectID
		}
		if err := h.Store.CreateRoleAssignment(c.ctx(), a); err != nil {
			if errs.KindOf(err) == errs.Exist {
				return armErr(errs.Conflict, "RoleAssignmentExists", "The role assignment already exists.")
			}
			return err
		}
		httpx.WriteJSON(c.w, http.StatusCreated, h.roleWire(c, a))
		return nil
	case http.MethodDelete:
		if err := h.authorize(c, scope, "Microsoft.Authorization/roleAssignments/delete"); err != nil {
			return err
		}
		a, err := h.findAssignment(c, scope, name)
		if err != nil {
			return err
		}
		if a == nil {
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
		if err := h.Store.DeleteRoleAssignment(c.ctx(), a.Name); err != nil && errs.KindOf(err) != errs.NotExist {
			return err
		}
		httpx.WriteJSON(c.w, http.StatusOK, h.roleWire(c, a))
		return nil
	}
	return methodNotAllowed(c)
}
