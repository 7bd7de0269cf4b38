package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
)

// loginFile is where `coffer login` keeps the CLI's credential (0600):
// $COFFER_CONFIG_DIR, else the per-user config directory.
func loginFile() string {
	if d := os.Getenv("COFFER_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "login.json")
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "coffer", "login.json")
	}
	return ".coffer-login.json"
}

// readLogin returns the stored CLI credential, or nil when there is none
// (the CLI then uses the admin credential of the data directory).
func readLogin() (*app.AdminCredential, error) {
	b, err := os.ReadFile(loginFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c app.AdminCredential
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", loginFile(), err)
	}
	return &c, nil
}

func newLoginCmd() *cobra.Command {
	var sp bool
	var user, password, tenant string
	cmd := &cobra.Command{Use: "login", Short: "Store the credential the CLI uses (default: the admin of --data-dir)", RunE: func(cmd *cobra.Command, _ []string) error {
		var c *app.AdminCredential
		if sp {
			if user == "" || password == "" {
				return fmt.Errorf("--service-principal needs -u APP_ID and -p SECRET")
			}
			c = &app.AdminCredential{TenantID: tenant, ClientID: user, ClientSecret: password}
			if c.TenantID == "" {
				info, err := app.ReadServerInfo(opts.dataDir)
				if err != nil {
					return fmt.Errorf("--tenant is required: %w", err)
				}
				c.TenantID = info.TenantID
			}
		} else {
			admin, err := app.ReadAdminCredential(opts.dataDir)
			if err != nil {
				return err
			}
			c = admin
		}
		// Store, then check the credential by connecting; undo on failure.
		if err := os.MkdirAll(filepath.Dir(loginFile()), 0o700); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(c, "", "  ")
		tmp := loginFile() + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, loginFile()); err != nil {
			return err
		}
		s, err := connect()
		if err != nil {
			_ = os.Remove(loginFile())
			return fmt.Errorf("login failed: %w", err)
		}
		return printResult(cmd.OutOrStdout(), []map[string]any{{
			"cloudName": s.info.Cloud, "id": s.sub, "isDefault": true, "name": "Coffer", "state": "Enabled",
			"tenantId": s.c.TenantID, "user": map[string]string{"name": s.c.ClientID, "type": "servicePrincipal"},
		}})
	}}
	cmd.Flags().BoolVar(&sp, "service-principal", false, "log in as a service principal (-u/-p/--tenant)")
	cmd.Flags().StringVarP(&user, "username", "u", "", "app (client) id")
	cmd.Flags().StringVarP(&password, "password", "p", "", "client secret")
	cmd.Flags().StringVarP(&tenant, "tenant", "t", "", "tenant id (default: the server's)")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{Use: "logout", Short: "Forget the stored CLI credential", RunE: func(cmd *cobra.Command, _ []string) error {
		err := os.Remove(loginFile())
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}}
}
