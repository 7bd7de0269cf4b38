package graph

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// Directory permissions. In Entra an application reads or writes the
// directory only with an application permission of Microsoft Graph (an app
// role granted to its service principal as an appRoleAssignment on Graph's
// service principal), which its Graph tokens carry in the roles claim.
// Users (delegated tokens) have the default user permissions: they read
// the directory. The bootstrap admins (see isAdmin) do everything, and
// their own objects can be changed by nobody else (protectAdmins), so that
// no permission short of theirs leads to theirs.

// readRoles are the app roles that let an app-only caller read a
// collection; the ReadWrite roles imply read.
func readRoles(coll string) []string {
	if strings.EqualFold(coll, "users") {
		return []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	}
	return []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
}

// writeRoles are the app roles that let an app-only caller write: app
// role grants need AppRoleAssignment.ReadWrite.All, as in Entra.
func writeRoles(coll string, rest []string) []string {
	if len(rest) > 0 && (strings.EqualFold(rest[0], "appRoleAssignments") || strings.EqualFold(rest[0], "appRoleAssignedTo")) {
		return []string{"AppRoleAssignment.ReadWrite.All"}
	}
	if strings.EqualFold(coll, "users") {
		return []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	}
	return []string{"Application.ReadWrite.All", "Directory.ReadWrite.All"}
}

// errDenied is Graph's answer to a caller without the permission.
func errDenied() error {
	return &gerr{http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."}
}

// hasRole reports whether the token's roles claim holds one of want.
func hasRole(c *identity.Claims, want []string) bool {
	for _, r := range c.Roles {
		if slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(r, w) }) {
			return true
		}
	}
	return false
}

// authorize decides a request on collection coll (rest: the path after
// the object) by the token's claims: admins do anything; delegated (user)
// tokens read; app-only tokens read with one of readRoles and write with
// one of writeRoles in their roles claim. Everything else is denied.
func (h *Handler) authorize(c *identity.Claims, coll string, rest []string, read bool) error {
	if h.isAdmin(c.ObjectID) || !slices.ContainsFunc([]string{"applications", "servicePrincipals", "directoryObjects", "users"},
		func(known string) bool { return strings.EqualFold(coll, known) }) {
		// An unknown segment gets Graph's 400 whoever asks.
		return nil
	}
	switch {
	case read && c.IDType == "user":
		return nil
	case read && hasRole(c, readRoles(coll)):
		return nil
	case !read && c.IDType != "user" && hasRole(c, writeRoles(coll, rest)):
		return nil
	}
	return errDenied()
}

// protectAdmins refuses a write by anyone but the admins to the admins'
// own objects (the bootstrap service principal, its application and the
// admin user): a permission such as Application.ReadWrite.All would
// otherwise add a password to the admin and become it.
func (h *Handler) protectAdmins(ctx context.Context, coll string, id *ref) error {
	if id == nil {
		return nil
	}
	switch {
	case strings.EqualFold(coll, "users"):
		if id.appID != "" || h.AdminUserObjectID == "" {
			return nil
		}
		u, err := h.user(ctx, id.id)
		if err == nil && strings.EqualFold(u.ObjectID, h.AdminUserObjectID) {
			return errDenied()
		}
		return nil
	case strings.EqualFold(coll, "applications") || strings.EqualFold(coll, "servicePrincipals"):
		admin, err := h.Store.GetPrincipal(ctx, h.AdminObjectID)
		if err != nil {
			if errs.KindOf(err) == errs.NotExist {
				return nil
			}
			return err
		}
		if id.appID != "" && strings.EqualFold(id.appID, admin.AppID) ||
			strings.EqualFold(coll, "servicePrincipals") && strings.EqualFold(id.id, admin.ObjectID) ||
			strings.EqualFold(coll, "applications") && admin.ApplicationObjectID != "" && strings.EqualFold(id.id, admin.ApplicationObjectID) {
			return errDenied()
		}
	}
	return nil
}

