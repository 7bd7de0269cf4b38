// Package arm serves Coffer's Azure Resource Manager-compatible control
// plane: subscriptions, resource groups, virtual machines (identity
// holders), user-assigned identities, key vaults with access policies,
// deleted vaults and role assignments, in ARM's wire shapes and errors.
// Every request needs a management-audience token; the bootstrap admin may
// do everything, other principals need Owner/Contributor (or Reader for
// reads) role assignments covering the resource.
package arm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/store"
	"github.com/coffer-dev/coffer/internal/vaults"
	"github.com/coffer-dev/coffer/internal/wire"
)

// MaxBodyBytes bounds ARM request bodies.
const MaxBodyBytes = 1 << 20

// Verifier verifies bearer tokens.
type Verifier interface {
	Verify(raw string, audOK func(aud string) bool) (*identity.Claims, error)
}

// Handler serves ARM.
type Handler struct {
	Vaults         *vaults.Service
	Resources      *resources.Service
	Store          *store.Store
	Verify         Verifier
	Profile        cloud.Profile
	TenantID       string
	SubscriptionID string
	AdminObjectID  string
	Logger         *slog.Logger
	Now            func() time.Time
}

// call is one parsed ARM request.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	segs   []string
	caller *identity.Claims
	api    string
	host   string
	now    time.Time
}

func (c *call) ctx() context.Context { return c.r.Context() }

var apiVersionRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(-preview|-beta|-alpha)?$`)

// wellFormedVersion reports whether v is a date (a real one) with an
// optional pre-release suffix, the only shape ARM accepts.
func wellFormedVersion(v string) bool {
	m := apiVersionRE.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	_, err := time.Parse(time.DateOnly, m[1])
	return err == nil
}

// ServeHTTP handles /subscriptions/... requests.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-correlation-request-id", httpx.RequestID(r.Context()))
	w.Header().Set("x-ms-routing-request-id", "LOCAL:"+httpx.RequestID(r.Context()))
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "-1")
	if err := h.serve(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	c := &call{w: w, r: r, host: strings.TrimSuffix(strings.ToLower(r.Host), ":443"), now: h.Now()}
	claims, err := h.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://`+h.loginHost(r)+`/`+h.TenantID+`", error="invalid_token", error_description="The access token is missing or invalid."`)
		return err
	}
	c.caller = claims
	c.api = r.URL.Query().Get("api-version")
	if c.api == "" {
		return armErr(errs.Invalid, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if !wellFormedVersion(c.api) {
		return invalidAPIVersion(c.api)
	}
	for _, s := range strings.Split(r.URL.Path, "/") {
		if s != "" {
			c.segs = append(c.segs, s)
		}
	}
	return h.route(c)
}

func (h *Handler) loginHost(r *http.Request) string {
	if h.Profile.LoginHost != "" {
		return h.Profile.LoginHost
	}
	return "localhost" + cloud.PortSuffix(r.Host)
}

func (h *Handler) authenticate(r *http.Request) (*identity.Claims, error) {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, armErr(errs.Unauthenticated, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	var badAud string
	claims, err := h.Verify.Verify(strings.TrimSpace(raw), func(aud string) bool {
		ok := h.Profile.IsManagementAudience(aud)
		if !ok {
			badAud = aud
		}
		return ok
	})
	if err != nil {
		if badAud != "" {
			return nil, armErr(errs.Unauthenticated, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource '"+
				badAud+"'. It should exactly match with one of the allowed audiences '"+strings.Join(h.Profile.ManagementAudiences, "','")+"'.")
		}
		_, _, msg := errs.Details(err)
		return nil, armErr(errs.Unauthenticated, "InvalidAuthenticationToken", "The access token is invalid. "+string(msg))
	}
	// Only a principal that is really gone makes the token invalid; a
	// store that cannot answer is the server's fault (500/503), not the
	// caller's.
	p, err := h.Store.GetPrincipal(r.Context(), claims.ObjectID)
	if err != nil && errs.KindOf(err) != errs.NotExist {
		return nil, err
	}
	if err != nil || p.Type == model.PrincipalApplication {
		return nil, armErr(errs.Unauthenticated, "InvalidAuthenticationToken", "The access token's principal no longer exists.")
	}
	if p.Disabled {
		return nil, armErr(errs.Unauthenticated, "InvalidAuthenticationToken", "The access token's principal is disabled.")
	}
	return claims, nil
}

func armErr(kind errs.Kind, code, msg string) error {
	return errs.E(kind, errs.Code(code), errs.Msg(msg))
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := errs.KindOf(err)
	code, _, msg := errs.Details(err)
	if code == "" && (kind == errs.Exist || kind == errs.Conflict) {
		// A lost create race or CAS conflict in the store: ARM's answer.
		code, msg = "Conflict", "The resource was changed by a concurrent request; retry the operation."
	}
	if kind == errs.Unavailable {
		// ARM's answer when a backend is down; clients retry after it.
		w.Header().Set("Retry-After", "5")
		code, msg = "ServiceUnavailable", "The service is temporarily unavailable. Please retry the request."
	}
	if code == "" || kind == errs.Other || kind == errs.Internal {
		h.Logger.ErrorContext(r.Context(), "arm request failed", "request_id", httpx.RequestID(r.Context()), "err", err)
		code, msg = "InternalServerError", errs.Msg("An internal error occurred. Request id: "+httpx.RequestID(r.Context()))
	}
	httpx.WriteJSON(w, httpx.Status(kind), wire.KeyVaultError{Error: wire.ErrorDetail{Code: string(code), Message: string(msg)}})
}

// authorize checks the caller may perform action (an Azure operation name
// such as "Microsoft.KeyVault/vaults/write") on scope: the admin always
// may; others need a role assignment at or above scope whose role grants it.
func (h *Handler) authorize(c *call, scope, action string) error {
	if strings.EqualFold(c.caller.ObjectID, h.AdminObjectID) {
		return nil
	}
	assignments, err := h.Store.ListRoleAssignments(c.ctx())
	if err != nil {
		return err
	}
	if policy.AllowedControlAction(assignments, policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}, scope, action) {
		return nil
	}
	return h.denied(c, scope, action)
}

// denied is ARM's 403 for an action the caller's roles do not grant.
func (h *Handler) denied(c *call, scope, action string) error {
	return armErr(errs.Permission, "AuthorizationFailed", "The client '"+c.caller.AppID+"' with object id '"+c.caller.ObjectID+
		"' does not have authorization to perform action '"+action+"' over scope '"+scope+
		"' or the scope is invalid. If access was recently granted, please refresh your credentials.")
}

// decode reads a JSON body into v.
func decode(c *call, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return armErr(errs.TooLarge, "RequestEntityTooLarge", "The request body is too large.")
		}
		return armErr(errs.Invalid, "InvalidRequestContent", "The request content could not be read.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return armErr(errs.Invalid, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return armErr(errs.Invalid, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+jsonProblem(err))
	}
	return checkBodyTags(b)
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error."
	case errors.As(err, &te):
		return "property '" + te.Field + "' has the wrong type."
	}
	return "malformed JSON."
}

func eq(a, b string) bool { return strings.EqualFold(a, b) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func systemData(createdBy string, created time.Time, updatedBy string, updated time.Time) *wire.SystemData {
	return &wire.SystemData{CreatedBy: createdBy, CreatedByType: "Application", CreatedAt: rfc3339(created),
		LastModifiedBy: updatedBy, LastModifiedByType: "Application", LastModifiedAt: rfc3339(updated)}
}
