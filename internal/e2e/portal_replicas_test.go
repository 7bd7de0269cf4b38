package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// roundRobin is a TCP load balancer without stickiness: each connection
// goes to the next backend. With keep-alives off, so does each request.
type roundRobin struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	served   []atomic.Int64
}

func newRoundRobin(t *testing.T, backends ...string) *roundRobin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &roundRobin{ln: ln, backends: backends, served: make([]atomic.Int64, len(backends))}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(lb.next.Add(1)-1) % len(backends)
			lb.served[i].Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b, err := net.DialTimeout("tcp", backends[i], 5*time.Second)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return lb
}

// TestPortalBehindLoadBalancer: two replicas on one etcd cluster behind a
// load balancer without sticky sessions, every request on a new
// connection to the next replica. The portal sign-in (pending sign-in,
// authorization code, session) and the pages after it (with token
// refreshes for Graph and Key Vault, the refresh token rotating on either
// replica) work; signing out ends the session on both replicas and revokes
// its refresh token; failed sign-ins are counted across the replicas.
func TestPortalBehindLoadBalancer(t *testing.T) {
	endpoint := etcdtest.Endpoint(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "portal-lb-" + hex.EncodeToString(b) + "/"
	shared := t.TempDir()
	start := func(name string) *testenv.Env {
		s, err := app.Start(context.Background(), app.Config{
			Addr: "127.0.0.1:0", Cloud: cloud.Local, DataDir: filepath.Join(t.TempDir(), name),
			EtcdEndpoints: []string{endpoint}, EtcdPrefix: prefix, MasterKeyFile: filepath.Join(shared, "master.key"),
			Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		return &testenv.Env{Server: s, T: t}
	}
	// One after the other: the first bootstraps and holds the admin user.
	a := start("a")
	bEnv := start("b")
	admin := a.Admin
	if admin == nil || admin.Password == "" {
		t.Fatal("replica a did not bootstrap the admin user")
	}
	lb := newRoundRobin(t, a.Addr, bEnv.Addr)
	_, port, _ := net.SplitHostPort(lb.ln.Addr().String())
	base := "https://localhost:" + port

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: a.CA.Pool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, lb.ln.Addr().String())
		},
	}}
	var last string
	do := func(req *http.Request) *http.Response {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		return resp
	}
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		return do(req)
	}
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(req)
	}
	formOf := func(extra url.Values) url.Values {
		for _, m := range hiddenInput.FindAllStringSubmatch(last, -1) {
			extra.Set(m[1], html.UnescapeString(m[2]))
		}
		return extra
	}

	// Sign in: the portal's redirect, the sign-in page, its POST, the
	// callback and the first page each land on a replica in turn.
	resp := get("/portal/")
	if !strings.Contains(last, "Sign in") {
		t.Fatalf("no sign-in page: %d %s", resp.StatusCode, last)
	}
	resp = post(resp.Request.URL.RequestURI(), formOf(url.Values{"login": {admin.UserPrincipalName}, "passwd": {admin.Password}}))
	if resp.StatusCode != 200 || !strings.Contains(last, "Signed in as Coffer Admin") {
		t.Fatalf("after sign-in: %d %s", resp.StatusCode, last)
	}
	// Pages that need tokens for Graph (access policies: principal names)
	// and Key Vault (secrets), alternately on both replicas, twice.
	for i := range 2 {
		for _, p := range []string{"/portal/kv/coffer/default/access-policies", "/portal/kv/coffer/default/secrets", "/portal/resourcegroups"} {
			if resp := get(p); resp.StatusCode != 200 || !strings.Contains(last, `<span class="user">Coffer Admin</span>`) || strings.Contains(last, "sign-in has expired") {
				t.Fatalf("round %d, %s: %d %s", i, p, resp.StatusCode, last)
			}
		}
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(last)
	if csrf == nil {
		t.Fatalf("no csrf token: %s", last)
	}
	if resp := post("/portal/create/resourcegroup/form", url.Values{"csrf": {csrf[1]}, "name": {"lb-rg"}, "region": {"eastus"}}); resp.StatusCode != 200 ||
		!strings.Contains(resp.Request.URL.Path, "/rg/lb-rg") {
		t.Fatalf("create resource group: %d %s %s", resp.StatusCode, resp.Request.URL, last)
	}
	liveRefresh := func() int {
		n, err := a.Store.SweepEphemeral(context.Background(), "refresh", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := liveRefresh(); n != 1 {
		t.Errorf("%d live refresh tokens while signed in, want 1 (each rotation spends the last)", n)
	}

	cookies := jar.Cookies(&url.URL{Scheme: "https", Host: "localhost", Path: "/portal/"})
	if resp := post("/portal/signout", url.Values{"csrf": {csrf[1]}}); !strings.Contains(resp.Request.URL.Path, "/portal/signedout") {
		t.Fatalf("sign out: %d %s", resp.StatusCode, resp.Request.URL)
	}
	if n := liveRefresh(); n != 0 {
		t.Errorf("%d live refresh tokens after sign-out, want 0", n)
	}
	// The old cookie opens nothing on either replica.
	for _, env := range []*testenv.Env{a, bEnv} {
		req, _ := http.NewRequest("GET", "https://localhost:"+env.Port()+"/portal/resourcegroups", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		direct := &http.Client{Transport: env.Transport(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r, err := direct.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusFound || !strings.Contains(r.Header.Get("Location"), "/oauth2/v2.0/authorize") {
			t.Errorf("old session cookie at %s: %d %s", env.Addr, r.StatusCode, r.Header.Get("Location"))
		}
	}
	// Bad passwords through the balancer, then the right one directly on
	// each replica: both refuse it, though at least one of them saw fewer
	// failures than the limit itself (the count is in the shared store).
	for i := range 5 {
		resp := get("/portal/")
		post(resp.Request.URL.RequestURI(), formOf(url.Values{"login": {admin.UserPrincipalName}, "passwd": {"wrong"}}))
		if !strings.Contains(last, "AADSTS50126") {
			t.Fatalf("bad password %d: %s", i, last)
		}
	}
	for _, env := range []*testenv.Env{a, bEnv} {
		direct := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: env.Transport()}
		r, err := direct.Get("https://localhost:" + env.Port() + "/portal/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(r.Body)
		r.Body.Close()
		last = string(page)
		form := formOf(url.Values{"login": {admin.UserPrincipalName}, "passwd": {admin.Password}})
		r, err = direct.PostForm(r.Request.URL.String(), form)
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(page), "AADSTS50053") {
			t.Errorf("right password after 5 bad ones, at %s: %d %.300s", env.Addr, r.StatusCode, page)
		}
	}
	if lb.served[0].Load() < 5 || lb.served[1].Load() < 5 {
		t.Errorf("the load balancer sent %d and %d requests: both replicas must serve", lb.served[0].Load(), lb.served[1].Load())
	}
}
