package resources_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestResolveIdentity: each selector picks the VM's own identity it names,
// case-insensitively, and nothing else; an empty selector is the
// system-assigned identity.
func TestResolveIdentity(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := testenv.NewIdentityWorld(env, "res", "res-")
	ctx := context.Background()
	sys, err := env.Store.GetPrincipal(ctx, w.VM.SystemAssigned)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sel  resources.Selector
		want string // object id; "" means IdentityNotFound
	}{
		{"default is system-assigned", resources.Selector{}, w.VM.SystemAssigned},
		{"system by object id", resources.Selector{ObjectID: w.VM.SystemAssigned}, w.VM.SystemAssigned},
		{"system by client id", resources.Selector{ClientID: sys.AppID}, w.VM.SystemAssigned},
		{"system by upper-case client id", resources.Selector{ClientID: strings.ToUpper(sys.AppID)}, w.VM.SystemAssigned},
		{"user-assigned by client id", resources.Selector{ClientID: w.Mine.ClientID}, w.Mine.PrincipalID},
		{"user-assigned by object id", resources.Selector{ObjectID: strings.ToUpper(w.Mine.PrincipalID)}, w.Mine.PrincipalID},
		{"user-assigned by resource id", resources.Selector{ResourceID: w.Mine.ResourceID()}, w.Mine.PrincipalID},
		{"user-assigned by lower-case resource id", resources.Selector{ResourceID: strings.ToLower(w.Mine.ResourceID())}, w.Mine.PrincipalID},
		{"unknown client id", resources.Selector{ClientID: "00000000-0000-0000-0000-000000000001"}, ""},
		{"malformed resource id", resources.Selector{ResourceID: "/subscriptions/x"}, ""},
	}
	for _, f := range w.Foreign {
		tests = append(tests,
			struct {
				name string
				sel  resources.Selector
				want string
			}{f.Name + " by object id", resources.Selector{ObjectID: f.ObjectID}, ""},
			struct {
				name string
				sel  resources.Selector
				want string
			}{f.Name + " by client id", resources.Selector{ClientID: f.ClientID}, ""})
		if f.ResourceID != "" {
			tests = append(tests, struct {
				name string
				sel  resources.Selector
				want string
			}{f.Name + " by resource id", resources.Selector{ResourceID: f.ResourceID}, ""})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := env.Resources.ResolveIdentity(ctx, w.VM, tt.sel)
			if tt.want == "" {
				code, _, msg := errs.Details(err)
				if err == nil || errs.KindOf(err) != errs.Invalid || code != "invalid_request" || msg != "Identity not found" {
					t.Fatalf("ResolveIdentity = %+v, %v; want Identity not found", p, err)
				}
				return
			}
			if err != nil || p.ObjectID != tt.want {
				t.Fatalf("ResolveIdentity = %+v, %v; want %s", p, err, tt.want)
			}
		})
	}
}

// TestResolveIdentityOnlyUserAssigned: without a system-assigned identity
// the empty selector picks the only user-assigned one, and with two it
// picks none (IMDS cannot guess).
func TestResolveIdentityOnlyUserAssigned(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", "westus", nil); err != nil {
		t.Fatal(err)
	}
	u1, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "rg", "one", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	u2, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "rg", "two", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm", resources.VMSpec{UserAssigned: []string{u1.ResourceID()}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := env.Resources.ResolveIdentity(ctx, vm, resources.Selector{}); err != nil || p.ObjectID != u1.PrincipalID {
		t.Errorf("one user-assigned: %+v, %v", p, err)
	}
	vm, _, err = env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm", resources.VMSpec{UserAssigned: []string{u1.ResourceID(), u2.ResourceID()}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := env.Resources.ResolveIdentity(ctx, vm, resources.Selector{}); err == nil {
		t.Errorf("two user-assigned, no selector: %+v, want Identity not found", p)
	}
	if p, err := env.Resources.ResolveIdentity(ctx, vm, resources.Selector{ClientID: u2.ClientID}); err != nil || p.ObjectID != u2.PrincipalID {
		t.Errorf("second by client id: %+v, %v", p, err)
	}
}

// TestManagedIdentityTokenCache: a token is reused until half its lifetime
// and per identity and resource; bypassCache and the identity's deletion
// end the reuse.
func TestManagedIdentityTokenCache(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, Now: clock})
	w := testenv.NewIdentityWorld(env, "cache", "cache-")
	ctx := context.Background()
	const vault, arm = "https://vault.azure.net", "https://management.azure.com/"
	get := func(sel resources.Selector, resource string, bypass bool) string {
		t.Helper()
		tok, _, err := env.Resources.ManagedIdentityToken(ctx, w.VM, sel, resource, bypass)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Raw
	}
	first := get(resources.Selector{}, vault, false)
	if get(resources.Selector{}, vault, false) != first {
		t.Error("second request within the half-life minted a new token")
	}
	if get(resources.Selector{ClientID: w.Mine.ClientID}, vault, false) == first {
		t.Error("another identity got the cached token")
	}
	if get(resources.Selector{}, arm, false) == first {
		t.Error("another resource got the cached token")
	}
	if get(resources.Selector{}, vault, true) == first {
		t.Error("bypassCache returned the cached token")
	}
	cached := get(resources.Selector{}, vault, false)
	now = now.Add(resources.ManagedIdentityTokenLifetime/2 + time.Second)
	if get(resources.Selector{}, vault, false) == cached {
		t.Error("a token past half its lifetime was served from the cache")
	}
}

