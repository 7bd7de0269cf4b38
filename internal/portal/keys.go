package portal

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/wire"
)

// The Keys blade: list, Generate/Import (Generate: RSA or EC), a key's
// versions with its current version's details, + New Version, Delete,
// Manage deleted keys (Recover, Purge). Every action is a Key Vault data
// plane call with the user's token.

// kv calls the vault's data plane as the signed-in user.
func (h *Handler) kv(r *http.Request, s *session, d *vaultData, method, path string, body, out any) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return h.call(r, s, method, vaultHost(d), path+sep+"api-version="+kvAPI, h.Profile.VaultResource(), body, out)
}

// lastSegment is an object's name or version: the last path segment of
// its id.
func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// objectName is an object's name from its id (…/keys/{name}[/{version}]).
func objectName(id, collection string) string {
	_, rest, ok := strings.Cut(id, "/"+collection+"/")
	if !ok {
		return lastSegment(id)
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func enabled(b *bool) bool { return b == nil || *b }

func (h *Handler) keys(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "keys")
	if d == nil {
		return
	}
	var list wire.Page[wire.KeyItem]
	if err := h.kv(r, s, d, "GET", "/keys", nil, &list); err != nil {
		d.Err = err.Error()
	}
	type row struct {
		Name, Expires string
		Enabled       bool
	}
	rows := []row{}
	for _, it := range list.Value {
		rows = append(rows, row{Name: objectName(it.Kid, "keys"), Enabled: enabled(it.Attributes.Enabled), Expires: date(it.Attributes.Expires)})
	}
	h.render(w, r, s, http.StatusOK, "keys", map[string]any{"V": d, "Rows": rows, "Flash": r.URL.Query().Get("created")})
}

// keyInput is the Create a key form.
type keyInput struct {
	Options, Name, KeyType, KeySize, Curve, Activation, Expiration, Enabled string
	SetActivation, SetExpiration                                            bool
}

var (
	rsaKeySizes = []string{"2048", "3072", "4096"}
	ecCurves    = []string{"P-256", "P-384", "P-521", "P-256K"}
)

// attributesFrom reads the activation/expiration dates and Enabled of a
// create form into Key Vault attributes.
func attributesFrom(enabledField string, setAct bool, act string, setExp bool, exp string) (map[string]any, error) {
	attrs := map[string]any{"enabled": enabledField != "no"}
	for _, x := range []struct {
		set       bool
		val, attr string
	}{{setAct, act, "nbf"}, {setExp, exp, "exp"}} {
		if !x.set {
			continue
		}
		t, err := time.Parse("2006-01-02", x.val)
		if err != nil {
			//lint:ignore ST1005 the portal shows it to the person as a sentence
			return nil, errors.New("Dates must be given as YYYY-MM-DD.")
		}
		attrs[x.attr] = t.Unix()
	}
	return attrs, nil
}

func (h *Handler) keyNew(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "keys")
	if d == nil {
		return
	}
	in := keyInput{Options: "generate", KeyType: "RSA", KeySize: "2048", Curve: "P-256", Enabled: "yes"}
	render := func(status int) {
		h.render(w, r, s, status, "keynew", map[string]any{"V": d, "In": in, "Sizes": rsaKeySizes, "Curves": ecCurves})
	}
	if r.Method == http.MethodGet {
		render(http.StatusOK)
		return
	}
	f := r.PostForm
	in = keyInput{Options: f.Get("options"), Name: strings.TrimSpace(f.Get("keyName")), KeyType: f.Get("keyType"), KeySize: f.Get("keySize"),
		Curve: f.Get("curve"), Activation: f.Get("activation"), Expiration: f.Get("expiration"), Enabled: f.Get("enabled"),
		SetActivation: f.Get("setActivation") == "on", SetExpiration: f.Get("setExpiration") == "on"}
	again := func(msg string) {
		d.Err = msg
		render(http.StatusBadRequest)
	}
	if in.Options != "generate" {
		again("Only the Generate option is available.")
		return
	}
	if in.Name == "" {
		again("Name is required.")
		return
	}
	attrs, err := attributesFrom(in.Enabled, in.SetActivation, in.Activation, in.SetExpiration, in.Expiration)
	if err != nil {
		again(err.Error())
		return
	}
	body := map[string]any{"kty": in.KeyType, "attributes": attrs}
	switch in.KeyType {
	case "RSA":
		size, err := strconv.Atoi(in.KeySize)
		if err != nil {
			again("Choose an RSA key size.")
			return
		}
		body["key_size"] = size
	case "EC":
		body["crv"] = in.Curve
	default:
		again("Choose a key type: RSA or EC.")
		return
	}
	// Key Vault checks the name, size and curve; its message is shown.
	if err := h.kv(r, s, d, "POST", "/keys/"+url.PathEscape(in.Name)+"/create", body, nil); err != nil {
		again(err.Error())
		return
	}
	http.Redirect(w, r, d.Link+"/keys?created="+url.QueryEscape(in.Name), http.StatusSeeOther)
}

