package e2e

import "testing"

// TestCLIUsers: coffer ad user create/list/show/update/delete with az's
// flags, against the real binary; the admin user made at first start is
// listed.
func TestCLIUsers(t *testing.T) {
	c := startAzCLIEnv(t)
	u := c.ok("ad", "user", "create", "--display-name", "Ann Example", "--password", "Str0ng-Passw0rd",
		"--user-principal-name", "ann@coffer.local", "--force-change-password-next-sign-in", "false")
	id := field(u, "id")
	if id == "" || field(u, "userPrincipalName") != "ann@coffer.local" {
		t.Fatalf("create: %v", u)
	}
	c.fails("password complexity", "ad", "user", "create", "--display-name", "B", "--password", "weak",
		"--user-principal-name", "b@coffer.local")
	c.fails("the following arguments are required", "ad", "user", "create", "--display-name", "B")
	if got := asList(c.ok("ad", "user", "list")); len(got) != 2 {
		t.Errorf("list: %v", got)
	}
	if got := asList(c.ok("ad", "user", "list", "--upn", "admin@coffer.local")); len(got) != 1 {
		t.Errorf("list --upn: %v", got)
	}
	if got := asList(c.ok("ad", "user", "list", "--display-name", "Ann")); len(got) != 1 || field(got[0], "id") != id {
		t.Errorf("list --display-name: %v", got)
	}
	if got := c.ok("ad", "user", "show", "--id", "ann@coffer.local"); field(got, "id") != id {
		t.Errorf("show by UPN: %v", got)
	}
	c.ok("ad", "user", "update", "--id", id, "--account-enabled", "false")
	if got := c.ok("ad", "user", "show", "--id", id); got.(map[string]any)["accountEnabled"] != false {
		t.Errorf("after update: %v", got)
	}
	c.ok("ad", "user", "delete", "--id", id)
	c.fails("does not exist", "ad", "user", "show", "--id", id)
}

// TestCLIRoleAssignUser: az role assignment create --assignee takes a
// user's principal name.
func TestCLIRoleAssignUser(t *testing.T) {
	c := startAzCLIEnv(t)
	u := c.ok("ad", "user", "create", "--display-name", "Ann", "--password", "Str0ng-Passw0rd", "--user-principal-name", "ann@coffer.local")
	a := c.ok("role", "assignment", "create", "--assignee", "ann@coffer.local", "--role", "Reader", "--scope", "/subscriptions/"+field(c.ok("account", "show"), "id"))
	if got := field(a, "properties", "principalId"); got != field(u, "id") || field(a, "properties", "principalType") != "User" {
		t.Errorf("assignment %v, want principal %s (User)", a, field(u, "id"))
	}
}
