package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
)

// TestPurgeVaultIfRechecks: a vault recovered between the purge's check
// and its removal (here: by the check itself, as another replica would)
// survives, because the removal is guarded by the bytes the check saw.
func TestPurgeVaultIfRechecks(t *testing.T) {
	ctx := context.Background()
	s := New(memkv.New())
	deleted := time.Unix(1000, 0)
	if err := s.CreateVault(ctx, &model.Vault{Name: "kv", Deleted: &deleted}); err != nil {
		t.Fatal(err)
	}
	errLive := errors.New("live")
	calls := 0
	err := s.PurgeVaultIf(ctx, "kv", func(v *model.Vault) error {
		calls++
		if v.Deleted == nil {
			return errLive
		}
		// Another replica recovers the vault right after the check.
		return s.UpdateVault(ctx, "kv", func(v *model.Vault) error { v.Deleted = nil; return nil })
	})
	if !errors.Is(err, errLive) || calls != 2 {
		t.Fatalf("PurgeVaultIf = %v after %d checks, want the second check's refusal", err, calls)
	}
	if v, err := s.GetVault(ctx, "kv"); err != nil || v.Deleted != nil {
		t.Fatalf("the recovered vault = %+v, %v", v, err)
	}
	// Without interference the purge removes the vault.
	if err := s.UpdateVault(ctx, "kv", func(v *model.Vault) error { v.Deleted = &deleted; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeVaultIf(ctx, "kv", func(*model.Vault) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetVault(ctx, "kv"); errs.KindOf(err) != errs.NotExist {
		t.Errorf("after purge: %v", err)
	}
}
