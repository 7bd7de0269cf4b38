package keyvault

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

func unescape(s string) (string, error) { return url.QueryUnescape(s) }

// authenticate verifies the bearer token and fills req.caller.
func (h *Handler) authenticate(ctx context.Context, req *request) error {
	const op errs.Op = "keyvault.authenticate"
	authz := req.r.Header.Get("Authorization")
	scheme, raw, _ := strings.Cut(authz, " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"), errs.Msg("AKV10000: Request is missing a Bearer or PoP token."))
	}
	var badAud string
	claims, err := h.Verify.Verify(raw, func(aud string) bool {
		ok := h.vaultAudience(aud)
		if !ok {
			badAud = aud
		}
		return ok
	})
	if err != nil {
		if badAud != "" {
			return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"),
				errs.Msg(fmt.Sprintf("AKV10022: Invalid audience. Expected %s, found: %s.", h.Profile.VaultResource(), badAud)), err)
		}
		_, _, msg := errs.Details(err)
		return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"), errs.Msg("AKV10001: Error validating token: "+string(msg)), err)
	}
	p, err := h.Principals.GetPrincipal(ctx, claims.ObjectID)
	if err == nil && p.Type == model.PrincipalApplication {
		// The service principal was deleted; the app registration remains.
		err = errs.E(errs.NotExist)
	}
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"),
				errs.Msg("AKV10001: Error validating token: the principal "+claims.ObjectID+" no longer exists."))
		}
		return errs.E(op, err)
	}
	if p.Disabled {
		// accountEnabled=false bites at once: tokens issued before still
		// verify (and sit in the verified-token cache) but are refused here.
		return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"),
			errs.Msg("AKV10001: Error validating token: the principal "+claims.ObjectID+" is disabled."))
	}
	req.caller = policy.Caller{TenantID: claims.TenantID, ObjectID: claims.ObjectID, AppID: claims.AppID, Groups: claims.Groups}
	return nil
}

// vaultAudience is Profile.IsVaultAudience, remembering the last audience
// it accepted: clients send the same one on every request, and the check
// parses it as a URL. Only an accepted audience is remembered, so made-up
// audiences cannot grow anything.
func (h *Handler) vaultAudience(aud string) bool {
	if last := h.lastAudience.Load(); last != nil && *last == aud {
		return true
	}
	if !h.Profile.IsVaultAudience(aud) {
		return false
	}
	accepted := aud // a copy, so that only this branch allocates
	h.lastAudience.Store(&accepted)
	return true
}

// challenge sets the WWW-Authenticate header that SDKs parse: the authority
// (login host + tenant) and the resource, whose host must be a suffix of
// the vault host including the port (Go compares URL.Host).
func (h *Handler) challenge(w http.ResponseWriter, r *http.Request) {
	port := cloud.PortSuffix(r.Host)
	login := h.Profile.LoginHost
	if login == "" {
		login = "localhost"
	}
	authority := "https://" + login + port + "/" + h.TenantID
	resource := "https://" + h.Profile.VaultSuffix + port
	w.Header().Set("WWW-Authenticate", `Bearer authorization="`+authority+`", resource="`+resource+`"`)
}

// writeError renders err in Key Vault's error shape. Unexpected errors are
// logged with the request id and shown as a fixed message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := errs.KindOf(err)
	code, inner, msg := errs.Details(err)
	if code == "" || kind == errs.Other || kind == errs.Internal {
		h.Logger.ErrorContext(r.Context(), "key vault request failed", "request_id", httpx.RequestID(r.Context()), "err", err)
		if code == "" || kind == errs.Other || kind == errs.Internal {
			code, inner, msg = "InternalError", "", errs.Msg("An internal error occurred. Request id: "+httpx.RequestID(r.Context()))
		}
	}
	body := wire.KeyVaultError{Error: wire.ErrorDetail{Code: string(code), Message: string(msg)}}
	if inner != "" {
		body.Error.InnerError = &wire.InnerError{Code: string(inner)}
	}
	status := httpx.Status(kind)
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		// Storage without quorum: azcore retries after this many seconds.
		w.Header().Set("Retry-After", "5")
	}
	httpx.WriteJSON(w, status, body)
}
