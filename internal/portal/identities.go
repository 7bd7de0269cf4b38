package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-dev/coffer/internal/wire"
)

const armIdentityAPI = "2023-01-31"

// groupOptions lists the resource groups for a form's select.
func (h *Handler) groupOptions(r *http.Request, s *session) ([]wire.ResourceGroup, error) {
	var groups wire.Page[wire.ResourceGroup]
	err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups?api-version="+armGroupAPI, armAudience, nil, &groups)
	return groups.Value, err
}

// identities is Managed Identities: list, Create (resource group, name,
// region), Delete.
func (h *Handler) identities(w http.ResponseWriter, r *http.Request, s *session) {
	data := errData{"Err": "", "Flash": "", "Name": "", "Group": ""}
	if r.Method == http.MethodPost {
		pf := r.PostForm
		rg, name := pf.Get("resourceGroup"), strings.TrimSpace(pf.Get("name"))
		path := h.sub(r) + "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" +
			url.PathEscape(name) + "?api-version=" + armIdentityAPI
		switch pf.Get("op") {
		case "create":
			data["Name"], data["Group"] = name, rg
			var g wire.ResourceGroup
			err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(rg)+"?api-version="+armGroupAPI, armAudience, nil, &g)
			if err == nil {
				err = h.call(r, s, "PUT", h.armHost(r), path, armAudience, map[string]any{"location": g.Location}, nil)
			}
			if err != nil {
				data["Err"] = err.Error()
			} else {
				data["Flash"], data["Name"] = "Created managed identity "+name+".", ""
			}
		case "delete":
			if err := h.call(r, s, "DELETE", h.armHost(r), path, armAudience, nil, nil); err != nil {
				data["Err"] = err.Error()
			} else {
				data["Flash"] = "Deleted managed identity " + name + "."
			}
		}
	}
	var ids wire.Page[wire.UserAssignedIdentity]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version="+armIdentityAPI, armAudience, nil, &ids); err != nil {
		h.fail(w, r, s, "Managed Identities", err)
		return
	}
	type row struct{ Name, Group, Location, PrincipalID, ClientID string }
	var rows []row
	for _, u := range ids.Value {
		rows = append(rows, row{u.Name, strings.Split(u.ID, "/")[4], u.Location, u.Properties.PrincipalID, u.Properties.ClientID})
	}
	groups, err := h.groupOptions(r, s)
	if err != nil {
		h.fail(w, r, s, "Managed Identities", err)
		return
	}
	data["Rows"], data["Groups"] = rows, groups
	h.render(w, r, s, http.StatusOK, "identities", data)
}

// vmCreate creates a VM record with (by default) a system-assigned
// identity: Coffer runs no machines, a machine acts as it with coffer agent.
func (h *Handler) vmCreate(w http.ResponseWriter, r *http.Request, s *session) {
	data := errData{"Err": "", "Name": "", "Group": "", "System": true}
	if r.Method == http.MethodPost {
		pf := r.PostForm
		rg, name, system := pf.Get("resourceGroup"), strings.TrimSpace(pf.Get("name")), pf.Get("systemAssigned") == "on"
		data["Name"], data["Group"], data["System"] = name, rg, system
		var g wire.ResourceGroup
		err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(rg)+"?api-version="+armGroupAPI, armAudience, nil, &g)
		if err == nil {
			body := map[string]any{"location": g.Location}
			if system {
				body["identity"] = map[string]any{"type": "SystemAssigned"}
			}
			err = h.call(r, s, "PUT", h.armHost(r), h.sub(r)+"/resourceGroups/"+url.PathEscape(rg)+"/providers/Microsoft.Compute/virtualMachines/"+
				url.PathEscape(name)+"?api-version="+armComputeAPI, armAudience, body, nil)
		}
		if err == nil {
			http.Redirect(w, r, "/portal/vm/"+url.PathEscape(rg)+"/"+url.PathEscape(name), http.StatusSeeOther)
			return
		}
		data["Err"] = err.Error()
	}
	groups, err := h.groupOptions(r, s)
	if err != nil {
		h.fail(w, r, s, "Create a virtual machine", err)
		return
	}
	data["Groups"] = groups
	h.render(w, r, s, http.StatusOK, "vmcreate", data)
}
