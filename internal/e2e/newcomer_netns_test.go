package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestNewcomerDefaultAzureCredential is the core issue's "done when": with
// the profile's names pinned to Coffer (a namespace's hosts file), `eval
// "$(coffer env)"` and an unmodified program using DefaultAzureCredential +
// azsecrets with no client options set and read a secret in the default
// vault.
func TestNewcomerDefaultAzureCredential(t *testing.T) {
	coffer, _ := binaries(t)
	envclient := filepath.Join(filepath.Dir(coffer), "envclient")
	ns := newNetns(t, []string{"127.0.0.1 default.vault.azure.net login.microsoftonline.com management.azure.com"})
	dir := t.TempDir()
	env := baseEnv("COFFER_DATA_DIR=" + dir)
	ns.start("coffer serve", env, coffer, "serve", "--cloud", "AzureCloud", "--addr", "127.0.0.1:443", "--log-level", "warn")
	waitFor(t, "coffer serve", 30*time.Second, func() error {
		_, err := ns.try(env, "curl", "-sf", "--cacert", filepath.Join(dir, "ca.pem"), "https://login.microsoftonline.com/healthz")
		return err
	})
	// eval "$(coffer env)": parse the export lines into the environment.
	exports := ns.run(env, coffer, "env")
	progEnv := append([]string(nil), env...)
	line := regexp.MustCompile(`^export ([A-Z_]+)='(.*)'$`)
	for _, l := range strings.Split(strings.TrimSpace(exports), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("coffer env printed %q", l)
		}
		progEnv = append(progEnv, m[1]+"="+strings.ReplaceAll(m[2], `'\''`, "'"))
	}
	for _, want := range []string{"AZURE_TENANT_ID=", "AZURE_CLIENT_ID=", "AZURE_CLIENT_SECRET=", "AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/", "SSL_CERT_FILE=", "NODE_EXTRA_CA_CERTS=", "COFFER_VAULT_URL=https://default.vault.azure.net/"} {
		if !strings.Contains(exports, strings.SplitN(want, "=", 2)[0]+"='"+strings.SplitN(want, "=", 2)[1]) {
			t.Errorf("coffer env lacks %s:\n%s", want, exports)
		}
	}
	got := decodeJSON(t, ns.run(progEnv, envclient))
	if str(got, "value") != "hello from DefaultAzureCredential" || !regexp.MustCompile(`^https://default\.vault\.azure\.net/secrets/newcomer/[0-9a-f]{32}$`).MatchString(str(got, "id")) {
		t.Errorf("envclient = %v", got)
	}
}
