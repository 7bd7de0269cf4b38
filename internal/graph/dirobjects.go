package graph

import (
	"context"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
)

// maxGetByIDs is Graph's limit on ids per getByIds request.
const maxGetByIDs = 1000

// directoryObject finds id among users, service principals and applications and
// renders it with its @odata.type; nil if it is neither (or not of a type
// in want, when want is not empty).
func (h *Handler) directoryObject(ctx context.Context, id string, want map[string]bool) (map[string]any, error) {
	if checkID(id) != nil {
		return nil, nil
	}
	ok := func(t string) bool { return len(want) == 0 || want[strings.ToLower(t)] }
	if ok("servicePrincipal") || ok("user") {
		p, err := h.Store.GetPrincipal(ctx, id)
		if err != nil && errs.KindOf(err) != errs.NotExist {
			return nil, err
		}
		if err == nil && p.Type == model.PrincipalUser && ok("user") {
			o := h.userJSON(p)
			o["@odata.type"] = "#microsoft.graph.user"
			return o, nil
		}
		if err == nil && p.Type != model.PrincipalApplication && p.Type != model.PrincipalUser && ok("servicePrincipal") {
			o := h.spJSON(p)
			o["@odata.type"] = "#microsoft.graph.servicePrincipal"
			return o, nil
		}
	}
	if ok("application") {
		p, err := h.Store.GetPrincipalByApplicationObjectID(ctx, id)
		if err != nil && errs.KindOf(err) != errs.NotExist {
			return nil, err
		}
		if err == nil {
			o := h.appJSON(p)
			o["@odata.type"] = "#microsoft.graph.application"
			return o, nil
		}
	}
	return nil, nil
}

// getByIDs answers POST /directoryObjects/getByIds, which az uses to name
// the principals of role assignments and to check an --assignee object id.
func (h *Handler) getByIDs(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var body struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if len(body.IDs) == 0 || len(body.IDs) > maxGetByIDs {
		return badRequest("Property 'ids' must list between 1 and 1000 object ids.")
	}
	want := map[string]bool{}
	for _, t := range body.Types {
		want[strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(t, "#"), "microsoft.graph."))] = true
	}
	out := []any{}
	seen := map[string]bool{}
	for _, id := range body.IDs {
		if seen[strings.ToLower(id)] {
			continue
		}
		seen[strings.ToLower(id)] = true
		o, err := h.directoryObject(ctx, id, want)
		if err != nil {
			return err
		}
		if o != nil {
			out = append(out, o)
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"@odata.context": h.odataContext("directoryObjects"), "value": out})
	return nil
}

// getDirectoryObject answers GET /directoryObjects/{id}.
func (h *Handler) getDirectoryObject(ctx context.Context, w http.ResponseWriter, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	o, err := h.directoryObject(ctx, id, nil)
	if err != nil {
		return err
	}
	if o == nil {
		return notFound(id)
	}
	o["@odata.context"] = h.odataContext("directoryObjects/$entity")
	httpx.WriteJSON(w, http.StatusOK, o)
	return nil
}
