// Package msi serves the server side of managed identity: the App Service
// token protocol (IDENTITY_ENDPOINT + X-IDENTITY-HEADER), which unmodified
// SDKs use directly and which the machine agent and `coffer run` use on a
// VM's behalf, plus the VM's instance metadata. The header value is a
// machine credential: it names the calling VM, so a VM can only ever get
// tokens for its own identities.
package msi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/wire"
)

// TokenPath is where the App Service protocol is served (IDENTITY_ENDPOINT).
const TokenPath = "/msi/token"

// TenantHeader carries the tenant id on InstancePath responses.
const TenantHeader = "X-Coffer-Tenant-Id"

// InstancePath serves the calling VM's instance metadata to agents.
const InstancePath = "/msi/instance"

// Handler serves the endpoints.
type Handler struct {
	Resources *resources.Service
	TenantID  string
	Profile   cloud.Profile
	Logger    *slog.Logger
	// KnownResource reports whether the tenant knows a token resource;
	// others get AADSTS500011. Nil accepts every well-formed resource.
	KnownResource func(ctx context.Context, resource string) (bool, error)
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+TokenPath, h.token)
	mux.HandleFunc("GET "+InstancePath, h.instance)
}

func (h *Handler) oauthError(w http.ResponseWriter, status int, code, desc string) {
	httpx.WriteJSON(w, status, wire.OAuthError{Error: code, ErrorDescription: desc})
}

// caller authenticates the machine credential from X-IDENTITY-HEADER (or
// the legacy "secret" header of api-version 2017-09-01).
func (h *Handler) caller(w http.ResponseWriter, r *http.Request) *model.Compute {
	cred := r.Header.Get("X-IDENTITY-HEADER")
	if cred == "" {
		cred = r.Header.Get("secret")
	}
	if cred == "" {
		h.oauthError(w, http.StatusUnauthorized, "invalid_request", "The X-IDENTITY-HEADER header is required.")
		return nil
	}
	c, err := h.Resources.Authenticate(r.Context(), cred)
	if err != nil {
		if errs.KindOf(err) != errs.Unauthenticated {
			h.Logger.ErrorContext(r.Context(), "machine authentication failed", "err", err)
			h.oauthError(w, http.StatusInternalServerError, "server_error", "Authentication failed; see the server log.")
			return nil
		}
		h.oauthError(w, http.StatusUnauthorized, "invalid_request", "The X-IDENTITY-HEADER value is not a valid machine credential.")
		return nil
	}
	return c
}

// Selector parses the user-assigned identity selectors of every protocol
// (IMDS: client_id, object_id, msi_res_id, mi_res_id; App Service:
// client_id, principal_id, mi_res_id; Azure ML: clientid). At most one.
func Selector(q url.Values) (resources.Selector, bool) {
	var sel resources.Selector
	n := 0
	for _, k := range []string{"client_id", "clientid"} {
		if v := q.Get(k); v != "" {
			sel.ClientID, n = v, n+1
		}
	}
	for _, k := range []string{"object_id", "principal_id"} {
		if v := q.Get(k); v != "" {
			sel.ObjectID, n = v, n+1
		}
	}
	for _, k := range []string{"msi_res_id", "mi_res_id"} {
		if v := q.Get(k); v != "" {
			sel.ResourceID, n = v, n+1
		}
	}
	return sel, n <= 1
}

