package msi_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/msi"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

func TestSelector(t *testing.T) {
	tests := []struct {
		query  string
		want   resources.Selector
		wantOK bool
	}{
		{"", resources.Selector{}, true},
		{"client_id=c", resources.Selector{ClientID: "c"}, true},
		{"clientid=c", resources.Selector{ClientID: "c"}, true},
		{"object_id=o", resources.Selector{ObjectID: "o"}, true},
		{"principal_id=o", resources.Selector{ObjectID: "o"}, true},
		{"mi_res_id=r", resources.Selector{ResourceID: "r"}, true},
		{"msi_res_id=r", resources.Selector{ResourceID: "r"}, true},
		{"client_id=c&object_id=o", resources.Selector{}, false},
		{"client_id=c&clientid=c", resources.Selector{}, false},
		{"principal_id=o&mi_res_id=r", resources.Selector{}, false},
		{"object_id=o&principal_id=o", resources.Selector{}, false},
		{"client_id=", resources.Selector{}, true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, ok := msi.Selector(q)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("Selector(%q) = %+v, %v; want %+v, %v", tt.query, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestValidResource(t *testing.T) {
	tests := []struct {
		resource string
		want     bool
	}{
		{"https://vault.azure.net", true},
		{"https://management.azure.com/", true},
		{"api://my-app", true},
		{"cfa8b339-82a2-471a-a3c9-0fc0be7a4093", true},
		{"http://vault.azure.net", false},
		{"vault.azure.net", false},
		{"https://", false},
		{"", false},
		{"not a guid-ish 0000", false},
	}
	for _, tt := range tests {
		if got := msi.ValidResource(tt.resource); got != tt.want {
			t.Errorf("ValidResource(%q) = %v, want %v", tt.resource, got, tt.want)
		}
	}
}

// TestTokenBody: every field a string, expires_in counting from now.
func TestTokenBody(t *testing.T) {
	nbf := time.Unix(1700000000, 0)
	tok := &identity.Token{Raw: "a.b.c", NotBefore: nbf, Expires: nbf.Add(24 * time.Hour)}
	p := &model.Principal{AppID: "app"}
	got := msi.TokenBody(tok, p, "https://vault.azure.net", nbf.Add(time.Hour))
	if got.AccessToken != "a.b.c" || got.ClientID != "app" || got.ExpiresIn != "82800" || got.ExtExpiresIn != "82800" ||
		got.ExpiresOn != "1700086400" || got.NotBefore != "1700000000" || got.Resource != "https://vault.azure.net" || got.TokenType != "Bearer" {
		t.Errorf("TokenBody = %+v", got)
	}
}

// TestMachineCredential: X-IDENTITY-HEADER (or the legacy secret header)
// must carry a valid credential; any variation of one is a 401 that says
// nothing about why, and a revoked one stops working at once.
func TestMachineCredential(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := testenv.NewIdentityWorld(env, "cred", "cred-")
	keyID, enc, _ := strings.Cut(strings.TrimPrefix(w.Cred, "cofferm_"), ".")
	secret, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), secret...)
	flipped[0] ^= 1
	const invalid = `{"error":"invalid_request","error_description":"The X-IDENTITY-HEADER value is not a valid machine credential."}`
	tests := []struct {
		name, cred string
	}{
		{"wrong secret", "cofferm_" + keyID + "." + base64.RawURLEncoding.EncodeToString(flipped)},
		{"other VM's secret with this key id", "cofferm_" + keyID + "." + strings.SplitN(w.OtherCred, ".", 2)[1]},
		{"no prefix", strings.TrimPrefix(w.Cred, "cofferm_")},
		{"no secret", "cofferm_" + keyID + "."},
		{"short key id", "cofferm_" + keyID[1:] + "." + enc},
		{"bad base64", "cofferm_" + keyID + ".!!!"},
		{"unknown key id", "cofferm_" + strings.Repeat("0", 32) + "." + enc},
	}
	for _, tt := range tests {
		if r := appServiceGet(t, env, tt.cred, ""); r.status != http.StatusUnauthorized || r.body != invalid {
			t.Errorf("%s: %d %s, want 401 %s", tt.name, r.status, r.body, invalid)
		}
	}
	if r := appServiceGet(t, env, "", ""); r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"invalid_request"`) {
		t.Errorf("no header: %d %s", r.status, r.body)
	}
	if got := tokenOID(t, appServiceGet(t, env, w.Cred, "")); got != w.VM.SystemAssigned {
		t.Fatalf("control: oid %s", got)
	}
	if _, err := env.Resources.RevokeCredentials(context.Background(), env.Instance.SubscriptionID, "cred", w.VM.Name, ""); err != nil {
		t.Fatal(err)
	}
	if r := appServiceGet(t, env, w.Cred, ""); r.status != http.StatusUnauthorized || r.body != invalid {
		t.Errorf("revoked: %d %s, want 401", r.status, r.body)
	}
}
