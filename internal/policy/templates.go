package policy

import (
	"slices"
	"strings"
)

// Template is one of the Azure portal's access-policy permission templates
// ("Configure from template"), with the permissions it ticks per kind.
// The portal and the CLI's set-policy --template both take them from here.
type Template struct {
	Name                        string
	Keys, Secrets, Certificates []string
}

// Sources that decided the sets below:
//
//   - Names, order, and the per-template operations: Microsoft's "Migrate
//     from vault access policy to an Azure role-based access control
//     permission model" (learn.microsoft.com/azure/key-vault/general/
//     rbac-migration, table "Access policy templates to Azure roles
//     mapping"; azure-security-docs and azure-docs repositories).
//   - What "all operations" ticks for the management templates: the sets
//     that portal-created vaults show for their creator (who gets "Key,
//     Secret, & Certificate Management"), as seen verbatim in many exported
//     and hand-copied access policies: the management operations of each
//     kind, the key rotation-policy operations, and neither the
//     cryptographic operations nor the privileged ones (purge, release).
//     The table's RBAC equivalents (Crypto Officer etc.) are wider; the
//     templates are not.
//
// Not confirmed from a source:
//   - "SharePoint Online Customer Key": the table lists "Exchange Online
//     Customer Key" twice (a doc typo); the second row is taken to be
//     SharePoint's, with the same permissions (get, list, wrapKey,
//     unwrapKey), which is what the Customer Key setup guide asks for both.
//   - "Azure Data Lake Storage or Azure Storage": the table says get, list,
//     unwrap key (no wrap key), although storage encryption with a
//     customer-managed key also wraps; the table is followed as written.
//   - "Azure Backup": an older revision of the table said certificates
//     where the current one says secrets (get, list, backup); the current
//     one is followed.
var (
	keyManagement = []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
		"getrotationpolicy", "setrotationpolicy", "rotate"}
	secretManagement = []string{"get", "list", "set", "delete", "recover", "backup", "restore"}
	certManagement   = []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
		"managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers"}
)

// templates, in the Azure portal's order.
var templates = []Template{
	{"Key, Secret, & Certificate Management", keyManagement, secretManagement, certManagement},
	{"Key & Secret Management", keyManagement, secretManagement, nil},
	{"Secret & Certificate Management", nil, secretManagement, certManagement},
	{"Key Management", keyManagement, nil, nil},
	{"Secret Management", nil, secretManagement, nil},
	{"Certificate Management", nil, nil, certManagement},
	{"SQL Server Connector", []string{"get", "list", "wrapKey", "unwrapKey"}, nil, nil},
	{"Azure Data Lake Storage or Azure Storage", []string{"get", "list", "unwrapKey"}, nil, nil},
	{"Azure Backup", []string{"get", "list", "backup"}, []string{"get", "list", "backup"}, nil},
	{"Exchange Online Customer Key", []string{"get", "list", "wrapKey", "unwrapKey"}, nil, nil},
	{"SharePoint Online Customer Key", []string{"get", "list", "wrapKey", "unwrapKey"}, nil, nil},
	{"Azure Information BYOK", []string{"get", "decrypt", "sign"}, nil, nil},
}

// Templates returns every template in the portal's order; the slices are
// copies, so callers may change them.
func Templates() []Template {
	out := make([]Template, len(templates))
	for i, t := range templates {
		out[i] = t.clone()
	}
	return out
}

// LookupTemplate finds a template by its portal name, case-insensitively;
// a kebab-case spelling ("key-secret-certificate-management") is accepted
// too, for shells.
func LookupTemplate(name string) (Template, bool) {
	want := templateSlug(name)
	for _, t := range templates {
		if strings.EqualFold(t.Name, name) || templateSlug(t.Name) == want {
			return t.clone(), true
		}
	}
	return Template{}, false
}

// TemplateNames lists the portal names, in order.
func TemplateNames() []string {
	out := make([]string, len(templates))
	for i, t := range templates {
		out[i] = t.Name
	}
	return out
}

func (t Template) clone() Template {
	return Template{t.Name, slices.Clone(t.Keys), slices.Clone(t.Secrets), slices.Clone(t.Certificates)}
}

// templateSlug lower-cases name and joins its words with '-', dropping
// punctuation: "Key, Secret, & Certificate Management" →
// "key-secret-certificate-management".
func templateSlug(name string) string {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	return strings.Join(words, "-")
}
