package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// sdkClient builds an unmodified azsecrets client authenticated with
// ClientSecretCredential. Only the transport is set: it pins every host
// name to the test server and trusts Coffer's CA, like a hosts file plus
// SSL_CERT_FILE would.
func sdkClient(t *testing.T, env *testenv.Env, vault, clientID, secret string) *azsecrets.Client {
	t.Helper()
	opts := azcore.ClientOptions{Transport: env.Client()}
	credOpts := &azidentity.ClientSecretCredentialOptions{ClientOptions: opts}
	switch {
	case env.Profile.Name == cloud.AzureUSGovernment.Name:
		credOpts.Cloud = azcloud.AzureGovernment // what a US Gov program configures
	case env.Profile.Name == cloud.AzureChinaCloud.Name:
		credOpts.Cloud = azcloud.AzureChina
	case env.Profile.LoginHost == "":
		credOpts.Cloud.ActiveDirectoryAuthorityHost = env.AuthorityHost()
		// Local profile: MSAL would validate localhost against the public
		// cloud; this is the documented option (README).
		credOpts.DisableInstanceDiscovery = true
	}
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, clientID, secret, credOpts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azsecrets.NewClient(env.VaultURL(vault), cred, &azsecrets.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func respErr(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an azcore.ResponseError", err)
	}
	return re
}

func wantStatus(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want %d %s", what, status, code)
	}
	re := respErr(t, err)
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("%s = %d %s, want %d %s", what, re.StatusCode, re.ErrorCode, status, code)
	}
}

func TestSDKSecretLifecycle(t *testing.T) {
	for _, profile := range []cloud.Profile{cloud.AzureCloud, cloud.Local, cloud.AzureUSGovernment, cloud.AzureChinaCloud} {
		t.Run(profile.Name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Cloud: profile})
			c := sdkClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
			testLifecycle(t, c, env)
		})
	}
}

