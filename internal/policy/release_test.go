package policy

import "testing"

// TestReleaseRoles: the release dataAction is granted by the Crypto Service
// Release User role (and the wider Crypto Officer and Administrator), not
// by Crypto User, which cannot release.
func TestReleaseRoles(t *testing.T) {
	for name, want := range map[string]bool{
		"Key Vault Crypto Service Release User":    true,
		"Key Vault Crypto Officer":                 true,
		"Key Vault Administrator":                  true,
		"Key Vault Crypto User":                    false,
		"Key Vault Crypto Service Encryption User": false,
		"Key Vault Reader":                         false,
	} {
		r, ok := LookupRole(name)
		if !ok {
			t.Fatalf("%s: unknown role", name)
		}
		if got := r.AllowsData(ReleaseKey.DataAction); got != want {
			t.Errorf("%s allows release = %v, want %v", name, got, want)
		}
		if name == "Key Vault Crypto Service Release User" && r.AllowsData(GetKey.DataAction) {
			t.Errorf("%s may read keys; it only releases", name)
		}
	}
}
