package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "coffer",
		Short:         "Azure-compatible managed identity and Key Vault, in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&opts.dataDir, "data-dir", defaultDataDir(), "data directory of the server (default $COFFER_DATA_DIR, else the per-user data directory)")
	addOutputFlags(root)
	root.AddCommand(newServeCmd(), newCACmd(), newEnvCmd(), newGroupCmd(), newVMCmd(), newIdentityCmd(), newKeyVaultCmd(), newAccountCmd(), newAgentCmd(), newRunCmd(), newADCmd(), newRoleCmd(), newLoginCmd(), newLogoutCmd(), newHostsCmd(), newAuditCmd())
	finishCLI(root)
	return root
}

// defaultDataDir is $COFFER_DATA_DIR, else the per-user data directory.
func defaultDataDir() string {
	if d := os.Getenv("COFFER_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "coffer")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "coffer")
	}
	return "coffer-data"
}
