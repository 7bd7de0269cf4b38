// Package oidc serves Coffer's Entra-like issuer: OpenID discovery (v1 and
// v2 documents), the JWKS, MSAL's instance discovery, and the client
// credentials grant on the v2 (scope=…/.default) and v1 (resource=) token
// endpoints, and for directory users the authorization code flow with
// PKCE (a sign-in page at /authorize, code and refresh_token grants at the
// v2 token endpoint; see authorize.go) and the device code flow
// (devicecode.go), with an id_token for the openid scope. The flows'
// codes and refresh tokens are kept in the shared store, so replicas
// behind a load balancer serve any step of any flow. Error bodies are
// OAuth2's {"error","error_description"} with Entra's AADSTS codes, which
// MSAL surfaces to users.
package oidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/wire"
)

// TokenLifetime of client-credential tokens (Entra's default is 60-90 min).
const TokenLifetime = time.Hour

// Principals finds service principals by client id.
type Principals interface {
	GetPrincipalByAppID(ctx context.Context, appID string) (*model.Principal, error)
}

// Handler serves the issuer endpoints.
type Handler struct {
	Minter     *identity.Minter
	Keys       *identity.KeySet
	Principals Principals
	// Users signs in directory users (authorization code flow); nil
	// turns interactive sign-in off.
	Users Users
	// Flows keeps the flows' codes and refresh tokens where every replica
	// sees them (the shared store). Interactive sign-in needs both Users
	// and Flows; without them only the client credentials grant is served.
	Flows    FlowStore
	TenantID string
	Logger   *slog.Logger
	Now      func() time.Time
	// KnownResource reports whether the tenant knows a token resource
	// (one of Coffer's APIs or a registered application); others get
	// AADSTS500011. Nil accepts every resource.
	KnownResource func(ctx context.Context, resource string) (bool, error)

	userFlows userFlows
}

// Mount registers the routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", h.discoveryV2)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", h.discoveryV1)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", h.jwks)
	mux.HandleFunc("GET /{tenant}/discovery/keys", h.jwks)
	mux.HandleFunc("GET /common/discovery/instance", h.instanceDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/instance", h.instanceDiscovery)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", h.tokenV2)
	if h.interactive() {
		mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", h.authorize)
		mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", h.authorize)
		mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", h.deviceCode)
		mux.HandleFunc("GET "+DeviceLoginPath, h.deviceLogin)
		mux.HandleFunc("POST "+DeviceLoginPath, h.deviceLogin)
	}
	mux.HandleFunc("POST /{tenant}/oauth2/token", h.tokenV1)
}

// interactive reports whether users can sign in (see Users and Flows).
func (h *Handler) interactive() bool { return h.Users != nil && h.Flows != nil }

func origin(r *http.Request) string {
	return "https://" + strings.TrimSuffix(strings.ToLower(r.Host), ":443")
}

// knownTenant accepts the tenant id and Entra's aliases for discovery.
func (h *Handler) knownTenant(t string, aliases bool) bool {
	if strings.EqualFold(t, h.TenantID) {
		return true
	}
	return aliases && (t == "common" || t == "organizations" || t == "consumers")
}

func (h *Handler) discoveryV2(w http.ResponseWriter, r *http.Request) {
	t := r.PathValue("tenant")
	if !h.knownTenant(t, true) {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found.", t))
		return
	}
	o := origin(r)
	tid := h.TenantID
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        o + "/" + tid + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"jwks_uri":                              o + "/" + tid + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                identity.IssuerV2URL(o, tid),
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                o + "/" + tid + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         o + "/" + tid + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  o + "/" + tid + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   strings.TrimPrefix(o, "https://"),
		"grant_types_supported":                 []string{"client_credentials", "authorization_code", "refresh_token", deviceCodeGrant},
		"code_challenge_methods_supported":      []string{"S256", "plain"},
	})
}

