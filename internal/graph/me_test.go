package graph_test

import (
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/internal/oidc"
)

// TestMe: /me is the signed-in user of a delegated token (az keyvault
// create and az ad signed-in-user show ask it); app-only tokens get
// Graph's 400.
func TestMe(t *testing.T) {
	g := start(t)
	u, err := g.env.Store.GetPrincipal(t.Context(), g.env.Instance.AdminUserObjectID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := g.env.Minter.MintUser(u, "https://graph.microsoft.com", oidc.AzureCLIClientID, "User.Read", oidc.UserTokenLifetime)
	if err != nil {
		t.Fatal(err)
	}
	app := g.tok
	tests := []struct {
		name, tok string
		status    int
		wantUPN   string
	}{
		{"user token", tok.Raw, 200, u.UserPrincipalName},
		{"app-only token", app, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.tok = tc.tok
			r := g.do(t, "GET", "/me", nil).want(t, tc.status)
			if tc.wantUPN == "" {
				return
			}
			var me map[string]any
			if err := json.Unmarshal(r.body, &me); err != nil {
				t.Fatal(err)
			}
			if me["userPrincipalName"] != tc.wantUPN || me["id"] != u.ObjectID || me["@odata.context"] == nil {
				t.Errorf("/me = %v", me)
			}
		})
	}
}
