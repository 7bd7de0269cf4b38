package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/testreq"
)

// Selectors the way a person finds things: by a label's text, a button's
// or link's visible text, a heading. Never by CSS classes.
func field(label string) string {
	return fmt.Sprintf(`//*[@id=(//label[normalize-space(.)=%q]/@for)]`, label)
}

func control(text string) string {
	return fmt.Sprintf(`//main//*[self::button or self::a][normalize-space(.)=%q or normalize-space(.)=%q]`, text, "+ "+text)
}

func navLink(text string) string {
	return fmt.Sprintf(`//nav//a[normalize-space(.)=%q or normalize-space(.)=%q]`, text, "+ "+text)
}

func option(text string) string { // a radio or checkbox by its label's text
	return fmt.Sprintf(`//label[contains(normalize-space(.), %q)]/input`, text)
}

func shows(text string) string {
	return fmt.Sprintf(`//main//*[contains(normalize-space(.), %q)]`, text)
}

// essential is the value next to a name in an Essentials list.
func essential(name string) string {
	return fmt.Sprintf(`//h2[normalize-space(.)="Essentials"]/following::dt[normalize-space(.)=%q]/following-sibling::dd[1]`, name)
}

type step = chromedp.Action[chromedp.Void]

func click(sel string) step   { return chromedp.Click(sel) }
func see(sel string) step     { return chromedp.WaitVisible(sel) }
func fill(l, v string) step   { return chromedp.SendKeys(field(l), v) }
func choose(l, v string) step { return chromedp.SetValue(field(l), v) }

// armPut sends an ARM request as the bootstrap service principal (the
// "created via API" parts of the walkthrough).
func armPut(t *testing.T, env *testenv.Env, tok, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("PUT", "https://localhost:"+env.Port()+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.Client().Do(req)
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("PUT %s: %v %v", path, resp.Status, err)
	}
	resp.Body.Close()
}

