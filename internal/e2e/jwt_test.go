package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// signWith signs claims with key under kid (RS256).
func signWith(t *testing.T, key *rsa.PrivateKey, kid string, c identity.Claims) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func b64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestJWTRejection: tokens that are expired, for another audience or
// issuer, unsigned, signed by a foreign key, or tampered with are 401 with
// the challenge; so is a token of a principal deleted after issuance.
func TestJWTRejection(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := t.Context()
	tid := env.Instance.TenantID
	admin, err := env.Store.GetPrincipal(ctx, env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	good, err := env.Minter.Mint(admin, vaultResource, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(c *identity.Claims)) identity.Claims {
		c := good.Claims
		mod(&c)
		return c
	}
	sign := func(mod func(c *identity.Claims)) string {
		raw, err := env.Minter.Keys.Sign(claims(mod))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid := env.Minter.Keys.ActiveKeyID()
	parts := strings.Split(good.Raw, ".")
	now := time.Now()

	// HS256 keyed with the server's public key (algorithm confusion).
	jwks := env.Minter.Keys.JWKS()
	pub := jwks.Keys[0].Key.(*rsa.PublicKey)
	pubBytes, _ := x509.MarshalPKIXPublicKey(pub)
	hsHead := b64JSON(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
	mac := hmac.New(sha256.New, pubBytes)
	mac.Write([]byte(hsHead + "." + parts[1]))
	hs256 := hsHead + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	tampered := parts[0] + "." + b64JSON(claims(func(c *identity.Claims) { c.ObjectID = identity.NewObjectID() })) + "." + parts[2]

	tests := []struct {
		name, token, msg string
	}{
		{name: "expired", token: sign(func(c *identity.Claims) {
			c.IssuedAt, c.NotBefore, c.Expiry = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})},
		{name: "not yet valid", token: sign(func(c *identity.Claims) { c.NotBefore = now.Add(time.Hour).Unix() })},
		{name: "no expiry", token: sign(func(c *identity.Claims) { c.Expiry = 0 })},
		{name: "management audience", token: sign(func(c *identity.Claims) { c.Audience = "https://management.azure.com/" }),
			msg: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."},
		{name: "vault-specific audience", token: sign(func(c *identity.Claims) { c.Audience = "https://default.vault.azure.net" }),
			msg: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://default.vault.azure.net."},
		{name: "audience with path", token: sign(func(c *identity.Claims) { c.Audience = "https://vault.azure.net/secrets" })},
		{name: "http audience", token: sign(func(c *identity.Claims) { c.Audience = "http://vault.azure.net" })},
		{name: "wrong issuer", token: sign(func(c *identity.Claims) { c.Issuer = "https://sts.windows.net/" + identity.NewObjectID() + "/" })},
		{name: "v2 issuer of another host", token: sign(func(c *identity.Claims) { c.Issuer = "https://evil.example/" + tid + "/v2.0" })},
		{name: "foreign tenant", token: sign(func(c *identity.Claims) { c.TenantID = identity.NewObjectID() })},
		{name: "no object id", token: sign(func(c *identity.Claims) { c.ObjectID = "" })},
		{name: "unknown object id", token: sign(func(c *identity.Claims) { c.ObjectID = identity.NewObjectID() })},
		{name: "alg none", token: b64JSON(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."},
		{name: "alg none with kid", token: b64JSON(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + "."},
		{name: "HS256 with public key", token: hs256},
		{name: "foreign key, unknown kid", token: signWith(t, other, "other-kid", good.Claims)},
		{name: "foreign key, our kid", token: signWith(t, other, kid, good.Claims)},
		{name: "tampered payload", token: tampered},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + "."},
		{name: "not a JWT", token: "abc.def.ghi"},
		{name: "opaque", token: "hello"},
		{name: "JWE-shaped", token: "a.b.c.d.e"},
	}
	url := kvURL(env, "/secrets?api-version=7.6")
	if r := rawDo(t, env, "GET", url, good.Raw, nil, nil); r.Status != 200 {
		t.Fatalf("control: good token = %d %s", r.Status, r.Body)
	}
	wantHdr := `Bearer authorization="https://login.microsoftonline.com/` + tid + `", resource="https://vault.azure.net"`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{"GET", "PUT"} {
				u, body := url, []byte(nil)
				if method == "PUT" {
					u, body = kvURL(env, "/secrets/forged?api-version=7.6"), []byte(`{"value":"forged"}`)
				}
				r := rawDo(t, env, method, u, tt.token, body, nil)
				msg := r.wantKVError(t, method, 401, "Unauthorized", "")
				if got := r.Header.Get("WWW-Authenticate"); got != wantHdr {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if tt.msg != "" && msg != tt.msg {
					t.Errorf("message = %q, want %q", msg, tt.msg)
				}
			}
		})
	}
	// Nothing was written by the forged PUTs.
	if r := rawDo(t, env, "GET", kvURL(env, "/secrets/forged?api-version=7.6"), good.Raw, nil, nil); r.Status != 404 {
		t.Errorf("forged secret: GET = %d %s", r.Status, r.Body)
	}
}

// TestDeletedPrincipalToken: a token stops working as soon as its
// principal is deleted, not at expiry.
func TestDeletedPrincipalToken(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	appID, secret := createServicePrincipal(t, env, "short-lived")
	p, err := env.Store.GetPrincipalByAppID(t.Context(), appID)
	if err != nil {
		t.Fatal(err)
	}
	grantSecrets(t, env, p.ObjectID, "all")
	tok := clientToken(t, env, appID, secret, vaultScope)
	url := kvURL(env, "/secrets?api-version=7.6")
	if r := rawDo(t, env, "GET", url, tok, nil, nil); r.Status != 200 {
		t.Fatalf("before delete: %d %s", r.Status, r.Body)
	}
	if err := env.Store.DeletePrincipal(t.Context(), p.ObjectID); err != nil {
		t.Fatal(err)
	}
	r := rawDo(t, env, "GET", url, tok, nil, nil)
	r.wantKVError(t, "after delete", 401, "Unauthorized", "")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("no challenge after principal deletion")
	}
	// And no new token can be issued for it.
	fr := postForm(t, env, tokenURL(env, "v2"), map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {vaultScope},
	})
	if fr.Status != 400 {
		t.Errorf("token for deleted principal = %d %s", fr.Status, fr.Body)
	}
}
