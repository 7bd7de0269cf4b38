package portal

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/wire"
)

const armAuthzAPI = "2022-04-01"

// iamTarget is the resource whose Access control (IAM) blade is shown.
type iamTarget struct {
	Scope, Link, Kind string
	Vault             *vaultData // set for a vault (its blade menu)
	Group             string
}

type iamRow struct {
	ID, Role, Principal, Type, Scope string
	Inherited                        bool
}

// iam is Access control (IAM): role assignments at and above the scope,
// Add role assignment (Role, Select members, Review + assign), Remove.
// Everything goes through ARM's role assignment API as the signed-in
// user, so only an Owner or User Access Administrator can change them.
func (h *Handler) iam(w http.ResponseWriter, r *http.Request, s *session, tgt iamTarget) {
	var roles wire.Page[wire.RoleDefinition]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/providers/Microsoft.Authorization/roleDefinitions?api-version="+armAuthzAPI, armAudience, nil, &roles); err != nil {
		h.fail(w, r, s, "Access control (IAM)", err)
		return
	}
	sort.Slice(roles.Value, func(i, j int) bool { return roles.Value[i].Properties.RoleName < roles.Value[j].Properties.RoleName })
	roleName := map[string]string{}
	for _, rd := range roles.Value {
		roleName[strings.ToLower(rd.Name)] = rd.Properties.RoleName
	}
	data := map[string]any{"T": tgt, "Roles": roles.Value, "Role": "", "Query": "", "Results": []principal(nil), "Searched": false}
	flash, errMsg := "", ""
	if r.Method == http.MethodPost {
		pf := r.PostForm
		data["Role"], data["Query"] = pf.Get("role"), strings.TrimSpace(pf.Get("memberSearch"))
		switch pf.Get("op") {
		case "search":
			res, err := h.searchPrincipals(r, s, data["Query"].(string))
			data["Results"], data["Searched"] = res, true
			if err != nil {
				errMsg = err.Error()
			}
		case "assign":
			role, member := pf.Get("role"), pf.Get("member")
			if role == "" || member == "" {
				errMsg = "Select a role and a member."
				break
			}
			body := map[string]any{"properties": map[string]any{"principalId": member,
				"roleDefinitionId": "/subscriptions/" + h.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role}}
			path := tgt.Scope + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=" + armAuthzAPI
			if err := h.call(r, s, "PUT", h.armHost(r), path, armAudience, body, nil); err != nil {
				errMsg = err.Error()
				break
			}
			flash = "Added role assignment: " + roleName[strings.ToLower(role)] + "."
			data["Role"], data["Query"] = "", ""
		case "remove":
			id := pf.Get("assignment")
			if !strings.HasPrefix(strings.ToLower(id), "/subscriptions/") || strings.ContainsAny(id, "?#") {
				errMsg = "No such role assignment."
				break
			}
			if err := h.call(r, s, "DELETE", h.armHost(r), id+"?api-version="+armAuthzAPI, armAudience, nil, nil); err != nil {
				errMsg = err.Error()
				break
			}
			flash = "Removed the role assignment."
		}
	}
	var as wire.Page[wire.RoleAssignment]
	path := tgt.Scope + "/providers/Microsoft.Authorization/roleAssignments?api-version=" + armAuthzAPI + "&$filter=" + url.QueryEscape("atScope()")
	if err := h.call(r, s, "GET", h.armHost(r), path, armAudience, nil, &as); err != nil {
		h.fail(w, r, s, "Access control (IAM)", err)
		return
	}
	var ids []string
	for _, a := range as.Value {
		ids = append(ids, a.Properties.PrincipalID)
	}
	names := h.principalNames(r, s, ids)
	var rows []iamRow
	for _, a := range as.Value {
		rd := a.Properties.RoleDefinitionID[strings.LastIndex(a.Properties.RoleDefinitionID, "/")+1:]
		p, ok := names[strings.ToLower(a.Properties.PrincipalID)]
		if !ok {
			p = principal{DisplayName: a.Properties.PrincipalID, Type: a.Properties.PrincipalType}
		}
		rows = append(rows, iamRow{ID: a.ID, Role: roleName[strings.ToLower(rd)], Principal: p.DisplayName, Type: p.Type, Scope: a.Properties.Scope,
			Inherited: !strings.EqualFold(a.Properties.Scope, tgt.Scope)})
	}
	data["Rows"], data["Flash"], data["Err"] = rows, flash, errMsg
	h.render(w, r, s, http.StatusOK, "iam", errData(data))
}

func (h *Handler) vaultIAM(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	if d := h.loadVault(w, r, s, rg, name, "iam"); d != nil {
		h.iam(w, r, s, iamTarget{Scope: d.Vault.ID, Link: d.Link + "/iam", Kind: "Key vault", Vault: d})
	}
}

func (h *Handler) groupIAM(w http.ResponseWriter, r *http.Request, s *session, rg string) {
	h.iam(w, r, s, iamTarget{Scope: h.sub(r) + "/resourceGroups/" + rg, Link: rgPath(rg) + "/iam", Kind: "Resource group", Group: rg})
}
