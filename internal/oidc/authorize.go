package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// Users finds directory users for interactive sign-in.
type Users interface {
	GetUserByUPN(ctx context.Context, upn string) (*model.Principal, error)
	GetPrincipal(ctx context.Context, objectID string) (*model.Principal, error)
}

// Well-known public clients Coffer accepts in the authorization code flow,
// by their Entra application ids, so unmodified tools work.
const (
	AzureCLIClientID        = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	AzurePowerShellClientID = "1950a258-227b-4e31-a9cf-717495945fc2"
	PortalClientID          = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
	// PortalRedirectPath is the portal's reply URL, on the host that
	// serves the authorize request.
	PortalRedirectPath = "/portal/signin-oidc"
)

type publicClient struct {
	name string
	// redirectOK checks a reply URL; reqHost is the authorize request's Host.
	redirectOK func(u *url.URL, reqHost string) bool
}

// loopback reply URLs (RFC 8252 §7.3), any port, as Entra allows for
// desktop clients: the CLIs listen on http://localhost:{port}.
func loopback(u *url.URL, _ string) bool {
	h := u.Hostname()
	return u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1") && u.User == nil
}

// samePortal accepts only the portal's reply path on the very host the
// user is signing in on, so a code can never be sent to another site.
func samePortal(u *url.URL, reqHost string) bool {
	return u.Scheme == "https" && strings.EqualFold(u.Host, reqHost) && u.Path == PortalRedirectPath && u.User == nil && u.RawQuery == ""
}

var publicClients = map[string]publicClient{
	AzureCLIClientID:        {"Microsoft Azure CLI", loopback},
	AzurePowerShellClientID: {"Microsoft Azure PowerShell", loopback},
	PortalClientID:          {"Azure Portal", samePortal},
}

// Lifetimes of the user flows' artifacts (Entra: codes 10 min, access
// tokens 60-90 min, refresh tokens up to 90 days; Coffer keeps refresh
// tokens only a day).
const (
	CodeLifetime         = 5 * time.Minute
	UserTokenLifetime    = time.Hour
	RefreshTokenLifetime = 24 * time.Hour
)

