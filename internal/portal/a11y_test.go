package portal_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/testreq"
)

// TestBrowserAccessibility visits every page of the portal, signed in and
// with data to show (a resource group, a VM with an identity, a
// user-assigned identity, a vault with secrets, a key, a certificate, an
// access policy), and checks each one the way assistive technology and
// keyboard users meet it:
//   - Chromium's own accessibility tree (Accessibility.getFullAXTree): every
//     control has a name, form fields get theirs from a label (not a
//     placeholder), images have alt text, one main landmark and one level-1
//     heading, headings do not skip levels, tables keep their caption and
//     table role, several navigation landmarks are told apart by name;
//   - the keyboard: Tab visits the page's controls in document order, every
//     stop shows a focus indicator (its computed outline or shadow differs
//     from the unfocused one, and contrasts 3:1 with what is behind it) and
//     is scrolled into view;
//   - the text: every visible text run contrasts 4.5:1 (3:1 when large)
//     with its composited background, from the computed styles;
//   - the layout at 1280×800, 390×844 and 320×568 (WCAG's reflow width):
//     nothing sticks out sideways (no horizontal page scroll), nothing
//     spills out of a box, and the heading, menus and controls stay
//     visible. Screenshots at the first two sizes are kept like the other
//     tests'.
//
// And one primary flow by keyboard alone: Generate/Import a secret with
// Tab, typing, the arrow keys on a radio group and Enter.
func TestBrowserAccessibility(t *testing.T) {
	chromium := testreq.Need(t, "chromium")[0]
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	br := startBrowser(t, chromium)
	a := &auditor{t: t, br: br}
	portal := "https://localhost:" + env.Port() + "/portal/"
	const rg, doomed, vm, vault = "a11y-rg", "a11y-doomed", "a11y-vm", "a11y-vault"
	kv := portal + "kv/" + rg + "/" + vault

	br.do("open the sign-in page", chromedp.Navigate(portal), see(`//h1[normalize-space(.)="Sign in"]`))
	a.audit("sign-in")
	br.do("sign in",
		fill("Email address", env.Admin.UserPrincipalName),
		fill("Password", env.Admin.Password),
		click(`//button[normalize-space(.)="Sign in"]`),
		see(`//h1[normalize-space(.)="Azure services"]`),
	)
	a.audit("home")
	a.current("Home", "page")
	// The first Tab stop skips the menus to the page's content.
	a.tabTo("Skip to main content")
	br.do("skip link", chromedp.KeyEvent(kb.Enter))
	var inMain bool
	if a.eval("home", `document.activeElement === document.querySelector('main')`, &inMain); !inMain {
		t.Errorf("Enter on the skip link does not move focus to the main content")
	}

	br.do("marketplace", click(navLink("Create a resource")), see(`//h1[normalize-space(.)="Create a resource"]`))
	a.audit("marketplace")
	br.do("search", fill("Search the Marketplace", "Key Vault"+kb.Enter), see(`//h2[normalize-space(.)="Results for “Key Vault”"]`))
	a.audit("marketplace-results")
	br.do("product", click(control("Key Vault")), see(`//h1[normalize-space(.)="Key Vault"]`))
	a.audit("product")

	br.do("resource groups", click(navLink("Resource groups")), see(`//h1[normalize-space(.)="Resource groups"]`))
	a.audit("resource-groups")
	br.do("create a group form", click(control("Create")), see(`//h1[normalize-space(.)="Create a resource group"]`))
	a.audit("resource-group-create")
	for _, g := range []string{rg, doomed} {
		br.do("create group "+g,
			chromedp.Navigate(portal+"create/resourcegroup/form"),
			fill("Resource group", g), fill("Region", "local"),
			click(control("Create")),
			see(fmt.Sprintf(`//h1[starts-with(normalize-space(.), %q)]`, g)),
		)
	}
	a.audit("resource-group")
	br.do("group IAM", click(control("Access control (IAM)")), see(`//h2[normalize-space(.)="Access control (IAM)"]`))
	a.audit("resource-group-iam")
	br.do("group IAM member search",
		chromedp.SetValue(field("Role"), roleID(t, "Reader")),
		fill("Select members", "admin"),
		click(control("Search")),
		see(`//fieldset[legend="Members"]`),
	)
	a.audit("resource-group-iam-search")

	br.do("virtual machines", click(navLink("Virtual machines")), see(`//h1[normalize-space(.)="Virtual machines"]`))
	a.audit("virtual-machines-empty")
	br.do("create a VM form", click(control("Create")), see(`//h1[normalize-space(.)="Create a virtual machine"]`))
	a.audit("virtual-machine-create")
	br.do("create a VM",
		choose("Resource group", rg),
		fill("Virtual machine name", vm),
		click(control("Create")),
		see(`//h1[starts-with(normalize-space(.), "`+vm+`")]`),
	)
	a.audit("virtual-machine")
	br.do("virtual machines", click(navLink("Virtual machines")), see(`//main//a[normalize-space(.)="`+vm+`"]`))
	a.audit("virtual-machines")

	br.do("managed identities", click(navLink("Managed Identities")), see(`//h1[normalize-space(.)="Managed Identities"]`))
	a.audit("managed-identities-empty")
	br.do("create an identity",
		choose("Resource group", rg),
		fill("Name", "a11y-identity"),
		click(control("Create")),
		see(`//table//td[normalize-space(.)="a11y-identity"]`),
	)
	a.audit("managed-identities")

	br.do("key vaults", click(navLink("Key vaults")), see(`//h1[normalize-space(.)="Key vaults"]`))
	a.audit("key-vaults-empty")
	br.do("create a vault form", click(control("Create")), see(`//h1[normalize-space(.)="Create a key vault"]`))
	a.audit("key-vault-create")
	// A form sent back with a problem says so in an alert.
	br.do("review without a group", fill("Name", vault), click(control("Review + create")),
		see(`//main//*[@role="alert"][contains(., "Select a resource group or create a new one.")]`))
	a.audit("key-vault-create-error")
	br.do("review", choose("Resource group", rg), click(control("Review + create")), see(shows("Validation passed")))
	a.audit("key-vault-review")
	br.do("deploy", click(control("Create")), see(shows("Your deployment is complete")))
	a.audit("key-vault-deployed")
	br.do("overview", click(control("Go to resource")), see(essential("Vault URI")))
	a.audit("key-vault-overview")
	br.do("key vaults", click(navLink("Key vaults")), see(`//main//a[normalize-space(.)="`+vault+`"]`))
	a.audit("key-vaults")
	a.current("Key vaults", "page")

	// Secrets, the primary flow by keyboard alone: no clicks from the
	// list to the created secret.
	br.do("secrets", chromedp.Navigate(kv+"/secrets"), see(shows("There are no secrets available.")))
	a.audit("secrets-empty")
	a.tabTo("+ Generate/Import")
	br.do("open Generate/Import by keyboard", chromedp.KeyEvent(kb.Enter), see(`//h2[normalize-space(.)="Create a secret"]`))
	a.audit("secret-new")
	a.tabTo("Name")
	br.do("type the name", chromedp.KeyEvent("kb-secret"))
	a.tabTo("Secret value")
	br.do("type the value", chromedp.KeyEvent("typed by keyboard"))
	a.tabTo("Yes")
	// Arrow keys move within a radio group (and check the option).
	br.do("Enabled: No", chromedp.KeyEvent(kb.ArrowRight))
	var checked bool
	if a.eval("secret-new", `document.activeElement.checked`, &checked); a.focused() != "No" || !checked {
		t.Errorf("after ArrowRight on Enabled, focus is on %q (checked %v), want No checked", a.focused(), checked)
	}
	a.tabTo("Create")
	br.do("create by keyboard", chromedp.KeyEvent(kb.Enter),
		see(shows("The secret 'kb-secret' has been successfully created.")),
		see(`//table//tr[td/a[normalize-space(.)="kb-secret"] and td[normalize-space(.)="Disabled"]]`),
	)
	a.audit("secrets")
	a.current("Key vaults", "true") // the section; the blade menu has the page
	for _, s := range []string{"a11y-secret", "a11y-gone"} {
		br.do("create "+s,
			chromedp.Navigate(kv+"/secrets/new"),
			fill("Name", s), fill("Secret value", "v-"+s),
			click(control("Create")),
			see(shows("The secret '"+s+"' has been successfully created.")),
		)
	}
	br.do("a secret", click(`//main//table//a[normalize-space(.)="a11y-secret"]`), see(`//caption[normalize-space(.)="Versions"]`))
	a.audit("secret")
	br.do("show the value", click(control("Show Secret Value")), see(field("Secret value")))
	a.audit("secret-value")
	br.do("delete a secret",
		chromedp.Navigate(kv+"/secret?name=a11y-gone"),
		click(control("Delete")),
		see(`//caption[normalize-space(.)="Secrets"]`),
		click(control("Manage deleted secrets")),
		see(`//button[@aria-label="Recover a11y-gone"]`),
	)
	a.audit("secrets-deleted")

	br.do("keys", chromedp.Navigate(kv+"/keys"), see(`//caption[normalize-space(.)="Keys"]`))
	a.audit("keys-empty")
	br.do("new key", click(control("Generate/Import")), see(`//h2[normalize-space(.)="Create a key"]`))
	a.audit("key-new")
	br.do("create a key", fill("Name", "a11y-key"), click(control("Create")), see(`//table//a[normalize-space(.)="a11y-key"]`))
	a.audit("keys")
	br.do("a key", click(`//table//a[normalize-space(.)="a11y-key"]`), see(`//caption[normalize-space(.)="Versions"]`))
	a.audit("key")
	br.do("deleted keys", chromedp.Navigate(kv+"/deleted-keys"), see(`//caption[normalize-space(.)="Deleted keys"]`))
	a.audit("keys-deleted")

	br.do("certificates", chromedp.Navigate(kv+"/certificates"), see(`//caption[normalize-space(.)="Certificates"]`))
	a.audit("certificates-empty")
	br.do("new certificate", click(control("Generate/Import")), see(`//h2[normalize-space(.)="Create a certificate"]`))
	a.audit("certificate-new")
	br.do("create a certificate",
		fill("Certificate Name", "a11y-cert"), fill("Subject", "CN=a11y.example.test"),
		click(control("Create")),
		see(`//table//a[normalize-space(.)="a11y-cert"]`),
	)
	a.audit("certificates")
	br.do("a certificate", click(`//table//a[normalize-space(.)="a11y-cert"]`), see(`//h3[normalize-space(.)="Certificate Operation"]`))
	a.audit("certificate")
	br.do("deleted certificates", chromedp.Navigate(kv+"/deleted-certificates"), see(`//caption[normalize-space(.)="Deleted certificates"]`))
	a.audit("certificates-deleted")

	br.do("access policies", chromedp.Navigate(kv+"/access-policies"), see(`//caption[normalize-space(.)="Current access policies"]`))
	a.audit("access-policies")
	// The tutorial's access policy, by keyboard alone too: the template
	// chosen by typing on the list, the VM found by typing its name and
	// pressing Enter in the search box, picked with Space.
	a.tabTo("+ Add Access Policy")
	br.do("open Add Access Policy by keyboard", chromedp.KeyEvent(kb.Enter), see(`//h2[normalize-space(.)="Add access policy"]`))
	a.audit("access-policy-add")
	a.tabTo("Configure from template (optional)")
	br.do("type the template's name", chromedp.KeyEvent("Secret Management"))
	a.tabTo("Select principal")
	br.do("search by keyboard", chromedp.KeyEvent(vm+kb.Enter), see(option(vm)))
	if got := a.text("template", field("Configure from template (optional)")+`/option[@selected]`); got != "Secret Management" {
		t.Errorf("template after typing its name and searching: %q, want Secret Management", got)
	}
	a.audit("access-policy-search")
	a.tabTo(vm + " Managed identity")
	br.do("pick the VM with Space", chromedp.KeyEvent(" "))
	a.tabTo("Select")
	br.do("Select by keyboard", chromedp.KeyEvent(kb.Enter), see(`//strong[normalize-space(.)="`+vm+`"]`),
		see(`//fieldset[legend="Secret permissions"]//label[normalize-space(.)="Get"]/input[@checked]`))
	a.audit("access-policy-selected")
	a.tabTo("Add")
	br.do("Add by keyboard", chromedp.KeyEvent(kb.Enter), see(shows("Added, not saved yet")))
	a.audit("access-policies-draft")
	a.tabTo("Save")
	br.do("Save by keyboard", chromedp.KeyEvent(kb.Enter), see(shows("Successfully updated the access policies")),
		see(`//table[caption="Current access policies"]//td[normalize-space(.)="`+vm+`"]`))

	br.do("vault IAM", chromedp.Navigate(kv+"/iam"), see(`//caption[normalize-space(.)="Role assignments"]`))
	a.audit("key-vault-iam")

	br.do("not found", chromedp.Navigate(portal+"no-such-page"), see(`//h1[normalize-space(.)="Not found"]`))
	a.audit("not-found")

	br.do("delete a group",
		chromedp.Navigate(portal+"rg/"+doomed),
		click(control("Delete resource group")),
		see(`//h1[normalize-space(.)="Delete a resource group"]`),
	)
	a.audit("resource-group-delete")
	br.do("deleted",
		fill("Enter resource group name to confirm deletion", doomed),
		click(control("Delete")),
		see(`//h1[normalize-space(.)="Deleted resource group `+doomed+`"]`),
	)
	a.audit("resource-group-deleted")

	br.do("sign out", click(`//header//button[normalize-space(.)="Sign out"]`), see(`//h1[normalize-space(.)="You signed out of your account"]`))
	a.audit("signed-out")
}

