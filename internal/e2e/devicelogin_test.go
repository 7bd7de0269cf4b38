package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Device code sign-in as a person does it: a CLI prints a page and a code,
// the person opens the page, types the code, the user name and the
// password, and the waiting CLI is signed in.

// deviceMessage is Entra's device code prompt, as az and coffer print it.
var deviceMessage = regexp.MustCompile(`open the page (https://\S+) and enter the code ([A-Z0-9]{6,12}) to authenticate`)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// pageBrowser fetches and posts pages with cookies, as a browser would.
type pageBrowser interface {
	get(url string) (string, error)
	post(url string, form url.Values) (string, error)
}

// enterDeviceCode does the person's part on the verification page: load
// it (its form carries an anti-forgery token bound to a cookie), then
// submit the code with the credentials. It returns the answer page's text.
func enterDeviceCode(b pageBrowser, page, code, login, password string) (string, error) {
	body, err := b.get(page)
	if err != nil {
		return "", err
	}
	form := url.Values{"otc": {code}, "login": {login}, "passwd": {password}, "op": {"signin"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("flowToken") == "" {
		return "", fmt.Errorf("the verification page has no sign-in form:\n%s", body)
	}
	return b.post(page, form)
}

// httpBrowser is a pageBrowser over an http.Client with a cookie jar.
type httpBrowser struct{ c *http.Client }

func newHTTPBrowser(t *testing.T, caFile string) httpBrowser {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	return httpBrowser{&http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

func (h httpBrowser) get(u string) (string, error) {
	resp, err := h.c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (h httpBrowser) post(u string, form url.Values) (string, error) {
	resp, err := h.c.PostForm(u, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitDeviceMessage reads lines from r until the device code prompt and
// returns its page and code; the rest of r is drained to rest, which may
// be read once drained is closed (r at its end).
func waitDeviceMessage(t *testing.T, r io.Reader, rest *bytes.Buffer) (page, code string, drained <-chan struct{}) {
	t.Helper()
	type found struct{ page, code string }
	ch := make(chan found, 1)
	end := make(chan struct{})
	go func() {
		defer close(end)
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			rest.WriteString(sc.Text() + "\n")
			if m := deviceMessage.FindStringSubmatch(sc.Text()); m != nil && !sent {
				ch <- found{m[1], m[2]}
				sent = true
			}
		}
		if !sent {
			close(ch)
		}
	}()
	select {
	case f, ok := <-ch:
		if !ok {
			<-end
			t.Fatalf("no device code prompt; output:\n%s", rest)
		}
		return f.page, f.code, end
	case <-time.After(60 * time.Second):
		t.Fatalf("no device code prompt within a minute")
	}
	return "", "", end
}

// TestCLIDeviceCodeLogin: `coffer login` without flags is the device code
// flow. The test runs it as a person would, reads the page and code it
// prints, signs in there as the admin user (password from admin.json), and
// the CLI then acts as that user: account show names the user, ARM and
// Key Vault calls carry the user's token (a vault the user creates gives
// the user an access policy; a secret set and read back), and logout
// returns to the admin service principal. A wrong password keeps the CLI
// waiting; a declined code fails the login and keeps the previous one.
func TestCLIDeviceCodeLogin(t *testing.T) {
	c := startCLIEnv(t)
	var dir string
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "COFFER_DATA_DIR="); ok {
			dir = v
		}
	}
	var admin struct{ ClientID, UserPrincipalName, Password string }
	b, err := os.ReadFile(filepath.Join(dir, "admin.json"))
	if err != nil || json.Unmarshal(b, &admin) != nil || admin.Password == "" {
		t.Fatalf("admin.json: %v %s", err, b)
	}
	browser := newHTTPBrowser(t, filepath.Join(dir, "ca.pem"))

	// login starts `coffer login`, and returns the page and code it
	// printed and a function that waits for it to end.
	login := func() (page, code string, wait func() (stdout, stderr string, err error)) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, c.coffer, "login")
		cmd.Env = c.env
		var stdout, stderr bytes.Buffer
		cmd.Stdout = &stdout
		pr, pw := io.Pipe()
		cmd.Stderr = pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { err := cmd.Wait(); pw.Close(); done <- err }()
		t.Cleanup(cancel)
		page, code, drained := waitDeviceMessage(t, pr, &stderr)
		return page, code, func() (string, string, error) {
			err := <-done
			<-drained
			cancel()
			return stdout.String(), stderr.String(), err
		}
	}

	page, code, wait := login()
	if !strings.HasPrefix(page, "https://localhost:") || !strings.HasSuffix(page, "/devicelogin") {
		t.Errorf("verification page %q", page)
	}
	if got, err := enterDeviceCode(browser, page, code, admin.UserPrincipalName, "wrong password"); err != nil || !strings.Contains(got, "AADSTS50126") {
		t.Fatalf("wrong password: %v\n%s", err, got)
	}
	got, err := enterDeviceCode(browser, page, code, admin.UserPrincipalName, admin.Password)
	if err != nil || !strings.Contains(got, "You have signed in to the Microsoft Azure CLI application on your device.") {
		t.Fatalf("sign-in on the verification page: %v\n%s", err, got)
	}
	out, errOut, err := wait()
	if err != nil {
		t.Fatalf("coffer login: %v\n%s", err, errOut)
	}
	var accts []map[string]any
	if err := json.Unmarshal([]byte(out), &accts); err != nil || len(accts) != 1 ||
		field(accts[0], "user", "name") != admin.UserPrincipalName || field(accts[0], "user", "type") != "user" || field(accts[0], "id") == "" {
		t.Fatalf("coffer login printed %s (%v)", out, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "config", "login.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("login.json: %v %v", fi, err)
	}

	acct := c.ok("account", "show")
	if field(acct, "user", "name") != admin.UserPrincipalName || field(acct, "user", "type") != "user" {
		t.Errorf("account show after login: %v", acct)
	}
	tok := c.ok("account", "get-access-token")
	if raw := field(tok, "accessToken"); armJWTClaim(t, raw, "upn") != admin.UserPrincipalName || armJWTClaim(t, raw, "idtyp") != "user" {
		t.Errorf("the CLI's token is not the user's: %v", tok)
	}
	// Several commands in a row: each redeems (and rotates) the stored
	// refresh token, for ARM and for Key Vault.
	c.ok("group", "create", "-n", "dc-rg", "-l", "eastus")
	v := c.ok("keyvault", "create", "-n", "dcvault", "-g", "dc-rg")
	if field(v, "name") != "dcvault" {
		t.Fatalf("keyvault create: %v", v)
	}
	c.ok("keyvault", "secret", "set", "--vault-name", "dcvault", "-n", "s1", "--value", "from-the-user")
	// Commands at the same moment each redeem the one stored refresh
	// token, which rotates: the login file's lock makes them take turns.
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			cmd := exec.Command(c.coffer, "keyvault", "secret", "show", "--vault-name", "dcvault", "-n", "s1", "--query", "value", "-o", "tsv")
			cmd.Env = c.env
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "from-the-user" {
				errs <- fmt.Sprintf("%v: %s", err, out)
				return
			}
			errs <- ""
		}()
	}
	for range 4 {
		if e := <-errs; e != "" {
			t.Errorf("a concurrent command: %s", e)
		}
	}
	if s := c.ok("keyvault", "secret", "show", "--vault-name", "dcvault", "-n", "s1"); field(s, "value") != "from-the-user" {
		t.Errorf("secret show: %v", s)
	}

	// A declined code fails the login and keeps the user's.
	page, code, wait = login()
	body, err := browser.get(page)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"otc": {code}, "op": {"cancel"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if got, err := browser.post(page, form); err != nil || !strings.Contains(got, "Sign-in canceled") {
		t.Fatalf("cancel: %v\n%s", err, got)
	}
	if _, errOut, err := wait(); err == nil || !strings.Contains(errOut, "authorization_declined") {
		t.Errorf("declined login: %v\n%s", err, errOut)
	}
	if acct := c.ok("account", "show"); field(acct, "user", "name") != admin.UserPrincipalName {
		t.Errorf("account show after a declined login: %v", acct)
	}

	c.ok("logout")
	if acct := c.ok("account", "show"); field(acct, "user", "name") != admin.ClientID || field(acct, "user", "type") != "servicePrincipal" {
		t.Errorf("account show after logout: %v", acct)
	}
}
