package graph

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/graph/odata"
)

// Page sizes: Graph returns 100 directory objects per page unless $top
// asks for between 1 and 999.
const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// query is a parsed set of OData query options for a collection.
type query struct {
	filter   odata.Node    // nil: none
	search   *odata.Search // nil: none
	selected []string      // canonical names; nil: all
	top      int
	skip     int // from $skiptoken
	count    bool
	eventual bool // ConsistencyLevel: eventual
	orderBy  string
	desc     bool
}

// queryOptions Coffer serves; other $-options get a clear error.
var servedOptions = map[string]bool{"$filter": true, "$search": true, "$select": true, "$top": true, "$skiptoken": true, "$count": true, "$orderby": true}

func unsupportedQuery(msg string) error {
	return &gerr{http.StatusBadRequest, "Request_UnsupportedQuery", msg}
}

// filterError maps an odata error to Graph's codes.
func filterError(err error) error {
	var fe *odata.Error
	if !errors.As(err, &fe) {
		return err
	}
	switch fe.Kind {
	case odata.Unsupported:
		return unsupportedQuery(fe.Message)
	}
	return &gerr{http.StatusBadRequest, "BadRequest", fe.Message}
}

// parseQuery reads the OData options of a list request against schema s.
func parseQuery(r *http.Request, s *odata.Schema) (*query, error) {
	raw, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &gerr{http.StatusBadRequest, "BadRequest", "The query string is not valid."}
	}
	q := &query{top: defaultPageSize, eventual: eventual(r)}
	opts := map[string]string{}
	for k, vs := range raw {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "$") {
			continue // Graph ignores parameters that are not query options
		}
		if !servedOptions[lk] {
			if lk == "$skip" {
				return nil, &gerr{http.StatusBadRequest, "Request_BadRequest", "'$skip' is not supported by the service."}
			}
			return nil, &gerr{http.StatusBadRequest, "BadRequest", fmt.Sprintf("The query option '%s' is not supported by Coffer's Microsoft Graph.", k)}
		}
		if _, dup := opts[lk]; dup || len(vs) > 1 {
			return nil, &gerr{http.StatusBadRequest, "BadRequest", fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", strings.TrimPrefix(k, "$"))}
		}
		opts[lk] = vs[0]
	}
	if v, ok := opts["$count"]; ok {
		switch strings.ToLower(v) {
		case "true":
			q.count = true
		case "false":
		default:
			return nil, &gerr{http.StatusBadRequest, "BadRequest", fmt.Sprintf("'%s' is not a valid count option.", v)}
		}
	}
	advanced := q.eventual && q.count
	if v, ok := opts["$filter"]; ok {
		n, err := odata.Parse(v)
		if err == nil {
			n, err = s.Check(n, advanced)
		}
		if err != nil {
			return nil, filterError(err)
		}
		q.filter = n
	}
	if v, ok := opts["$search"]; ok {
		if !q.eventual {
			return nil, unsupportedQuery("Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
		}
		sr, err := odata.ParseSearch(v)
		if err == nil {
			err = s.CheckSearch(sr, searchable...)
		}
		if err != nil {
			var fe *odata.Error
			if errors.As(err, &fe) && fe.Kind == odata.Syntax {
				return nil, &gerr{http.StatusBadRequest, "Request_BadRequest", "Invalid search clause: " + fe.Message}
			}
			return nil, filterError(err)
		}
		q.search = sr
	}
	if v, ok := opts["$select"]; ok {
		sel, err := parseSelect(v, s)
		if err != nil {
			return nil, err
		}
		q.selected = sel
	}
	if v, ok := opts["$top"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > maxPageSize {
			return nil, &gerr{http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, maxPageSize)}
		}
		q.top = n
	}
	if v, ok := opts["$skiptoken"]; ok {
		n, err := decodeSkipToken(v)
		if err != nil {
			return nil, &gerr{http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request."}
		}
		q.skip = n
	}
	if v, ok := opts["$orderby"]; ok {
		prop, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
		dir = strings.ToLower(strings.TrimSpace(dir))
		// Graph sorts directory objects by displayName only; with a
		// $filter only in an advanced query ($search already requires
		// ConsistencyLevel: eventual).
		if !strings.EqualFold(prop, "displayName") || dir != "" && dir != "asc" && dir != "desc" ||
			q.filter != nil && !advanced {
			return nil, unsupportedQuery("Sorting not supported for current query.")
		}
		q.orderBy, q.desc = "displayName", dir == "desc"
	}
	return q, nil
}

// parseSelect resolves a $select list to canonical property names.
func parseSelect(v string, s *odata.Schema) ([]string, error) {
	var out []string
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "*" {
			return nil, nil
		}
		p := s.Lookup(name)
		if p == nil {
			return nil, &gerr{http.StatusBadRequest, "BadRequest", fmt.Sprintf("Parsing OData Select and Expand failed: Could not find a property named '%s' on type '%s'.", name, s.Type)}
		}
		out = append(out, p.Name)
	}
	return out, nil
}

// project keeps only the selected properties of obj (all if sel is nil).
func project(obj map[string]any, sel []string) map[string]any {
	if sel == nil {
		return obj
	}
	out := make(map[string]any, len(sel))
	for _, k := range sel {
		out[k] = obj[k]
	}
	return out
}

// contextSuffix is the @odata.context part naming a projection:
// "(displayName,appId)" or "".
func contextSuffix(sel []string) string {
	if sel == nil {
		return ""
	}
	return "(" + strings.Join(sel, ",") + ")"
}

func encodeSkipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("coffer-page:" + strconv.Itoa(offset)))
}

func decodeSkipToken(tok string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "coffer-page:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(b), "coffer-page:") {
		return 0, errors.New("bad skip token")
	}
	return n, nil
}

// apply filters, searches and sorts objs (rendered entities).
func (q *query) apply(objs []map[string]any) []map[string]any {
	out := objs[:0:0]
	for _, o := range objs {
		if q.filter != nil && !odata.Eval(q.filter, o) || q.search != nil && !q.search.Match(o) {
			continue
		}
		out = append(out, o)
	}
	if q.orderBy != "" {
		sort.SliceStable(out, func(i, j int) bool {
			a, _ := out[i][q.orderBy].(string)
			b, _ := out[j][q.orderBy].(string)
			if q.desc {
				return strings.ToLower(a) > strings.ToLower(b)
			}
			return strings.ToLower(a) < strings.ToLower(b)
		})
	}
	return out
}

// nextLink is the URL of the page after this one: the request's own URL
// with $skiptoken replaced, on the host the client used.
func nextLink(r *http.Request, offset int) string {
	vals := r.URL.Query()
	for k := range vals {
		if strings.EqualFold(k, "$skiptoken") {
			vals.Del(k)
		}
	}
	vals.Set("$skiptoken", encodeSkipToken(offset))
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + r.URL.Path + "?" + vals.Encode()
}

// eventual reports whether the client asked for an advanced query's
// eventual consistency.
func eventual(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}