// TestNameValidation: names ARM would refuse are InvalidParameter-style
// 400s, never stored.
func TestNameValidation(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	ctx := context.Background()
	sub := env.Instance.SubscriptionID
	if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", "westus", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"group with a slash", func() error {
			_, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "a/b", "westus", nil)
			return err
		}, "InvalidResourceGroup"},
		{"group ending in a dot", func() error {
			_, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "ab.", "westus", nil)
			return err
		}, "InvalidResourceGroup"},
		{"group too long", func() error {
			_, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, strings.Repeat("a", 91), "westus", nil)
			return err
		}, "InvalidResourceGroup"},
		{"group without location", func() error { _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "new", "", nil); return err }, "LocationRequired"},
		{"group moved", func() error {
			_, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", "eastus", nil)
			return err
		}, "InvalidResourceGroupLocation"},
		{"vm with a space", func() error {
			_, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "a b", resources.VMSpec{SystemAssigned: true})
			return err
		}, "InvalidParameter"},
		{"vm ending in a dot", func() error {
			_, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm.", resources.VMSpec{SystemAssigned: true})
			return err
		}, "InvalidParameter"},
		{"vm in a missing group", func() error {
			_, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "nope", "vm", resources.VMSpec{SystemAssigned: true})
			return err
		}, "ResourceGroupNotFound"},
		{"vm with an unknown identity", func() error {
			_, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm", resources.VMSpec{UserAssigned: []string{
				"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope"}})
			return err
		}, "FailedIdentityOperation"},
		{"vm with a malformed identity id", func() error {
			_, _, err := env.Resources.CreateOrUpdateVM(ctx, sub, "rg", "vm", resources.VMSpec{UserAssigned: []string{"/subscriptions/x"}})
			return err
		}, "InvalidIdentityValues"},
		{"identity name too short", func() error { _, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "rg", "ab", "", nil); return err }, "InvalidResourceName"},
		{"identity name with a dot", func() error {
			_, _, err := env.Resources.CreateOrUpdateUAMI(ctx, sub, "rg", "a.bc", "", nil)
			return err
		}, "InvalidResourceName"},
	}
	for _, tt := range tests {
		err := tt.do()
		code, _, _ := errs.Details(err)
		if err == nil || string(code) != tt.code {
			t.Errorf("%s: %v (code %q), want %s", tt.name, err, code, tt.code)
		}
		if k := errs.KindOf(err); k != errs.Invalid && k != errs.NotExist && k != errs.Conflict {
			t.Errorf("%s: kind %v, want a 4xx kind", tt.name, k)
		}
	}
	if vms, err := env.Store.ListComputes(ctx, sub, ""); err != nil || len(vms) != 0 {
		t.Errorf("invalid requests stored VMs: %d, %v", len(vms), err)
	}
}

// TestAuthenticate: a credential works until revoked; the error for any
// bad credential is the same Unauthenticated one.
func TestAuthenticate(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := testenv.NewIdentityWorld(env, "auth", "auth-")
	ctx := context.Background()
	c, err := env.Resources.Authenticate(ctx, w.Cred)
	if err != nil || c.Name != w.VM.Name {
		t.Fatalf("Authenticate = %+v, %v", c, err)
	}
	if c, err := env.Resources.Authenticate(ctx, w.OtherCred); err != nil || c.Name != w.Other.Name {
		t.Fatalf("Authenticate(other) = %+v, %v", c, err)
	}
	for _, bad := range []string{"", "cofferm_", w.Cred + "x", strings.Replace(w.Cred, "cofferm_", "coffer_", 1)} {
		if _, err := env.Resources.Authenticate(ctx, bad); errs.KindOf(err) != errs.Unauthenticated {
			t.Errorf("Authenticate(%q) = %v, want Unauthenticated", bad, err)
		}
	}
	if n, err := env.Resources.RevokeCredentials(ctx, env.Instance.SubscriptionID, "auth", w.VM.Name, ""); err != nil || n != 1 {
		t.Fatalf("RevokeCredentials = %d, %v", n, err)
	}
	if _, err := env.Resources.Authenticate(ctx, w.Cred); errs.KindOf(err) != errs.Unauthenticated {
		t.Errorf("revoked credential: %v", err)
	}
}