func getJSON(t *testing.T, env *testenv.Env, rawURL string, hdr map[string]string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// TestBrowserWalkthrough does the seed tutorial's portal steps in headless
// Chromium, by their wording: sign in as the admin user, Create a resource
// > Key Vault > Create > Name > Review + create > Create; Secrets >
// Generate/Import > Create; Access policies > Add Access Policy >
// Configure from template "Secret Management" > Select principal (the VM
// by name) > Select > Add > Save; the Vault URI under Essentials. Then the
// VM's identity reads the secret (managed identity token + Key Vault), and
// the resource group is deleted in the portal with its name typed.
func TestBrowserWalkthrough(t *testing.T) {
	chromium := testreq.Need(t, "chromium")[0]
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	sub := "/subscriptions/" + env.Instance.SubscriptionID

	// The tutorial's prerequisites, made through the API: a resource group
	// and a VM with a system-assigned identity.
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {env.Admin.ClientID}, "client_secret": {env.Admin.ClientSecret},
		"scope": {"https://management.azure.com/.default"}}
	resp, err := env.Client().PostForm(env.AuthorityHost()+env.Instance.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	armPut(t, env, tr.AccessToken, sub+"/resourcegroups/mi-test?api-version=2021-04-01", map[string]any{"location": "local"})
	armPut(t, env, tr.AccessToken, sub+"/resourceGroups/mi-test/providers/Microsoft.Compute/virtualMachines/myVM?api-version=2024-07-01",
		map[string]any{"location": "local", "identity": map[string]any{"type": "SystemAssigned"}})
	vm, err := env.Resources.VM(context.Background(), env.Instance.SubscriptionID, "mi-test", "myVM")
	if err != nil || vm.SystemAssigned == "" {
		t.Fatalf("VM: %+v %v", vm, err)
	}

	br := startBrowser(t, chromium)
	do, text, screenshot := br.do, br.text, br.screenshot
	portal := "https://localhost:" + env.Port() + "/portal/"

	br.signIn(portal, env.Admin.UserPrincipalName, env.Admin.Password)
	const vault, secret, value = "mi-lab-vault", "mi-test", "My Secret"
	do("create a key vault",
		click(navLink("Create a resource")),
		fill("Search the Marketplace", "Key Vault"+kb.Enter),
		// Each click that loads a page is followed by a wait for something
		// only the next page has, so no click lands on the page going away.
		see(`//h2[normalize-space(.)="Results for “Key Vault”"]`),
		click(control("Key Vault")),
		see(`//h1[normalize-space(.)="Key Vault"]`),
		click(control("Create")),
		see(`//h1[normalize-space(.)="Create a key vault"]`),
		choose("Subscription", env.Instance.SubscriptionID),
		choose("Resource group", "mi-test"),
		fill("Name", vault),
		click(control("Review + create")),
		see(shows("Validation passed")),
		click(control("Create")),
		see(shows("Your deployment is complete")),
		click(control("Go to resource")),
	)
	vaultURI := text("vault overview", essential("Vault URI"))
	screenshot("vault-overview")
	if want := env.VaultURL(vault); vaultURI != want {
		t.Errorf("Vault URI %q, want %q", vaultURI, want)
	}
	do("create a secret",
		click(`//nav//a[normalize-space(.)="Secrets"]`),
		see(`//caption[normalize-space(.)="Secrets"]`),
		click(control("Generate/Import")),
		see(`//h2[normalize-space(.)="Create a secret"]`),
	)
	upload := text("upload options", field("Upload options")+`/option[@selected]`)
	do("create a secret",
		fill("Name", secret),
		fill("Secret value", value),
		see(option("Yes")+"[@checked]"),
		click(control("Create")),
		see(shows("has been successfully created")),
		see(fmt.Sprintf(`//table//td[normalize-space(.)=%q]`, secret)),
	)
	if upload != "Manual" {
		t.Errorf("Upload options: %q, want Manual", upload)
	}
	do("grant access",
		click(`//nav//a[normalize-space(.)="Access policies"]`),
		see(`//caption[normalize-space(.)="Current access policies"]`),
		click(control("Add Access Policy")),
		choose("Configure from template (optional)", "Secret Management"),
		fill("Select principal", "myVM"),
		click(control("Search")),
		click(option("myVM")),
		click(control("Select")),
		see(`//strong[normalize-space(.)="myVM"]`),
		see(`//fieldset[legend="Secret permissions"]//label[normalize-space(.)="Get"]/input[@checked]`),
		click(control("Add")),
		see(shows("Added, not saved yet")),
		click(control("Save")),
		see(shows("Successfully updated the access policies")),
		see(`//table//td[normalize-space(.)="myVM"]`),
	)
	screenshot("access-policies")
	// The same page reads on a narrow window (the menu goes on top).
	do("narrow window", chromedp.EmulateViewport(390, 844), see(`//table//td[normalize-space(.)="myVM"]`))
	screenshot("access-policies-narrow")
	do("wide window", chromedp.EmulateViewport(1280, 800))

	// The VM's identity reads the secret, as the tutorial's PowerShell does:
	// a managed identity token for https://vault.azure.net, then the secret.
	cred, _, err := env.Resources.NewCredential(context.Background(), env.Instance.SubscriptionID, "mi-test", "myVM")
	if err != nil {
		t.Fatal(err)
	}
	var mi struct {
		AccessToken string `json:"access_token"`
	}
	if code := getJSON(t, env, "https://localhost:"+env.Port()+"/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net",
		map[string]string{"X-IDENTITY-HEADER": cred}, &mi); code != 200 {
		t.Fatalf("managed identity token: %d", code)
	}
	var got struct {
		Value string `json:"value"`
	}
	if code := getJSON(t, env, vaultURI+"secrets/"+secret+"?api-version=2016-10-01", map[string]string{"Authorization": "Bearer " + mi.AccessToken}, &got); code != 200 || got.Value != value {
		t.Fatalf("the VM reads the secret: %d %q", code, got.Value)
	}

	do("VM identity",
		click(navLink("Virtual machines")),
		see(`//h1[normalize-space(.)="Virtual machines"]`),
		click(`//main//a[normalize-space(.)="myVM"]`),
	)
	do("VM connect", click(control("Connect")), see(shows("coffer agent")))
	status := text("VM identity", `//dt[normalize-space(.)="Status"]/following-sibling::dd[1]`)
	principalID := text("VM identity", `//dt[normalize-space(.)="Object (principal) ID"]/following-sibling::dd[1]`)
	if status != "On" || principalID != vm.SystemAssigned {
		t.Errorf("Identity: status %q, principal %q, want On and %s", status, principalID, vm.SystemAssigned)
	}

	// Beyond the tutorial: the value only on a deliberate click; delete,
	// then recover from "Manage deleted secrets".
	do("show, delete and recover the secret",
		click(navLink("Key vaults")),
		see(`//h1[normalize-space(.)="Key vaults"]`),
		click(`//main//a[normalize-space(.)="`+vault+`"]`),
		click(`//nav//a[normalize-space(.)="Secrets"]`),
		click(`//main//table//a[normalize-space(.)="`+secret+`"]`),
		see(`//caption[normalize-space(.)="Versions"]`),
		chromedp.WaitNotPresent(field("Secret value")),
		click(control("Show Secret Value")),
		see(field("Secret value")+`[@value="`+value+`"]`),
		click(control("Delete")),
		see(`//caption[normalize-space(.)="Secrets"]`),
		see(shows("There are no secrets available.")),
		click(control("Manage deleted secrets")),
		click(`//button[@aria-label="Recover `+secret+`"]`),
		see(shows("Recovered "+secret+".")),
		click(`//main//a[normalize-space(.)="Back to Secrets"]`),
		see(fmt.Sprintf(`//table//a[normalize-space(.)=%q]`, secret)),
	)

	do("delete the resource group",
		click(navLink("Resource groups")),
		see(`//h1[normalize-space(.)="Resource groups"]`),
		click(`//main//a[normalize-space(.)="mi-test"]`),
		click(control("Delete resource group")),
		fill("Enter resource group name to confirm deletion", "mi-test"),
		click(control("Delete")),
		see(`//h1[normalize-space(.)="Deleted resource group mi-test"]`),
	)
	screenshot("walkthrough-end")
	if _, err := env.Resources.Group(context.Background(), env.Instance.SubscriptionID, "mi-test"); err == nil {
		t.Errorf("the resource group still exists")
	}
}

// browser is one headless Chromium with a fresh profile, and the step
// helpers the tests use.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func startBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "coffer-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 800),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		// The server's certificate comes from the test's own CA.
		chromedp.Flag("ignore-certificate-errors", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	// Start the browser on a context without a deadline (its lifetime is
	// the browser's); the walkthrough then runs with one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

func (b *browser) do(name string, actions ...step) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\nat %s:\n%s", name, err, loc, body)
	}
}

