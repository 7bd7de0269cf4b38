package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
)

const testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func validClaims(now time.Time) Claims {
	return Claims{
		Audience: "https://vault.azure.net", Issuer: IssuerURL(testTenant),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
		ObjectID: "oid-1", Subject: "oid-1", TenantID: testTenant, AppID: "app-1", Version: "1.0",
	}
}

func TestVerifyAcceptsValidToken(t *testing.T) {
	ks, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := ks.Sign(validClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Keys: ks, TenantID: testTenant, Now: func() time.Time { return now }}
	c, err := v.Verify(raw, func(a string) bool { return a == "https://vault.azure.net" })
	if err != nil {
		t.Fatalf("Verify(valid) = %v", err)
	}
	if c.ObjectID != "oid-1" || c.AppID != "app-1" {
		t.Errorf("claims = %+v", c)
	}
}

// forge builds a token with an arbitrary header and signature part.
func forge(header map[string]any, claims Claims, sig string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
}

func TestVerifyRejects(t *testing.T) {
	ks, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(c Claims) string {
		raw, err := ks.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	mod := func(f func(*Claims)) string {
		c := validClaims(now)
		f(&c)
		return sign(c)
	}
	// HS256 "signed" with the public key bytes: the classic alg confusion.
	pubDER, _ := x509.MarshalPKIXPublicKey(&ks.active.priv.PublicKey)
	hsSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubDER}, (&jose.SignerOptions{}).WithHeader("kid", ks.ActiveKeyID()))
	if err != nil {
		t.Fatal(err)
	}
	hsToken, _ := jwt.Signed(hsSigner).Claims(validClaims(now)).Serialize()
	// A well-formed RS256 token from a key that shares the active kid.
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	impostor, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: ks.ActiveKeyID()}}, nil)
	badSig, _ := jwt.Signed(impostor).Claims(validClaims(now)).Serialize()
	unknownKid, _ := other.Sign(validClaims(now))
	valid := sign(validClaims(now))
	parts := strings.Split(valid, ".")

	tests := []struct {
		name string
		raw  string
	}{
		{"alg none", forge(map[string]any{"alg": "none", "typ": "JWT"}, validClaims(now), "")},
		{"alg none with kid", forge(map[string]any{"alg": "none", "kid": ks.ActiveKeyID()}, validClaims(now), parts[2])},
		{"HS256 with public key", hsToken},
		{"bad signature", badSig},
		{"tampered payload", parts[0] + "." + strings.Split(mod(func(c *Claims) { c.ObjectID = "admin" }), ".")[1] + "." + parts[2]},
		{"unknown kid", unknownKid},
		{"expired", mod(func(c *Claims) { c.Expiry = now.Add(-ClockSkew - time.Minute).Unix() })},
		{"no exp", mod(func(c *Claims) { c.Expiry = 0 })},
		{"not yet valid", mod(func(c *Claims) { c.NotBefore = now.Add(ClockSkew + time.Minute).Unix() })},
		{"wrong aud", mod(func(c *Claims) { c.Audience = "https://management.azure.com/" })},
		{"wrong iss", mod(func(c *Claims) { c.Issuer = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/" })},
		{"v2 iss", mod(func(c *Claims) { c.Issuer = "https://login.microsoftonline.com/" + testTenant + "/v2.0" })},
		{"foreign tid", mod(func(c *Claims) { c.TenantID = "other" })},
		{"no oid", mod(func(c *Claims) { c.ObjectID = "" })},
		{"garbage", "not.a.jwt"},
		{"empty", ""},
	}
	v := &Verifier{Keys: ks, TenantID: testTenant, Now: func() time.Time { return now }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.raw, func(a string) bool { return a == "https://vault.azure.net" })
			if err == nil {
				t.Fatalf("Verify(%s) = %+v, want error", tt.name, c)
			}
			if errs.KindOf(err) != errs.Unauthenticated {
				t.Errorf("Verify(%s) kind = %v, want Unauthenticated", tt.name, errs.KindOf(err))
			}
		})
	}
}

func TestKeySetRoundTripKeepsKid(t *testing.T) {
	ks, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalKeySet(ks)
	if err != nil {
		t.Fatal(err)
	}
	ks2, err := UnmarshalKeySet(b)
	if err != nil {
		t.Fatal(err)
	}
	if ks.ActiveKeyID() != ks2.ActiveKeyID() {
		t.Errorf("kid changed across round trip: %s != %s", ks.ActiveKeyID(), ks2.ActiveKeyID())
	}
	now := time.Now()
	raw, _ := ks.Sign(validClaims(now))
	v := &Verifier{Keys: ks2, TenantID: testTenant, Now: time.Now}
	if _, err := v.Verify(raw, func(string) bool { return true }); err != nil {
		t.Errorf("token from original key set rejected by reloaded set: %v", err)
	}
	for _, k := range ks.JWKS().Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS key %s is not public", k.KeyID)
		}
	}
}

func TestClientSecrets(t *testing.T) {
	now := time.Now()
	s1, c1 := NewClientSecret(now)
	s2, c2 := NewClientSecret(now)
	if s1 == s2 || len(s1) != 40 {
		t.Fatalf("secrets %q %q", s1, s2)
	}
	c2.Expires = now.Add(-time.Second)
	creds := []model.Credential{c1, c2}
	if !CheckClientSecret(creds, s1, now) {
		t.Error("valid secret rejected")
	}
	if CheckClientSecret(creds, s2, now) {
		t.Error("expired secret accepted")
	}
	if CheckClientSecret(creds, s1+"x", now) {
		t.Error("wrong secret accepted")
	}
}

// TestClientSecretNeverLooksLikeAFlag: secrets are pasted after -p on
// command lines; one starting with '-' or '_' would be parsed as a flag.
func TestClientSecretNeverLooksLikeAFlag(t *testing.T) {
	for range 2000 {
		s, _ := NewClientSecret(time.Now())
		if c := s[0]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			t.Fatalf("secret %q... starts with %q", s[:1], c)
		}
	}
}
