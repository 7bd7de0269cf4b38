package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// Helpers for the authorization tests. Everything is done the way a user
// would do it, over HTTP against an AzureCloud-profile server: principals
// through Microsoft Graph (as `coffer ad sp create-for-rbac` does), vaults,
// access policies and role assignments through ARM, secrets through the
// unmodified azsecrets client. Nothing touches the store directly.

const (
	graphBase     = "https://graph.microsoft.com"
	armBase       = "https://management.azure.com"
	graphScope    = "https://graph.microsoft.com/.default"
	armScope      = "https://management.azure.com/.default"
	vaultsAPI     = "2023-07-01"
	roleAssignAPI = "2022-04-01"
	// authzLocation is deliberately not Coffer's default "local": denial
	// messages must name the vault's own location.
	authzLocation = "westeurope"
)

// Built-in role definition ids (azure-wire-spec §2.4).
const (
	roleKVAdministrator = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	roleSecretsOfficer  = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	roleSecretsUser     = "4633458b-17de-408a-b874-0445c86b69e6"
	roleKVReader        = "21090545-7ca7-4776-b22c-e363652d74d2"
	roleOwner           = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	roleContributor     = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	roleCertificateUser = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
	roleCryptoOfficer   = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
)

// azWorld is a running server plus the bootstrap admin's tokens.
type azWorld struct {
	env              *testenv.Env
	graphTok, armTok string
	tenant, sub, rg  string
	adminOID         string
	adminClient      map[string]*azsecrets.Client // by vault
}

func newAzWorld(t *testing.T) *azWorld {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := &azWorld{
		env: env, tenant: env.Instance.TenantID, sub: env.Instance.SubscriptionID, rg: env.Instance.DefaultGroup,
		adminOID: env.Instance.AdminObjectID, adminClient: map[string]*azsecrets.Client{},
	}
	w.graphTok = clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, graphScope)
	w.armTok = clientToken(t, env, env.Admin.ClientID, env.Admin.ClientSecret, armScope)
	return w
}

// do sends a JSON request (body nil: none) and returns the response.
func (w *azWorld) do(t *testing.T, method, url, tok string, body any) *rawResp {
	t.Helper()
	var b []byte
	if body != nil {
		b = jsonBody(t, body)
	}
	return rawDo(t, w.env, method, url, tok, b, nil)
}

func (w *azWorld) graph(t *testing.T, method, path, tok string, body any) *rawResp {
	t.Helper()
	return w.do(t, method, graphBase+path, tok, body)
}

func (w *azWorld) arm(t *testing.T, method, path, api, tok string, body any) *rawResp {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return w.do(t, method, armBase+path+sep+"api-version="+api, tok, body)
}

// jsonInto unmarshals a response body into v.
func (r *rawResp) jsonInto(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("status %d body %q: %v", r.Status, r.Body, err)
	}
}

// expect fails the test unless the response has the given status.
func (r *rawResp) expect(t *testing.T, what string, status int) *rawResp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Body, status)
	}
	return r
}

// azPrincipal is a service principal created through Graph.
type azPrincipal struct {
	Name        string
	AppID       string // client id
	ObjectID    string // service principal object id (token oid)
	AppObjectID string // application object id (Graph /applications/{id})
	Secret      string
	KeyID       string
}

// newPrincipal registers an application, creates its service principal
// and adds a password, as `az ad sp create-for-rbac` does.
func (w *azWorld) newPrincipal(t *testing.T, name string) azPrincipal {
	t.Helper()
	var app struct {
		ID, AppID, DisplayName string
	}
	w.graph(t, "POST", "/v1.0/applications", w.graphTok, map[string]any{"displayName": name}).
		expect(t, "create application "+name, http.StatusCreated).jsonInto(t, &app)
	var sp struct {
		ID, AppID string
	}
	w.graph(t, "POST", "/v1.0/servicePrincipals", w.graphTok, map[string]any{"appId": app.AppID}).
		expect(t, "create service principal "+name, http.StatusCreated).jsonInto(t, &sp)
	p := azPrincipal{Name: name, AppID: app.AppID, ObjectID: sp.ID, AppObjectID: app.ID}
	p.Secret, p.KeyID = w.addPassword(t, p)
	if app.ID == "" || app.AppID == "" || sp.ID == "" || sp.AppID != app.AppID || sp.ID == app.ID {
		t.Fatalf("application %+v / service principal %+v: ids missing or inconsistent", app, sp)
	}
	return p
}

