package arm

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
)

func TestSeesScope(t *testing.T) {
	const (
		sub      = "11111111-1111-1111-1111-111111111111"
		reader   = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
		kvUser   = "4633458b-17de-408a-b874-0445c86b69e6"
		me       = "aaaaaaaa-0000-0000-0000-000000000001"
		myGroup  = "aaaaaaaa-0000-0000-0000-0000000000g1"
		someone  = "aaaaaaaa-0000-0000-0000-000000000002"
		subScope = "/subscriptions/" + sub
	)
	as := func(principal, scope, role string) []model.RoleAssignment {
		return []model.RoleAssignment{{Name: "x", PrincipalID: principal, Scope: scope, RoleDefinitionID: role}}
	}
	caller := policy.Caller{ObjectID: me, Groups: []string{myGroup}}
	for _, tc := range []struct {
		name string
		as   []model.RoleAssignment
		want bool
	}{
		{"no assignments (access policy only)", nil, false},
		{"at the subscription", as(me, subScope, reader), true},
		{"on a group under it", as(me, subScope+"/resourceGroups/rg", reader), true},
		{"data role on a vault under it", as(me, subScope+"/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v", kvUser), true},
		{"at the root, above it", as(me, "/", reader), true},
		{"case-insensitive ids and scopes", as("AAAAAAAA-0000-0000-0000-000000000001", "/SUBSCRIPTIONS/"+sub, reader), true},
		{"through a group", as(myGroup, subScope, reader), true},
		{"someone else's", as(someone, subScope, reader), false},
		{"another subscription", as(me, "/subscriptions/22222222-2222-2222-2222-222222222222", reader), false},
		{"a subscription whose id extends this one", as(me, subScope+"0", reader), false},
		{"an unknown role", as(me, subScope, "00000000-0000-0000-0000-00000000dead"), false},
	} {
		if got := seesScope(tc.as, caller, subScope); got != tc.want {
			t.Errorf("%s: sees = %v, want %v", tc.name, got, tc.want)
		}
	}
}
