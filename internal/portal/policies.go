package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

// templates are the portal's "Configure from template" entries; the
// permission sets live in package policy, shared with the CLI.
var templates = policy.Templates()

// permGroup is one column of checkboxes.
type permGroup struct {
	Kind, Legend string
	Perms        []perm
}

type perm struct{ Value, Label string }

func perms(label ...string) []perm {
	out := make([]perm, len(label))
	for i, l := range label {
		out[i] = perm{strings.ToLower(l), l}
	}
	return out
}

var permGroups = []permGroup{
	{"key", "Key permissions", perms("Get", "List", "Update", "Create", "Import", "Delete", "Recover", "Backup", "Restore",
		"Decrypt", "Encrypt", "UnwrapKey", "WrapKey", "Verify", "Sign", "Purge", "Release", "Rotate", "GetRotationPolicy", "SetRotationPolicy")},
	{"secret", "Secret permissions", perms("Get", "List", "Set", "Delete", "Recover", "Backup", "Restore", "Purge")},
	{"certificate", "Certificate permissions", perms("Get", "List", "Update", "Create", "Import", "Delete", "Recover", "Backup", "Restore",
		"ManageContacts", "ManageIssuers", "GetIssuers", "ListIssuers", "SetIssuers", "DeleteIssuers", "Purge")},
}

// draftPolicy is an access policy added on the Add page, kept in the
// session until Save writes it to the vault (as the Azure portal's older
// access-policy blade does).
type draftPolicy struct {
	ObjectID, DisplayName, Type string
	Keys, Secrets, Certificates []string
}

type principal struct {
	ID, DisplayName, Type, AppID string
}

// principalName resolves object ids to display names through Graph.
func (h *Handler) principalNames(r *http.Request, s *session, ids []string) map[string]principal {
	out := map[string]principal{}
	if len(ids) == 0 {
		return out
	}
	var res struct {
		Value []map[string]any `json:"value"`
	}
	if err := h.call(r, s, "POST", h.graphHost(r), "/v1.0/directoryObjects/getByIds", h.Profile.GraphResource(), map[string]any{"ids": ids}, &res); err != nil {
		return out
	}
	for _, o := range res.Value {
		p := toPrincipal(o)
		out[strings.ToLower(p.ID)] = p
	}
	return out
}

func toPrincipal(o map[string]any) principal {
	str := func(k string) string { v, _ := o[k].(string); return v }
	p := principal{ID: str("id"), DisplayName: str("displayName"), AppID: str("appId")}
	switch {
	case str("userPrincipalName") != "" || strings.HasSuffix(str("@odata.type"), ".user"):
		p.Type = "User"
		p.DisplayName += " (" + str("userPrincipalName") + ")"
	case str("servicePrincipalType") == "ManagedIdentity":
		p.Type = "Managed identity"
	default:
		p.Type = "Application"
	}
	return p
}

func (h *Handler) policies(w http.ResponseWriter, r *http.Request, s *session, rg, name, flash string) {
	d := h.loadVault(w, r, s, rg, name, "policies")
	if d == nil {
		return
	}
	var ids []string
	for _, ap := range d.Vault.Properties.AccessPolicies {
		ids = append(ids, ap.ObjectID)
	}
	names := h.principalNames(r, s, ids)
	type row struct {
		Name, Type, Keys, Secrets, Certificates string
	}
	var rows []row
	for _, ap := range d.Vault.Properties.AccessPolicies {
		p, ok := names[strings.ToLower(ap.ObjectID)]
		if !ok {
			p = principal{DisplayName: ap.ObjectID, Type: "Unknown"}
		}
		rows = append(rows, row{p.DisplayName, p.Type, count(ap.Permissions.Keys), count(ap.Permissions.Secrets), count(ap.Permissions.Certificates)})
	}
	drafts := s.draftsOf(d.Vault.ID)
	h.render(w, r, s, http.StatusOK, "policies", map[string]any{"V": d, "Rows": rows, "Drafts": drafts, "Flash": flash,
		"RBAC": d.RBAC})
}

func count(p []string) string {
	switch len(p) {
	case 0:
		return ""
	case 1:
		return "1 selected"
	}
	return strings.Join(p, ", ")
}

// policiesSave writes the drafts to the vault (ARM accessPolicies/add) or
// discards them.
func (h *Handler) policiesSave(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	d := h.loadVault(w, r, s, rg, name, "policies")
	if d == nil {
		return
	}
	drafts := s.draftsOf(d.Vault.ID)
	if r.PostForm.Get("op") == "discard" {
		if err := h.clearDrafts(r.Context(), s, d.Vault.ID); err != nil {
			h.fail(w, r, s, "Discarding the changes failed", err)
			return
		}
		drafts = nil
	}
	if len(drafts) == 0 {
		h.policies(w, r, s, rg, name, "")
		return
	}
	var entries []wire.AccessPolicyEntry
	for _, dp := range drafts {
		entries = append(entries, wire.AccessPolicyEntry{TenantID: h.TenantID, ObjectID: dp.ObjectID,
			Permissions: wire.Permissions{Keys: dp.Keys, Secrets: dp.Secrets, Certificates: dp.Certificates}})
	}
	path := h.sub(r) + "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.KeyVault/vaults/" + url.PathEscape(name) +
		"/accessPolicies/add?api-version=" + armVaultAPI
	if err := h.call(r, s, "PUT", h.armHost(r), path, armAudience, map[string]any{"properties": map[string]any{"accessPolicies": entries}}, nil); err != nil {
		h.fail(w, r, s, "Saving the access policies failed", err)
		return
	}
	if err := h.clearDrafts(r.Context(), s, d.Vault.ID); err != nil {
		h.Logger.ErrorContext(r.Context(), "clearing saved access policy drafts failed", "err", err)
	}
	h.policies(w, r, s, rg, name, "Successfully updated the access policies of "+name+".")
}