// TestAuditorFindsProblems: the checks above fail on a page with the
// faults they look for, so their passing on the portal means something.
func TestAuditorFindsProblems(t *testing.T) {
	chromium := testreq.Need(t, "chromium")[0]
	br := startBrowser(t, chromium)
	var got []string
	a := &auditor{t: t, br: br, fail: func(m string) { got = append(got, m) }}
	br.do("open the faulty page", chromedp.Navigate("data:text/html;base64,"+base64.StdEncoding.EncodeToString([]byte(faultyPage))), see(`//h1`))
	a.audit("faulty")
	for _, want := range []string{
		"<html> has no lang",
		`the page has no title of its own ("")`,
		"2 main landmarks, want 1",
		`heading "Skipped" (level 3) skips from level 1`,
		"a textbox without an accessible name",
		`the textbox "Only a placeholder" is named by its placeholder`,
		"a button without an accessible name",
		"an image without alt text",
		"a table without a caption",
		"contrast: <p> \"Faint\" text: #aaaaaa on #ffffff",
		`contrast: <input type=text> "Ghost" border: #dddddd on #ffffff`,
		`contrast: <input type=text> "Ghost" placeholder: #bbbbbb on #ffffff`,
		`no visible focus indicator on <button> "Plain"`,
		"tab order [",
		"(1280x800): layout: the page scrolls sideways",
		`(390x844): layout: <div> "Too wide" sticks out of the window`,
		`(390x844): layout: <p> "TallTallTall" spills out of its box`,
	} {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, want)
		}
		if !found {
			t.Errorf("the audit did not report %q; it reported:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// faultyPage has one of each fault the auditor checks for.
const faultyPage = `<!doctype html><html><head><meta charset="utf-8"><style>
body{background:#fff;color:#000;margin:0} .faint{color:#aaa} button.plain:focus{outline:none}
.wide{width:1500px} .tall{height:10px} .ghost{border:1px solid #ddd} .ghost::placeholder{color:#bbb}
</style></head><body>
<main><h1>Faulty</h1><h3>Skipped</h3>
<p class="faint">Faint</p>
<input placeholder="Only a placeholder"> <input> <label>Ghost <input class="ghost" placeholder="faint"></label>
<button></button> <button class="plain">Plain</button>
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">
<a href="#x" tabindex="2">Jumps the queue</a>
<table><tr><th>Head</th></tr><tr><td>Cell</td></tr></table>
<div class="wide">Too wide</div>
<p class="tall">Tall<br>Tall<br>Tall</p>
</main><main><p>Second main</p></main>
</body></html>`

// auditor runs the page checks of TestBrowserAccessibility; a failed check
// is reported with t.Errorf so one run lists every page's problems.
type auditor struct {
	t    *testing.T
	br   *browser
	fail func(msg string) // t.Error, or a collector in the auditor's own test
}

func (a *auditor) errorf(format string, args ...any) {
	a.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if a.fail != nil {
		a.fail(msg)
		return
	}
	a.t.Error(msg)
}

const wide, narrowW, narrowH = 1280, 390, 844

func (a *auditor) audit(page string) {
	a.t.Helper()
	a.tree(page, "1280x800")
	a.contrast(page)
	a.keyboard(page)
	a.layout(page, "1280x800", true)
	a.br.do("narrow window", chromedp.EmulateViewport(narrowW, narrowH))
	a.tree(page, "390x844")
	a.layout(page, "390x844", true)
	// WCAG's reflow width: content still fits without sideways scrolling.
	a.br.do("narrowest window", chromedp.EmulateViewport(320, 568))
	a.layout(page, "320x568", false)
	a.br.do("wide window", chromedp.EmulateViewport(wide, 800))
}

func (a *auditor) eval(page, script string, out any) {
	a.t.Helper()
	raw, err := chromedp.Run(a.br.ctx, chromedp.Evaluate[[]byte](a11yLib+script))
	if err == nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		a.t.Fatalf("%s: %v", page, err)
	}
}

// axString is an accessibility value as text ("" when absent).
func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) == nil {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(string(v.Value))
}

