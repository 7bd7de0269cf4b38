package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
)

// hinter is an error that knows the next step to take.
type hinter interface{ Hint() string }

// renderError is how every CLI error reaches the user: az's "ERROR: …"
// line, then the next step to take for the common mistakes, keyed on the
// Azure error code (or on this CLI's own error types).
func renderError(err error) string {
	msg := "ERROR: " + err.Error()
	if h := nextStep(err); h != "" {
		msg += "\n" + h
	}
	return msg
}

var (
	// 'appid=…;oid=…;iss=…' in Key Vault's access-policy denials, and
	// "Caller: appid=…;oid=…" in its RBAC denials.
	reCallerOID = regexp.MustCompile(`appid=([^;'\s]+);oid=([^;'\s]+)`)
	// "… on key vault 'NAME;location=…'" (access policy) and
	// "Vault: NAME;location=…" (RBAC).
	reVaultName = regexp.MustCompile(`(?:key vault '|Vault: )([^;'\s]+)`)
	// "Resource: '/subscriptions/…/vaults/NAME[/secrets/…]'" (RBAC).
	reRBACResource = regexp.MustCompile(`Resource: '([^']+)'`)
	// "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'" (RBAC).
	reRBACAction = regexp.MustCompile(`Action: '([^']+)'`)
	// ARM's AuthorizationFailed: "The client 'X' with object id 'Y' does
	// not have authorization to perform action 'A' over scope 'S' …".
	reARMDenied = regexp.MustCompile(`object id '([^']+)'.*?action '([^']+)' over scope '([^']+)'`)
	// "The vault 'NAME' was not found."
	reVaultNotFound = regexp.MustCompile(`vault '([^']+)'`)
	// "The vault name 'NAME' is already in use."
	reVaultNameInUse = regexp.MustCompile(`vault name '([^']+)'`)
	// ARM's "The Resource 'Microsoft.KeyVault/vaults/NAME' under …".
	reARMVault = regexp.MustCompile(`Microsoft\.KeyVault/vaults/([^'/]+)'`)
	// "Resource group 'NAME' could not be found."
	reGroupNotFound = regexp.MustCompile(`group '([^']+)'`)
)

// nextStep returns the next step for err, or "".
func nextStep(err error) string {
	var h hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	var nse *app.NoServerError
	if errors.As(err, &nse) {
		return "Start it with " + serveCommand() + " (in another terminal, or `coffer serve &` in this one)."
	}
	var ste *app.StartTimeoutError
	if errors.As(err, &ste) {
		return "Run " + serveCommand() + " in the foreground to see why it does not start."
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		return ""
	}
	vault := flagValue("--vault-name")
	hint := ""
	switch {
	case ce.Code == "VaultNotFound":
		name := firstMatch(reVaultNotFound, ce.Message, vault)
		hint = fmt.Sprintf("List the vaults with `coffer keyvault list`; a deleted vault shows in `coffer keyvault list-deleted` and comes back with `coffer keyvault recover -n %s`.", orPlaceholder(name, "VAULT"))
	case ce.Code == "DeletedVaultNotFound":
		hint = "List the deleted vaults with `coffer keyvault list-deleted`."
	case ce.Code == "ResourceNotFound" && strings.Contains(ce.Message, "Microsoft.KeyVault/vaults/"):
		name := firstMatch(reARMVault, ce.Message, "")
		hint = fmt.Sprintf("List the vaults with `coffer keyvault list`; a deleted vault shows in `coffer keyvault list-deleted` and comes back with `coffer keyvault recover -n %s`.", orPlaceholder(name, "VAULT"))
	case ce.Code == "VaultAlreadyExists":
		name := orPlaceholder(firstMatch(reVaultNameInUse, ce.Message, ""), "NAME")
		hint = fmt.Sprintf("If you deleted that vault, `coffer keyvault list-deleted` shows it: recover it with `coffer keyvault recover -n %s`, or free the name with `coffer keyvault purge -n %s`.", name, name)
	case ce.Code == "ResourceGroupNotFound":
		name := firstMatch(reGroupNotFound, ce.Message, "")
		hint = fmt.Sprintf("Create it with `coffer group create -n %s`, or list the groups with `coffer group list`.", orPlaceholder(name, "GROUP"))
	case ce.Code == "SecretNotFound":
		v := orPlaceholder(vault, "VAULT")
		hint = fmt.Sprintf("List the secrets with `coffer keyvault secret list --vault-name %s`; deleted ones with `coffer keyvault secret list-deleted --vault-name %s`.", v, v)
	case ce.Inner == "ObjectIsDeletedButRecoverable":
		v := orPlaceholder(vault, "VAULT")
		hint = fmt.Sprintf("Recover it with `coffer keyvault secret recover --vault-name %s -n NAME`, or purge it with `coffer keyvault secret purge --vault-name %s -n NAME`.", v, v)
	case ce.Inner == "ForbiddenByRbac":
		hint = rbacHint(ce.Message)
	case ce.Code == "Forbidden" && ce.Inner == "AccessDenied":
		hint = accessPolicyHint(ce.Message, vault)
	case ce.Code == "AuthorizationFailed":
		oid, scope := "OBJECT_ID", "SCOPE"
		if m := reARMDenied.FindStringSubmatch(ce.Message); m != nil {
			oid, scope = m[1], m[3]
		}
		hint = fmt.Sprintf("Grant a role with `coffer role assignment create --assignee %s --role Contributor --scope %s` (as a principal allowed to).", oid, scope)
	case ce.Token:
		hint = "Check the credential in use: `coffer account show`; `coffer logout` returns to the admin of " + absDataDir() + "."
	}
	if hint != "" && ce.Status == 403 && current != nil && current.kind == "login" {
		hint += "\nThe CLI is logged in as " + current.String() + "; `coffer logout` returns to the admin."
	}
	return hint
}

func accessPolicyHint(msg, vault string) string {
	oid := "OBJECT_ID"
	if m := reCallerOID.FindStringSubmatch(msg); m != nil {
		oid = m[2]
	}
	name := firstMatch(reVaultName, msg, vault)
	return fmt.Sprintf("Grant access in the vault's access policy: `coffer keyvault set-policy -n %s --object-id %s --secret-permissions get list` (add set delete … as needed).",
		orPlaceholder(name, "VAULT"), oid)
}

func rbacHint(msg string) string {
	oid := "OBJECT_ID"
	if m := reCallerOID.FindStringSubmatch(msg); m != nil {
		oid = m[2]
	}
	scope := "VAULT_ID"
	if m := reRBACResource.FindStringSubmatch(msg); m != nil {
		scope = m[1]
		if i := strings.Index(scope, "/secrets/"); i >= 0 {
			scope = scope[:i] // the role is usually granted on the vault
		}
	}
	role := "Key Vault Secrets Officer"
	if m := reRBACAction.FindStringSubmatch(msg); m != nil && (strings.HasSuffix(m[1], "/getSecret/action") || strings.HasSuffix(m[1], "/readMetadata/action")) {
		role = "Key Vault Secrets User"
	}
	return fmt.Sprintf("The vault uses Azure RBAC: `coffer role assignment create --assignee %s --role %q --scope %s`.", oid, role, scope)
}

func firstMatch(re *regexp.Regexp, s, fallback string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return fallback
}

func orPlaceholder(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// flagValue is the value of a flag on the command line ("" if absent), for
// filling in the commands a hint suggests.
func flagValue(name string) string {
	args := os.Args[1:]
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}
