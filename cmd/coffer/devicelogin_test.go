package main

import (
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/client"
)

// TestUserLoginMessages: errors of a user's login name the user and say
// how to sign in again; a service principal's keep their wording.
func TestUserLoginMessages(t *testing.T) {
	refused := &client.Error{Status: 400, Code: "invalid_grant", Token: true, Message: "AADSTS9002313: the refresh token is unknown"}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"stored user login refused", &credentialError{src: credSource{kind: "login", clientID: "cli", dataDir: "/d", user: "ada@coffer.local"}, err: refused},
			[]string{"user ada@coffer.local (signed in by `coffer login` for /d)", "invalid_grant", "Sign in again with `coffer login`", "`coffer logout`"}},
		{"device code declined", &credentialError{src: credSource{kind: "new", clientID: "cli", dataDir: "/d", user: "(device code)"}, err: refused},
			[]string{"login failed", "Sign in again with `coffer login`."}},
		{"user without a subscription", &noSubscriptionError{src: credSource{kind: "login", clientID: "cli", dataDir: "/d", user: "ada@coffer.local"}},
			[]string{"user ada@coffer.local", "--assignee ada@coffer.local"}},
		{"service principal login refused", &credentialError{src: credSource{kind: "login", clientID: "app1", dataDir: "/d"}, err: refused},
			[]string{"service principal app1 (stored by `coffer login` for /d)", "--service-principal"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := renderError(tc.err)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestIDTokenUser: the login's user name comes from the id_token's
// preferred_username; anything else names no one.
func TestIDTokenUser(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"eyJhbGciOiJSUzI1NiJ9.eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJhZGFAY29mZmVyLmxvY2FsIn0.sig", "ada@coffer.local"},
		{"not-a-jwt", ""},
		{"a.!!!.c", ""},
		{"a.e30.c", ""},
	}
	for _, tc := range tests {
		if got := idTokenUser(tc.raw); got != tc.want {
			t.Errorf("idTokenUser(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}
