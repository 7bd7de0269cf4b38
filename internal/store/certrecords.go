package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/model"
)

// Certificates are versioned objects (objects.go); issuers and contacts
// are plain records:
//
//	certs/<vault>/<NAME>                 head (with the policy and the
//	                                     pending operation)
//	certversions/<vault>/<NAME>/<ver>    one version's DER leaf and attributes
//
// The private key and the PKCS#12/PEM value live in the backing key and
// secret, stored as keys and secrets are, so certificates have no values
// of their own. Records of the previous layout (one record per
// certificate holding every version, model.Certificate as JSON) are read
// as they are and converted by their first write that changes versions.
const (
	prefixCerts        = "certs/"
	prefixCertVersions = "certversions/"
	prefixCertIssuers  = "certissuers/"
	prefixCertContacts = "certcontacts/"
)

func issuersPrefix(vault string) string   { return prefixCertIssuers + strings.ToLower(vault) + "/" }
func issuerKey(vault, name string) string { return issuersPrefix(vault) + strings.ToUpper(name) }
func contactsKey(vault string) string     { return prefixCertContacts + strings.ToLower(vault) }

// certHead is the stored head of a certificate name.
type certHead struct {
	headMeta[model.CertificateVersion]
	Policy  json.RawMessage             `json:"policy,omitempty"`
	Pending *model.CertificateOperation `json:"pending,omitempty"`
}

var certObjects = &objects[model.Certificate, model.CertificateVersion, certHead]{
	heads: prefixCerts, versions: prefixCertVersions,
	meta: func(h *certHead) *headMeta[model.CertificateVersion] { return &h.headMeta },
	id:   func(v *model.CertificateVersion) string { return v.Version },
	object: func(h *certHead, vers []model.CertificateVersion) *model.Certificate {
		return &model.Certificate{Name: h.Name, Deleted: h.Deleted, Policy: h.Policy, Pending: h.Pending, Versions: vers}
	},
	setHead: func(h *certHead, c *model.Certificate) {
		h.Name, h.Deleted, h.Policy, h.Pending = c.Name, c.Deleted, c.Policy, c.Pending
	},
	versionsOf: func(c *model.Certificate) []model.CertificateVersion { return c.Versions },
}

// GetCertificate returns one certificate (possibly soft-deleted) with
// every version, oldest first. It reads every version record;
// GetCertificateHead and GetCertificateVersion do not.
func (s *Store) GetCertificate(ctx context.Context, vault, name string) (*model.Certificate, error) {
	return certObjects.all(ctx, s, "store.GetCertificate", vault, name)
}

// GetCertificateHead returns a certificate (possibly soft-deleted) with its
// latest version only (none while its first is pending).
func (s *Store) GetCertificateHead(ctx context.Context, vault, name string) (*model.Certificate, error) {
	return certObjects.head(ctx, s, "store.GetCertificateHead", vault, name)
}

// GetCertificateVersion returns a certificate's head (latest version only)
// and one of its versions (the latest when version is empty) without
// reading the others; the version is errs.NotExist when absent.
func (s *Store) GetCertificateVersion(ctx context.Context, vault, name, version string) (*model.Certificate, *model.CertificateVersion, error) {
	return certObjects.version(ctx, s, "store.GetCertificateVersion", vault, name, version)
}

// AddCertificateVersion stores a new version and makes it the latest in
// one transaction. check sees the current head (exists=false for a free
// name), may refuse with an error, and may change the policy and the
// pending operation, which are stored with the version.
func (s *Store) AddCertificateVersion(ctx context.Context, vault, name string, ver model.CertificateVersion,
	check func(c *model.Certificate, exists bool) error) (*model.Certificate, error) {
	return certObjects.add(ctx, s, "store.AddCertificateVersion", vault, name, ver, nil, check)
}

// UpdateCertificateHead applies fn to a certificate's name, soft-delete
// state, policy and pending operation without reading its versions (fn
// sees the latest version only and must not change Versions). keep=false
// removes the certificate, its versions page by page; keep=true for a free
// name stores a certificate without versions (its first one pending).
func (s *Store) UpdateCertificateHead(ctx context.Context, vault, name string, fn func(c *model.Certificate, exists bool) (keep bool, err error)) error {
	return certObjects.updateHead(ctx, s, "store.UpdateCertificateHead", vault, name, fn)
}