// msGraphOwnerTenant is the tenant Microsoft's first-party applications,
// Microsoft Graph among them, belong to.
const msGraphOwnerTenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

// graphSPID is the object id of Microsoft Graph's service principal in
// this tenant: fixed per tenant, as in Entra, where each tenant has its own.
func (h *Handler) graphSPID() string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("coffer:microsoft-graph-service-principal:"+strings.ToLower(h.TenantID))).String()
}

// isGraphSP reports whether id names Microsoft Graph's service principal.
func (h *Handler) isGraphSP(id ref) bool {
	if id.appID != "" {
		return strings.EqualFold(id.appID, cloud.GraphAppID)
	}
	return strings.EqualFold(id.id, h.graphSPID())
}

// graphSPJSON renders Microsoft Graph's service principal with the app
// roles Coffer enforces, so that scripts look role ids up as in Entra
// (appRoles[?value=='Application.Read.All'].id).
func (h *Handler) graphSPJSON() map[string]any {
	o := h.spJSON(&model.Principal{ObjectID: h.graphSPID(), AppID: cloud.GraphAppID, DisplayName: "Microsoft Graph"})
	o["appOwnerOrganizationId"] = msGraphOwnerTenant
	o["servicePrincipalNames"] = []any{cloud.GraphAppID, "https://graph.microsoft.com", "https://graph.microsoft.com/", "https://canary.graph.microsoft.com", "https://graph.microsoft.us"}
	roles := make([]any, 0, len(identity.GraphAppRoles))
	for _, r := range identity.GraphAppRoles {
		roles = append(roles, map[string]any{
			"allowedMemberTypes": []any{"Application"}, "description": r.Description, "displayName": r.DisplayName,
			"id": r.ID, "isEnabled": true, "origin": "Application", "value": r.Value,
		})
	}
	o["appRoles"] = roles
	return o
}

// servicePrincipalsWithGraph is servicePrincipals plus Microsoft Graph's,
// for queries that select objects ($filter, $search): a script that looks
// Graph's service principal up by appId finds it, while a plain listing
// shows the tenant's own principals only.
func (h *Handler) servicePrincipalsWithGraph(r *http.Request) renderAll {
	q := r.URL.Query()
	if !q.Has("$filter") && !q.Has("$search") {
		return h.servicePrincipals
	}
	return func(ctx context.Context) ([]map[string]any, error) {
		out, err := h.servicePrincipals(ctx)
		if err != nil {
			return nil, err
		}
		return append(out, h.graphSPJSON()), nil
	}
}

// assignmentJSON renders an appRoleAssignment of Graph's app role to p.
func (h *Handler) assignmentJSON(p *model.Principal, a model.AppRoleAssignment) map[string]any {
	return map[string]any{
		"id": a.ID, "deletedDateTime": nil, "appRoleId": a.AppRoleID, "createdDateTime": graphTime(a.Created),
		"principalDisplayName": p.DisplayName, "principalId": p.ObjectID, "principalType": "ServicePrincipal",
		"resourceDisplayName": "Microsoft Graph", "resourceId": h.graphSPID(),
	}
}

// newAssignmentID is an opaque id shaped like Entra's (43 base64url chars).
func newAssignmentID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// serveAppRoles routes /servicePrincipals/{id}/appRoleAssignments[/{aid}]
// (the grants a principal holds) and /servicePrincipals/{id}/appRoleAssignedTo[/{aid}]
// (the grants of a resource's roles: only Graph's have any).
func (h *Handler) serveAppRoles(w http.ResponseWriter, r *http.Request, id ref, rest []string) (bool, error) {
	if len(rest) == 0 || len(rest) > 2 {
		return false, nil
	}
	assignedTo := strings.EqualFold(rest[0], "appRoleAssignedTo")
	if !assignedTo && !strings.EqualFold(rest[0], "appRoleAssignments") {
		return false, nil
	}
	ctx := r.Context()
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		return true, h.listAssignments(ctx, w, id, assignedTo)
	case len(rest) == 1 && r.Method == http.MethodPost:
		return true, h.createAssignment(ctx, w, r, id, assignedTo)
	case len(rest) == 2 && r.Method == http.MethodDelete:
		return true, h.deleteAssignment(ctx, w, id, rest[1], assignedTo)
	}
	return false, nil
}

