package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/pki"
	"github.com/coffer-dev/coffer/internal/store"
)

// Instance is the identity of one Coffer installation, created on first
// start and never changed: restarts must not invalidate tokens or trust.
type Instance struct {
	TenantID       string    `json:"tenantId"`
	SubscriptionID string    `json:"subscriptionId"`
	AdminAppID     string    `json:"adminAppId"`
	AdminObjectID  string    `json:"adminObjectId"`
	DefaultVault   string    `json:"defaultVault"`
	DefaultGroup   string    `json:"defaultResourceGroup"`
	Created        time.Time `json:"created"`
	// AdminUserObjectID is the bootstrap admin user (admin@TenantDomain),
	// Owner of the subscription, who signs in to the portal.
	AdminUserObjectID string `json:"adminUserObjectId,omitempty"`
}

// AdminCredential is the bootstrap admin's client secret, written once to
// the data directory (mode 0600) for `coffer env` and `coffer login`; the
// store keeps only its hash.
type AdminCredential struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// UserPrincipalName and Password sign the admin user in (portal,
	// interactive flows).
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	Password          string `json:"password,omitempty"`
}

// Default names created on first start.
const (
	DefaultVaultName = "default"
	DefaultGroupName = "coffer"
	DefaultLocation  = "local"
	AdminCredFile    = "admin.json"
	CAFile           = "ca.pem"
	ServerInfoFile   = "server.json"
	DBFile           = "coffer.db"
	KeyFile          = "master.key"
)

type secrets struct {
	keys      *identity.KeySet
	ca        *pki.CA
	backupKey []byte
}

