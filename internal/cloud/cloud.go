// Package cloud describes the Azure cloud profiles Coffer can impersonate:
// which host names it answers for (login, management, vault DNS suffix) and
// which token audiences belong to them. A profile is pure data; routing by
// Host and certificate issuance by SNI are derived from it.
package cloud

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
)

// KeyVaultAppID is the public-cloud application id of Azure Key Vault; v2
// tokens may carry it as their audience.
const KeyVaultAppID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"

// Profile is one cloud's set of names.
type Profile struct {
	// Name as accepted by --cloud.
	Name string
	// VaultSuffix is the DNS suffix under which vaults live, e.g. "vault.azure.net".
	VaultSuffix string
	// LoginHost is the Entra authority host, e.g. "login.microsoftonline.com".
	// Empty for the local profile, where the authority is the listener itself.
	LoginHost string
	// ManagementHost is the ARM host, e.g. "management.azure.com". Empty for local.
	ManagementHost string
	// GraphHost is the Microsoft Graph host. Empty for local.
	GraphHost string
	// ManagementAudiences are the token audiences ARM accepts.
	ManagementAudiences []string
	// Environment is the IMDS compute.azEnvironment value.
	Environment string
	// VaultAudienceAliases are further Key Vault resource hosts whose tokens
	// the profile's vaults accept.
	VaultAudienceAliases []string
}

// Local is the default profile: everything under localhost, no name pinning
// needed because *.localhost resolves to the loopback on most systems.
var Local = Profile{
	Name:        "local",
	VaultSuffix: "vault.localhost",
	ManagementAudiences: []string{"https://management.localhost/", "https://management.localhost", "https://management.azure.com/", "https://management.azure.com",
		"https://management.core.windows.net/", "https://management.core.windows.net"},
	Environment: "AzurePublicCloud",
	// Programs written for Azure (the seed's own IMDS request) ask for
	// https://vault.azure.net; the local profile stands in for that cloud.
	VaultAudienceAliases: []string{"vault.azure.net"},
}

// AzureCloud is the public cloud.
var AzureCloud = Profile{
	Name:                "AzureCloud",
	VaultSuffix:         "vault.azure.net",
	LoginHost:           "login.microsoftonline.com",
	ManagementHost:      "management.azure.com",
	GraphHost:           "graph.microsoft.com",
	ManagementAudiences: []string{"https://management.azure.com/", "https://management.azure.com", "https://management.core.windows.net/", "https://management.core.windows.net"},
	Environment:         "AzurePublicCloud",
}

// AzureUSGovernment is the US Government cloud.
var AzureUSGovernment = Profile{
	Name:                "AzureUSGovernment",
	VaultSuffix:         "vault.usgovcloudapi.net",
	LoginHost:           "login.microsoftonline.us",
	ManagementHost:      "management.usgovcloudapi.net",
	GraphHost:           "graph.microsoft.us",
	ManagementAudiences: []string{"https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net/"},
	Environment:         "AzureUSGovernmentCloud",
}

// AzureChinaCloud is the cloud operated by 21Vianet.
var AzureChinaCloud = Profile{
	Name:                "AzureChinaCloud",
	VaultSuffix:         "vault.azure.cn",
	LoginHost:           "login.chinacloudapi.cn",
	ManagementHost:      "management.chinacloudapi.cn",
	GraphHost:           "microsoftgraph.chinacloudapi.cn",
	ManagementAudiences: []string{"https://management.chinacloudapi.cn/", "https://management.chinacloudapi.cn", "https://management.core.chinacloudapi.cn/"},
	Environment:         "AzureChinaCloud",
}

var profiles = map[string]Profile{
	strings.ToLower(Local.Name):             Local,
	strings.ToLower(AzureCloud.Name):        AzureCloud,
	strings.ToLower(AzureUSGovernment.Name): AzureUSGovernment,
	strings.ToLower(AzureChinaCloud.Name):   AzureChinaCloud,
}

// Lookup returns the profile with the given name (case-insensitive).
func Lookup(name string) (Profile, error) {
	p, ok := profiles[strings.ToLower(name)]
	if !ok {
		var names []string
		for _, p := range profiles {
			names = append(names, p.Name)
		}
		sort.Strings(names)
		return Profile{}, fmt.Errorf("unknown cloud %q (known: %s)", name, strings.Join(names, ", "))
	}
	return p, nil
}

