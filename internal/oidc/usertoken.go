package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// userTokenResponse is the v2.0 token endpoint's answer to a user grant.
type userTokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// oidcScopes are the OpenID scopes that name no resource.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "email": true, "offline_access": true}

// resourceOf picks the resource (the token's audience) and the scp claim
// from a v2 scope string: "https://management.core.windows.net//.default
// offline_access" names ARM. No resource means Graph, as in Entra.
func resourceOf(scope string) (aud, scp string, ok bool) {
	for _, s := range strings.Fields(scope) {
		if oidcScopes[strings.ToLower(s)] {
			continue
		}
		if aud != "" {
			return "", "", false // one resource per token, as Entra
		}
		i := strings.LastIndex(s, "/")
		if i <= 0 || !strings.Contains(s, "://") {
			return "", "", false
		}
		aud, scp = s[:i], s[i+1:]
		if scp == ".default" {
			scp = "user_impersonation"
		}
	}
	if aud == "" {
		aud, scp = "https://graph.microsoft.com", "User.Read"
	}
	if strings.Contains(strings.ToLower(aud), "graph.") {
		scp = "Directory.AccessAsUser.All User.Read"
	}
	return aud, scp, true
}

// deviceCodeGrant is RFC 8628's grant type (Entra also takes "device_code").
const deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"