// addPassword adds a client secret to p's application.
func (w *azWorld) addPassword(t *testing.T, p azPrincipal) (secret, keyID string) {
	t.Helper()
	var cred struct {
		KeyID      string `json:"keyId"`
		SecretText string `json:"secretText"`
	}
	w.graph(t, "POST", "/v1.0/applications/"+p.AppObjectID+"/addPassword", w.graphTok,
		map[string]any{"passwordCredential": map[string]any{"displayName": "test"}}).
		expect(t, "addPassword "+p.Name, http.StatusOK).jsonInto(t, &cred)
	if cred.SecretText == "" || !guidRE.MatchString(cred.KeyID) {
		t.Fatalf("addPassword = %+v", cred)
	}
	return cred.SecretText, cred.KeyID
}

// token is an access token for p with the given scope.
func (w *azWorld) token(t *testing.T, p azPrincipal, scope string) string {
	t.Helper()
	return clientToken(t, w.env, p.AppID, p.Secret, scope)
}

// client is an unmodified azsecrets client for p on vault.
func (w *azWorld) client(t *testing.T, p azPrincipal, vault string) *azsecrets.Client {
	t.Helper()
	return sdkClient(t, w.env, vault, p.AppID, p.Secret)
}

// admin is the bootstrap admin's azsecrets client on vault.
func (w *azWorld) admin(t *testing.T, vault string) *azsecrets.Client {
	t.Helper()
	if c := w.adminClient[vault]; c != nil {
		return c
	}
	c := sdkClient(t, w.env, vault, w.env.Admin.ClientID, w.env.Admin.ClientSecret)
	w.adminClient[vault] = c
	return c
}

// Scopes.
func (w *azWorld) subID() string { return "/subscriptions/" + w.sub }
func (w *azWorld) rgID() string  { return w.subID() + "/resourceGroups/" + w.rg }
func (w *azWorld) vaultID(name string) string {
	return w.rgID() + "/providers/Microsoft.KeyVault/vaults/" + name
}

// policyEntry is an ARM access-policy entry with secret permissions.
func policyEntry(tenant, objectID, appID string, secrets ...string) map[string]any {
	e := map[string]any{"tenantId": tenant, "objectId": objectID, "permissions": map[string]any{"secrets": secrets}}
	if appID != "" {
		e["applicationId"] = appID
	}
	return e
}

// createVault creates a vault through ARM; the admin always gets an
// access-policy entry with every secret permission.
func (w *azWorld) createVault(t *testing.T, name string, rbac bool) {
	t.Helper()
	body := map[string]any{"location": authzLocation, "properties": map[string]any{
		"tenantId": w.tenant, "sku": map[string]any{"family": "A", "name": "standard"},
		"accessPolicies":          []any{policyEntry(w.tenant, w.adminOID, "", "all")},
		"enableRbacAuthorization": rbac,
	}}
	var v struct {
		Properties struct {
			EnableRbacAuthorization bool `json:"enableRbacAuthorization"`
		} `json:"properties"`
	}
	w.arm(t, "PUT", w.vaultID(name), vaultsAPI, w.armTok, body).expect(t, "create vault "+name, http.StatusCreated).jsonInto(t, &v)
	if v.Properties.EnableRbacAuthorization != rbac {
		t.Fatalf("vault %s: enableRbacAuthorization = %v, want %v", name, v.Properties.EnableRbacAuthorization, rbac)
	}
	if rbac {
		// In RBAC mode even the admin needs a data role to prepare state.
		w.assignRole(t, w.armTok, w.vaultID(name), roleKVAdministrator, w.adminOID).expect(t, "admin role", http.StatusCreated)
	}
}

// addPolicy adds an access-policy entry to vault with tok's authority.
func (w *azWorld) addPolicy(t *testing.T, tok, vault string, entry map[string]any) *rawResp {
	t.Helper()
	return w.arm(t, "PUT", w.vaultID(vault)+"/accessPolicies/add", vaultsAPI, tok,
		map[string]any{"properties": map[string]any{"accessPolicies": []any{entry}}})
}

// assignRole creates a role assignment at scope with tok's authority.
func (w *azWorld) assignRole(t *testing.T, tok, scope, role, principalID string) *rawResp {
	t.Helper()
	return w.arm(t, "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString(), roleAssignAPI, tok,
		map[string]any{"properties": map[string]any{
			"roleDefinitionId": w.subID() + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
			"principalId":      principalID, "principalType": "ServicePrincipal",
		}})
}

