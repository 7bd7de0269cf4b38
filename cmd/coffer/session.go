package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/cloud"
)

// serverInfo returns the server info of --data-dir once its server accepts
// connections, waiting (bounded, with one line on stderr) for a server that
// is starting: `coffer serve &` followed at once by a command must work.
func serverInfo(ctx context.Context) (*app.ServerInfo, error) {
	var once sync.Once
	return app.WaitServer(ctx, opts.dataDir, app.WaitOptions{OnWait: func() {
		once.Do(func() { stderrf("waiting for coffer serve…\n") })
	}})
}

// credSource says which credential a session uses, for error messages.
type credSource struct {
	// kind is "admin" (the data directory's admin.json), "login" (stored by
	// `coffer login`) or "new" (being checked by `coffer login`).
	kind     string
	clientID string
	dataDir  string
	// user is the user of a login by device code ("" for a service
	// principal).
	user string
}

func (c credSource) String() string {
	switch {
	case c.kind == "login" && c.user != "":
		return fmt.Sprintf("user %s (signed in by `coffer login` for %s)", c.user, c.dataDir)
	case c.kind == "login":
		return fmt.Sprintf("service principal %s (stored by `coffer login` for %s)", c.clientID, c.dataDir)
	case c.kind == "new" && c.user != "":
		return "user " + c.user
	case c.kind == "new":
		return fmt.Sprintf("service principal %s", c.clientID)
	}
	return fmt.Sprintf("the admin of %s (%s)", c.dataDir, filepath.Join(c.dataDir, app.AdminCredFile))
}

// source describes a stored login as a credSource.
func (l savedLogin) source() credSource {
	src := credSource{kind: "login", clientID: l.ClientID, dataDir: absDataDir()}
	if l.Type == loginUser {
		src.user = l.UserName
	}
	return src
}

// current is the credential of the command's session, for error hints.
var current *credSource

// openConnect is connect with a context: it waits for the server, picks the
// credential (this server's stored login, else the admin) and checks it.
func openConnect(ctx context.Context) (*session, error) {
	info, err := serverInfo(ctx)
	if err != nil {
		return nil, err
	}
	l, err := storedLogin(info)
	if err != nil {
		return nil, err
	}
	if l != nil && l.Type == loginUser {
		c, err := newClient(info, l.TenantID, l.ClientID, "")
		if err != nil {
			return nil, err
		}
		c.Source = refreshSource(c, *l)
		return checkSession(ctx, info, c, l.source())
	}
	if l != nil {
		return openSession(ctx, info, &app.AdminCredential{TenantID: l.TenantID, ClientID: l.ClientID, ClientSecret: l.ClientSecret}, l.source())
	}
	cred, err := app.ReadAdminCredential(opts.dataDir)
	if err != nil {
		return nil, err
	}
	return openSession(ctx, info, cred, credSource{kind: "admin", clientID: cred.ClientID, dataDir: absDataDir()})
}

// newClient is an API client of the server for one principal.
func newClient(info *app.ServerInfo, tenant, clientID, secret string) (*client.Client, error) {
	p, err := cloud.Lookup(info.Cloud)
	if err != nil {
		return nil, err
	}
	return client.New(info.Addr, p, info.CAFile, tenant, clientID, secret)
}

// openSession builds a client for cred and checks it by listing the
// subscriptions (which gets a token first).
func openSession(ctx context.Context, info *app.ServerInfo, cred *app.AdminCredential, src credSource) (*session, error) {
	c, err := newClient(info, cred.TenantID, cred.ClientID, cred.ClientSecret)
	if err != nil {
		return nil, err
	}
	return checkSession(ctx, info, c, src)
}

// checkSession checks client c of credential src by listing the
// subscriptions.
func checkSession(ctx context.Context, info *app.ServerInfo, c *client.Client, src credSource) (*session, error) {
	current = &src
	s := &session{c: c, info: info}
	var subs struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
		} `json:"value"`
	}
	if _, err := c.ARM(ctx, "GET", "/subscriptions", nil, &subs); err != nil {
		var ce *client.Error
		switch {
		case errors.As(err, &ce) && ce.Token:
			return nil, &credentialError{src: src, err: err}
		case client.IsUnreachable(err):
			return nil, &unreachableError{addr: info.Addr, dataDir: absDataDir(), err: err}
		}
		return nil, err
	}
	// As in Azure, a principal without a role in the subscription sees
	// none; it can still use the data plane, so that is not an error here.
	// Every ARM request that would name the missing subscription is refused
	// in one place, the client's transport, with an error that says why.
	if len(subs.Value) > 0 {
		s.sub = subs.Value[0].SubscriptionID
	} else {
		c.HTTP.Transport = needSubscription{next: c.HTTP.Transport, src: src}
	}
	return s, nil
}

