package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
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

var reAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)

// TestSDKInteractiveBrowserCredential: the SDK's unmodified
// InteractiveBrowserCredential (MSAL: PKCE, a loopback reply URL,
// response_mode=form_post) gets a user token. The "system browser" is an
// xdg-open on PATH that hands the URL to the test, which signs in on the
// page and posts the response to MSAL's listener as the page's form does.
func TestSDKInteractiveBrowserCredential(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	script := "#!/bin/sh\nprintf '%s' \"$1\" > " + urlFile + ".tmp && mv " + urlFile + ".tmp " + urlFile + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	done := make(chan error, 1)
	go func() { done <- browse(env, urlFile) }()

	opts := &azidentity.InteractiveBrowserCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: env.Client()},
		TenantID:      env.Instance.TenantID, ClientID: oidc.AzureCLIClientID, DisableInstanceDiscovery: true,
	}
	opts.Cloud.ActiveDirectoryAuthorityHost = env.AuthorityHost()
	cred, err := azidentity.NewInteractiveBrowserCredential(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := claims(t, tok.Token); c["upn"] != env.Admin.UserPrincipalName || c["idtyp"] != "user" || c["appid"] != oidc.AzureCLIClientID {
		t.Errorf("claims %v", c)
	}
}

// browse waits for the URL the credential opened, signs in as the admin
// user and posts the form_post response to the credential's listener.
func browse(env *testenv.Env, urlFile string) error {
	var authURL string
	for deadline := time.Now().Add(30 * time.Second); authURL == ""; {
		if b, err := os.ReadFile(urlFile); err == nil {
			authURL = string(b)
		} else if time.Now().After(deadline) {
			return err
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	jar, _ := cookiejar.New(nil)
	c := env.Client()
	c.Jar = jar
	resp, err := c.Get(authURL)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"login": {env.Admin.UserPrincipalName}, "passwd": {env.Admin.Password}}
	for _, m := range reHidden.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	u, _ := url.Parse(authURL)
	resp, err = c.PostForm(u.Scheme+"://"+u.Host+u.Path, form)
	if err != nil {
		return err
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := reAction.FindStringSubmatch(string(page))
	if m == nil || !strings.Contains(string(page), `name="code"`) {
		return &pageError{string(page)}
	}
	post := url.Values{}
	for _, h := range reHidden.FindAllStringSubmatch(string(page), -1) {
		post.Set(h[1], h[2])
	}
	// MSAL's listener is on this machine's loopback, not the server.
	resp, err = http.PostForm(strings.ReplaceAll(m[1], "&amp;", "&"), post)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

type pageError struct{ page string }

func (e *pageError) Error() string { return "no form_post response in: " + e.page }
