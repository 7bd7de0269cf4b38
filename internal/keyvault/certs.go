package keyvault

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/certs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/vaults"
	"github.com/coffer-dev/coffer/internal/wire"
)

// Certificate routes, built once like the secret routes (see methods).
var (
	routesCerts        = methods{"GET": (*Handler).listCertificates}
	routesCert         = methods{"GET": (*Handler).getCertificate, "PATCH": (*Handler).updateCertificate, "DELETE": (*Handler).deleteCertificate}
	routesCertVersion  = methods{"GET": (*Handler).getCertificate, "PATCH": (*Handler).updateCertificate}
	routesCreateCert   = methods{"POST": (*Handler).createCertificate}
	routesImportCert   = methods{"POST": (*Handler).importCertificate}
	routesBackupCert   = methods{"POST": (*Handler).backupCertificate}
	routesCertPolicy   = methods{"GET": (*Handler).getCertificatePolicy, "PATCH": (*Handler).updateCertificatePolicy}
	routesCertPending  = methods{"GET": (*Handler).getCertificateOperation, "PATCH": (*Handler).cancelCertificateOperation, "DELETE": (*Handler).deleteCertificateOperation}
	routesCertVersions = methods{"GET": (*Handler).listCertificateVersions}
	routesContacts     = methods{"GET": (*Handler).getContacts, "PUT": (*Handler).setContacts, "DELETE": (*Handler).deleteContacts}
	routesIssuers      = methods{"GET": (*Handler).listIssuers}
	routesIssuer       = methods{"GET": (*Handler).getIssuer, "PUT": (*Handler).setIssuer, "PATCH": (*Handler).updateIssuer, "DELETE": (*Handler).deleteIssuer}
	routesDeletedCerts = methods{"GET": (*Handler).listDeletedCertificates}
	routesDeletedCert  = methods{"GET": (*Handler).getDeletedCertificate, "DELETE": (*Handler).purgeDeletedCertificate}
	routesRecoverCert  = methods{"POST": (*Handler).recoverDeletedCertificate}
	routesCertRestore  = methods{"POST": (*Handler).restoreCertificate}
	routesCertMerge    = methods{"POST": (*Handler).mergeCertificate}
)

// pickCertRoute is pickRoute for /certificates and /deletedcertificates.
// "contacts", "issuers" and "restore" are reserved words of the path, as
// in Azure, so certificates cannot be reached under those names.
func pickCertRoute(method string, segs []string, pick func(methods, ...string) (op, []string, bool)) (op, []string, bool) {
	if segs[0] == "deletedcertificates" {
		switch len(segs) {
		case 1:
			return pick(routesDeletedCerts)
		case 2:
			return pick(routesDeletedCert)
		case 3:
			if strings.EqualFold(segs[2], "recover") {
				return pick(routesRecoverCert)
			}
		}
		return nil, nil, false
	}
	switch len(segs) {
	case 1:
		return pick(routesCerts)
	case 2:
		switch strings.ToLower(segs[1]) {
		case "contacts":
			return pick(routesContacts)
		case "issuers":
			return pick(routesIssuers)
		case "restore":
			if method == http.MethodPost {
				return pick(routesCertRestore)
			}
		}
		return pick(routesCert)
	case 3:
		if strings.EqualFold(segs[1], "issuers") {
			return pick(routesIssuer)
		}
		switch strings.ToLower(segs[2]) {
		case "create":
			return pick(routesCreateCert)
		case "import":
			return pick(routesImportCert)
		case "backup":
			return pick(routesBackupCert)
		case "policy":
			return pick(routesCertPolicy)
		case "pending":
			return pick(routesCertPending)
		case "versions":
			if method == http.MethodGet {
				return pick(routesCertVersions)
			}
		}
		return pick(routesCertVersion)
	case 4:
		if strings.EqualFold(segs[2], "pending") && strings.EqualFold(segs[3], "merge") {
			return pick(routesCertMerge)
		}
	}
	return nil, nil, false
}