// userGrant serves grant_type=authorization_code, refresh_token and the
// device code grant.
func (h *Handler) userGrant(w http.ResponseWriter, r *http.Request) {
	if !h.knownTenant(r.PathValue("tenant"), true) {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", r.PathValue("tenant")))
		return
	}
	f := r.PostForm
	clientID := strings.ToLower(f.Get("client_id"))
	if clientID == "" {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if _, ok := publicClients[clientID]; !ok {
		h.oauthError(w, r, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", f.Get("client_id"), h.TenantID))
		return
	}
	now := h.Now()
	fl := h.flows()
	fl.sweep(r.Context(), now, h.Logger)
	ctx := r.Context()
	// nonce is the authorization request's; openidScope is the scope
	// that decides on an id_token: the one the user consented to
	// (authorize or devicecode request), or the refresh request's.
	var oid, scope, nonce, openidScope string
	switch f.Get("grant_type") {
	case "authorization_code":
		code, verifier := f.Get("code"), f.Get("code_verifier")
		if code == "" {
			h.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
			return
		}
		var errCode, desc string
		var aadsts int
		var c authCode
		err := fl.st.UpdateEphemeral(ctx, kindCode, flowID(code), now, func(b []byte) ([]byte, error) {
			errCode, aadsts, desc = "", 0, ""
			c = authCode{} // fn may run again: decode afresh
			if err := json.Unmarshal(b, &c); err != nil {
				return nil, err
			}
			switch {
			case c.Redeemed:
				errCode, aadsts, desc = "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."
			case c.ClientID != clientID:
				errCode, aadsts, desc = "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid: it was issued to another client."
			case f.Get("redirect_uri") != c.RedirectURI:
				errCode, aadsts, desc = "invalid_grant", 500117, "The reply uri specified in the request isn't expected."
			case verifier == "":
				errCode, aadsts, desc = "invalid_request", 900144, "The request body must contain the following parameter: 'code_verifier'."
			case !pkceOK(c.Method, c.Challenge, verifier):
				errCode, aadsts, desc = "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."
			}
			if errCode == "invalid_request" {
				return b, nil
			}
			// A code is good for one attempt: a failed redemption (a
			// guessed verifier) burns it too.
			burnt := c
			burnt.Redeemed = true
			return json.Marshal(burnt)
		})
		switch {
		case errs.KindOf(err) == errs.NotExist:
			errCode, aadsts, desc = "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."
		case err != nil:
			h.storeFailed(w, r, err)
			return
		}
		if errCode != "" {
			h.oauthError(w, r, http.StatusBadRequest, errCode, aadsts, desc)
			return
		}
		oid, scope, nonce = c.OID, c.Scope, c.Nonce
		openidScope = scope
		if s := f.Get("scope"); s != "" {
			scope = s
		}
	case deviceCodeGrant, "device_code":
		var ok bool
		if oid, scope, ok = h.pollDevice(w, r, clientID); !ok {
			return
		}
		openidScope = scope
	case "refresh_token":
		// Refresh tokens rotate (RFC 9700 §4.14.2 for public clients):
		// taking one spends it, the answer carries the next, so each
		// sign-in holds one at a time and a stolen, already-used one is
		// dead. Of two replicas redeeming one at once, one wins.
		b, err := fl.st.TakeEphemeral(ctx, kindRefresh, flowID(f.Get("refresh_token")), now)
		var g refreshGrant
		if err == nil {
			err = json.Unmarshal(b, &g)
		}
		if err != nil && errs.KindOf(err) != errs.NotExist {
			h.storeFailed(w, r, err)
			return
		}
		if err != nil || g.ClientID != clientID {
			h.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid: the refresh token is unknown, expired or issued to another client.")
			return
		}
		oid = g.OID
		scope = f.Get("scope")
		openidScope = scope
	}
	aud, scp, ok := resourceOf(scope)
	if !ok {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid: it must name one resource.")
		return
	}
	p, err := h.Users.GetPrincipal(r.Context(), oid)
	if err != nil || p.Type != model.PrincipalUser {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 50034, "The user account does not exist in the directory.")
		return
	}
	if p.Disabled {
		h.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 50057, "The user account is disabled.")
		return
	}
	tok, err := h.Minter.MintUser(p, aud, clientID, scp, UserTokenLifetime)
	if err != nil {
		h.Logger.ErrorContext(r.Context(), "minting failed", "err", err)
		h.oauthError(w, r, http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
		return
	}
	refresh := randomToken()
	rec, _ := json.Marshal(refreshGrant{OID: p.ObjectID, ClientID: clientID})
	if err := fl.st.CreateEphemeral(ctx, kindRefresh, flowID(refresh), rec, now.Add(RefreshTokenLifetime)); err != nil {
		h.storeFailed(w, r, err)
		return
	}
	secs := int64(tok.Expires.Sub(tok.NotBefore).Seconds())
	resp := userTokenResponse{TokenType: "Bearer", Scope: grantedScope(aud, scp, scope), ExpiresIn: secs, ExtExpiresIn: secs,
		AccessToken: tok.Raw, RefreshToken: refresh}
	if f.Get("client_info") == "1" {
		resp.ClientInfo = clientInfo(p.ObjectID, h.TenantID)
	}
	if hasScope(openidScope, "openid") {
		// The issuer is the one of the v2.0 discovery document on the
		// host the client used, which is what OIDC clients compare.
		if resp.IDToken, err = h.Minter.MintIDToken(p, clientID, identity.IssuerV2URL(origin(r), h.TenantID), nonce, UserTokenLifetime); err != nil {
			h.Logger.ErrorContext(r.Context(), "minting failed", "err", err)
			h.oauthError(w, r, http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
			return
		}
	}
	noStore(w)
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// RevokeRefreshToken ends a refresh token at once (the portal's sign-out):
// whichever replica is asked next refuses it. An unknown or spent token is
// no error.
func (h *Handler) RevokeRefreshToken(ctx context.Context, rt string) error {
	if rt == "" || h.Flows == nil {
		return nil
	}
	return h.flows().st.DeleteEphemeral(ctx, kindRefresh, flowID(rt))
}

// grantedScope is the response's scope: the scp claim's scopes qualified
// by the resource and, as Entra lists it too, a requested "/.default"
// (MSAL treats a requested scope missing from it as declined).
func grantedScope(aud, scp, requested string) string {
	var out []string
	for _, s := range strings.Fields(scp) {
		out = append(out, aud+"/"+s)
	}
	for _, s := range strings.Fields(requested) {
		if strings.HasSuffix(s, "/.default") {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// hasScope reports whether the space-separated scope string holds want.
func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// pkceOK checks an RFC 7636 code verifier against its challenge.
func pkceOK(method, challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
