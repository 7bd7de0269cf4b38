package identity

import (
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/model"
)

// GraphAppRole is one application permission (app role) of Microsoft
// Graph, with the id Entra uses for it in every tenant.
type GraphAppRole struct {
	ID          string
	Value       string
	DisplayName string
	Description string
}

// GraphAppRoles are the Microsoft Graph application permissions that
// govern what Coffer's Graph serves. The ids are Microsoft's well-known
// ones, so role ids copied from Entra documentation or scripts work.
var GraphAppRoles = []GraphAppRole{
	{"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Application.Read.All", "Read all applications", "Allows the app to read all applications and service principals without a signed-in user."},
	{"1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Application.ReadWrite.All", "Read and write all applications", "Allows the app to create, read, update and delete applications and service principals without a signed-in user."},
	{"7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All", "Read directory data", "Allows the app to read data in your organization's directory, such as users, groups and apps, without a signed-in user."},
	{"19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Directory.ReadWrite.All", "Read and write directory data", "Allows the app to read and write data in your organization's directory, such as users, and groups, without a signed-in user."},
	{"df021288-bdef-4463-88db-98f22de89214", "User.Read.All", "Read all users' full profiles", "Allows the app to read user profiles without a signed in user."},
	{"741f803b-c850-494e-b5df-cde7c675a1ca", "User.ReadWrite.All", "Read and write all users' full profiles", "Allows the app to read and update user profiles without a signed in user."},
	{"06b708a9-e830-4db3-a914-8e69da51d44f", "AppRoleAssignment.ReadWrite.All", "Manage app permission grants and app role assignments", "Allows the app to manage permission grants for application permissions to any API (including Microsoft Graph) and application assignments for any app, without a signed-in user."},
}

// LookupGraphAppRole finds a Graph app role by id or by value (case
// insensitive), as scripts name them either way.
func LookupGraphAppRole(idOrValue string) (GraphAppRole, bool) {
	for _, r := range GraphAppRoles {
		if strings.EqualFold(r.ID, idOrValue) || strings.EqualFold(r.Value, idOrValue) {
			return r, true
		}
	}
	return GraphAppRole{}, false
}

// graphRoleValues are the values of the Graph app roles granted to p, for
// the roles claim of its Graph tokens (sorted, no duplicates).
func graphRoleValues(p *model.Principal) []string {
	var out []string
	for _, a := range p.AppRoleAssignments {
		if r, ok := LookupGraphAppRole(a.AppRoleID); ok && !slices.Contains(out, r.Value) {
			out = append(out, r.Value)
		}
	}
	slices.Sort(out)
	return out
}