// openCert loads the vault and authorizes a certificate action, as open
// does for secrets.
func (h *Handler) openCert(req *request, a policy.Action, name string) (*model.Vault, error) {
	return h.openFor(req, a, name, h.Vaults.AuthorizeCertificate)
}

func (req *request) certID(name, version string) string {
	id := req.base() + "/certificates/" + name
	if version != "" {
		id += "/" + version
	}
	return id
}

func (req *request) certAttributes(v *model.Vault, ver *model.CertificateVersion) wire.CertificateAttributes {
	enabled := ver.Enabled
	a := wire.CertificateAttributes{Enabled: &enabled, NotBefore: ver.NotBefore, Expires: ver.Expires,
		Created: ver.Created, Updated: ver.Updated, RecoveryLevel: v.RecoveryLevel()}
	if req.api.hasRecoverableDays {
		a.RecoverableDays = v.RecoverableDays()
	}
	return a
}

func (req *request) certPolicy(name string, raw []byte) *wire.CertificatePolicy {
	p := vaults.DecodePolicy(raw)
	p.ID = req.certID(name, "policy")
	return p
}

func (req *request) certBundle(v *model.Vault, c *model.Certificate, ver *model.CertificateVersion) wire.CertificateBundle {
	pol := req.certPolicy(c.Name, c.Policy)
	ct := ""
	if pol.SecretProps != nil {
		ct = pol.SecretProps.ContentType
	}
	return wire.CertificateBundle{ContentType: ct,
		ID: req.certID(c.Name, ver.Version), Kid: req.keyID(c.Name, ver.Version), Sid: req.secretID(c.Name, ver.Version),
		X5t: certs.Thumbprint(ver.Cer), Cer: base64.StdEncoding.EncodeToString(ver.Cer),
		Attributes: req.certAttributes(v, ver), Policy: pol, Tags: ver.Tags,
		PreserveCertOrder: trueOrNil(ver.PreserveCertOrder),
	}
}

// trueOrNil renders a flag Azure echoes only when it was set.
func trueOrNil(b bool) *bool {
	if !b {
		return nil
	}
	return &b
}

func (req *request) deletedCertBundle(v *model.Vault, c *model.Certificate) wire.DeletedCertificateBundle {
	b := wire.DeletedCertificateBundle{CertificateBundle: req.certBundle(v, c, c.Latest())}
	if c.Deleted != nil {
		b.RecoveryID = req.base() + "/deletedcertificates/" + c.Name
		b.DeletedDate = c.Deleted.DeletedDate
		b.ScheduledPurgeDate = c.Deleted.ScheduledPurgeDate
	}
	return b
}

func (req *request) certOperation(c *model.Certificate, inProgress bool) wire.CertificateOperation {
	p := c.Pending
	o := wire.CertificateOperation{
		ID: req.certID(c.Name, "pending"), Issuer: &wire.CertIssuerParameters{Name: p.Issuer},
		Csr: base64.StdEncoding.EncodeToString(p.Csr), CancellationRequested: p.Cancelled,
		Status: p.Status, StatusDetails: p.StatusDetails, RequestID: p.RequestID,
		PreserveCertOrder: trueOrNil(p.PreserveCertOrder),
	}
	if inProgress {
		o.Status, o.StatusDetails = "inProgress", vaults.PendingDetails
	}
	if o.Status == "completed" {
		o.Target = req.certID(c.Name, "")
	}
	return o
}

func toCertAttributes(a *wire.CertificateAttributes) vaults.Attributes {
	if a == nil {
		return vaults.Attributes{}
	}
	return vaults.Attributes{Enabled: a.Enabled}
}

func (h *Handler) createCertificate(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.CreateCertificate, req.name())
	if err != nil {
		return err
	}
	var body wire.CertificateCreateParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	c, err := h.Vaults.CreateCertificate(req.r.Context(), v, req.name(), body.Policy,
		vaults.CertParams{Attributes: toCertAttributes(body.Attributes), Tags: body.Tags,
			PreserveCertOrder: body.PreserveCertOrder != nil && *body.PreserveCertOrder})
	if err != nil {
		return err
	}
	// Azure answers 202 with the operation in progress and where to poll;
	// with the Self issuer the first poll finds it completed.
	w.Header().Set("Location", req.certID(c.Name, "pending")+"?api-version="+req.api.raw+"&request_id="+c.Pending.RequestID)
	w.Header().Set("Retry-After", "10")
	httpx.WriteJSON(w, http.StatusAccepted, req.certOperation(c, true))
	return nil
}

