package store

import "strings"

// Every key prefix of the store, in one place. Names that are
// case-insensitive in Azure are folded here so that lookups agree.
const (
	prefixConfig      = "config/"
	prefixPrincipals  = "principals/"
	prefixAppIDs      = "appids/"
	prefixVaults      = "vaults/"
	prefixSecrets     = "secrets/"
	prefixAssignments = "roleassignments/"
	prefixComputes    = "computes/"
	prefixComputeKeys = "computekeys/"
	prefixGroups      = "resourcegroups/"
	prefixUAMIs       = "uamis/"
	prefixAppObjects  = "appobjects/"
	prefixValues      = "secretvalues/"
	prefixVersions    = "secretversions/"
	prefixOperations  = "operations/"
)

func configKey(name string) string        { return prefixConfig + name }
func principalKey(oid string) string      { return prefixPrincipals + strings.ToLower(oid) }
func appIDKey(appID string) string        { return prefixAppIDs + strings.ToLower(appID) }
func vaultKey(name string) string         { return prefixVaults + strings.ToLower(name) }
func secretsPrefix(vault string) string   { return prefixSecrets + strings.ToLower(vault) + "/" }
func secretKey(vault, name string) string { return secretsPrefix(vault) + strings.ToUpper(name) }
func assignmentKey(id string) string      { return prefixAssignments + strings.ToLower(id) }

func valuesPrefix(vault string) string { return prefixValues + strings.ToLower(vault) + "/" }
func secretValuesPrefix(vault, name string) string {
	return valuesPrefix(vault) + strings.ToUpper(name) + "/"
}
func secretValueKey(vault, name, version string) string {
	return secretValuesPrefix(vault, name) + strings.ToLower(version)
}

func versionsPrefix(vault string) string { return prefixVersions + strings.ToLower(vault) + "/" }
