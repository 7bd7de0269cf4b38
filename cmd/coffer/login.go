package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/oidc"
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
	ClientSecret string `json:"clientSecret,omitempty"`
	// Type is loginUser for a user's device code login, which keeps a
	// refresh token instead of a secret; empty for a service principal.
	Type         string `json:"type,omitempty"`
	UserName     string `json:"userName,omitempty"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

// loginUser marks a user's login (savedLogin.Type).
const loginUser = "user"

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

// storedLogin returns the login `coffer login` stored for this server, or
// nil (the CLI then uses the admin of the data directory). A login made
// against an earlier instance in the same directory is forgotten, with a
// note.
func storedLogin(info *app.ServerInfo) (*savedLogin, error) {
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
		stderrf("note: forgot the login of %s: it was made against an earlier server in %s (tenant %s); using the admin\n",
			l.who(), absDataDir(), l.TenantID)
		return nil, nil
	}
	return &l, nil
}

// who names the login's principal.
func (l savedLogin) who() string {
	if l.Type == loginUser {
		return "user " + l.UserName
	}
	return "service principal " + l.ClientID
}

// describeStoredLogin names this server's stored login ("" if none).
func describeStoredLogin() string {
	st, err := readLoginStore()
	if err != nil {
		return ""
	}
	if l, ok := st.Logins[absDataDir()]; ok {
		return l.source().String()
	}
	return ""
}

func newLoginCmd() *cobra.Command {
	var sp, admin bool
	var user, password, tenant string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign the CLI in to this data directory's server (default: as a user, with a device code)",
		Long: `login stores the credential the CLI uses with the server of --data-dir
(one login per server, like az's per-cloud profiles).

Without flags it signs in a directory user with the device code flow, as
'az login --use-device-code' does: it prints a web page and a code, you
open the page, enter the code and sign in (the admin user's password is in
admin.json), and the CLI then acts as that user. With --service-principal
it stores an app's id and secret. --admin (or 'coffer logout') returns to
the admin service principal of --data-dir. The credential is checked
first; a failed login keeps the previous one.`,
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
			var s *session
			var saved *savedLogin
			switch {
			case sp:
				if user == "" || password == "" {
					return fmt.Errorf("--service-principal needs -u APP_ID and -p SECRET")
				}
				c := &app.AdminCredential{TenantID: tenant, ClientID: user, ClientSecret: password}
				if c.TenantID == "" {
					c.TenantID = info.TenantID
				}
				// Check before storing: a refused credential leaves the
				// previous login in place.
				if s, err = openSession(ctx, info, c, credSource{kind: "new", clientID: c.ClientID, dataDir: absDataDir()}); err != nil {
					return err
				}
				saved = &savedLogin{Server: info.Addr, TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret}
			case admin:
				c, err := app.ReadAdminCredential(opts.dataDir)
				if err != nil {
					return err
				}
				if s, err = openSession(ctx, info, c, credSource{kind: "admin", clientID: c.ClientID, dataDir: absDataDir()}); err != nil {
					return err
				}
			default:
				if user != "" || password != "" {
					return fmt.Errorf("-u/-p sign in a service principal: add --service-principal (a user signs in with a device code, without flags)")
				}
				if tenant == "" {
					tenant = info.TenantID
				}
				if s, saved, err = userLogin(ctx, info, tenant, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if saved != nil {
				st.Logins[absDataDir()] = *saved
			} else {
				delete(st.Logins, absDataDir())
			}
			if err := st.write(); err != nil {
				return err
			}
			who := map[string]string{"name": s.c.ClientID, "type": "servicePrincipal"}
			if saved != nil && saved.Type == loginUser {
				who = map[string]string{"name": saved.UserName, "type": "user"}
			}
			return printResult(cmd.OutOrStdout(), []map[string]any{{
				"cloudName": s.info.Cloud, "id": s.sub, "isDefault": true, "name": "Coffer", "state": "Enabled",
				"tenantId": s.c.TenantID, "user": who,
			}})
		},
	}
	cmd.Flags().BoolVar(&sp, "service-principal", false, "log in as a service principal (-u/-p/--tenant)")
	cmd.Flags().BoolVar(&admin, "admin", false, "use the admin service principal of --data-dir again (as `coffer logout`)")
	cmd.Flags().Bool("use-device-code", false, "sign in a user with a device code (the default, accepted as az takes it)")
	cmd.Flags().StringVarP(&user, "username", "u", "", "app (client) id")
	cmd.Flags().StringVarP(&password, "password", "p", "", "client secret")
	cmd.Flags().StringVarP(&tenant, "tenant", "t", "", "tenant id (default: the server's)")
	cmd.MarkFlagsMutuallyExclusive("service-principal", "admin")
	return cmd
}

// userLogin signs a user in with the device code flow and checks the
// token; it returns the session and the login to store.
func userLogin(ctx context.Context, info *app.ServerInfo, tenant string, msg io.Writer) (*session, *savedLogin, error) {
	c, err := newClient(info, tenant, oidc.AzureCLIClientID, "")
	if err != nil {
		return nil, nil, err
	}
	src := credSource{kind: "new", clientID: oidc.AzureCLIClientID, dataDir: absDataDir(), user: "(device code)"}
	tr, err := deviceCodeLogin(ctx, c, msg)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return nil, nil, &credentialError{src: src, err: err}
		}
		return nil, nil, fmt.Errorf("login failed: %w", err)
	}
	l := &savedLogin{Server: info.Addr, TenantID: tenant, ClientID: oidc.AzureCLIClientID, Type: loginUser,
		UserName: idTokenUser(tr.IDToken), RefreshToken: tr.RefreshToken}
	if l.UserName == "" || l.RefreshToken == "" {
		return nil, nil, fmt.Errorf("login failed: the server's answer named no user or had no refresh token")
	}
	src.user = l.UserName
	// The device code's token is for ARM, which the check needs first;
	// further resources are redeemed with the refresh token. The check
	// rotates nothing, so the refresh token stored is the one received.
	first := true
	refresh := refreshSource(c, *l)
	c.Source = func(ctx context.Context, resource string) (string, time.Time, error) {
		if first && resource == c.ManagementResource() {
			first = false
			return tr.AccessToken, time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second), nil
		}
		return refresh(ctx, resource)
	}
	s, err := checkSession(ctx, info, c, src)
	if err != nil {
		return nil, nil, err
	}
	return s, l, nil
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
