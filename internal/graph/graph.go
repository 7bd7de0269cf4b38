// Package graph serves the Microsoft Graph v1.0 subset that the Azure CLI,
// the SDKs and CI pipelines use to manage credentials: applications (app
// registrations) with password credentials (addPassword/removePassword),
// service principals (including managed identities, as Entra lists them),
// directoryObjects/getByIds, users (who sign in to the portal and to
// interactive clients with a password; /users/{id or userPrincipalName}),
// and the OData query options Graph serves on them ($filter through
// package odata, $search, $select, $top with @odata.nextLink paging,
// $count, $orderby). Client secrets are returned once and stored hashed,
// passwords only as argon2id hashes. /me is the user of a delegated
// token, and answers as Graph does for app-only ones. Users read the
// directory; service principals and
// managed identities read or write it only with a Microsoft Graph
// application permission (Application.Read.All, Application.ReadWrite.All,
// Directory.Read.All, ...) granted as an appRoleAssignment on Graph's
// service principal and carried in their tokens' roles claim
// (approles.go); Azure RBAC roles (even Owner of the subscription) are
// not directory roles. The bootstrap admins (the service principal and
// the admin user) do everything, and only they change their own objects.
// accountEnabled disables a service principal (PATCH).
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// Verifier verifies bearer tokens.
type Verifier interface {
	Verify(raw string, audOK func(aud string) bool) (*identity.Claims, error)
}

// Handler serves /v1.0/applications and /v1.0/servicePrincipals.
type Handler struct {
	Store         *store.Store
	Verify        Verifier
	Profile       cloud.Profile
	TenantID      string
	AdminObjectID string
	// AdminUserObjectID is the bootstrap admin user, who may write too.
	AdminUserObjectID string
	// Domain is the tenant's domain, the only one users' UPNs may use.
	Domain string
	Logger *slog.Logger
	Now    func() time.Time
}

// DefaultSecretLifetime of a password credential when none is asked for.
const DefaultSecretLifetime = 2 * 365 * 24 * time.Hour

type gerr struct {
	status int
	code   string
	msg    string
}

func (e *gerr) Error() string { return e.code + ": " + e.msg }

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ge *gerr
	switch {
	case errors.As(err, &ge):
	case errs.KindOf(err) == errs.Unavailable:
		// Graph's documented answer for a backend that is down.
		h.Logger.WarnContext(r.Context(), "graph request failed", "err", err)
		w.Header().Set("Retry-After", "5")
		ge = &gerr{http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable. Please retry the request after a delay."}
	default:
		h.Logger.ErrorContext(r.Context(), "graph request failed", "err", err)
		ge = &gerr{http.StatusInternalServerError, "InternalServerError", "An internal error occurred."}
	}
	// Graph echoes the client's client-request-id and writes the date
	// without a zone designator.
	rid := httpx.RequestID(r.Context())
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = rid
	}
	httpx.WriteJSON(w, ge.status, map[string]any{"error": map[string]any{
		"code": ge.code, "message": ge.msg,
		"innerError": map[string]string{"date": h.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": rid, "client-request-id": crid},
	}})
}

// odataContext is the @odata.context URL for what, e.g. "applications/$entity".
func (h *Handler) odataContext(what string) string {
	return h.Profile.GraphResource() + "/v1.0/$metadata#" + what
}

// entity adds the @odata.context of a single entity of collection coll.
func (h *Handler) entity(coll string, m map[string]any) map[string]any {
	m["@odata.context"] = h.odataContext(coll + "/$entity")
	return m
}

