package graph

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/graph/odata"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
)

// renderAll returns every object of one collection, rendered.
type renderAll func(ctx context.Context) ([]map[string]any, error)

func (h *Handler) applications(ctx context.Context) ([]map[string]any, error) {
	all, err := h.Store.ListPrincipals(ctx)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for i := range all {
		if all[i].ApplicationObjectID != "" {
			out = append(out, h.appJSON(&all[i]))
		}
	}
	return out, nil
}

// servicePrincipals are app service principals and managed identities;
// an app registration without a service principal has none.
func (h *Handler) servicePrincipals(ctx context.Context) ([]map[string]any, error) {
	all, err := h.Store.ListPrincipals(ctx)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for i := range all {
		if all[i].Type != model.PrincipalApplication && all[i].Type != model.PrincipalUser {
			out = append(out, h.spJSON(&all[i]))
		}
	}
	return out, nil
}

// list answers GET /applications or /servicePrincipals with the OData
// query options Graph serves on them.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, s *odata.Schema, coll string, all renderAll) error {
	q, err := parseQuery(r, s)
	if err != nil {
		return err
	}
	objs, err := all(r.Context())
	if err != nil {
		return err
	}
	objs = q.apply(objs)
	total := len(objs)
	start := min(q.skip, total)
	end := min(start+q.top, total)
	page := make([]any, 0, end-start)
	for _, o := range objs[start:end] {
		page = append(page, project(o, q.selected))
	}
	body := map[string]any{"@odata.context": h.odataContext(coll + contextSuffix(q.selected)), "value": page}
	// Graph counts only in advanced queries; a bare $count=true is ignored.
	if q.count && q.eventual {
		body["@odata.count"] = total
	}
	if end < total {
		body["@odata.nextLink"] = nextLink(r, end)
	}
	httpx.WriteJSON(w, http.StatusOK, body)
	return nil
}

// count answers GET /{collection}/$count: a plain-text number, only with
// ConsistencyLevel: eventual, as Graph requires.
func (h *Handler) count(w http.ResponseWriter, r *http.Request, s *odata.Schema, all renderAll) error {
	if !eventual(r) {
		return &gerr{http.StatusBadRequest, "Request_BadRequest", "$count is not currently supported."}
	}
	q, err := parseQuery(r, s)
	if err != nil {
		return err
	}
	objs, err := all(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(strconv.Itoa(len(q.apply(objs)))))
	return nil
}

// getEntity writes one object, honouring $select.
func (h *Handler) getEntity(w http.ResponseWriter, r *http.Request, s *odata.Schema, coll string, obj map[string]any) error {
	var sel []string
	for k, v := range r.URL.Query() {
		if len(v) > 0 && strings.EqualFold(k, "$select") {
			var err error
			if sel, err = parseSelect(v[0], s); err != nil {
				return err
			}
		}
	}
	out := project(obj, sel)
	out["@odata.context"] = h.odataContext(coll + contextSuffix(sel) + "/$entity")
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