func (h *Handler) importCertificate(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.ImportCertificate, req.name())
	if err != nil {
		return err
	}
	var body wire.CertificateImportParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	c, err := h.Vaults.ImportCertificate(req.r.Context(), v, req.name(), body.Value, body.Pwd, body.Policy,
		vaults.CertParams{Attributes: toCertAttributes(body.Attributes), Tags: body.Tags,
			PreserveCertOrder: body.PreserveCertOrder != nil && *body.PreserveCertOrder})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.certBundle(v, c, c.Latest()))
	return nil
}

func (h *Handler) getCertificate(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.GetCertificate, req.name())
	if err != nil {
		return err
	}
	c, ver, err := h.Vaults.GetCertificateVersion(req.r.Context(), v, req.name(), req.version())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.certBundle(v, c, ver))
	return nil
}

func (h *Handler) updateCertificate(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.UpdateCertificate, req.name())
	if err != nil {
		return err
	}
	var body wire.CertificateUpdateParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	p := vaults.CertUpdateParams{Policy: body.Policy, Attributes: toCertAttributes(body.Attributes)}
	if body.Tags != nil {
		p.Tags, p.TagsSet = *body.Tags, true
	}
	c, ver, err := h.Vaults.UpdateCertificate(req.r.Context(), v, req.name(), req.version(), p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.certBundle(v, c, ver))
	return nil
}

func (h *Handler) deleteCertificate(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openCert, policy.DeleteCertificate, h.Vaults.DeleteCertificate, req.deletedCertBundle)
}

func (h *Handler) getCertificatePolicy(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.GetCertificate, req.name())
	if err != nil {
		return err
	}
	p, err := h.Vaults.GetCertificatePolicy(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	p.ID = req.certID(req.name(), "policy")
	httpx.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) updateCertificatePolicy(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.UpdateCertificate, req.name())
	if err != nil {
		return err
	}
	var body wire.CertificatePolicy
	if err := decode(req, &body); err != nil {
		return err
	}
	p, err := h.Vaults.UpdateCertificatePolicy(req.r.Context(), v, req.name(), &body)
	if err != nil {
		return err
	}
	p.ID = req.certID(req.name(), "policy")
	httpx.WriteJSON(w, http.StatusOK, p)
	return nil
}

// operation renders a certificate's last create operation.
func (req *request) operation(_ *model.Vault, c *model.Certificate) wire.CertificateOperation {
	return req.certOperation(c, false)
}

func (h *Handler) getCertificateOperation(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openCert, policy.GetCertificate, h.Vaults.GetCertificateOperation, req.operation)
}

// cancelCertificateOperation: PATCH /pending with cancellation_requested.
func (h *Handler) cancelCertificateOperation(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.UpdateCertificate, req.name())
	if err != nil {
		return err
	}
	var body struct {
		CancellationRequested *bool `json:"cancellation_requested"`
	}
	if err := decode(req, &body); err != nil {
		return err
	}
	if body.CancellationRequested == nil {
		return badParameter("Property cancellation_requested is required.")
	}
	var c *model.Certificate
	if *body.CancellationRequested {
		c, err = h.Vaults.CancelCertificateOperation(req.r.Context(), v, req.name())
	} else {
		c, err = h.Vaults.GetCertificateOperation(req.r.Context(), v, req.name())
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.certOperation(c, false))
	return nil
}

func (h *Handler) deleteCertificateOperation(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openCert, policy.DeleteCertificate, h.Vaults.DeleteCertificateOperation, req.operation)
}

