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
			info, err := serverInfo(cmd.Context())
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

// adminEnvVars are the variables `coffer env --identity` unsets: with any
// of them set, DefaultAzureCredential authenticates as someone other than
// the VM. EnvironmentCredential (tried first) uses AZURE_TENANT_ID +
// AZURE_CLIENT_ID + a secret, certificate or password;
// WorkloadIdentityCredential uses AZURE_FEDERATED_TOKEN_FILE; and
// ManagedIdentityCredential takes AZURE_CLIENT_ID as the client id of a
// user-assigned identity, which the admin's app id is not. The other
// managed-identity sources (Service Fabric via IDENTITY_SERVER_THUMBPRINT,
// Cloud Shell, Arc) would take precedence over the App Service one.
var adminEnvVars = append(append([]string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST"}, principalSecretVars...),
	"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET")

func newEnvCmd() *cobra.Command {
	var vmName, rg string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines for the Azure SDKs (eval \"$(coffer env)\")",
		Long: `env prints shell export lines that point the Azure SDKs at this server:
the admin's service-principal credential (AZURE_CLIENT_ID/SECRET,
AZURE_TENANT_ID, AZURE_AUTHORITY_HOST), the CA for every common client
(SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE)
and COFFER_VAULT_URL.

With --identity VM it prints instead what the managed-identity path needs:
IDENTITY_ENDPOINT and IDENTITY_HEADER (the App Service protocol, with a new
machine credential for the VM), the CA variables and the URLs, and it
unsets the admin's variables, so that DefaultAzureCredential picks the VM's
identity rather than the admin.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := serverInfo(cmd.Context())
			if err != nil {
				return err
			}
			var vars [][2]string
			var unset []string
			if vmName == "" {
				cred, err := app.ReadAdminCredential(opts.dataDir)
				if err != nil {
					return err
				}
				vars = [][2]string{
					{"AZURE_TENANT_ID", cred.TenantID},
					{"AZURE_CLIENT_ID", cred.ClientID},
					{"AZURE_CLIENT_SECRET", cred.ClientSecret},
					{"AZURE_AUTHORITY_HOST", info.AuthorityHost},
				}
			} else {
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
				unset = adminEnvVars
				vars = [][2]string{{"IDENTITY_ENDPOINT", info.URL + "/msi/token"}, {"IDENTITY_HEADER", cred}}
			}
			for _, k := range caVars {
				vars = append(vars, [2]string{k, info.CAFile})
			}
			vars = append(vars,
				[2]string{"COFFER_VAULT_URL", info.VaultURL},
				[2]string{"COFFER_URL", info.URL},
				[2]string{"COFFER_MANAGEMENT_URL", info.ManagementURL})
			w := cmd.OutOrStdout()
			if len(unset) > 0 {
				fmt.Fprintf(w, "unset %s\n", strings.Join(unset, " "))
			}
			for _, v := range vars {
				fmt.Fprintf(w, "export %s=%s\n", v[0], shellQuote(v[1]))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&vmName, "identity", "", "export the managed-identity variables of this VM instead of the admin's (App Service protocol)")
	cmd.Flags().StringVarP(&rg, "resource-group", "g", app.DefaultGroupName, "resource group of --identity")
	return cmd
}
