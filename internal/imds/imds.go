// Package imds answers the Azure Instance Metadata Service protocol
// (http://169.254.169.254/metadata/...) for exactly one machine, by relaying
// to the Coffer server's machine endpoints (msi.TokenPath, msi.InstancePath)
// with that machine's credential. `coffer agent` serves it on a VM and
// `coffer run` serves it to one process through its proxy, so that
// unmodified SDKs using their default (IMDS) managed-identity source work.
//
// The Front enforces IMDS's request rules itself (GET only, Metadata: true,
// no X-Forwarded-For, no duplicate parameters, a known api-version), so
// malformed requests and the SDKs' availability probes are answered at once
// without a round trip. It caches tokens per (identity, resource) until half
// their lifetime and throttles like IMDS.
//
// Status codes are chosen for the clients' retry policies: Go's IMDS source
// retries 404, 410, 429 and every 5xx for about a minute, so permanent
// failures (bad request, unknown identity, a revoked machine credential)
// are always 400, and 429/500 are kept for conditions that may pass.
package imds

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/msi"
	"github.com/coffer-dev/coffer/internal/wire"
)

// Paths served, lower case (matching is case-insensitive).
const (
	TokenPath    = "/metadata/identity/oauth2/token"
	InfoPath     = "/metadata/identity/info"
	InstancePath = "/metadata/instance"
	VersionsPath = "/metadata/versions"
)

// ServerHeader is the real service's Server header; some tools log it.
const ServerHeader = "IMDS/150.870.65.1015"

// upstreamAPIVersion is the App Service protocol version the server speaks.
const upstreamAPIVersion = "2019-08-01"

// maxUpstreamBody bounds what is read from the server.
const maxUpstreamBody = 1 << 20

// APIVersions are the api-version values IMDS accepts, oldest first.
var APIVersions = []string{
	"2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01", "2018-04-02",
	"2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01", "2019-06-04", "2019-08-01",
	"2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01",
	"2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01",
	"2021-11-15", "2021-12-13", "2023-07-01", "2023-11-15", "2024-03-15", "2024-07-17", "2025-04-07",
}

// identitySince is the first api-version of the identity category.
const identitySince = "2018-02-01"

// ErrCredentialRejected is returned (wrapped) by Instance when the server
// refuses the machine credential: it was revoked, its VM was deleted, or
// it was mistyped. Retrying will not help.
var ErrCredentialRejected = errors.New("the Coffer server rejected the machine credential")

// Front serves the IMDS protocol for one machine. Set the exported fields
// before the first request and do not change them afterwards.
type Front struct {
	// Upstream reaches the Coffer server and must trust its CA.
	Upstream *http.Client
	// ServerURL is the server's base URL, e.g. https://coffer.example:8443.
	ServerURL string
	// Credential is the machine credential (cofferm_…). It is sent only to
	// ServerURL and never logged.
	Credential string
	// Logger receives upstream failures; nil discards.
	Logger *slog.Logger
	// FixCA and FixName tell the operator how to fix a server certificate
	// this machine does not trust (the CA to configure) or that does not
	// name ServerURL's host; they end the error answered to clients.
	FixCA, FixName string
	// Now is the clock for the token cache and rate limits; nil is time.Now.
	Now func() time.Time

	// IdentityRate and IdentityConcurrency limit the identity category
	// (token, info); zero (or less) means IMDS's 20 per second and 5 at a time.
	IdentityRate        int
	IdentityConcurrency int
	// MetadataRate limits the instance category; zero means IMDS's 5 per second.
	MetadataRate int

	once         sync.Once
	identityRate *bucket
	metadataRate *bucket
	slots        chan struct{}

	mu     sync.Mutex
	tokens map[cacheKey]cachedToken
	tenant string
}

// maxCachedTokens bounds the cache; a machine uses a handful of
// (identity, resource) pairs, so hitting it means a misbehaving client and
// starting over is fine.
const maxCachedTokens = 1000

type cacheKey struct{ selector, value, resource string }

type cachedToken struct {
	body      wire.ManagedIdentityToken
	expiresOn time.Time
	refreshAt time.Time // half the lifetime, like IMDS
}

