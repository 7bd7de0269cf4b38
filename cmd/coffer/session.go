package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
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
}

func (c credSource) String() string {
	switch c.kind {
	case "login":
		return fmt.Sprintf("service principal %s (stored by `coffer login` for %s)", c.clientID, c.dataDir)
	case "new":
		return fmt.Sprintf("service principal %s", c.clientID)
	}
	return fmt.Sprintf("the admin of %s (%s)", c.dataDir, filepath.Join(c.dataDir, app.AdminCredFile))
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
	dir := absDataDir()
	cred, err := storedLogin(info)
	if err != nil {
		return nil, err
	}
	src := credSource{kind: "login", dataDir: dir}
	if cred == nil {
		if cred, err = app.ReadAdminCredential(opts.dataDir); err != nil {
			return nil, err
		}
		src.kind = "admin"
	}
	src.clientID = cred.ClientID
	return openSession(ctx, info, cred, src)
}

// openSession builds a client for cred and checks it by listing the
// subscriptions (which gets a token first).
func openSession(ctx context.Context, info *app.ServerInfo, cred *app.AdminCredential, src credSource) (*session, error) {
	p, err := cloud.Lookup(info.Cloud)
	if err != nil {
		return nil, err
	}
	c, err := client.New(info.Addr, p, info.CAFile, cred.TenantID, cred.ClientID, cred.ClientSecret)
	if err != nil {
		return nil, err
	}
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
	// none; it can still use the data plane, so that is not an error here
	// (commands that need the subscription fail on their own).
	if len(subs.Value) > 0 {
		s.sub = subs.Value[0].SubscriptionID
	}
	return s, nil
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
	switch e.src.kind {
	case "login":
		return "Run `coffer logout` to use the admin of " + e.src.dataDir + " again, or log in anew with `coffer login --service-principal -u APP_ID -p SECRET`."
	case "new":
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
