package store_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv/kvfault"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

func newStore() (*store.Store, *kvfault.Store) {
	f := kvfault.Wrap(memkv.New())
	return store.New(f), f
}

// TestErrorKinds: kv sentinels become errs kinds; anything else from the
// backend is Internal, except an *errs.Error (Unavailable) which keeps
// its kind so APIs can answer 503.
func TestErrorKinds(t *testing.T) {
	ctx := context.Background()
	s, f := newStore()
	p := &model.Principal{ObjectID: "o1", AppID: "a1", Type: model.PrincipalServicePrincipal}
	if err := s.CreatePrincipal(ctx, p); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  func() error
		kind errs.Kind
	}{
		{"missing principal", func() error { _, err := s.GetPrincipal(ctx, "nope"); return err }, errs.NotExist},
		{"missing app id", func() error { _, err := s.GetPrincipalByAppID(ctx, "nope"); return err }, errs.NotExist},
		{"duplicate principal", func() error { return s.CreatePrincipal(ctx, p) }, errs.Exist},
		{"duplicate app id", func() error {
			return s.CreatePrincipal(ctx, &model.Principal{ObjectID: "o2", AppID: "A1"})
		}, errs.Exist},
		{"update missing vault", func() error { return s.UpdateVault(ctx, "nope", func(*model.Vault) error { return nil }) }, errs.NotExist},
		{"update missing VM", func() error {
			return s.UpdateCompute(ctx, "s", "rg", "vm", func(*model.Compute) error { return nil })
		}, errs.NotExist},
		{"delete missing group", func() error { return s.DeleteResourceGroup(ctx, "s", "nope") }, errs.NotExist},
		{"backend failure", func() error {
			defer f.Inject(kvfault.Rule{})()
			_, err := s.GetPrincipal(ctx, "o1")
			return err
		}, errs.Internal},
		{"backend unavailable", func() error {
			defer f.Inject(kvfault.Rule{Err: kvfault.ErrUnavailable})()
			_, err := s.ListPrincipals(ctx)
			return err
		}, errs.Unavailable},
		{"update callback error passes through", func() error {
			return s.UpdatePrincipal(ctx, "o1", func(*model.Principal) error { return errs.E(errs.Conflict) })
		}, errs.Conflict},
	}
	for _, tt := range tests {
		if k := errs.KindOf(tt.err()); k != tt.kind {
			t.Errorf("%s: kind %v, want %v", tt.name, k, tt.kind)
		}
	}
}

