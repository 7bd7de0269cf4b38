package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPythonSDK drives Coffer with the unmodified Azure SDK for Python
// (Debian's python3-azure: azure-identity, azure-keyvault-secrets, msal)
// on the system interpreter, inside a namespace where the AzureCloud names
// resolve to Coffer. The scripts in testdata/python set no client options:
// the SDK finds login.microsoftonline.com, IMDS and <vault>.vault.azure.net
// by itself, as on Azure.
func TestPythonSDK(t *testing.T) {
	requireAzurePython(t)
	a := newAzureNS(t, "pyvault", "pymi", "default")
	a.cli(t, "group", "create", "-n", "py-rg", "-l", "eastus")

	t.Run("ClientSecretCredential lifecycle", func(t *testing.T) {
		a.cli(t, "keyvault", "create", "-n", "pyvault", "-g", "py-rg", "-l", "eastus")
		// The lifecycle purges: make sure the creator may.
		a.cli(t, "keyvault", "set-policy", "-n", "pyvault", "-g", "py-rg", "--spn", a.clientID, "--secret-permissions", "all")
		env := cleanToolEnv("REQUESTS_CA_BUNDLE="+a.ca, "PY_TENANT_ID="+a.tenant, "PY_CLIENT_ID="+a.clientID,
			"PY_CLIENT_SECRET="+a.secret, "PY_VAULT_URL=https://pyvault.vault.azure.net/", "PY_SECRET_NAME=py-secret")
		got := a.python(t, env, "lifecycle.py")
		idRE := regexp.MustCompile(`^https://pyvault\.vault\.azure\.net/secrets/py-secret/[0-9a-f]{32}$`)
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"set id matches", idRE.MatchString(str(got, "set", "id")), true},
			{"set content_type", str(got, "set", "content_type"), "text/plain"},
			{"set tags", str(got, "set", "tags", "env"), "e2e"},
			{"set enabled", str(got, "set", "enabled"), "true"},
			{"get latest", str(got, "get_latest"), "second value"},
			{"get first version", str(got, "get_v1"), "first value"},
			{"list", fmt.Sprint(got["list"]), "[py-secret]"},
			{"versions", fmt.Sprint(got["versions"]), fmt.Sprint(got["want_versions"])},
			{"backup non-empty", str(got, "backup_len") != "0" && str(got, "backup_len") != "", true},
			{"deleted name", str(got, "deleted", "name"), "py-secret"},
			{"recovery id", str(got, "deleted", "recovery_id"), "https://pyvault.vault.azure.net/deletedsecrets/py-secret"},
			{"deleted date", str(got, "deleted", "has_deleted_date"), "true"},
			{"purge date", str(got, "deleted", "has_purge_date"), "true"},
			{"get after delete status", str(got, "get_after_delete", "status"), "404"},
			{"get after delete code", str(got, "get_after_delete", "code"), "SecretNotFound"},
			{"get deleted", str(got, "get_deleted"), "py-secret"},
			{"list deleted", fmt.Sprint(got["list_deleted"]), "[py-secret]"},
			{"recovered", str(got, "recovered", "value"), "second value"},
			{"deleted after purge status", str(got, "get_deleted_after_purge", "status"), "404"},
			{"deleted after purge code", str(got, "get_deleted_after_purge", "code"), "SecretNotFound"},
			{"restored value", str(got, "restored", "value"), "second value"},
			{"restored versions", fmt.Sprint(got["restored"].(map[string]any)["versions"]), fmt.Sprint(got["want_versions"])},
			{"restore over an existing secret status", str(got, "restore_again", "status"), "409"},
			{"restore over an existing secret code", str(got, "restore_again", "code"), "Conflict"},
		} {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
			}
		}
	})

	t.Run("DefaultAzureCredential after coffer env", func(t *testing.T) {
		got := evalCofferEnvPython(t, a, "py-newcomer", "hello from python")
		if str(got, "value") != "hello from python" ||
			!regexp.MustCompile(`^https://default\.vault\.azure\.net/secrets/py-newcomer/[0-9a-f]{32}$`).MatchString(str(got, "id")) {
			t.Errorf("DefaultAzureCredential read %v", got)
		}
	})

	t.Run("DefaultAzureCredential after coffer env, local profile", func(t *testing.T) {
		// The local profile's authority (https://localhost/) is not one
		// MSAL knows, so MSAL Python first asks
		// https://login.microsoftonline.com/common/discovery/instance
		// about it and follows the tenant_discovery_endpoint it gets. That
		// name is pinned to Coffer here, which answers as Entra does; with
		// the real Microsoft (or none) the SDK fails, so Python programs
		// need login.microsoftonline.com pinned even with this profile.
		// Coffer listens on :443 because that is where MSAL asks.
		l := newCofferNS(t, "local", "login.microsoftonline.com", "default.vault.localhost")
		got := evalCofferEnvPython(t, l, "py-local", "hello from the local profile")
		if str(got, "value") != "hello from the local profile" ||
			!regexp.MustCompile(`^https://default\.vault\.localhost/secrets/py-local/[0-9a-f]{32}$`).MatchString(str(got, "id")) {
			t.Errorf("DefaultAzureCredential read %v", got)
		}
	})

	t.Run("ManagedIdentityCredential on a simulated VM", func(t *testing.T) {
		principal := a.simulatedVM(t, "pyvm", "py-rg")
		a.cli(t, "keyvault", "create", "-n", "pymi", "-g", "py-rg", "-l", "eastus")
		a.cli(t, "keyvault", "secret", "set", "--vault-name", "pymi", "-n", "mi-secret", "--value", "for the VM only")
		a.cli(t, "keyvault", "set-policy", "-n", "pymi", "-g", "py-rg", "--object-id", principal, "--secret-permissions", "get")
		// Only the CA is configured: the credential finds IMDS at
		// 169.254.169.254 on its own, as on a VM.
		env := cleanToolEnv("REQUESTS_CA_BUNDLE=" + a.ca)
		got := a.python(t, env, "read_secret.py", "managed-identity", "mi-secret", "https://pymi.vault.azure.net/")
		if str(got, "value") != "for the VM only" || str(got, "enabled") != "true" ||
			!regexp.MustCompile(`^https://pymi\.vault\.azure\.net/secrets/mi-secret/[0-9a-f]{32}$`).MatchString(str(got, "id")) {
			t.Errorf("ManagedIdentityCredential read %v", got)
		}
		// Reading from a vault without an access policy for the VM is
		// refused by Key Vault (403), not by the credential.
		a.cli(t, "keyvault", "secret", "set", "--vault-name", "default", "-n", "not-for-the-vm", "--value", "x")
		res := a.pythonFails(t, env, "read_secret.py", "managed-identity", "not-for-the-vm", "https://default.vault.azure.net/")
		if !strings.Contains(res, "(Forbidden)") || !strings.Contains(res, "does not have secrets get permission") {
			t.Errorf("reading another vault as the VM: %s", res)
		}
	})
}

