// Package client is a small Go client for Coffer's public APIs (the token
// endpoint, ARM and the Key Vault data plane). The CLI uses it, so
// everything the CLI does goes through the same HTTP APIs the Azure SDKs use.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/wire"
)

// armAPIVersion picks the api-version for an ARM path by its resource type,
// one that ARM publishes for that type.
func armAPIVersion(path string) string {
	p := strings.ToLower(path)
	switch {
	case strings.Contains(p, "/providers/microsoft.authorization/"):
		return "2022-04-01"
	case strings.Contains(p, "/providers/microsoft.managedidentity/"):
		return "2023-01-31"
	case strings.Contains(p, "/providers/microsoft.compute/"):
		return "2024-07-01"
	case strings.Contains(p, "/providers/microsoft.keyvault/"):
		return "2024-11-01"
	}
	return "2021-04-01"
}

// KeyVaultAPIVersion is the api-version the client sends to Key Vault.
const KeyVaultAPIVersion = "7.6"

// Client talks to one Coffer server as one principal.
type Client struct {
	// Addr is the server's listen address; every host name is dialed there,
	// so vault names work without DNS entries.
	Addr         string
	Profile      cloud.Profile
	TenantID     string
	ClientID     string
	ClientSecret string
	HTTP         *http.Client
	// Source, if set, gets tokens instead of the client credentials grant
	// (a signed-in user's refresh token); Token still caches them.
	Source func(ctx context.Context, resource string) (raw string, expires time.Time, err error)

	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	raw     string
	expires time.Time
}

// New builds a client that trusts the CA in caFile.
func New(addr string, p cloud.Profile, caFile, tenantID, clientID, secret string) (*Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	return &Client{Addr: addr, Profile: p, TenantID: tenantID, ClientID: clientID, ClientSecret: secret,
		HTTP: &http.Client{Transport: tr, Timeout: 60 * time.Second}, tokens: map[string]cachedToken{}}, nil
}

func (c *Client) port() string {
	_, p, err := net.SplitHostPort(c.Addr)
	if err != nil || p == "443" {
		return ""
	}
	return ":" + p
}

// BaseURL is the server's own URL (bare host: everything but vault hosts).
func (c *Client) BaseURL() string { return "https://localhost" + c.port() }

// VaultURL is a vault's data-plane URL.
func (c *Client) VaultURL(vault string) string {
	return "https://" + strings.ToLower(vault) + "." + c.Profile.VaultSuffix + c.port()
}

// ManagementResource is the audience the client asks for ARM tokens.
func (c *Client) ManagementResource() string { return c.Profile.ManagementAudiences[0] }

// VaultResource is the audience the client asks for Key Vault tokens.
func (c *Client) VaultResource() string { return c.Profile.VaultResource() }

// Error is an API error.
type Error struct {
	Status  int
	Code    string
	Inner   string // Key Vault's innererror.code, if any
	Message string
	// Token is set when the token endpoint refused the client's
	// credential (an OAuth2 error such as invalid_client), as opposed to an
	// API refusing a request.
	Token bool
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	msg := fmt.Sprintf("(%s) %s", e.Code, strings.TrimSpace(e.Message))
	if e.Inner != "" {
		msg += "\nInner error: " + e.Inner
	}
	return msg
}

// Code returns the Azure error code of err ("" if err is no API error)
// and Key Vault's inner error code.
func Code(err error) (code, inner string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Inner
	}
	return "", ""
}

// IsUnreachable reports whether err means the server could not be reached
// at all (nothing listening, connection reset, timeout), as opposed to an
// answer.
func IsUnreachable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// IsNotFound reports whether err is a 404 API error.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Token returns a bearer token for resource (client credentials, cached).
func (c *Client) Token(ctx context.Context, resource string) (string, time.Time, error) {
	c.mu.Lock()
	if t, ok := c.tokens[resource]; ok && time.Until(t.expires) > 5*time.Minute {
		c.mu.Unlock()
		return t.raw, t.expires, nil
	}
	c.mu.Unlock()
	if c.Source != nil {
		raw, exp, err := c.Source(ctx, resource)
		if err != nil {
			return "", time.Time{}, err
		}
		c.mu.Lock()
		c.tokens[resource] = cachedToken{raw, exp}
		c.mu.Unlock()
		return raw, exp, nil
	}
	// The audience is the resource verbatim, so a trailing slash (ARM's
	// usual form) is kept: "https://management.azure.com/" + ".default".
	scope := resource + "/.default"
	if strings.HasSuffix(resource, "/") {
		scope = resource + ".default"
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL()+"/"+c.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", time.Time{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var oe wire.OAuthError
		_ = json.Unmarshal(b, &oe)
		return "", time.Time{}, &Error{Status: resp.StatusCode, Code: oe.Error, Message: oe.ErrorDescription, Token: true}
	}
	var tr wire.TokenResponseV2
	if err := json.Unmarshal(b, &tr); err != nil {
		return "", time.Time{}, err
	}
	exp := time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	c.mu.Lock()
	c.tokens[resource] = cachedToken{tr.AccessToken, exp}
	c.mu.Unlock()
	return tr.AccessToken, exp, nil
}

// do sends a JSON request with a bearer token for resource and decodes the
// JSON answer into out (if non-nil). It returns the status code.
func (c *Client) do(ctx context.Context, method, rawURL, resource string, body, out any) (int, error) {
	tok, _, err := c.Token(ctx, resource)
	if err != nil {
		return 0, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if resp.StatusCode >= 400 {
		var ke wire.KeyVaultError
		_ = json.Unmarshal(b, &ke)
		e := &Error{Status: resp.StatusCode, Code: ke.Error.Code, Message: ke.Error.Message}
		if ke.Error.InnerError != nil {
			e.Inner = ke.Error.InnerError.Code
		}
		return resp.StatusCode, e
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding %s %s: %w", method, rawURL, err)
		}
	}
	return resp.StatusCode, nil
}

// ARM calls the control plane; path starts with /subscriptions.
func (c *Client) ARM(ctx context.Context, method, path string, body, out any) (int, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return c.do(ctx, method, c.BaseURL()+path+sep+"api-version="+armAPIVersion(path), c.ManagementResource(), body, out)
}

// KeyVault calls a vault's data plane; path starts with /secrets or /deletedsecrets.
func (c *Client) KeyVault(ctx context.Context, vault, method, path string, body, out any) (int, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return c.do(ctx, method, c.VaultURL(vault)+path+sep+"api-version="+KeyVaultAPIVersion, c.VaultResource(), body, out)
}

// GetURL fetches an absolute URL (a nextLink) with a token for resource.
func (c *Client) GetURL(ctx context.Context, rawURL, resource string, out any) error {
	_, err := c.do(ctx, http.MethodGet, rawURL, resource, nil, out)
	return err
}

// Graph calls the Microsoft Graph subset; path starts with /v1.0.
func (c *Client) Graph(ctx context.Context, method, path string, body, out any) (int, error) {
	return c.do(ctx, method, c.BaseURL()+path, c.Profile.GraphResource(), body, out)
}
