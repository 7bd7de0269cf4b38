package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
)

// loginFile is where `coffer login` keeps the CLI's credentials (0600):
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

// loginStore holds one login per server, like az's per-cloud profiles: a
// login made against one data directory's server never applies to another.
type loginStore struct {
	Version int `json:"version"`
	// Logins is keyed by the absolute data directory.
	Logins map[string]savedLogin `json:"logins"`
	// legacy: the file is in the old one-login-for-all format.
	legacy bool
}

// savedLogin is one server's login. TenantID also ties it to the instance:
// a data directory deleted and served afresh has a new tenant, and the
// login made against the old one no longer applies.
type savedLogin struct {
	Server       string `json:"server"`
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

const loginStoreVersion = 2

// readLoginStore reads the store; a missing file, or one in the old
// single-login format, is an empty store.
func readLoginStore() (*loginStore, error) {
	st := &loginStore{Version: loginStoreVersion, Logins: map[string]savedLogin{}}
	b, err := os.ReadFile(loginFile())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	var read loginStore
	if err := json.Unmarshal(b, &read); err != nil {
		return nil, fmt.Errorf("%s: %w (delete it to start over)", loginFile(), err)
	}
	if read.Version != loginStoreVersion {
		// An older coffer kept one login for every server; it cannot be
		// told which server it belongs to.
		legacyOnce.Do(func() {
			stderrf("note: ignoring %s, a login stored by an older coffer for every server; log in again with `coffer login --service-principal …`, or `coffer logout` to remove it\n", loginFile())
		})
		st.legacy = true
		return st, nil
	}
	if read.Logins != nil {
		st.Logins = read.Logins
	}
	return st, nil
}

var legacyOnce sync.Once

func (st *loginStore) write() error {
	if len(st.Logins) == 0 {
		err := os.Remove(loginFile())
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := os.MkdirAll(filepath.Dir(loginFile()), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := loginFile() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, loginFile())
}

// storedLogin returns the credential `coffer login` stored for this
// server, or nil (the CLI then uses the admin of the data directory). A
// login made against an earlier instance in the same directory is
// forgotten, with a note.
func storedLogin(info *app.ServerInfo) (*app.AdminCredential, error) {
	st, err := readLoginStore()
	if err != nil {
		return nil, err
	}
	l, ok := st.Logins[absDataDir()]
	if !ok {
		return nil, nil
	}
	if l.TenantID != info.TenantID {
		delete(st.Logins, absDataDir())
		if err := st.write(); err != nil {
			return nil, err
		}
		stderrf("note: forgot the login of service principal %s: it was made against an earlier server in %s (tenant %s); using the admin\n",
			l.ClientID, absDataDir(), l.TenantID)
		return nil, nil
	}
	return &app.AdminCredential{TenantID: l.TenantID, ClientID: l.ClientID, ClientSecret: l.ClientSecret}, nil
}

// describeStoredLogin names this server's stored login ("" if none).
func describeStoredLogin() string {
	st, err := readLoginStore()
	if err != nil {
		return ""
	}
	if l, ok := st.Logins[absDataDir()]; ok {
		return credSource{kind: "login", clientID: l.ClientID, dataDir: absDataDir()}.String()
	}
	return ""
}

func newLoginCmd() *cobra.Command {
	var sp bool
	var user, password, tenant string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log the CLI in to this data directory's server (default: as its admin)",
		Long: `login stores the credential the CLI uses with the server of --data-dir
(one login per server, like az's per-cloud profiles). The credential is
checked by getting a token first; a failed login keeps the previous one.
Without --service-principal the CLI returns to the admin of --data-dir,
as after 'coffer logout'.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			info, err := serverInfo(ctx)
			if err != nil {
				return err
			}
			st, err := readLoginStore()
			if err != nil {
				return err
			}
			var c *app.AdminCredential
			src := credSource{kind: "new", dataDir: absDataDir()}
			if sp {
				if user == "" || password == "" {
					return fmt.Errorf("--service-principal needs -u APP_ID and -p SECRET")
				}
				c = &app.AdminCredential{TenantID: tenant, ClientID: user, ClientSecret: password}
				if c.TenantID == "" {
					c.TenantID = info.TenantID
				}
			} else {
				if c, err = app.ReadAdminCredential(opts.dataDir); err != nil {
					return err
				}
				src.kind = "admin"
			}
			src.clientID = c.ClientID
			// Check before storing: a refused credential leaves the
			// previous login in place.
			s, err := openSession(ctx, info, c, src)
			if err != nil {
				return err
			}
			if sp {
				st.Logins[absDataDir()] = savedLogin{Server: info.Addr, TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret}
			} else {
				delete(st.Logins, absDataDir())
			}
			if err := st.write(); err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), []map[string]any{{
				"cloudName": s.info.Cloud, "id": s.sub, "isDefault": true, "name": "Coffer", "state": "Enabled",
				"tenantId": s.c.TenantID, "user": map[string]string{"name": s.c.ClientID, "type": "servicePrincipal"},
			}})
		},
	}
	cmd.Flags().BoolVar(&sp, "service-principal", false, "log in as a service principal (-u/-p/--tenant)")
	cmd.Flags().StringVarP(&user, "username", "u", "", "app (client) id")
	cmd.Flags().StringVarP(&password, "password", "p", "", "client secret")
	cmd.Flags().StringVarP(&tenant, "tenant", "t", "", "tenant id (default: the server's)")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget this data directory's stored login; the CLI uses its admin again",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := readLoginStore()
			if err != nil {
				return err
			}
			if _, ok := st.Logins[absDataDir()]; !ok && !st.legacy {
				return nil
			}
			delete(st.Logins, absDataDir())
			return st.write()
		},
	}
}