// mergeCertificate completes an operation of the Unknown issuer with the
// certificate chain a CA signed (x5c: base64 DER, leaf anywhere in it).
func (h *Handler) mergeCertificate(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.CreateCertificate, req.name())
	if err != nil {
		return err
	}
	var body struct {
		X5c        []string                    `json:"x5c"`
		Attributes *wire.CertificateAttributes `json:"attributes"`
		Tags       map[string]string           `json:"tags"`
	}
	if err := decode(req, &body); err != nil {
		return err
	}
	x5c := make([][]byte, 0, len(body.X5c))
	for _, s := range body.X5c {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return badParameter("Property x5c is not valid base64.")
		}
		x5c = append(x5c, b)
	}
	c, err := h.Vaults.MergeCertificate(req.r.Context(), v, req.name(), x5c, vaults.CertParams{Attributes: toCertAttributes(body.Attributes), Tags: body.Tags})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, req.certBundle(v, c, c.Latest()))
	return nil
}

func (h *Handler) backupCertificate(w http.ResponseWriter, req *request) error {
	return serveBackup(w, req, h.openCert, policy.BackupCertificate, h.Vaults.BackupCertificate)
}

func (h *Handler) restoreCertificate(w http.ResponseWriter, req *request) error {
	return serveRestore(w, req, h.openCert, policy.RestoreCertificate, h.Vaults.RestoreCertificate, req.latestCertBundle)
}

func upperCertName(c model.Certificate) string { return strings.ToUpper(c.Name) }

func (h *Handler) listCertificates(w http.ResponseWriter, req *request) error {
	return h.listCertificatesOf(w, req, false)
}

func (h *Handler) listDeletedCertificates(w http.ResponseWriter, req *request) error {
	return h.listCertificatesOf(w, req, true)
}

func (h *Handler) listCertificatesOf(w http.ResponseWriter, req *request, deleted bool) error {
	v, err := h.openCert(req, policy.ListCertificates, "")
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	all, err := h.Vaults.ListCertificates(req.r.Context(), v, deleted)
	if err != nil {
		return err
	}
	item := func(c *model.Certificate) wire.CertificateItem {
		ver := c.Latest()
		return wire.CertificateItem{ID: req.certID(c.Name, ""), X5t: certs.Thumbprint(ver.Cer), Attributes: req.certAttributes(v, ver), Tags: ver.Tags}
	}
	if deleted {
		return writePage(w, req, p, all, upperCertName, "/deletedcertificates", func(c *model.Certificate) wire.DeletedCertificateItem {
			it := wire.DeletedCertificateItem{CertificateItem: item(c)}
			if c.Deleted != nil {
				it.RecoveryID = req.base() + "/deletedcertificates/" + c.Name
				it.DeletedDate, it.ScheduledPurgeDate = c.Deleted.DeletedDate, c.Deleted.ScheduledPurgeDate
			}
			return it
		})
	}
	return writePage(w, req, p, all, upperCertName, "/certificates", item)
}

func (h *Handler) listCertificateVersions(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.ListCertificates, req.name())
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	c, vers, err := h.Vaults.ListCertificateVersions(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	all := byPagingKey(c.Versions, vers, func(v *model.CertificateVersion) (string, int64) { return v.Version, v.Created })
	return writePage(w, req, p, all, pagingKey[model.CertificateVersion], "/certificates/"+c.Name+"/versions", func(it *pagedVersion[model.CertificateVersion]) wire.CertificateItem {
		return wire.CertificateItem{ID: req.certID(c.Name, it.ver.Version), X5t: certs.Thumbprint(it.ver.Cer), Attributes: req.certAttributes(v, &it.ver), Tags: it.ver.Tags}
	})
}

func (h *Handler) getDeletedCertificate(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openCert, policy.GetCertificate, h.Vaults.GetDeletedCertificate, req.deletedCertBundle)
}

func (h *Handler) purgeDeletedCertificate(w http.ResponseWriter, req *request) error {
	return servePurge(w, req, h.openCert, policy.PurgeCertificate, h.Vaults.PurgeDeletedCertificate)
}