// ValidResource reports whether resource looks like an Entra resource: an
// absolute https URI or a GUID app id.
func ValidResource(resource string) bool {
	if identity.IsGUID(resource) {
		return true
	}
	u, err := url.Parse(resource)
	return err == nil && (u.Scheme == "https" || u.Scheme == "api") && u.Host != ""
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := h.caller(w, r)
	if c == nil {
		return
	}
	if q.Get("api-version") == "" {
		h.oauthError(w, http.StatusBadRequest, "invalid_request", "The api-version query parameter is required.")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		h.oauthError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	resource = strings.TrimSuffix(resource, "/.default")
	if !ValidResource(resource) {
		h.oauthError(w, http.StatusBadRequest, "invalid_resource", "AADSTS500011: "+wire.ResourceNotFound(resource, h.TenantID))
		return
	}
	if h.KnownResource != nil {
		known, err := h.KnownResource(r.Context(), resource)
		if err != nil {
			h.Logger.ErrorContext(r.Context(), "resource lookup failed", "err", err)
			h.oauthError(w, http.StatusInternalServerError, "unknown", "Failed to retrieve token from the Active directory.")
			return
		}
		if !known {
			h.oauthError(w, http.StatusBadRequest, "invalid_resource", "AADSTS500011: "+wire.ResourceNotFound(resource, h.TenantID))
			return
		}
	}
	sel, ok := Selector(q)
	if !ok {
		h.oauthError(w, http.StatusBadRequest, "invalid_request", "Only one of client_id, object_id/principal_id and msi_res_id/mi_res_id may be given.")
		return
	}
	tok, p, err := h.Resources.ManagedIdentityToken(r.Context(), c, sel, resource, q.Get("bypass_cache") == "true")
	if err != nil {
		if errs.KindOf(err) == errs.Invalid {
			h.oauthError(w, http.StatusBadRequest, "invalid_request", "Identity not found")
			return
		}
		h.Logger.ErrorContext(r.Context(), "minting managed identity token", "err", err)
		h.oauthError(w, http.StatusInternalServerError, "unknown", "Failed to retrieve token from the Active directory.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, TokenBody(tok, p, resource, h.Resources.Now()))
}

// TokenBody renders a token the way IMDS and App Service do: all strings.
// expires_in counts from now, so a cached token reports what is left.
func TokenBody(tok *identity.Token, p *model.Principal, resource string, now time.Time) wire.ManagedIdentityToken {
	secs := strconv.FormatInt(int64(tok.Expires.Sub(now).Seconds()), 10)
	return wire.ManagedIdentityToken{
		AccessToken: tok.Raw, ClientID: p.AppID, ExpiresIn: secs, ExtExpiresIn: secs,
		ExpiresOn: strconv.FormatInt(tok.Expires.Unix(), 10), NotBefore: strconv.FormatInt(tok.NotBefore.Unix(), 10),
		Resource: resource, TokenType: "Bearer",
	}
}

// instance returns the calling VM's IMDS instance document.
func (h *Handler) instance(w http.ResponseWriter, r *http.Request) {
	c := h.caller(w, r)
	if c == nil {
		return
	}
	// The tenant rides in a header so the document stays IMDS-shaped; the
	// agent needs it for /metadata/identity/info.
	w.Header().Set(TenantHeader, h.TenantID)
	httpx.WriteJSON(w, http.StatusOK, InstanceDocument(c, h.Profile))
}

// InstanceDocument is /metadata/instance for a VM: every primitive a string.
func InstanceDocument(c *model.Compute, p cloud.Profile) map[string]any {
	var tags []string
	var tagList []map[string]string
	for k, v := range c.Tags {
		tags = append(tags, k+":"+v)
		tagList = append(tagList, map[string]string{"name": k, "value": v})
	}
	if tagList == nil {
		tagList = []map[string]string{}
	}
	return map[string]any{
		"compute": map[string]any{
			"azEnvironment": p.Environment, "location": c.Location, "name": c.Name,
			"osType": "Linux", "provider": "Microsoft.Compute", "resourceGroupName": c.ResourceGroup,
			"resourceId": c.ResourceID(), "subscriptionId": c.SubscriptionID,
			"tags": strings.Join(tags, ";"), "tagsList": tagList, "vmId": c.VMID, "vmSize": "Standard_Coffer",
			"zone": "", "sku": "", "version": "", "publisher": "", "offer": "", "customData": "", "userData": "",
			"platformFaultDomain": "0", "platformUpdateDomain": "0", "priority": "", "placementGroupId": "",
			"osProfile": map[string]string{"adminUsername": "", "computerName": c.Name, "disablePasswordAuthentication": "true"},
		},
		"network": map[string]any{"interface": []any{}},
	}
}
