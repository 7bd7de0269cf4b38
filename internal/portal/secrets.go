package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-dev/coffer/internal/wire"
)

// secretPage shows one secret's versions; its value only after a
// deliberate "Show Secret Value" (a POST, so it is never in a URL, a
// history entry or a cache).
func (h *Handler) secretPage(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "secrets")
	if d == nil {
		return
	}
	name, ok := h.objectName(w, r, s, "secret")
	if !ok {
		return
	}
	kv := func(method, path string, out any) error {
		return h.call(r, s, method, vaultHost(d), path+"?api-version="+kvAPI, h.Profile.VaultResource(), nil, out)
	}
	esc := url.PathEscape(name)
	data := map[string]any{"V": d, "Name": name}
	if r.Method == http.MethodPost {
		switch r.PostForm.Get("op") {
		case "delete":
			if err := kv("DELETE", "/secrets/"+esc, nil); err != nil {
				h.fail(w, r, s, "Deleting "+name+" failed", err)
				return
			}
			http.Redirect(w, r, d.Link+"/secrets", http.StatusSeeOther)
			return
		case "show":
			var b wire.SecretBundle
			if err := kv("GET", "/secrets/"+esc, &b); err != nil {
				d.Err = err.Error()
			} else if b.Value != nil {
				data["Value"] = *b.Value
			}
		}
	}
	var versions wire.Page[wire.SecretItem]
	if err := kv("GET", "/secrets/"+esc+"/versions", &versions); err != nil {
		h.fail(w, r, s, name, err)
		return
	}
	type row struct {
		Version, Created, Expires string
		Enabled                   bool
	}
	var rows []row
	for _, v := range versions.Value {
		c := v.Attributes.Created
		rows = append(rows, row{Version: v.ID[strings.LastIndex(v.ID, "/")+1:], Created: date(&c), Expires: date(v.Attributes.Expires),
			Enabled: v.Attributes.Enabled == nil || *v.Attributes.Enabled})
	}
	data["Versions"] = rows
	h.render(w, r, s, http.StatusOK, "secret", data)
}

// deletedSecrets is "Manage deleted secrets": list, Recover, Purge.
func (h *Handler) deletedSecrets(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "secrets")
	if d == nil {
		return
	}
	flash := ""
	if r.Method == http.MethodPost {
		name := url.PathEscape(r.PostForm.Get("name"))
		var err error
		switch r.PostForm.Get("op") {
		case "recover":
			err = h.call(r, s, "POST", vaultHost(d), "/deletedsecrets/"+name+"/recover?api-version="+kvAPI, h.Profile.VaultResource(), nil, nil)
			flash = "Recovered " + r.PostForm.Get("name") + "."
		case "purge":
			err = h.call(r, s, "DELETE", vaultHost(d), "/deletedsecrets/"+name+"?api-version="+kvAPI, h.Profile.VaultResource(), nil, nil)
			flash = "Purged " + r.PostForm.Get("name") + "."
		}
		if err != nil {
			d.Err, flash = err.Error(), ""
		}
	}
	var list wire.Page[wire.DeletedSecretItem]
	if err := h.call(r, s, "GET", vaultHost(d), "/deletedsecrets?api-version="+kvAPI, h.Profile.VaultResource(), nil, &list); err != nil && d.Err == "" {
		d.Err = err.Error()
	}
	type row struct{ Name, Deleted, Purge string }
	var rows []row
	for _, it := range list.Value {
		del, purge := it.DeletedDate, it.ScheduledPurgeDate
		rows = append(rows, row{it.ID[strings.LastIndex(it.ID, "/")+1:], date(&del), date(&purge)})
	}
	h.render(w, r, s, http.StatusOK, "deletedsecrets", map[string]any{"V": d, "Rows": rows, "Flash": flash})
}

// objectName is the name of the secret, key or certificate (noun) a page
// shows: ?name=, or the form's on a POST. A missing one, or one that
// would leave its path segment in the Key Vault URL, answers 404.
func (h *Handler) objectName(w http.ResponseWriter, r *http.Request, s *session, noun string) (string, bool) {
	name := r.URL.Query().Get("name")
	if r.Method == http.MethodPost {
		name = r.PostForm.Get("name")
	}
	if name == "" || strings.ContainsAny(name, "/?#") {
		h.render(w, r, s, http.StatusNotFound, "message", msgPage("Not found", "No such "+noun+"."))
		return "", false
	}
	return name, true
}
