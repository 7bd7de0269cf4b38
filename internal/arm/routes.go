package arm

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

func notFound(c *call) error {
	return armErr(errs.NotExist, "InvalidResourceType", "The resource type or path '"+c.r.URL.Path+"' is not supported by Coffer.")
}

func methodNotAllowed(c *call) error {
	return armErr(errs.MethodNotAllowed, "MethodNotAllowed", "The HTTP method '"+c.r.Method+"' is not supported for '"+c.r.URL.Path+"'.")
}

// route dispatches on path segments; ARM path segments compare case-insensitively.
func (h *Handler) route(c *call) error {
	s := c.segs
	switch {
	case len(s) == 1 && eq(s[0], "tenants"):
		if err := resourcesAPI.check(c); err != nil {
			return err
		}
		return h.listTenants(c)
	case len(s) >= 1 && len(s) <= 2 && eq(s[0], "providers"):
		if err := resourcesAPI.check(c); err != nil {
			return err
		}
		return h.providers(c, "", s[1:])
	case len(s) < 1 || !eq(s[0], "subscriptions"):
		return notFound(c)
	}
	// Role assignments and definitions exist at any scope:
	// {scope}/providers/Microsoft.Authorization/role{Assignments,Definitions}[/{name}].
	for i := 1; i+2 < len(s); i++ {
		if !eq(s[i], "providers") || !eq(s[i+1], "Microsoft.Authorization") {
			continue
		}
		defs := eq(s[i+2], "roleDefinitions")
		if !defs && !eq(s[i+2], "roleAssignments") {
			continue
		}
		if len(s)-(i+3) > 1 {
			return notFound(c)
		}
		api := roleAssignmentsAPI
		if defs {
			api = apiVersions{"roleDefinitions", roleAssignmentsAPI.versions}
		}
		if err := api.check(c); err != nil {
			return err
		}
		scope, err := h.roleScope(c, s[:i])
		if err != nil {
			return err
		}
		switch {
		case defs && len(s) == i+3:
			return h.listRoleDefinitions(c, scope)
		case defs:
			return h.roleDefinition(c, scope, s[i+3])
		case len(s) == i+3:
			return h.listRoleAssignments(c, scope)
		}
		return h.roleAssignment(c, scope, s[i+3])
	}
	// Subscriptions, resource groups, generic resources, providers and
	// operation results are Microsoft.Resources.
	if len(s) <= 3 || (eq(s[2], "resourcegroups") && (len(s) <= 4 || (len(s) == 5 && eq(s[4], "resources")))) ||
		eq(s[2], "operationresults") || (eq(s[2], "providers") && (len(s) == 4 || (len(s) == 5 && eq(s[4], "register")))) {
		if err := resourcesAPI.check(c); err != nil {
			return err
		}
	}
	if len(s) == 1 {
		if c.r.Method != http.MethodGet {
			return methodNotAllowed(c)
		}
		return h.listSubscriptions(c)
	}
	sub := s[1]
	if !eq(sub, h.SubscriptionID) {
		return armErr(errs.NotExist, "SubscriptionNotFound", "The subscription '"+sub+"' could not be found.")
	}
	sub = h.SubscriptionID
	if len(s) == 2 {
		if c.r.Method != http.MethodGet {
			return methodNotAllowed(c)
		}
		return h.getSubscription(c)
	}
	switch {
	case eq(s[2], "resourcegroups"):
		switch {
		case len(s) == 3:
			return h.listGroups(c, sub)
		case len(s) == 4:
			return h.group(c, sub, s[3])
		case len(s) == 5 && eq(s[4], "resources"):
			return h.listResources(c, sub, s[3])
		case len(s) >= 7 && eq(s[4], "providers"):
			return h.rgProvider(c, sub, s[3], s[5], s[6], s[7:])
		}
	case eq(s[2], "operationresults") && len(s) == 4:
		return h.operationResult(c, sub, s[3])
	case eq(s[2], "resources") && len(s) == 3:
		return h.listResources(c, sub, "")
	case eq(s[2], "locations") && len(s) == 3:
		return h.listLocations(c, sub)
	case eq(s[2], "providers") && (len(s) <= 4 || (len(s) == 5 && eq(s[4], "register"))):
		return h.providers(c, sub, s[3:])
	case eq(s[2], "providers") && len(s) >= 5:
		return h.subProvider(c, sub, s[3], s[4], s[5:])
	}
	return notFound(c)
}

