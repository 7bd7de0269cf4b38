package identity_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// FuzzVerify: no input makes Verify panic, and nothing but the token the
// minter signed verifies as that principal: a mutated token either fails
// or (if the mutation is invisible to the JWS encoding) yields the very
// same claims. Malformed tokens fail with a message, not a crash.
func FuzzVerify(f *testing.F) {
	keys, err := identity.NewKeySet()
	if err != nil {
		f.Fatal(err)
	}
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	m := &identity.Minter{Keys: keys, TenantID: tenant, Now: clock}
	p := &model.Principal{ObjectID: "0000aaaa-0000-0000-0000-000000000001", AppID: "0000bbbb-0000-0000-0000-000000000002", Type: model.PrincipalServicePrincipal}
	tok, err := m.Mint(p, "https://vault.azure.net", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	v := &identity.Verifier{Keys: keys, TenantID: tenant, Now: clock}
	parts := strings.Split(tok.Raw, ".")
	f.Add(tok.Raw)
	f.Add(parts[0] + "." + parts[1] + ".")                                                       // no signature
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".") // alg none
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"x"}`)) + "." + parts[1] + "." + parts[2])
	f.Add(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"oid":"other"}`)) + "." + parts[2])
	f.Add("a.b.c")
	f.Add("")
	f.Add(strings.Repeat(".", 1000))
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw, func(string) bool { return true })
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if c.ObjectID != p.ObjectID || c.AppID != p.AppID || c.TenantID != tenant || c.Audience != tok.Claims.Audience {
			t.Fatalf("a token that is not the minted one verified with claims %+v", c)
		}
	})
}