func axProp(n *accessibility.Node, name string) string {
	for _, p := range n.Properties {
		if string(p.Name) == name {
			return axString(p.Value)
		}
	}
	return ""
}

// Roles a person operates; each needs a name.
var interactiveRoles = map[string]bool{
	"button": true, "link": true, "textbox": true, "searchbox": true, "combobox": true, "checkbox": true,
	"radio": true, "listbox": true, "switch": true, "spinbutton": true, "slider": true, "menuitem": true,
	"menuitemcheckbox": true, "menuitemradio": true, "tab": true, "option": true, "Date": true, "date": true,
	"DateTime": true, "InputTime": true,
}

// Form fields: their name has to come from a label (or, where HTML has
// none, aria-label/aria-labelledby), never from a placeholder or title.
var fieldRoles = map[string]bool{
	"textbox": true, "searchbox": true, "combobox": true, "checkbox": true, "radio": true, "listbox": true,
	"switch": true, "spinbutton": true, "slider": true, "Date": true, "date": true, "DateTime": true, "InputTime": true,
}

func (a *auditor) tree(page, size string) {
	a.t.Helper()
	res, err := chromedp.Call(a.br.ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		a.t.Fatalf("%s: accessibility tree: %v", page, err)
	}
	byID := map[accessibility.NodeID]*accessibility.Node{}
	var root *accessibility.Node
	for _, n := range res.Nodes {
		byID[n.NodeID] = n
		if n.ParentID == "" && root == nil {
			root = n
		}
	}
	if root == nil {
		a.t.Fatalf("%s: empty accessibility tree", page)
	}
	errf := func(format string, args ...any) {
		a.t.Helper()
		a.errorf("%s (%s): %s", page, size, fmt.Sprintf(format, args...))
	}
	var mains, h1s, lastLevel, tables int
	navNames := map[string]int{}
	var navs int
	// Walk in document order (the children lists), so heading levels are
	// compared as a reader meets them.
	var walk func(n *accessibility.Node)
	walk = func(n *accessibility.Node) {
		if !n.Ignored {
			role, name := axString(n.Role), axString(n.Name)
			switch {
			case interactiveRoles[role] && name == "":
				errf("a %s without an accessible name", role)
			case role != "RootWebArea" && role != "WebArea" && role != "main" && axProp(n, "focusable") == "true" && name == "":
				errf("a focusable %s without an accessible name", role)
			}
			if fieldRoles[role] && name != "" {
				for _, src := range n.Name.Sources {
					if src.Superseded || src.Value == nil || axString(src.Value) == "" {
						continue
					}
					if src.Type == accessibility.ValueSourceTypePlaceholder || src.Attribute == "title" || src.Attribute == "placeholder" {
						by := src.Attribute
						if by == "" {
							by = string(src.Type)
						}
						errf("the %s %q is named by its %s, not a label", role, name, by)
					}
					break
				}
			}
			switch role {
			case "image", "img":
				if name == "" {
					errf("an image without alt text")
				}
			case "main":
				mains++
			case "navigation":
				navs++
				navNames[name]++
			case "table":
				tables++
				if name == "" {
					errf("a table without a caption")
				}
			case "heading":
				var level int
				fmt.Sscan(axProp(n, "level"), &level)
				if level == 1 {
					h1s++
				}
				if lastLevel == 0 && level != 1 {
					errf("the first heading %q is level %d", name, level)
				} else if level > lastLevel+1 && lastLevel != 0 {
					errf("heading %q (level %d) skips from level %d", name, level, lastLevel)
				}
				lastLevel = level
			}
		}
		for _, c := range n.ChildIDs {
			if k := byID[c]; k != nil {
				walk(k)
			}
		}
	}
	walk(root)
	if mains != 1 {
		errf("%d main landmarks, want 1", mains)
	}
	if h1s != 1 {
		errf("%d level-1 headings, want 1", h1s)
	}
	if navs > 1 {
		for name, k := range navNames {
			if name == "" || k > 1 {
				errf("%d navigation landmarks named %q: several menus need distinct names", k, name)
			}
		}
	}
	var dom struct {
		Lang   string `json:"lang"`
		Title  string `json:"title"`
		Tables int    `json:"tables"`
		Pages  int    `json:"pages"`
	}
	a.eval(page, `({lang: document.documentElement.lang, title: document.title, tables: document.querySelectorAll('table').length,
		pages: document.querySelectorAll('[aria-current=page]').length})`, &dom)
	if dom.Pages > 1 {
		errf("%d links are marked as the current page", dom.Pages)
	}
	if dom.Lang == "" {
		errf("<html> has no lang")
	}
	// The title names the page before the site (it is what a tab and a
	// screen reader announce first).
	if t := strings.TrimSpace(strings.TrimSuffix(dom.Title, "- Coffer portal")); t == "" {
		errf("the page has no title of its own (%q)", dom.Title)
	}
	// A narrow layout that restyles tables must not cost them their
	// table semantics.
	if tables != dom.Tables {
		errf("%d tables in the accessibility tree, %d on the page", tables, dom.Tables)
	}
}

