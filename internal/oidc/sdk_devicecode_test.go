package oidc_test

import (
	"context"
	"io"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/oidc"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestSDKDeviceCodeCredential: the Azure SDK's unmodified
// DeviceCodeCredential (MSAL underneath) gets a user token from Coffer;
// the "user" enters the code it prints on the verification page. The
// token then works at ARM.
func TestSDKDeviceCodeCredential(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	base := strings.TrimSuffix(env.AuthorityHost(), "/")
	entered := make(chan error, 1)
	opts := &azidentity.DeviceCodeCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: env.Client()},
		TenantID:      env.Instance.TenantID, ClientID: oidc.AzureCLIClientID, DisableInstanceDiscovery: true,
		UserPrompt: func(ctx context.Context, m azidentity.DeviceCodeMessage) error {
			if !strings.HasPrefix(m.VerificationURL, base) || !strings.Contains(m.Message, m.UserCode) {
				t.Errorf("prompt: %+v", m)
			}
			// A person at a browser: open the page, enter the code, sign in.
			go func() {
				jar, _ := cookiejar.New(nil)
				c := env.Client()
				c.Jar = jar
				resp, err := c.Get(m.VerificationURL)
				if err != nil {
					entered <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				form := url.Values{"otc": {m.UserCode}, "login": {env.Admin.UserPrincipalName}, "passwd": {env.Admin.Password}, "op": {"signin"}}
				for _, h := range reHidden.FindAllStringSubmatch(string(b), -1) {
					form.Set(h[1], h[2])
				}
				resp, err = c.PostForm(m.VerificationURL, form)
				if err == nil {
					b, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					if !strings.Contains(string(b), "You have signed in") {
						t.Errorf("verification page: %s", b)
					}
				}
				entered <- err
			}()
			return nil
		},
	}
	opts.Cloud.ActiveDirectoryAuthorityHost = env.AuthorityHost()
	cred, err := azidentity.NewDeviceCodeCredential(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if err := <-entered; err != nil {
		t.Fatal(err)
	}
	if c := claims(t, tok.Token); c["upn"] != env.Admin.UserPrincipalName || c["idtyp"] != "user" {
		t.Errorf("claims %v", c)
	}
}
