package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCofferRunCredentialRenewedThenDiesWhenKilled: the real `coffer run`
// binary issues a short-lived credential (3 s here, 15 min by default) and
// renews it, so the program still gets tokens after the first expiry;
// killed with SIGKILL (no chance to revoke), it leaves a credential that
// the server refuses once its last renewal runs out.
func TestCofferRunCredentialRenewedThenDiesWhenKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds two binaries and waits for expiries")
	}
	coffer := goBuild(t, ".")
	miclient := goBuild(t, "../../internal/runproxy/testdata/miclient")
	dataDir := t.TempDir()
	m := newMachineIn(t, dataDir)
	credFile := filepath.Join(t.TempDir(), "cred")
	const lifetime = 3 * time.Second

	// The program asks for its first token only after the credential's
	// first expiry: it works only if the run renewed it.
	cmd := exec.Command(coffer, "run", "--identity", "vm1", "--resource-group", "coffer", "--credential-lifetime", lifetime.String(), "--",
		"sh", "-c", "sleep 5; "+miclient+"; echo; sleep 600")
	cmd.Env = append(os.Environ(), "COFFER_DATA_DIR="+dataDir, testCredentialFileEnv+"="+credFile,
		"COFFER_TEST_VAULT_URL=https://"+m.env.Instance.DefaultVault+".vault.azure.net/", "COFFER_TEST_SECRET_NAME=mi-test")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The orphaned sh keeps stdout open after the kill: do not wait for it.
	cmd.WaitDelay = time.Second
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }) // the orphaned sh

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "My Secret") {
		if time.Now().After(deadline) {
			t.Fatalf("the program got no secret after the first expiry; stdout %q, stderr %s", stdout.String(), stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	raw, err := os.ReadFile(credFile)
	if err != nil {
		t.Fatal(err)
	}
	cred := string(raw)
	ctx := context.Background()
	if _, err := m.env.Resources.Authenticate(ctx, cred); err != nil {
		t.Fatalf("the live run's credential is refused: %v", err)
	}
	vm, err := m.env.Resources.VM(ctx, m.env.Instance.SubscriptionID, "coffer", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	keyID, _, _ := strings.Cut(strings.TrimPrefix(cred, "cofferm_"), ".")
	found := false
	for _, c := range vm.Credentials {
		if c.KeyID == keyID {
			found = true
			if c.Expires.IsZero() || c.Expires.After(time.Now().Add(lifetime+time.Second)) {
				t.Errorf("the run's credential expires at %v, want within %s", c.Expires, lifetime)
			}
		}
	}
	if !found {
		t.Fatalf("credential %s is not on the VM", keyID)
	}

	// SIGKILL to coffer run alone: no revocation happens.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	for {
		_, err := m.env.Resources.Authenticate(ctx, cred)
		if err != nil {
			break
		}
		// The last renewal gave it at most lifetime (+1 s of RFC 3339
		// rounding) from the kill.
		if time.Since(killed) > lifetime+2*time.Second {
			t.Fatalf("the killed run's credential still works %s after the kill", time.Since(killed))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// It died of expiry, not of a revocation.
	vm, _ = m.env.Resources.VM(ctx, m.env.Instance.SubscriptionID, "coffer", "vm1")
	still := false
	for _, c := range vm.Credentials {
		still = still || c.KeyID == keyID
	}
	if !still {
		t.Error("the killed run's credential was revoked; only expiry could have ended it")
	}
}