// discoveryV1 is the v1 document; its issuer is the one in Coffer's access
// tokens, so validators that read issuer+jwks_uri from it accept them.
func (h *Handler) discoveryV1(w http.ResponseWriter, r *http.Request) {
	t := r.PathValue("tenant")
	if !h.knownTenant(t, true) {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found.", t))
		return
	}
	o := origin(r)
	tid := h.TenantID
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        o + "/" + tid + "/oauth2/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"jwks_uri":                              o + "/" + tid + "/discovery/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"issuer":                                identity.IssuerURL(tid),
		"authorization_endpoint":                o + "/" + tid + "/oauth2/authorize",
		"grant_types_supported":                 []string{"client_credentials"},
	})
}

func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	if !h.knownTenant(r.PathValue("tenant"), true) {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, "Tenant not found.")
		return
	}
	w.Header().Set("Cache-Control", "max-age=86400, private")
	httpx.WriteJSON(w, http.StatusOK, h.Keys.JWKS())
}

// instanceDiscovery answers MSAL's authority validation. As Entra does,
// the tenant discovery endpoint is built from the authorization_endpoint
// MSAL sends: its host (so an authority pinned to Coffer, or Coffer's own
// host, validates), its tenant segment filled in (MSAL Python fetches the
// endpoint as given; a literal "{tenant}" fails with "Unable to get
// authority configuration"), and the v2.0 document for a v2.0 endpoint,
// the v1 one otherwise. Without authorization_endpoint the tenant comes
// from the request path, and stays the "{tenant}" template for /common.
func (h *Handler) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(origin(r), "https://")
	tenant, v2 := "{tenant}", true
	if t := r.PathValue("tenant"); t != "" && t != "common" {
		tenant = t
	}
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		var segs []string
		if err == nil {
			segs = strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
		}
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || segs[0] == "" || strings.ContainsAny(segs[0], "{}%") {
			h.oauthError(w, r, http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
			return
		}
		host, tenant = strings.ToLower(u.Host), segs[0]
		v2 = len(segs) > 2 && segs[1] == "oauth2" && segs[2] == "v2.0"
	}
	doc := "/v2.0/.well-known/openid-configuration"
	if !v2 {
		doc = "/.well-known/openid-configuration"
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/" + tenant + doc,
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

type tokenRequest struct {
	clientID, clientSecret, grantType string
}

// parseTokenRequest reads the form and client authentication (post or basic).
func parseTokenRequest(r *http.Request) (*tokenRequest, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	f := r.PostForm
	tr := &tokenRequest{clientID: f.Get("client_id"), clientSecret: f.Get("client_secret"), grantType: f.Get("grant_type")}
	if user, pass, ok := r.BasicAuth(); ok {
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 == nil && err2 == nil {
			tr.clientID, tr.clientSecret = u, p
		}
	}
	return tr, nil
}

func (h *Handler) tokenV2(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded and at most 64 KiB.")
		return
	}
	if h.interactive() {
		if gt := r.PostForm.Get("grant_type"); gt == "authorization_code" || gt == "refresh_token" || gt == deviceCodeGrant || gt == "device_code" {
			h.userGrant(w, r)
			return
		}
	}
	_, tok, ok := h.grant(w, r, func(tr *tokenRequest) (string, bool) {
		scope := strings.TrimSpace(r.PostForm.Get("scope"))
		if strings.Contains(scope, " ") {
			// Entra takes one resource per client-credentials request.
			scope = strings.Fields(scope)[0]
		}
		res, ok := strings.CutSuffix(scope, "/.default")
		if !ok || res == "" {
			h.oauthError(w, r, http.StatusBadRequest, "invalid_scope", 1002012,
				fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
			return "", false
		}
		return res, true
	})
	if !ok {
		return
	}
	secs := int64(tok.Expires.Sub(tok.NotBefore).Seconds())
	noStore(w)
	httpx.WriteJSON(w, http.StatusOK, wire.TokenResponseV2{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok.Raw})
}

func (h *Handler) tokenV1(w http.ResponseWriter, r *http.Request) {
	_, tok, ok := h.grant(w, r, func(tr *tokenRequest) (string, bool) {
		res := r.PostForm.Get("resource")
		if res == "" {
			h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'resource'.")
			return "", false
		}
		return res, true
	})
	if !ok {
		return
	}
	secs := strconv.FormatInt(int64(tok.Expires.Sub(tok.NotBefore).Seconds()), 10)
	noStore(w)
	httpx.WriteJSON(w, http.StatusOK, wire.TokenResponseV1{
		TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs,
		ExpiresOn: strconv.FormatInt(tok.Expires.Unix(), 10), NotBefore: strconv.FormatInt(tok.NotBefore.Unix(), 10),
		Resource: tok.Claims.Audience, AccessToken: tok.Raw,
	})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
}

// grant runs the client-credentials grant shared by v1 and v2.
func (h *Handler) grant(w http.ResponseWriter, r *http.Request, resource func(*tokenRequest) (string, bool)) (*tokenRequest, *identity.Token, bool) {
	if !h.knownTenant(r.PathValue("tenant"), false) {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", r.PathValue("tenant")))
		return nil, nil, false
	}
	tr, err := parseTokenRequest(r)
	if err != nil {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded and at most 64 KiB.")
		return nil, nil, false
	}
	if tr.grantType != "client_credentials" {
		h.oauthError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+tr.grantType+"'. Coffer supports client_credentials here, and for directory users authorization_code, refresh_token and the device code grant at the v2.0 token endpoint.")
		return nil, nil, false
	}
	if tr.clientID == "" {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return nil, nil, false
	}
	res, ok := resource(tr)
	if !ok {
		return nil, nil, false
	}
	p, err := h.Principals.GetPrincipalByAppID(r.Context(), tr.clientID)
	if err != nil && errs.KindOf(err) != errs.NotExist {
		// The directory could not answer: say so, so clients retry,
		// instead of claiming the application does not exist.
		h.Logger.ErrorContext(r.Context(), "principal lookup failed", "err", err)
		if errs.KindOf(err) == errs.Unavailable {
			w.Header().Set("Retry-After", "5")
			h.oauthError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 0, "The directory is temporarily unavailable. Retry the request.")
		} else {
			h.oauthError(w, r, http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
		}
		return nil, nil, false
	}
	if err != nil || p.Type != model.PrincipalServicePrincipal {
		h.oauthError(w, r, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", tr.clientID, h.TenantID))
		return nil, nil, false
	}
	if tr.clientSecret == "" || !identity.CheckClientSecret(p.Credentials, tr.clientSecret, h.Now()) {
		h.oauthError(w, r, http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+p.AppID+"'.")
		return nil, nil, false
	}
	if p.Disabled {
		// Entra's answer for a service principal with accountEnabled
		// false; given only to a client that proved its secret.
		h.oauthError(w, r, http.StatusBadRequest, "unauthorized_client", 7000112,
			fmt.Sprintf("Application '%s'(%s) is disabled.", p.AppID, p.DisplayName))
		return nil, nil, false
	}
	// Checked only once the client is authenticated, so that the answer
	// does not tell strangers which application URIs exist.
	if h.KnownResource != nil {
		known, err := h.KnownResource(r.Context(), res)
		if err != nil {
			h.Logger.ErrorContext(r.Context(), "resource lookup failed", "err", err)
			h.oauthError(w, r, http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
			return nil, nil, false
		}
		if !known {
			h.oauthError(w, r, http.StatusBadRequest, "invalid_resource", 500011, wire.ResourceNotFound(res, h.TenantID))
			return nil, nil, false
		}
	}
	tok, err := h.Minter.Mint(p, res, TokenLifetime)
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "minting failed", "err", err)
		h.oauthError(w, r, http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
		return nil, nil, false
	}
	return tr, tok, true
}

func (h *Handler) oauthError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, desc string) {
	trace := httpx.RequestID(r.Context())
	if trace == "" {
		trace = uuid.NewString()
	}
	body := wire.OAuthError{Error: code, Timestamp: h.Now().UTC().Format("2006-01-02 15:04:05Z"), TraceID: trace, CorrelationID: trace}
	if aadsts != 0 {
		body.ErrorDescription = fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, trace, trace, body.Timestamp)
		body.ErrorCodes = []int{aadsts}
	} else {
		body.ErrorDescription = desc
	}
	noStore(w)
	httpx.WriteJSON(w, status, body)
}
