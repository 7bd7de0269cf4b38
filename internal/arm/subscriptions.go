package arm

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
)

const subscriptionRead = "Microsoft.Resources/subscriptions/read"

// subscriptionVisible reports whether the caller sees the subscription: as
// in Azure, a principal sees a subscription when it holds a role
// assignment (directly or through a group) at, above or anywhere under
// it. Access policies on a vault do not count, so a VM identity that may
// only read secrets sees no subscription (`az login --identity` then needs
// --allow-no-subscriptions, as against Azure).
func (h *Handler) subscriptionVisible(c *call, sub string) (bool, error) {
	if strings.EqualFold(c.caller.ObjectID, h.AdminObjectID) {
		return true, nil
	}
	as, err := h.Store.ListRoleAssignments(c.ctx())
	if err != nil {
		return false, err
	}
	return seesScope(as, policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}, "/subscriptions/"+sub), nil
}

// seesScope: some assignment of a known role to the caller (or one of its
// groups) lies at, above or under scope.
func seesScope(as []model.RoleAssignment, caller policy.Caller, scope string) bool {
	for _, a := range as {
		if !strings.EqualFold(a.PrincipalID, caller.ObjectID) && !containsFold(caller.Groups, a.PrincipalID) {
			continue
		}
		if _, ok := policy.LookupRole(a.RoleDefinitionID); !ok {
			continue
		}
		if policy.ScopeCovers(a.Scope, scope) || policy.ScopeCovers(scope, a.Scope) {
			return true
		}
	}
	return false
}

// requireSubscriptionVisible answers 403 as ARM does for a subscription
// the caller has no role in.
func (h *Handler) requireSubscriptionVisible(c *call, sub string) error {
	ok, err := h.subscriptionVisible(c, sub)
	if err != nil || ok {
		return err
	}
	return h.denied(c, "/subscriptions/"+sub, subscriptionRead)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (h *Handler) listSubscriptions(c *call) error {
	out := []any{}
	ok, err := h.subscriptionVisible(c, h.SubscriptionID)
	if err != nil {
		return err
	}
	if ok {
		out = append(out, h.subscription())
	}
	httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (h *Handler) getSubscription(c *call) error {
	if err := h.requireSubscriptionVisible(c, h.SubscriptionID); err != nil {
		return err
	}
	httpx.WriteJSON(c.w, http.StatusOK, h.subscription())
	return nil
}

// listTenants answers GET /tenants: every principal belongs to Coffer's
// one tenant, with or without a subscription.
func (h *Handler) listTenants(c *call) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"value": []any{map[string]any{
		"id": "/tenants/" + h.TenantID, "tenantId": h.TenantID, "tenantCategory": "Home",
		"displayName": "Coffer",
	}}})
	return nil
}
