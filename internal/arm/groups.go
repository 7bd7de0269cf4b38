package arm

import (
	"net/http"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/wire"
)

// Operation names the group handlers authorize.
const (
	groupRead   = "Microsoft.Resources/subscriptions/resourceGroups/read"
	groupWrite  = "Microsoft.Resources/subscriptions/resourceGroups/write"
	groupDelete = "Microsoft.Resources/subscriptions/resourceGroups/delete"
)

func groupWire(g *model.ResourceGroup, state string) wire.ResourceGroup {
	out := wire.ResourceGroup{ID: g.ResourceID(), Name: g.Name, Type: "Microsoft.Resources/resourceGroups", Location: g.Location, Tags: g.Tags}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	out.Properties.ProvisioningState = state
	return out
}

func (h *Handler) listGroups(c *call, sub string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if err := h.authorize(c, "/subscriptions/"+sub, groupRead); err != nil {
		return err
	}
	// az group list --tag k=v sends "tagName eq 'k' and tagValue eq 'v'";
	// the grammar is the generic listing's.
	f, err := parseResourceFilter(c.r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	gs, err := h.Store.ListResourceGroups(c.ctx(), sub)
	if err != nil {
		return err
	}
	out := wire.Page[wire.ResourceGroup]{Value: []wire.ResourceGroup{}}
	for i := range gs {
		if it := groupItem(&gs[i]); f.root == nil || f.root.match(&it) {
			out.Value = append(out.Value, groupWire(&gs[i], "Succeeded"))
		}
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func (h *Handler) group(c *call, sub, name string) error {
	scope := "/subscriptions/" + sub + "/resourceGroups/" + name
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		if err := h.authorize(c, scope, groupRead); err != nil {
			return err
		}
		g, err := h.Resources.Group(c.ctx(), sub, name)
		if err != nil {
			if c.r.Method == http.MethodHead && errs.KindOf(err) == errs.NotExist {
				c.w.WriteHeader(http.StatusNotFound)
				return nil
			}
			return err
		}
		if c.r.Method == http.MethodHead {
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
		httpx.WriteJSON(c.w, http.StatusOK, groupWire(g, "Succeeded"))
		return nil
	case http.MethodPut, http.MethodPatch:
		if err := h.authorize(c, scope, groupWrite); err != nil {
			return err
		}
		var body struct {
			Location string            `json:"location"`
			Tags     map[string]string `json:"tags"`
		}
		if err := decode(c, &body); err != nil {
			return err
		}
		if c.r.Method == http.MethodPatch {
			// PATCH changes only what it names.
			g, err := h.Resources.Group(c.ctx(), sub, name)
			if err != nil {
				return err
			}
			body.Location = g.Location
			if body.Tags == nil {
				body.Tags = g.Tags
			}
		}
		g, created, err := h.Resources.CreateOrUpdateGroup(c.ctx(), sub, name, body.Location, body.Tags)
		if err != nil {
			return err
		}
		return writeUpsert(c, created, groupWire(g, "Succeeded"))
	case http.MethodDelete:
		if err := h.authorize(c, scope, groupDelete); err != nil {
			return err
		}
		g, err := h.Resources.Group(c.ctx(), sub, name)
		if err != nil {
			return err
		}
		if err := h.deleteGroup(c, g); err != nil {
			return err
		}
		// ARM deletes asynchronously; Coffer finishes before answering but
		// keeps ARM's 202 + Location contract so pollers behave the same.
		id := resources.RandomID(18)
		h.rememberOp(id)
		loc := "https://" + c.host + "/subscriptions/" + sub + "/operationresults/" + id + "?api-version=" + c.api
		c.w.Header().Set("Location", loc)
		c.w.Header().Set("Azure-AsyncOperation", loc)
		c.w.Header().Set("Retry-After", "0")
		c.w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(c)
}

func (h *Handler) operationResult(c *call, id string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	if _, ok := h.ops.Load(id); !ok {
		return armErr(errs.NotExist, "OperationNotFound", "The operation '"+id+"' was not found.")
	}
	httpx.WriteJSON(c.w, http.StatusOK, map[string]string{"status": "Succeeded"})
	return nil
}

// deleteGroup deletes everything in the group: VMs (with their
// system-assigned identities and credentials), user-assigned identities,
// vaults (soft-deleted when soft delete is on) and role assignments at or
// below the group's scope, then the group itself.
func (h *Handler) deleteGroup(c *call, g *model.ResourceGroup) error {
	ctx := c.ctx()
	vms, err := h.Store.ListComputes(ctx, g.SubscriptionID, g.Name)
	if err != nil {
		return err
	}
	for _, vm := range vms {
		if err := h.Resources.DeleteVM(ctx, g.SubscriptionID, g.Name, vm.Name); err != nil && errs.KindOf(err) != errs.NotExist {
			return err
		}
	}
	ids, err := h.Store.ListUAMIs(ctx, g.SubscriptionID, g.Name)
	if err != nil {
		return err
	}
	for _, u := range ids {
		if err := h.Resources.DeleteUAMI(ctx, g.SubscriptionID, g.Name, u.Name); err != nil && errs.KindOf(err) != errs.NotExist {
			return err
		}
	}
	vs, err := h.Vaults.ListVaults(ctx, g.SubscriptionID, g.Name)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if _, err := h.Vaults.DeleteVault(ctx, g.SubscriptionID, g.Name, v.Name); err != nil {
			return err
		}
	}
	as, err := h.Store.ListRoleAssignments(ctx)
	if err != nil {
		return err
	}
	for _, a := range as {
		if policy.ScopeCovers(g.ResourceID(), a.Scope) {
			if err := h.Store.DeleteRoleAssignment(ctx, a.Name); err != nil && errs.KindOf(err) != errs.NotExist {
				return err
			}
		}
	}
	return h.Store.DeleteResourceGroup(ctx, g.SubscriptionID, g.Name)
}

// opTTL is how long a finished operation can be polled.
const opTTL = time.Hour

// rememberOp records a finished operation and forgets expired ones, so
// the map stays bounded by the deletes of the last hour.
func (h *Handler) rememberOp(id string) {
	now := h.Now()
	h.ops.Range(func(k, v any) bool {
		if t, ok := v.(time.Time); ok && now.Sub(t) > opTTL {
			h.ops.Delete(k)
		}
		return true
	})
	h.ops.Store(id, now)
}