// bootstrap loads the instance, creating it (tenant, admin principal,
// default vault, signing key, CA, backup key) on first start. Creation uses
// create-if-absent records so concurrent first starts agree on one winner.
func bootstrap(ctx context.Context, st *store.Store, now time.Time, adminCredPath string) (*Instance, *secrets, *AdminCredential, error) {
	var inst Instance
	err := st.GetConfig(ctx, "instance", &inst)
	var cred *AdminCredential
	if errs.KindOf(err) == errs.NotExist {
		inst = Instance{
			TenantID: identity.NewObjectID(), SubscriptionID: identity.NewObjectID(),
			AdminAppID: identity.NewObjectID(), AdminObjectID: identity.NewObjectID(),
			DefaultVault: DefaultVaultName, DefaultGroup: DefaultGroupName, Created: now,
		}
		user, password := newAdminUser(now)
		inst.AdminUserObjectID = user.ObjectID
		secret, c := identity.NewClientSecret(now)
		admin := &model.Principal{
			ObjectID: inst.AdminObjectID, AppID: inst.AdminAppID, ApplicationObjectID: identity.NewObjectID(), DisplayName: "coffer-admin",
			Type: model.PrincipalServicePrincipal, Credentials: []model.Credential{c}, Created: now,
		}
		cred = &AdminCredential{TenantID: inst.TenantID, ClientID: inst.AdminAppID, ClientSecret: secret,
			UserPrincipalName: user.UserPrincipalName, Password: password}
		// The credential file is written before the instance record: if we
		// crash in between, the next start creates a new instance and
		// overwrites it, rather than leaving an admin nobody can log in as.
		if adminCredPath != "" {
			if err := writeFileAtomic(adminCredPath, mustJSON(cred), 0o600); err != nil {
				return nil, nil, nil, err
			}
		}
		if err := st.PutApplicationIndex(ctx, admin.ApplicationObjectID, admin.ObjectID); err != nil {
			return nil, nil, nil, err
		}
		if err := st.CreatePrincipal(ctx, admin); err != nil {
			return nil, nil, nil, err
		}
		if err := st.CreateConfig(ctx, "instance", &inst); err != nil {
			if errs.KindOf(err) != errs.Exist {
				return nil, nil, nil, err
			}
			// Another replica bootstrapped first: drop this one's admin
			// (and its credential file, which names it) and join theirs.
			_ = st.DeletePrincipal(ctx, admin.ObjectID)
			_ = st.DeleteApplicationIndex(ctx, admin.ApplicationObjectID)
			if adminCredPath != "" {
				_ = os.Remove(adminCredPath)
			}
			return bootstrap(ctx, st, now, adminCredPath)
		}
		// Only the winner makes the admin user: its UPN is unique.
		if err := createAdminUser(ctx, st, &inst, user, now); err != nil {
			return nil, nil, nil, err
		}
		g := &model.ResourceGroup{Name: DefaultGroupName, SubscriptionID: inst.SubscriptionID, Location: DefaultLocation, Created: now}
		if err := st.CreateResourceGroup(ctx, g); err != nil && errs.KindOf(err) != errs.Exist {
			return nil, nil, nil, err
		}
		// The default vault is premium, so that HSM-protected and
		// exportable keys work in it as in a premium Azure vault; vaults
		// created later are standard unless asked otherwise, as in Azure.
		v := &model.Vault{
			Name: DefaultVaultName, SubscriptionID: inst.SubscriptionID, ResourceGroup: DefaultGroupName,
			Location: DefaultLocation, TenantID: inst.TenantID, SKU: "premium",
			AccessPolicies: []model.AccessPolicy{{
				TenantID: inst.TenantID, ObjectID: inst.AdminObjectID,
				Permissions: model.Permissions{Keys: []string{model.PermAll}, Secrets: []string{model.PermAll}, Certificates: []string{model.PermAll}},
			}},
			EnableSoftDelete: true, SoftDeleteRetentionInDays: 90,
			Created: now, CreatedBy: inst.AdminAppID, Updated: now, UpdatedBy: inst.AdminAppID,
		}
		if err := st.CreateVault(ctx, v); err != nil && errs.KindOf(err) != errs.Exist {
			return nil, nil, nil, err
		}
	} else if err != nil {
		return nil, nil, nil, err
	}

	sec := &secrets{}
	keysJSON, err := loadOrCreate(ctx, st, "signing-keys", func() ([]byte, error) {
		ks, err := identity.NewKeySet()
		if err != nil {
			return nil, err
		}
		return identity.MarshalKeySet(ks)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if sec.keys, err = identity.UnmarshalKeySet(keysJSON); err != nil {
		return nil, nil, nil, err
	}
	caJSON, err := loadOrCreate(ctx, st, "ca", func() ([]byte, error) {
		ca, err := pki.NewCA()
		if err != nil {
			return nil, err
		}
		c, k, err := ca.MarshalPEM()
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{"cert": string(c), "key": string(k)})
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var caPEM map[string]string
	if err := json.Unmarshal(caJSON, &caPEM); err != nil {
		return nil, nil, nil, err
	}
	if sec.ca, err = pki.ParseCA([]byte(caPEM["cert"]), []byte(caPEM["key"])); err != nil {
		return nil, nil, nil, err
	}
	if sec.backupKey, err = loadOrCreate(ctx, st, "backup-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	}); err != nil {
		return nil, nil, nil, err
	}
	if inst.AdminUserObjectID == "" {
		if inst.AdminUserObjectID, err = upgradeAdminUser(ctx, st, &inst, &cred, now, adminCredPath); err != nil {
			return nil, nil, nil, err
		}
	}
	return &inst, sec, cred, nil
}

// loadOrCreate returns the named secret record, creating it with gen if
// absent. The value goes through the encrypting store like everything else.
func loadOrCreate(ctx context.Context, st *store.Store, name string, gen func() ([]byte, error)) ([]byte, error) {
	var b []byte
	err := st.GetConfig(ctx, name, &b)
	if err == nil {
		return b, nil
	}
	if errs.KindOf(err) != errs.NotExist {
		return nil, err
	}
	if b, err = gen(); err != nil {
		return nil, err
	}
	if err := st.CreateConfig(ctx, name, b); err != nil {
		if errs.KindOf(err) == errs.Exist { // another replica won the race
			return loadOrCreate(ctx, st, name, gen)
		}
		return nil, err
	}
	return b, nil
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// writeFileAtomic writes data to path via a synced temporary file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ReadAdminCredential reads the admin credential file of a data directory.
func ReadAdminCredential(dataDir string) (*AdminCredential, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, AdminCredFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no admin credential in %s: has `coffer serve` run with this data directory?", dataDir)
		}
		return nil, err
	}
	var c AdminCredential
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", AdminCredFile, err)
	}
	return &c, nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
