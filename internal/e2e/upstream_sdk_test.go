package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/runproxy"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// upstreamSuites are the Azure SDK for Go packages whose own test suites
// run live against Coffer: the versions are the ones Coffer's go.mod pins,
// downloaded through the module proxy like any dependency.
var upstreamSuites = []string{
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets",
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys",
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates",
}

// upstreamSkips are the upstream tests that cannot pass against Coffer
// for a reason outside its scope. Everything not listed here must pass.
// suite is the last element of the package path; test is a top-level
// test name, which must exist in the suite (a stale entry fails).
//
// Not listed because the suites skip them themselves: the managed HSM
// variants (the "MHSM" subtests of azkeys, TestEncryptDecryptSymmetric,
// TestGetRandomBytes), which run only when AZURE_MANAGEDHSM_URL names a
// Managed HSM; Coffer serves vaults, not Managed HSM pools.
var upstreamSkips = []struct{ suite, test, reason string }{
	{"azkeys", "TestReleaseKey", "key release needs an attestation token from the SDK team's fake attestation " +
		"service (AZURE_KEYVAULT_ATTESTATION_URL) and a vault that trusts it; Coffer trusts no attestation " +
		"authority and refuses every release (see TestRawKeyRelease)"},
}

// TestUpstreamSDKSuites runs the Azure SDK for Go's own Key Vault client
// tests (their *_test.go files, shipped in the module zips) in live mode
// against a Coffer it starts. Live mode (AZURE_RECORD_MODE=live) sends the
// requests to AZURE_KEYVAULT_URL directly instead of through the test
// proxy. The suites authenticate as the admin service principal through
// DefaultAzureCredential's environment variables, reach Coffer's
// AzureCloud names (login.microsoftonline.com, <vault>.vault.azure.net)
// through a CONNECT proxy that pins them to the test server (what a hosts
// file does on a machine of its own), and trust Coffer's CA through
// SSL_CERT_FILE. Each suite is built in a temporary copy of its module
// with its own go.mod, so their test dependencies never enter Coffer's.
func TestUpstreamSDKSuites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Azure SDK's own test suites")
	}
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, env.CA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := &runproxy.Proxy{Front: http.NotFoundHandler(), ServerAddr: env.Addr, Profile: env.Profile,
		User: "upstream", Password: "upstream-tests"}
	proxyAddr, err := proxy.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	proxyURL := (&url.URL{Scheme: "http", User: url.UserPassword(proxy.User, proxy.Password), Host: proxyAddr}).String()

	runEnv := upstreamEnv(
		"AZURE_RECORD_MODE=live",
		"AZURE_KEYVAULT_URL="+env.VaultURL(env.Instance.DefaultVault),
		"AZURE_TENANT_ID="+env.Instance.TenantID,
		"AZURE_CLIENT_ID="+env.Admin.ClientID,
		"AZURE_CLIENT_SECRET="+env.Admin.ClientSecret,
		"HTTPS_PROXY="+proxyURL, "HTTP_PROXY="+proxyURL,
		"SSL_CERT_FILE="+caFile,
		// The recording package reads the test proxy's certificate at
		// start-up; in live mode it is never used.
		"PROXY_CERT="+caFile,
	)
	for _, pkg := range upstreamSuites {
		suite := pkg[strings.LastIndex(pkg, "/")+1:]
		t.Run(suite, func(t *testing.T) {
			src, bin := buildUpstreamSuite(t, pkg, dir)
			runUpstreamSuite(t, suite, src, bin, runEnv)
		})
	}
}

// upstreamEnv is this process's environment without anything that would
// change which identity, proxy or trust store the suites use, plus extra.
func upstreamEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AZURE"), strings.HasPrefix(k, "SYSTEM_"), strings.HasPrefix(k, "IDENTITY_"),
			strings.HasPrefix(strings.ToUpper(k), "HTTP_PROXY"), strings.HasPrefix(strings.ToUpper(k), "HTTPS_PROXY"),
			strings.ToUpper(k) == "NO_PROXY", strings.HasPrefix(k, "SSL_CERT_"), k == "MSI_ENDPOINT", k == "PROXY_CERT":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// buildUpstreamSuite downloads the version of pkg that Coffer's go.mod
