package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
)

// TestRenderError: each common mistake's message ends with the next step,
// filled in from the error (vault, principal, scope) where it says them.
func TestRenderError(t *testing.T) {
	opts.dataDir = defaultDataDir()
	defer func() { opts.dataDir = "" }()
	const (
		oid   = "11111111-2222-3333-4444-555555555555"
		vault = "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.keyvault/vaults/kv1"
	)
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"vault not found", &client.Error{Status: 404, Code: "VaultNotFound", Message: "The vault 'kv9' was not found."},
			[]string{"(VaultNotFound)", "`coffer keyvault list`", "`coffer keyvault list-deleted`", "`coffer keyvault recover -n kv9`"}},
		{"vault not found through ARM", &client.Error{Status: 404, Code: "ResourceNotFound", Message: "The Resource 'Microsoft.KeyVault/vaults/kv8' under resource group 'rg1' was not found."},
			[]string{"`coffer keyvault list`", "recover -n kv8"}},
		{"access policy", &client.Error{Status: 403, Code: "Forbidden", Inner: "AccessDenied",
			Message: "The user, group or application 'appid=app1;oid=" + oid + ";iss=https://sts.windows.net/t/' does not have secrets get permission on key vault 'kv1;location=local'."},
			[]string{"`coffer keyvault set-policy -n kv1 --object-id " + oid + " --secret-permissions get list`"}},
		{"rbac read", &client.Error{Status: 403, Code: "Forbidden", Inner: "ForbiddenByRbac",
			Message: "Caller is not authorized.\r\nCaller: appid=app1;oid=" + oid + ";iss=x\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '" + vault + "/secrets/s1'\r\nVault: kv1;location=local\r\n"},
			[]string{`coffer role assignment create --assignee ` + oid + ` --role "Key Vault Secrets User" --scope ` + vault + "`"}},
		{"rbac write", &client.Error{Status: 403, Code: "Forbidden", Inner: "ForbiddenByRbac",
			Message: "Caller: appid=app1;oid=" + oid + ";iss=x\r\nAction: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'\r\nResource: '" + vault + "/secrets/s1'\r\n"},
			[]string{`--role "Key Vault Secrets Officer" --scope ` + vault + "`"}},
		{"arm denial", &client.Error{Status: 403, Code: "AuthorizationFailed",
			Message: "The client 'app1' with object id '" + oid + "' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourcegroups/write' over scope '/subscriptions/s1/resourcegroups/rg2' or the scope is invalid."},
			[]string{"`coffer role assignment create --assignee " + oid + " --role Contributor --scope /subscriptions/s1/resourcegroups/rg2`"}},
		{"group not found", &client.Error{Status: 404, Code: "ResourceGroupNotFound", Message: "Resource group 'rg7' could not be found."},
			[]string{"`coffer group create -n rg7`"}},
		{"deleted secret in the way", &client.Error{Status: 409, Code: "Conflict", Inner: "ObjectIsDeletedButRecoverable", Message: "Secret s1 is currently in a deleted but recoverable state."},
			[]string{"`coffer keyvault secret recover --vault-name VAULT -n NAME`"}},
		{"vault name taken", &client.Error{Status: 409, Code: "VaultAlreadyExists", Message: "The vault name 'kv3' is already in use."},
			[]string{"`coffer keyvault recover -n kv3`", "`coffer keyvault purge -n kv3`"}},
		{"no server", fmt.Errorf("x: %w", &app.NoServerError{DataDir: "/d"}), []string{"no coffer server is running with data directory /d", "Start it with `coffer serve`"}},
		{"server gone mid-way", &unreachableError{addr: "127.0.0.1:1", dataDir: "/d", err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}},
			[]string{"cannot reach coffer serve at 127.0.0.1:1", "Start it with `coffer serve`"}},
		{"stale login", &credentialError{src: credSource{kind: "login", clientID: "app1", dataDir: "/d"}, err: &client.Error{Status: 401, Code: "invalid_client", Token: true, Message: "AADSTS7000215"}},
			[]string{"service principal app1 (stored by `coffer login` for /d), was refused", "`coffer logout`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderError(tt.err)
			if !strings.HasPrefix(got, "ERROR: ") || !strings.Contains(got, "\n") {
				t.Errorf("renderError = %q: want ERROR: and a hint line", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("renderError lacks %q:\n%s", w, got)
				}
			}
		})
	}
	if got := renderError(errors.New("plain")); got != "ERROR: plain" {
		t.Errorf("an error without a known next step = %q", got)
	}
}
