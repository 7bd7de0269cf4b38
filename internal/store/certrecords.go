package store

import (
	"context"
	"errors"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/model"
)

// Certificate records, issuers and contacts have their own prefixes. A
// certificate record holds every version's DER leaf and attributes plus
// the policy; the private key and the PKCS#12/PEM value live in the
// backing key and secret, stored as keys and secrets are.
const (
	prefixCerts        = "certs/"
	prefixCertIssuers  = "certissuers/"
	prefixCertContacts = "certcontacts/"
)

func certsPrefix(vault string) string     { return prefixCerts + strings.ToLower(vault) + "/" }
func certKey(vault, name string) string   { return certsPrefix(vault) + strings.ToUpper(name) }
func issuersPrefix(vault string) string   { return prefixCertIssuers + strings.ToLower(vault) + "/" }
func issuerKey(vault, name string) string { return issuersPrefix(vault) + strings.ToUpper(name) }
func contactsKey(vault string) string     { return prefixCertContacts + strings.ToLower(vault) }

// GetCertificate returns one certificate record (possibly soft-deleted).
func (s *Store) GetCertificate(ctx context.Context, vault, name string) (*model.Certificate, error) {
	var c model.Certificate
	if err := getJSON(ctx, s.KV(), "store.GetCertificate", certKey(vault, name), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateCertificate atomically reads, changes and writes one certificate
// record, as UpdateKey does for keys.
func (s *Store) UpdateCertificate(ctx context.Context, vault, name string, fn func(c *model.Certificate, exists bool) (keep bool, err error)) error {
	return updateJSON(ctx, s.KV(), "store.UpdateCertificate", certKey(vault, name), fn)
}

// ListCertificates returns every certificate record of a vault, ordered by
// upper-cased name.
func (s *Store) ListCertificates(ctx context.Context, vault string) ([]model.Certificate, error) {
	return listJSON[model.Certificate](ctx, s.KV(), "store.ListCertificates", certsPrefix(vault))
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
	if err := s.deletePrefix(ctx, op, certsPrefix(vault)); err != nil {
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