// UpdateCertificateVersion applies fn to one version (the latest when
// version is empty), and to the policy and pending operation, and stores
// them in one transaction; see UpdateSecretVersion.
func (s *Store) UpdateCertificateVersion(ctx context.Context, vault, name, version string,
	fn func(c *model.Certificate, ver *model.CertificateVersion, exists bool) error) (*model.Certificate, *model.CertificateVersion, error) {
	return certObjects.updateVersion(ctx, s, "store.UpdateCertificateVersion", vault, name, version, fn)
}

// UpdateCertificate applies fn to a whole certificate (every version) and
// stores the result, as UpdateKey does for keys. It reads every version.
func (s *Store) UpdateCertificate(ctx context.Context, vault, name string, fn func(c *model.Certificate, exists bool) (keep bool, err error)) error {
	return certObjects.update(ctx, s, "store.UpdateCertificate", vault, name, fn)
}

// CreateCertificate stores a certificate with every version (a restore) if
// the name is free (errs.Exist otherwise).
func (s *Store) CreateCertificate(ctx context.Context, vault string, c *model.Certificate) error {
	return certObjects.create(ctx, s, "store.CreateCertificate", vault, c, nil)
}

// ListCertificates returns every certificate of a vault, ordered by
// upper-cased name, each with its latest version only.
func (s *Store) ListCertificates(ctx context.Context, vault string) ([]model.Certificate, error) {
	return certObjects.list(ctx, s, "store.ListCertificates", vault)
}

// ListCertificatesPage returns up to limit certificates, live or
// soft-deleted, whose upper-cased name sorts after after; see
// ListSecretsPage.
func (s *Store) ListCertificatesPage(ctx context.Context, vault, after string, limit int, deleted bool) ([]model.Certificate, bool, error) {
	return certObjects.listPage(ctx, s, "store.ListCertificatesPage", vault, after, limit, deleted)
}

// MigrateLegacyCertificates converts every certificate record of the
// previous layout to the per-version layout; see MigrateLegacySecrets.
func (s *Store) MigrateLegacyCertificates(ctx context.Context) (int, error) {
	return certObjects.migrateLegacy(ctx, s, "store.MigrateLegacyCertificates")
}

// GetCertificateIssuer returns one issuer.
func (s *Store) GetCertificateIssuer(ctx context.Context, vault, name string) (*model.CertificateIssuer, error) {
	var is model.CertificateIssuer
	if err := getJSON(ctx, s.KV(), "store.GetCertificateIssuer", issuerKey(vault, name), &is); err != nil {
		return nil, err
	}
	return &is, nil
}

// UpdateCertificateIssuer atomically changes one issuer; keep=false deletes it.
func (s *Store) UpdateCertificateIssuer(ctx context.Context, vault, name string, fn func(is *model.CertificateIssuer, exists bool) (keep bool, err error)) error {
	return updateJSON(ctx, s.KV(), "store.UpdateCertificateIssuer", issuerKey(vault, name), fn)
}

// ListCertificateIssuers returns a vault's issuers, ordered by upper-cased name.
func (s *Store) ListCertificateIssuers(ctx context.Context, vault string) ([]model.CertificateIssuer, error) {
	return listJSON[model.CertificateIssuer](ctx, s.KV(), "store.ListCertificateIssuers", issuersPrefix(vault))
}

// GetCertificateContacts returns a vault's contacts (NotExist when none are set).
func (s *Store) GetCertificateContacts(ctx context.Context, vault string) ([]model.CertificateContact, error) {
	var cs []model.CertificateContact
	if err := getJSON(ctx, s.KV(), "store.GetCertificateContacts", contactsKey(vault), &cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// UpdateCertificateContacts atomically changes a vault's contacts; keep=false deletes them.
func (s *Store) UpdateCertificateContacts(ctx context.Context, vault string, fn func(cs *[]model.CertificateContact, exists bool) (keep bool, err error)) error {
	return updateJSON(ctx, s.KV(), "store.UpdateCertificateContacts", contactsKey(vault), func(cs *[]model.CertificateContact, exists bool) (bool, error) {
		return fn(cs, exists)
	})
}

// SweepCertificates removes every certificate record, issuer and contact
// of a vault, for a vault that is purged.
func (s *Store) SweepCertificates(ctx context.Context, vault string) error {
	const op errs.Op = "store.SweepCertificates"
	if err := certObjects.sweep(ctx, s, op, vault); err != nil {
		return err
	}
	if err := s.deletePrefix(ctx, op, issuersPrefix(vault)); err != nil {
		return err
	}
	if err := s.KV().Delete(ctx, contactsKey(vault)); err != nil && !errors.Is(err, kv.ErrNotFound) {
		return mapErr(op, err)
	}
	return nil
}
