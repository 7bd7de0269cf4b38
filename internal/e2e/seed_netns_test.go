package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var secretIDRE = regexp.MustCompile(`^https://kvseed\.vault\.azure\.net/secrets/mi-test/[0-9a-f]{32}$`)

// TestSeedWalkthroughNetns runs the seed scenario as on a real VM: a
// network namespace whose 169.254.169.254 is served by `coffer agent` and
// whose hosts file pins the AzureCloud names to a `coffer serve` listening
// on :443. The operator steps use the CLI; the program steps are curl (the
// seed's two requests, no challenge round trip) and an unmodified Go
// program with ManagedIdentityCredential + azsecrets.
func TestSeedWalkthroughNetns(t *testing.T) {
	coffer, seedclient := binaries(t)
	ns := newNetns(t, []string{
		"127.0.0.1 kvseed.vault.azure.net login.microsoftonline.com management.azure.com",
	}, "169.254.169.254/32")
	dir := t.TempDir()
	// The CA is trusted the way each client reads it: SSL_CERT_FILE for Go,
	// CURL_CA_BUNDLE for curl.
	env := baseEnv("COFFER_DATA_DIR="+dir, "SSL_CERT_FILE="+filepath.Join(dir, "ca.pem"), "CURL_CA_BUNDLE="+filepath.Join(dir, "ca.pem"))

	ns.start("coffer serve", env, coffer, "serve", "--cloud", "AzureCloud", "--addr", "127.0.0.1:443", "--log-level", "warn")
	waitFor(t, "coffer serve", 30*time.Second, func() error {
		_, err := ns.try(env, "curl", "-sf", "--cacert", filepath.Join(dir, "ca.pem"), "https://management.azure.com/healthz")
		return err
	})
	cli := func(args ...string) map[string]any {
		return decodeJSON(t, ns.run(env, coffer, args...))
	}

	// Operator: resource group, VM with a system-assigned identity, vault,
	// secret, access policy from the "Secret Management" template.
	cli("group", "create", "-n", "mi-test", "-l", "eastus")
	vm := cli("vm", "create", "-n", "vm1", "-g", "mi-test", "--assign-identity")
	principal := str(vm, "identity", "principalId")
	if principal == "" {
		t.Fatalf("vm create printed no identity.principalId: %v", vm)
	}
	kv := cli("keyvault", "create", "-n", "kvseed", "-g", "mi-test")
	if got := str(kv, "properties", "vaultUri"); got != "https://kvseed.vault.azure.net/" {
		t.Errorf("vaultUri = %q", got)
	}
	cli("keyvault", "secret", "set", "--vault-name", "kvseed", "-n", "mi-test", "--value", "My Secret")
	cli("keyvault", "set-policy", "-n", "kvseed", "--object-id", principal, "--template", "Secret Management")
	cred := str(cli("vm", "credential", "create", "-n", "vm1", "-g", "mi-test"), "credential")
	credFile := filepath.Join(dir, "vm1.credential")
	if err := os.WriteFile(credFile, []byte(cred+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The machine: coffer agent serves IMDS at the link-local address.
	ns.start("coffer agent", env, coffer, "agent", "--server", "https://localhost:443", "--credential-file", credFile,
		"--addr", "169.254.169.254:80", "--ca-file", filepath.Join(dir, "ca.pem"))
	imds := "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
	waitFor(t, "coffer agent", 30*time.Second, func() error {
		_, err := ns.try(env, "curl", "-sf", "-H", "Metadata: true", imds)
		return err
	})

	// (a) The seed's two requests with curl.
	tok := decodeJSON(t, ns.run(env, "curl", "-sf", "-H", "Metadata: true", imds))
	for _, k := range []string{"access_token", "expires_in", "expires_on", "not_before", "resource", "token_type", "client_id"} {
		if str(tok, k) == "" {
			t.Errorf("IMDS token response lacks %s: %v", k, tok)
		}
	}
	if str(tok, "resource") != "https://vault.azure.net" {
		t.Errorf("resource = %q", str(tok, "resource"))
	}
	bearer := "Authorization: Bearer " + str(tok, "access_token")
	sec := decodeJSON(t, ns.run(env, "curl", "-sf", "-H", bearer, "https://kvseed.vault.azure.net/secrets/mi-test?api-version=2016-10-01"))
	if str(sec, "value") != "My Secret" || !secretIDRE.MatchString(str(sec, "id")) || str(sec, "attributes", "enabled") != "true" {
		t.Errorf("secret via curl = %v", sec)
	}

	// (b) An unmodified Go program: ManagedIdentityCredential (IMDS) + azsecrets.
	out := ns.run(append(env, "SEED_VAULT_URL=https://kvseed.vault.azure.net/", "SEED_SECRET=mi-test"), seedclient)
	got := decodeJSON(t, out)
	if str(got, "value") != "My Secret" || !secretIDRE.MatchString(str(got, "id")) || str(got, "enabled") != "true" {
		t.Errorf("secret via Go SDK = %v", got)
	}

	// Bad input at IMDS: no Metadata header, X-Forwarded-For.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no Metadata header", []string{imds}, "400"},
		{"Metadata false", []string{"-H", "Metadata: false", imds}, "400"},
		{"X-Forwarded-For", []string{"-H", "Metadata: true", "-H", "X-Forwarded-For: 10.0.0.1", imds}, "400"},
		{"no resource", []string{"-H", "Metadata: true", "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"}, "400"},
		{"unknown client_id", []string{"-H", "Metadata: true", imds + "&client_id=00000000-0000-0000-0000-000000000001"}, "400"},
	} {
		code := ns.run(env, "curl", append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}"}, tc.args...)...)
		if code != tc.want {
			t.Errorf("IMDS %s = %s, want %s", tc.name, code, tc.want)
		}
	}

	// A token for another resource is refused by Key Vault.
	mgmt := decodeJSON(t, ns.run(env, "curl", "-sf", "-H", "Metadata: true",
		"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"))
	code := ns.run(env, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "+str(mgmt, "access_token"),
		"https://kvseed.vault.azure.net/secrets/mi-test?api-version=2016-10-01")
	if code != "401" {
		t.Errorf("GET with a management token = %s, want 401", code)
	}

	// A second VM without an access policy gets 403 (its own agent on another address).
	cli("vm", "create", "-n", "vm2", "-g", "mi-test", "--assign-identity")
	cred2 := str(cli("vm", "credential", "create", "-n", "vm2", "-g", "mi-test"), "credential")
	cred2File := filepath.Join(dir, "vm2.credential")
	if err := os.WriteFile(cred2File, []byte(cred2), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.start("coffer agent vm2", env, coffer, "agent", "--server", "https://localhost:443", "--credential-file", cred2File,
		"--addr", "127.0.0.1:8080", "--ca-file", filepath.Join(dir, "ca.pem"))
	imds2 := strings.Replace(imds, "169.254.169.254", "127.0.0.1:8080", 1)
	waitFor(t, "second agent", 30*time.Second, func() error {
		_, err := ns.try(env, "curl", "-sf", "-H", "Metadata: true", imds2)
		return err
	})
	tok2 := decodeJSON(t, ns.run(env, "curl", "-sf", "-H", "Metadata: true", imds2))
	code = ns.run(env, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "+str(tok2, "access_token"),
		"https://kvseed.vault.azure.net/secrets/mi-test?api-version=2016-10-01")
	if code != "403" {
		t.Errorf("GET as a VM without policy = %s, want 403", code)
	}

	// A user-assigned identity, selected by client_id, works.
	uami := cli("identity", "create", "-n", "app-id", "-g", "mi-test")
	cli("vm", "identity", "assign", "-n", "vm1", "-g", "mi-test", "--identities", "[system]", "--identities", "app-id")
	cli("keyvault", "set-policy", "-n", "kvseed", "--object-id", str(uami, "principalId"), "--secret-permissions", "get")
	out = ns.run(append(env, "SEED_VAULT_URL=https://kvseed.vault.azure.net/", "SEED_SECRET=mi-test", "SEED_CLIENT_ID="+str(uami, "clientId")), seedclient)
	if got := decodeJSON(t, out); str(got, "value") != "My Secret" {
		t.Errorf("secret as user-assigned identity = %v", got)
	}

	// Deleting the VM makes its tokens useless for new requests.
	ns.run(env, coffer, "vm", "delete", "-n", "vm1", "-g", "mi-test", "--yes")
	code = ns.run(env, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", bearer,
		"https://kvseed.vault.azure.net/secrets/mi-test?api-version=2016-10-01")
	if code != "401" {
		t.Errorf("GET with a deleted VM's token = %s, want 401", code)
	}

	// Clean up like the seed: delete the resource group; the vault is soft-deleted.
	ns.run(env, coffer, "group", "delete", "-n", "mi-test", "--yes")
	deleted := ns.run(env, coffer, "keyvault", "list-deleted", "--query", "[].name", "-o", "tsv")
	if strings.TrimSpace(deleted) != "kvseed" {
		t.Errorf("deleted vaults after group delete = %q", deleted)
	}
	code = ns.run(env, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "+str(tok2, "access_token"),
		"https://kvseed.vault.azure.net/secrets/mi-test?api-version=2016-10-01")
	if code == "200" {
		t.Errorf("GET after group delete = %s", code)
	}
}