// TestCaseFolding: names Azure treats case-insensitively find the same
// record however they are cased.
func TestCaseFolding(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreatePrincipal(ctx, &model.Principal{ObjectID: "AbC-1", AppID: "App-1"}))
	must(s.CreateVault(ctx, &model.Vault{Name: "MyVault"}))
	must(s.CreateResourceGroup(ctx, &model.ResourceGroup{SubscriptionID: "S", Name: "RG"}))
	must(s.CreateCompute(ctx, &model.Compute{SubscriptionID: "S", ResourceGroup: "RG", Name: "VM"}))
	must(s.UpdateSecret(ctx, "MyVault", "Db-Pass", func(sec *model.Secret, _ bool) (bool, error) {
		sec.Name = "Db-Pass"
		sec.Versions = []model.SecretVersion{{Version: "v1"}}
		return true, nil
	}))
	checks := []struct {
		name string
		err  error
	}{
		{"principal", func() error { _, err := s.GetPrincipal(ctx, "abc-1"); return err }()},
		{"app id", func() error { _, err := s.GetPrincipalByAppID(ctx, "APP-1"); return err }()},
		{"vault", func() error { _, err := s.GetVault(ctx, "myvault"); return err }()},
		{"group", func() error { _, err := s.GetResourceGroup(ctx, "s", "rg"); return err }()},
		{"VM", func() error { _, err := s.GetCompute(ctx, "s", "Rg", "vm"); return err }()},
		{"secret", func() error { _, err := s.GetSecret(ctx, "MYVAULT", "db-pass"); return err }()},
	}
	for _, c := range checks {
		if c.err != nil {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
}

// TestListBoundaries: listing one resource group or vault never includes
// another whose name merely starts the same way.
func TestListBoundaries(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore()
	for _, rg := range []string{"rg1", "rg10"} {
		if err := s.CreateCompute(ctx, &model.Compute{SubscriptionID: "s", ResourceGroup: rg, Name: "vm"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUAMI(ctx, &model.UserAssignedIdentity{SubscriptionID: "s", ResourceGroup: rg, Name: "id"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"kv1", "kv10"} {
		if err := s.UpdateSecret(ctx, v, "s", func(sec *model.Secret, _ bool) (bool, error) {
			sec.Name, sec.Versions = "s", []model.SecretVersion{{Version: v}}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if vms, err := s.ListComputes(ctx, "s", "rg1"); err != nil || len(vms) != 1 || vms[0].ResourceGroup != "rg1" {
		t.Errorf("ListComputes(rg1) = %v, %v", vms, err)
	}
	if vms, err := s.ListComputes(ctx, "s", ""); err != nil || len(vms) != 2 {
		t.Errorf("ListComputes(all) = %d, %v", len(vms), err)
	}
	if ids, err := s.ListUAMIs(ctx, "s", "rg1"); err != nil || len(ids) != 1 {
		t.Errorf("ListUAMIs(rg1) = %d, %v", len(ids), err)
	}
	if secs, err := s.ListSecrets(ctx, "kv1"); err != nil || len(secs) != 1 || secs[0].Versions[0].Version != "kv1" {
		t.Errorf("ListSecrets(kv1) = %v, %v", secs, err)
	}
	if vms, err := s.ListComputes(ctx, "other", ""); err != nil || len(vms) != 0 {
		t.Errorf("another subscription lists %d VMs, %v", len(vms), err)
	}
}

// TestPrincipalIndexes: a principal is found by object id and app id
// until deleted, and a failed create leaves no index behind.
func TestPrincipalIndexes(t *testing.T) {
	ctx := context.Background()
	s, f := newStore()
	p := &model.Principal{ObjectID: "o1", AppID: "a1"}
	remove := f.Inject(kvfault.Rule{Ops: kvfault.Create, Prefix: "principals/"})
	if err := s.CreatePrincipal(ctx, p); err == nil {
		t.Fatal("create with a failing store succeeded")
	}
	remove()
	if _, err := s.GetPrincipalByAppID(ctx, "a1"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("the failed create left the app-id index: %v", err)
	}
	if err := s.CreatePrincipal(ctx, p); err != nil {
		t.Fatalf("create after the failure: %v", err)
	}
	if got, err := s.GetPrincipalByAppID(ctx, "a1"); err != nil || got.ObjectID != "o1" {
		t.Errorf("by app id: %+v, %v", got, err)
	}
	if err := s.DeletePrincipal(ctx, "o1"); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() error{
		func() error { _, err := s.GetPrincipal(ctx, "o1"); return err },
		func() error { _, err := s.GetPrincipalByAppID(ctx, "a1"); return err },
	} {
		if err := get(); errs.KindOf(err) != errs.NotExist {
			t.Errorf("after delete: %v", err)
		}
	}
	if err := s.DeletePrincipal(ctx, "o1"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("second delete: %v", err)
	}
}

// TestVaultNameReuse: a vault name is taken while the vault exists, and a
// vault created after a purge never sees the old vault's secrets.
func TestVaultNameReuse(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore()
	if err := s.CreateVault(ctx, &model.Vault{Name: "kv"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVault(ctx, &model.Vault{Name: "KV"}); errs.KindOf(err) != errs.Exist {
		t.Errorf("duplicate vault: %v", err)
	}
	if err := s.PutSecretValue(ctx, "kv", "s", "v1", "old value"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSecret(ctx, "kv", "s", func(sec *model.Secret, _ bool) (bool, error) {
		sec.Name, sec.Versions = "s", []model.SecretVersion{{Version: "v1"}}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeVault(ctx, "kv"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVault(ctx, &model.Vault{Name: "kv"}); err != nil {
		t.Fatal(err)
	}
	if secs, err := s.ListSecrets(ctx, "kv"); err != nil || len(secs) != 0 {
		t.Errorf("the new vault lists %d old secrets, %v", len(secs), err)
	}
	if _, err := s.GetSecretValue(ctx, "kv", "s", "v1"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("the new vault reads the old value: %v", err)
	}
}