func notFound(id string) error {
	return &gerr{http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func badRequest(msg string) error { return &gerr{http.StatusBadRequest, "Request_BadRequest", msg} }

// checkID rejects an object id that is not a GUID, as Graph does, before
// any lookup.
func checkID(id string) error {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return badRequest("Invalid object identifier '" + id + "'.")
	}
	return nil
}

// ref names one object in a path: by object id ("/servicePrincipals/{id}")
// or by Graph's alternate key ("/servicePrincipals(appId='{appId}')").
type ref struct{ id, appID string }

func (r ref) String() string {
	if r.appID != "" {
		return r.appID
	}
	return r.id
}

// collectionSegment splits "servicePrincipals(appId='x')" into the
// collection name and the alternate key, if any.
func collectionSegment(seg string) (string, *ref, error) {
	name, rest, ok := strings.Cut(seg, "(")
	if !ok {
		return seg, nil, nil
	}
	key, ok := strings.CutSuffix(rest, ")")
	prop, val, ok2 := strings.Cut(key, "=")
	if !ok || !ok2 || !strings.EqualFold(strings.TrimSpace(prop), "appId") {
		return "", nil, &gerr{http.StatusBadRequest, "BadRequest", "The key '" + key + "' is not valid: Coffer supports the alternate key appId='{appId}'."}
	}
	val = strings.TrimSpace(val)
	if len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
		return "", nil, &gerr{http.StatusBadRequest, "BadRequest", "Bad Request - Error in query syntax."}
	}
	return name, &ref{appID: strings.ReplaceAll(val[1:len(val)-1], "''", "'")}, nil
}

