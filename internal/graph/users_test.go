package graph_test

import (
	"testing"
)

// TestUsers: create, list, $filter, get by id and by UPN, disable, delete;
// Graph's errors for bad input; the bootstrap admin user is listed and
// protected; service principal lists do not include users.
func TestUsers(t *testing.T) {
	g := start(t)
	newUser := func(upn, pw string) map[string]any {
		return map[string]any{"accountEnabled": true, "displayName": "Ann Example", "mailNickname": "ann",
			"userPrincipalName": upn, "passwordProfile": map[string]any{"password": pw, "forceChangePasswordNextSignIn": false}}
	}
	u := g.do(t, "POST", "/users", newUser("ann@coffer.local", "Str0ng-Passw0rd")).want(t, 201).obj(t)
	id, _ := u["id"].(string)
	if u["userPrincipalName"] != "ann@coffer.local" || u["accountEnabled"] != true || u["passwordProfile"] != nil || id == "" {
		t.Fatalf("created %v", u)
	}

	bad := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"weak password", newUser("bob@coffer.local", "password"), "The specified password does not comply with password complexity requirements. Please provide a different password."},
		{"foreign domain", newUser("bob@contoso.com", "Str0ng-Passw0rd"), "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."},
		{"taken", newUser("ANN@coffer.local", "Str0ng-Passw0rd"), "Another object with the same value for property userPrincipalName already exists."},
		{"no nickname", map[string]any{"accountEnabled": true, "displayName": "x", "userPrincipalName": "x@coffer.local",
			"passwordProfile": map[string]any{"password": "Str0ng-Passw0rd"}}, "Invalid value specified for property 'mailNickname' of resource 'User'."},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := g.do(t, "POST", "/users", tc.body).want(t, 400).graphErr(t)
			if code != "Request_BadRequest" || msg != tc.msg {
				t.Errorf("%s: %s", code, msg)
			}
		})
	}

	all := g.do(t, "GET", "/users", nil).want(t, 200).values(t)
	if len(all) != 2 {
		t.Errorf("users: %v", ids(all))
	}
	for _, f := range []string{"userPrincipalName eq 'ann@coffer.local'", "startswith(displayName,'Ann')"} {
		if got := g.do(t, "GET", filterURL("users", f), nil).want(t, 200).values(t); len(got) != 1 || got[0]["id"] != id {
			t.Errorf("$filter=%s: %v", f, got)
		}
	}
	if got := g.do(t, "GET", "/users/ann@coffer.local", nil).want(t, 200).obj(t); got["id"] != id {
		t.Errorf("by UPN: %v", got)
	}
	g.do(t, "PATCH", "/users/"+id, map[string]any{"accountEnabled": false}).want(t, 204)
	if got := g.do(t, "GET", "/users/"+id, nil).want(t, 200).obj(t); got["accountEnabled"] != false {
		t.Errorf("after disabling: %v", got)
	}
	for _, sp := range g.do(t, "GET", "/servicePrincipals", nil).want(t, 200).values(t) {
		if sp["id"] == id {
			t.Errorf("a user is listed as a service principal")
		}
	}
	if code, _ := g.do(t, "GET", "/servicePrincipals/"+id, nil).want(t, 404).graphErr(t); code != "Request_ResourceNotFound" {
		t.Errorf("user as service principal: %s", code)
	}
	admin := g.env.Instance.AdminUserObjectID
	g.do(t, "DELETE", "/users/"+admin, nil).want(t, 400)
	g.do(t, "PATCH", "/users/"+admin, map[string]any{"accountEnabled": false}).want(t, 400)
	g.do(t, "DELETE", "/users/"+id, nil).want(t, 204)
	g.do(t, "GET", "/users/"+id, nil).want(t, 404)
	if code, _ := g.do(t, "GET", "/users/not-a-guid", nil).want(t, 400).graphErr(t); code != "Request_BadRequest" {
		t.Errorf("bad id: %s", code)
	}
}
