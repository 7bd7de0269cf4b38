package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// curlBrowser is a pageBrowser inside the namespace: curl with a cookie
// jar, trusting Coffer's CA, so login.microsoftonline.com is the pinned
// Coffer as it is for az.
type curlBrowser struct {
	a   *azureNS
	jar string
}

func (c curlBrowser) get(u string) (string, error) {
	return c.a.try(c.a.env, "curl", "-sS", "--fail-with-body", "--cacert", c.a.ca, "-b", c.jar, "-c", c.jar, u)
}

func (c curlBrowser) post(u string, form url.Values) (string, error) {
	return c.a.try(c.a.env, "curl", "-sS", "--fail-with-body", "--cacert", c.a.ca, "-b", c.jar, "-c", c.jar, "--data", form.Encode(), u)
}

// TestAzDeviceCodeLogin: unmodified `az login --use-device-code` (Debian's
// azure-cli 2.45, MSAL inside) signs in as the admin user against a Coffer
// that serves the AzureCloud names: the test reads the page and code az
// prints, signs in on that page as a person would, and az then works as
// the user: account show, ad signed-in-user show (Graph /me), keyvault
// create (az gives the creator an access policy) and the data plane
// through az rest, each with tokens MSAL redeems from its refresh token.
func TestAzDeviceCodeLogin(t *testing.T) {
	az := requireAzCLI(t)
	a := newAzureNS(t, "kvazdc")
	var admin struct{ UserPrincipalName, Password string }
	if b, err := os.ReadFile(filepath.Join(a.dir, "admin.json")); err != nil || json.Unmarshal(b, &admin) != nil || admin.Password == "" {
		t.Fatalf("admin.json: %v", err)
	}
	c := a.newAz(t, az)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := a.command(ctx, c.env, "timeout", "-k", "5", "170", az, "login", "--use-device-code", "--debug")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); done <- err }()
	page, code, drained := waitDeviceMessage(t, pr, &stderr)
	if page != "https://login.microsoftonline.com/devicelogin" {
		t.Errorf("az printed the page %q", page)
	}
	browser := curlBrowser{a: a, jar: filepath.Join(t.TempDir(), "cookies")}
	got, err := enterDeviceCode(browser, page, code, admin.UserPrincipalName, admin.Password)
	if err != nil || !strings.Contains(got, "You have signed in to the Microsoft Azure CLI application on your device.") {
		t.Fatalf("verification page: %v\n%s", err, got)
	}
	err = <-done
	<-drained
	if err != nil {
		t.Fatalf("az login --use-device-code: %v\n%s", err, azFailure(stderr.String()))
	}
	var subs []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &subs); err != nil || len(subs) != 1 {
		t.Fatalf("az login printed %s (%v)", stdout.String(), err)
	}
	for _, w := range [][2]string{
		{str(subs[0], "user", "name"), admin.UserPrincipalName}, {str(subs[0], "user", "type"), "user"},
		{str(subs[0], "tenantId"), a.tenant}, {str(subs[0], "cloudName"), "AzureCloud"},
	} {
		if w[0] != w[1] {
			t.Errorf("az login: got %q, want %q in %v", w[0], w[1], subs[0])
		}
	}

	acct := c.obj("account", "show")
	if str(acct, "user", "name") != admin.UserPrincipalName || str(acct, "user", "type") != "user" || str(acct, "id") != str(subs[0], "id") {
		t.Errorf("account show = %v", acct)
	}
	me := c.obj("ad", "signed-in-user", "show")
	if str(me, "userPrincipalName") != admin.UserPrincipalName {
		t.Errorf("ad signed-in-user show = %v", me)
	}
	c.obj("group", "create", "-n", "dc-rg", "-l", "eastus")
	v := c.obj("keyvault", "create", "-n", "kvazdc", "-g", "dc-rg", "-l", "eastus")
	if got := policySecrets(v, str(me, "id")); got != "all" {
		t.Errorf("the creating user's secret permissions = %q in %v", got, v)
	}
	u := "https://kvazdc.vault.azure.net/secrets/greeting?api-version=7.4"
	c.obj("rest", "--method", "put", "--resource", "https://vault.azure.net", "--url", u, "--body", `{"value":"hello from a user"}`)
	if got := c.obj("rest", "--resource", "https://vault.azure.net", "--url", u); str(got, "value") != "hello from a user" {
		t.Errorf("GET secret as the user = %v", got)
	}
	tok := c.obj("account", "get-access-token", "--resource", "https://vault.azure.net")
	if upn := armJWTClaim(t, str(tok, "accessToken"), "upn"); upn != admin.UserPrincipalName {
		t.Errorf("az's vault token is for %q", fmt.Sprint(upn))
	}
}
