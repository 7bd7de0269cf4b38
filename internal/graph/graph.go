// Package graph serves the Microsoft Graph v1.0 subset that CI pipelines and
// apps need to get credentials: applications (app registrations) with
// password credentials (addPassword/removePassword) and service principals,
// with get, list ($filter by displayName or appId) and delete. Client
// secrets are returned once and stored hashed. Any principal may read; only
// the bootstrap admin may write, because Azure RBAC roles (even Owner of the
// subscription) are not directory roles.
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
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
	Logger        *slog.Logger
	Now           func() time.Time
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
	if !errors.As(err, &ge) {
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
	if p, err := h.Store.GetPrincipal(r.Context(), claims.ObjectID); err != nil || p.Type == model.PrincipalApplication {
		return &gerr{http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure: the principal no longer exists."}
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
	write := r.Method != http.MethodGet
	if write && !strings.EqualFold(claims.ObjectID, h.AdminObjectID) {
		return &gerr{http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."}
	}
	ctx := r.Context()
	switch {
	case strings.EqualFold(segs[1], "applications"):
		switch {
		case len(segs) == 2 && r.Method == http.MethodGet:
			return h.list(ctx, w, r, true)
		case len(segs) == 2 && r.Method == http.MethodPost:
			return h.createApplication(ctx, w, r)
		case len(segs) == 3 && r.Method == http.MethodGet:
			p, err := h.application(ctx, segs[2])
			if err != nil {
				return err
			}
			httpx.WriteJSON(w, http.StatusOK, h.entity("applications", h.appJSON(p)))
			return nil
		case len(segs) == 3 && r.Method == http.MethodDelete:
			return h.deleteApplication(ctx, w, segs[2])
		case len(segs) == 4 && r.Method == http.MethodPost && strings.EqualFold(segs[3], "addPassword"):
			return h.addPassword(ctx, w, r, segs[2])
		case len(segs) == 4 && r.Method == http.MethodPost && strings.EqualFold(segs[3], "removePassword"):
			return h.removePassword(ctx, w, r, segs[2])
		}
	case strings.EqualFold(segs[1], "servicePrincipals"):
		switch {
		case len(segs) == 2 && r.Method == http.MethodGet:
			return h.list(ctx, w, r, false)
		case len(segs) == 2 && r.Method == http.MethodPost:
			return h.createServicePrincipal(ctx, w, r)
		case len(segs) == 3 && r.Method == http.MethodGet:
			p, err := h.servicePrincipal(ctx, segs[2])
			if err != nil {
				return err
			}
			httpx.WriteJSON(w, http.StatusOK, h.entity("servicePrincipals", h.spJSON(p)))
			return nil
		case len(segs) == 3 && r.Method == http.MethodDelete:
			return h.deleteServicePrincipal(ctx, w, segs[2])
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

func (h *Handler) passwordCreds(p *model.Principal) []map[string]any {
	out := []map[string]any{}
	for _, c := range p.Credentials {
		end := c.Expires
		out = append(out, map[string]any{"keyId": c.KeyID, "displayName": c.Name, "hint": c.Hint, "secretText": nil,
			"startDateTime": c.Created.UTC().Format(time.RFC3339), "endDateTime": end.UTC().Format(time.RFC3339)})
	}
	return out
}

func (h *Handler) appJSON(p *model.Principal) map[string]any {
	return map[string]any{
		"id": p.ApplicationObjectID, "appId": p.AppID, "displayName": p.DisplayName,
		"createdDateTime": p.Created.UTC().Format(time.RFC3339), "signInAudience": "AzureADMyOrg",
		"passwordCredentials": h.passwordCreds(p), "keyCredentials": []any{},
	}
}

func (h *Handler) spJSON(p *model.Principal) map[string]any {
	typ := "Application"
	if p.Type == model.PrincipalManagedIdentity {
		typ = "ManagedIdentity"
	}
	names := []string{p.AppID}
	if p.ResourceID != "" {
		names = append(names, p.ResourceID)
	}
	return map[string]any{
		"id": p.ObjectID, "appId": p.AppID, "displayName": p.DisplayName, "servicePrincipalType": typ,
		"accountEnabled": true, "appOwnerOrganizationId": h.TenantID, "servicePrincipalNames": names,
		"passwordCredentials": h.passwordCreds(p), "alternativeNames": []string{},
	}
}

func (h *Handler) application(ctx context.Context, id string) (*model.Principal, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	p, err := h.Store.GetPrincipalByApplicationObjectID(ctx, id)
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return nil, notFound(id)
		}
		return nil, err
	}
	return p, nil
}

func (h *Handler) servicePrincipal(ctx context.Context, id string) (*model.Principal, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	p, err := h.Store.GetPrincipal(ctx, id)
	if err != nil || p.Type == model.PrincipalApplication {
		if err == nil || errs.KindOf(err) == errs.NotExist {
			return nil, notFound(id)
		}
		return nil, err
	}
	return p, nil
}

var filterRE = regexp.MustCompile(`^\s*(displayName|appId)\s+eq\s+'((?:[^']|'')*)'\s*$`)

// list answers GET /applications or /servicePrincipals, with $filter on
// displayName or appId (the clauses az and the SDKs use).
func (h *Handler) list(ctx context.Context, w http.ResponseWriter, r *http.Request, apps bool) error {
	var field, value string
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := filterRE.FindStringSubmatch(f)
		if m == nil {
			return badRequest("Unsupported or invalid query filter clause specified: " + f + ". Coffer supports displayName eq '...' and appId eq '...'.")
		}
		field, value = m[1], strings.ReplaceAll(m[2], "''", "'")
	}
	all, err := h.Store.ListPrincipals(ctx)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for i := range all {
		p := &all[i]
		if apps && p.ApplicationObjectID == "" || !apps && p.Type == model.PrincipalApplication {
			continue
		}
		if field == "displayName" && !strings.EqualFold(p.DisplayName, value) || field == "appId" && !strings.EqualFold(p.AppID, value) {
			continue
		}
		if apps {
			out = append(out, h.appJSON(p))
		} else {
			out = append(out, h.spJSON(p))
		}
	}
	kind := "servicePrincipals"
	if apps {
		kind = "applications"
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"@odata.context": h.odataContext(kind), "value": out})
	return nil
}

func (h *Handler) createApplication(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var body struct {
		DisplayName string `json:"displayName"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.DisplayName) == "" || len(body.DisplayName) > 256 {
		return badRequest("Property 'displayName' is required and must be at most 256 characters.")
	}
	p := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), ApplicationObjectID: identity.NewObjectID(),
		DisplayName: body.DisplayName, Type: model.PrincipalApplication, Created: h.Now()}
	if err := h.Store.PutApplicationIndex(ctx, p.ApplicationObjectID, p.ObjectID); err != nil {
		return err
	}
	if err := h.Store.CreatePrincipal(ctx, p); err != nil {
		_ = h.Store.DeleteApplicationIndex(ctx, p.ApplicationObjectID)
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, h.entity("applications", h.appJSON(p)))
	return nil
}

func (h *Handler) deleteApplication(ctx context.Context, w http.ResponseWriter, id string) error {
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
	if err := h.Store.DeleteApplicationIndex(ctx, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) addPassword(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) error {
	var body struct {
		PasswordCredential struct {
			DisplayName string     `json:"displayName"`
			EndDateTime *time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	p, err := h.application(ctx, id)
	if err != nil {
		return err
	}
	now := h.Now()
	secret, cred := identity.NewClientSecret(now)
	cred.Name = body.PasswordCredential.DisplayName
	cred.Expires = now.Add(DefaultSecretLifetime)
	if e := body.PasswordCredential.EndDateTime; e != nil {
		if !e.After(now) {
			return badRequest("endDateTime must be in the future.")
		}
		cred.Expires = *e
	}
	if err := h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		if len(cur.Credentials) >= 100 {
			return badRequest("An application can have at most 100 password credentials.")
		}
		cur.Credentials = append(cur.Credentials, cred)
		return nil
	}); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"@odata.context": h.odataContext("microsoft.graph.passwordCredential"),
		"keyId":          cred.KeyID, "displayName": cred.Name, "hint": cred.Hint, "secretText": secret,
		"startDateTime": cred.Created.UTC().Format(time.RFC3339), "endDateTime": cred.Expires.UTC().Format(time.RFC3339),
		"customKeyIdentifier": nil,
	})
	return nil
}

func (h *Handler) removePassword(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) error {
	var body struct {
		KeyID string `json:"keyId"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if _, err := uuid.Parse(body.KeyID); err != nil {
		return badRequest("Property 'keyId' must be a GUID.")
	}
	p, err := h.application(ctx, id)
	if err != nil {
		return err
	}
	found := false
	if err := h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		found = false
		kept := cur.Credentials[:0]
		for _, c := range cur.Credentials {
			if strings.EqualFold(c.KeyID, body.KeyID) {
				found = true
				continue
			}
			kept = append(kept, c)
		}
		cur.Credentials = kept
		return nil
	}); err != nil {
		return err
	}
	if !found {
		return notFound(body.KeyID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) createServicePrincipal(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var body struct {
		AppID string `json:"appId"`
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
	if err := h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		cur.Type = model.PrincipalServicePrincipal
		return nil
	}); err != nil {
		return err
	}
	p.Type = model.PrincipalServicePrincipal
	httpx.WriteJSON(w, http.StatusCreated, h.entity("servicePrincipals", h.spJSON(p)))
	return nil
}

func (h *Handler) deleteServicePrincipal(ctx context.Context, w http.ResponseWriter, id string) error {
	p, err := h.servicePrincipal(ctx, id)
	if err != nil {
		return err
	}
	if strings.EqualFold(p.ObjectID, h.AdminObjectID) || p.Type == model.PrincipalManagedIdentity {
		return badRequest("This service principal is managed by Coffer and cannot be deleted here.")
	}
	if err := h.Store.DeletePrincipal(ctx, p.ObjectID); err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(id)
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
