package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// failRoleAssignments fails role-assignment PUTs whose path contains
// failOn, as a server that refuses the last step would.
type failRoleAssignments struct {
	next   http.RoundTripper
	failOn string
}

func (f *failRoleAssignments) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "roleAssignments") && strings.Contains(r.URL.Path, f.failOn) {
		body := `{"error":{"code":"InternalServerError","message":"injected failure"}}`
		return &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

// adminSession is a CLI session as the admin of a fresh in-memory server.
func adminSession(t *testing.T) (*session, *testenv.Env) {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, env.CA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Addr, cloud.Local, caFile, env.Admin.TenantID, env.Admin.ClientID, env.Admin.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	sub := env.Instance.SubscriptionID
	for _, g := range []string{"rg1", "rg2"} {
		if err := env.Store.CreateResourceGroup(context.Background(), &model.ResourceGroup{Name: g, SubscriptionID: sub, Location: app.DefaultLocation}); err != nil {
			t.Fatal(err)
		}
	}
	return &session{c: c, info: &app.ServerInfo{Addr: env.Addr, CAFile: caFile, Cloud: cloud.Local.Name}, sub: sub}, env
}

// TestCreateForRBACAllOrNothing: create-for-rbac checks its input before
// creating anything, undoes what it created when a later step fails, and
// reuses an app of the same display name (its secret replaced) as az does.
func TestCreateForRBACAllOrNothing(t *testing.T) {
	s, env := adminSession(t)
	ctx := context.Background()
	rg := func(name string) string { return "/subscriptions/" + s.sub + "/resourceGroups/" + name }
	const role = "Key Vault Secrets User"

	apps := func(name string) []graphApp {
		t.Helper()
		var out struct {
			Value []graphApp `json:"value"`
		}
		if _, err := s.c.Graph(ctx, "GET", "/v1.0/applications?$filter="+url.QueryEscape("displayName eq '"+name+"'"), nil, &out); err != nil {
			t.Fatal(err)
		}
		return out.Value
	}
	assignments := func() int {
		t.Helper()
		all, err := env.Store.ListRoleAssignments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	canLogIn := func(appID, password string) bool {
		c, err := client.New(s.info.Addr, cloud.Local, s.info.CAFile, s.c.TenantID, appID, password)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Token(ctx, c.ManagementResource())
		return err == nil
	}
	create := func(name string, scopes ...string) (map[string]string, string, error) {
		var out, errOut bytes.Buffer
		err := runCreateForRBAC(ctx, s, name, role, scopes, &out, &errOut)
		var res map[string]string
		if err == nil {
			if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
				t.Fatalf("output: %v\n%s", jerr, out.String())
			}
		}
		return res, errOut.String(), err
	}
	base := assignments()

	// Bad input: nothing is created.
	for _, tc := range []struct {
		name, role string
		scopes     []string
		want       string
	}{
		{"unknown role", "Key Vault Frobnicator", []string{rg("rg1")}, "doesn't exist"},
		{"missing group", role, []string{rg("rg1"), rg("nope")}, "ResourceGroupNotFound"},
		{"not a scope", role, []string{"rg1"}, "is not a scope"},
		{"role without scopes", role, nil, "specify both --role and --scopes"},
	} {
		err := runCreateForRBAC(ctx, s, "bad-"+tc.name, tc.role, tc.scopes, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if len(apps("bad-"+tc.name)) != 0 || assignments() != base {
			t.Errorf("%s: something was created", tc.name)
		}
	}

	// A failing role assignment undoes the new app, its principal, its
	// secret and the assignments made before it.
	next := s.c.HTTP.Transport
	s.c.HTTP.Transport = &failRoleAssignments{next: next, failOn: "/resourceGroups/rg2/"}
	if _, _, err := create("bot", rg("rg1"), rg("rg2")); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("create-for-rbac with a failing assignment = %v", err)
	}
	if got := apps("bot"); len(got) != 0 || assignments() != base {
		t.Errorf("after a failed create-for-rbac: apps %v, %d assignments (want none, %d)", got, assignments(), base)
	}
	s.c.HTTP.Transport = next

	// Idempotent by display name: the same app, a new secret that
	// replaces the old one, the existing assignment kept.
	first, _, err := create("bot", rg("rg1"))
	if err != nil {
		t.Fatal(err)
	}
	second, warnings, err := create("bot", rg("rg1"))
	if err != nil {
		t.Fatal(err)
	}
	if second["appId"] != first["appId"] || second["password"] == first["password"] || second["displayName"] != "bot" || second["tenant"] != s.c.TenantID {
		t.Errorf("second create-for-rbac = %v, first %v", second, first)
	}
	for _, w := range []string{"Found an existing application instance: (id) ", "We will patch it.", "Role assignment already exists.", "credentials that you must protect"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings lack %q:\n%s", w, warnings)
		}
	}
	if canLogIn(first["appId"], first["password"]) || !canLogIn(second["appId"], second["password"]) {
		t.Error("the new secret should replace the old one")
	}
	if n := assignments(); n != base+1 {
		t.Errorf("%d assignments, want %d", n, base+1)
	}

	// A failed re-run leaves the existing app as it was: its secret works,
	// and no secret or assignment is added.
	s.c.HTTP.Transport = &failRoleAssignments{next: next, failOn: "/resourceGroups/rg2/"}
	if _, _, err := create("bot", rg("rg1"), rg("rg2")); err == nil {
		t.Fatal("create-for-rbac with a failing assignment succeeded")
	}
	s.c.HTTP.Transport = next
	got := apps("bot")
	if len(got) != 1 || len(got[0].PasswordCredentials) != 1 || !canLogIn(second["appId"], second["password"]) || assignments() != base+1 {
		t.Errorf("after a failed re-run: apps %+v, %d assignments", got, assignments())
	}
}