// evalCofferEnvPython is a newcomer's shell: eval "$(coffer env)", then a
// program with DefaultAzureCredential stores and reads a secret in the
// vault coffer env names. Nothing else is set (cleanToolEnv drops
// REQUESTS_CA_BUNDLE and AZURE_*), so coffer env must export everything
// the SDK needs, including the CA for requests (REQUESTS_CA_BUNDLE).
func evalCofferEnvPython(t *testing.T, a *azureNS, name, value string) map[string]any {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "python", "read_secret.py"))
	if err != nil {
		t.Fatal(err)
	}
	env := cleanToolEnv("COFFER_DATA_DIR="+a.dir, "COFFER="+a.coffer, "SCRIPT="+script, "NAME="+name, "VALUE="+value)
	exports, err := a.try(env, a.coffer, "env")
	if err != nil {
		t.Fatalf("coffer env: %v\n%s", err, exports)
	}
	if !strings.Contains(exports, "export REQUESTS_CA_BUNDLE=") {
		t.Errorf("coffer env does not export REQUESTS_CA_BUNDLE (requests ignores SSL_CERT_FILE):\n%s", exports)
	}
	return a.pythonCmd(t, env, "sh", "-c",
		`eval "$("$COFFER" env)" && exec `+systemPython+` -E -s "$SCRIPT" default "$NAME" "" "$VALUE"`)
}