// rgProvider handles /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/...
func (h *Handler) rgProvider(c *call, sub, rg, ns, typ string, rest []string) error {
	switch {
	case eq(ns, "Microsoft.KeyVault") && eq(typ, "vaults"):
		if err := vaultsAPI.check(c); err != nil {
			return err
		}
		switch {
		case len(rest) == 0:
			return h.listVaults(c, sub, rg)
		case len(rest) == 1:
			return h.vault(c, sub, rg, rest[0])
		case len(rest) == 3 && eq(rest[1], "accessPolicies"):
			return h.accessPolicies(c, sub, rg, rest[0], rest[2])
		}
	case eq(ns, "Microsoft.KeyVault") && eq(typ, "managedHSMs"):
		if err := (apiVersions{typ, managedHSMsAPI}).check(c); err != nil {
			return err
		}
		return h.managedHSMs(c, sub, rg, rest)
	case eq(ns, "Microsoft.Compute") && eq(typ, "virtualMachines"):
		if err := vmsAPI.check(c); err != nil {
			return err
		}
		switch {
		case len(rest) == 0:
			return h.listVMs(c, sub, rg)
		case len(rest) == 1:
			return h.vm(c, sub, rg, rest[0])
		case (len(rest) == 2 || len(rest) == 3) && eq(rest[1], "cofferCredentials"):
			keyID := ""
			if len(rest) == 3 {
				keyID = rest[2]
			}
			return h.vmCredentials(c, sub, rg, rest[0], keyID)
		}
	case eq(ns, "Microsoft.ManagedIdentity") && eq(typ, "userAssignedIdentities"):
		if err := identitiesAPI.check(c); err != nil {
			return err
		}
		switch len(rest) {
		case 0:
			return h.listUAMIs(c, sub, rg)
		case 1:
			return h.uami(c, sub, rg, rest[0])
		}
	}
	return notFound(c)
}

// subProvider handles /subscriptions/{sub}/providers/{ns}/{type}/...
func (h *Handler) subProvider(c *call, sub, ns, typ string, rest []string) error {
	if !eq(ns, "Microsoft.KeyVault") {
		if eq(ns, "Microsoft.Compute") && eq(typ, "virtualMachines") && len(rest) == 0 {
			if err := vmsAPI.check(c); err != nil {
				return err
			}
			return h.listVMs(c, sub, "")
		}
		if eq(ns, "Microsoft.ManagedIdentity") && eq(typ, "userAssignedIdentities") && len(rest) == 0 {
			if err := identitiesAPI.check(c); err != nil {
				return err
			}
			return h.listUAMIs(c, sub, "")
		}
		return notFound(c)
	}
	if eq(typ, "managedHSMs") || eq(typ, "deletedManagedHSMs") ||
		(eq(typ, "locations") && len(rest) >= 2 && eq(rest[1], "deletedManagedHSMs")) {
		if err := (apiVersions{typ, managedHSMsAPI}).check(c); err != nil {
			return err
		}
		return h.subManagedHSMs(c, sub, typ, rest)
	}
	if err := (apiVersions{typ, vaultsAPI.versions}).check(c); err != nil {
		return err
	}
	switch {
	case eq(typ, "vaults") && len(rest) == 0:
		return h.listVaults(c, sub, "")
	case eq(typ, "deletedVaults") && len(rest) == 0:
		return h.listDeletedVaults(c, sub)
	case eq(typ, "checkNameAvailability") && len(rest) == 0:
		return h.checkNameAvailability(c, sub)
	case eq(typ, "locations") && len(rest) >= 3 && eq(rest[1], "deletedVaults"):
		switch {
		case len(rest) == 3:
			return h.deletedVault(c, sub, rest[2])
		case len(rest) == 4 && eq(rest[3], "purge"):
			return h.purgeDeletedVault(c, sub, rest[2])
		}
	}
	return notFound(c)
}