func (f *Front) init() {
	f.once.Do(func() {
		if f.Logger == nil {
			f.Logger = slog.New(slog.DiscardHandler)
		}
		if f.Now == nil {
			f.Now = time.Now
		}
		if f.Upstream == nil {
			f.Upstream = &http.Client{Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		f.identityRate = newBucket(cmp.Or(max(f.IdentityRate, 0), 20))
		f.metadataRate = newBucket(cmp.Or(max(f.MetadataRate, 0), 5))
		f.slots = make(chan struct{}, cmp.Or(max(f.IdentityConcurrency, 0), 5))
		f.tokens = map[cacheKey]cachedToken{}
	})
}

// category decides the error body shape: the identity endpoints speak
// OAuth2 ({"error","error_description"}), the others IMDS's {"error"}.
type category int

const (
	catMetadata category = iota
	catIdentity
)

// ServeHTTP routes one IMDS request. Absolute-form targets
// (GET http://169.254.169.254/metadata/... from clients using HTTP_PROXY)
// arrive with the path in r.URL.Path like any other.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.init()
	w.Header().Set("Server", ServerHeader)
	p := cleanPath(r.URL.Path)
	cat := catMetadata
	var serve func(http.ResponseWriter, *http.Request, url.Values, string)
	switch {
	case p == TokenPath:
		cat, serve = catIdentity, f.token
	case p == InfoPath:
		cat, serve = catIdentity, f.info
	case p == InstancePath || strings.HasPrefix(p, InstancePath+"/"):
		serve = f.instance
	case p == VersionsPath:
		serve = f.versions
	default:
		writeMetadataError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, cat, http.StatusMethodNotAllowed, "method_not_allowed", "The HTTP method "+r.Method+" is not allowed; the instance metadata service answers GET only.")
		return
	}
	if len(r.Header.Values("X-Forwarded-For")) > 0 {
		writeError(w, cat, http.StatusBadRequest, "invalid_request", "Requests with an X-Forwarded-For header are not accepted.")
		return
	}
	if r.Header.Get("Metadata") != "true" {
		// Also the answer to the SDKs' availability probes, which send
		// neither the header nor a query: any response means "present".
		// The code is the documented one (azure-wire-spec §3.1/§3.2).
		writeError(w, cat, http.StatusBadRequest, "bad_request_102", "Required metadata header not specified")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, cat, http.StatusBadRequest, "invalid_request", "The query string is malformed.")
		return
	}
	for k, v := range q {
		if len(v) > 1 {
			writeError(w, cat, http.StatusBadRequest, "invalid_request", fmt.Sprintf("The query parameter '%s' is specified more than once.", k))
			return
		}
	}
	serve(w, r, q, p)
}

