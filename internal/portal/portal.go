// Package portal serves Coffer's web portal: server-rendered pages (no
// JavaScript) that follow the Azure portal's names and wording, so a person
// can do a portal walkthrough (create a key vault, a secret, an access
// policy, delete a resource group) as written.
//
// The portal is a client of Coffer's public APIs, not a back door: a user
// signs in through the issuer's authorization code flow with PKCE (as the
// Azure portal's own app id), and every page calls ARM, Key Vault and Graph
// with that user's delegated tokens, so every authorization rule applies to
// the portal exactly as to the CLI and the SDKs. Calls go in-process
// through the same routed handler that serves the network.
//
// Sessions live in the shared store (sessions.go), so any replica serves
// them and a restart keeps them; signing out ends the session and revokes
// its refresh token. The session cookie is Secure, HttpOnly and SameSite=Lax; every form carries a
// CSRF token bound to the session; pages send a strict
// Content-Security-Policy (no scripts at all).
package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/oidc"
)

// Prefix is where the portal is served.
const Prefix = "/portal"

// SessionLifetime bounds a portal session (the refresh token's lifetime
// bounds it too).
const SessionLifetime = 8 * time.Hour

const (
	sessionCookie = "coffer_portal"
	pendingCookie = "coffer_portal_signin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Handler serves the portal.
type Handler struct {
	// API is Coffer's routed handler (ARM, Key Vault, Graph, issuer); the
	// portal calls it with the user's tokens.
	API            http.Handler
	TenantID       string
	SubscriptionID string
	Profile        cloud.Profile
	Logger         *slog.Logger
	Now            func() time.Time
	// Sessions keeps the portal's sessions (the shared store).
	Sessions SessionStore
	// RevokeRefreshToken ends a refresh token at the issuer (sign-out).
	RevokeRefreshToken func(ctx context.Context, rt string) error

	once       sync.Once
	pages      map[string]*template.Template
	mu         sync.Mutex
	sweepAt    time.Time
	refreshing map[string]*refreshLock
}

func (h *Handler) init() {
	h.once.Do(func() {
		base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/kvnav.html"))
		h.pages = map[string]*template.Template{}
		names, _ := fs.Glob(templateFS, "templates/*.html")
		for _, n := range names {
			n = strings.TrimPrefix(n, "templates/")
			if n == "layout.html" || n == "kvnav.html" {
				continue
			}
			h.pages[strings.TrimSuffix(n, ".html")] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n))
		}
	})
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ServeHTTP routes /portal/...
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	secureHeaders(w)
	p := strings.TrimPrefix(r.URL.Path, Prefix)
	if r.URL.Path == "/" || p == "" {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
		return
	}
	switch {
	case strings.HasPrefix(p, "/static/"):
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.StripPrefix(Prefix, http.FileServerFS(staticFS)).ServeHTTP(w, r)
		return
	case p == "/signin-oidc" && r.Method == http.MethodGet:
		h.callback(w, r)
		return
	case p == "/signin" && r.Method == http.MethodGet:
		h.startSignin(w, r, r.URL.Query().Get("returnTo"))
		return
	case p == "/signedout" && r.Method == http.MethodGet:
		h.render(w, r, nil, http.StatusOK, "signedout", nil)
		return
	}
	s := h.loadSession(r)
	if s == nil {
		if r.Method != http.MethodGet {
			http.Error(w, "Your session has expired. Sign in again.", http.StatusUnauthorized)
			return
		}
		h.startSignin(w, r, r.URL.RequestURI())
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
		if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.CSRF)) != 1 {
			h.render(w, r, s, http.StatusForbidden, "message", msgPage("Request refused",
				"The form was not submitted from this portal session (missing or wrong anti-forgery token). Reload the page and try again."))
			return
		}
	}
	if p == "/signout" && r.Method == http.MethodPost {
		h.endSession(r.Context(), s)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, Prefix+"/signedout", http.StatusSeeOther)
		return
	}
	h.route(w, r, s, p)
}

func secureHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
}

// startSignin begins the authorization code flow with PKCE (S256) against
// this server's issuer, on the host the browser used.
func (h *Handler) startSignin(w http.ResponseWriter, r *http.Request, returnTo string) {
	if !strings.HasPrefix(returnTo, Prefix+"/") || strings.HasPrefix(returnTo, "//") {
		returnTo = Prefix + "/"
	}
	key, verifier, state := randomString(), randomString()+randomString()[:20], randomString()
	h.sweep(r.Context())
	rec, _ := json.Marshal(pendingSignin{Verifier: verifier, State: state, ReturnTo: returnTo})
	if err := h.sessionStore().CreateEphemeral(r.Context(), kindSignin, sessionID(key), rec, h.Now().Add(oidc.CodeLifetime*2)); err != nil {
		h.Logger.ErrorContext(r.Context(), "storing a portal sign-in failed", "err", err)
		h.render(w, r, nil, http.StatusServiceUnavailable, "message", msgPage("Sign-in failed", "The portal could not start the sign-in. Try again."))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: key, Path: Prefix, MaxAge: 900, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {oidc.PortalClientID}, "response_type": {"code"}, "redirect_uri": {h.redirectURI(r)},
		"scope": {"https://management.core.windows.net//.default openid profile offline_access"}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "response_mode": {"query"},
	}
	http.Redirect(w, r, "/"+h.TenantID+"/oauth2/v2.0/authorize?"+q.Encode(), http.StatusFound)
}