// ServeHTTP handles /v1.0/...
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="`+cloud.GraphAppID+`"`)
		return &gerr{http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty."}
	}
	claims, err := h.Verify.Verify(strings.TrimSpace(raw), h.Profile.IsGraphAudience)
	if err != nil {
		_, _, msg := errs.Details(err)
		return &gerr{http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. " + string(msg)}
	}
	// A store that cannot answer is the server's fault (500/503), not a
	// deleted principal.
	p, err := h.Store.GetPrincipal(r.Context(), claims.ObjectID)
	if err != nil && errs.KindOf(err) != errs.NotExist {
		return err
	}
	if err != nil || p.Type == model.PrincipalApplication {
		return &gerr{http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: the principal no longer exists."}
	}
	if p.Disabled {
		return &gerr{http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: the principal is disabled."}
	}
	var segs []string
	for _, s := range strings.Split(r.URL.Path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	if len(segs) < 2 || segs[0] != "v1.0" {
		return notFound(r.URL.Path)
	}
	coll, key, err := collectionSegment(segs[1])
	if err != nil {
		return err
	}
	rest := segs[2:]
	var id *ref
	if key != nil {
		id = key
	} else if len(rest) > 0 && rest[0] != "$count" && !strings.EqualFold(rest[0], "getByIds") {
		id, rest = &ref{id: rest[0]}, rest[1:]
	}
	// getByIds is a POST that only reads.
	read := r.Method == http.MethodGet || strings.EqualFold(coll, "directoryObjects") && len(rest) == 1 && strings.EqualFold(rest[0], "getByIds")
	if strings.EqualFold(coll, "me") {
		// /me is the signed-in user of a delegated token (az keyvault
		// create asks it for the creator's object id); every app-only
		// token gets Graph's answer for those, permissions or not.
		if claims.IDType != "user" || p.Type != model.PrincipalUser {
			return &gerr{http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow."}
		}
		if len(rest) == 0 && r.Method == http.MethodGet {
			return h.getEntity(w, r, userSchema, "users", h.userJSON(p))
		}
		return &gerr{http.StatusBadRequest, "BadRequest", "Resource not found for the segment '" + segs[len(segs)-1] + "'."}
	}
	if err := h.authorize(claims, coll, rest, read); err != nil {
		return err
	}
	if !read && !h.isAdmin(claims.ObjectID) {
		if err := h.protectAdmins(r.Context(), coll, id); err != nil {
			return err
		}
	}
	ctx := r.Context()
	m := r.Method
	switch {
	case strings.EqualFold(coll, "applications"):
		switch {
		case id == nil && len(rest) == 0 && m == http.MethodGet:
			return h.list(w, r, appSchema, "applications", h.applications)
		case id == nil && len(rest) == 1 && rest[0] == "$count" && m == http.MethodGet:
			return h.count(w, r, appSchema, h.applications)
		case id == nil && len(rest) == 0 && m == http.MethodPost:
			return h.createApplication(ctx, w, r)
		case id != nil && len(rest) == 0 && m == http.MethodGet:
			p, err := h.application(ctx, *id)
			if err != nil {
				return err
			}
			return h.getEntity(w, r, appSchema, "applications", h.appJSON(p))
		case id != nil && len(rest) == 0 && m == http.MethodPatch:
			return h.patchApplication(ctx, w, r, *id)
		case id != nil && len(rest) == 0 && m == http.MethodDelete:
			return h.deleteApplication(ctx, w, *id)
		case id != nil && len(rest) == 1 && m == http.MethodPost && strings.EqualFold(rest[0], "addPassword"):
			return h.addPassword(w, r, *id, false)
		case id != nil && len(rest) == 1 && m == http.MethodPost && strings.EqualFold(rest[0], "removePassword"):
			return h.removePassword(w, r, *id, false)
		}
	case strings.EqualFold(coll, "servicePrincipals"):
		switch {
		case id == nil && len(rest) == 0 && m == http.MethodGet:
			return h.list(w, r, spSchema, "servicePrincipals", h.servicePrincipalsWithGraph(r))
		case id == nil && len(rest) == 1 && rest[0] == "$count" && m == http.MethodGet:
			return h.count(w, r, spSchema, h.servicePrincipals)
		case id == nil && len(rest) == 0 && m == http.MethodPost:
			return h.createServicePrincipal(ctx, w, r)
		case id != nil && len(rest) == 0 && m == http.MethodGet:
			if h.isGraphSP(*id) {
				return h.getEntity(w, r, spSchema, "servicePrincipals", h.graphSPJSON())
			}
			p, err := h.servicePrincipal(ctx, *id)
			if err != nil {
				return err
			}
			return h.getEntity(w, r, spSchema, "servicePrincipals", h.spJSON(p))
		case id != nil && len(rest) == 0 && m == http.MethodPatch:
			return h.patchServicePrincipal(ctx, w, r, *id)
		case id != nil && len(rest) == 0 && m == http.MethodDelete:
			return h.deleteServicePrincipal(ctx, w, *id)
		case id != nil && len(rest) == 1 && m == http.MethodPost && strings.EqualFold(rest[0], "addPassword"):
			return h.addPassword(w, r, *id, true)
		case id != nil && len(rest) == 1 && m == http.MethodPost && strings.EqualFold(rest[0], "removePassword"):
			return h.removePassword(w, r, *id, true)
		case id != nil:
			if ok, err := h.serveAppRoles(w, r, *id, rest); ok {
				return err
			}
		}
	case strings.EqualFold(coll, "directoryObjects"):
		switch {
		case id == nil && len(rest) == 1 && m == http.MethodPost && strings.EqualFold(rest[0], "getByIds"):
			return h.getByIDs(ctx, w, r)
		case id != nil && key == nil && len(rest) == 0 && m == http.MethodGet:
			return h.getDirectoryObject(ctx, w, id.id)
		}
	case strings.EqualFold(coll, "users"):
		if ok, err := h.serveUsers(w, r, id, rest); ok {
			return err
		}
	}
	return &gerr{http.StatusBadRequest, "BadRequest", "Resource not found for the segment '" + segs[len(segs)-1] + "'."}
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err != nil {
		return badRequest("The request body is too large or unreadable.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

func (h *Handler) application(ctx context.Context, id ref) (*model.Principal, error) {
	var p *model.Principal
	var err error
	if id.appID != "" {
		p, err = h.Store.GetPrincipalByAppID(ctx, id.appID)
		if err == nil && p.ApplicationObjectID == "" {
			err = errs.E(errs.NotExist)
		}
	} else {
		if err := checkID(id.id); err != nil {
			return nil, err
		}
		p, err = h.Store.GetPrincipalByApplicationObjectID(ctx, id.id)
	}
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return nil, notFound(id.String())
		}
		return nil, err
	}
	return p, nil
}

func (h *Handler) servicePrincipal(ctx context.Context, id ref) (*model.Principal, error) {
	var p *model.Principal
	var err error
	if id.appID != "" {
		p, err = h.Store.GetPrincipalByAppID(ctx, id.appID)
	} else {
		if err := checkID(id.id); err != nil {
			return nil, err
		}
		p, err = h.Store.GetPrincipal(ctx, id.id)
	}
	if err != nil || p.Type == model.PrincipalApplication || p.Type == model.PrincipalUser {
		if err == nil || errs.KindOf(err) == errs.NotExist {
			return nil, notFound(id.String())
		}
		return nil, err
	}
	return p, nil
}

func (h *Handler) deleteApplication(ctx context.Context, w http.ResponseWriter, id ref) error {
	p, err := h.application(ctx, id)
	if err != nil {
		return err
	}
	if strings.EqualFold(p.ObjectID, h.AdminObjectID) {
		return badRequest("The bootstrap admin cannot be deleted.")
	}
	// Deleting an app registration deletes its service principal too.
	if err := h.Store.DeletePrincipal(ctx, p.ObjectID); err != nil {
		return err
	}
	if err := h.Store.DeleteApplicationIndex(ctx, p.ApplicationObjectID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) createServicePrincipal(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var body struct {
		AppID          string `json:"appId"`
		AccountEnabled *bool  `json:"accountEnabled"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	p, err := h.Store.GetPrincipalByAppID(ctx, body.AppID)
	if err != nil || p.ApplicationObjectID == "" {
		return badRequest("The appId '" + body.AppID + "' of the service principal does not reference a valid application object.")
	}
	if p.Type == model.PrincipalServicePrincipal {
		return &gerr{http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "The service principal cannot be created, updated, or restored because the service principal name " + p.AppID + " is already in use."}
	}
	disabled := body.AccountEnabled != nil && !*body.AccountEnabled
	if err := h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		cur.Type, cur.Disabled = model.PrincipalServicePrincipal, disabled
		return nil
	}); err != nil {
		return err
	}
	p.Type, p.Disabled = model.PrincipalServicePrincipal, disabled
	httpx.WriteJSON(w, http.StatusCreated, h.entity("servicePrincipals", h.spJSON(p)))
	return nil
}

