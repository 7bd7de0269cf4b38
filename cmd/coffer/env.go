package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
)

func newCACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Print Coffer's CA certificate (PEM) so clients can trust it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := app.ReadServerInfo(opts.dataDir)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(info.CAFile)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	return cmd
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func newEnvCmd() *cobra.Command {
	var vmName, rg string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines for the Azure SDKs (eval \"$(coffer env)\")",
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := app.ReadServerInfo(opts.dataDir)
			if err != nil {
				return err
			}
			cred, err := app.ReadAdminCredential(opts.dataDir)
			if err != nil {
				return err
			}
			vars := [][2]string{
				{"AZURE_TENANT_ID", cred.TenantID},
				{"AZURE_CLIENT_ID", cred.ClientID},
				{"AZURE_CLIENT_SECRET", cred.ClientSecret},
				{"AZURE_AUTHORITY_HOST", info.AuthorityHost},
				{"SSL_CERT_FILE", info.CAFile},
				{"NODE_EXTRA_CA_CERTS", info.CAFile},
				{"COFFER_VAULT_URL", info.VaultURL},
				{"COFFER_URL", info.URL},
				{"COFFER_MANAGEMENT_URL", info.ManagementURL},
			}
			if vmName != "" {
				// App Service protocol for that VM: a fresh machine
				// credential (shown once) as IDENTITY_HEADER.
				s, err := connect()
				if err != nil {
					return err
				}
				cred, _, err := newMachineCredential(cmd.Context(), s, rg, vmName)
				if err != nil {
					return err
				}
				vars = append(vars, [2]string{"IDENTITY_ENDPOINT", info.URL + "/msi/token"}, [2]string{"IDENTITY_HEADER", cred})
			}
			w := cmd.OutOrStdout()
			for _, v := range vars {
				fmt.Fprintf(w, "export %s=%s\n", v[0], shellQuote(v[1]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&vmName, "identity", "", "also export IDENTITY_ENDPOINT/IDENTITY_HEADER for this VM (App Service protocol)")
	cmd.Flags().StringVarP(&rg, "resource-group", "g", app.DefaultGroupName, "resource group of --identity")
	return cmd
}
