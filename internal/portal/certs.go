package portal

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/wire"
)

// The Certificates blade: list, Generate/Import (Generate with a
// Self-signed certificate policy: subject, DNS names, validity, content
// type, key), a certificate's status (its certificate operation) and
// versions, Delete, Manage deleted certificates (Recover, Purge).

func (h *Handler) certificates(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "certificates")
	if d == nil {
		return
	}
	var list wire.Page[wire.CertificateItem]
	if err := h.kv(r, s, d, "GET", "/certificates", nil, &list); err != nil {
		d.Err = err.Error()
	}
	type row struct {
		Name, Thumbprint, Expires string
		Enabled                   bool
	}
	rows := []row{}
	for _, it := range list.Value {
		rows = append(rows, row{Name: objectName(it.ID, "certificates"), Thumbprint: thumbprint(it.X5t),
			Enabled: enabled(it.Attributes.Enabled), Expires: date(it.Attributes.Expires)})
	}
	h.render(w, r, s, http.StatusOK, "certificates", map[string]any{"V": d, "Rows": rows, "Flash": r.URL.Query().Get("created")})
}

// thumbprint is the SHA-1 thumbprint as the portal shows it (upper-case
// hex), from the x5t claim (base64url).
func thumbprint(x5t string) string {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(x5t, "="))
	if err != nil {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// certInput is the Create a certificate form.
type certInput struct {
	Method, Name, CA, Subject, DNSNames, Validity, ContentType, KeyType, KeySize string
}

var certContentTypes = []struct{ Value, Label string }{
	{"application/x-pkcs12", "PKCS #12"}, {"application/x-pem-file", "PEM"},
}

func (h *Handler) certNew(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "certificates")
	if d == nil {
		return
	}
	in := certInput{Method: "generate", CA: "self", Validity: "12", ContentType: "application/x-pkcs12", KeyType: "RSA", KeySize: "2048"}
	render := func(status int) {
		h.render(w, r, s, status, "certnew", map[string]any{"V": d, "In": in, "ContentTypes": certContentTypes, "Sizes": rsaKeySizes})
	}
	if r.Method == http.MethodGet {
		render(http.StatusOK)
		return
	}
	f := r.PostForm
	in = certInput{Method: f.Get("method"), Name: strings.TrimSpace(f.Get("certName")), CA: f.Get("ca"), Subject: strings.TrimSpace(f.Get("subject")),
		DNSNames: f.Get("dnsNames"), Validity: strings.TrimSpace(f.Get("validity")), ContentType: f.Get("contentType"), KeyType: "RSA", KeySize: f.Get("keySize")}
	again := func(msg string) {
		d.Err = msg
		render(http.StatusBadRequest)
	}
	switch {
	case in.Method != "generate":
		again("Only the Generate method of certificate creation is available.")
		return
	case in.CA != "self":
		again("Only Self-signed certificates can be generated: Coffer has no integrated certificate authority.")
		return
	case in.Name == "" || in.Subject == "":
		again("Certificate Name and Subject are required.")
		return
	}
	months, err := strconv.Atoi(in.Validity)
	if err != nil || months < 1 || months > 1200 {
		again("Validity Period (in months) must be a number from 1 to 1200.")
		return
	}
	size, err := strconv.Atoi(in.KeySize)
	if err != nil {
		again("Choose a key size.")
		return
	}
	x509 := map[string]any{"subject": in.Subject, "validity_months": months}
	dns := strings.FieldsFunc(in.DNSNames, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })
	if len(dns) > 0 {
		x509["sans"] = map[string]any{"dns_names": dns}
	}
	body := map[string]any{"policy": map[string]any{
		"issuer":       map[string]any{"name": "Self"},
		"x509_props":   x509,
		"key_props":    map[string]any{"kty": in.KeyType, "key_size": size, "exportable": true, "reuse_key": false},
		"secret_props": map[string]any{"contentType": in.ContentType},
	}}
	if err := h.kv(r, s, d, "POST", "/certificates/"+url.PathEscape(in.Name)+"/create", body, nil); err != nil {
		again(err.Error())
		return
	}
	http.Redirect(w, r, d.Link+"/certificates?created="+url.QueryEscape(in.Name), http.StatusSeeOther)
}

// certPage shows a certificate: its operation's status, the current
// version's subject, thumbprint and validity, its versions; Delete.
func (h *Handler) certPage(w http.ResponseWriter, r *http.Request, s *session, rg, vault string) {
	d := h.loadVault(w, r, s, rg, vault, "certificates")
	if d == nil {
		return
	}
	name, ok := h.objectName(w, r, s, "certificate")
	if !ok {
		return
	}
	esc := url.PathEscape(name)
	if r.Method == http.MethodPost && r.PostForm.Get("op") == "delete" {
		if err := h.kv(r, s, d, "DELETE", "/certificates/"+esc, nil, nil); err != nil {
			h.fail(w, r, s, "Deleting "+name+" failed", err)
			return
		}
		http.Redirect(w, r, d.Link+"/certificates", http.StatusSeeOther)
		return
	}
	data := map[string]any{"V": d, "Name": name}
	var op wire.CertificateOperation
	if err := h.kv(r, s, d, "GET", "/certificates/"+esc+"/pending", nil, &op); err == nil {
		data["Status"] = op.Status
		data["StatusDetails"] = op.StatusDetails
		if op.Error != nil {
			data["StatusError"] = op.Error.Message
		}
	}
	var cur wire.CertificateBundle
	if err := h.kv(r, s, d, "GET", "/certificates/"+esc, nil, &cur); err == nil {
		data["Thumbprint"] = thumbprint(cur.X5t)
		if cur.Policy != nil && cur.Policy.X509Props != nil {
			data["Subject"] = cur.Policy.X509Props.Subject
		}
		data["NotBefore"], data["Expires"] = date(cur.Attributes.NotBefore), date(cur.Attributes.Expires)
		data["ContentType"] = cur.ContentType
	} else if _, pending := data["Status"]; !pending {
		h.fail(w, r, s, name, err)
		return
	}
	var versions wire.Page[wire.CertificateItem]
	if err := h.kv(r, s, d, "GET", "/certificates/"+esc+"/versions", nil, &versions); err != nil && d.Err == "" {
		d.Err = err.Error()
	}
	type row struct {
		Version, Thumbprint, Created, Expires string
		Enabled                               bool
	}
	var rows []row
	for _, v := range versions.Value {
		c := v.Attributes.Created
		rows = append(rows, row{Version: lastSegment(v.ID), Thumbprint: thumbprint(v.X5t), Created: date(&c), Expires: date(v.Attributes.Expires),
			Enabled: enabled(v.Attributes.Enabled)})
	}
	data["Versions"] = rows
	h.render(w, r, s, http.StatusOK, "certificate", data)
}
