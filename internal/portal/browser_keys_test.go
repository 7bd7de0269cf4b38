package portal_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
	"github.com/coffer-dev/coffer/internal/testreq"
)

// TestBrowserKeysAndCertificates: the Keys and Certificates blades in
// headless Chromium, found by their wording. In a vault created in the
// portal (its creator gets the Key, Secret & Certificate Management
// policy): Keys > Generate/Import > an EC key and an RSA 3072 key; the
// key's type and size; + New Version; Delete, Manage deleted keys >
// Recover; then Certificates > Generate/Import > a Self-signed
// certificate with a subject and validity; its operation's status
// (completed) and thumbprint; Delete, Manage deleted certificates >
// Recover (the recovered certificate listed with the thumbprint its page
// showed). Screenshots of the lists and the certificate are kept.
func TestBrowserKeysAndCertificates(t *testing.T) {
	chromium := testreq.Need(t, "chromium")[0]
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	br := startBrowser(t, chromium)
	portal := "https://localhost:" + env.Port() + "/portal/"
	br.signIn(portal, env.Admin.UserPrincipalName, env.Admin.Password)
	const vault = "keys-certs-vault"
	br.do("create a vault",
		chromedp.Navigate(portal+"create/keyvault/form"),
		choose("Resource group", "coffer"),
		fill("Name", vault),
		click(control("Review + create")),
		see(shows("Validation passed")),
		click(control("Create")),
		click(control("Go to resource")),
		see(essential("Vault URI")),
	)
	row := func(caption, name string) string {
		return fmt.Sprintf(`//table[caption[normalize-space(.)=%q]]//tr[td[normalize-space(.)=%q]]`, caption, name)
	}
	br.do("generate keys",
		click(navLink("Keys")),
		see(`//caption[normalize-space(.)="Keys"]`),
		see(shows("There are no keys available.")),
		click(control("Generate/Import")),
		see(`//h2[normalize-space(.)="Create a key"]`),
		fill("Name", "signing-key"),
		click(option("EC")),
		choose("Elliptic curve name", "P-384"),
		click(control("Create")),
		see(shows("The key 'signing-key' has been successfully created.")),
		click(control("Generate/Import")),
		fill("Name", "wrapping-key"),
		click(option("3072")),
		click(control("Create")),
		see(shows("The key 'wrapping-key' has been successfully created.")),
		see(`//table//a[normalize-space(.)="signing-key"]`),
	)
	br.screenshot("keys")
	br.do("a key's details and a new version",
		click(`//table//a[normalize-space(.)="wrapping-key"]`),
		see(`//caption[normalize-space(.)="Versions"]`),
	)
	if got := br.text("key type", `//dt[normalize-space(.)="Key type"]/following-sibling::dd[1]`); got != "RSA" {
		t.Errorf("Key type = %q", got)
	}
	if got := br.text("key size", `//dt[normalize-space(.)="RSA key size"]/following-sibling::dd[1]`); got != "3072" {
		t.Errorf("RSA key size = %q", got)
	}
	br.do("new version",
		click(control("New Version")),
		see(shows("The new version of wrapping-key has been created.")),
		see(`//caption[normalize-space(.)="Versions"]/following-sibling::tbody[count(tr)=2]`),
	)
	br.do("delete and recover a key",
		click(control("Delete")),
		see(`//caption[normalize-space(.)="Keys"]`),
		chromedp.WaitNotPresent(`//table//a[normalize-space(.)="wrapping-key"]`),
		click(control("Manage deleted keys")),
		see(row("Deleted keys", "wrapping-key")),
		click(`//button[@aria-label="Recover wrapping-key"]`),
		see(shows("Recovered wrapping-key.")),
		click(`//main//a[normalize-space(.)="Back to Keys"]`),
		see(`//table//a[normalize-space(.)="wrapping-key"]`),
	)

	br.do("generate a self-signed certificate",
		click(navLink("Certificates")),
		see(`//caption[normalize-space(.)="Certificates"]`),
		click(control("Generate/Import")),
		see(`//h2[normalize-space(.)="Create a certificate"]`),
		fill("Certificate Name", "web-cert"),
		fill("Subject", "CN=www.example.test"),
		fill("DNS Names (optional, comma-separated)", "www.example.test, example.test"),
		chromedp.SetValue(field("Validity Period (in months)"), "6"),
		click(option("PEM")),
		click(control("Create")),
		see(shows("The creation of certificate web-cert has been started.")),
		see(`//table//a[normalize-space(.)="web-cert"]`),
		click(`//table//a[normalize-space(.)="web-cert"]`),
		see(`//h3[normalize-space(.)="Certificate Operation"]`),
	)
	if got := br.text("status", `//dt[normalize-space(.)="Status"]/following-sibling::dd[1]`); got != "completed" {
		t.Errorf("certificate operation status = %q", got)
	}
	if got := br.text("subject", `//dt[normalize-space(.)="Subject"]/following-sibling::dd[1]`); got != "CN=www.example.test" {
		t.Errorf("Subject = %q", got)
	}
	if got := br.text("content type", `//dt[normalize-space(.)="Content Type"]/following-sibling::dd[1]`); got != "application/x-pem-file" {
		t.Errorf("Content Type = %q", got)
	}
	thumb := br.text("thumbprint", `//dt[normalize-space(.)="X.509 SHA-1 Thumbprint (in hex)"]/following-sibling::dd[1]`)
	if len(thumb) != 40 {
		t.Errorf("thumbprint %q is not 40 hex digits", thumb)
	}
	br.screenshot("certificate")
	br.do("delete and recover the certificate",
		click(control("Delete")),
		see(`//caption[normalize-space(.)="Certificates"]`),
		see(shows("There are no certificates available.")),
		click(control("Manage deleted certificates")),
		see(row("Deleted certificates", "web-cert")),
		click(`//button[@aria-label="Recover web-cert"]`),
		see(shows("Recovered web-cert.")),
		click(`//main//a[normalize-space(.)="Back to Certificates"]`),
		see(row("Certificates", thumb)),
	)
	br.screenshot("certificates")
}
