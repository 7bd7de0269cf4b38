package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/oidc"
)

// Portal sessions and pending sign-ins live in the shared store (see
// SessionStore), so that behind a load balancer any replica serves any
// request of a session: no sticky sessions. Each request loads its
// session; changes (a refreshed token, an access policy draft) are
// written back field by field with an atomic update, so two requests of
// one session on two replicas do not undo each other's changes.

// SessionStore keeps the portal's sessions: *store.Store, whose records
// are encrypted at rest and expire. Ids are digests of the cookies.
type SessionStore interface {
	CreateEphemeral(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	GetEphemeral(ctx context.Context, kind, id string, now time.Time) ([]byte, error)
	UpdateEphemeral(ctx context.Context, kind, id string, now time.Time, fn func(value []byte) ([]byte, error)) error
	TakeEphemeral(ctx context.Context, kind, id string, now time.Time) ([]byte, error)
	SweepEphemeral(ctx context.Context, kind string, now time.Time) (int, error)
}

const (
	kindSession = "portal-session"
	kindSignin  = "portal-signin"
	// sweepEvery bounds how often a replica removes expired sessions.
	sweepEvery = 10 * time.Minute
)

// sessionID is the store id of a cookie value.
func sessionID(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

type storedToken struct {
	Raw     string    `json:"raw"`
	Expires time.Time `json:"expires"`
}

// sessionRecord is a session as stored.
type sessionRecord struct {
	CSRF    string                   `json:"csrf"`
	OID     string                   `json:"oid"`
	Name    string                   `json:"name,omitempty"`
	UPN     string                   `json:"upn,omitempty"`
	Refresh string                   `json:"refresh"`
	Tokens  map[string]storedToken   `json:"tokens,omitempty"`
	Drafts  map[string][]draftPolicy `json:"drafts,omitempty"` // vault resource id → policies added, not yet saved
}

type pendingSignin struct {
	Verifier string `json:"verifier"`
	State    string `json:"state"`
	ReturnTo string `json:"returnTo"`
}

// session is one request's copy of its session.
type session struct {
	id string // the store id
	// mu guards the copy; a page may call APIs from several goroutines.
	mu sync.Mutex
	sessionRecord
}

func (h *Handler) sessionStore() SessionStore { return h.Sessions }

// loadSession returns the caller's live session, or nil (no cookie, an
// unknown or expired session; a store failure is logged and reads as
// signed out rather than as an error page with no way forward).
func (h *Handler) loadSession(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	s := &session{id: sessionID(c.Value)}
	b, err := h.sessionStore().GetEphemeral(r.Context(), kindSession, s.id, h.Now())
	if err == nil {
		err = json.Unmarshal(b, &s.sessionRecord)
	}
	if err != nil {
		if errs.KindOf(err) != errs.NotExist {
			h.Logger.ErrorContext(r.Context(), "loading a portal session failed", "err", err)
		}
		return nil
	}
	return s
}

// createSession stores a new session and returns its cookie value.
func (h *Handler) createSession(ctx context.Context, rec sessionRecord) (string, error) {
	h.sweep(ctx)
	cookie := randomString()
	b, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	return cookie, h.sessionStore().CreateEphemeral(ctx, kindSession, sessionID(cookie), b, h.Now().Add(SessionLifetime))
}

// updateSession changes the stored session with fn and refreshes s's copy
// from the result.
func (h *Handler) updateSession(ctx context.Context, s *session, fn func(rec *sessionRecord)) error {
	var out sessionRecord
	err := h.sessionStore().UpdateEphemeral(ctx, kindSession, s.id, h.Now(), func(b []byte) ([]byte, error) {
		out = sessionRecord{}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		fn(&out)
		return json.Marshal(out)
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sessionRecord = out
	s.mu.Unlock()
	return nil
}

// reloadSession rereads s from the store.
func (h *Handler) reloadSession(ctx context.Context, s *session) error {
	b, err := h.sessionStore().GetEphemeral(ctx, kindSession, s.id, h.Now())
	if err != nil {
		return err
	}
	var rec sessionRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return err
	}
	s.mu.Lock()
	s.sessionRecord = rec
	s.mu.Unlock()
	return nil
}

// endSession removes the session (whichever replica is asked next finds
// none) and revokes its refresh token, so a copy of it, or of the cookie,
// opens nothing.
func (h *Handler) endSession(ctx context.Context, s *session) {
	b, err := h.sessionStore().TakeEphemeral(ctx, kindSession, s.id, h.Now())
	var rec sessionRecord
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		if errs.KindOf(err) != errs.NotExist {
			h.Logger.ErrorContext(ctx, "ending a portal session failed", "err", err)
		}
		return
	}
	if h.RevokeRefreshToken != nil {
		if err := h.RevokeRefreshToken(ctx, rec.Refresh); err != nil {
			h.Logger.ErrorContext(ctx, "revoking a portal session's refresh token failed", "err", err)
		}
	}
}

// sweep removes expired sessions and sign-ins, now and then.
func (h *Handler) sweep(ctx context.Context) {
	now := h.Now()
	h.mu.Lock()
	due := !now.Before(h.sweepAt)
	if due {
		h.sweepAt = now.Add(sweepEvery)
	}
	h.mu.Unlock()
	if !due {
		return
	}
	for _, kind := range []string{kindSession, kindSignin} {
		if _, err := h.sessionStore().SweepEphemeral(ctx, kind, now); err != nil {
			h.Logger.WarnContext(ctx, "sweeping expired portal sessions failed", "err", err)
		}
	}
}

// token returns the session's access token for audience, redeeming the
// refresh token when it has none that is still valid. Refresh tokens
// rotate, so of two requests refreshing at once (on one replica or two)
// one spends the token first; the other then finds the new token or the
// new refresh token in the store and uses that.
func (h *Handler) token(r *http.Request, s *session, audience string) (string, error) {
	valid := func() (string, string, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.Tokens[audience]
		return t.Raw, s.Refresh, ok && h.Now().Before(t.Expires)
	}
	if raw, _, ok := valid(); ok {
		return raw, nil
	}
	// One refresh at a time per replica and session.
	unlock := h.lockSession(s.id)
	defer unlock()
	if err := h.reloadSession(r.Context(), s); err != nil {
		return "", err
	}
	scope := strings.TrimSuffix(audience, "/") + "/.default"
	if audience == armAudience {
		scope = armScope
	}
	var lastErr error
	for range 2 {
		raw, rt, ok := valid()
		if ok {
			return raw, nil
		}
		tr, err := h.tokenCall(r.Context(), r.Host, url.Values{"grant_type": {"refresh_token"}, "client_id": {oidc.PortalClientID},
			"refresh_token": {rt}, "scope": {scope}})
		if err != nil {
			// Another replica may have rotated the token meanwhile.
			lastErr = err
			if err := h.reloadSession(r.Context(), s); err != nil {
				return "", lastErr
			}
			if _, now, _ := valid(); now == rt {
				return "", lastErr
			}
			continue
		}
		exp := h.Now().Add(time.Duration(tr.ExpiresIn)*time.Second - time.Minute)
		if err := h.updateSession(r.Context(), s, func(rec *sessionRecord) {
			if rec.Tokens == nil {
				rec.Tokens = map[string]storedToken{}
			}
			rec.Tokens[audience] = storedToken{tr.AccessToken, exp}
			if tr.RefreshToken != "" {
				rec.Refresh = tr.RefreshToken
			}
		}); err != nil {
			return "", err
		}
		return tr.AccessToken, nil
	}
	return "", lastErr
}

// lockSession serializes token refreshes of one session on this replica.
func (h *Handler) lockSession(id string) func() {
	h.mu.Lock()
	if h.refreshing == nil {
		h.refreshing = map[string]*refreshLock{}
	}
	l := h.refreshing[id]
	if l == nil {
		l = &refreshLock{}
		h.refreshing[id] = l
	}
	l.users++
	h.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		h.mu.Lock()
		if l.users--; l.users == 0 {
			delete(h.refreshing, id)
		}
		h.mu.Unlock()
	}
}

type refreshLock struct {
	mu    sync.Mutex
	users int
}

// drafts returns the session's unsaved access policies of a vault.
func (s *session) draftsOf(vaultID string) []draftPolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]draftPolicy(nil), s.Drafts[vaultID]...)
}

// addDraft keeps an access policy to add to a vault on Save.
func (h *Handler) addDraft(ctx context.Context, s *session, vaultID string, dp draftPolicy) error {
	return h.updateSession(ctx, s, func(rec *sessionRecord) {
		if rec.Drafts == nil {
			rec.Drafts = map[string][]draftPolicy{}
		}
		rec.Drafts[vaultID] = append(rec.Drafts[vaultID], dp)
	})
}

// clearDrafts forgets a vault's unsaved access policies.
func (h *Handler) clearDrafts(ctx context.Context, s *session, vaultID string) error {
	return h.updateSession(ctx, s, func(rec *sessionRecord) { delete(rec.Drafts, vaultID) })
}
