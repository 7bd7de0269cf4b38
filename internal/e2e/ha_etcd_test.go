package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestHAOnEtcd: two Coffer servers started at the same time on one etcd
// cluster (and one master key) bootstrap a single instance, and serve the
// same data: a secret written through one is read through the other, with
// a token minted by the first.
func TestHAOnEtcd(t *testing.T) {
	endpoint := etcdtest.Endpoint(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "ha-" + hex.EncodeToString(b) + "/"
	shared := t.TempDir()
	start := func(name string) *testenv.Env {
		cfg := app.Config{
			Addr: "127.0.0.1:0", Cloud: cloud.AzureCloud, DataDir: filepath.Join(t.TempDir(), name),
			EtcdEndpoints: []string{endpoint}, EtcdPrefix: prefix, MasterKeyFile: filepath.Join(shared, "master.key"),
			Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		}
		s, err := app.Start(context.Background(), cfg)
		if err != nil {
			t.Errorf("starting %s: %v", name, err)
			return nil
		}
		t.Cleanup(func() { s.Close() })
		return &testenv.Env{Server: s, T: t}
	}
	var a, bEnv *testenv.Env
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = start("a") }()
	go func() { defer wg.Done(); bEnv = start("b") }()
	wg.Wait()
	if a == nil || bEnv == nil {
		t.FailNow()
	}
	if a.Instance.TenantID != bEnv.Instance.TenantID || a.Instance.AdminObjectID != bEnv.Instance.AdminObjectID {
		t.Fatalf("replicas bootstrapped different instances: %+v vs %+v", a.Instance, bEnv.Instance)
	}
	if string(a.CA.CertPEM()) != string(bEnv.CA.CertPEM()) {
		t.Fatal("replicas have different CAs")
	}
	// Exactly one of them created the admin and holds its credential.
	admin := a.Admin
	if admin == nil {
		admin = bEnv.Admin
	}
	if admin == nil || (a.Admin != nil && bEnv.Admin != nil) {
		t.Fatalf("admin credentials: a=%v b=%v, want exactly one", a.Admin != nil, bEnv.Admin != nil)
	}
	a.Admin, bEnv.Admin = admin, admin

	ctx := context.Background()
	ca := sdkClient(t, a, "default", admin.ClientID, admin.ClientSecret)
	if _, err := ca.SetSecret(ctx, "shared", azsecrets.SetSecretParameters{Value: to.Ptr("from a")}, nil); err != nil {
		t.Fatalf("SetSecret via a: %v", err)
	}
	cb := sdkClient(t, bEnv, "default", admin.ClientID, admin.ClientSecret)
	got, err := cb.GetSecret(ctx, "shared", "", nil)
	if err != nil || *got.Value != "from a" {
		t.Fatalf("GetSecret via b = %v, %v", got.Value, err)
	}
	// A token from a's issuer is accepted by b: one signing key.
	tok := adminToken(t, a)
	r := rawDo(t, bEnv, "GET", bEnv.VaultURL("default")+"secrets/shared?api-version=7.6", tok, nil, nil)
	if r.Status != 200 {
		t.Errorf("b with a's token: %d %s", r.Status, r.Body)
	}
}