// cleanPath lower-cases p, collapses repeated slashes (JS clients given a
// host with a trailing slash send //metadata/...) and drops a trailing one.
func cleanPath(p string) string {
	p = strings.ToLower(p)
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// apiVersionError is IMDS's body for a missing or unsupported api-version.
type apiVersionError struct {
	Error          string   `json:"error"`
	NewestVersions []string `json:"newest-versions"`
}

// checkAPIVersion answers the api-version error and returns false unless
// the request names a version that exists (and, for the identity
// category, one that has it).
func checkAPIVersion(w http.ResponseWriter, q url.Values, cat category) bool {
	v := q.Get("api-version")
	ok := slices.Contains(APIVersions, v) && (cat != catIdentity || v >= identitySince)
	if !ok {
		n := len(APIVersions)
		httpx.WriteJSON(w, http.StatusBadRequest, apiVersionError{
			Error:          "Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds",
			NewestVersions: []string{APIVersions[n-1], APIVersions[n-2], APIVersions[n-3]},
		})
	}
	return ok
}

func writeError(w http.ResponseWriter, cat category, status int, code, desc string) {
	if cat == catIdentity {
		httpx.WriteJSON(w, status, wire.OAuthError{Error: code, ErrorDescription: desc})
		return
	}
	writeMetadataError(w, status, desc)
}

func writeMetadataError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusBadRequest {
		msg = "Bad request. " + msg
	}
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

func writeTooMany(w http.ResponseWriter, cat category) {
	w.Header().Set("Retry-After", "1")
	if cat == catIdentity {
		writeError(w, cat, http.StatusTooManyRequests, "too_many_requests", "Too many requests: the instance metadata service allows 20 identity requests per second and 5 at a time.")
		return
	}
	writeMetadataError(w, http.StatusTooManyRequests, "Too many requests: the instance metadata service allows 5 requests per second.")
}

// selectors are the IMDS names of the user-assigned identity selectors and
// the names the server's App Service protocol takes for them.
var selectors = []struct{ imds, upstream string }{
	{"client_id", "client_id"},
	{"object_id", "object_id"},
	{"msi_res_id", "mi_res_id"},
	{"mi_res_id", "mi_res_id"},
}

func (f *Front) token(w http.ResponseWriter, r *http.Request, q url.Values, _ string) {
	if !checkAPIVersion(w, q, catIdentity) {
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		writeError(w, catIdentity, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	var key cacheKey
	selValue, n := "", 0
	for _, s := range selectors {
		if v := q.Get(s.imds); v != "" {
			key.selector, selValue, n = s.upstream, v, n+1
		}
	}
	if n > 1 {
		writeError(w, catIdentity, http.StatusBadRequest, "invalid_request", "Only one of client_id, object_id and msi_res_id may be specified.")
		return
	}
	key.value = strings.ToLower(selValue) // ids are case-insensitive
	key.resource = resource
	bypass := false
	if b, ok := q["bypass_cache"]; ok {
		if b[0] != "true" {
			writeError(w, catIdentity, http.StatusBadRequest, "invalid_request", "The query parameter 'bypass_cache' must be 'true' when specified.")
			return
		}
		bypass = true
	}
	release, ok := f.admitIdentity()
	if !ok {
		writeTooMany(w, catIdentity)
		return
	}
	defer release()

	now := f.Now()
	if !bypass {
		f.mu.Lock()
		c, hit := f.tokens[key]
		f.mu.Unlock()
		if hit && now.Before(c.refreshAt) {
			writeToken(w, c, now)
			return
		}
	}
	up := url.Values{"api-version": {upstreamAPIVersion}, "resource": {resource}}
	if key.selector != "" {
		up.Set(key.selector, selValue)
	}
	if bypass {
		// The server is this IMDS's Entra: a server that caches may skip
		// its cache too.
		up.Set("bypass_cache", "true")
	}
	res, err := f.call(r.Context(), msi.TokenPath, up, r.Header.Get("x-ms-client-request-id"))
	if te := AsTrustError(err); te != nil {
		f.answerTrustError(w, r, catIdentity, te)
		return
	}
	if err != nil {
		f.Logger.WarnContext(r.Context(), "imds: cannot reach the coffer server", "server", f.ServerURL, "err", err)
		writeError(w, catIdentity, http.StatusInternalServerError, "unknown", "Failed to retrieve token from the Active directory. For details see the Coffer agent's log.")
		return
	}
	if res.status != http.StatusOK {
		f.relayTokenError(w, r, res)
		return
	}
	var body wire.ManagedIdentityToken
	if err := json.Unmarshal(res.body, &body); err != nil || body.AccessToken == "" {
		f.Logger.ErrorContext(r.Context(), "imds: the coffer server sent an unreadable token response", "err", err)
		writeError(w, catIdentity, http.StatusInternalServerError, "unknown", "Failed to retrieve token from the Active directory. For details see the Coffer agent's log.")
		return
	}
	c := cachedToken{body: body}
	exp, err1 := strconv.ParseInt(body.ExpiresOn, 10, 64)
	nbf, err2 := strconv.ParseInt(body.NotBefore, 10, 64)
	if err1 != nil || err2 != nil || exp <= nbf {
		// Not cacheable, but the client may still be able to use it.
		httpx.WriteJSON(w, http.StatusOK, body)
		return
	}
	c.expiresOn = time.Unix(exp, 0)
	c.refreshAt = time.Unix(nbf+(exp-nbf)/2, 0)
	f.mu.Lock()
	if len(f.tokens) >= maxCachedTokens {
		clear(f.tokens)
	}
	f.tokens[key] = c
	f.mu.Unlock()
	writeToken(w, c, now)
}

// writeToken renders a (possibly cached) token with expires_in counting
// the seconds that remain, as IMDS does for cached tokens.
func writeToken(w http.ResponseWriter, c cachedToken, now time.Time) {
	body := c.body
	left := strconv.FormatInt(max(int64(c.expiresOn.Sub(now)/time.Second), 0), 10)
	body.ExpiresIn, body.ExtExpiresIn = left, left
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, body)
}

// relayTokenError maps a server error onto an IMDS answer: 400s pass
// through; anything that retrying cannot fix becomes a 400 with a clear
// description; 429 and 5xx stay retryable.
func (f *Front) relayTokenError(w http.ResponseWriter, r *http.Request, res *upstreamResponse) {
	ctx := r.Context()
	switch {
	case res.status == http.StatusUnauthorized || res.status == http.StatusForbidden:
		f.Logger.ErrorContext(ctx, "imds: the coffer server rejected the machine credential; issue a new one", "server", f.ServerURL, "status", res.status)
		writeError(w, catIdentity, http.StatusBadRequest, "invalid_request", "The Coffer server rejected this machine's credential (revoked, its VM deleted, or mistyped). Issue a new one with `coffer vm credential create` and install it on this machine.")
	case res.status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", cmp.Or(res.header.Get("Retry-After"), "1"))
		writeError(w, catIdentity, http.StatusTooManyRequests, "too_many_requests", "The Coffer server is throttling token requests.")
	case res.status >= 500:
		f.Logger.WarnContext(ctx, "imds: the coffer server failed to issue a token", "status", res.status)
		writeError(w, catIdentity, http.StatusInternalServerError, "unknown", "Failed to retrieve token from the Active directory. For details see the Coffer agent's log.")
	default:
		var e wire.OAuthError
		if err := json.Unmarshal(res.body, &e); err == nil && e.Error != "" {
			httpx.WriteJSON(w, http.StatusBadRequest, wire.OAuthError{Error: e.Error, ErrorDescription: e.ErrorDescription})
			return
		}
		// 404 and the like: ServerURL is not a Coffer server. Permanent.
		f.Logger.ErrorContext(ctx, "imds: unexpected answer from the coffer server; is --server right?", "server", f.ServerURL, "status", res.status)
		writeError(w, catIdentity, http.StatusBadRequest, "invalid_request", fmt.Sprintf("The Coffer server answered %d to the token request; see the Coffer agent's log.", res.status))
	}
}

// admitIdentity applies the identity category's rate and concurrency
// limits; release must be called when the request is done.
func (f *Front) admitIdentity() (release func(), ok bool) {
	if !f.identityRate.take(f.Now()) {
		return nil, false
	}
	select {
	case f.slots <- struct{}{}:
		return func() { <-f.slots }, true
	default:
		return nil, false
	}
}

func (f *Front) info(w http.ResponseWriter, r *http.Request, q url.Values, _ string) {
	if !checkAPIVersion(w, q, catIdentity) {
		return
	}
	release, ok := f.admitIdentity()
	if !ok {
		writeTooMany(w, catIdentity)
		return
	}
	defer release()
	f.mu.Lock()
	tenant := f.tenant
	f.mu.Unlock()
	if tenant == "" {
		var err error
		if _, tenant, err = f.Instance(r.Context()); err != nil {
			f.answerInstanceError(w, r, catIdentity, err)
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"tenantId": tenant})
}

func (f *Front) versions(w http.ResponseWriter, _ *http.Request, _ url.Values, _ string) {
	httpx.WriteJSON(w, http.StatusOK, map[string][]string{"apiVersions": APIVersions})
}

// upstreamResponse is a fully read server response.
type upstreamResponse struct {
	status int
	header http.Header
	body   []byte
}

// call sends one authenticated GET to the server. An error means the
// server could not be reached (or answered unreadably): transient.
func (f *Front) call(ctx context.Context, path string, q url.Values, requestID string) (*upstreamResponse, error) {
	u := strings.TrimSuffix(f.ServerURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-IDENTITY-HEADER", f.Credential)
	if requestID != "" && len(requestID) <= 128 {
		req.Header.Set("x-ms-client-request-id", requestID)
	}
	resp, err := f.Upstream.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil {
		return nil, err
	}
	return &upstreamResponse{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// Instance fetches the machine's instance document and tenant from the
// server. An error wrapping ErrCredentialRejected, or a *TrustError, is
// permanent; others (unreachable server, 5xx) may pass.
func (f *Front) Instance(ctx context.Context) (doc map[string]any, tenantID string, err error) {
	f.init()
	res, err := f.call(ctx, msi.InstancePath, nil, "")
	if te := AsTrustError(err); te != nil {
		te.Server = f.ServerURL
		return nil, "", te
	}
	if err != nil {
		return nil, "", fmt.Errorf("reaching the coffer server at %s: %w", f.ServerURL, err)
	}
	switch {
	case res.status == http.StatusUnauthorized || res.status == http.StatusForbidden:
		return nil, "", fmt.Errorf("%w (%s answered %d)", ErrCredentialRejected, f.ServerURL, res.status)
	case res.status != http.StatusOK:
		return nil, "", &statusError{status: res.status}
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		return nil, "", fmt.Errorf("the coffer server sent an unreadable instance document: %w", err)
	}
	tenantID = res.header.Get(msi.TenantHeader)
	if tenantID != "" {
		f.mu.Lock()
		f.tenant = tenantID
		f.mu.Unlock()
	}
	return doc, tenantID, nil
}

// statusError is an unexpected server status.
type statusError struct{ status int }

func (e *statusError) Error() string {
	return fmt.Sprintf("the coffer server answered %d to the instance request", e.status)
}

// answerInstanceError maps an Instance error like relayTokenError does.
func (f *Front) answerInstanceError(w http.ResponseWriter, r *http.Request, cat category, err error) {
	var se *statusError
	if te := AsTrustError(err); te != nil {
		f.answerTrustError(w, r, cat, te)
		return
	}
	switch {
	case errors.Is(err, ErrCredentialRejected):
		f.Logger.ErrorContext(r.Context(), "imds: the coffer server rejected the machine credential; issue a new one", "server", f.ServerURL)
		writeError(w, cat, http.StatusBadRequest, "invalid_request", "The Coffer server rejected this machine's credential (revoked, its VM deleted, or mistyped).")
	case errors.As(err, &se) && se.status == http.StatusTooManyRequests:
		writeTooMany(w, cat)
	case errors.As(err, &se) && se.status < 500:
		f.Logger.ErrorContext(r.Context(), "imds: unexpected answer from the coffer server; is --server right?", "server", f.ServerURL, "err", err)
		writeError(w, cat, http.StatusBadRequest, "invalid_request", "The Coffer server refused the request; see the Coffer agent's log.")
	default:
		f.Logger.WarnContext(r.Context(), "imds: cannot get the instance document", "server", f.ServerURL, "err", err)
		writeError(w, cat, http.StatusInternalServerError, "unknown", "The instance metadata is temporarily unavailable; see the Coffer agent's log.")
	}
}

// TrustError means the server's TLS certificate could not be verified: the
// machine does not trust its CA, or it does not name the server's host. It
// is a configuration error that retrying does not fix, unlike an
// unreachable server.
type TrustError struct {
	Server string
	Err    error
	// Hostname: the certificate is trusted but does not name the host.
	Hostname bool
}

func (e *TrustError) Error() string {
	if e.Hostname {
		return fmt.Sprintf("the coffer server's TLS certificate does not name the host of %s: %v", e.Server, e.Err)
	}
	return fmt.Sprintf("the coffer server's TLS certificate at %s is not signed by a CA this machine trusts: %v", e.Server, e.Err)
}

func (e *TrustError) Unwrap() error { return e.Err }

// AsTrustError returns err as a *TrustError if it is (or wraps) a
// certificate verification failure, else nil.
func AsTrustError(err error) *TrustError {
	if err == nil {
		return nil
	}
	var te *TrustError
	if errors.As(err, &te) {
		return te
	}
	var (
		hostErr      x509.HostnameError
		authorityErr x509.UnknownAuthorityError
		invalidErr   x509.CertificateInvalidError
		verifyErr    *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &hostErr):
		return &TrustError{Err: err, Hostname: true}
	case errors.As(err, &authorityErr), errors.As(err, &invalidErr), errors.As(err, &verifyErr):
		return &TrustError{Err: err}
	}
	return nil
}

// Fix is the operator's next step for e, from the Front's FixCA/FixName.
func (f *Front) Fix(e *TrustError) string {
	if e.Hostname {
		return f.FixName
	}
	return f.FixCA
}

// answerTrustError answers a certificate failure at once with a permanent
// 400 (clients retry 5xx for about a minute, which would only delay the
// message) that says it is this machine's configuration.
func (f *Front) answerTrustError(w http.ResponseWriter, r *http.Request, cat category, te *TrustError) {
	te.Server = f.ServerURL
	f.Logger.ErrorContext(r.Context(), "imds: configuration error: "+te.Error(), "fix", f.Fix(te))
	desc := "Configuration error on this machine: " + te.Error() + "."
	if fix := f.Fix(te); fix != "" {
		desc += " " + fix
	}
	writeError(w, cat, http.StatusBadRequest, "invalid_request", desc)
}