// principalOrGraph resolves the service principal of the path: nil (and
// no error) is Microsoft Graph's own.
func (h *Handler) principalOrGraph(ctx context.Context, id ref) (*model.Principal, error) {
	if h.isGraphSP(id) {
		return nil, nil
	}
	return h.servicePrincipal(ctx, id)
}

func (h *Handler) listAssignments(ctx context.Context, w http.ResponseWriter, id ref, assignedTo bool) error {
	p, err := h.principalOrGraph(ctx, id)
	if err != nil {
		return err
	}
	value := []any{}
	switch {
	case assignedTo && p == nil:
		all, err := h.Store.ListPrincipals(ctx)
		if err != nil {
			return err
		}
		for i := range all {
			for _, a := range all[i].AppRoleAssignments {
				value = append(value, h.assignmentJSON(&all[i], a))
			}
		}
	case !assignedTo && p != nil:
		for _, a := range p.AppRoleAssignments {
			value = append(value, h.assignmentJSON(p, a))
		}
	}
	// Graph's own service principal holds no grants, and the tenant's
	// principals define no app roles: both lists are empty.
	pathID := h.graphSPID()
	if p != nil {
		pathID = p.ObjectID
	}
	coll := "appRoleAssignments"
	if assignedTo {
		coll = "appRoleAssignedTo"
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"@odata.context": h.odataContext("servicePrincipals('" + pathID + "')/" + coll), "value": value,
	})
	return nil
}