func (b *browser) text(name, sel string) string {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.TextContent(sel))
	if err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	return strings.TrimSpace(v)
}

// screenshot writes the page to COFFER_SCREENSHOT_DIR (CI keeps them as
// artifacts), else the temp directory. It shows the whole page as laid
// out in the current window: a capture beyond the viewport would drop the
// vertical scroll bar's width from the image yet lay the page out without
// the bar, cutting off its right edge, so the window is made as tall as
// the page for the capture instead.
func (b *browser) screenshot(name string) {
	png, err := chromedp.Run(b.ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		size, err := chromedp.Evaluate[[3]int64](`[innerWidth, innerHeight, document.scrollingElement.scrollHeight]`)(ctx, tg)
		if err != nil {
			return nil, err
		}
		if _, err := chromedp.EmulateViewport(size[0], max(size[1], size[2]))(ctx, tg); err != nil {
			return nil, err
		}
		png, err := chromedp.CaptureScreenshot()(ctx, tg)
		if _, rerr := chromedp.EmulateViewport(size[0], size[1])(ctx, tg); err == nil {
			err = rerr
		}
		return png, err
	})
	if err != nil {
		b.t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("COFFER_SCREENSHOT_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	p := filepath.Join(dir, "portal-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot: %v", err)
	}
	b.t.Logf("screenshot: %s", p)
}