func (h *Handler) redirectURI(r *http.Request) string {
	return "https://" + r.Host + oidc.PortalRedirectPath
}

// callback redeems the code (with the PKCE verifier) and opens a session.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(pendingCookie)
	var p *pendingSignin
	if err == nil {
		// Single use, whichever replica the browser comes back to.
		if b, err := h.sessionStore().TakeEphemeral(r.Context(), kindSignin, sessionID(c.Value), h.Now()); err == nil {
			p = &pendingSignin{}
			if json.Unmarshal(b, p) != nil {
				p = nil
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: "", Path: Prefix, MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if e := q.Get("error"); e != "" {
		h.render(w, r, nil, http.StatusUnauthorized, "message", msgPage("Sign-in failed", q.Get("error_description")))
		return
	}
	if p == nil || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		h.render(w, r, nil, http.StatusBadRequest, "message", msgPage("Sign-in failed", "The sign-in request expired or did not start here. Sign in again."))
		return
	}
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {oidc.PortalClientID}, "code": {q.Get("code")},
		"redirect_uri": {h.redirectURI(r)}, "code_verifier": {p.Verifier}, "scope": {armScope}}
	tr, err := h.tokenCall(r.Context(), r.Host, form)
	if err != nil {
		h.render(w, r, nil, http.StatusUnauthorized, "message", msgPage("Sign-in failed", err.Error()))
		return
	}
	claims := parseClaims(tr.AccessToken)
	sid, err := h.createSession(r.Context(), sessionRecord{CSRF: randomString(), OID: claims.OID, Name: claims.Name, UPN: claims.UPN,
		Refresh: tr.RefreshToken, Tokens: map[string]storedToken{armAudience: {tr.AccessToken, h.Now().Add(time.Duration(tr.ExpiresIn)*time.Second - time.Minute)}}})
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "storing a portal session failed", "err", err)
		h.render(w, r, nil, http.StatusServiceUnavailable, "message", msgPage("Sign-in failed", "The portal could not keep your session. Try again."))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: Prefix, MaxAge: int(SessionLifetime.Seconds()), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, p.ReturnTo, http.StatusSeeOther)
}

const (
	armAudience = "https://management.core.windows.net/"
	armScope    = armAudience + "/.default"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// tokenCall posts to the issuer's v2 token endpoint.
func (h *Handler) tokenCall(ctx context.Context, host string, form url.Values) (*tokenResponse, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "https://"+host+"/"+h.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.API.ServeHTTP(rec, req)
	var tr tokenResponse
	if rec.Code != http.StatusOK {
		var e struct {
			Desc string `json:"error_description"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return nil, fmt.Errorf("%s", e.Desc)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		return nil, fmt.Errorf("the token endpoint answered without a token")
	}
	return &tr, nil
}

type tokenClaims struct {
	OID  string `json:"oid"`
	Name string `json:"name"`
	UPN  string `json:"upn"`
}

// parseClaims reads the claims of a token the issuer just returned to us
// (in-process, so no signature check is needed to trust it).
func parseClaims(raw string) tokenClaims {
	var c tokenClaims
	parts := strings.Split(raw, ".")
	if len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			_ = json.Unmarshal(b, &c)
		}
	}
	return c
}

// apiError is an API's error answer, shown to the user in plain words.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Status == http.StatusForbidden {
		return "You do not have permission to do this. " + e.Message
	}
	if e.Message == "" {
		return fmt.Sprintf("The request failed (HTTP %d).", e.Status)
	}
	return e.Message
}

// call sends one API request as the signed-in user: host picks the API
// (as on the network), audience the token. out, if not nil, receives the
// JSON answer.
func (h *Handler) call(r *http.Request, s *session, method, host, path, audience string, body, out any) error {
	tok, err := h.token(r, s, audience)
	if err != nil {
		return &apiError{Status: http.StatusUnauthorized, Message: "Your sign-in has expired: " + err.Error()}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(r.Context(), method, "https://"+host+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(path, "/v1.0/") {
		req.Header.Set("ConsistencyLevel", "eventual")
	}
	rec := httptest.NewRecorder()
	h.API.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return &apiError{Status: rec.Code, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil && rec.Body.Len() > 0 {
		return json.Unmarshal(rec.Body.Bytes(), out)
	}
	return nil
}

// Hosts the portal's in-process calls name, so the router sends them to
// the right API.
func (h *Handler) armHost(r *http.Request) string {
	if h.Profile.ManagementHost != "" {
		return h.Profile.ManagementHost
	}
	return r.Host
}

func (h *Handler) graphHost(r *http.Request) string {
	if h.Profile.GraphHost != "" {
		return h.Profile.GraphHost
	}
	return r.Host
}
