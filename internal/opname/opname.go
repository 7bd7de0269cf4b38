// Package opname names each request to Coffer the way Azure's own logs
// name operations (Key Vault's AuditEvent: SecretGet, SecretSet, VaultPut…),
// from its host, method and path alone, so that metrics and the audit log
// label requests alike without reaching into the handlers.
//
// Names come from fixed tables: whatever a client sends, the set of
// (API, Name) values is bounded, so they are safe as metric labels. The
// object names a request carries (vault, secret) are returned separately
// for the audit log and must never become labels.
package opname

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/cloud"
)

// API families, the "api" label of metrics.
const (
	KeyVault = "keyvault"
	ARM      = "arm"
	Graph    = "graph"
	Token    = "token" // the OAuth2 token endpoints and the managed identity one
	Health   = "health"
	Metadata = "metadata" // discovery, JWKS, cloud metadata, instance documents
	Other    = "other"
)

// TokenIssue is the operation of every token endpoint.
const TokenIssue = "TokenIssue"

// Op is a classified request.
type Op struct {
	API  string
	Name string // e.g. SecretGet; "Other" when the request matches nothing known
	// Vault is the vault a Key Vault request addresses ("" for the default
	// vault on a bare host: the caller resolves it), and Object the secret
	// (or key) name in its path. For the audit log only.
	Vault, Object string
}

// Classify names r. bare says whether Key Vault paths on a bare host (an
// IP, localhost) are served (by the default vault).
func Classify(p cloud.Profile, r *http.Request) Op {
	class, vault := p.Classify(r.Host)
	path := r.URL.Path
	segs := split(path)
	lower := strings.ToLower(strings.Trim(path, "/"))
	switch {
	case lower == "healthz" || lower == "readyz":
		return Op{API: Health, Name: titleFirst(lower)}
	case class == cloud.HostVault:
		return keyVault(r.Method, segs, vault)
	case class == cloud.HostBare && len(segs) > 0 && (strings.EqualFold(segs[0], "secrets") || strings.EqualFold(segs[0], "deletedsecrets") ||
		strings.EqualFold(segs[0], "keys") || strings.EqualFold(segs[0], "deletedkeys")):
		return keyVault(r.Method, segs, "")
	case (class == cloud.HostBare || class == cloud.HostGraph) && len(segs) > 0 && strings.EqualFold(segs[0], "v1.0"):
		return graph(r.Method, segs[1:])
	case isToken(lower):
		return Op{API: Token, Name: TokenIssue}
	case (class == cloud.HostBare || class == cloud.HostManagement) && len(segs) > 0 &&
		(eq(segs[0], "subscriptions") || eq(segs[0], "tenants") || eq(segs[0], "providers")):
		return arm(r.Method, segs)
	case strings.Contains(lower, ".well-known/") || strings.Contains(lower, "discovery/") || strings.HasPrefix(lower, "metadata/") || lower == "msi/instance":
		return Op{API: Metadata, Name: "MetadataGet"}
	}
	return Op{API: Other, Name: "Other"}
}

func isToken(lower string) bool {
	return strings.HasSuffix(lower, "/oauth2/token") || strings.HasSuffix(lower, "/oauth2/v2.0/token") || lower == "msi/token"
}

