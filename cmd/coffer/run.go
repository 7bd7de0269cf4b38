package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
)

// exitError carries a child's exit code through cobra to main.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRunCmd() *cobra.Command {
	var vmName, rg string
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "run --identity VM [-g GROUP] -- CMD [ARGS...]",
		Short: "Run an unmodified program as if it were on that VM in Azure",
		Long: `run starts CMD with HTTP_PROXY/HTTPS_PROXY pointing at a private proxy that
serves the VM's instance metadata service (http://169.254.169.254) and
tunnels Coffer's names (the vault, login and management hosts of the cloud
profile) to the server; other hosts are refused. SSL_CERT_FILE and
NODE_EXTRA_CA_CERTS point at Coffer's CA. The machine credential it uses is
issued for this run with a 15-minute expiry, renewed every 5 minutes while
CMD runs, and revoked when CMD exits; if coffer itself is killed (SIGKILL),
the credential dies at its expiry.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("the following arguments are required: CMD (after --)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := connect()
			if err != nil {
				return err
			}
			p, err := cloud.Lookup(s.info.Cloud)
			if err != nil {
				return err
			}
			if lifetime < minRunCredentialLifetime || lifetime > 24*time.Hour {
				return usagef("--credential-lifetime must be between %s and 24h", minRunCredentialLifetime)
			}
			ctx := cmd.Context()
			cred, keyID, err := newRunCredential(ctx, s, rg, vmName, lifetime)
			if err != nil {
				return err
			}
			if f := os.Getenv(testCredentialFileEnv); f != "" {
				// Test hook only (see testCredentialFileEnv).
				if err := os.WriteFile(f, []byte(cred), 0o600); err != nil {
					return err
				}
			}
			renewCtx, stopRenewing := context.WithCancel(ctx)
			renewed := make(chan struct{})
			go func() {
				defer close(renewed)
				renewRunCredential(renewCtx, s, rg, vmName, keyID, lifetime, os.Stderr)
			}()
			defer func() {
				stopRenewing()
				<-renewed
				// Revoke with a fresh context: the command's may be cancelled.
				_, _ = s.c.ARM(context.Background(), "DELETE", vmPath(s, rg, vmName)+"/cofferCredentials/"+url.PathEscape(keyID), nil, nil)
			}()
			code, err := runWithIdentity(ctx, s.info.URL, s.info.Addr, p, s.info.CAFile, cred, args, os.Stdout, os.Stderr)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&vmName, "identity", "", "VM whose managed identities the program gets")
	// Hidden: tests shorten it to seconds; operators have no reason to.
	cmd.Flags().DurationVar(&lifetime, "credential-lifetime", runCredentialLifetime, "lifetime of the run's machine credential, renewed while CMD runs")
	_ = cmd.Flags().MarkHidden("credential-lifetime")
	cmd.Flags().StringVarP(&rg, "resource-group", "g", app.DefaultGroupName, "resource group of the VM")
	_ = cmd.MarkFlagRequired("identity")
	return cmd
}

// runCredentialLifetime is how long a `coffer run` credential lives
// without renewal: the bound on how long one left by a killed run works.
const runCredentialLifetime = 15 * time.Minute

// minRunCredentialLifetime keeps renewals (every third of the lifetime)
// from hammering the server.
const minRunCredentialLifetime = 3 * time.Second

// testCredentialFileEnv names a file `coffer run` writes its credential to
// (0600), for the test that kills a run and proves its credential then
// dies at expiry: the test needs the credential to try it. Nothing else
// should set it.
const testCredentialFileEnv = "COFFER_TEST_RUN_CREDENTIAL_FILE"

// newRunCredential issues the run's machine credential, expiring after
// lifetime.
func newRunCredential(ctx context.Context, s *session, rg, vm string, lifetime time.Duration) (string, string, error) {
	var out struct {
		KeyID      string `json:"keyId"`
		Credential string `json:"credential"`
	}
	body := map[string]string{"expiresOn": time.Now().Add(lifetime).UTC().Format(time.RFC3339)}
	if _, err := s.c.ARM(ctx, "POST", vmPath(s, rg, vm)+"/cofferCredentials", body, &out); err != nil {
		return "", "", fmt.Errorf("issuing a credential for VM %s/%s: %w", rg, vm, err)
	}
	return out.Credential, out.KeyID, nil
}

// renewRunCredential moves the credential's expiry to a full lifetime
// ahead every third of it until ctx ends, so two renewals may fail in a
// row (a server restart, say) before the program loses access. It stops
// for good when the credential is gone (revoked, or already expired).
func renewRunCredential(ctx context.Context, s *session, rg, vm, keyID string, lifetime time.Duration, stderr io.Writer) {
	t := time.NewTicker(lifetime / 3)
	defer t.Stop()
	path := vmPath(s, rg, vm) + "/cofferCredentials/" + url.PathEscape(keyID)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		body := map[string]string{"expiresOn": time.Now().Add(lifetime).UTC().Format(time.RFC3339)}
		status, err := s.c.ARM(ctx, "PATCH", path, body, nil)
		switch {
		case err == nil || ctx.Err() != nil:
		case status == 404:
			fmt.Fprintf(stderr, "coffer run: the VM's credential for this run was revoked or has expired; the program's managed identity requests now fail: %v\n", err)
			return
		default:
			fmt.Fprintf(stderr, "coffer run: renewing the VM's credential failed (retrying in %s): %v\n", lifetime/3, err)
		}
	}
}