// Sign-in throttling: failures per user and per client address in a
// sliding window (Entra's smart lockout locks after 10 by default; Coffer
// is stricter per user).
const (
	userFailLimit = 5
	addrFailLimit = 20
	failWindow    = 15 * time.Minute
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// The flows' records, kept in the shared store (see FlowStore) as JSON.
const (
	kindCode     = "code"
	kindRefresh  = "refresh"
	kindDevice   = "device"
	kindUserCode = "usercode"
)

type authCode struct {
	OID         string `json:"oid"`
	ClientID    string `json:"clientId"`
	RedirectURI string `json:"redirectUri"`
	Challenge   string `json:"challenge"`
	Method      string `json:"method"`
	Scope       string `json:"scope"`
	Nonce       string `json:"nonce,omitempty"` // the authorize request's, for the id_token
	Redeemed    bool   `json:"redeemed,omitempty"`
}

type refreshGrant struct {
	OID      string `json:"oid"`
	ClientID string `json:"clientId"`
}

// FlowStore keeps the state of the interactive flows (authorization
// codes, refresh tokens, device codes) where every replica sees it:
// *store.Store, whose records are encrypted and expire. Ids are digests
// of the secrets (see flowID), never the secrets.
type FlowStore interface {
	CreateEphemeral(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	PutEphemeral(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	GetEphemeral(ctx context.Context, kind, id string, now time.Time) ([]byte, error)
	UpdateEphemeral(ctx context.Context, kind, id string, now time.Time, fn func(value []byte) ([]byte, error)) error
	TakeEphemeral(ctx context.Context, kind, id string, now time.Time) ([]byte, error)
	DeleteEphemeral(ctx context.Context, kind, id string) error
	SweepEphemeral(ctx context.Context, kind string, now time.Time) (int, error)
}

// userFlows holds what of the interactive flows is per replica: the
// sign-in throttles and the sweep schedule.
type userFlows struct {
	once     sync.Once
	mu       sync.Mutex
	st       FlowStore
	perUser  *failureLimiter
	perAddr  *failureLimiter
	shared   *sharedFailures
	sweepAt  time.Time
	sweepGap time.Duration
	// devices is the number of live device codes at the last sweep plus
	// those created since on this replica: a bound on unauthenticated
	// writes.
	devices int
}

func (h *Handler) flows() *userFlows {
	f := &h.userFlows
	f.once.Do(func() {
		f.st = h.Flows
		f.perUser = newFailureLimiter(userFailLimit, failWindow)
		f.perAddr = newFailureLimiter(addrFailLimit, failWindow)
		f.shared = &sharedFailures{st: h.Flows, limit: userFailLimit, window: failWindow}
		f.sweepGap = time.Minute
	})
	return f
}

// sweep removes expired records, at most once per sweepGap per replica.
func (f *userFlows) sweep(ctx context.Context, now time.Time, log *slog.Logger) {
	f.mu.Lock()
	due := !now.Before(f.sweepAt)
	if due {
		f.sweepAt = now.Add(f.sweepGap)
	}
	f.mu.Unlock()
	if !due {
		return
	}
	for _, kind := range []string{kindCode, kindRefresh, kindDevice, kindUserCode, kindSignInFailures} {
		live, err := f.st.SweepEphemeral(ctx, kind, now)
		if err != nil {
			log.WarnContext(ctx, "sweeping expired sign-in records failed", "kind", kind, "err", err)
			continue
		}
		if kind == kindDevice {
			f.mu.Lock()
			f.devices = live
			f.mu.Unlock()
		}
	}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// flowID is a record's id for a secret: its SHA-256, so the store's key
// names (which are not encrypted) give nothing away.
func flowID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// storeFailed answers a store error of a flow: a store that cannot answer
// is the server's fault (503 when it says so, so clients retry).
func (h *Handler) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "sign-in state unavailable", "err", err)
	if errs.KindOf(err) == errs.Unavailable {
		w.Header().Set("Retry-After", "5")
		h.oauthError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 0, "The directory is temporarily unavailable. Retry the request.")
		return
	}
	h.oauthError(w, r, http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
}

// authzParams are the authorize request's parameters Coffer uses.
var authzParams = []string{"client_id", "response_type", "redirect_uri", "scope", "state", "code_challenge",
	"code_challenge_method", "response_mode", "nonce", "prompt", "login_hint", "client_info", "x-client-SKU", "x-client-Ver"}

type hidden struct{ Name, Value string }

// authorize serves GET (the sign-in page) and POST (the credentials) of
// /{tenant}/oauth2/v2.0/authorize.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.authzPage(w, http.StatusBadRequest, "AADSTS900144: The request is malformed.")
		return
	}
	q := r.Form
	if !h.knownTenant(r.PathValue("tenant"), true) {
		h.authzPage(w, http.StatusBadRequest, fmt.Sprintf("AADSTS90002: Tenant '%s' not found.", r.PathValue("tenant")))
		return
	}
	clientID := q.Get("client_id")
	client, ok := publicClients[strings.ToLower(clientID)]
	if !ok {
		h.authzPage(w, http.StatusBadRequest, fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", clientID, h.TenantID))
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if redirect == "" || err != nil || !client.redirectOK(ru, r.Host) {
		h.authzPage(w, http.StatusBadRequest, fmt.Sprintf("AADSTS50011: The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", redirect, clientID))
		return
	}
	// From here on errors go back to the client, as OAuth2 requires.
	fail := func(code string, aadsts int, desc string) {
		v := url.Values{"error": {code}, "error_description": {fmt.Sprintf("AADSTS%d: %s", aadsts, desc)}}
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		h.respond(w, r, ru, q.Get("response_mode"), v)
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not enabled for the application.", rt))
		return
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" && rm != "form_post" {
		fail("invalid_request", 900144, "Coffer supports response_mode query and form_post.")
		return
	}
	ch, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if ch == "" {
		// Coffer's clients are all public: it requires PKCE of each.
		fail("invalid_request", 9002325, "Proof Key for Code Exchange is required for public clients.")
		return
	}
	if method == "" {
		method = "plain"
	}
	if method != "S256" && method != "plain" {
		fail("invalid_request", 5000812, "The code_challenge_method '"+method+"' is not supported: use S256.")
		return
	}
	if len(ch) < 43 || len(ch) > 128 {
		fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
		return
	}
	hid := []hidden{}
	for _, k := range authzParams {
		if v := q.Get(k); v != "" {
			hid = append(hid, hidden{k, v})
		}
	}
	page := signinPage{ClientName: client.name, Action: r.URL.Path, Hidden: hid, Login: q.Get("login_hint")}
	if r.Method == http.MethodGet {
		h.signinForm(w, http.StatusOK, page)
		return
	}
	// The sign-in form's token must match its cookie (double submit): a
	// foreign page cannot sign a victim in as someone else.
	c, err := r.Cookie(flowCookie)
	ft := r.PostForm.Get("flowToken")
	if err != nil || ft == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(ft)) != 1 {
		page.Error = "Your sign-in session has expired. Please sign in again."
		h.signinForm(w, http.StatusBadRequest, page)
		return
	}
	login, pw := strings.TrimSpace(r.PostForm.Get("login")), r.PostForm.Get("passwd")
	page.Login = login
	p, msg, status := h.checkPassword(r, login, pw)
	if p == nil {
		page.Error = msg
		h.signinForm(w, status, page)
		return
	}
	code := randomToken()
	now := h.Now()
	f := h.flows()
	f.sweep(r.Context(), now, h.Logger)
	rec, _ := json.Marshal(authCode{OID: p.ObjectID, ClientID: strings.ToLower(clientID), RedirectURI: redirect,
		Challenge: ch, Method: method, Scope: q.Get("scope"), Nonce: q.Get("nonce")})
	if err := f.st.CreateEphemeral(r.Context(), kindCode, flowID(code), rec, now.Add(CodeLifetime)); err != nil {
		h.Logger.ErrorContext(r.Context(), "storing an authorization code failed", "err", err)
		page.Error = "The sign-in could not be completed. Try again."
		h.signinForm(w, http.StatusServiceUnavailable, page)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	v := url.Values{"code": {code}}
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	if q.Get("client_info") == "1" {
		v.Set("client_info", clientInfo(p.ObjectID, h.TenantID))
	}
	v.Set("session_state", identity.NewObjectID())
	h.respond(w, r, ru, q.Get("response_mode"), v)
}

// checkPassword verifies a sign-in. On failure it returns the message for
// the page (Entra's AADSTS text) and the status.
func (h *Handler) checkPassword(r *http.Request, login, pw string) (*model.Principal, string, int) {
	now := h.Now()
	f := h.flows()
	userKey := strings.ToLower(login)
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	if f.perUser.Locked(userKey, now) || f.perAddr.Locked(addr, now) || f.shared.Locked(r.Context(), userKey, now) {
		h.Logger.WarnContext(r.Context(), "sign-in throttled", "addr", addr)
		return nil, "AADSTS50053: Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Try again later.", http.StatusTooManyRequests
	}
	var p *model.Principal
	if h.Users != nil && login != "" {
		p, err = h.Users.GetUserByUPN(r.Context(), login)
		if err != nil && errs.KindOf(err) != errs.NotExist {
			h.Logger.ErrorContext(r.Context(), "user lookup failed", "err", err)
			return nil, "The directory is temporarily unavailable. Try again.", http.StatusServiceUnavailable
		}
	}
	// The password is checked (or a dummy hash is) either way, so timing
	// does not tell which user names exist.
	hash := dummyHash()
	if p != nil {
		hash = p.PasswordHash
	}
	if !identity.CheckPassword(hash, pw) || p == nil {
		f.perUser.Fail(userKey, now)
		f.perAddr.Fail(addr, now)
		if p != nil {
			if err := f.shared.Fail(r.Context(), userKey, now); err != nil {
				h.Logger.WarnContext(r.Context(), "recording a failed sign-in failed", "err", err)
			}
		}
		h.Logger.InfoContext(r.Context(), "sign-in failed", "addr", addr)
		return nil, "AADSTS50126: Error validating credentials due to invalid username or password.", http.StatusOK
	}
	if p.Disabled {
		return nil, "AADSTS50057: The user account is disabled.", http.StatusOK
	}
	f.perUser.Reset(userKey)
	if err := f.shared.Reset(r.Context(), userKey, now); err != nil {
		h.Logger.WarnContext(r.Context(), "clearing failed sign-ins failed", "err", err)
	}
	return p, "", 0
}

var dummyHash = sync.OnceValue(func() string { return identity.HashPassword(randomToken()) })

func clientInfo(oid, tid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"uid":"` + oid + `","utid":"` + tid + `"}`))
}

// respond sends the authorization response: in the redirect's query, or
// for response_mode=form_post (MSAL's interactive flows) as a form the
// page posts to the reply URL, so the code is never in a URL.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, u *url.URL, mode string, v url.Values) {
	if mode != "form_post" {
		redirectTo(w, r, u, v)
		return
	}
	nonce := randomToken()
	var fields []hidden
	for k := range v {
		fields = append(fields, hidden{k, v.Get(k)})
	}
	cspHeaders(w, nonce)
	// The one script Coffer serves: it submits the form (with a button
	// for browsers without scripts), allowed by its nonce only.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+"'; frame-ancestors 'none'; base-uri 'none'")
	if err := pages.ExecuteTemplate(w, "formpost.html", map[string]any{"Nonce": nonce, "Action": u.String(), "Fields": fields}); err != nil {
		h.Logger.Error("form_post page", "err", err)
	}
}

func redirectTo(w http.ResponseWriter, r *http.Request, u *url.URL, v url.Values) {
	to := *u
	to.RawQuery = v.Encode()
	noStore(w)
	http.Redirect(w, r, to.String(), http.StatusFound)
}

const flowCookie = "coffer_signin_flow"

type signinPage struct {
	Nonce, ClientName, Action, Error, Login, FlowToken string
	Hidden                                             []hidden
}

func cspHeaders(w http.ResponseWriter, nonce string) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	noStore(w)
}

func (h *Handler) signinForm(w http.ResponseWriter, status int, p signinPage) {
	p.Nonce, p.FlowToken = randomToken(), randomToken()
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: p.FlowToken, Path: "/", MaxAge: 1800, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	cspHeaders(w, p.Nonce)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "signin.html", p); err != nil {
		h.Logger.Error("sign-in page", "err", err)
	}
}

func (h *Handler) authzPage(w http.ResponseWriter, status int, msg string) {
	nonce := randomToken()
	cspHeaders(w, nonce)
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, "error.html", map[string]string{"Nonce": nonce, "Message": msg})
}