func (h *Handler) deleteServicePrincipal(ctx context.Context, w http.ResponseWriter, id ref) error {
	p, err := h.servicePrincipal(ctx, id)
	if err != nil {
		return err
	}
	if strings.EqualFold(p.ObjectID, h.AdminObjectID) || p.Type == model.PrincipalManagedIdentity {
		return badRequest("This service principal is managed by Coffer and cannot be deleted here.")
	}
	if err := h.Store.DeletePrincipal(ctx, p.ObjectID); err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(id.String())
		}
		return err
	}
	if p.ApplicationObjectID != "" {
		// The app registration (and its passwords) stays, under a fresh
		// object id: as in Azure, a service principal created again for
		// the app is a new object, so the deleted one's tokens, access
		// policies and role assignments never apply to it.
		app := *p
		app.ObjectID, app.Type = identity.NewObjectID(), model.PrincipalApplication
		// Grants and accountEnabled belong to the deleted object.
		app.AppRoleAssignments, app.Disabled = nil, false
		// Passwords added to the service principal go with it.
		app.Credentials = nil
		for _, c := range p.Credentials {
			if !c.ServicePrincipal {
				app.Credentials = append(app.Credentials, c)
			}
		}
		if err := h.Store.CreatePrincipal(ctx, &app); err != nil {
			_ = h.Store.CreatePrincipal(ctx, p) // put the service principal back
			return err
		}
		if err := h.Store.PutApplicationIndex(ctx, app.ApplicationObjectID, app.ObjectID); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
