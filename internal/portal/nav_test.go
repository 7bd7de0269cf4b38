package portal

import "testing"

func TestNavEntry(t *testing.T) {
	for _, c := range []struct {
		path, entry string
		exact       bool
	}{
		{"/", "/", true},
		{"/keyvaults", "/keyvaults", true},
		{"/kv/rg/v/secrets", "/keyvaults", false},
		{"/rg/rg/iam", "/resourcegroups", false},
		{"/vm/rg/myVM", "/virtualmachines", false},
		{"/create/keyvault/form", "/create", false},
		{"/managedidentities", "/managedidentities", true},
		{"/signedout", "", false},
	} {
		if e, x := navEntry(c.path); e != c.entry || x != c.exact {
			t.Errorf("navEntry(%q) = %q, %v; want %q, %v", c.path, e, x, c.entry, c.exact)
		}
	}
}
