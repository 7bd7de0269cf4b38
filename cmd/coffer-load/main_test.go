package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testreq"
)

// TestMain lets the test binary play the harness's child processes (the
// ceiling and the IMDS front), which the harness starts from its own
// executable.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// TestHarnessSmoke runs the whole harness with tiny sizes and short
// phases and checks that it prints every row of the table with numbers
// for both servers and no failed requests. It asserts nothing about
// speed: CI machines are too noisy for that.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server: not in -short")
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/coffer-dev/coffer/cmd/coffer").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, store := range []string{"bbolt", "etcd"} {
		t.Run(store, func(t *testing.T) {
			if store == "etcd" {
				testreq.Need(t, "etcd")
			}
			smoke(t, config{duration: 200 * time.Millisecond, maxRequests: 2000, workers: 4, setWriters: 4, firstTokens: 3,
				listSmall: 3, listLarge: 30, versionsLarge: 5, latencyN: 5, coldStarts: 2, coffer: bin, store: store})
		})
	}
}

func smoke(t *testing.T, c config) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	if err := run(ctx, c, &out, &log); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("\n%s", out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	wantRows := []string{
		"| measurement | coffer | ceiling (bare net/http) | coffer/ceiling |",
		"| secret GET (bearer + access policy), 4 connections |",
		"| durable secret SET, 4 writers |",
		"| cached MI token, App Service (/msi/token), 4 connections |",
		"| cached MI token, IMDS front (plain HTTP), 4 connections |",
		"| first MI token of a new identity (credential check + RS256), 3 identities |",
		"| LIST first page, secrets in vault, 3 |",
		"| LIST first page, secrets in vault, 30 (p50 ",
		"| GET latest, versions of the secret, 1 |",
		"| GET latest, versions of the secret, 5 (p50 ",
		"| RSS idle (after start) |",
		"| RSS after the run ",
		"| cold start (exec to first 200), median of 2 |",
	}
	for _, want := range wantRows {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				found = true
				if strings.Count(l, "|") != 5 {
					t.Errorf("row %q has %d cells, want 4", l, strings.Count(l, "|")-1)
				}
			}
		}
		if !found {
			t.Errorf("no row %q in:\n%s", want, out.String())
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "errors)") && !strings.Contains(l, " 0 errors)") {
			t.Errorf("failed requests: %s", l)
		}
	}
}
