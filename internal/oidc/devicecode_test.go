package oidc_test

import (
	"encoding/json"
	"io"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/oidc"
	"github.com/coffer-dev/coffer/internal/testenv"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestDeviceCode: the device code flow as az login --use-device-code and
// DeviceCodeCredential run it: pending, slow_down, the code entered with
// the user's credentials at /devicelogin, the token, a used, declined
// and expired code; the portal's app id cannot use it.
func TestDeviceCode(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local, Now: clock.Now})
	jar, _ := cookiejar.New(nil)
	c := env.Client()
	c.Jar = jar
	base := strings.TrimSuffix(env.AuthorityHost(), "/")
	tenantURL := base + "/" + env.Instance.TenantID + "/oauth2/v2.0/"
	admin := env.Admin

	type dcResp struct {
		status                                         int
		UserCode, DeviceCode, VerificationURI, Message string
		Error                                          string
		Codes                                          []int `json:"error_codes"`
	}
	start := func(clientID string) dcResp {
		resp, err := c.PostForm(tenantURL+"devicecode", url.Values{"client_id": {clientID}, "scope": {"https://management.core.windows.net//.default offline_access"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			UserCode        string `json:"user_code"`
			DeviceCode      string `json:"device_code"`
			VerificationURI string `json:"verification_uri"`
			Message         string `json:"message"`
			Interval        int    `json:"interval"`
			Error           string `json:"error"`
			Codes           []int  `json:"error_codes"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return dcResp{resp.StatusCode, r.UserCode, r.DeviceCode, r.VerificationURI, r.Message, r.Error, r.Codes}
	}
	poll := func(dc string) tokenResp {
		resp, err := c.PostForm(tenantURL+"token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"client_id": {oidc.AzureCLIClientID}, "device_code": {dc}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr tokenResp
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		tr.status = resp.StatusCode
		return tr
	}
	// enter does the user's part on the verification page.
	enter := func(code, login, pw, op string) string {
		resp, err := c.Get(base + oidc.DeviceLoginPath)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		form := url.Values{"otc": {code}, "login": {login}, "passwd": {pw}, "op": {op}}
		for _, m := range reHidden.FindAllStringSubmatch(string(b), -1) {
			form.Set(m[1], m[2])
		}
		resp, err = c.PostForm(base+oidc.DeviceLoginPath, form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	wantErr := func(name string, tr tokenResp, code string, aadsts int) {
		t.Helper()
		if tr.status != 400 || tr.Error != code || (aadsts != 0 && (len(tr.Codes) != 1 || tr.Codes[0] != aadsts)) {
			t.Errorf("%s: %+v, want %s %d", name, tr, code, aadsts)
		}
	}

	d := start(oidc.AzureCLIClientID)
	if d.status != 200 || len(d.UserCode) != 9 || d.VerificationURI != base+"/devicelogin" ||
		!strings.Contains(d.Message, d.UserCode) || !strings.Contains(d.Message, d.VerificationURI) {
		t.Fatalf("devicecode: %+v", d)
	}
	wantErr("first poll", poll(d.DeviceCode), "authorization_pending", 70016)
	wantErr("poll at once", poll(d.DeviceCode), "slow_down", 0)
	clock.Add(5 * time.Second)
	wantErr("poll after the interval", poll(d.DeviceCode), "authorization_pending", 70016)

	if page := enter("WRONGCODE", admin.UserPrincipalName, admin.Password, "signin"); !strings.Contains(page, "That code didn&#39;t work") {
		t.Errorf("wrong code: %s", page)
	}
	if page := enter(d.UserCode, admin.UserPrincipalName, "wrong", "signin"); !strings.Contains(page, "AADSTS50126") {
		t.Errorf("wrong password: %s", page)
	}
	if page := enter(strings.ToLower(d.UserCode), admin.UserPrincipalName, admin.Password, "signin"); !strings.Contains(page, "You have signed in to the Microsoft Azure CLI application on your device.") {
		t.Fatalf("approve: %s", page)
	}
	clock.Add(5 * time.Second)
	tr := poll(d.DeviceCode)
	if tr.status != 200 || claims(t, tr.AccessToken)["upn"] != admin.UserPrincipalName || claims(t, tr.AccessToken)["idtyp"] != "user" || tr.Refresh == "" {
		t.Fatalf("token: %+v", tr)
	}
	wantErr("used code", poll(d.DeviceCode), "invalid_grant", 70000)

	d = start(oidc.AzureCLIClientID)
	if page := enter(d.UserCode, "", "", "cancel"); !strings.Contains(page, "Sign-in canceled") {
		t.Errorf("cancel: %s", page)
	}
	wantErr("declined", poll(d.DeviceCode), "authorization_declined", 70000)

	d = start(oidc.AzureCLIClientID)
	clock.Add(oidc.DeviceCodeLifetime + time.Second)
	wantErr("expired", poll(d.DeviceCode), "expired_token", 70020)

	if d := start(oidc.PortalClientID); d.status != 400 || d.Error != "unauthorized_client" {
		t.Errorf("portal app id: %+v", d)
	}
}
