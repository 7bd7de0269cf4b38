package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-dev/coffer/internal/wire"
)

type resourceItem struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Location string `json:"location"`
}

// Link is the portal page of the resource, when the portal has one.
func (it resourceItem) Link() string {
	segs := strings.Split(it.ID, "/")
	if len(segs) < 9 {
		return ""
	}
	rg := segs[4]
	switch strings.ToLower(it.Type) {
	case "microsoft.keyvault/vaults":
		return kvPath(rg, it.Name) + "/overview"
	case "microsoft.compute/virtualmachines":
		return "/portal/vm/" + url.PathEscape(rg) + "/" + url.PathEscape(it.Name)
	}
	return ""
}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request, s *session) {
	var groups wire.Page[wire.ResourceGroup]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups?api-version="+armGroupAPI, armAudience, nil, &groups); err != nil {
		h.fail(w, r, s, "Resource groups", err)
		return
	}
	h.render(w, r, s, http.StatusOK, "groups", map[string]any{"Groups": groups.Value, "Flash": r.URL.Query().Get("deleted")})
}

func (h *Handler) groupCreate(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{"Name": "", "Region": "", "Err": ""}
	if r.Method == http.MethodPost {
		name, region := strings.TrimSpace(r.PostForm.Get("name")), strings.TrimSpace(r.PostForm.Get("region"))
		data["Name"], data["Region"] = name, region
		err := h.call(r, s, "PUT", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(name)+"?api-version="+armGroupAPI, armAudience,
			map[string]any{"location": region}, nil)
		if err == nil {
			http.Redirect(w, r, rgPath(name), http.StatusSeeOther)
			return
		}
		data["Err"] = err.Error()
	}
	h.render(w, r, s, http.StatusOK, "groupcreate", errData(data))
}

// errData lets a map carry the page's error message.
type errData map[string]any

func (d errData) errText() string { s, _ := d["Err"].(string); return s }

func (h *Handler) group(w http.ResponseWriter, r *http.Request, s *session, rg string) {
	var g wire.ResourceGroup
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(rg)+"?api-version="+armGroupAPI, armAudience, nil, &g); err != nil {
		h.fail(w, r, s, rg, err)
		return
	}
	var res wire.Page[resourceItem]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourceGroups/"+url.PathEscape(rg)+"/resources?api-version="+armGroupAPI, armAudience, nil, &res); err != nil {
		h.fail(w, r, s, rg, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "group", map[string]any{"Group": g, "Resources": res.Value, "Link": rgPath(rg), "Sub": h.SubscriptionID})
}

// groupDelete asks for the name to be typed, as the Azure portal does,
// then deletes through ARM and shows progress.
func (h *Handler) groupDelete(w http.ResponseWriter, r *http.Request, s *session, rg string) {
	data := errData{"Name": rg, "Link": rgPath(rg), "Err": ""}
	if r.Method == http.MethodPost {
		if r.PostForm.Get("confirm") != rg {
			data["Err"] = "The resource group name does not match. Type the name of the resource group to confirm deletion."
			h.render(w, r, s, http.StatusBadRequest, "groupdelete", data)
			return
		}
		if err := h.call(r, s, "DELETE", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(rg)+"?api-version="+armGroupAPI, armAudience, nil, nil); err != nil {
			h.fail(w, r, s, "Deleting resource group "+rg+" failed", err)
			return
		}
		http.Redirect(w, r, rgPath(rg)+"/deleting", http.StatusSeeOther)
		return
	}
	h.render(w, r, s, http.StatusOK, "groupdelete", data)
}

func (h *Handler) groupDeleting(w http.ResponseWriter, r *http.Request, s *session, rg string) {
	err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(rg)+"?api-version="+armGroupAPI, armAudience, nil, nil)
	var ae *apiError
	done := errors.As(err, &ae) && ae.Status == http.StatusNotFound
	if err != nil && !done {
		h.fail(w, r, s, rg, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "deleting", map[string]any{"Name": rg, "Done": done})
}

func (h *Handler) vaultList(w http.ResponseWriter, r *http.Request, s *session) {
	var vs wire.Page[wire.Vault]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/providers/Microsoft.KeyVault/vaults?api-version="+armVaultAPI, armAudience, nil, &vs); err != nil {
		h.fail(w, r, s, "Key vaults", err)
		return
	}
	type row struct{ Name, Group, Location, Link string }
	var rows []row
	for _, v := range vs.Value {
		it := resourceItem{ID: v.ID, Name: v.Name, Type: "Microsoft.KeyVault/vaults"}
		rows = append(rows, row{v.Name, strings.Split(v.ID, "/")[4], v.Location, it.Link()})
	}
	h.render(w, r, s, http.StatusOK, "vaults", rows)
}

func (h *Handler) vmList(w http.ResponseWriter, r *http.Request, s *session) {
	var vms wire.Page[wire.VirtualMachine]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/providers/Microsoft.Compute/virtualMachines?api-version="+armComputeAPI, armAudience, nil, &vms); err != nil {
		h.fail(w, r, s, "Virtual machines", err)
		return
	}
	type row struct{ Name, Group, Location, Identity, Link string }
	var rows []row
	for _, v := range vms.Value {
		it := resourceItem{ID: v.ID, Name: v.Name, Type: "Microsoft.Compute/virtualMachines"}
		id := "None"
		if v.Identity != nil && v.Identity.Type != "" {
			id = v.Identity.Type
		}
		rows = append(rows, row{v.Name, strings.Split(v.ID, "/")[4], v.Location, id, it.Link()})
	}
	h.render(w, r, s, http.StatusOK, "vms", rows)
}

func (h *Handler) vm(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	var v wire.VirtualMachine
	path := h.sub(r) + "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.Compute/virtualMachines/" + url.PathEscape(name) + "?api-version=" + armComputeAPI
	if err := h.call(r, s, "GET", h.armHost(r), path, armAudience, nil, &v); err != nil {
		h.fail(w, r, s, name, err)
		return
	}
	on := v.Identity != nil && strings.Contains(strings.ToLower(v.Identity.Type), "systemassigned")
	var users []string
	if v.Identity != nil {
		for id := range v.Identity.UserAssignedIdentities {
			users = append(users, id)
		}
	}
	h.render(w, r, s, http.StatusOK, "vm", map[string]any{"VM": v, "Group": rg, "SystemOn": on, "UserAssigned": users})
}