func split(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func eq(a, b string) bool { return strings.EqualFold(a, b) }

func titleFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// keyActions are the POST actions of the Key Vault data plane on an
// object or a version, by lower-case path segment.
var keyActions = map[string]string{
	"backup": "Backup", "recover": "Recover", "encrypt": "Encrypt", "decrypt": "Decrypt", "sign": "Sign",
	"verify": "Verify", "wrapkey": "WrapKey", "unwrapkey": "UnwrapKey", "create": "Create", "import": "Import",
	"rotate": "Rotate", "release": "Release",
}

// keyVault names a data-plane request: /secrets[/{name}[/{version}|/versions|/backup]],
// /secrets/restore, /deletedsecrets[/{name}[/recover]], and the same for keys.
func keyVault(method string, s []string, vault string) Op {
	op := Op{API: KeyVault, Name: "Other", Vault: vault}
	if len(s) == 0 {
		return op
	}
	var noun string
	deleted := false
	switch strings.ToLower(s[0]) {
	case "secrets":
		noun = "Secret"
	case "deletedsecrets":
		noun, deleted = "Secret", true
	case "keys":
		noun = "Key"
	case "deletedkeys":
		noun, deleted = "Key", true
	default:
		return op
	}
	rest := s[1:]
	if len(rest) > 0 {
		op.Object = rest[0]
	}
	verb := ""
	switch {
	case deleted && len(rest) == 0 && method == http.MethodGet:
		verb = "ListDeleted"
	case deleted && len(rest) == 1 && method == http.MethodGet:
		verb = "GetDeleted"
	case deleted && len(rest) == 1 && method == http.MethodDelete:
		verb = "Purge"
	case deleted && len(rest) == 2 && method == http.MethodPost && eq(rest[1], "recover"):
		verb = "Recover"
	case deleted:
	case len(rest) == 0 && method == http.MethodGet:
		verb = "List"
	case len(rest) == 1 && method == http.MethodPost && eq(rest[0], "restore"):
		verb, op.Object = "Restore", ""
	case len(rest) == 2 && method == http.MethodGet && eq(rest[1], "versions"):
		verb = "ListVersions"
	case (len(rest) == 1 || len(rest) == 2) && method == http.MethodGet:
		verb = "Get"
	case len(rest) == 1 && method == http.MethodPut:
		verb = "Set"
		if noun == "Key" {
			verb = "Import"
		}
	case (len(rest) == 1 || len(rest) == 2) && method == http.MethodPatch:
		verb = "Update"
	case len(rest) == 1 && method == http.MethodDelete:
		verb = "Delete"
	case (len(rest) == 2 || len(rest) == 3) && method == http.MethodPost:
		verb = keyActions[strings.ToLower(rest[len(rest)-1])]
	}
	if verb != "" {
		op.Name = noun + verb
	}
	return op
}

// graphNouns are the Graph collections Coffer serves.
var graphNouns = map[string]string{
	"applications": "Application", "serviceprincipals": "ServicePrincipal", "directoryobjects": "DirectoryObject",
	"users": "User", "me": "Me", "groups": "Group", "organization": "Organization",
	"approleassignments": "AppRoleAssignment", "approleassignedto": "AppRoleAssignment",
}

var graphActions = map[string]string{
	"addpassword": "AddPassword", "removepassword": "RemovePassword", "getbyids": "GetByIds",
	"approleassignments": "AppRoleAssignment", "approleassignedto": "AppRoleAssignment",
}

// graph names /v1.0/{collection}[/{id}|(key=…)][/{action}].
func graph(method string, s []string) Op {
	op := Op{API: Graph, Name: "Other"}
	if len(s) == 0 {
		return op
	}
	coll, key, _ := strings.Cut(s[0], "(")
	noun, ok := graphNouns[strings.ToLower(coll)]
	if !ok {
		return op
	}
	hasID := key != "" || (len(s) > 1 && s[1] != "$count" && graphActions[strings.ToLower(s[1])] == "")
	rest := s[1:]
	if hasID && key == "" {
		rest = rest[1:]
	}
	var verb string
	switch {
	case len(rest) == 1 && rest[0] == "$count":
		verb = "Count"
	case len(rest) >= 1:
		a := graphActions[strings.ToLower(rest[0])]
		if a == "" {
			return op
		}
		if a == "AppRoleAssignment" {
			noun, verb = "AppRoleAssignment", crud(method, len(rest) > 1)
		} else {
			verb = a
		}
	case noun == "Me":
		verb = "Get"
	default:
		verb = crud(method, hasID)
	}
	if verb == "" {
		return op
	}
	op.Name = noun + verb
	return op
}

// crud is the verb of a plain REST call on a collection or an item.
func crud(method string, item bool) string {
	switch {
	case method == http.MethodGet && item:
		return "Get"
	case method == http.MethodGet:
		return "List"
	case method == http.MethodPost && !item:
		return "Create"
	case method == http.MethodPatch && item:
		return "Update"
	case method == http.MethodPut && item:
		return "Put"
	case method == http.MethodDelete && item:
		return "Delete"
	}
	return ""
}

// armNouns are the ARM resource types Coffer serves, by lower-case type
// segment.
var armNouns = map[string]string{
	"subscriptions": "Subscription", "resourcegroups": "ResourceGroup", "resources": "Resource", "tenants": "Tenant",
	"locations": "Location", "operationresults": "OperationResult", "providers": "Provider",
	"vaults": "Vault", "deletedvaults": "DeletedVault", "managedhsms": "ManagedHSM", "deletedmanagedhsms": "DeletedManagedHSM",
	"accesspolicies": "VaultAccessPolicy", "checknameavailability": "CheckNameAvailability",
	"virtualmachines": "VirtualMachine", "coffercredentials": "VirtualMachineCredential",
	"userassignedidentities": "UserAssignedIdentity",
	"roleassignments":        "RoleAssignment", "roledefinitions": "RoleDefinition",
}

var armActions = map[string]string{"purge": "Purge"}

// arm names a control-plane request by its last resource type: PUT on a
// vault is VaultPut, GET on a collection VaultList, POST …/purge a Purge.
// Role assignments are created and deleted, as Azure's activity log says.
func arm(method string, s []string) Op {
	op := Op{API: ARM, Name: "Other"}
	noun, item := "", false
	action := ""
	for i := 0; i < len(s); {
		t := strings.ToLower(s[i])
		if t == "providers" {
			if i+1 >= len(s) {
				noun, item = "Provider", false
				break
			}
			if i+2 >= len(s) {
				noun, item = "Provider", true // providers/{namespace}
				break
			}
			if i+3 == len(s) && eq(s[i+2], "register") && method == http.MethodPost {
				noun, action = "Provider", "Register"
				break
			}
			i += 2 // the namespace
			continue
		}
		if i == len(s)-1 && method == http.MethodPost && armActions[t] != "" && noun != "" && noun != "Subscription" {
			action = armActions[t]
			break
		}
		n, ok := armNouns[t]
		if !ok {
			return op
		}
		noun, item = n, i+1 < len(s)
		i += 2
	}
	if noun == "" {
		return op
	}
	verb := action
	if verb == "" {
		switch {
		case (noun == "RoleAssignment" || noun == "VirtualMachineCredential") && method == http.MethodPut:
			verb = "Create"
		case noun == "VirtualMachineCredential" && method == http.MethodPost && !item:
			verb = "Create"
		case noun == "VirtualMachineCredential" && method == http.MethodDelete:
			verb = "Revoke"
		case noun == "VirtualMachineCredential" && method == http.MethodPatch:
			verb = "Renew"
		case noun == "CheckNameAvailability" && method == http.MethodPost:
			verb = ""
			op.Name = noun
			return op
		case method == http.MethodGet && item:
			verb = "Get"
		case method == http.MethodGet:
			verb = "List"
		case method == http.MethodPut && item:
			verb = "Put"
		case method == http.MethodPatch && item:
			verb = "Patch"
		case method == http.MethodDelete && item:
			verb = "Delete"
		case method == http.MethodHead && item:
			verb = "Check"
		default:
			return op
		}
	}
	op.Name = noun + verb
	return op
}