func (a *auditor) contrast(page string) {
	a.t.Helper()
	var fails []string
	a.eval(page, `a11y.contrast()`, &fails)
	for _, f := range fails {
		a.errorf("%s: contrast: %s", page, f)
	}
}

func (a *auditor) layout(page, size string, shot bool) {
	a.t.Helper()
	var fails []string
	a.eval(page, `a11y.layout()`, &fails)
	for _, f := range fails {
		a.errorf("%s (%s): layout: %s", page, size, f)
	}
	if shot {
		a.br.screenshot("a11y-" + page + "-" + size)
	}
}

// stop is what a11y.focus reports about the focused element.
type stop struct {
	Index    int     `json:"index"` // in the expected tab order, -1 if not in it
	Body     bool    `json:"body"`  // focus left the page's controls
	Desc     string  `json:"desc"`
	Label    string  `json:"label"`
	Changed  bool    `json:"changed"`  // computed outline/shadow differ from unfocused
	Ring     float64 `json:"ring"`     // the indicator's contrast with what is behind it
	InView   bool    `json:"inView"`   // scrolled into the viewport
	Expected int     `json:"expected"` // length of the expected order
	Start    int     `json:"start"`    // where the order starts (after an autofocused field)
}

// keyboard tabs through the page from the top: the stops must be the
// page's focusable controls in document order (one per radio group), and
// each must show a focus indicator.
func (a *auditor) keyboard(page string) {
	a.t.Helper()
	var st stop
	a.eval(page, `a11y.tabSetup()`, &st)
	want, start := st.Expected, st.Start
	var got []int
	seen := map[int]bool{}
	last := -2
	for i := 0; i < (want-start)*4+6; i++ {
		a.br.do("Tab", chromedp.KeyEvent(kb.Tab))
		a.eval(page, `a11y.focus()`, &st)
		if st.Body || (st.Index >= 0 && st.Index != last && seen[st.Index]) { // left the page, or wrapped
			break
		}
		if st.Index == last { // a date field's parts share one element
			continue
		}
		last = st.Index
		if st.Index < 0 {
			a.errorf("%s: Tab reached %s, which is not among the page's visible controls", page, st.Desc)
			continue
		}
		got = append(got, st.Index)
		seen[st.Index] = true
		if !st.Changed {
			a.errorf("%s: no visible focus indicator on %s", page, st.Desc)
		} else if st.Ring < 3 {
			a.errorf("%s: the focus indicator on %s contrasts %.2f:1 with its background, want 3:1", page, st.Desc, st.Ring)
		}
		if !st.InView {
			a.errorf("%s: focused %s is outside the window", page, st.Desc)
		}
	}
	for i, k := range got {
		if k != start+i {
			a.errorf("%s: tab order %v, want the document order %d..%d", page, got, start, want-1)
			break
		}
	}
	a.t.Logf("%s: Tab visited %d controls", page, len(got))
	if len(got) != want-start {
		a.errorf("%s: Tab visited %d of %d controls", page, len(got), want-start)
	}
	a.eval(page, `(document.activeElement && document.activeElement.blur(), 0)`, new(int))
}