func testLifecycle(t *testing.T, c *azsecrets.Client, env *testenv.Env) {
	ctx := context.Background()
	nbf := time.Now().Add(24 * time.Hour).Truncate(time.Second)

	// Set (first request carries no token and no body: the challenge dance).
	set, err := c.SetSecret(ctx, "DbPassword", azsecrets.SetSecretParameters{
		Value: to.Ptr("s3cret-1"), ContentType: to.Ptr("text/plain"),
		Tags:             map[string]*string{"env": to.Ptr("test")},
		SecretAttributes: &azsecrets.SecretAttributes{NotBefore: &nbf},
	}, nil)
	if err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if *set.Value != "s3cret-1" || set.ID.Name() != "DbPassword" || len(set.ID.Version()) != 32 {
		t.Fatalf("SetSecret = value %q id %s", *set.Value, *set.ID)
	}
	if got := *set.Attributes.RecoveryLevel; got != "Recoverable+Purgeable" {
		t.Errorf("recoveryLevel = %s", got)
	}
	if *set.Attributes.RecoverableDays != 90 || !set.Attributes.NotBefore.Equal(nbf) || !*set.Attributes.Enabled {
		t.Errorf("attributes = %+v", set.Attributes)
	}
	v1 := set.ID.Version()

	// Second version; names are case-insensitive.
	set2, err := c.SetSecret(ctx, "dbpassword", azsecrets.SetSecretParameters{Value: to.Ptr("s3cret-2")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set2.ID.Name() != "DbPassword" {
		t.Errorf("second version id %s: want the creation casing", *set2.ID)
	}
	v2 := set2.ID.Version()

	// Get latest (trailing slash) and by version; nbf in the future is not enforced.
	got, err := c.GetSecret(ctx, "DbPassword", "", nil)
	if err != nil || *got.Value != "s3cret-2" || got.ID.Version() != v2 {
		t.Fatalf("GetSecret latest = %v, %v", got.ID, err)
	}
	got, err = c.GetSecret(ctx, "DbPassword", v1, nil)
	if err != nil || *got.Value != "s3cret-1" || *got.ContentType != "text/plain" || *got.Tags["env"] != "test" {
		t.Fatalf("GetSecret v1 = %+v, %v", got, err)
	}
	_, err = c.GetSecret(ctx, "nope", "", nil)
	wantStatus(t, "GetSecret(missing)", err, 404, "SecretNotFound")
	_, err = c.GetSecret(ctx, "DbPassword", "0123456789abcdef0123456789abcdef", nil)
	wantStatus(t, "GetSecret(missing version)", err, 404, "SecretNotFound")

	// Versions, newest first.
	var versions []string
	pv := c.NewListSecretPropertiesVersionsPager("DbPassword", nil)
	for pv.More() {
		page, err := pv.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			versions = append(versions, p.ID.Version())
		}
	}
	if fmt.Sprint(versions) != fmt.Sprint([]string{v2, v1}) {
		t.Errorf("versions = %v, want [%s %s]", versions, v2, v1)
	}

	// Disable v2 (update allowed on any version), then GET latest is 403.
	upd, err := c.UpdateSecretProperties(ctx, "DbPassword", v2, azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)},
		Tags:             map[string]*string{"rotated": to.Ptr("yes")},
	}, nil)
	if err != nil {
		t.Fatalf("UpdateSecretProperties: %v", err)
	}
	if upd.Value != nil || *upd.Attributes.Enabled || *upd.Tags["rotated"] != "yes" {
		t.Errorf("update result = %+v", upd)
	}
	_, err = c.GetSecret(ctx, "DbPassword", "", nil)
	wantStatus(t, "GetSecret(disabled)", err, 403, "Forbidden")
	if _, err := c.GetSecret(ctx, "DbPassword", v1, nil); err != nil {
		t.Errorf("GetSecret(enabled older version) = %v", err)
	}
	if _, err := c.UpdateSecretProperties(ctx, "DbPassword", v2, azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(true)}}, nil); err != nil {
		t.Fatal(err)
	}

	// Paging: 30 secrets need two pages of 25; the pager follows nextLink.
	for i := range 29 {
		if _, err := c.SetSecret(ctx, fmt.Sprintf("page-%02d", i), azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	pages := 0
	pl := c.NewListSecretPropertiesPager(nil)
	for pl.More() {
		page, err := pl.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range page.Value {
			names = append(names, p.ID.Name())
		}
	}
	if len(names) != 30 || pages != 2 || !sort.StringsAreSorted(names[1:]) {
		t.Errorf("listed %d names in %d pages: %v", len(names), pages, names)
	}

	// Soft delete: 200 + deleted bundle, name reserved (409), then recover.
	del, err := c.DeleteSecret(ctx, "DbPassword", nil)
	if err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if del.RecoveryID == nil || del.DeletedDate == nil || del.ScheduledPurgeDate == nil || del.Value != nil {
		t.Errorf("deleted bundle = %+v", del)
	}
	_, err = c.GetSecret(ctx, "DbPassword", "", nil)
	wantStatus(t, "GetSecret(deleted)", err, 404, "SecretNotFound")
	_, err = c.SetSecret(ctx, "DbPassword", azsecrets.SetSecretParameters{Value: to.Ptr("again")}, nil)
	wantStatus(t, "SetSecret(deleted name)", err, 409, "Conflict")
	if _, err := c.GetDeletedSecret(ctx, "DbPassword", nil); err != nil {
		t.Errorf("GetDeletedSecret: %v", err)
	}
	deleted := 0
	pd := c.NewListDeletedSecretPropertiesPager(nil)
	for pd.More() {
		page, err := pd.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deleted += len(page.Value)
	}
	if deleted != 1 {
		t.Errorf("deleted secrets listed = %d, want 1", deleted)
	}
	rec, err := c.RecoverDeletedSecret(ctx, "DbPassword", nil)
	if err != nil || rec.ID.Version() != v2 {
		t.Fatalf("RecoverDeletedSecret = %v, %v", rec.ID, err)
	}
	if got, err := c.GetSecret(ctx, "DbPassword", v1, nil); err != nil || *got.Value != "s3cret-1" {
		t.Fatalf("after recover, v1 = %v", err)
	}

	// Backup, delete, purge, restore: all versions with their ids come back.
	bk, err := c.BackupSecret(ctx, "DbPassword", nil)
	if err != nil || len(bk.Value) == 0 {
		t.Fatalf("BackupSecret: %v", err)
	}
	if _, err := c.DeleteSecret(ctx, "DbPassword", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "DbPassword", nil); err != nil {
		t.Fatalf("PurgeDeletedSecret: %v", err)
	}
	_, err = c.GetDeletedSecret(ctx, "DbPassword", nil)
	wantStatus(t, "GetDeletedSecret(purged)", err, 404, "SecretNotFound")
	res, err := c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: bk.Value}, nil)
	if err != nil || res.ID.Version() != v2 {
		t.Fatalf("RestoreSecret = %v, %v", res.ID, err)
	}
	if got, err := c.GetSecret(ctx, "DbPassword", v1, nil); err != nil || *got.Value != "s3cret-1" {
		t.Fatalf("after restore, v1 = %v", err)
	}
	_, err = c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: bk.Value}, nil)
	wantStatus(t, "RestoreSecret(existing)", err, 409, "Conflict")
	tampered := append([]byte(nil), bk.Value...)
	tampered[len(tampered)-1] ^= 1
	if _, err := c.DeleteSecret(ctx, "DbPassword", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "DbPassword", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: tampered}, nil)
	wantStatus(t, "RestoreSecret(tampered)", err, 400, "BadParameter")
}

// TestSDKPrincipalWithoutPermission: a principal that is not in the vault's
// access policy gets 403 Forbidden for every operation.
func TestSDKPrincipalWithoutPermission(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	appID, secret := createServicePrincipal(t, env, "no-access")
	c := sdkClient(t, env, env.Instance.DefaultVault, appID, secret)
	_, err := c.SetSecret(context.Background(), "x", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
	wantStatus(t, "SetSecret without permission", err, 403, "Forbidden")
	_, err = c.GetSecret(context.Background(), "x", "", nil)
	wantStatus(t, "GetSecret without permission", err, 403, "Forbidden")
}
