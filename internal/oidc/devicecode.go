package oidc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
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
	UserCode string `json:"userCode"`
	ClientID string `json:"clientId"`
	Scope    string `json:"scope"`
	// Expires is the code's end; the record stays a minute longer, so a
	// late poll hears expired_token rather than an unknown code.
	Expires  time.Time `json:"expires"`
	LastPoll time.Time `json:"lastPoll,omitzero"`
	OID      string    `json:"oid,omitempty"` // set when the user approved
	Declined bool      `json:"declined,omitempty"`
}

// deviceRecordSlack is how long a device record outlives its code.
const deviceRecordSlack = time.Minute

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
	ctx := r.Context()
	f.sweep(ctx, now, h.Logger)
	f.mu.Lock()
	full := f.devices >= maxDeviceGrants
	if !full {
		f.devices++
	}
	f.mu.Unlock()
	if full {
		w.Header().Set("Retry-After", "30")
		h.oauthError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 0, "Too many pending device sign-ins. Retry later.")
		return
	}
	dc := randomToken()
	var uc string
	keep := now.Add(DeviceCodeLifetime + deviceRecordSlack)
	// The user code indexes the device code for the verification page;
	// a user code still in use is drawn again.
	for range 5 {
		uc = newUserCode()
		err := f.st.CreateEphemeral(ctx, kindUserCode, flowID(uc), []byte(flowID(dc)), keep)
		if err == nil {
			break
		}
		if errs.KindOf(err) != errs.Exist {
			h.storeFailed(w, r, err)
			return
		}
		uc = ""
	}
	rec, _ := json.Marshal(deviceGrant{UserCode: uc, ClientID: clientID, Scope: scope, Expires: now.Add(DeviceCodeLifetime)})
	if uc == "" {
		h.storeFailed(w, r, errs.E(errs.Internal, errs.Msg("no free user code")))
		return
	}
	if err := f.st.CreateEphemeral(ctx, kindDevice, flowID(dc), rec, keep); err != nil {
		h.storeFailed(w, r, err)
		return
	}
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
	if dc == "" {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'device_code'.")
		return "", "", false
	}
	now := h.Now()
	f := h.flows()
	type outcome struct {
		code   string
		aadsts int
		desc   string
	}
	var out outcome
	var g deviceGrant
	err := f.st.UpdateEphemeral(r.Context(), kindDevice, flowID(dc), now, func(b []byte) ([]byte, error) {
		g = deviceGrant{} // fn may run again: decode afresh
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, err
		}
		out = outcome{}
		switch {
		case g.ClientID != clientID:
			out = outcome{"invalid_grant", 70000, "The provided value for the input parameter 'device_code' is not valid."}
			return b, nil
		case now.After(g.Expires):
			out = outcome{"expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired."}
			return nil, nil
		case g.Declined:
			out = outcome{"authorization_declined", 70000, "The user declined the sign-in request."}
			return nil, nil
		case g.OID != "":
			return nil, nil // redeemed: the code is spent
		}
		// Pending. A client polling faster than the interval is told to
		// slow down (RFC 8628 §3.5); a little slack absorbs timer jitter.
		early := !g.LastPoll.IsZero() && now.Sub(g.LastPoll) < DevicePollInterval-time.Second
		if early {
			out = outcome{"slow_down", 0, "The client is polling too often; wait the interval between polls."}
		} else {
			out = outcome{"authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling."}
		}
		g.LastPoll = now
		return json.Marshal(g)
	})
	switch {
	case errs.KindOf(err) == errs.NotExist:
		out = outcome{"invalid_grant", 70000, "The provided value for the input parameter 'device_code' is not valid."}
	case err != nil:
		h.storeFailed(w, r, err)
		return "", "", false
	}
	if out.code != "" {
		h.oauthError(w, r, http.StatusBadRequest, out.code, out.aadsts, out.desc)
		return "", "", false
	}
	return g.OID, g.Scope, true
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
	ctx := r.Context()
	// The user code leads to the device code's record; a code that is
	// unknown, expired or already used "didn't work".
	var dcID string
	var g deviceGrant
	b, err := f.st.GetEphemeral(ctx, kindUserCode, flowID(page.Code), now)
	if err == nil {
		dcID = string(b)
		b, err = f.st.GetEphemeral(ctx, kindDevice, dcID, now)
	}
	if err == nil {
		err = json.Unmarshal(b, &g)
	}
	if err != nil && errs.KindOf(err) != errs.NotExist {
		h.Logger.ErrorContext(ctx, "device code lookup failed", "err", err)
		page.Error = "The sign-in could not be completed. Try again."
		h.deviceLoginForm(w, http.StatusServiceUnavailable, page)
		return
	}
	pending := func(g *deviceGrant) bool { return now.Before(g.Expires) && g.OID == "" && !g.Declined }
	if err != nil || !pending(&g) || page.Code == "" {
		page.Error = "That code didn't work. Check the code and try again."
		h.deviceLoginForm(w, http.StatusOK, page)
		return
	}
	client := publicClients[g.ClientID]
	// decide records the user's answer if the code is still pending.
	decide := func(set func(g *deviceGrant)) error {
		err := f.st.UpdateEphemeral(ctx, kindDevice, dcID, now, func(b []byte) ([]byte, error) {
			var cur deviceGrant
			if err := json.Unmarshal(b, &cur); err != nil {
				return nil, err
			}
			if !pending(&cur) {
				return nil, errs.E(errs.NotExist)
			}
			set(&cur)
			return json.Marshal(cur)
		})
		if err == nil {
			// The user code has done its work: it cannot be entered again.
			_ = f.st.DeleteEphemeral(ctx, kindUserCode, flowID(page.Code))
		}
		return err
	}
	failed := func(err error) {
		if errs.KindOf(err) == errs.NotExist {
			page.Error = "That code didn't work. Check the code and try again."
			h.deviceLoginForm(w, http.StatusOK, page)
			return
		}
		h.Logger.ErrorContext(ctx, "device code update failed", "err", err)
		page.Error = "The sign-in could not be completed. Try again."
		h.deviceLoginForm(w, http.StatusServiceUnavailable, page)
	}
	if pf.Get("op") == "cancel" {
		if err := decide(func(g *deviceGrant) { g.Declined = true }); err != nil {
			failed(err)
			return
		}
		h.deviceLoginForm(w, http.StatusOK, devicePage{Done: "Sign-in canceled", Message: "You canceled signing in to " + client.name + " on your device."})
		return
	}
	p, msg, status := h.checkPassword(r, page.Login, pf.Get("passwd"))
	if p == nil {
		page.Error = msg
		h.deviceLoginForm(w, status, page)
		return
	}
	if err := decide(func(g *deviceGrant) { g.OID = p.ObjectID }); err != nil {
		failed(err)
		return
	}
	h.deviceLoginForm(w, http.StatusOK, devicePage{Done: client.name, Message: "You have signed in to the " + client.name +
		" application on your device. You may now close this window."})
}
