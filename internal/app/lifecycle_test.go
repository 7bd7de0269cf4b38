package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// TestLifecycleJobRuns: the background-job runner rotates a key whose
// rotation policy has come due, with no request: the server's clock moves
// past timeAfterCreate and, within a few purge ticks, the key has a second
// version.
func TestLifecycleJobRuns(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	env := opsEnv(t, app.Config{Now: clock.Now, PurgeInterval: 20 * time.Millisecond})
	ctx := context.Background()
	v := &model.Vault{Name: "kvlifecycle", SubscriptionID: env.Instance.SubscriptionID, ResourceGroup: "rg", TenantID: env.Instance.TenantID,
		SKU: "standard", EnableSoftDelete: true, SoftDeleteRetentionInDays: 7}
	if err := env.Store.CreateVault(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Vaults.CreateKey(ctx, v, "rotating", vaults.CreateKeyParams{Kty: "EC"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Vaults.SetKeyRotationPolicy(ctx, v, "rotating", model.KeyRotationPolicy{
		LifetimeActions: []model.KeyLifetimeAction{{TimeAfterCreate: "P7D", Action: "Rotate"}}}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		_, vs, err := env.Vaults.ListKeyVersions(ctx, v, "rotating")
		if err != nil {
			t.Fatal(err)
		}
		return len(vs)
	}
	// Several ticks pass before the trigger: nothing happens.
	time.Sleep(100 * time.Millisecond)
	if n := count(); n != 1 {
		t.Fatalf("%d versions before the trigger", n)
	}
	clock.Add(7*24*time.Hour + time.Minute)
	deadline := time.Now().Add(2 * time.Second)
	for count() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d versions after the trigger passed, want 2", n)
	}
	time.Sleep(100 * time.Millisecond) // more ticks: the new version is not due
	if n := count(); n != 2 {
		t.Fatalf("%d versions a few ticks later, want 2", n)
	}
}