// VaultResource is the canonical Key Vault token audience of the profile,
// e.g. "https://vault.azure.net".
func (p Profile) VaultResource() string { return "https://" + p.VaultSuffix }

// HostClass says what a request's Host names.
type HostClass int

// Host classes.
const (
	HostBare       HostClass = iota // localhost, an IP, or any unknown name: everything, default vault
	HostVault                       // <vault>.<suffix>
	HostLogin                       // the profile's login host
	HostManagement                  // the profile's ARM host
	HostGraph                       // the profile's Graph host
)

// Classify splits a request Host (with or without port) into its class and,
// for vault hosts, the vault name (lower case).
func (p Profile) Classify(hostport string) (HostClass, string) {
	host := strings.ToLower(strings.TrimSuffix(StripPort(hostport), "."))
	switch {
	case p.LoginHost != "" && host == p.LoginHost:
		return HostLogin, ""
	case p.ManagementHost != "" && host == p.ManagementHost:
		return HostManagement, ""
	case p.GraphHost != "" && host == p.GraphHost:
		return HostGraph, ""
	}
	if name, ok := strings.CutSuffix(host, "."+p.VaultSuffix); ok && name != "" && !strings.Contains(name, ".") {
		return HostVault, name
	}
	return HostBare, ""
}

// ServesName reports whether Coffer should present a certificate for host
// under this profile.
func (p Profile) ServesName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || net.ParseIP(host) != nil || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if host == msalDiscoveryHost {
		// MSAL validates any authority it does not know by asking this
		// host; pinning it to Coffer must work in every profile.
		return true
	}
	c, _ := p.Classify(host)
	return c != HostBare
}

// msalDiscoveryHost is where MSAL sends instance discovery for unknown authorities.
const msalDiscoveryHost = "login.microsoftonline.com"

// StripPort removes a :port from a Host value, keeping IPv6 literals intact.
func StripPort(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hostport, "[]")
}

// PortSuffix returns ":port" if hostport carries a port other than 443, else "".
func PortSuffix(hostport string) string {
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" && port != "443" {
		return ":" + port
	}
	return ""
}

// IsVaultAudience reports whether a token audience names this profile's Key
// Vault: the canonical resource with or without a trailing slash, the same
// with an explicit port (self-hosted listeners advertise one in the
// challenge), or the Key Vault application id.
func (p Profile) IsVaultAudience(aud string) bool {
	if aud == KeyVaultAppID {
		return true
	}
	u, err := url.Parse(aud)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	if u.Path != "" && u.Path != "/" {
		return false
	}
	if strings.EqualFold(u.Hostname(), p.VaultSuffix) {
		return true
	}
	for _, a := range p.VaultAudienceAliases {
		if strings.EqualFold(u.Hostname(), a) {
			return true
		}
	}
	return false
}

// IsManagementAudience reports whether aud names this profile's ARM.
func (p Profile) IsManagementAudience(aud string) bool {
	for _, a := range p.ManagementAudiences {
		if strings.EqualFold(a, aud) {
			return true
		}
	}
	return false
}

// GraphAppID is Microsoft Graph's application id, a valid token audience.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// GraphResource is the Graph token audience of the profile.
func (p Profile) GraphResource() string {
	if p.GraphHost == "" {
		return "https://graph.microsoft.com"
	}
	return "https://" + p.GraphHost
}

// IsGraphAudience reports whether aud names this profile's Graph. The
// local profile has no Graph host: Graph is served on the listener, and
// its cloud metadata advertises the listener's URL (https://localhost:8443/)
// as the Graph resource, because az uses that one value both as the token
// resource and as the base URL of its Graph requests. So there a listener
// URL is a Graph audience too, unless it names the vaults or ARM (a token
// for one service must not open another).
func (p Profile) IsGraphAudience(aud string) bool {
	if aud == GraphAppID {
		return true
	}
	if strings.EqualFold(strings.TrimSuffix(aud, "/"), p.GraphResource()) {
		return true
	}
	if p.GraphHost != "" || p.IsVaultAudience(aud) || p.IsManagementAudience(aud) || p.IsManagementAudience(aud+"/") {
		return false
	}
	u, err := url.Parse(aud)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return false
	}
	host := u.Hostname()
	class, _ := p.Classify(host)
	return class == HostBare && p.ServesName(host) && !strings.EqualFold(host, msalDiscoveryHost)
}
