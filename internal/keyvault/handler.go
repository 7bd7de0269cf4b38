// Package keyvault serves the Azure Key Vault secrets data plane over HTTP:
// routing, the bearer challenge, token verification, api-version handling,
// request parsing, paging, and rendering of Key Vault's JSON and errors.
// Semantics live in internal/vaults; this package only translates.
//
// Order of checks matters to unmodified SDKs: the 401 challenge comes before
// anything else, because the SDKs' first request carries neither a token nor
// its body (azure-wire-spec §0.1).
package keyvault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// MaxBodyBytes bounds request bodies; a 25 KB value plus attributes and 15
// long tags fits with room to spare.
const MaxBodyBytes = 256 << 10

// Verifier verifies bearer tokens.
type Verifier interface {
	Verify(raw string, audOK func(aud string) bool) (*identity.Claims, error)
}

// PrincipalLookup tells whether a token's subject still exists, so tokens of
// deleted identities stop working at once rather than at expiry.
type PrincipalLookup interface {
	GetPrincipal(ctx context.Context, objectID string) (*model.Principal, error)
}

// Handler serves the data plane.
type Handler struct {
	Vaults     *vaults.Service
	Verify     Verifier
	Principals PrincipalLookup
	Profile    cloud.Profile
	TenantID   string
	// DefaultVault serves requests whose Host names no vault (localhost, an IP).
	DefaultVault string
	Logger       *slog.Logger
	// Throttle, if set, limits transactions per vault (429 Throttled).
	Throttle *Throttle

	lastAudience atomic.Pointer[string] // see vaultAudience
}

// request is one parsed data-plane request.
type request struct {
	r      *http.Request
	host   string // Host as the client sent it, for ids and links
	vault  string
	caller policy.Caller
	api    apiVersion
	segs   []string // path segments from "secrets"/"deletedsecrets" on
	trail  bool     // path ended with "/"
	query  map[string][]string
	w      http.ResponseWriter // for headers set before the body (Retry-After)
}

// staticHeaders are set on every response. Keys are canonical and the value
// slices shared, so setting them allocates nothing; net/http only reads
// them, and Header.Set/Add replace or copy rather than write into them.
var staticHeaders = []struct {
	key   string
	value []string
}{
	{"Cache-Control", []string{"no-cache"}},
	{"Pragma", []string{"no-cache"}},
	{"Expires", []string{"-1"}},
	{"Strict-Transport-Security", []string{"max-age=31536000;includeSubDomains"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Ms-Keyvault-Region", []string{vaults.Location}},
	{"X-Ms-Keyvault-Service-Version", []string{"1.9.0.0-coffer"}},
}

// ServeHTTP serves one data-plane request for the vault named by Host.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for _, sh := range staticHeaders {
		hdr[sh.key] = sh.value
	}
	if a := peerAddr(r); a.IsValid() {
		fam, conn := "InterNetwork", "Ipv4"
		if !a.Unmap().Is4() {
			fam, conn = "InterNetworkV6", "Ipv6"
		}
		hdr["X-Ms-Keyvault-Network-Info"] = []string{"conn_type=" + conn + ";addr=" + a.Unmap().String() + ";act_addr_fam=" + fam + ";"}
	}
	if err := h.serve(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	req := &request{r: r, host: canonicalHost(r.Host)}
	class, vault := h.Profile.Classify(r.Host)
	if class == cloud.HostVault {
		req.vault = vault
	} else {
		req.vault = h.DefaultVault
	}
	if err := h.authenticate(r.Context(), req); err != nil {
		h.challenge(w, r)
		return err
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	req.query = q
	ver := first(q, "api-version")
	if ver == "" {
		return badParameter("The api-version query parameter is required. Consider using the latest supported version (" + LatestAPIVersion + ").")
	}
	api, ok := parseAPIVersion(ver)
	if !ok {
		return badParameter("The specified version (" + ver + ") is not recognized. Consider using the latest supported version (" + LatestAPIVersion + ").")
	}
	req.api = api
	req.segs, req.trail, err = splitPath(r.URL.EscapedPath())
	if err != nil {
		return badParameter("The request URI is malformed.")
	}
	method := methodOf(r)
	route, allowed, ok := h.route(method, req.segs)
	if !ok {
		return errs.E(errs.NotExist, errs.Code("BadParameter"), errs.Msg("The request URI is not a supported Key Vault path: "+method+" "+r.URL.Path))
	}
	if route == nil {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return errs.E(errs.MethodNotAllowed, errs.Code("BadParameter"), errs.Msg("The HTTP method '"+method+"' is not supported on this path."))
	}
	req.w = w
	return route(w, req)
}

// methodOf honours Key Vault's documented method override: a POST with
// X-HTTP-Method (also spelt X-HTTP-REQUEST) PATCH or DELETE is that method,
// for clients that cannot send them. Nothing else can be overridden.
func methodOf(r *http.Request) string {
	if r.Method != http.MethodPost {
		return r.Method
	}
	o := r.Header.Get("X-HTTP-Method")
	if o == "" {
		o = r.Header.Get("X-HTTP-REQUEST")
	}
	switch o = strings.ToUpper(strings.TrimSpace(o)); o {
	case http.MethodPatch, http.MethodDelete:
		return o
	}
	return r.Method
}

// canonicalHost drops a default :443 so ids match the real service's.
func canonicalHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ":443")
}