// needSubscription refuses, before sending it, a request whose ARM path
// lacks the subscription id: "/subscriptions//…" as commands build it with
// an empty one, or "/subscriptions/providers/…" once a trailing slash is
// trimmed. The list of subscriptions (no trailing slash) and the data plane
// pass.
type needSubscription struct {
	next http.RoundTripper
	src  credSource
}

func (t needSubscription) RoundTrip(r *http.Request) (*http.Response, error) {
	if rest, ok := strings.CutPrefix(strings.ToLower(r.URL.Path), "/subscriptions/"); ok &&
		(rest == "" || rest[0] == '/' || strings.HasPrefix(rest, "providers/") || strings.HasPrefix(rest, "resourcegroups/")) {
		if r.Body != nil {
			r.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, &noSubscriptionError{src: t.src}
	}
	return t.next.RoundTrip(r)
}

// noSubscriptionError: the credential in use has no role in any
// subscription, so it sees none, and a command that manages ARM resources
// has no subscription to address.
type noSubscriptionError struct{ src credSource }

func (e *noSubscriptionError) Error() string {
	return fmt.Sprintf("the credential in use, %s, sees no subscription (it has no role assignment in one), so commands that manage resources cannot run; data-plane commands (keyvault secret …) still work", e.src)
}

func (e *noSubscriptionError) Hint() string {
	who := e.src.clientID
	if e.src.user != "" {
		who = e.src.user
	}
	grant := fmt.Sprintf("Give it a role on the subscription, as the admin: `coffer role assignment create --assignee %s --role Reader --scope /subscriptions/SUBSCRIPTION_ID` (the admin's `coffer account show` prints the id)", who)
	if e.src.kind == "login" {
		return grant + ", or run `coffer logout` to use the admin of " + e.src.dataDir + " again."
	}
	return grant + "."
}

// credentialError: the token endpoint refused the credential in use.
type credentialError struct {
	src credSource
	err error
}

func (e *credentialError) Error() string {
	if e.src.kind == "new" {
		return fmt.Sprintf("login failed: %v", e.err)
	}
	return fmt.Sprintf("the credential in use, %s, was refused: %v", e.src, e.err)
}

func (e *credentialError) Unwrap() error { return e.err }

func (e *credentialError) Hint() string {
	switch {
	case e.src.user != "" && e.src.kind == "login":
		return "Sign in again with `coffer login` (a sign-in lasts a day unused), or run `coffer logout` to use the admin of " + e.src.dataDir + "."
	case e.src.user != "":
		return "Sign in again with `coffer login`."
	case e.src.kind == "login":
		return "Run `coffer logout` to use the admin of " + e.src.dataDir + " again, or log in anew with `coffer login --service-principal -u APP_ID -p SECRET`."
	case e.src.kind == "new":
		if prev := describeStoredLogin(); prev != "" {
			return "Check the app id (-u), the secret (-p) and the tenant; the CLI still uses " + prev + "."
		}
		return "Check the app id (-u), the secret (-p) and the tenant; the CLI still uses the admin of " + absDataDir() + "."
	}
	return "admin.json does not belong to the server now using " + e.src.dataDir + "; restart `coffer serve` with this data directory."
}

// unreachableError: nothing answers at the server's address.
type unreachableError struct {
	addr, dataDir string
	err           error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach coffer serve at %s (data directory %s): %v", e.addr, e.dataDir, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

func (e *unreachableError) Hint() string {
	return "Is it still running? Start it with " + serveCommand() + "."
}

// serveCommand is the command that starts a server for --data-dir.
func serveCommand() string {
	if filepath.Clean(opts.dataDir) == filepath.Clean(defaultDataDir()) {
		return "`coffer serve`"
	}
	return "`coffer serve --data-dir " + opts.dataDir + "`"
}

// absDataDir is --data-dir made absolute: the key of the stored login.
func absDataDir() string {
	if d, err := filepath.Abs(opts.dataDir); err == nil {
		return d
	}
	return filepath.Clean(opts.dataDir)
}
