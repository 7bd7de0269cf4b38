package cloud

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		p         Profile
		host      string
		wantClass HostClass
		wantVault string
	}{
		{"vault", AzureCloud, "MyVault.vault.azure.net", HostVault, "myvault"},
		{"vault with port", AzureCloud, "myvault.vault.azure.net:8443", HostVault, "myvault"},
		{"nested is not a vault", AzureCloud, "a.b.vault.azure.net", HostBare, ""},
		{"suffix alone", AzureCloud, "vault.azure.net", HostBare, ""},
		{"login", AzureCloud, "login.microsoftonline.com", HostLogin, ""},
		{"mgmt", AzureUSGovernment, "management.usgovcloudapi.net:443", HostManagement, ""},
		{"local vault", Local, "kv1.vault.localhost:8443", HostVault, "kv1"},
		{"ip", Local, "127.0.0.1:8443", HostBare, ""},
		{"ipv6", Local, "[::1]:8443", HostBare, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, v := tt.p.Classify(tt.host)
			if c != tt.wantClass || v != tt.wantVault {
				t.Errorf("Classify(%q) = %v, %q, want %v, %q", tt.host, c, v, tt.wantClass, tt.wantVault)
			}
		})
	}
}

func TestIsVaultAudience(t *testing.T) {
	tests := []struct {
		aud  string
		want bool
	}{
		{"https://vault.azure.net", true},
		{"https://vault.azure.net/", true},
		{"https://vault.azure.net:8443", true},
		{KeyVaultAppID, true},
		{"https://management.azure.com/", false},
		{"https://myvault.vault.azure.net/", false},
		{"http://vault.azure.net", false},
		{"https://vault.azure.net/x", false},
		{"https://vault.azure.net.evil.com", false},
	}
	for _, tt := range tests {
		if got := AzureCloud.IsVaultAudience(tt.aud); got != tt.want {
			t.Errorf("IsVaultAudience(%q) = %v, want %v", tt.aud, got, tt.want)
		}
	}
}

func TestLocalAcceptsPublicVaultAudience(t *testing.T) {
	for aud, want := range map[string]bool{
		"https://vault.localhost:8443": true,
		"https://vault.azure.net":      true,
		"https://vault.azure.net/":     true,
		"https://vault.azure.cn":       false,
		"https://management.azure.com": false,
	} {
		if got := Local.IsVaultAudience(aud); got != want {
			t.Errorf("Local.IsVaultAudience(%q) = %v, want %v", aud, got, want)
		}
	}
	if AzureCloud.IsVaultAudience("https://vault.localhost") {
		t.Error("AzureCloud accepts the local audience")
	}
}

func TestIsGraphAudience(t *testing.T) {
	for _, tc := range []struct {
		p    Profile
		aud  string
		want bool
	}{
		{AzureCloud, "https://graph.microsoft.com", true},
		{AzureCloud, "https://graph.microsoft.com/", true},
		{AzureCloud, GraphAppID, true},
		{AzureCloud, "https://localhost:8443/", false},
		{AzureCloud, "https://graph.windows.net/", false},
		{AzureCloud, "https://management.azure.com/", false},
		// The local profile advertises its listener as the Graph resource.
		{Local, "https://graph.microsoft.com/", true},
		{Local, "https://localhost:8443/", true},
		{Local, "https://localhost:8443", true},
		{Local, "https://127.0.0.1:8443/", true},
		{Local, "https://[::1]:8443/", true},
		// …but not a name that belongs to another service, nor a foreign host.
		{Local, "https://vault.localhost:8443", false},
		{Local, "https://vault.azure.net", false},
		{Local, "https://kv1.vault.localhost:8443/", false},
		{Local, "https://management.localhost/", false},
		{Local, "https://management.localhost", false},
		{Local, "https://management.azure.com", false},
		{Local, "https://login.microsoftonline.com/", false},
		{Local, "https://example.com/", false},
		{Local, "http://localhost:8443/", false},
		{Local, "https://localhost:8443/v1.0", false},
		{Local, "https://localhost:8443/?x=1", false},
	} {
		if got := tc.p.IsGraphAudience(tc.aud); got != tc.want {
			t.Errorf("%s.IsGraphAudience(%q) = %v, want %v", tc.p.Name, tc.aud, got, tc.want)
		}
	}
}