// roleScope validates the scope of a role assignment request (the path
// segments before /providers/Microsoft.Authorization): it must be this
// subscription or lie in it, and a resource group in it must exist. It
// returns the scope in ARM's casing of the fixed segments.
func (h *Handler) roleScope(c *call, segs []string) (string, error) {
	// A scope is stored and compared as written: "." and ".." segments or
	// empty ones ("//", which routing would otherwise skip) would make one
	// scope look like another, so they are refused, not resolved.
	if slices.ContainsFunc(segs, func(s string) bool { return s == "." || s == ".." }) ||
		strings.Contains(strings.Trim(c.r.URL.Path, "/"), "//") {
		return "", armErr(errs.Invalid, "InvalidRoleAssignmentScope", "The scope '"+c.r.URL.Path+"' of the role assignment is invalid: it has an empty, '.' or '..' segment.")
	}
	if len(segs) < 2 || !eq(segs[0], "subscriptions") {
		return "", armErr(errs.Invalid, "InvalidRoleAssignmentScope", "The scope '/"+strings.Join(segs, "/")+"' of the role assignment is invalid.")
	}
	if !eq(segs[1], h.SubscriptionID) {
		return "", armErr(errs.NotExist, "SubscriptionNotFound", "The subscription '"+segs[1]+"' could not be found.")
	}
	out := append([]string{"subscriptions", h.SubscriptionID}, segs[2:]...)
	if len(segs) >= 4 && eq(segs[2], "resourceGroups") {
		out[2] = "resourceGroups"
		if _, err := h.Resources.Group(c.ctx(), h.SubscriptionID, segs[3]); err != nil {
			return "", err
		}
	} else if len(segs) > 2 && !(len(segs) >= 4 && eq(segs[2], "providers")) {
		return "", armErr(errs.Invalid, "InvalidRoleAssignmentScope", "The scope '/"+strings.Join(segs, "/")+"' of the role assignment is invalid.")
	}
	return "/" + strings.Join(out, "/"), nil
}

func (h *Handler) subscription() map[string]any {
	return map[string]any{
		"id": "/subscriptions/" + h.SubscriptionID, "subscriptionId": h.SubscriptionID, "tenantId": h.TenantID,
		"displayName": "Coffer", "state": "Enabled",
		"subscriptionPolicies": map[string]string{"locationPlacementId": "Public_2014-09-01", "quotaId": "Coffer", "spendingLimit": "Off"},
		"authorizationSource":  "RoleBased",
		// ARM always sends the list, empty when no other tenant manages
		// the subscription; clients print null for a missing one.
		"managedByTenants": []any{},
	}
}

// listIn answers GET for one resource type across a subscription, or one
// resource group when rg is set (which must exist). As ARM does, a caller
// with no role at, above or under the scope is refused; any other gets the
// items its roles let it read.
func listIn[M, W any](h *Handler, c *call, sub, rg, readAction string,
	fetch func(ctx context.Context, sub, rg string) ([]M, error), idOf func(*M) string, render func(*M) W) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	scope := "/subscriptions/" + sub
	if rg != "" {
		scope += "/resourceGroups/" + rg
	}
	can, as, err := h.readCheck(c)
	if err != nil {
		return err
	}
	if as != nil && !seesScope(as, policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}, scope) {
		return h.denied(c, scope, readAction)
	}
	if rg != "" {
		if _, err := h.Resources.Group(c.ctx(), sub, rg); err != nil {
			return err
		}
	}
	items, err := fetch(c.ctx(), sub, rg)
	if err != nil {
		return err
	}
	out := wire.Page[W]{Value: []W{}}
	for i := range items {
		if can(idOf(&items[i]), readAction) {
			out.Value = append(out.Value, render(&items[i]))
		}
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

// writeUpsert answers a PUT: 201 when it created the resource, else 200.
func writeUpsert(c *call, created bool, body any) error {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpx.WriteJSON(c.w, status, body)
	return nil
}

// deleteResult answers a DELETE as ARM does: 200 when something was
// deleted, 204 when there was nothing to delete.
func deleteResult(c *call, err error) error {
	switch {
	case errs.KindOf(err) == errs.NotExist:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	case err != nil:
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}
