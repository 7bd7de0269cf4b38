package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
)

func newCACmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Print Coffer's CA certificate (PEM) so clients can trust it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := app.ReadServerInfo(dataDir)
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
	addDataDirFlag(cmd, &dataDir)
	return cmd
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func newEnvCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines for the Azure SDKs (eval \"$(coffer env)\")",
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := app.ReadServerInfo(dataDir)
			if err != nil {
				return err
			}
			cred, err := app.ReadAdminCredential(dataDir)
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
			}
			w := cmd.OutOrStdout()
			for _, v := range vars {
				fmt.Fprintf(w, "export %s=%s\n", v[0], shellQuote(v[1]))
			}
			return nil
		},
	}
	addDataDirFlag(cmd, &dataDir)
	return cmd
}
