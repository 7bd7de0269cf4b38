package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/store"
)

// TestAdminUser: first start makes admin@coffer.local, Owner of the
// subscription, whose password is only in admin.json (0600); the store has
// an argon2id hash. An instance from before users gets one on its next
// start, once.
func TestAdminUser(t *testing.T) {
	ctx := context.Background()
	for _, upgrade := range []bool{false, true} {
		st := store.New(crypt.Wrap(memkv.New(), crypt.NewRandomRing()))
		path := filepath.Join(t.TempDir(), AdminCredFile)
		inst, _, cred, err := bootstrap(ctx, st, time.Now(), path)
		if err != nil {
			t.Fatal(err)
		}
		if upgrade {
			// Make it look like an instance created before users existed.
			if err := st.DeleteUser(ctx, inst.AdminUserObjectID); err != nil {
				t.Fatal(err)
			}
			inst.AdminUserObjectID = ""
			if err := st.PutConfig(ctx, "instance", inst); err != nil {
				t.Fatal(err)
			}
			if inst, _, cred, err = bootstrap(ctx, st, time.Now(), path); err != nil {
				t.Fatal(err)
			}
		}
		if cred == nil || cred.UserPrincipalName != "admin@coffer.local" || len(cred.Password) < 16 {
			t.Fatalf("upgrade=%v: credential %+v", upgrade, cred)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("admin.json: %v %v", fi, err)
		}
		b, _ := os.ReadFile(path)
		if !strings.Contains(string(b), cred.Password) || !strings.Contains(string(b), `"clientSecret"`) {
			t.Errorf("admin.json lacks the password or the client secret")
		}
		u, err := st.GetUserByUPN(ctx, "ADMIN@coffer.local")
		if err != nil || u.ObjectID != inst.AdminUserObjectID {
			t.Fatalf("user %+v %v", u, err)
		}
		if strings.Contains(u.PasswordHash, cred.Password) || !identity.CheckPassword(u.PasswordHash, cred.Password) || identity.CheckPassword(u.PasswordHash, "x") {
			t.Errorf("stored hash does not check the password as it should")
		}
		as, _ := st.ListRoleAssignments(ctx)
		owners := 0
		for _, a := range as {
			if a.PrincipalID == u.ObjectID && a.Scope == "/subscriptions/"+inst.SubscriptionID && a.RoleDefinitionID == "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" {
				owners++
			}
		}
		if owners != 1 {
			t.Errorf("upgrade=%v: %d Owner assignments, want 1", upgrade, owners)
		}
		// A restart changes nothing.
		again, _, cred2, err := bootstrap(ctx, st, time.Now(), path)
		if err != nil || again.AdminUserObjectID != inst.AdminUserObjectID || cred2 != nil {
			t.Errorf("restart: %v %v %v", again.AdminUserObjectID, cred2, err)
		}
	}
}
