// Package identity mints and verifies Coffer's access tokens and manages the
// credentials of principals (service principals and managed identities).
//
// Tokens are v1-shaped Entra access tokens (RS256, iss
// https://sts.windows.net/{tid}/, oid/tid/appid/sub/idtyp claims) so that
// Azure services' validators and third parties that read Entra tokens accept
// them. Verification is strict: RS256 only, a known kid, a valid signature,
// the exact issuer, an audience the caller accepts, and exp/nbf within a
// small clock skew. Private key material never leaves this package except
// through MarshalKeySet, which the store encrypts at rest.
package identity

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/coffer-dev/coffer/internal/errs"
)

// ClockSkew is how far exp and nbf may be off.
const ClockSkew = 2 * time.Minute

// Claims of a Coffer access token.
type Claims struct {
	Audience  string   `json:"aud"`
	Issuer    string   `json:"iss"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	Expiry    int64    `json:"exp"`
	AppID     string   `json:"appid,omitempty"`
	AppIDACR  string   `json:"appidacr,omitempty"`
	IDP       string   `json:"idp,omitempty"`
	IDType    string   `json:"idtyp,omitempty"`
	ObjectID  string   `json:"oid"`
	Subject   string   `json:"sub"`
	TenantID  string   `json:"tid"`
	UTI       string   `json:"uti,omitempty"`
	Version   string   `json:"ver"`
	MIResID   string   `json:"xms_mirid,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	// Delegated (user) tokens only: Entra's v1 user claims.
	UPN        string   `json:"upn,omitempty"`
	UniqueName string   `json:"unique_name,omitempty"`
	Name       string   `json:"name,omitempty"`
	Scope      string   `json:"scp,omitempty"`
	AMR        []string `json:"amr,omitempty"`
}

// IssuerURL is the v1 issuer for a tenant.
func IssuerURL(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

// signingKey is one RSA key with its key id.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// KeySet holds the signing keys: one active key that signs, and older keys
// that still verify until their tokens have expired.
type KeySet struct {
	mu     sync.RWMutex
	active *signingKey
	keys   map[string]*signingKey
	signer jose.Signer
}

// NewKeySet generates a fresh RSA-2048 key set.
func NewKeySet() (*KeySet, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return newKeySet([]*signingKey{{kid: thumbprint(&priv.PublicKey), priv: priv}})
}

func newKeySet(keys []*signingKey) (*KeySet, error) {
	ks := &KeySet{keys: map[string]*signingKey{}}
	for _, k := range keys {
		ks.keys[k.kid] = k
	}
	ks.active = keys[0]
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: ks.active.priv, KeyID: ks.active.kid}},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t", ks.active.kid))
	if err != nil {
		return nil, err
	}
	ks.signer = signer
	return ks, nil
}

// thumbprint is a stable key id: base64url of the SHA-256 of the public key.
func thumbprint(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:20])
}

type storedKeySet struct {
	Keys []string `json:"keys"` // PKCS#8 PEM, active first
}

