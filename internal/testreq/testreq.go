// Package testreq is the one rule for tests that need something from the
// machine (a tool on PATH, root): in strict mode a missing requirement
// FAILS the test; otherwise the test is skipped and the skip is recorded,
// so that a partial run can say loudly what it did not test.
//
// Strict mode is on when COFFER_TEST_STRICT=1 (scripts/test sets it unless
// called with --allow-skips) or CI=true. Skips are appended, one line each,
// to the file named by COFFER_TEST_SKIPS when it is set; scripts/test
// prints that file at the end of a partial run.
//
// Every skip site in the suite goes through Need, Root or Skip. The only
// plain t.Skip calls left are for conditions no machine setup can change
// (no Unix permission bits on Windows, no IPv6 loopback in a container),
// and each says so.
//
// The package depends on the standard library only, so every test package
// (including the lowest ones, such as internal/pki) can import it.
package testreq

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Strict reports whether missing requirements fail tests.
func Strict() bool {
	return os.Getenv("COFFER_TEST_STRICT") == "1" || strings.EqualFold(os.Getenv("CI"), "true") || os.Getenv("CI") == "1"
}

// Need returns the absolute path of each tool (looked up on PATH), in
// order. When one is missing it fails the test in strict mode and skips it
// (recording why) otherwise.
func Need(t testing.TB, tools ...string) []string {
	t.Helper()
	paths := make([]string, 0, len(tools))
	var missing []string
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			missing = append(missing, tool)
			continue
		}
		paths = append(paths, p)
	}
	if len(missing) > 0 {
		Skip(t, fmt.Sprintf("needs %s on PATH (scripts/install-deps installs it)", strings.Join(missing, ", ")))
	}
	return paths
}

// Root requires root privileges (network namespaces, /etc/netns).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root (network namespaces); run scripts/test as root, or pass --allow-skips for a partial run")
	}
}

// Skip is the single exit for a missing requirement described by reason:
// Fatal in strict mode, otherwise a recorded Skip.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (strict mode: COFFER_TEST_STRICT=1 or CI=true; a partial run is `scripts/test --allow-skips`)", reason)
		return // Fatalf does not return; a fake testing.TB's might
	}
	record(t.Name(), reason)
	t.Skip(reason)
}

var recordMu sync.Mutex

// record appends "name: reason" to $COFFER_TEST_SKIPS. Test binaries of
// several packages may run at once, so each line is one O_APPEND write.
func record(name, reason string) {
	path := os.Getenv("COFFER_TEST_SKIPS")
	if path == "" {
		return
	}
	recordMu.Lock()
	defer recordMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testreq: recording skip in %s: %v\n", path, err)
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintf(f, "%s: %s\n", name, strings.ReplaceAll(reason, "\n", " "))
}