// parseQuery decodes keys and values (JS sends api%2Dversion) and rejects
// duplicated parameters rather than guessing which one counts. Its errors
// are BadParameter errors ready to render.
func parseQuery(raw string) (map[string][]string, error) {
	q := make(map[string][]string, 2)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := unescape(k)
		val, err2 := unescape(v)
		if err1 != nil || err2 != nil {
			return nil, badParameter("The request query string is malformed.")
		}
		key = strings.ToLower(key)
		if _, dup := q[key]; dup {
			return nil, badParameter("The query parameter '" + key + "' is given more than once.")
		}
		q[key] = append(q[key], val)
	}
	return q, nil
}

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// splitPath collapses repeated slashes and returns the segments from the
// first "secrets" or "deletedsecrets" on, ignoring any vault-URL prefix.
// It splits the escaped path before unescaping each segment, so that an
// encoded slash stays inside its segment: SDKs path-escape names, and a
// name "a/b" must be rejected as a name, not routed as name "a" version "b".
func splitPath(escaped string) ([]string, bool, error) {
	trail := strings.HasSuffix(escaped, "/")
	segs := make([]string, 0, 4)
	for rest := escaped; rest != ""; {
		var s string
		s, rest, _ = strings.Cut(rest, "/")
		if s == "" {
			continue
		}
		seg, err := url.PathUnescape(s)
		if err != nil {
			return nil, false, err
		}
		segs = append(segs, seg)
	}
	for i, s := range segs {
		if strings.EqualFold(s, "secrets") || strings.EqualFold(s, "deletedsecrets") || strings.EqualFold(s, "keys") || strings.EqualFold(s, "deletedkeys") ||
			strings.EqualFold(s, "certificates") || strings.EqualFold(s, "deletedcertificates") {
			out := segs[i:]
			out[0] = strings.ToLower(out[0])
			return out, trail, nil
		}
	}
	return segs, trail, nil
}

type routeFunc func(w http.ResponseWriter, req *request) error

// op is an operation before it is bound to a Handler.
type op func(h *Handler, w http.ResponseWriter, req *request) error

// methods maps HTTP methods to operations for one path shape. The tables
// are built once: a map literal per request was a measurable share of the
// GET path's allocations.
type methods map[string]op

var (
	routesSecrets     = methods{"GET": (*Handler).listSecrets}
	routesSecret      = methods{"GET": (*Handler).getSecret, "PUT": (*Handler).setSecret, "PATCH": (*Handler).updateSecret, "DELETE": (*Handler).deleteSecret}
	routesVersion     = methods{"GET": (*Handler).getSecret, "PATCH": (*Handler).updateSecret}
	routesBackup      = methods{"POST": (*Handler).backupSecret}
	routesDeletedList = methods{"GET": (*Handler).listDeleted}
	routesDeleted     = methods{"GET": (*Handler).getDeleted, "DELETE": (*Handler).purgeDeleted}
	routesRecover     = methods{"POST": (*Handler).recoverDeleted}
)

// route picks the operation. ok=false means no such path; a nil func with
// ok=true means the path exists but not for this method, and allowed lists
// the methods it has (for the Allow header of the 405).
func (h *Handler) route(method string, segs []string) (f routeFunc, allowed []string, ok bool) {
	o, allowed, ok := pickRoute(method, segs)
	if o == nil {
		return nil, allowed, ok
	}
	return func(w http.ResponseWriter, req *request) error { return o(h, w, req) }, nil, true
}

func pickRoute(method string, segs []string) (op, []string, bool) {
	pick := func(m methods, extra ...string) (op, []string, bool) {
		if f := m[method]; f != nil {
			return f, nil, true
		}
		allowed := extra
		for k := range m {
			allowed = append(allowed, k)
		}
		slices.Sort(allowed)
		return nil, allowed, true
	}
	if len(segs) == 0 {
		return nil, nil, false
	}
	switch segs[0] {
	case "secrets":
		switch len(segs) {
		case 1:
			return pick(routesSecrets)
		case 2:
			if strings.EqualFold(segs[1], "restore") {
				if method == http.MethodPost {
					return (*Handler).restoreSecret, nil, true
				}
				return pick(routesSecret, "POST")
			}
			return pick(routesSecret)
		case 3:
			switch {
			case strings.EqualFold(segs[2], "versions") && method == http.MethodGet:
				return (*Handler).listVersions, nil, true
			case strings.EqualFold(segs[2], "backup"):
				return pick(routesBackup)
			}
			return pick(routesVersion)
		}
	case "keys", "deletedkeys":
		return pickKeyRoute(method, segs, pick)
	case "certificates", "deletedcertificates":
		return pickCertRoute(method, segs, pick)
	case "deletedsecrets":
		switch len(segs) {
		case 1:
			return pick(routesDeletedList)
		case 2:
			return pick(routesDeleted)
		case 3:
			if strings.EqualFold(segs[2], "recover") {
				return pick(routesRecover)
			}
		}
	}
	return nil, nil, false
}

// name and version segments of /secrets/{name}[/{version}].
func (req *request) name() string { return req.segs[1] }
func (req *request) version() string {
	if len(req.segs) > 2 {
		return req.segs[2]
	}
	return ""
}

func badParameter(msg string) error {
	return errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg(msg))
}

// decode reads a JSON body into v, bounded by MaxBodyBytes.
func decode(req *request, v any) error {
	body := http.MaxBytesReader(nil, req.r.Body, MaxBodyBytes)
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errs.E(errs.TooLarge, errs.Code("RequestBodyTooLarge"), errs.Msg("The request body is too large."))
		}
		return badParameter("The request body could not be read.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return badParameter("The request body is empty; a JSON object is required.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badParameter("The request body is not valid JSON: " + jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the body (which
// may hold a secret value).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + itoa(se.Offset) + "."
	case errors.As(err, &te):
		return "property '" + te.Field + "' has the wrong type."
	}
	return "malformed."
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// decodeBase64URL accepts base64url with or without padding (and standard
// base64, which some tools produce).
func decodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