// kv sends a raw data-plane request to vault.
func (w *azWorld) kv(t *testing.T, method, vault, path, tok string, body []byte) *rawResp {
	t.Helper()
	return rawDo(t, w.env, method, strings.TrimSuffix(w.env.VaultURL(vault), "/")+path, tok, body, nil)
}

// accessDeniedMsg is the exact 403 AccessDenied message (wire spec §1.9).
func (w *azWorld) accessDeniedMsg(p azPrincipal, perm, vault string) string {
	return fmt.Sprintf("The user, group or application 'appid=%s;oid=%s;iss=https://sts.windows.net/%s/' does not have secrets %s permission on key vault '%s;location=%s'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
		p.AppID, p.ObjectID, w.tenant, perm, vault, authzLocation)
}

// rbacDeniedMsg is the exact 403 ForbiddenByRbac message (wire spec §1.9);
// the resource path is lower-cased.
func (w *azWorld) rbacDeniedMsg(p azPrincipal, action, vault, secret string) string {
	res := strings.ToLower(w.vaultID(vault))
	if secret != "" {
		res += "/secrets/" + strings.ToLower(secret)
	}
	return "Caller is not authorized to perform action on resource.\r\n" +
		"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
		"Caller: appid=" + p.AppID + ";oid=" + p.ObjectID + ";iss=https://sts.windows.net/" + w.tenant + "/\r\n" +
		"Action: '" + action + "'\r\n" +
		"Resource: '" + res + "'\r\n" +
		"Assignment: (not found)\r\n" +
		"DenyAssignmentId: null\r\n" +
		"DecisionReason: 'DeniedWithNoValidRBAC' \r\n" +
		"Vault: " + vault + ";location=" + authzLocation + "\r\n"
}

var nonName = regexp.MustCompile(`[^0-9a-zA-Z]+`)

// secretSuffix turns a test name into a secret-name suffix.
func secretSuffix(name string) string {
	return strings.Trim(nonName.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// opFixture is the state one identity's operations run against, prepared
// by the admin so that every operation is meaningful: a live secret, one to
// delete, soft-deleted ones to get, recover and purge, and a backup blob of
// a purged secret to restore.
type opFixture struct {
	vault     string
	suffix    string
	live      string // live secret (get, update, versions, backup)
	liveValue string
	del       string // live, to delete
	gone      string // soft-deleted (get-deleted, list-deleted)
	recover   string // soft-deleted, to recover
	purge     string // soft-deleted, to purge
	fresh     string // does not exist, to set
	restored  string // purged; blob restores it
	blob      []byte
}

// prepare builds a fixture on vault as the admin.
func (w *azWorld) prepare(t *testing.T, vault, suffix string) *opFixture {
	t.Helper()
	ctx := context.Background()
	c := w.admin(t, vault)
	fx := &opFixture{
		vault: vault, suffix: suffix, live: "live-" + suffix, liveValue: "value-" + suffix, del: "del-" + suffix,
		gone: "gone-" + suffix, recover: "rec-" + suffix, purge: "purge-" + suffix, fresh: "new-" + suffix, restored: "rest-" + suffix,
	}
	set := func(name, value string) {
		t.Helper()
		if _, err := c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to.Ptr(value)}, nil); err != nil {
			t.Fatalf("admin SetSecret(%s): %v", name, err)
		}
	}
	del := func(name string) {
		t.Helper()
		if _, err := c.DeleteSecret(ctx, name, nil); err != nil {
			t.Fatalf("admin DeleteSecret(%s): %v", name, err)
		}
	}
	set(fx.live, "old-"+suffix)
	set(fx.live, fx.liveValue)
	set(fx.del, "x")
	for _, n := range []string{fx.gone, fx.recover, fx.purge, fx.restored} {
		set(n, "x")
	}
	bk, err := c.BackupSecret(ctx, fx.restored, nil)
	if err != nil {
		t.Fatalf("admin BackupSecret: %v", err)
	}
	fx.blob = bk.Value
	for _, n := range []string{fx.gone, fx.recover, fx.purge, fx.restored} {
		del(n)
	}
	if _, err := c.PurgeDeletedSecret(ctx, fx.restored, nil); err != nil {
		t.Fatalf("admin PurgeDeletedSecret: %v", err)
	}
	return fx
}