type policyForm struct {
	V                           *vaultData
	Templates                   []policy.Template
	Groups                      []permGroup
	Template, Applied, Query    string
	Keys, Secrets, Certificates []string
	Results                     []principal
	Selected                    *principal
	Searched                    bool
	Err                         string
}

func (f *policyForm) errText() string { return f.Err }

// Chosen is the ticked permissions of one kind.
func (f *policyForm) Chosen(kind string) []string {
	switch kind {
	case "key":
		return f.Keys
	case "secret":
		return f.Secrets
	}
	return f.Certificates
}

// policyAdd is the Add access policy page. Without scripts, each button
// posts the whole form: "Search" finds principals, "Select" picks one,
// "Add" keeps the policy for Save. A template chosen under "Configure
// from template" ticks its permissions on the next post.
func (h *Handler) policyAdd(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	d := h.loadVault(w, r, s, rg, name, "policies")
	if d == nil {
		return
	}
	f := &policyForm{V: d, Templates: templates, Groups: permGroups}
	if r.Method == http.MethodGet {
		h.render(w, r, s, http.StatusOK, "policyadd", f)
		return
	}
	pf := r.PostForm
	f.Template, f.Applied, f.Query = pf.Get("template"), pf.Get("applied"), strings.TrimSpace(pf.Get("principalSearch"))
	f.Keys, f.Secrets, f.Certificates = pf["key"], pf["secret"], pf["certificate"]
	if f.Template != f.Applied {
		for _, t := range templates {
			if t.Name == f.Template {
				f.Keys, f.Secrets, f.Certificates = slices.Clone(t.Keys), slices.Clone(t.Secrets), slices.Clone(t.Certificates)
			}
		}
		f.Applied = f.Template
	}
	// The radio buttons of a search come after the hidden current
	// selection: the last value is the newest choice.
	if ids := pf["principal"]; len(ids) > 0 && ids[len(ids)-1] != "" {
		id := ids[len(ids)-1]
		names := h.principalNames(r, s, []string{id})
		if p, ok := names[strings.ToLower(id)]; ok {
			f.Selected = &p
		}
	}
	op := pf.Get("op")
	if op == "search" || (op == "select" && f.Query != "") {
		f.Searched = true
		res, err := h.searchPrincipals(r, s, f.Query)
		if err != nil {
			f.Err = err.Error()
		}
		f.Results = res
	}
	if op == "select" && f.Selected == nil {
		f.Err = "Select a principal from the results first."
	}
	if op != "add" {
		h.render(w, r, s, http.StatusOK, "policyadd", f)
		return
	}
	if f.Selected == nil {
		f.Err = "Select a principal."
		h.render(w, r, s, http.StatusBadRequest, "policyadd", f)
		return
	}
	if len(f.Keys)+len(f.Secrets)+len(f.Certificates) == 0 {
		f.Err = "Select at least one permission."
		h.render(w, r, s, http.StatusBadRequest, "policyadd", f)
		return
	}
	if err := h.addDraft(r.Context(), s, d.Vault.ID, draftPolicy{ObjectID: f.Selected.ID, DisplayName: f.Selected.DisplayName, Type: f.Selected.Type,
		Keys: f.Keys, Secrets: f.Secrets, Certificates: f.Certificates}); err != nil {
		h.fail(w, r, s, "Adding the access policy failed", err)
		return
	}
	http.Redirect(w, r, d.Link+"/access-policies", http.StatusSeeOther)
}

// searchPrincipals finds users, service principals and managed identities
// (a VM's system-assigned identity has the VM's name) by display name.
func (h *Handler) searchPrincipals(r *http.Request, s *session, q string) ([]principal, error) {
	if q == "" {
		return nil, nil
	}
	term := url.QueryEscape(`"displayName:` + strings.ReplaceAll(q, `"`, ``) + `"`)
	var out []principal
	var firstErr error
	for _, coll := range []string{"servicePrincipals", "users"} {
		var res struct {
			Value []map[string]any `json:"value"`
		}
		if err := h.call(r, s, "GET", h.graphHost(r), "/v1.0/"+coll+"?$search="+term+"&$top=20", h.Profile.GraphResource(), nil, &res); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, o := range res.Value {
			out = append(out, toPrincipal(o))
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return out, firstErr
}