// MarshalKeySet serializes the private keys (active first). The result is
// secret: store it only through the encrypting store.
func MarshalKeySet(ks *KeySet) ([]byte, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	var out storedKeySet
	add := func(k *signingKey) error {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return err
		}
		out.Keys = append(out.Keys, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
		return nil
	}
	if err := add(ks.active); err != nil {
		return nil, err
	}
	for _, k := range ks.keys {
		if k != ks.active {
			if err := add(k); err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(out)
}

// UnmarshalKeySet parses MarshalKeySet's output.
func UnmarshalKeySet(b []byte) (*KeySet, error) {
	var in storedKeySet
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	var keys []*signingKey
	for _, p := range in.Keys {
		block, _ := pem.Decode([]byte(p))
		if block == nil {
			return nil, errors.New("identity: bad key PEM")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		priv, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("identity: signing key is not RSA")
		}
		keys = append(keys, &signingKey{kid: thumbprint(&priv.PublicKey), priv: priv})
	}
	if len(keys) == 0 {
		return nil, errors.New("identity: empty key set")
	}
	return newKeySet(keys)
}

// ActiveKeyID returns the kid of the signing key.
func (ks *KeySet) ActiveKeyID() string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.active.kid
}

// JWKS returns the public keys as a JSON Web Key Set (public members only).
func (ks *KeySet) JWKS() jose.JSONWebKeySet {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	var set jose.JSONWebKeySet
	for _, k := range ks.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return set
}

// Sign serializes and signs claims.
func (ks *KeySet) Sign(c Claims) (string, error) {
	ks.mu.RLock()
	signer := ks.signer
	ks.mu.RUnlock()
	return jwt.Signed(signer).Claims(c).Serialize()
}

// Verifier checks tokens against a key set and a tenant. It remembers the
// tokens it verified (see verifyCache), so that a client reusing its token
// costs a hash and a map lookup instead of an RSA verification and a JOSE
// parse; every rejection still takes the full path, so errors are the same
// with or without the cache. Set the fields before the first Verify.
type Verifier struct {
	Keys     *KeySet
	TenantID string
	Now      func() time.Time
	// CacheSize bounds the verified-token cache: 0 means
	// DefaultVerifyCacheSize, negative turns the cache off.
	CacheSize int

	once  sync.Once
	cache *verifyCache
}

func (v *Verifier) init() {
	v.once.Do(func() {
		if v.CacheSize >= 0 {
			v.cache = newVerifyCache(cmp.Or(v.CacheSize, DefaultVerifyCacheSize))
		}
	})
}

// timeOK reports whether now is inside c's validity window (with skew).
func (c *Claims) timeOK(now time.Time) (expired, early bool) {
	expired = c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(ClockSkew))
	early = c.NotBefore != 0 && now.Add(ClockSkew).Before(time.Unix(c.NotBefore, 0))
	return expired, early
}

// cached answers Verify from the cache when raw was verified before and
// everything that may have changed since still holds: the same key still
// signs for its kid, the tenant is the same, the caller accepts the
// audience, and now is inside the validity window. Otherwise it returns
// nil, dropping entries that can never be valid again (expired, key
// retired), and Verify takes the full path.
func (v *Verifier) cached(raw string, audOK func(aud string) bool) *Claims {
	if v.cache == nil {
		return nil
	}
	sum := tokenSum(raw)
	e := v.cache.get(&sum)
	if e == nil {
		return nil
	}
	v.Keys.mu.RLock()
	key := v.Keys.keys[e.key.kid]
	v.Keys.mu.RUnlock()
	expired, early := e.claims.timeOK(v.Now())
	if key != e.key || expired || e.tenant != v.TenantID {
		v.cache.drop(e)
		return nil
	}
	if early || !audOK(e.claims.Audience) {
		return nil
	}
	c := e.claims
	return &c
}

// Verify checks raw strictly and returns its claims. audOK decides whether
// the audience is acceptable to the caller. Every failure is an
// errs.Unauthenticated error whose message is safe to show.
func (v *Verifier) Verify(raw string, audOK func(aud string) bool) (*Claims, error) {
	const op errs.Op = "identity.Verify"
	fail := func(msg string, err error) (*Claims, error) {
		return nil, errs.E(op, errs.Unauthenticated, errs.Msg(msg), err)
	}
	v.init()
	if c := v.cached(raw, audOK); c != nil {
		return c, nil
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return fail("the token is malformed or not signed with RS256", err)
	}
	if len(tok.Headers) != 1 {
		return fail("the token must carry exactly one signature", nil)
	}
	v.Keys.mu.RLock()
	key := v.Keys.keys[tok.Headers[0].KeyID]
	v.Keys.mu.RUnlock()
	if key == nil {
		return fail("the token is signed with an unknown key", nil)
	}
	var c Claims
	if err := tok.Claims(&key.priv.PublicKey, &c); err != nil {
		return fail("the token signature is invalid", err)
	}
	if c.Issuer != IssuerURL(v.TenantID) {
		return fail(fmt.Sprintf("Invalid issuer. Expected %s, found %s.", IssuerURL(v.TenantID), c.Issuer), nil)
	}
	if !audOK(c.Audience) {
		return fail(fmt.Sprintf("Invalid audience. found: %s.", c.Audience), nil)
	}
	expired, early := c.timeOK(v.Now())
	if expired {
		return fail("the token is expired", nil)
	}
	if early {
		return fail("the token is not yet valid", nil)
	}
	if c.ObjectID == "" || !strings.EqualFold(c.TenantID, v.TenantID) {
		return fail("the token has no object id or a foreign tenant", nil)
	}
	if v.cache != nil {
		v.cache.put(&cacheEntry{sum: tokenSum(raw), claims: c, key: key, tenant: v.TenantID})
	}
	return &c, nil
}