// keyPage shows a key's current version (type, size or curve, identifier,
// permitted operations) and its versions; + New Version and Delete.
func (h *Handler) keyPage(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "keys")
	if d == nil {
		return
	}
	name, ok := h.objectName(w, r, s, "key")
	if !ok {
		return
	}
	esc := url.PathEscape(name)
	var cur wire.KeyBundle
	if err := h.kv(r, s, d, "GET", "/keys/"+esc, nil, &cur); err != nil {
		h.fail(w, r, s, name, err)
		return
	}
	flash := ""
	if r.Method == http.MethodPost {
		switch r.PostForm.Get("op") {
		case "delete":
			if err := h.kv(r, s, d, "DELETE", "/keys/"+esc, nil, nil); err != nil {
				h.fail(w, r, s, "Deleting "+name+" failed", err)
				return
			}
			http.Redirect(w, r, d.Link+"/keys", http.StatusSeeOther)
			return
		case "newversion":
			// A new version of the same type and size (or curve).
			body := map[string]any{"kty": cur.Key.Kty}
			if cur.Key.Crv != "" {
				body["crv"] = cur.Key.Crv
			} else if bits := rsaBits(cur.Key.N); bits > 0 {
				body["key_size"] = bits
			}
			if err := h.kv(r, s, d, "POST", "/keys/"+esc+"/create", body, &cur); err != nil {
				d.Err = err.Error()
			} else {
				flash = "The new version of " + name + " has been created."
			}
		}
	}
	var versions wire.Page[wire.KeyItem]
	if err := h.kv(r, s, d, "GET", "/keys/"+esc+"/versions", nil, &versions); err != nil {
		h.fail(w, r, s, name, err)
		return
	}
	type row struct {
		Version, Created, Expires string
		Enabled, Current          bool
	}
	var rows []row
	curVersion := lastSegment(cur.Key.Kid)
	for _, v := range versions.Value {
		c := v.Attributes.Created
		ver := lastSegment(v.Kid)
		rows = append(rows, row{Version: ver, Created: date(&c), Expires: date(v.Attributes.Expires), Enabled: enabled(v.Attributes.Enabled), Current: ver == curVersion})
	}
	size := ""
	if bits := rsaBits(cur.Key.N); bits > 0 {
		size = strconv.Itoa(bits)
	}
	h.render(w, r, s, http.StatusOK, "key", map[string]any{"V": d, "Name": name, "Key": cur.Key, "Size": size,
		"Ops": strings.Join(cur.Key.KeyOps, ", "), "Versions": rows, "Flash": flash})
}

// rsaBits is the size of an RSA modulus given as base64url.
func rsaBits(n string) int {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) == 0 {
		return 0
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	bits := len(b) * 8
	for x := b[0]; x < 0x80; x <<= 1 {
		bits--
	}
	return bits
}

// deletedObjects serves "Manage deleted keys" and "Manage deleted
// certificates": the list, Recover, Purge.
func (h *Handler) deletedObjects(w http.ResponseWriter, r *http.Request, s *session, rg, vault, blade string) {
	d := h.loadVault(w, r, s, rg, vault, blade)
	if d == nil {
		return
	}
	coll, noun, title := "deletedkeys", "keys", "Keys"
	if blade == "certificates" {
		coll, noun, title = "deletedcertificates", "certificates", "Certificates"
	}
	flash := ""
	if r.Method == http.MethodPost {
		name := r.PostForm.Get("name")
		var err error
		switch r.PostForm.Get("op") {
		case "recover":
			err = h.kv(r, s, d, "POST", "/"+coll+"/"+url.PathEscape(name)+"/recover", nil, nil)
			flash = "Recovered " + name + "."
		case "purge":
			err = h.kv(r, s, d, "DELETE", "/"+coll+"/"+url.PathEscape(name), nil, nil)
			flash = "Purged " + name + "."
		}
		if err != nil {
			d.Err, flash = err.Error(), ""
		}
	}
	// Both lists carry the id (kid for keys), the dates and the recovery id.
	var list wire.Page[struct {
		ID                 string `json:"id"`
		Kid                string `json:"kid"`
		DeletedDate        int64  `json:"deletedDate"`
		ScheduledPurgeDate int64  `json:"scheduledPurgeDate"`
	}]
	if err := h.kv(r, s, d, "GET", "/"+coll, nil, &list); err != nil && d.Err == "" {
		d.Err = err.Error()
	}
	type row struct{ Name, Deleted, Purge string }
	var rows []row
	for _, it := range list.Value {
		id := it.ID
		if id == "" {
			id = it.Kid
		}
		del, purge := it.DeletedDate, it.ScheduledPurgeDate
		rows = append(rows, row{objectName(id, noun), date(&del), date(&purge)})
	}
	h.render(w, r, s, http.StatusOK, "deleted", map[string]any{"V": d, "Rows": rows, "Flash": flash,
		"Noun": noun, "Title": title, "Path": d.Link + "/deleted-" + noun})
}
