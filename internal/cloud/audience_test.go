package cloud

import "testing"

// TestVaultAudienceStrict: a vault audience is the Key Vault resource and
// nothing that merely contains it: credentials, a query, a fragment, a
// path, another scheme or a host that only starts or ends like it are all
// refused, in every profile.
// An empty query or fragment counts too: net/url drops it, the check must not.
func TestVaultAudienceStrict(t *testing.T) {
	refused := []string{
		"https://user@vault.azure.net",
		"https://user:pw@vault.azure.net/",
		"https://vault.azure.net@evil.example/",
		"https://evil.example@vault.azure.net",
		"https://vault.azure.net?x=1",
		"https://vault.azure.net/?aud=https://vault.azure.net",
		"https://vault.azure.net#frag",
		"https://vault.azure.net/?",
		"https://vault.azure.net/#",
		"https://vault.azure.net?",
		"https://vault.azure.net/secrets",
		"https://vault.azure.net//",
		"http://vault.azure.net",
		"wss://vault.azure.net",
		"https://vault.azure.net.evil.example",
		"https://evilvault.azure.net",
		"https://kv1.vault.azure.net",
		"https://vault.azure.com",
		"vault.azure.net",
		"",
		"https://",
	}
	for _, p := range []Profile{AzureCloud, Local} {
		for _, aud := range refused {
			if p.IsVaultAudience(aud) {
				t.Errorf("%s: IsVaultAudience(%q) = true, want false", p.Name, aud)
			}
		}
		for _, aud := range []string{"https://vault.azure.net", "https://vault.azure.net/", "https://VAULT.azure.net", KeyVaultAppID} {
			if !p.IsVaultAudience(aud) {
				t.Errorf("%s: IsVaultAudience(%q) = false, want true", p.Name, aud)
			}
		}
	}
}
