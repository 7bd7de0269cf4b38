package testenv

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
)

// IdentityWorld is a tenant in which one VM (VM) must be able to select only
// its own identities: every other identity in it is one the VM must never
// obtain a token for, whatever selector names it. The tests of each
// managed-identity entry point (App Service, IMDS, `coffer run`) share it so
// they refuse exactly the same things.
type IdentityWorld struct {
	// VM has a system-assigned identity and Mine attached; Cred is its
	// machine credential.
	VM   *model.Compute
	Cred string
	Mine *model.UserAssignedIdentity
	// Other is another VM (system-assigned identity, Theirs attached);
	// OtherCred is its machine credential.
	Other     *model.Compute
	OtherCred string
	Theirs    *model.UserAssignedIdentity
	// Foreign are the identities VM must be refused.
	Foreign []ForeignIdentity
}

// ForeignIdentity names one identity VM may not select, by every id a
// selector can carry. ResourceID is empty when it has none (a service
// principal). OwnerCred, when set, is the credential of the VM that may
// legitimately select it (so a test can check the refusal left it
// working for its owner).
type ForeignIdentity struct {
	Name                           string
	ObjectID, ClientID, ResourceID string
	OwnerCred                      string
}

// NewIdentityWorld creates the world's resources in resource group rg of
// e's subscription (created if needed); names are prefixed with prefix so
// several worlds (or a test's own VMs) can share one server.
func NewIdentityWorld(e *Env, rg, prefix string) *IdentityWorld {
	t := e.T
	t.Helper()
	ctx := context.Background()
	sub := e.Instance.SubscriptionID
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := e.Resources.CreateOrUpdateGroup(ctx, sub, rg, "westus", nil)
	must(err)
	uami := func(name string) *model.UserAssignedIdentity {
		u, _, err := e.Resources.CreateOrUpdateUAMI(ctx, sub, rg, prefix+name, "", nil)
		must(err)
		return u
	}
	vm := func(name string, user ...string) (*model.Compute, string) {
		c, _, err := e.Resources.CreateOrUpdateVM(ctx, sub, rg, prefix+name, resources.VMSpec{SystemAssigned: true, UserAssigned: user})
		must(err)
		cred, _, err := e.Resources.NewCredential(ctx, sub, rg, prefix+name)
		must(err)
		return c, cred
	}
	principal := func(oid string) *model.Principal {
		p, err := e.Store.GetPrincipal(ctx, oid)
		must(err)
		return p
	}

	w := &IdentityWorld{Mine: uami("mine"), Theirs: uami("theirs")}
	unattached := uami("unattached")
	gone := uami("gone")
	w.VM, w.Cred = vm("vm", w.Mine.ResourceID(), gone.ResourceID())
	w.Other, w.OtherCred = vm("other", w.Theirs.ResourceID())
	deletedVM, _ := vm("deleted")
	deletedSystem := principal(deletedVM.SystemAssigned)
	must(e.Resources.DeleteVM(ctx, sub, rg, deletedVM.Name))
	must(e.Resources.DeleteUAMI(ctx, sub, rg, gone.Name))
	// The same name again: a new identity nobody assigned to VM.
	recreated := uami("gone")

	sp := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: prefix + "sp",
		Type: model.PrincipalServicePrincipal, Created: time.Now()}
	must(e.Store.CreatePrincipal(ctx, sp))
	admin := principal(e.Instance.AdminObjectID)
	otherSystem := principal(w.Other.SystemAssigned)

	w.Foreign = []ForeignIdentity{
		{"another VM's system-assigned identity", otherSystem.ObjectID, otherSystem.AppID, w.Other.ResourceID(), w.OtherCred},
		{"a user-assigned identity attached to another VM", w.Theirs.PrincipalID, w.Theirs.ClientID, w.Theirs.ResourceID(), w.OtherCred},
		{"a user-assigned identity attached nowhere", unattached.PrincipalID, unattached.ClientID, unattached.ResourceID(), ""},
		{"a service principal", sp.ObjectID, sp.AppID, "", ""},
		{"the admin service principal", admin.ObjectID, admin.AppID, "", ""},
		{"a deleted user-assigned identity this VM had", gone.PrincipalID, gone.ClientID, gone.ResourceID(), ""},
		{"a deleted VM's system-assigned identity", deletedSystem.ObjectID, deletedSystem.AppID, deletedVM.ResourceID(), ""},
		{"a new identity under the name of one this VM had", recreated.PrincipalID, recreated.ClientID, recreated.ResourceID(), ""},
	}
	// The VM records as they are now (deleting an identity detached it).
	w.VM, err = e.Resources.VM(ctx, sub, rg, w.VM.Name)
	must(err)
	w.Other, err = e.Resources.VM(ctx, sub, rg, w.Other.Name)
	must(err)
	return w
}

// Selection is one request for a foreign identity: the query parameter
// and value that name it.
type Selection struct {
	Identity ForeignIdentity
	Param    string
	Value    string
}

// Selections returns, for every foreign identity, one Selection per
// parameter in params that can name it: params maps a parameter name to
// the id it carries ("object", "client" or "resource"). The values are
// not escaped.
func (w *IdentityWorld) Selections(params map[string]string) []Selection {
	var out []Selection
	names := slices.Sorted(maps.Keys(params))
	for _, f := range w.Foreign {
		for _, param := range names {
			kind := params[param]
			v := map[string]string{"object": f.ObjectID, "client": f.ClientID, "resource": f.ResourceID}[kind]
			if v != "" {
				out = append(out, Selection{Identity: f, Param: param, Value: v})
			}
		}
	}
	return out
}

// Query is the selection as "&param=value", escaped.
func (s Selection) Query() string {
	return "&" + s.Param + "=" + url.QueryEscape(s.Value)
}
