package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/store"
)

// TenantDomain is the directory's one domain: users' UPNs end in it.
const TenantDomain = "coffer.local"

// AdminUserName is the bootstrap admin user's mail nickname.
const AdminUserName = "admin"

// adminUserRecord names the admin user; created once (create-if-absent),
// so concurrent first starts agree on one.
type adminUserRecord struct {
	ObjectID          string `json:"objectId"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// newAdminUser makes the admin user admin@TenantDomain and its generated
// password (which goes only to the credential file; the store keeps its
// argon2id hash).
func newAdminUser(now time.Time) (*model.Principal, string) {
	pw := identity.NewPassword()
	return &model.Principal{ObjectID: identity.NewObjectID(), DisplayName: "Coffer Admin", Type: model.PrincipalUser,
		UserPrincipalName: AdminUserName + "@" + TenantDomain, PasswordHash: identity.HashPassword(pw), Created: now}, pw
}

// createAdminUser stores the admin user and makes it Owner of the
// subscription.
func createAdminUser(ctx context.Context, st *store.Store, inst *Instance, u *model.Principal, now time.Time) error {
	if err := st.CreateUser(ctx, u); err != nil {
		return err
	}
	scope := "/subscriptions/" + inst.SubscriptionID
	name := uuid.NewString()
	owner, _ := policy.LookupRole("Owner")
	return st.CreateRoleAssignment(ctx, &model.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name,
		Name: name, Scope: scope, RoleDefinitionID: strings.ToLower(owner.ID), PrincipalID: u.ObjectID, PrincipalType: "User", Created: now})
}

// upgradeAdminUser gives an instance created before users existed its
// admin user, once (a create-if-absent record elects one replica), adding
// the password to the credential file.
func upgradeAdminUser(ctx context.Context, st *store.Store, inst *Instance, cred **AdminCredential, now time.Time, credPath string) (string, error) {
	var rec adminUserRecord
	err := st.GetConfig(ctx, "admin-user", &rec)
	if err == nil {
		return rec.ObjectID, nil
	}
	if errs.KindOf(err) != errs.NotExist {
		return "", err
	}
	u, pw := newAdminUser(now)
	rec = adminUserRecord{ObjectID: u.ObjectID, UserPrincipalName: u.UserPrincipalName}
	if err := st.CreateConfig(ctx, "admin-user", &rec); err != nil {
		if errs.KindOf(err) == errs.Exist {
			return upgradeAdminUser(ctx, st, inst, cred, now, credPath)
		}
		return "", err
	}
	c := *cred
	if c == nil && credPath != "" {
		b, err := os.ReadFile(credPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		c = &AdminCredential{}
		if len(b) > 0 {
			if err := json.Unmarshal(b, c); err != nil {
				return "", err
			}
		}
	}
	if c == nil {
		c = &AdminCredential{TenantID: inst.TenantID, ClientID: inst.AdminAppID}
	}
	c.UserPrincipalName, c.Password = u.UserPrincipalName, pw
	if credPath != "" {
		if err := writeFileAtomic(credPath, mustJSON(c), 0o600); err != nil {
			return "", err
		}
	}
	*cred = c
	return u.ObjectID, createAdminUser(ctx, st, inst, u, now)
}
