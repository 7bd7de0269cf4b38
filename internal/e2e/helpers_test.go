package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// createServicePrincipal adds a service principal with a client secret.
func createServicePrincipal(t *testing.T, env *testenv.Env, name string) (appID, secret string) {
	t.Helper()
	secret, cred := identity.NewClientSecret(time.Now())
	p := &model.Principal{
		ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: name,
		Type: model.PrincipalServicePrincipal, Credentials: []model.Credential{cred}, Created: time.Now(),
	}
	if err := env.Store.CreatePrincipal(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p.AppID, secret
}
