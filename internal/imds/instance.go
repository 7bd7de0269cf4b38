package imds

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/httpx"
)

// instance serves /metadata/instance and its route-filtered sub-paths, e.g.
// /metadata/instance/compute/vmId?format=text. The document comes from the
// server on every request (it changes when tags or identities do); the
// metadata rate limit bounds how often.
func (f *Front) instance(w http.ResponseWriter, r *http.Request, q url.Values, p string) {
	if !checkAPIVersion(w, q, catMetadata) {
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "text" {
		writeMetadataError(w, http.StatusBadRequest, "The format must be json or text.")
		return
	}
	if !f.metadataRate.take(f.Now()) {
		writeTooMany(w, catMetadata)
		return
	}
	doc, _, err := f.Instance(r.Context())
	if err != nil {
		f.answerInstanceError(w, r, catMetadata, err)
		return
	}
	var segs []string
	if rest := strings.Trim(strings.TrimPrefix(p, InstancePath), "/"); rest != "" {
		segs = strings.Split(rest, "/")
	}
	node, ok := lookup(doc, segs)
	if !ok {
		writeMetadataError(w, http.StatusNotFound, "Not found")
		return
	}
	_, isMap := node.(map[string]any)
	_, isList := node.([]any)
	leaf := !isMap && !isList
	switch {
	case leaf && format != "text":
		writeMetadataError(w, http.StatusBadRequest, "Leaf nodes can only be returned with format=text.")
	case format == "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(text(node)))
	default:
		httpx.WriteJSON(w, http.StatusOK, node)
	}
}

// lookup walks the document by path segments, matching object keys
// case-insensitively (paths are lower-cased) and array elements by index.
func lookup(node any, segs []string) (any, bool) {
	for _, s := range segs {
		switch v := node.(type) {
		case map[string]any:
			found := false
			for k, child := range v {
				if strings.EqualFold(k, s) {
					node, found = child, true
					break
				}
			}
			if !found {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			node = v[i]
		default:
			return nil, false
		}
	}
	return node, true
}

// text renders a node as IMDS's format=text does: a leaf as its value, an
// object or array as one child per line, with "/" after inner nodes.
func text(node any) string {
	var lines []string
	child := func(name string, c any) {
		switch c.(type) {
		case map[string]any, []any:
			name += "/"
		}
		lines = append(lines, name)
	}
	switch v := node.(type) {
	case map[string]any:
		for k, c := range v {
			child(k, c)
		}
		slices.Sort(lines)
	case []any:
		for i, c := range v {
			child(strconv.Itoa(i), c)
		}
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
	return strings.Join(lines, "\n")
}
