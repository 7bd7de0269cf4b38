package e2e

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestAzCLI drives Coffer with the real Azure CLI (Debian's azure-cli
// 2.45) the way the tutorial does, with the AzureCloud names pinned to
// Coffer and nothing else configured but the CA. The subtests share one
// server and the administrator's az profile: az needs one to two seconds
// per command, so each subtest prepares only what it needs, with the
// coffer CLI where the step under test is elsewhere.
//
// Debian's az 2.45 cannot run some commands whatever the server does, so
// the test sends the same requests with `az rest` there:
//   - `az keyvault secret …`: the package ships without the old data-plane
//     SDK the command module imports ("ModuleNotFoundError: No module named
//     'azure.keyvault.v7_0'", raised before any request).
//   - `az role assignment create/list` (list once it has results) and `az
//     role definition list`: the packaged azure-mgmt-authorization 3.0 has
//     no `.config` on its operation groups ("AttributeError:
//     'RoleAssignmentsOperations' object has no attribute 'config'"), again
//     before any request.
func TestAzCLI(t *testing.T) {
	az := requireAzCLI(t)
	a := newAzureNS(t, "kvaz", "kvazdel", "kvazrbac", "kvazmi")
	// The operator's shell: eval "$(coffer env)" (the CA for requests,
	// REQUESTS_CA_BUNDLE, comes from there), then az login with the
	// administrator's service principal it exports.
	admin := a.newAzAfterEnv(t, az)

	subs := admin.login(a.clientID, a.secret, a.tenant)
	if len(subs) != 1 {
		t.Fatalf("az login --service-principal listed %d subscriptions, want 1: %v", len(subs), subs)
	}
	sub, _ := subs[0].(map[string]any)
	subID := str(sub, "id")
	for _, c := range [][2]string{
		{str(sub, "cloudName"), "AzureCloud"}, {str(sub, "tenantId"), a.tenant}, {str(sub, "isDefault"), "true"},
		{str(sub, "state"), "Enabled"}, {str(sub, "user", "name"), a.clientID}, {str(sub, "user", "type"), "servicePrincipal"},
	} {
		if c[0] != c[1] {
			t.Errorf("az login: got %q, want %q in %v", c[0], c[1], sub)
		}
	}
	rgID := "/subscriptions/" + subID + "/resourceGroups/az-rg"
	if g := admin.obj("group", "create", "-n", "az-rg", "-l", "eastus"); str(g, "id") != rgID {
		t.Fatalf("group create printed %v", g)
	}
	adminOID := str(a.cli(t, "ad", "sp", "show", "--id", a.clientID), "id")

	t.Run("resource groups", func(t *testing.T) {
		c := admin.in(t)
		if got := str(c.obj("account", "show"), "id"); got != subID {
			t.Errorf("account show id = %q, want %q", got, subID)
		}
		g := c.obj("group", "show", "-n", "az-rg")
		if str(g, "id") != rgID || str(g, "location") != "eastus" || str(g, "properties", "provisioningState") != "Succeeded" ||
			str(g, "type") != "Microsoft.Resources/resourceGroups" {
			t.Errorf("group show = %v", g)
		}
		if names := c.tsv("group", "list", "--query", "[].name"); !slices.Contains(names, "az-rg") {
			t.Errorf("group list = %v, want az-rg among them", names)
		}
		c.obj("group", "create", "-n", "az-tmp", "-l", "westeurope")
		c.run("group", "delete", "-n", "az-tmp", "--yes")
		if got := c.tsv("group", "exists", "-n", "az-tmp"); !slices.Equal(got, []string{"false"}) {
			t.Errorf("group exists after delete = %v", got)
		}
		if msg := c.fails("group", "show", "-n", "az-tmp"); !strings.Contains(msg, "(ResourceGroupNotFound) Resource group 'az-tmp' could not be found.") {
			t.Errorf("group show of a deleted group said %q", msg)
		}
	})

	t.Run("key vault without -g", func(t *testing.T) {
		c := admin.in(t)
		vaultID := rgID + "/providers/Microsoft.KeyVault/vaults/kvaz"
		// Plain create: az looks the caller up in Graph and gives it an
		// access policy.
		v := c.obj("keyvault", "create", "-n", "kvaz", "-g", "az-rg", "-l", "eastus")
		if str(v, "id") != vaultID || str(v, "properties", "vaultUri") != "https://kvaz.vault.azure.net/" ||
			str(v, "properties", "tenantId") != a.tenant || str(v, "properties", "enableSoftDelete") != "true" {
			t.Errorf("keyvault create = %v", v)
		}
		// az 2.45 asks for "all" (api-version 2019-09-01 and later).
		if got, want := policySecrets(v, adminOID), "all"; got != want {
			t.Errorf("creator's secret permissions = %q, want %q", got, want)
		}
		// show, list and set-policy find the vault's group through
		// GET /subscriptions/{sub}/resources?$filter=resourceType eq 'Microsoft.KeyVault/vaults'.
		if s := c.obj("keyvault", "show", "-n", "kvaz"); str(s, "id") != vaultID || str(s, "resourceGroup") != "az-rg" {
			t.Errorf("keyvault show -n = %v", s)
		}
		if names := c.tsv("keyvault", "list", "--query", "[].name"); !slices.Contains(names, "kvaz") {
			t.Errorf("keyvault list = %v, want kvaz among them", names)
		}
		id := c.obj("identity", "create", "-n", "az-app-id", "-g", "az-rg")
		principal := str(id, "principalId")
		if principal == "" || str(id, "clientId") == "" || str(id, "tenantId") != a.tenant ||
			str(id, "id") != rgID+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/az-app-id" {
			t.Errorf("identity create = %v", id)
		}
		p := c.obj("keyvault", "set-policy", "-n", "kvaz", "--object-id", principal, "--secret-permissions", "get", "list")
		if got := policySecrets(p, principal); got != "get list" {
			t.Errorf("set-policy: the identity's secret permissions = %q in %v", got, p)
		}
		// --spn: az finds the object ID with Graph's
		// servicePrincipalNames/any(c:c eq '<appId>'); the permissions
		// given replace the principal's secret permissions.
		p = c.obj("keyvault", "set-policy", "-n", "kvaz", "--spn", a.clientID, "--secret-permissions", "get", "list", "set", "delete")
		if got := policySecrets(p, adminOID); got != "delete get list set" {
			t.Errorf("set-policy --spn: the admin's secret permissions = %q in %v", got, p)
		}
		azKeyCertPermissions(t, c, "kvaz", a.clientID, adminOID)
		// The data plane through az rest (see the test's comment).
		url := "https://kvaz.vault.azure.net/secrets/greeting?api-version=7.4"
		put := c.obj("rest", "--method", "put", "--resource", "https://vault.azure.net", "--url", url, "--body", `{"value":"hello from az"}`)
		idRE := regexp.MustCompile(`^https://kvaz\.vault\.azure\.net/secrets/greeting/[0-9a-f]{32}$`)
		if str(put, "value") != "hello from az" || !idRE.MatchString(str(put, "id")) {
			t.Errorf("PUT secret = %v", put)
		}
		if got := c.obj("rest", "--resource", "https://vault.azure.net", "--url", url); str(got, "value") != "hello from az" || str(got, "id") != str(put, "id") {
			t.Errorf("GET secret = %v", got)
		}
	})

	t.Run("deleted vaults", func(t *testing.T) {
		c := admin.in(t)
		c.obj("keyvault", "create", "-n", "kvazdel", "-g", "az-rg", "-l", "eastus")
		c.run("keyvault", "delete", "-n", "kvazdel")
		if names := c.tsv("keyvault", "list-deleted", "--query", "[].name"); !slices.Contains(names, "kvazdel") {
			t.Errorf("keyvault list-deleted = %v, want kvazdel among them", names)
		}
		d := c.obj("keyvault", "show-deleted", "-n", "kvazdel")
		if str(d, "properties", "vaultId") != rgID+"/providers/Microsoft.KeyVault/vaults/kvazdel" || str(d, "properties", "location") != "eastus" ||
			str(d, "properties", "scheduledPurgeDate") == "" {
			t.Errorf("keyvault show-deleted = %v", d)
		}
		c.run("keyvault", "recover", "-n", "kvazdel")
		if s := c.obj("keyvault", "show", "-n", "kvazdel"); str(s, "properties", "vaultUri") != "https://kvazdel.vault.azure.net/" {
			t.Errorf("keyvault show after recover = %v", s)
		}
		c.run("keyvault", "delete", "-n", "kvazdel")
		c.run("keyvault", "purge", "-n", "kvazdel")
		if names := c.tsv("keyvault", "list-deleted", "--query", "[].name"); slices.Contains(names, "kvazdel") {
			t.Errorf("keyvault list-deleted after purge = %v", names)
		}
	})

	t.Run("service principals and role assignments", func(t *testing.T) {
		c := admin.in(t)
		sp := c.obj("ad", "sp", "create-for-rbac", "-n", "coffer-az-app")
		appID, password := str(sp, "appId"), str(sp, "password")
		if appID == "" || password == "" || str(sp, "tenant") != a.tenant || str(sp, "displayName") != "coffer-az-app" {
			t.Fatalf("ad sp create-for-rbac printed %v", redactPassword(sp))
		}
		show := c.obj("ad", "sp", "show", "--id", appID)
		spOID := str(show, "id")
		if str(show, "appId") != appID || str(show, "displayName") != "coffer-az-app" || spOID == "" {
			t.Errorf("ad sp show = %v", show)
		}
		for _, args := range [][]string{{"--display-name", "coffer-az"}, {"--spn", appID}, {"--filter", "appId eq '" + appID + "'"}} {
			if got := c.tsv(append([]string{"ad", "sp", "list", "--query", "[].appId"}, args...)...); !slices.Equal(got, []string{appID}) {
				t.Errorf("ad sp list %s = %v, want [%s]", strings.Join(args, " "), got, appID)
			}
		}

		// Without a role the new principal sees no subscription.
		app := a.newAz(t, az)
		msg := app.fails("login", "--service-principal", "-u", appID, "-p", password, "--tenant", a.tenant)
		if !strings.Contains(msg, "No subscriptions found for "+appID) {
			t.Errorf("login without a role said %q", msg)
		}
		// az's generic update disables it (GET, then PATCH of the --set
		// property): sign-in fails with Entra's AADSTS7000112 until it is
		// enabled again.
		c.run("ad", "sp", "update", "--id", appID, "--set", "accountEnabled=false")
		if got := c.obj("ad", "sp", "show", "--id", appID); got["accountEnabled"] != false {
			t.Errorf("accountEnabled after ad sp update = %v", got["accountEnabled"])
		}
		// A separate az: MSAL caches a failed token response for its
		// parameters for a while, which would fail app's login below.
		if msg := a.newAz(t, az).fails("login", "--service-principal", "-u", appID, "-p", password, "--tenant", a.tenant); !strings.Contains(msg, "AADSTS7000112") {
			t.Errorf("login of a disabled service principal said %q", msg)
		}
		c.run("ad", "sp", "update", "--id", appID, "--set", "accountEnabled=true")

		// Reading the directory takes a Graph application permission,
		// granted as Azure scripts do: the role id from Microsoft Graph's
		// service principal, then az rest on appRoleAssignments.
		const graphAppID = "00000003-0000-0000-c000-000000000000"
		graphSP := c.obj("ad", "sp", "show", "--id", graphAppID)
		roleID := c.tsv("ad", "sp", "show", "--id", graphAppID, "--query", "appRoles[?value=='Application.Read.All'].id")
		if str(graphSP, "displayName") != "Microsoft Graph" || len(roleID) != 1 {
			t.Fatalf("Microsoft Graph's service principal = %v, Application.Read.All = %v", graphSP["displayName"], roleID)
		}
		grant := c.obj("rest", "--method", "post", "--url", "https://graph.microsoft.com/v1.0/servicePrincipals/"+spOID+"/appRoleAssignments",
			"--body", fmt.Sprintf(`{"principalId":%q,"resourceId":%q,"appRoleId":%q}`, spOID, str(graphSP, "id"), roleID[0]))
		if str(grant, "appRoleId") != roleID[0] || str(grant, "principalId") != spOID {
			t.Errorf("appRoleAssignment = %v", grant)
		}
		if got := c.obj("ad", "sp", "show", "--id", appID); got["accountEnabled"] != true {
			t.Errorf("accountEnabled after enabling = %v", got["accountEnabled"])
		}

		// An RBAC vault; the role assignment is the PUT az role
		// assignment create would send, without principalType (ARM fills
		// it in).
		vaultID := rgID + "/providers/Microsoft.KeyVault/vaults/kvazrbac"
		c.obj("keyvault", "create", "-n", "kvazrbac", "-g", "az-rg", "-l", "eastus", "--enable-rbac-authorization", "true")
		officer := "/subscriptions/" + subID + "/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
		raURL := "https://management.azure.com" + vaultID + "/providers/Microsoft.Authorization/roleAssignments/" + newUUID(t) + "?api-version=2022-04-01"
		ra := c.obj("rest", "--method", "put", "--url", raURL, "--body",
			fmt.Sprintf(`{"properties":{"roleDefinitionId":%q,"principalId":%q}}`, officer, spOID))
		if str(ra, "properties", "principalType") != "ServicePrincipal" || str(ra, "properties", "scope") != vaultID ||
			!strings.EqualFold(str(ra, "properties", "roleDefinitionId"), officer) {
			t.Errorf("role assignment PUT = %v", ra)
		}
		list := c.obj("rest", "--url", "https://management.azure.com/subscriptions/"+subID+
			"/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '"+spOID+"'&api-version=2022-04-01")
		if vals, _ := list["value"].([]any); len(vals) != 1 || str(vals[0].(map[string]any), "id") != str(ra, "id") {
			t.Errorf("role assignments of the principal = %v", list)
		}

		// With a role under the subscription the principal sees it and
		// can use the vault's data plane.
		subs := app.login(appID, password, a.tenant)
		if len(subs) != 1 || str(subs[0].(map[string]any), "id") != subID {
			t.Errorf("login with a role listed %v", subs)
		}
		// With Application.Read.All it reads the directory.
		if got := app.tsv("ad", "sp", "show", "--id", appID, "--query", "displayName"); !slices.Equal(got, []string{"coffer-az-app"}) {
			t.Errorf("ad sp show as the app = %v", got)
		}
		url := "https://kvazrbac.vault.azure.net/secrets/from-the-app?api-version=7.4"
		app.obj("rest", "--method", "put", "--resource", "https://vault.azure.net", "--url", url, "--body", `{"value":"rbac works"}`)
		if got := app.obj("rest", "--resource", "https://vault.azure.net", "--url", url); str(got, "value") != "rbac works" {
			t.Errorf("GET as the app = %v", got)
		}
	})

	t.Run("az login --identity on a simulated VM", func(t *testing.T) {
		principal := a.simulatedVM(t, "az-vm", "az-rg")
		a.cli(t, "keyvault", "create", "-n", "kvazmi", "-g", "az-rg", "-l", "eastus")
		a.cli(t, "keyvault", "secret", "set", "--vault-name", "kvazmi", "-n", "mi-secret", "--value", "read by the VM")
		a.cli(t, "keyvault", "set-policy", "-n", "kvazmi", "-g", "az-rg", "--object-id", principal, "--secret-permissions", "get")

		vm := a.newAz(t, az)
		// An access policy is not a role: the identity sees no
		// subscription, and az says so.
		if msg := vm.fails("login", "--identity"); !strings.Contains(msg, "--allow-no-subscriptions") {
			t.Errorf("az login --identity without a subscription said %q", msg)
		}
		accts, _ := vm.json("login", "--identity", "--allow-no-subscriptions").([]any)
		if len(accts) != 1 {
			t.Fatalf("az login --identity --allow-no-subscriptions listed %v", accts)
		}
		acct, _ := accts[0].(map[string]any)
		if str(acct, "id") != a.tenant || str(acct, "name") != "N/A(tenant level account)" ||
			str(acct, "user", "name") != "systemAssignedIdentity" || str(acct, "user", "assignedIdentityInfo") != "MSI" {
			t.Errorf("az login --identity = %v", acct)
		}
		got := vm.obj("rest", "--resource", "https://vault.azure.net", "--url", "https://kvazmi.vault.azure.net/secrets/mi-secret?api-version=7.4")
		if str(got, "value") != "read by the VM" ||
			!regexp.MustCompile(`^https://kvazmi\.vault\.azure\.net/secrets/mi-secret/[0-9a-f]{32}$`).MatchString(str(got, "id")) {
			t.Errorf("az rest as the VM = %v", got)
		}
	})

	t.Run("az cloud register from metadata", func(t *testing.T) {
		c := a.newAzAfterEnv(t, az)
		// Only the ARM endpoint: az reads the rest from
		// {arm}/metadata/endpoints?api-version=2015-01-01.
		c.run("cloud", "register", "-n", "CofferCloud", "--endpoint-resource-manager", "https://management.azure.com")
		cl := c.obj("cloud", "show", "-n", "CofferCloud")
		if strings.TrimSuffix(str(cl, "endpoints", "activeDirectory"), "/") != "https://login.microsoftonline.com" ||
			str(cl, "endpoints", "resourceManager") != "https://management.azure.com" ||
			!strings.HasPrefix(str(cl, "endpoints", "activeDirectoryResourceId"), "https://management.") ||
			str(cl, "endpoints", "activeDirectoryGraphResourceId") == "" {
			t.Errorf("cloud show = %v", cl)
		}
		c.run("cloud", "set", "-n", "CofferCloud")
		subs := c.login(a.clientID, a.secret, a.tenant)
		if len(subs) != 1 || str(subs[0].(map[string]any), "cloudName") != "CofferCloud" {
			t.Errorf("login in the registered cloud listed %v", subs)
		}
		if g := c.obj("group", "show", "-n", "az-rg"); str(g, "id") != rgID {
			t.Errorf("group show in the registered cloud = %v", g)
		}
	})
}

// policySecrets returns the sorted secret permissions of objectID's access
// policy in a vault az printed, or "" without one.
func policySecrets(vault map[string]any, objectID string) string {
	props, _ := vault["properties"].(map[string]any)
	aps, _ := props["accessPolicies"].([]any)
	for _, ap := range aps {
		m, _ := ap.(map[string]any)
		if str(m, "objectId") != objectID {
			continue
		}
		perms, _ := m["permissions"].(map[string]any)
		list, _ := perms["secrets"].([]any)
		var out []string
		for _, p := range list {
			out = append(out, strings.ToLower(fmt.Sprint(p)))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	return ""
}

// redactPassword copies az's output without the password it contains.
func redactPassword(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k == "password" {
			v = "***"
		}
		out[k] = v
	}
	return out
}

func newUUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
