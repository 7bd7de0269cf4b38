package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/coffer-dev/coffer/internal/model"
)

// Users' passwords are chosen by people, so unlike client secrets they are
// hashed with a slow, memory-hard KDF: argon2id (RFC 9106), with OWASP's
// minimum parameters (19 MiB, 2 passes, 1 lane), about 30 ms per check on
// one core, which bounds offline guessing if the store leaks.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns a PHC-style argon2id string for pw.
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sum := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(sum))
}

// CheckPassword reports whether pw matches hash (from HashPassword); the
// parameters are read from the hash so they can be raised later.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// NewPassword returns a generated password that meets Entra's complexity
// rules (upper, lower, digit, symbol) with 144 bits of randomness.
func NewPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return "Cf1!" + base64.RawURLEncoding.EncodeToString(b)
}

// MintUser issues a delegated access token for user p, obtained by public
// client clientID with the given scope string (space-separated, Entra's
// scp claim), as Entra's v1 user tokens look: idtyp "user", upn,
// unique_name, name, amr ["pwd"], appidacr "0" (public client).
func (m *Minter) MintUser(p *model.Principal, audience, clientID, scope string, lifetime time.Duration) (*Token, error) {
	now := m.Now().Truncate(time.Second)
	uti := make([]byte, 16)
	_, _ = rand.Read(uti)
	c := Claims{
		Audience: audience, Issuer: IssuerURL(m.TenantID),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(lifetime).Unix(),
		AppID: clientID, AppIDACR: "0", IDType: "user",
		ObjectID: p.ObjectID, Subject: p.ObjectID, TenantID: m.TenantID,
		UTI: base64.RawURLEncoding.EncodeToString(uti), Version: "1.0",
		UPN: p.UserPrincipalName, UniqueName: p.UserPrincipalName, Name: p.DisplayName,
		Scope: scope, AMR: []string{"pwd"},
	}
	raw, err := m.Keys.Sign(c)
	if err != nil {
		return nil, err
	}
	return &Token{Raw: raw, NotBefore: now, Expires: now.Add(lifetime), Claims: c}, nil
}
