package portal_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestPortalKeysAndCertificatesInput: the Keys and Certificates forms
// refuse bad input with a 400 and the reason on the form (Key Vault's own
// message where Key Vault decides), never a 500; and the blades are a
// client of Key Vault with the user's token: the admin user, Owner of the
// subscription but without an access policy on the default vault, is shown
// Key Vault's refusal in plain words.
func TestPortalKeysAndCertificatesInput(t *testing.T) {
	b := newBrowserish(t)
	b.signIn(b.env.Admin.UserPrincipalName, b.env.Admin.Password)
	csrf := b.csrf()
	// A vault of the admin user's: the portal gives its creator an access
	// policy with every key, secret and certificate permission.
	resp := b.post("/portal/create/keyvault/form", url.Values{"csrf": {csrf}, "subscription": {b.env.Instance.SubscriptionID},
		"resourceGroup": {"coffer"}, "name": {"input-vault"}, "region": {"local"}, "tier": {"standard"}, "retentionDays": {"90"},
		"permissionModel": {"accesspolicy"}, "step": {"create"}})
	if resp.StatusCode != 200 || !strings.Contains(b.last, "Go to resource") {
		t.Fatalf("create vault: %d %s", resp.StatusCode, b.last)
	}
	base := "/portal/kv/coffer/input-vault"
	tests := []struct {
		name, path string
		form       url.Values
		want       string
	}{
		{"key without a name", "/keys/new", url.Values{"options": {"generate"}, "keyType": {"RSA"}, "keySize": {"2048"}}, "Name is required."},
		{"key import", "/keys/new", url.Values{"options": {"import"}, "keyName": {"k"}, "keyType": {"RSA"}}, "Only the Generate option is available."},
		{"key of an unknown type", "/keys/new", url.Values{"options": {"generate"}, "keyName": {"k"}, "keyType": {"DSA"}}, "Choose a key type: RSA or EC."},
		{"key with a bad date", "/keys/new", url.Values{"options": {"generate"}, "keyName": {"k"}, "keyType": {"RSA"}, "keySize": {"2048"},
			"setExpiration": {"on"}, "expiration": {"tomorrow"}}, "Dates must be given as YYYY-MM-DD."},
		{"key size Key Vault refuses", "/keys/new", url.Values{"options": {"generate"}, "keyName": {"k"}, "keyType": {"RSA"}, "keySize": {"1000"}}, "1000"},
		{"key name Key Vault refuses", "/keys/new", url.Values{"options": {"generate"}, "keyName": {"bad_name!"}, "keyType": {"RSA"}, "keySize": {"2048"}}, "bad_name!"},
		{"certificate without a subject", "/certificates/new", url.Values{"method": {"generate"}, "certName": {"c"}, "ca": {"self"}, "validity": {"12"}, "keySize": {"2048"}},
			"Certificate Name and Subject are required."},
		{"certificate from a CA", "/certificates/new", url.Values{"method": {"generate"}, "certName": {"c"}, "ca": {"digicert"}, "subject": {"CN=x"}, "validity": {"12"}},
			"Only Self-signed certificates can be generated"},
		{"certificate valid 0 months", "/certificates/new", url.Values{"method": {"generate"}, "certName": {"c"}, "ca": {"self"}, "subject": {"CN=x"}, "validity": {"0"}, "keySize": {"2048"}},
			"Validity Period (in months) must be a number from 1 to 1200."},
		{"certificate subject Key Vault refuses", "/certificates/new", url.Values{"method": {"generate"}, "certName": {"c"}, "ca": {"self"}, "subject": {"not a DN"},
			"validity": {"12"}, "keySize": {"2048"}, "contentType": {"application/x-pkcs12"}}, "not a DN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", csrf)
			resp := b.post(base+tc.path, tc.form)
			if resp.StatusCode != 400 || !strings.Contains(unescape(b.last), tc.want) || !strings.Contains(b.last, `role="alert"`) {
				t.Errorf("%d, want 400 with %q:\n%s", resp.StatusCode, tc.want, b.last)
			}
		})
	}
	for _, p := range []string{"/keys", "/certificates"} {
		if resp := b.get(base + p); resp.StatusCode != 200 || strings.Contains(b.last, `role="alert"`) {
			t.Errorf("%s after refused creates: %d %s", p, resp.StatusCode, b.last)
		}
	}

	// No back door: the default vault's access policy names only the
	// admin service principal, so Key Vault refuses the admin user.
	for _, p := range []string{"/keys", "/certificates"} {
		resp := b.get("/portal/kv/coffer/default" + p)
		if resp.StatusCode != 200 || !strings.Contains(b.last, "You do not have permission to do this.") || !strings.Contains(b.last, "does not have") {
			t.Errorf("default vault %s as the admin user: %d %s", p, resp.StatusCode, b.last)
		}
	}
}