// signIn opens the portal and signs in on the issuer's page.
func (b *browser) signIn(portal, upn, pw string) {
	b.t.Helper()
	b.do("sign in as "+upn,
		chromedp.Navigate(portal),
		see(`//h1[normalize-space(.)="Sign in"]`),
		fill("Email address", upn),
		fill("Password", pw),
		click(`//button[normalize-space(.)="Sign in"]`),
		see(`//h1[normalize-space(.)="Azure services"]`),
	)
}

// TestBrowserRBAC: a vault with the Azure RBAC permission model. Its
// creator (Owner of the subscription, a control-plane role) is refused
// its secrets, with Key Vault's explanation; Access control (IAM) grants
// another user Reader on the resource group and Key Vault Secrets Officer
// on the vault, and that user then adds a secret in the portal.
func TestBrowserRBAC(t *testing.T) {
	chromium := testreq.Need(t, "chromium")[0]
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	createUser(t, env, "bob@coffer.local", "Str0ng-Passw0rd", true)
	br := startBrowser(t, chromium)
	portal := "https://localhost:" + env.Port() + "/portal/"
	br.signIn(portal, env.Admin.UserPrincipalName, env.Admin.Password)
	const vault = "rbac-vault"
	br.do("create an RBAC vault",
		chromedp.Navigate(portal+"create/keyvault/form"),
		choose("Resource group", "coffer"),
		fill("Name", vault),
		click(option("Azure role-based access control")),
		click(control("Review + create")),
		see(shows("Validation passed")),
		see(shows("Azure role-based access control")),
		click(control("Create")),
		click(control("Go to resource")),
		see(essential("Permission model")+`[normalize-space(.)="Azure role-based access control"]`),
		click(`//nav//a[normalize-space(.)="Secrets"]`),
		see(shows("You do not have permission to do this.")),
		see(shows("Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
	)
	assign := func(page, role string) {
		br.do("assign "+role,
			chromedp.Navigate(page),
			see(`//h2[normalize-space(.)="Access control (IAM)"]`),
			chromedp.SetValue(field("Role"), roleID(t, role)),
			fill("Select members", "Bob"),
			click(control("Search")),
			click(option("Bob (bob@coffer.local)")),
			click(control("Review + assign")),
			see(shows("Added role assignment: "+role+".")),
			see(fmt.Sprintf(`//table//tr[td[normalize-space(.)="Bob (bob@coffer.local)"] and td[normalize-space(.)=%q]]`, role)),
		)
	}
	assign(portal+"rg/coffer/iam", "Reader")
	assign(portal+"kv/coffer/"+vault+"/iam", "Key Vault Secrets Officer")
	br.screenshot("rbac-iam")
	br.do("sign out", click(`//header//button[normalize-space(.)="Sign out"]`), see(`//h1[normalize-space(.)="You signed out of your account"]`))

	br.signIn(portal, "bob@coffer.local", "Str0ng-Passw0rd")
	br.do("bob adds a secret",
		chromedp.Navigate(portal+"kv/coffer/"+vault+"/secrets"),
		click(control("Generate/Import")),
		fill("Name", "bobs-secret"),
		fill("Secret value", "s3cret"),
		click(control("Create")),
		see(shows("has been successfully created")),
		see(`//table//a[normalize-space(.)="bobs-secret"]`),
	)
}

// roleID is a built-in role's GUID by name (the Role list's values).
func roleID(t *testing.T, name string) string {
	r, ok := policy.LookupRole(name)
	if !ok {
		t.Fatalf("no role %s", name)
	}
	return r.ID
}
