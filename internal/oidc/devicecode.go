package oidc

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/httpx"
)

// Device code flow (RFC 8628, Entra's /devicecode): a client shows a user
// code, the user enters it with their credentials at /devicelogin, and the
// client polls the token endpoint meanwhile.
const (
	DeviceCodeLifetime = 15 * time.Minute
	// DevicePollInterval is the interval clients are told to poll at;
	// polling faster gets slow_down.
	DevicePollInterval = 5 * time.Second
	// DeviceLoginPath is the verification page.
	DeviceLoginPath = "/devicelogin"
	maxDeviceGrants = 10_000
)

type deviceGrant struct {
	userCode, clientID, scope string
	expires, lastPoll         time.Time
	oid                       string // set when the user approved
	declined                  bool
}

// userCodeAlphabet avoids look-alike characters (0/O, 1/I).
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func newUserCode() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b)
}

type deviceCodeResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int64  `json:"expires_in"`
	Interval        int64  `json:"interval"`
	Message         string `json:"message"`
}

func (h *Handler) deviceCode(w http.ResponseWriter, r *http.Request) {
	if !h.knownTenant(r.PathValue("tenant"), true) {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", r.PathValue("tenant")))
		return
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded and at most 64 KiB.")
		return
	}
	clientID := strings.ToLower(r.PostForm.Get("client_id"))
	// The portal signs in through its own pages, never with a device code.
	if _, ok := publicClients[clientID]; !ok || clientID == PortalClientID {
		h.oauthError(w, r, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", r.PostForm.Get("client_id"), h.TenantID))
		return
	}
	scope := r.PostForm.Get("scope")
	if _, _, ok := resourceOf(scope); !ok {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid: it must name one resource.")
		return
	}
	now := h.Now()
	f := h.flows()
	dc := randomToken()
	uc := newUserCode()
	f.mu.Lock()
	f.sweep(now)
	if len(f.devices) >= maxDeviceGrants {
		f.mu.Unlock()
		w.Header().Set("Retry-After", "30")
		h.oauthError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 0, "Too many pending device sign-ins. Retry later.")
		return
	}
	f.devices[digest(dc)] = &deviceGrant{userCode: uc, clientID: clientID, scope: scope, expires: now.Add(DeviceCodeLifetime)}
	f.mu.Unlock()
	uri := origin(r) + DeviceLoginPath
	noStore(w)
	httpx.WriteJSON(w, http.StatusOK, deviceCodeResponse{UserCode: uc, DeviceCode: dc, VerificationURI: uri,
		ExpiresIn: int64(DeviceCodeLifetime.Seconds()), Interval: int64(DevicePollInterval.Seconds()),
		Message: fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", uri, uc)})
}

// pollDevice answers one token poll: the signed-in user's object id, or
// false after writing the error (authorization_pending, slow_down, ...).
func (h *Handler) pollDevice(w http.ResponseWriter, r *http.Request, clientID string) (oid, scope string, ok bool) {
	dc := r.PostForm.Get("device_code")
	if dc == "" {
		dc = r.PostForm.Get("code") // the v1 parameter name
	}
	now := h.Now()
	f := h.flows()
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.devices[digest(dc)]
	fail := func(code string, aadsts int, desc string) (string, string, bool) {
		h.oauthError(w, r, http.StatusBadRequest, code, aadsts, desc)
		return "", "", false
	}
	switch {
	case dc == "":
		return fail("invalid_request", 900144, "The request body must contain the following parameter: 'device_code'.")
	case g == nil || g.clientID != clientID:
		return fail("invalid_grant", 70000, "The provided value for the input parameter 'device_code' is not valid.")
	case now.After(g.expires):
		delete(f.devices, digest(dc))
		return fail("expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
	case g.declined:
		delete(f.devices, digest(dc))
		return fail("authorization_declined", 70000, "The user declined the sign-in request.")
	case g.oid != "":
		delete(f.devices, digest(dc))
		return g.oid, g.scope, true
	}
	// Pending. A client polling faster than the interval is told to slow
	// down (RFC 8628 §3.5); a little slack absorbs timer jitter.
	early := !g.lastPoll.IsZero() && now.Sub(g.lastPoll) < DevicePollInterval-time.Second
	g.lastPoll = now
	if early {
		return fail("slow_down", 0, "The client is polling too often; wait the interval between polls.")
	}
	return fail("authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
}

type devicePage struct {
	Nonce, FlowToken, Code, Login, Error, Done, Message string
}

func (h *Handler) deviceLoginForm(w http.ResponseWriter, status int, p devicePage) {
	p.Nonce = randomToken()
	if p.Done == "" {
		p.FlowToken = randomToken()
		http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: p.FlowToken, Path: "/", MaxAge: 1800, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	cspHeaders(w, p.Nonce)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "devicelogin.html", p); err != nil {
		h.Logger.Error("device login page", "err", err)
	}
}

// deviceLogin serves the verification page: GET shows it, POST approves
// (after the password check, throttled like every sign-in) or declines.
func (h *Handler) deviceLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		h.deviceLoginForm(w, http.StatusOK, devicePage{Code: r.URL.Query().Get("otc")})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.deviceLoginForm(w, http.StatusBadRequest, devicePage{Error: "The request is malformed."})
		return
	}
	pf := r.PostForm
	page := devicePage{Code: strings.ToUpper(strings.TrimSpace(pf.Get("otc"))), Login: strings.TrimSpace(pf.Get("login"))}
	c, err := r.Cookie(flowCookie)
	if ft := pf.Get("flowToken"); err != nil || ft == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(ft)) != 1 {
		page.Error = "Your sign-in session has expired. Please sign in again."
		h.deviceLoginForm(w, http.StatusBadRequest, page)
		return
	}
	now := h.Now()
	f := h.flows()
	find := func() *deviceGrant {
		for _, g := range f.devices {
			if subtle.ConstantTimeCompare([]byte(g.userCode), []byte(page.Code)) == 1 && now.Before(g.expires) && g.oid == "" && !g.declined {
				return g
			}
		}
		return nil
	}
	f.mu.Lock()
	g := find()
	f.mu.Unlock()
	if g == nil {
		page.Error = "That code didn't work. Check the code and try again."
		h.deviceLoginForm(w, http.StatusOK, page)
		return
	}
	client := publicClients[g.clientID]
	if pf.Get("op") == "cancel" {
		f.mu.Lock()
		g.declined = true
		f.mu.Unlock()
		h.deviceLoginForm(w, http.StatusOK, devicePage{Done: "Sign-in canceled", Message: "You canceled signing in to " + client.name + " on your device."})
		return
	}
	p, msg, status := h.checkPassword(r, page.Login, pf.Get("passwd"))
	if p == nil {
		page.Error = msg
		h.deviceLoginForm(w, status, page)
		return
	}
	f.mu.Lock()
	g.oid = p.ObjectID
	f.mu.Unlock()
	h.deviceLoginForm(w, http.StatusOK, devicePage{Done: client.name, Message: "You have signed in to the " + client.name +
		" application on your device. You may now close this window."})
}
