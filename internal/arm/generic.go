package arm

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

// genericItem is one resource as the generic listings see it.
type genericItem struct {
	ID, Name, Type, Location, ResourceGroup string
	Tags                                    map[string]string
	Identity                                *wire.ResourceIdentity
	Created, Changed                        time.Time
	readAction                              string
}

// maxPage is ARM's page size for the generic listings.
const maxPage = 1000

// listResources answers GET /subscriptions/{sub}[/resourceGroups/{rg}]/resources:
// every vault, VM and user-assigned identity the caller may read, filtered
// by $filter, in pages of $top (at most 1000) linked by nextLink/$skiptoken.
// ARM filters a collection by the caller's access rather than refusing it,
// so a principal with a role on one group sees that group's resources.
func (h *Handler) listResources(c *call, sub, rg string) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c)
	}
	q := c.r.URL.Query()
	f, err := parseResourceFilter(q.Get("$filter"))
	if err != nil {
		return err
	}
	size, err := pageSize(q.Get("$top"))
	if err != nil {
		return err
	}
	after, err := decodeSkipToken(q.Get("$skiptoken"))
	if err != nil {
		return err
	}
	can, as, err := h.readCheck(c)
	if err != nil {
		return err
	}
	// A caller with no role at, above or under the listed scope is refused
	// (403), one with some role gets what it may read.
	scope, action := "/subscriptions/"+sub, "Microsoft.Resources/subscriptions/resources/read"
	if rg != "" {
		scope, action = scope+"/resourceGroups/"+rg, "Microsoft.Resources/subscriptions/resourceGroups/resources/read"
	}
	if as != nil && !seesScope(as, policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}, scope) {
		return h.denied(c, scope, action)
	}
	if rg != "" {
		g, err := h.Resources.Group(c.ctx(), sub, rg)
		if err != nil {
			return err
		}
		rg = g.Name
	}
	items, err := h.genericItems(c, sub, rg)
	if err != nil {
		return err
	}
	expand := expandSet(q.Get("$expand"))
	out := wire.Page[wire.GenericResource]{Value: []wire.GenericResource{}}
	for i := range items {
		it := &items[i]
		key := strings.ToLower(it.ID)
		if after != "" && key <= after {
			continue
		}
		if (f.root != nil && !f.root.match(it)) || !can(it.ID, it.readAction) {
			continue
		}
		if len(out.Value) == size {
			out.NextLink = nextLink(c, strings.ToLower(out.Value[len(out.Value)-1].ID))
			break
		}
		out.Value = append(out.Value, genericWire(it, f.tagged, expand))
	}
	httpx.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

// genericItems collects the resources of a subscription (or one group),
// sorted by id so that pages are stable.
func (h *Handler) genericItems(c *call, sub, rg string) ([]genericItem, error) {
	var items []genericItem
	vs, err := h.Vaults.ListVaults(c.ctx(), sub, rg)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		items = append(items, genericItem{ID: v.ResourceID(), Name: v.Name, Type: vaultResourceType, Location: v.Location,
			ResourceGroup: v.ResourceGroup, Tags: v.Tags, Created: v.Created, Changed: v.Updated, readAction: vaultRead})
	}
	vms, err := h.Store.ListComputes(c.ctx(), sub, rg)
	if err != nil {
		return nil, err
	}
	for i := range vms {
		vm := &vms[i]
		w := h.vmWire(c, vm)
		items = append(items, genericItem{ID: w.ID, Name: vm.Name, Type: w.Type, Location: vm.Location,
			ResourceGroup: vm.ResourceGroup, Tags: vm.Tags, Identity: w.Identity, Created: vm.Created, Changed: vm.Created, readAction: vmRead})
	}
	ids, err := h.Store.ListUAMIs(c.ctx(), sub, rg)
	if err != nil {
		return nil, err
	}
	for i := range ids {
		u := &ids[i]
		items = append(items, genericItem{ID: u.ResourceID(), Name: u.Name, Type: "Microsoft.ManagedIdentity/userAssignedIdentities",
			Location: u.Location, ResourceGroup: u.ResourceGroup, Tags: u.Tags, Created: u.Created, Changed: u.Created, readAction: identityRead})
	}
	sort.Slice(items, func(i, j int) bool { return strings.ToLower(items[i].ID) < strings.ToLower(items[j].ID) })
	return items, nil
}

// readCheck returns a cheap per-resource authorization test (one read of
// the role assignments for the whole listing) and, for callers other than
// the admin, the assignments it read.
func (h *Handler) readCheck(c *call) (func(scope, action string) bool, []model.RoleAssignment, error) {
	if strings.EqualFold(c.caller.ObjectID, h.AdminObjectID) {
		return func(string, string) bool { return true }, nil, nil
	}
	as, err := h.Store.ListRoleAssignments(c.ctx())
	if err != nil {
		return nil, nil, err
	}
	if as == nil {
		as = []model.RoleAssignment{}
	}
	caller := policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}
	return func(scope, action string) bool { return policy.AllowedControlAction(as, caller, scope, action) }, as, nil
}

func genericWire(it *genericItem, tagged bool, expand map[string]bool) wire.GenericResource {
	out := wire.GenericResource{ID: it.ID, Name: it.Name, Type: it.Type, Location: it.Location, Identity: it.Identity}
	// ARM leaves the tags out of a listing filtered by tag (Resources_List).
	if !tagged {
		out.Tags = it.Tags
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
	}
	if expand["createdtime"] && !it.Created.IsZero() {
		out.CreatedTime = it.Created.UTC().Format(time.RFC3339Nano)
	}
	if expand["changedtime"] && !it.Changed.IsZero() {
		out.ChangedTime = it.Changed.UTC().Format(time.RFC3339Nano)
	}
	if expand["provisioningstate"] {
		out.ProvisioningState = "Succeeded"
	}
	return out
}

// expandSet reads $expand, a comma-separated list; names Coffer has no
// data for are tolerated, as ARM tolerates them.
func expandSet(raw string) map[string]bool {
	out := map[string]bool{}
	for _, s := range strings.Split(raw, ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out[s] = true
		}
	}
	return out
}

func pageSize(raw string) (int, error) {
	if raw == "" {
		return maxPage, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, armErr(errs.Invalid, "InvalidTopInQueryString", "Invalid $top '"+raw+"' specified in the query string.")
	}
	return min(n, maxPage), nil
}

// The skip token is the (lower-cased) id of the last item of the previous
// page: a later page starts after it even when resources come and go
// between requests.
func decodeSkipToken(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || !strings.HasPrefix(string(b), "/subscriptions/") {
		return "", armErr(errs.Invalid, "InvalidSkipToken", "The $skiptoken '"+raw+"' is invalid.")
	}
	return string(b), nil
}

// nextLink is the request's own URL with the skip token of the next page.
func nextLink(c *call, lastID string) string {
	q := c.r.URL.Query()
	q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(lastID)))
	u := url.URL{Scheme: "https", Host: c.host, Path: c.r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// groupItem is a resource group seen by the listing filter.
func groupItem(g *model.ResourceGroup) genericItem {
	return genericItem{ID: g.ResourceID(), Name: g.Name, Type: "Microsoft.Resources/resourceGroups", Location: g.Location,
		ResourceGroup: g.Name, Tags: g.Tags}
}