// tabTo presses Tab until the focused control's label or text is name,
// or starts with it followed by a space.
func (a *auditor) tabTo(name string) {
	a.t.Helper()
	for range 150 {
		a.br.do("Tab to "+name, chromedp.KeyEvent(kb.Tab))
		if f := a.focused(); f == name || strings.HasPrefix(f, name+" ") && strings.Contains(name, " ") {
			return
		}
	}
	a.t.Fatalf("Tab never reached %q", name)
}

// current checks the portal menu marks entry as the current page or
// section (aria-current), so "where am I" is not only a colour.
func (a *auditor) current(entry, kind string) {
	a.t.Helper()
	a.br.do("the menu marks "+entry, see(fmt.Sprintf(`//nav[@aria-label="Portal menu"]//a[@aria-current=%q][normalize-space(.)=%q]`, kind, entry)))
}

func (a *auditor) text(name, sel string) string {
	a.t.Helper()
	return a.br.text(name, sel)
}

func (a *auditor) focused() string {
	a.t.Helper()
	var label string
	a.eval("focus", `a11y.label(document.activeElement)`, &label)
	return label
}

// a11yLib is evaluated before each check (pages reload between checks);
// it defines window.a11y. It runs through DevTools, which the page's
// Content-Security-Policy does not restrict.
const a11yLib = `
window.a11y = window.a11y || (() => {
  const parse = c => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1});
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const ratio = (x, y) => { const a = lum(x), b = lum(y); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
  // The colour behind an element: its own and its ancestors' backgrounds
  // composited over the canvas (white).
  const bg = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let res = {r: 255, g: 255, b: 255, a: 1};
    for (let i = layers.length - 1; i >= 0; i--) res = over(layers[i], res);
    return res;
  };
  const hex = c => '#' + [c.r, c.g, c.b].map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
  const visible = el => {
    if (!el.getClientRects().length) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none';
  };
  const label = el => {
    if (!el || el === document.body) return '';
    if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
    return (el.getAttribute('aria-label') || el.textContent || '').replace(/\s+/g, ' ').trim();
  };
  const desc = el => {
    const l = label(el);
    return '<' + el.tagName.toLowerCase() + (el.type && el.tagName === 'INPUT' ? ' type=' + el.type : '') + '>' + (l ? ' "' + l.slice(0, 60) + '"' : '');
  };
  const look = el => {
    const s = getComputedStyle(el);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join('|');
  };
  const skipLink = () => document.querySelector('a[href="#main"]');

  function contrast() {
    const fails = [], seen = new Set();
    const check = (el, what) => {
      if (!visible(el)) return;
      const s = getComputedStyle(el);
      const back = bg(el), fg = over(parse(s.color) || {r: 0, g: 0, b: 0, a: 1}, back);
      const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
      const min = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
      const r = ratio(fg, back);
      const key = hex(fg) + '/' + hex(back) + '/' + size;
      if (r < min && !seen.has(key)) {
        seen.add(key);
        fails.push(desc(el) + ' ' + what + ': ' + hex(fg) + ' on ' + hex(back) + ' is ' + r.toFixed(2) + ':1, want ' + min + ':1');
      }
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const parents = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.textContent.trim() && n.parentElement) parents.add(n.parentElement);
    }
    for (const el of parents) check(el, 'text');
    for (const el of document.querySelectorAll('input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select')) {
      check(el, 'field text');
      if (!visible(el)) continue;
      const back = bg(el.parentElement);
      // A field's edge is what shows where to type: 3:1 (non-text contrast).
      const edge = parse(getComputedStyle(el).borderBottomColor);
      if (edge && ratio(over(edge, back), back) < 3) {
        fails.push(desc(el) + ' border: ' + hex(over(edge, back)) + ' on ' + hex(back) + ' is ' + ratio(over(edge, back), back).toFixed(2) + ':1, want 3:1');
      }
      if (el.placeholder) {
        const ph = parse(getComputedStyle(el, '::placeholder').color), fb = bg(el);
        if (ph && ratio(over(ph, fb), fb) < 4.5) {
          fails.push(desc(el) + ' placeholder: ' + hex(over(ph, fb)) + ' on ' + hex(fb) + ' is ' + ratio(over(ph, fb), fb).toFixed(2) + ':1, want 4.5:1');
        }
      }
    }
    return fails;
  }

  function layout() {
    // The width the page lays out in: the window less a vertical
    // scroll bar (innerWidth counts the bar, which would hide content).
    const out = [], W = document.documentElement.clientWidth, se = document.scrollingElement;
    if (se.scrollWidth > W) out.push('the page scrolls sideways: ' + se.scrollWidth + 'px wide in ' + W + 'px (a ' + innerWidth + 'px window)');
    const inScroller = el => { // or clipped by an ancestor
      for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
        if (/auto|scroll|hidden|clip/.test(getComputedStyle(e).overflowX)) return true;
      }
      return false;
    };
    const reported = [], skip = skipLink();
    for (const el of document.body.querySelectorAll('*')) {
      if ((skip && skip.contains(el)) || reported.some(p => p.contains(el))) continue;
      const r = el.getBoundingClientRect();
      if (!r.width && !r.height) continue;
      if ((r.right > W + 1 || r.left < -1) && !inScroller(el)) {
        reported.push(el);
        out.push(desc(el) + ' sticks out of the window (' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + W + 'px)');
      }
    }
    for (const el of document.querySelectorAll('h1, main, header, nav a, header button, main a[href], main button, main input:not([type=hidden]), main select')) {
      if (el.closest('[hidden]')) continue; // hidden on purpose, for everyone
      if (!visible(el) || !el.getBoundingClientRect().width) out.push(desc(el) + ' is hidden');
    }
    // Content spilling out of a box that does not grow (it would overlap
    // what follows).
    for (const el of document.querySelectorAll('header, nav, main, section, form, li, dd, dt, td, th, p, h1, h2, h3, label, fieldset, legend')) {
      const s = getComputedStyle(el);
      if (s.overflowY === 'visible' && el.scrollHeight > el.clientHeight + 2 && el.clientHeight > 0) {
        out.push(desc(el) + ' spills out of its box (' + el.scrollHeight + 'px of content in ' + el.clientHeight + 'px)');
      }
    }
    return out;
  }

  // The tab order a reader expects: focusable, visible controls in
  // document order, one stop per radio group (the checked one, else the
  // first).
  let stops = [], before = [], start = 0;
  function tabSetup() {
    const all = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
      .filter(el => el.tabIndex >= 0 && !el.disabled && el.type !== 'hidden' && (visible(el) || el === skipLink()));
    const groups = new Set();
    stops = [];
    for (const el of all) {
      if (el.type === 'radio' && el.name) {
        if (groups.has(el.form + el.name)) continue;
        groups.add(el.form + el.name);
        const g = all.filter(o => o.type === 'radio' && o.name === el.name && o.form === el.form);
        stops.push(g.find(o => o.checked) || g[0]);
      } else stops.push(el);
    }
    before = stops.map(look);
    start = stops.indexOf(document.activeElement) + 1;
    return {expected: stops.length, start, index: 0};
  }
  function focus() {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return {body: true, index: -1};
    const i = stops.indexOf(el), s = getComputedStyle(el), r = el.getBoundingClientRect();
    let ring = 0;
    if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) {
      const c = parse(s.outlineColor);
      if (c) ring = ratio(over(c, bg(el.parentElement || el)), bg(el.parentElement || el));
    } else if (s.boxShadow !== 'none') {
      ring = 3; // a shadow ring: its colour is not parsed here
    }
    return {index: i, desc: desc(el), label: label(el), changed: i >= 0 && look(el) !== before[i], ring,
      inView: r.bottom > 0 && r.right > 0 && r.top < document.documentElement.clientHeight && r.left < document.documentElement.clientWidth};
  }
  return {contrast, layout, tabSetup, focus, label};
})();
`
