package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/oidc"
	"github.com/coffer-dev/coffer/internal/wire"
)

// A user's login (`coffer login` without flags) is the device code flow,
// as `az login --use-device-code`: the CLI signs in as Azure CLI's public
// client, keeps only the refresh token, and redeems it for each resource
// it calls. Refresh tokens rotate, so every redemption stores the next one.

// userScope asks for resource's token and, as MSAL does, the OpenID scopes
// (an id_token naming the user, and a refresh token).
func userScope(resource string) string {
	s := resource + "/.default"
	if strings.HasSuffix(resource, "/") {
		s = resource + ".default"
	}
	return s + " openid profile offline_access"
}

type userTokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// postForm posts to the issuer of c's server and decodes a 200 into out;
// an OAuth2 error comes back as a *client.Error with Token set.
func postForm(ctx context.Context, c *client.Client, path string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL()+"/"+c.TenantID+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var oe wire.OAuthError
		_ = json.Unmarshal(b, &oe)
		return &client.Error{Status: resp.StatusCode, Code: oe.Error, Message: oe.ErrorDescription, Token: true}
	}
	return json.Unmarshal(b, out)
}

// deviceCodeLogin runs the device code flow for the ARM resource: it
// prints the verification page and the code on msg (stderr, as az does),
// then polls the token endpoint at the interval the server asks for until
// the user has signed in, declined, or the code expired.
func deviceCodeLogin(ctx context.Context, c *client.Client, msg io.Writer) (*userTokenResponse, error) {
	var dc struct {
		DeviceCode string `json:"device_code"`
		Message    string `json:"message"`
		Interval   int64  `json:"interval"`
		ExpiresIn  int64  `json:"expires_in"`
	}
	if err := postForm(ctx, c, "/oauth2/v2.0/devicecode", url.Values{"client_id": {oidc.AzureCLIClientID},
		"scope": {userScope(c.ManagementResource())}}, &dc); err != nil {
		return nil, err
	}
	fmt.Fprintln(msg, dc.Message)
	interval := time.Duration(max(dc.Interval, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(dc.ExpiresIn, 1))*time.Second+interval)
	defer cancel()
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {oidc.AzureCLIClientID},
		"device_code": {dc.DeviceCode}, "client_info": {"1"}}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the code was not entered in time: %w", ctx.Err())
		case <-time.After(interval):
		}
		var tr userTokenResponse
		err := postForm(ctx, c, "/oauth2/v2.0/token", form, &tr)
		code, _ := client.Code(err)
		switch {
		case err == nil:
			return &tr, nil
		case code == "authorization_pending":
		case code == "slow_down":
			interval += 5 * time.Second // RFC 8628 §3.5
		default:
			return nil, err
		}
	}
}

// idTokenUser reads preferred_username from an id_token the server just
// sent over the TLS connection the CLI trusts; it names the login only.
func idTokenUser(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		PreferredUsername string `json:"preferred_username"`
	}
	_ = json.Unmarshal(b, &c)
	return c.PreferredUsername
}

// refreshSource gets tokens for the user of the stored login l with its
// refresh token, storing each rotated refresh token at once: the spent
// one no longer works. Commands run at once share the login file, so a
// lock on it serializes their redemptions, each starting from the token
// the last one stored.
func refreshSource(c *client.Client, l savedLogin) func(ctx context.Context, resource string) (string, time.Time, error) {
	rt := l.RefreshToken
	return func(ctx context.Context, resource string) (string, time.Time, error) {
		unlock, err := lockLogins()
		if err != nil {
			return "", time.Time{}, err
		}
		defer unlock()
		st, err := readLoginStore()
		if err != nil {
			return "", time.Time{}, err
		}
		cur, stored := st.Logins[absDataDir()]
		stored = stored && cur.Type == loginUser && cur.UserName == l.UserName
		if stored {
			rt = cur.RefreshToken
		}
		var tr userTokenResponse
		if err := postForm(ctx, c, "/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {oidc.AzureCLIClientID},
			"refresh_token": {rt}, "scope": {userScope(resource)}}, &tr); err != nil {
			return "", time.Time{}, err
		}
		exp := time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
		if tr.RefreshToken != "" && tr.RefreshToken != rt {
			rt = tr.RefreshToken
			if stored {
				cur.RefreshToken = rt
				st.Logins[absDataDir()] = cur
				if err := st.write(); err != nil {
					return "", time.Time{}, err
				}
			}
		}
		return tr.AccessToken, exp, nil
	}
}
