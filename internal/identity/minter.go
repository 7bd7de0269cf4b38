package identity

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/coffer-dev/coffer/internal/model"
)

// Minter issues access tokens for principals of one tenant.
type Minter struct {
	Keys     *KeySet
	TenantID string
	Now      func() time.Time
	// IsGraphAudience tells Microsoft Graph's audiences apart: only tokens
	// for Graph carry the principal's Graph app roles in their roles
	// claim, as in Entra. Nil: no token carries roles.
	IsGraphAudience func(aud string) bool
}

// Token is a minted access token and its validity window.
type Token struct {
	Raw       string
	NotBefore time.Time
	Expires   time.Time
	Claims    Claims
}

// Mint issues a token for p with the given audience and lifetime. Managed
// identities get appidacr "2" and xms_mirid like real MI tokens; service
// principals that proved a client secret get appidacr "1". Graph tokens
// carry the Graph application permissions granted to p in roles.
func (m *Minter) Mint(p *model.Principal, audience string, lifetime time.Duration) (*Token, error) {
	now := m.Now().Truncate(time.Second)
	uti := make([]byte, 16)
	_, _ = rand.Read(uti)
	c := Claims{
		Audience: audience, Issuer: IssuerURL(m.TenantID),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(lifetime).Unix(),
		AppID: p.AppID, AppIDACR: "1", IDP: IssuerURL(m.TenantID), IDType: "app",
		ObjectID: p.ObjectID, Subject: p.ObjectID, TenantID: m.TenantID,
		UTI: base64.RawURLEncoding.EncodeToString(uti), Version: "1.0",
	}
	if m.IsGraphAudience != nil && m.IsGraphAudience(audience) {
		c.Roles = graphRoleValues(p)
	}
	if p.Type == model.PrincipalManagedIdentity {
		c.AppIDACR = "2"
		c.MIResID = p.ResourceID
	}
	raw, err := m.Keys.Sign(c)
	if err != nil {
		return nil, err
	}
	return &Token{Raw: raw, NotBefore: now, Expires: now.Add(lifetime), Claims: c}, nil
}
