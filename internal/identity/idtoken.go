package identity

import (
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/coffer-dev/coffer/internal/model"
)

// IDClaims are the claims of an OpenID Connect id_token as Entra's v2.0
// endpoint issues them: about the user, for the client (aud is the client
// id), never accepted as an access token (Verify requires a v1 issuer and
// a resource audience, which an id_token has neither of).
type IDClaims struct {
	Audience          string `json:"aud"`
	Issuer            string `json:"iss"`
	IssuedAt          int64  `json:"iat"`
	NotBefore         int64  `json:"nbf"`
	Expiry            int64  `json:"exp"`
	Name              string `json:"name,omitempty"`
	Nonce             string `json:"nonce,omitempty"`
	ObjectID          string `json:"oid"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Subject           string `json:"sub"`
	TenantID          string `json:"tid"`
	Version           string `json:"ver"`
}

// IssuerV2URL is the v2.0 issuer of a tenant at an issuer origin
// ("https://login.microsoftonline.com"): the id_token's iss, and the
// issuer of the v2.0 discovery document served on that host.
func IssuerV2URL(origin, tenantID string) string { return origin + "/" + tenantID + "/v2.0" }

// PairwiseSubject is the sub of user oid's id_tokens for one client: as in
// Entra, a value per user and application, so two applications cannot
// correlate a user by sub (they can by oid, which is what oid is for).
func PairwiseSubject(oid, clientID string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + oid))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// MintIDToken issues an id_token for user p to client clientID; issuer is
// the v2.0 issuer the client discovered (IssuerV2URL), nonce the one of
// the authorization request ("" for none).
func (m *Minter) MintIDToken(p *model.Principal, clientID, issuer, nonce string, lifetime time.Duration) (string, error) {
	now := m.Now().Truncate(time.Second)
	c := IDClaims{
		Audience: clientID, Issuer: issuer,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(lifetime).Unix(),
		Name: p.DisplayName, Nonce: nonce, ObjectID: p.ObjectID, PreferredUsername: p.UserPrincipalName,
		Subject: PairwiseSubject(p.ObjectID, clientID), TenantID: m.TenantID, Version: "2.0",
	}
	m.Keys.mu.RLock()
	signer := m.Keys.signer
	m.Keys.mu.RUnlock()
	return jwt.Signed(signer).Claims(c).Serialize()
}
