package vaults

import (
	"net/netip"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
)

// TestCheckNetwork: the firewall's verdicts and Azure's denial messages,
// which name the caller and the vault; an allowed request builds neither.
func TestCheckNetwork(t *testing.T) {
	c := Caller{AppID: "app-1", ObjectID: "oid-1", TenantID: "tid-1"}
	deny := &model.NetworkACLs{DefaultAction: "Deny", IPRules: []string{"10.0.0.0/8", "192.168.1.7"}}
	tests := []struct {
		name  string
		v     model.Vault
		addr  string
		inner string // "" = allowed
		msg   string
	}{
		{"open vault", model.Vault{Name: "kv"}, "203.0.113.9", "", ""},
		{"default allow", model.Vault{Name: "kv", NetworkACLs: &model.NetworkACLs{DefaultAction: "Allow"}}, "203.0.113.9", "", ""},
		{"in a range", model.Vault{Name: "kv", NetworkACLs: deny}, "10.1.2.3", "", ""},
		{"mapped v4 address", model.Vault{Name: "kv", NetworkACLs: deny}, "::ffff:192.168.1.7", "", ""},
		{"outside the rules", model.Vault{Name: "kv", Location: "westeurope", NetworkACLs: deny}, "203.0.113.9", "ForbiddenByFirewall",
			"Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.9\r\n" +
				"Caller: appid=app-1;oid=oid-1;iss=https://sts.windows.net/tid-1/\r\nVault: kv;location=westeurope"},
		{"public access disabled", model.Vault{Name: "kv", PublicNetworkAccess: "Disabled"}, "10.1.2.3", "ForbiddenByConnection",
			"Public network access is disabled and request is not from a trusted service nor via an approved private link.\r\n" +
				"Caller: appid=app-1;oid=oid-1;iss=https://sts.windows.net/tid-1/\r\nVault: kv;location=" + Location},
	}
	s := &Service{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckNetwork(&tt.v, c, netip.MustParseAddr(tt.addr))
			if tt.inner == "" {
				if err != nil {
					t.Fatalf("CheckNetwork = %v, want allowed", err)
				}
				if n := testing.AllocsPerRun(100, func() { _ = s.CheckNetwork(&tt.v, c, netip.MustParseAddr(tt.addr)) }); n != 0 {
					t.Errorf("an allowed request made %v allocations, want 0", n)
				}
				return
			}
			code, inner, msg := errs.Details(err)
			if errs.KindOf(err) != errs.Permission || code != "Forbidden" || string(inner) != tt.inner || string(msg) != tt.msg {
				t.Fatalf("CheckNetwork = %v (%s/%s %q), want Forbidden/%s %q", err, code, inner, msg, tt.inner, tt.msg)
			}
		})
	}
}
