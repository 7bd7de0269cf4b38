package client_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

func newClient(t *testing.T, p cloud.Profile) (*testenv.Env, *client.Client) {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: p})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, env.CA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Addr, env.Profile, caFile, env.Instance.TenantID, env.Admin.ClientID, env.Admin.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return env, c
}

// TestClient: the CLI's client reaches every API of a real server, caches
// tokens per resource, and turns error bodies into *client.Error.
func TestClient(t *testing.T) {
	for _, p := range []cloud.Profile{cloud.Local, cloud.AzureCloud} {
		t.Run(p.Name, func(t *testing.T) {
			env, c := newClient(t, p)
			ctx := context.Background()
			sub := env.Instance.SubscriptionID
			var groups struct{ Value []struct{ Name string } }
			if st, err := c.ARM(ctx, "GET", "/subscriptions/"+sub+"/resourcegroups", nil, &groups); err != nil || st != 200 || len(groups.Value) == 0 {
				t.Fatalf("ARM list groups = %d, %v, %v", st, err, groups)
			}
			if st, err := c.KeyVault(ctx, env.Instance.DefaultVault, "PUT", "/secrets/c1", map[string]string{"value": "v"}, nil); err != nil || st != 200 {
				t.Fatalf("KeyVault PUT = %d, %v", st, err)
			}
			var sec struct{ Value string }
			if _, err := c.KeyVault(ctx, env.Instance.DefaultVault, "GET", "/secrets/c1", nil, &sec); err != nil || sec.Value != "v" {
				t.Fatalf("KeyVault GET = %+v, %v", sec, err)
			}
			var sps struct{ Value []any }
			if _, err := c.Graph(ctx, "GET", "/v1.0/servicePrincipals", nil, &sps); err != nil || len(sps.Value) == 0 {
				t.Fatalf("Graph = %v, %v", sps, err)
			}

			_, err := c.KeyVault(ctx, env.Instance.DefaultVault, "GET", "/secrets/missing", nil, nil)
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Code != "SecretNotFound" || !client.IsNotFound(err) {
				t.Errorf("missing secret: %#v", err)
			}
			if !strings.HasPrefix(err.Error(), "(SecretNotFound) ") {
				t.Errorf("Error() = %q", err.Error())
			}
			_, err = c.ARM(ctx, "GET", "/subscriptions/"+sub+"/resourcegroups/missing", nil, nil)
			if !client.IsNotFound(err) {
				t.Errorf("missing group: %v", err)
			}

			t1, _, err := c.Token(ctx, c.VaultResource())
			if err != nil {
				t.Fatal(err)
			}
			t2, _, _ := c.Token(ctx, c.VaultResource())
			t3, _, _ := c.Token(ctx, c.ManagementResource())
			if t1 != t2 || t1 == t3 {
				t.Error("tokens are not cached per resource")
			}
		})
	}
}

// TestClientBadCredentials: a wrong secret is an *Error carrying Entra's
// code, and the secret is not in its message.
func TestClientBadCredentials(t *testing.T) {
	env, c := newClient(t, cloud.Local)
	c.ClientSecret = "wrong-secret-value"
	_, err := c.ARM(context.Background(), "GET", "/subscriptions/"+env.Instance.SubscriptionID+"/resourcegroups", nil, nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized || ce.Code != "invalid_client" {
		t.Fatalf("wrong secret: %#v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Error("the error reveals the secret")
	}
	if client.IsNotFound(err) {
		t.Error("a 401 reads as not found")
	}
}

func TestNewRejectsBadCA(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{bad, filepath.Join(dir, "missing.pem")} {
		if _, err := client.New("127.0.0.1:1", cloud.Local, f, "t", "c", "s"); err == nil {
			t.Errorf("New(%s) accepted it", f)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    client.Error
		want string
	}{
		{client.Error{Status: 502}, "HTTP 502"},
		{client.Error{Status: 403, Code: "Forbidden", Message: " denied \n", Inner: "AccessDenied"}, "(Forbidden) denied\nInner error: AccessDenied"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
