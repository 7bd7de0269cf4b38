package main

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
)

// exitError carries a child's exit code through cobra to main.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRunCmd() *cobra.Command {
	var vmName, rg string
	cmd := &cobra.Command{
		Use:   "run --identity VM [-g GROUP] -- CMD [ARGS...]",
		Short: "Run an unmodified program as if it were on that VM in Azure",
		Long: `run starts CMD with HTTP_PROXY/HTTPS_PROXY pointing at a private proxy that
serves the VM's instance metadata service (http://169.254.169.254) and
tunnels Coffer's names (the vault, login and management hosts of the cloud
profile) to the server; other hosts are refused. SSL_CERT_FILE and
NODE_EXTRA_CA_CERTS point at Coffer's CA. The machine credential it uses is
issued for this run and revoked when CMD exits.`,
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
			ctx := cmd.Context()
			cred, keyID, err := newMachineCredential(ctx, s, rg, vmName, "")
			if err != nil {
				return err
			}
			defer func() {
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
	cmd.Flags().StringVarP(&rg, "resource-group", "g", app.DefaultGroupName, "resource group of the VM")
	_ = cmd.MarkFlagRequired("identity")
	return cmd
}
