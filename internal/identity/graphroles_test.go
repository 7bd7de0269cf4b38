package identity

import (
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/model"
)

// TestMintGraphRoles: Graph tokens carry the principal's Graph app roles
// by value (once each, unknown ids dropped); other audiences carry none.
func TestMintGraphRoles(t *testing.T) {
	keys, err := NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	m := &Minter{Keys: keys, TenantID: "t", Now: time.Now, IsGraphAudience: func(aud string) bool { return aud == "https://graph.microsoft.com" }}
	p := &model.Principal{ObjectID: "o", AppID: "a", Type: model.PrincipalManagedIdentity, AppRoleAssignments: []model.AppRoleAssignment{
		{ID: "1", AppRoleID: "7ab1d382-f21e-4acd-a863-ba3e13f7da61"},
		{ID: "2", AppRoleID: "9A5D68DD-52B0-4CC2-BD40-ABCF44AC3A30"},
		{ID: "3", AppRoleID: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"},
		{ID: "4", AppRoleID: "00000000-0000-0000-0000-000000000000"},
	}}
	for _, tt := range []struct {
		aud  string
		want []string
	}{
		{"https://graph.microsoft.com", []string{"Application.Read.All", "Directory.Read.All"}},
		{"https://vault.azure.net", nil},
	} {
		tok, err := m.Mint(p, tt.aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tok.Claims.Roles, tt.want) {
			t.Errorf("%s: roles %v, want %v", tt.aud, tok.Claims.Roles, tt.want)
		}
	}
	if r, ok := LookupGraphAppRole("directory.read.all"); !ok || r.ID != "7ab1d382-f21e-4acd-a863-ba3e13f7da61" {
		t.Errorf("lookup by value: %v %v", r, ok)
	}
}