// pins, copies the module to a writable directory and compiles its test
// binary there.
func buildUpstreamSuite(t *testing.T, pkg, dir string) (src, bin string) {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", pkg).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v\n%s", pkg, err, out)
	}
	var mod struct{ Path, Version, Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", pkg, err, out)
	}
	t.Logf("%s@%s", mod.Path, mod.Version)
	src = filepath.Join(dir, filepath.Base(pkg)+"-src")
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, filepath.Base(pkg)+".test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, ".")
	cmd.Dir = src
	// Its own go.mod and go.sum, as released; GOFLAGS=-mod=mod lets go
	// record what the test build needs beyond the library build.
	// GOEXPERIMENT=nojsonv2: the suites' testSerde unmarshals a deliberately
	// broken body into the very list result the test then walks, relying on
	// encoding/json before Go 1.27 leaving it intact on error; Go 1.27's
	// json (on v2 by default) truncates it, so the list tests would fail on
	// the client side with Coffer's answer correct. Their own JSON rules,
	// not Coffer's, are what this restores.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOEXPERIMENT=nojsonv2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s's tests: %v\n%s", pkg, err, out)
	}
	return src, bin
}

var upstreamResultRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// runUpstreamSuite runs the suite's test binary without the skipped
// tests and fails if it fails; the per-test results are logged.
func runUpstreamSuite(t *testing.T, suite, src, bin string, env []string) {
	t.Helper()
	// The suites' TestMain runs for -test.list too, so it gets the same
	// live-mode environment (in playback it would start the test proxy).
	list := exec.Command(bin, "-test.list", ".")
	list.Env, list.Dir = env, src
	listed, err := list.Output()
	if err != nil {
		t.Fatalf("%s -test.list: %v", suite, err)
	}
	tests := strings.Fields(string(listed))
	var skip []string
	for _, s := range upstreamSkips {
		if s.suite != suite {
			continue
		}
		if !slices.Contains(tests, s.test) {
			t.Errorf("upstreamSkips: %s has no test %s any more; remove the entry", suite, s.test)
		}
		t.Logf("skipping %s: %s", s.test, s.reason)
		skip = append(skip, regexp.QuoteMeta(s.test))
	}
	args := []string{"-test.v", "-test.count=1", "-test.timeout=3m"}
	if len(skip) > 0 {
		sort.Strings(skip)
		args = append(args, "-test.skip=^("+strings.Join(skip, "|")+")$")
	}
	if run := os.Getenv("COFFER_UPSTREAM_RUN"); run != "" {
		args = append(args, "-test.run="+run) // narrowing while triaging
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = src // the tests read their testdata relative to it
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	counts := map[string]int{}
	var failed []string
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		if m := upstreamResultRE.FindStringSubmatch(sc.Text()); m != nil {
			counts[m[1]]++
			if m[1] == "FAIL" {
				failed = append(failed, m[2])
			}
		}
	}
	t.Logf("%s: %d passed, %d skipped by the suite, %d failed in %s", suite, counts["PASS"], counts["SKIP"], counts["FAIL"], time.Since(start).Round(time.Second))
	if err == nil && counts["PASS"] == 0 {
		t.Errorf("%s ran no test:\n%s", suite, out.String())
	}
	if err != nil || counts["FAIL"] > 0 {
		t.Errorf("%s's upstream tests failed (%v): %s\n%s", suite, err, strings.Join(failed, ", "), out.String())
	} else if os.Getenv("COFFER_UPSTREAM_VERBOSE") != "" {
		t.Log(out.String())
	}
}