func (h *Handler) recoverDeletedCertificate(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openCert, policy.RecoverCertificate, h.Vaults.RecoverDeletedCertificate, req.latestCertBundle)
}

func (req *request) contacts(cs []model.CertificateContact) wire.Contacts {
	out := wire.Contacts{ID: req.base() + "/certificates/contacts", ContactList: make([]wire.Contact, 0, len(cs))}
	for _, c := range cs {
		out.ContactList = append(out.ContactList, wire.Contact(c))
	}
	return out
}

func (h *Handler) getContacts(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.GetContacts, "")
	if err != nil {
		return err
	}
	cs, err := h.Vaults.GetCertificateContacts(req.r.Context(), v)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.contacts(cs))
	return nil
}

func (h *Handler) setContacts(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.ManageContacts, "")
	if err != nil {
		return err
	}
	var body wire.Contacts
	if err := decode(req, &body); err != nil {
		return err
	}
	in := make([]model.CertificateContact, 0, len(body.ContactList))
	for _, c := range body.ContactList {
		in = append(in, model.CertificateContact(c))
	}
	cs, err := h.Vaults.SetCertificateContacts(req.r.Context(), v, in)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.contacts(cs))
	return nil
}

func (h *Handler) deleteContacts(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.DeleteContacts, "")
	if err != nil {
		return err
	}
	cs, err := h.Vaults.DeleteCertificateContacts(req.r.Context(), v)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.contacts(cs))
	return nil
}

func (req *request) issuerID(name string) string { return req.base() + "/certificates/issuers/" + name }

func (req *request) issuer(is *model.CertificateIssuer) wire.IssuerBundle {
	enabled := is.Enabled
	return wire.IssuerBundle{ID: req.issuerID(is.Name), Provider: is.Provider, Credentials: is.Credentials, OrgDetails: is.OrgDetails,
		Attributes: &wire.IssuerAttributes{Enabled: &enabled, Created: is.Created, Updated: is.Updated}}
}

func (h *Handler) listIssuers(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.ListIssuers, "")
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	all, err := h.Vaults.ListCertificateIssuers(req.r.Context(), v)
	if err != nil {
		return err
	}
	return writePage(w, req, p, all, func(is model.CertificateIssuer) string { return strings.ToUpper(is.Name) }, "/certificates/issuers",
		func(is *model.CertificateIssuer) wire.IssuerItem {
			return wire.IssuerItem{ID: req.issuerID(is.Name), Provider: is.Provider}
		})
}

func (req *request) issuerName() string { return req.segs[2] }

func (h *Handler) getIssuer(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.GetIssuer, "")
	if err != nil {
		return err
	}
	is, err := h.Vaults.GetCertificateIssuer(req.r.Context(), v, req.issuerName())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.issuer(is))
	return nil
}

func (h *Handler) setIssuer(w http.ResponseWriter, req *request) error {
	return h.writeIssuer(w, req, false)
}

func (h *Handler) updateIssuer(w http.ResponseWriter, req *request) error {
	return h.writeIssuer(w, req, true)
}

func (h *Handler) writeIssuer(w http.ResponseWriter, req *request, update bool) error {
	v, err := h.openCert(req, policy.SetIssuer, "")
	if err != nil {
		return err
	}
	var body wire.IssuerBundle
	if err := decode(req, &body); err != nil {
		return err
	}
	p := vaults.IssuerParams{Provider: body.Provider, Credentials: body.Credentials, OrgDetails: body.OrgDetails}
	if body.Attributes != nil {
		p.Enabled = body.Attributes.Enabled
	}
	is, err := h.Vaults.SetCertificateIssuer(req.r.Context(), v, req.issuerName(), p, update)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.issuer(is))
	return nil
}

func (h *Handler) deleteIssuer(w http.ResponseWriter, req *request) error {
	v, err := h.openCert(req, policy.DeleteIssuer, "")
	if err != nil {
		return err
	}
	is, err := h.Vaults.DeleteCertificateIssuer(req.r.Context(), v, req.issuerName())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.issuer(is))
	return nil
}