func (h *Handler) createAssignment(ctx context.Context, w http.ResponseWriter, r *http.Request, id ref, assignedTo bool) error {
	var body struct {
		PrincipalID string `json:"principalId"`
		ResourceID  string `json:"resourceId"`
		AppRoleID   string `json:"appRoleId"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	pathP, err := h.principalOrGraph(ctx, id)
	if err != nil {
		return err
	}
	for prop, v := range map[string]string{"principalId": body.PrincipalID, "resourceId": body.ResourceID, "appRoleId": body.AppRoleID} {
		if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
			return badRequest("Invalid value specified for property '" + prop + "' of resource 'AppRoleAssignment'.")
		}
	}
	// The path names the principal (appRoleAssignments) or the resource
	// (appRoleAssignedTo); the body must agree with it.
	if !assignedTo && (pathP == nil || !strings.EqualFold(pathP.ObjectID, body.PrincipalID)) ||
		assignedTo && pathP == nil && !strings.EqualFold(body.ResourceID, h.graphSPID()) {
		return badRequest("The principalId or resourceId in the request body does not match the service principal of the request URL.")
	}
	if assignedTo && pathP != nil {
		return badRequest("Permission being assigned was not found on application '" + pathP.AppID + "'.")
	}
	if !strings.EqualFold(body.ResourceID, h.graphSPID()) {
		res, err := h.servicePrincipal(ctx, ref{id: body.ResourceID})
		if err != nil {
			return err
		}
		return badRequest("Permission being assigned was not found on application '" + res.AppID + "'.")
	}
	role, ok := identity.LookupGraphAppRole(body.AppRoleID)
	if !ok || !strings.EqualFold(role.ID, body.AppRoleID) {
		return badRequest("Permission being assigned was not found on application '" + cloud.GraphAppID + "'.")
	}
	target, err := h.servicePrincipal(ctx, ref{id: body.PrincipalID})
	if err != nil {
		// Graph's application permissions are granted to service
		// principals (and managed identities) only, not to users.
		return err
	}
	a := model.AppRoleAssignment{ID: newAssignmentID(), AppRoleID: role.ID, Created: h.Now().UTC()}
	err = h.Store.UpdatePrincipal(ctx, target.ObjectID, func(cur *model.Principal) error {
		for _, have := range cur.AppRoleAssignments {
			if strings.EqualFold(have.AppRoleID, role.ID) {
				return &gerr{http.StatusBadRequest, "Request_BadRequest", "Permission being assigned already exists on the object."}
			}
		}
		cur.AppRoleAssignments = append(cur.AppRoleAssignments, a)
		return nil
	})
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(body.PrincipalID)
		}
		return err
	}
	coll := "appRoleAssignments"
	pathID := target.ObjectID
	if assignedTo {
		coll, pathID = "appRoleAssignedTo", h.graphSPID()
	}
	o := h.assignmentJSON(target, a)
	o["@odata.context"] = h.odataContext("servicePrincipals('" + pathID + "')/" + coll + "/$entity")
	httpx.WriteJSON(w, http.StatusCreated, o)
	return nil
}

func (h *Handler) deleteAssignment(ctx context.Context, w http.ResponseWriter, id ref, aid string, assignedTo bool) error {
	pathP, err := h.principalOrGraph(ctx, id)
	if err != nil {
		return err
	}
	var holder string
	switch {
	case !assignedTo && pathP != nil:
		holder = pathP.ObjectID
	case assignedTo && pathP == nil:
		all, err := h.Store.ListPrincipals(ctx)
		if err != nil {
			return err
		}
		for i := range all {
			if slices.ContainsFunc(all[i].AppRoleAssignments, func(a model.AppRoleAssignment) bool { return a.ID == aid }) {
				holder = all[i].ObjectID
			}
		}
	}
	if holder == "" {
		return notFound(aid)
	}
	err = h.Store.UpdatePrincipal(ctx, holder, func(cur *model.Principal) error {
		n := len(cur.AppRoleAssignments)
		cur.AppRoleAssignments = slices.DeleteFunc(cur.AppRoleAssignments, func(a model.AppRoleAssignment) bool { return a.ID == aid })
		if len(cur.AppRoleAssignments) == n {
			return notFound(aid)
		}
		return nil
	})
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(aid)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchServicePrincipal updates accountEnabled (the one property Coffer
// keeps for service principals) and answers 204, as Graph. A disabled
// principal gets no new tokens (AADSTS7000112) and its issued tokens are
// refused by every API. Managed identities belong to their Azure resource:
// Entra refuses to change their service principals, even for admins.
func (h *Handler) patchServicePrincipal(ctx context.Context, w http.ResponseWriter, r *http.Request, id ref) error {
	var raw map[string]json.RawMessage
	if err := decode(r, &raw); err != nil {
		return err
	}
	var b struct {
		AccountEnabled *bool `json:"accountEnabled"`
	}
	for k, v := range raw {
		if k != "accountEnabled" {
			// Silently ignoring it would tell the caller it was set.
			return badRequest("Property '" + k + "' cannot be updated on a service principal in Coffer; only accountEnabled can.")
		}
		if err := json.Unmarshal(v, &b.AccountEnabled); err != nil || b.AccountEnabled == nil {
			return badRequest("Invalid value specified for property 'accountEnabled' of resource 'ServicePrincipal'.")
		}
	}
	if h.isGraphSP(id) {
		return errDenied()
	}
	p, err := h.servicePrincipal(ctx, id)
	if err != nil {
		return err
	}
	if p.Type == model.PrincipalManagedIdentity {
		return errDenied()
	}
	if b.AccountEnabled != nil && !*b.AccountEnabled && strings.EqualFold(p.ObjectID, h.AdminObjectID) {
		return badRequest("The bootstrap admin service principal cannot be disabled.")
	}
	if err := h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		if b.AccountEnabled != nil {
			cur.Disabled = !*b.AccountEnabled
		}
		return nil
	}); err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(id.String())
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