// secretOp is one secret operation with its access-policy permission and
// RBAC dataAction (wire spec §1.5, §2.3, §2.4). sdk performs it with the
// unmodified client and checks the result means what it should; raw is the
// same request for inspecting the error body.
type secretOp struct {
	name   string
	perm   string
	action string
	target func(fx *opFixture) string // secret addressed; "" = the vault
	sdk    func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error
	raw    func(fx *opFixture) (method, path string, body []byte)
}

const dataActionPrefix = "Microsoft.KeyVault/vaults/secrets/"

// allOpNames lists every operation, in secretOps order.
func allOpNames() []string {
	var out []string
	for _, op := range secretOps {
		out = append(out, op.name)
	}
	return out
}

// found reports whether want is among listed names (case-insensitively).
func found(names []string, want string) error {
	if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, want) }) {
		return fmt.Errorf("%s not listed in %v", want, names)
	}
	return nil
}

var secretOps = []secretOp{
	{
		name: "set", perm: "set", action: dataActionPrefix + "setSecret/action",
		target: func(fx *opFixture) string { return fx.fresh },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.SetSecret(ctx, fx.fresh, azsecrets.SetSecretParameters{Value: to.Ptr("set-by-caller")}, nil)
			if err == nil && (r.Value == nil || *r.Value != "set-by-caller" || r.ID.Name() != fx.fresh) {
				return fmt.Errorf("SetSecret returned %+v", r.Secret)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "PUT", "/secrets/" + fx.fresh + "?api-version=7.6", []byte(`{"value":"v"}`)
		},
	},
	{
		name: "get", perm: "get", action: dataActionPrefix + "getSecret/action",
		target: func(fx *opFixture) string { return fx.live },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.GetSecret(ctx, fx.live, "", nil)
			if err == nil && (r.Value == nil || *r.Value != fx.liveValue) {
				return fmt.Errorf("GetSecret value = %v, want %s", r.Value, fx.liveValue)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "GET", "/secrets/" + fx.live + "/?api-version=7.6", nil
		},
	},
	{
		name: "update", perm: "set", action: dataActionPrefix + "update/action",
		target: func(fx *opFixture) string { return fx.live },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.UpdateSecretProperties(ctx, fx.live, "", azsecrets.UpdateSecretPropertiesParameters{
				Tags: map[string]*string{"updated": to.Ptr("yes")}}, nil)
			if err == nil && (r.Tags["updated"] == nil || r.Value != nil) {
				return fmt.Errorf("UpdateSecretProperties returned %+v", r.Secret)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "PATCH", "/secrets/" + fx.live + "/?api-version=7.6", []byte(`{"tags":{"a":"b"}}`)
		},
	},
	{
		name: "delete", perm: "delete", action: dataActionPrefix + "delete",
		target: func(fx *opFixture) string { return fx.del },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.DeleteSecret(ctx, fx.del, nil)
			if err == nil && (r.RecoveryID == nil || r.ID.Name() != fx.del) {
				return fmt.Errorf("DeleteSecret returned %+v", r.DeletedSecret)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "DELETE", "/secrets/" + fx.del + "?api-version=7.6", nil
		},
	},
	{
		name: "list", perm: "list", action: dataActionPrefix + "readMetadata/action",
		target: func(*opFixture) string { return "" },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			var names []string
			for p := c.NewListSecretPropertiesPager(nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, s := range page.Value {
					names = append(names, s.ID.Name())
				}
			}
			return found(names, fx.live)
		},
		raw: func(*opFixture) (string, string, []byte) { return "GET", "/secrets?api-version=7.6", nil },
	},
	{
		name: "versions", perm: "list", action: dataActionPrefix + "readMetadata/action",
		target: func(fx *opFixture) string { return fx.live },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			n := 0
			for p := c.NewListSecretPropertiesVersionsPager(fx.live, nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				n += len(page.Value)
			}
			if n != 2 {
				return fmt.Errorf("listed %d versions of %s, want 2", n, fx.live)
			}
			return nil
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "GET", "/secrets/" + fx.live + "/versions?api-version=7.6", nil
		},
	},
	{
		name: "list-deleted", perm: "list", action: dataActionPrefix + "readMetadata/action",
		target: func(*opFixture) string { return "" },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			var names []string
			for p := c.NewListDeletedSecretPropertiesPager(nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return err
				}
				for _, s := range page.Value {
					names = append(names, s.ID.Name())
				}
			}
			return found(names, fx.gone)
		},
		raw: func(*opFixture) (string, string, []byte) { return "GET", "/deletedsecrets?api-version=7.6", nil },
	},
	{
		name: "get-deleted", perm: "get", action: dataActionPrefix + "readMetadata/action",
		target: func(fx *opFixture) string { return fx.gone },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.GetDeletedSecret(ctx, fx.gone, nil)
			if err == nil && (r.RecoveryID == nil || r.ID.Name() != fx.gone || r.Value != nil) {
				return fmt.Errorf("GetDeletedSecret returned %+v", r.DeletedSecret)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "GET", "/deletedsecrets/" + fx.gone + "?api-version=7.6", nil
		},
	},
	{
		name: "purge", perm: "purge", action: dataActionPrefix + "purge/action",
		target: func(fx *opFixture) string { return fx.purge },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			_, err := c.PurgeDeletedSecret(ctx, fx.purge, nil)
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "DELETE", "/deletedsecrets/" + fx.purge + "?api-version=7.6", nil
		},
	},
	{
		name: "recover", perm: "recover", action: dataActionPrefix + "recover/action",
		target: func(fx *opFixture) string { return fx.recover },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.RecoverDeletedSecret(ctx, fx.recover, nil)
			if err == nil && r.ID.Name() != fx.recover {
				return fmt.Errorf("RecoverDeletedSecret returned %+v", r.Secret)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "POST", "/deletedsecrets/" + fx.recover + "/recover?api-version=7.6", nil
		},
	},
	{
		name: "backup", perm: "backup", action: dataActionPrefix + "backup/action",
		target: func(fx *opFixture) string { return fx.live },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.BackupSecret(ctx, fx.live, nil)
			if err == nil && len(r.Value) == 0 {
				return fmt.Errorf("BackupSecret returned an empty blob")
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "POST", "/secrets/" + fx.live + "/backup?api-version=7.6", nil
		},
	},
	{
		name: "restore", perm: "restore", action: dataActionPrefix + "restore/action",
		target: func(*opFixture) string { return "" },
		sdk: func(ctx context.Context, c *azsecrets.Client, fx *opFixture) error {
			r, err := c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: fx.blob}, nil)
			if err == nil && r.ID.Name() != fx.restored {
				return fmt.Errorf("RestoreSecret returned %+v", r.Secret)
			}
			return err
		},
		raw: func(fx *opFixture) (string, string, []byte) {
			return "POST", "/secrets/restore?api-version=7.6", []byte(`{"value":"` + base64.RawURLEncoding.EncodeToString(fx.blob) + `"}`)
		},
	},
}

