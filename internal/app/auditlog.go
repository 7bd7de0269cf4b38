package app

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/opname"
)

// auditRequest writes the audit line of one answered request. The caller
// comes from a token only once its signature checks out: the bearer token
// of the request, or for a token endpoint the token it issued. Nothing of
// either token, nor of any body, is written.
func (s *Server) auditRequest(r *http.Request, op opname.Op, rec *recorder, status int, errCode string, d time.Duration) error {
	ev := &audit.Event{
		Time:             time.Now().UTC(),
		OperationName:    op.Name,
		OperationVersion: r.URL.Query().Get("api-version"),
		Category:         "AuditEvent",
		ResultType:       audit.ResultType(status),
		ResultSignature:  http.StatusText(status),
		ResultDesc:       errCode,
		DurationMs:       d.Milliseconds(),
		CallerIPAddress:  clientIP(r.RemoteAddr),
		CorrelationID:    truncate(r.Header.Get("x-ms-client-request-id"), 128),
		Properties: audit.Properties{
			API:            op.API,
			RequestURI:     "https://" + r.Host + r.URL.EscapedPath(),
			HTTPStatusCode: status,
			RequestID:      httpx.RequestID(r.Context()),
			ClientInfo:     truncate(r.UserAgent(), 256),
		},
	}
	var claims *identity.Claims
	switch op.API {
	case opname.KeyVault:
		vault := op.Vault
		if vault == "" {
			vault = s.Instance.DefaultVault
		}
		if v, err := s.Store.GetVault(r.Context(), vault); err == nil {
			ev.ResourceID = v.ResourceID()
		}
		ev.Properties.ID = ev.Properties.RequestURI
		claims = s.bearerClaims(r)
	case opname.ARM, opname.Graph:
		ev.ResourceID = r.URL.Path
		claims = s.bearerClaims(r)
	case opname.Token:
		if status == http.StatusOK {
			claims = s.issuedClaims(rec.body)
			if claims != nil {
				ev.ResourceID = claims.Audience
			}
		}
	}
	if claims != nil {
		ev.Identity = &audit.Identity{Claim: audit.Claim{ObjectID: claims.ObjectID, AppID: claims.AppID, TenantID: claims.TenantID, MIResID: claims.MIResID}}
	}
	return s.audit.Write(ev)
}

// bearerClaims are the claims of the request's bearer token if it is one
// of this server's, else nil; any audience (the handler judged that).
func (s *Server) bearerClaims(r *http.Request) *identity.Claims {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	c, err := s.verifier.Verify(strings.TrimSpace(raw), func(string) bool { return true })
	if err != nil {
		return nil
	}
	return c
}

// issuedClaims are the claims of the access token in a token endpoint's
// answer.
func (s *Server) issuedClaims(body []byte) *identity.Claims {
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &t) != nil || t.AccessToken == "" {
		return nil
	}
	c, err := s.verifier.Verify(t.AccessToken, func(string) bool { return true })
	if err != nil {
		return nil
	}
	return c
}

func clientIP(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