// denial says how a denied operation must fail.
type denial int

const (
	deniedByPolicy denial = iota // 403 Forbidden/AccessDenied
	deniedByRbac                 // 403 Forbidden/ForbiddenByRbac
)

// checkOps runs every secret operation as p against fx: those in allowed
// must succeed through the SDK; every other one must be 403 Forbidden
// through the SDK, and through raw HTTP carry the inner code and the exact
// message of wire spec §1.9.
func (w *azWorld) checkOps(t *testing.T, p azPrincipal, fx *opFixture, allowed []string, how denial) {
	t.Helper()
	ctx := context.Background()
	c := w.client(t, p, fx.vault)
	tok := w.token(t, p, vaultScope)
	for _, op := range secretOps {
		t.Run(op.name, func(t *testing.T) {
			err := op.sdk(ctx, c, fx)
			if slices.Contains(allowed, op.name) {
				if err != nil {
					t.Fatalf("%s as %s: %v, want success", op.name, p.Name, err)
				}
				return
			}
			wantStatus(t, op.name+" as "+p.Name, err, http.StatusForbidden, "Forbidden")
			method, path, body := op.raw(fx)
			r := w.kv(t, method, fx.vault, path, tok, body)
			switch how {
			case deniedByPolicy:
				msg := r.wantKVError(t, method+" "+path, http.StatusForbidden, "Forbidden", "AccessDenied")
				if want := w.accessDeniedMsg(p, op.perm, fx.vault); msg != want {
					t.Errorf("message =\n%q\nwant\n%q", msg, want)
				}
			case deniedByRbac:
				msg := r.wantKVError(t, method+" "+path, http.StatusForbidden, "Forbidden", "ForbiddenByRbac")
				if want := w.rbacDeniedMsg(p, op.action, fx.vault, op.target(fx)); msg != want {
					t.Errorf("message =\n%q\nwant\n%q", msg, want)
				}
			}
		})
	}
}
