package vaults

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/certs"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

// A certificate version is three objects sharing one version id: the
// certificate record (DER leaf, attributes, policy), the backing key
// (managed, private material as for any key) and the backing secret
// (managed, the PKCS#12 or PEM bundle with the private key). Reading the
// secret needs secret permissions, as in Azure.

// AuthorizeCertificate checks that caller may perform a certificate action,
// under the vault's permission model. Only certificate permissions count.
func (s *Service) AuthorizeCertificate(ctx context.Context, v *model.Vault, c Caller, a policy.Action, name string) error {
	return s.authorize(ctx, "vaults.AuthorizeCertificate", v, c, a, certKind, name)
}

func certNotFound(op errs.Op, name, version string) error {
	return certKind.notFound(op, name, version)
}

func certDeletedButRecoverable(op errs.Op, name string) error {
	return certKind.deletedButRecoverable(op, name)
}

func pendingNotFound(op errs.Op, name string) error {
	return errs.E(op, errs.NotExist, errs.Code("PendingCertificateNotFound"), errs.Msg("Pending certificate not found: "+name))
}

// CertParams are the attributes and tags of a create or import.
type CertParams struct {
	Attributes Attributes
	Tags       map[string]string
	// PreserveCertOrder (api-version 7.6) keeps an imported chain in the
	// order given; it is echoed on the version and the operation.
	PreserveCertOrder bool
	// given is an imported or merged chain in the order it came in.
	given []*x509.Certificate
}

// DecodePolicy reads a stored policy.
func DecodePolicy(raw json.RawMessage) *wire.CertificatePolicy {
	var p wire.CertificatePolicy
	_ = json.Unmarshal(raw, &p)
	return &p
}

// checkCertName refuses a name whose certificate, key or secret is
// soft-deleted, or whose key or secret exists but is not a certificate's.
func (s *Service) checkCertName(ctx context.Context, op errs.Op, v *model.Vault, name string) error {
	c, err := s.Store.GetCertificateHead(ctx, v.Name, name)
	switch {
	case err == nil && c.Deleted != nil:
		return certDeletedButRecoverable(op, c.Name)
	case err != nil && errs.KindOf(err) != errs.NotExist:
		return errs.E(op, err)
	}
	exists := err == nil
	k, err := s.Store.GetKeyHead(ctx, v.Name, name)
	switch {
	case err == nil && k.Deleted != nil:
		return keyDeletedButRecoverable(op, k.Name)
	case err == nil && !exists:
		return errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("A key named %s already exists in this vault; a certificate cannot use its name.", k.Name)))
	case err != nil && errs.KindOf(err) != errs.NotExist:
		return errs.E(op, err)
	}
	sec, err := s.Store.GetSecretHead(ctx, v.Name, name)
	switch {
	case err == nil && sec.Deleted != nil:
		return deletedButRecoverable(op, sec.Name)
	case err == nil && !exists:
		return errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("A secret named %s already exists in this vault; a certificate cannot use its name.", sec.Name)))
	case err != nil && errs.KindOf(err) != errs.NotExist:
		return errs.E(op, err)
	}
	return nil
}

// CreateCertificate issues a certificate from a policy. With the Self
// issuer the certificate is issued at once and the operation recorded as
// completed; the caller renders it as Azure's 202 does (inProgress).
func (s *Service) CreateCertificate(ctx context.Context, v *model.Vault, name string, pol *wire.CertificatePolicy, p CertParams) (*model.Certificate, error) {
	const op errs.Op = "vaults.CreateCertificate"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, err
	}
	// A new version of an existing certificate may omit the policy: the
	// current one applies, as in Azure.
	// A new version of an existing certificate may omit the policy or give
	// only part of it: the current one applies, with what is given merged
	// over it (as a policy update does).
	if cur, err := s.Store.GetCertificateHead(ctx, v.Name, name); err == nil && cur.Deleted == nil && len(cur.Versions) > 0 {
		if pol == nil || reflect.ValueOf(*pol).IsZero() {
			pol = DecodePolicy(cur.Policy)
		} else {
			raw, err := s.mergePolicy(op, cur, pol)
			if err != nil {
				return nil, err
			}
			pol = DecodePolicy(raw)
		}
		pol.Attributes = nil
	}
	norm, err := certs.NormalizePolicy(pol, true)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if norm.Issuer.Name != certs.IssuerSelf && norm.Issuer.Name != certs.IssuerUnknown {
		return nil, badParameter(op, "Issuer "+norm.Issuer.Name+" is not supported by this vault; use Self, or Unknown and merge the certificate.")
	}
	if err := s.checkCertName(ctx, op, v, name); err != nil {
		return nil, err
	}
	kp := norm.KeyProps
	if strings.HasSuffix(kp.Kty, "-HSM") && !premium(v) {
		return nil, errs.E(op, errHardwareOnStandard)
	}
	size := *kp.KeySize
	if kp.Crv != "" {
		size = 0 // the curve fixes it; keys.Generate takes no size for EC
	}
	priv, err := s.reusableKey(ctx, v, name, kp)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if priv == nil {
		if priv, err = keys.Generate(kp.Kty, size, 0, kp.Crv); err != nil {
			return nil, errs.E(op, err)
		}
	}
	csr, err := certs.CSR(norm, priv)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if norm.Issuer.Name == certs.IssuerUnknown {
		return s.startPending(ctx, op, v, name, norm, priv, csr, p)
	}
	der, err := certs.SelfSign(norm, priv, s.Now())
	if err != nil {
		return nil, errs.E(op, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	pending := &model.CertificateOperation{RequestID: NewVersionID(), Issuer: certs.IssuerSelf, Csr: csr, Status: "completed",
		PreserveCertOrder: p.PreserveCertOrder}
	return s.addCertVersion(ctx, op, v, name, norm, priv, []*x509.Certificate{leaf}, p, pending, "")
}

// startPending records an operation in progress for the Unknown issuer:
// the key is generated and kept, the CSR served, and the certificate
// waits for a merge of what a CA signed.
func (s *Service) startPending(ctx context.Context, op errs.Op, v *model.Vault, name string, pol *wire.CertificatePolicy, priv crypto.Signer, csr []byte, p CertParams) (*model.Certificate, error) {
	der, err := keys.Marshal(priv)
	if err != nil {
		return nil, errs.E(op, err)
	}
	version := NewVersionID()
	if err := s.Store.PutKeyMaterial(ctx, v.Name, name, version, der); err != nil {
		return nil, errs.E(op, err)
	}
	rawPolicy, err := json.Marshal(pol)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	var out model.Certificate
	err = s.Store.UpdateCertificateHead(ctx, v.Name, name, func(c *model.Certificate, exists bool) (bool, error) {
		if exists && c.Deleted != nil {
			return true, certDeletedButRecoverable(op, c.Name)
		}
		if exists && c.Pending != nil && c.Pending.Status == "inProgress" {
			return true, errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf(
				"Certificate %s has a pending operation in progress; merge, cancel or delete it first.", c.Name)))
		}
		if !exists {
			c.Name = name
		}
		if len(c.Versions) == 0 {
			c.Policy = rawPolicy
		}
		c.Pending = &model.CertificateOperation{RequestID: NewVersionID(), Issuer: certs.IssuerUnknown, Csr: csr,
			Status: "inProgress", StatusDetails: PendingDetails, Version: version, Tags: p.Tags, Enabled: p.Attributes.Enabled,
			PreserveCertOrder: p.PreserveCertOrder}
		out = *c
		return true, nil
	})
	if err != nil {
		_ = s.Store.DeleteKeyMaterial(ctx, v.Name, name, version)
		return nil, errs.E(op, err)
	}
	return &out, nil
}

// PendingDetails is Azure's status_details of an operation in progress.
const PendingDetails = "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later."

// MergeCertificate completes an operation in progress with the
// certificate (and chain) a CA issued for its CSR.
func (s *Service) MergeCertificate(ctx context.Context, v *model.Vault, name string, x5c [][]byte, p CertParams) (*model.Certificate, error) {
	const op errs.Op = "vaults.MergeCertificate"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	if len(x5c) == 0 {
		return nil, badParameter(op, "Property x5c is required.")
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, err
	}
	c, err := s.Store.GetCertificateHead(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (c.Deleted != nil || c.Pending == nil || c.Pending.Status != "inProgress")) {
		return nil, pendingNotFound(op, name)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	pend := c.Pending
	der, err := s.Store.GetKeyMaterial(ctx, v.Name, name, pend.Version)
	if err != nil {
		return nil, errs.E(op, err)
	}
	priv, err := keys.Parse(der)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	var chain []*x509.Certificate
	for _, b := range x5c {
		cert, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, badParameter(op, "Property x5c has a certificate that is not a valid X.509 certificate.")
		}
		chain = append(chain, cert)
	}
	leaf := -1
	for i, cert := range chain {
		if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(priv.Public()) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, badParameter(op, "Public key from x509 certificate and key of this instance doesn't match")
	}
	p.given = slices.Clone(chain)
	chain[0], chain[leaf] = chain[leaf], chain[0]
	if p.Tags == nil {
		p.Tags = pend.Tags
	}
	if p.Attributes.Enabled == nil {
		p.Attributes.Enabled = pend.Enabled
	}
	p.PreserveCertOrder = pend.PreserveCertOrder
	done := *pend
	done.Status, done.StatusDetails, done.Version, done.Tags, done.Enabled = "completed", "", "", nil, nil
	pol := DecodePolicy(c.Policy)
	pol.Attributes = nil
	return s.addCertVersion(ctx, op, v, name, pol, priv, chain, p, &done, pend.Version)
}

// CancelCertificateOperation marks an operation in progress cancelled; a
// finished one only records the request.
func (s *Service) CancelCertificateOperation(ctx context.Context, v *model.Vault, name string) (*model.Certificate, error) {
	const op errs.Op = "vaults.CancelCertificateOperation"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	var out model.Certificate
	err := s.Store.UpdateCertificateHead(ctx, v.Name, name, func(c *model.Certificate, exists bool) (bool, error) {
		if !exists || c.Deleted != nil || c.Pending == nil {
			return exists, pendingNotFound(op, name)
		}
		c.Pending.Cancelled = true
		if c.Pending.Status == "inProgress" {
			c.Pending.Status, c.Pending.StatusDetails = "cancelled", ""
		}
		out = *c
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
}

// ImportCertificate imports a PKCS#12 or PEM bundle as a new version.
func (s *Service) ImportCertificate(ctx context.Context, v *model.Vault, name string, value *string, pwd string, pol *wire.CertificatePolicy, p CertParams) (*model.Certificate, error) {
	const op errs.Op = "vaults.ImportCertificate"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	if value == nil || *value == "" {
		return nil, badParameter(op, "Property value is required.")
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, err
	}
	ct := certs.ContentTypePKCS12
	if pol != nil && pol.SecretProps != nil && pol.SecretProps.ContentType != "" {
		ct = pol.SecretProps.ContentType
	}
	norm, err := certs.NormalizePolicy(pol, false)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if (pol == nil || pol.SecretProps == nil || pol.SecretProps.ContentType == "") && strings.Contains(*value, "-----BEGIN") {
		// PEM given without its content type (as some SDK versions send
		// it) is still PEM: base64 PKCS#12 cannot contain dashes.
		ct = certs.ContentTypePEM
		norm.SecretProps = &wire.CertSecretProperties{ContentType: ct}
	}
	parsed, err := certs.ParseImport(ct, *value, pwd)
	if err != nil {
		return nil, errs.E(op, err)
	}
	norm = certs.PolicyFromCertificate(norm, parsed.Chain[0], parsed.Key)
	if pol != nil && pol.KeyProps != nil && strings.HasSuffix(pol.KeyProps.Kty, "-HSM") && !premium(v) {
		return nil, errs.E(op, errHardwareOnStandard)
	}
	if pol == nil || pol.KeyProps == nil || pol.KeyProps.Kty == "" {
		// The key type comes from the certificate; a policy naming another is refused.
	} else if keys.BaseKty(pol.KeyProps.Kty) != norm.KeyProps.Kty {
		return nil, badParameter(op, "The key type in the policy does not match the key of the certificate.")
	} else {
		norm.KeyProps.Kty = pol.KeyProps.Kty
	}
	if err := s.checkCertName(ctx, op, v, name); err != nil {
		return nil, err
	}
	p.given = parsed.Given
	return s.addCertVersion(ctx, op, v, name, norm, parsed.Key, parsed.Chain, p, nil, "")
}

// addCertVersion writes the backing key, the certificate record and the
// backing secret of a new version, in that order, undoing the earlier
// writes if a later one fails, so a failed request stores nothing.
func (s *Service) addCertVersion(ctx context.Context, op errs.Op, v *model.Vault, name string, pol *wire.CertificatePolicy,
	priv crypto.Signer, chain []*x509.Certificate, p CertParams, pending *model.CertificateOperation, version string) (*model.Certificate, error) {
	leaf := chain[0]
	if version == "" {
		version = NewVersionID()
	}
	now := s.Now().Unix()
	nbf, exp := leaf.NotBefore.Unix(), leaf.NotAfter.Unix()
	enabled := true
	if p.Attributes.Enabled != nil {
		enabled = *p.Attributes.Enabled
	}
	if pol.Attributes != nil && pol.Attributes.Enabled != nil && p.Attributes.Enabled == nil {
		enabled = *pol.Attributes.Enabled
	}
	polAttrs := wire.CertificateAttributes{Enabled: &enabled, Created: now, Updated: now}
	pol.Attributes = &polAttrs
	rawPolicy, err := json.Marshal(pol)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	exportable := pol.KeyProps.Exportable == nil || *pol.KeyProps.Exportable
	secretChain := chain
	if p.PreserveCertOrder && p.given != nil && pol.SecretProps.ContentType == certs.ContentTypePEM {
		// preserveCertOrder: the PEM lists the certificates as they were
		// given instead of leaf first (a PFX names its leaf either way).
		secretChain = p.given
	}
	value, err := certs.SecretValue(pol.SecretProps.ContentType, priv, secretChain, exportable)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if len(value) > MaxValueBytes*8 {
		return nil, badParameter(op, "The certificate is too large.")
	}

	kty := pol.KeyProps.Kty
	pub := keys.Public(priv, kty)
	kver := model.KeyVersion{
		Version: version, Kty: kty, KeyOps: certs.KeyOps(kty, pol.X509Props.KeyUsage),
		N: pub.N, E: pub.E, Crv: pub.Crv, X: pub.X, Y: pub.Y, Tags: p.Tags, Enabled: enabled,
		NotBefore: &nbf, Expires: &exp, Created: now, Updated: now, Managed: true,
	}
	if _, _, err := s.addKeyVersion(ctx, op, v, name, kver, priv, false); err != nil {
		return nil, err
	}
	undoKey := func() {
		_ = s.Store.UpdateKey(ctx, v.Name, name, func(k *model.Key, exists bool) (bool, error) {
			if !exists {
				return false, nil
			}
			k.Versions = dropKeyVersion(k.Versions, version)
			return len(k.Versions) > 0, nil
		})
		_ = s.Store.DeleteKeyMaterial(ctx, v.Name, name, version)
	}

	cver := model.CertificateVersion{Version: version, Cer: leaf.Raw, Tags: p.Tags, Enabled: enabled,
		NotBefore: &nbf, Expires: &exp, Created: now, Updated: now, PreserveCertOrder: p.PreserveCertOrder}
	out, err := s.Store.AddCertificateVersion(ctx, v.Name, name, cver, func(c *model.Certificate, exists bool) error {
		if exists && c.Deleted != nil {
			return certDeletedButRecoverable(op, c.Name)
		}
		c.Policy = rawPolicy
		if pending != nil {
			c.Pending = pending
		}
		return nil
	})
	if err != nil {
		undoKey()
		return nil, errs.E(op, err)
	}

	sver := model.SecretVersion{Version: version, Value: value, ContentType: pol.SecretProps.ContentType, Tags: p.Tags,
		Enabled: enabled, NotBefore: &nbf, Expires: &exp, Created: now, Updated: now, Managed: true}
	_, err = s.Store.AddSecretVersion(ctx, v.Name, name, sver, value, func(sec *model.Secret, exists bool) error {
		if exists && sec.Deleted != nil {
			return deletedButRecoverable(op, sec.Name)
		}
		return nil
	})
	if err != nil {
		undoKey()
		_ = s.Store.UpdateCertificate(ctx, v.Name, name, func(c *model.Certificate, exists bool) (bool, error) {
			if !exists {
				return false, nil
			}
			kept := c.Versions[:0]
			for _, cv := range c.Versions {
				if cv.Version != version {
					kept = append(kept, cv)
				}
			}
			c.Versions = kept
			return len(kept) > 0, nil
		})
		return nil, errs.E(op, err)
	}
	return out, nil
}

func dropKeyVersion(vers []model.KeyVersion, version string) []model.KeyVersion {
	out := vers[:0]
	for _, kv := range vers {
		if kv.Version != version {
			out = append(out, kv)
		}
	}
	return out
}

// lookupCert returns a live certificate, holding its latest version only,
// and one version (latest when version is empty): the head and at most
// one version record are read.
func (s *Service) lookupCert(ctx context.Context, op errs.Op, v *model.Vault, name, version string) (*model.Certificate, *model.CertificateVersion, error) {
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	c, ver, err := s.Store.GetCertificateVersion(ctx, v.Name, name, version)
	if errs.KindOf(err) == errs.NotExist || (err == nil && c.Deleted != nil) {
		return nil, nil, certNotFound(op, name, version)
	}
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	return c, ver, nil
}

// lookupCertAll returns a live certificate with every version, oldest first.
func (s *Service) lookupCertAll(ctx context.Context, op errs.Op, v *model.Vault, name string) (*model.Certificate, error) {
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	c, err := s.Store.GetCertificate(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (c.Deleted != nil || len(c.Versions) == 0)) {
		return nil, certNotFound(op, name, "")
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return c, nil
}

// GetCertificate returns a live certificate with every version and one of
// them (latest when version is empty). It reads every version;
// GetCertificateVersion does not.
func (s *Service) GetCertificate(ctx context.Context, v *model.Vault, name, version string) (*model.Certificate, *model.CertificateVersion, error) {
	const op errs.Op = "vaults.GetCertificate"
	c, err := s.lookupCertAll(ctx, op, v, name)
	if err != nil {
		return nil, nil, err
	}
	ver := c.Latest()
	if version != "" {
		if ver = c.Version(version); ver == nil {
			return nil, nil, certNotFound(op, name, version)
		}
	}
	return c, ver, nil
}

// GetCertificateVersion is GetCertificate reading only the head and the
// one version: the certificate it returns holds its latest version only.
func (s *Service) GetCertificateVersion(ctx context.Context, v *model.Vault, name, version string) (*model.Certificate, *model.CertificateVersion, error) {
	return s.lookupCert(ctx, "vaults.GetCertificate", v, name, version)
}

// ListCertificates returns the live certificates (deleted=false) or the
// soft-deleted ones, ordered by upper-cased name.
func (s *Service) ListCertificates(ctx context.Context, v *model.Vault, deleted bool) ([]model.Certificate, error) {
	all, err := s.Store.ListCertificates(ctx, v.Name)
	if err != nil {
		return nil, errs.E(errs.Op("vaults.ListCertificates"), err)
	}
	out := all[:0]
	for _, c := range all {
		if (c.Deleted != nil) == deleted && len(c.Versions) > 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// ListCertificateVersions returns a live certificate's versions, newest first.
func (s *Service) ListCertificateVersions(ctx context.Context, v *model.Vault, name string) (*model.Certificate, []model.CertificateVersion, error) {
	c, err := s.lookupCertAll(ctx, "vaults.ListCertificateVersions", v, name)
	if err != nil {
		return nil, nil, err
	}
	return c, newestFirst(c.Versions, func(v *model.CertificateVersion) int64 { return v.Created }), nil
}

// CertUpdateParams is an update request.
type CertUpdateParams struct {
	Policy     *wire.CertificatePolicy
	Tags       map[string]string
	TagsSet    bool
	Attributes Attributes
}

// UpdateCertificate changes a version's enabled state and tags (and the
// policy, when given). enabled follows to the backing key and secret, as
// in Azure; nbf and exp come from the certificate and are not writable.
func (s *Service) UpdateCertificate(ctx context.Context, v *model.Vault, name, version string, p CertUpdateParams) (*model.Certificate, *model.CertificateVersion, error) {
	const op errs.Op = "vaults.UpdateCertificate"
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, nil, err
	}
	var newPolicy json.RawMessage
	if p.Policy != nil {
		c, _, err := s.lookupCert(ctx, op, v, name, "")
		if err != nil {
			return nil, nil, err
		}
		if newPolicy, err = s.mergePolicy(op, c, p.Policy); err != nil {
			return nil, nil, err
		}
	}
	out, ver, err := s.Store.UpdateCertificateVersion(ctx, v.Name, name, version, func(c *model.Certificate, ver *model.CertificateVersion, exists bool) error {
		if !exists || c.Deleted != nil || ver == nil {
			return certNotFound(op, name, version)
		}
		if p.Attributes.Enabled != nil {
			ver.Enabled = *p.Attributes.Enabled
		}
		if p.TagsSet {
			ver.Tags = p.Tags
		}
		ver.Updated = s.Now().Unix()
		if newPolicy != nil {
			c.Policy = newPolicy
		}
		return nil
	})
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	verID := ver.Version
	if p.Attributes.Enabled != nil || p.TagsSet {
		kp := KeyUpdateParams{Attributes: Attributes{Enabled: p.Attributes.Enabled}, Tags: p.Tags, TagsSet: p.TagsSet}
		if _, _, err := s.updateKey(ctx, v, out.Name, verID, kp, true); err != nil && errs.KindOf(err) != errs.NotExist {
			return nil, nil, errs.E(op, err)
		}
		sp := UpdateParams{Attributes: Attributes{Enabled: p.Attributes.Enabled}, Tags: p.Tags, TagsSet: p.TagsSet}
		if _, _, err := s.updateSecret(ctx, v, out.Name, verID, sp, true); err != nil && errs.KindOf(err) != errs.NotExist {
			return nil, nil, errs.E(op, err)
		}
	}
	return out, ver, nil
}

// mergePolicy applies a policy update over the current policy: the parts
// given replace the current ones, as Azure's PATCH does.
func (s *Service) mergePolicy(op errs.Op, c *model.Certificate, upd *wire.CertificatePolicy) (json.RawMessage, error) {
	cur := DecodePolicy(c.Policy)
	merged := *cur
	if upd.KeyProps != nil {
		kp := *cur.KeyProps
		if upd.KeyProps.Kty != "" {
			kp.Kty, kp.KeySize, kp.Crv = upd.KeyProps.Kty, nil, ""
		}
		if upd.KeyProps.KeySize != nil {
			kp.KeySize = upd.KeyProps.KeySize
		}
		if upd.KeyProps.Crv != "" {
			kp.Crv = upd.KeyProps.Crv
		}
		if upd.KeyProps.Exportable != nil {
			kp.Exportable = upd.KeyProps.Exportable
		}
		if upd.KeyProps.ReuseKey != nil {
			kp.ReuseKey = upd.KeyProps.ReuseKey
		}
		merged.KeyProps = &kp
	}
	if upd.SecretProps != nil && upd.SecretProps.ContentType != "" {
		merged.SecretProps = upd.SecretProps
	}
	if upd.X509Props != nil {
		x := *cur.X509Props
		u := upd.X509Props
		if u.Subject != "" {
			x.Subject = u.Subject
		}
		if u.SANs != nil && len(u.SANs.DNSNames)+len(u.SANs.Emails)+len(u.SANs.UPNs) > 0 {
			x.SANs = u.SANs
		}
		if u.Ekus != nil {
			x.Ekus = u.Ekus
		}
		if u.KeyUsage != nil {
			x.KeyUsage = u.KeyUsage
		}
		if u.ValidityMonths != nil {
			x.ValidityMonths = u.ValidityMonths
		}
		merged.X509Props = &x
	}
	if upd.LifetimeActions != nil {
		merged.LifetimeActions = upd.LifetimeActions
	}
	if upd.Issuer != nil && upd.Issuer.Name != "" {
		merged.Issuer = upd.Issuer
	}
	attrs := cur.Attributes
	norm, err := certs.NormalizePolicy(&merged, false)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if attrs == nil {
		attrs = &wire.CertificateAttributes{}
	}
	a := *attrs
	if upd.Attributes != nil && upd.Attributes.Enabled != nil {
		a.Enabled = upd.Attributes.Enabled
	}
	a.Updated = s.Now().Unix()
	norm.Attributes = &a
	b, err := json.Marshal(norm)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return b, nil
}

// GetCertificatePolicy returns a live certificate's policy.
func (s *Service) GetCertificatePolicy(ctx context.Context, v *model.Vault, name string) (*wire.CertificatePolicy, error) {
	c, _, err := s.lookupCert(ctx, "vaults.GetCertificatePolicy", v, name, "")
	if err != nil {
		return nil, err
	}
	return DecodePolicy(c.Policy), nil
}

// UpdateCertificatePolicy merges a policy update into a live certificate's policy.
func (s *Service) UpdateCertificatePolicy(ctx context.Context, v *model.Vault, name string, upd *wire.CertificatePolicy) (*wire.CertificatePolicy, error) {
	const op errs.Op = "vaults.UpdateCertificatePolicy"
	if upd == nil {
		return nil, badParameter(op, "The certificate policy is required.")
	}
	c, _, err := s.UpdateCertificate(ctx, v, name, "", CertUpdateParams{Policy: upd})
	if err != nil {
		return nil, err
	}
	return DecodePolicy(c.Policy), nil
}

// GetCertificateOperation returns the certificate's last create operation.
func (s *Service) GetCertificateOperation(ctx context.Context, v *model.Vault, name string) (*model.Certificate, error) {
	const op errs.Op = "vaults.GetCertificateOperation"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	c, err := s.Store.GetCertificateHead(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (c.Deleted != nil || c.Pending == nil)) {
		return nil, pendingNotFound(op, name)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return c, nil
}

// DeleteCertificateOperation forgets the last create operation.
func (s *Service) DeleteCertificateOperation(ctx context.Context, v *model.Vault, name string) (*model.Certificate, error) {
	const op errs.Op = "vaults.DeleteCertificateOperation"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	var out model.Certificate
	err := s.Store.UpdateCertificateHead(ctx, v.Name, name, func(c *model.Certificate, exists bool) (bool, error) {
		if !exists || c.Deleted != nil || c.Pending == nil {
			return exists, pendingNotFound(op, name)
		}
		out = *c
		c.Pending = nil
		return len(c.Versions) > 0, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	// The key of an operation that never completed goes with it.
	if p := out.Pending; p.Version != "" && p.Status != "completed" {
		if err := s.Store.DeleteKeyMaterial(ctx, v.Name, out.Name, p.Version); err != nil {
			return nil, errs.E(op, err)
		}
	}
	return &out, nil
}

// DeleteCertificate deletes a certificate with its backing key and secret:
// soft delete when the vault has it.
func (s *Service) DeleteCertificate(ctx context.Context, v *model.Vault, name string) (*model.Certificate, error) {
	const op errs.Op = "vaults.DeleteCertificate"
	out, err := s.certLifecycle().delete(ctx, op, s, v, name, func(c *model.Certificate) error {
		if len(c.Versions) == 0 { // its first version is still pending
			return certNotFound(op, name, "")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.deleteKey(ctx, v, out.Name, true); err != nil && errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	if _, err := s.deleteSecret(ctx, v, out.Name, true); err != nil && errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	return out, nil
}

// GetDeletedCertificate returns a soft-deleted certificate.
func (s *Service) GetDeletedCertificate(ctx context.Context, v *model.Vault, name string) (*model.Certificate, error) {
	return s.certLifecycle().getDeleted(ctx, "vaults.GetDeletedCertificate", v, name)
}

// RecoverDeletedCertificate undoes a soft delete of the certificate, its
// key and its secret.
func (s *Service) RecoverDeletedCertificate(ctx context.Context, v *model.Vault, name string) (*model.Certificate, error) {
	const op errs.Op = "vaults.RecoverDeletedCertificate"
	out, err := s.certLifecycle().recover(ctx, op, v, name)
	if err != nil {
		return nil, err
	}
	if _, err := s.RecoverDeletedKey(ctx, v, out.Name); err != nil && errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	if _, err := s.RecoverDeletedSecret(ctx, v, out.Name); err != nil && errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	return out, nil
}

// PurgeDeletedCertificate permanently removes a soft-deleted certificate
// with its key and secret, unless purge protection forbids it.
func (s *Service) PurgeDeletedCertificate(ctx context.Context, v *model.Vault, name string) error {
	const op errs.Op = "vaults.PurgeDeletedCertificate"
	display, err := s.certLifecycle().purge(ctx, op, v, name)
	if err != nil {
		return err
	}
	if err := s.PurgeDeletedKey(ctx, v, display); err != nil && errs.KindOf(err) != errs.NotExist {
		return errs.E(op, err)
	}
	if err := s.PurgeDeletedSecret(ctx, v, display); err != nil && errs.KindOf(err) != errs.NotExist {
		return errs.E(op, err)
	}
	return nil
}

// certBackupMarker starts certificate backup blobs.
const certBackupMarker = "AzureKeyVaultCertificateBackupV1.microsoft.com"

type certBackupPayload struct {
	Cert   model.Certificate `json:"cert"`
	Key    []byte            `json:"key"`
	Secret []byte            `json:"secret"`
}

// BackupCertificate returns a sealed blob with the certificate and the
// backups of its key and secret.
func (s *Service) BackupCertificate(ctx context.Context, v *model.Vault, name string) ([]byte, error) {
	const op errs.Op = "vaults.BackupCertificate"
	c, err := s.lookupCertAll(ctx, op, v, name)
	if err != nil {
		return nil, err
	}
	p := certBackupPayload{Cert: *c}
	if p.Key, err = s.backupKey(ctx, v, c.Name, true); err != nil {
		return nil, errs.E(op, err)
	}
	if p.Secret, err = s.backupSecret(ctx, v, c.Name, true); err != nil {
		return nil, errs.E(op, err)
	}
	return s.sealBackup(op, certBackupMarker, p)
}

// RestoreCertificate recreates a certificate with its key and secret from
// a blob made by BackupCertificate. The name must be free.
func (s *Service) RestoreCertificate(ctx context.Context, v *model.Vault, blob []byte) (*model.Certificate, error) {
	const op errs.Op = "vaults.RestoreCertificate"
	malformed := badParameter(op, "Backup blob is malformed or was not produced by this service.")
	var p certBackupPayload
	if !s.openBackup(certBackupMarker, blob, &p) || !ValidSecretName(p.Cert.Name) || len(p.Cert.Versions) == 0 {
		return nil, malformed
	}
	name := p.Cert.Name
	if c, err := s.Store.GetCertificateHead(ctx, v.Name, name); err == nil {
		if c.Deleted != nil {
			return nil, certDeletedButRecoverable(op, c.Name)
		}
		return nil, errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Certificate %s already exists in this vault.", c.Name)))
	} else if errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	if err := s.nameFree(ctx, op, v, name); err != nil {
		return nil, err
	}
	if _, err := s.RestoreKey(ctx, v, p.Key); err != nil {
		return nil, err
	}
	undoKey := func() {
		_ = s.Store.UpdateKeyHead(ctx, v.Name, name, func(*model.Key, bool) (bool, error) { return false, nil })
		_ = s.Store.DeleteKeyMaterials(ctx, v.Name, name)
	}
	if _, err := s.RestoreSecret(ctx, v, p.Secret); err != nil {
		undoKey()
		return nil, err
	}
	cert := p.Cert
	cert.Deleted = nil
	err := s.Store.CreateCertificate(ctx, v.Name, &cert)
	if errs.KindOf(err) == errs.Exist {
		err = errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Certificate %s already exists in this vault.", name)))
	}
	if err != nil {
		undoKey()
		_ = s.Store.UpdateSecretHead(ctx, v.Name, name, func(*model.Secret, bool) (bool, error) { return false, nil })
		return nil, errs.E(op, err)
	}
	return &cert, nil
}

// Contacts and issuers.

func contactsNotFound(op errs.Op) error {
	return errs.E(op, errs.NotExist, errs.Code("ContactsNotFound"), errs.Msg("Contacts not found"))
}

// GetCertificateContacts returns the vault's contacts.
func (s *Service) GetCertificateContacts(ctx context.Context, v *model.Vault) ([]model.CertificateContact, error) {
	const op errs.Op = "vaults.GetCertificateContacts"
	cs, err := s.Store.GetCertificateContacts(ctx, v.Name)
	if errs.KindOf(err) == errs.NotExist {
		return nil, contactsNotFound(op)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return cs, nil
}

// SetCertificateContacts replaces the vault's contacts.
func (s *Service) SetCertificateContacts(ctx context.Context, v *model.Vault, cs []model.CertificateContact) ([]model.CertificateContact, error) {
	const op errs.Op = "vaults.SetCertificateContacts"
	if len(cs) == 0 {
		return nil, badParameter(op, "At least one contact is required.")
	}
	if len(cs) > 100 {
		return nil, badParameter(op, "A vault can have at most 100 contacts.")
	}
	for _, c := range cs {
		if c.Email == "" || !strings.Contains(c.Email, "@") || len(c.Email)+len(c.Name)+len(c.Phone) > 1024 {
			return nil, badParameter(op, "Each contact needs a valid email address.")
		}
	}
	err := s.Store.UpdateCertificateContacts(ctx, v.Name, func(cur *[]model.CertificateContact, _ bool) (bool, error) {
		*cur = cs
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return cs, nil
}

// DeleteCertificateContacts removes the vault's contacts and returns them.
func (s *Service) DeleteCertificateContacts(ctx context.Context, v *model.Vault) ([]model.CertificateContact, error) {
	const op errs.Op = "vaults.DeleteCertificateContacts"
	var out []model.CertificateContact
	err := s.Store.UpdateCertificateContacts(ctx, v.Name, func(cur *[]model.CertificateContact, exists bool) (bool, error) {
		if !exists {
			return false, contactsNotFound(op)
		}
		out = *cur
		return false, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return out, nil
}

func issuerNotFound(op errs.Op, name string) error {
	return errs.E(op, errs.NotExist, errs.Code("CertificateIssuerNotFound"), errs.Msg("Issuer not found"))
}

// IssuerParams is a set or update of an issuer.
type IssuerParams struct {
	Provider    string
	Credentials json.RawMessage
	OrgDetails  json.RawMessage
	Enabled     *bool
}

// issuerProviders are the providers an issuer may name, in their
// canonical spelling: Coffer's Self and Unknown, and the ones Azure
// stores issuer configurations for (Test is the one the Azure SDKs' own
// test suites use against real vaults). Coffer talks to no certificate
// authority, so a certificate can only be issued by Self or Unknown; the
// others are stored and returned as configuration, as in Azure.
var issuerProviders = []string{certs.IssuerSelf, certs.IssuerUnknown, "DigiCert", "GlobalSign", "OneCertV2-PublicCA", "OneCertV2-PrivateCA", "Test"}

// canonicalProvider returns the canonical spelling of a known provider, or "".
func canonicalProvider(p string) string {
	for _, known := range issuerProviders {
		if strings.EqualFold(p, known) {
			return known
		}
	}
	return ""
}

// SetCertificateIssuer creates or replaces an issuer configuration.
func (s *Service) SetCertificateIssuer(ctx context.Context, v *model.Vault, name string, p IssuerParams, update bool) (*model.CertificateIssuer, error) {
	const op errs.Op = "vaults.SetCertificateIssuer"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	if !update && p.Provider == "" {
		return nil, badParameter(op, "Property provider is required.")
	}
	if p.Provider != "" && canonicalProvider(p.Provider) == "" {
		return nil, badParameter(op, "Issuer provider "+p.Provider+" is not supported. Supported providers are "+strings.Join(issuerProviders, ", ")+".")
	}
	if len(p.Credentials)+len(p.OrgDetails) > 16<<10 {
		return nil, badParameter(op, "The issuer is too large.")
	}
	now := s.Now().Unix()
	var out model.CertificateIssuer
	err := s.Store.UpdateCertificateIssuer(ctx, v.Name, name, func(is *model.CertificateIssuer, exists bool) (bool, error) {
		if update && !exists {
			return false, issuerNotFound(op, name)
		}
		if !exists || !update {
			created := now
			if exists {
				created = is.Created
			}
			*is = model.CertificateIssuer{Name: name, Enabled: true, Created: created}
		}
		if p.Provider != "" {
			is.Provider = canonicalProvider(p.Provider)
		}
		if p.Credentials != nil {
			is.Credentials = p.Credentials
		}
		if p.OrgDetails != nil {
			is.OrgDetails = p.OrgDetails
		}
		if p.Enabled != nil {
			is.Enabled = *p.Enabled
		}
		is.Updated = now
		out = *is
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
}

// GetCertificateIssuer returns one issuer.
func (s *Service) GetCertificateIssuer(ctx context.Context, v *model.Vault, name string) (*model.CertificateIssuer, error) {
	const op errs.Op = "vaults.GetCertificateIssuer"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	is, err := s.Store.GetCertificateIssuer(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist {
		return nil, issuerNotFound(op, name)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return is, nil
}

// ListCertificateIssuers returns the vault's issuers.
func (s *Service) ListCertificateIssuers(ctx context.Context, v *model.Vault) ([]model.CertificateIssuer, error) {
	out, err := s.Store.ListCertificateIssuers(ctx, v.Name)
	if err != nil {
		return nil, errs.E(errs.Op("vaults.ListCertificateIssuers"), err)
	}
	return out, nil
}

// DeleteCertificateIssuer removes an issuer and returns it.
func (s *Service) DeleteCertificateIssuer(ctx context.Context, v *model.Vault, name string) (*model.CertificateIssuer, error) {
	const op errs.Op = "vaults.DeleteCertificateIssuer"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	var out model.CertificateIssuer
	err := s.Store.UpdateCertificateIssuer(ctx, v.Name, name, func(is *model.CertificateIssuer, exists bool) (bool, error) {
		if !exists {
			return false, issuerNotFound(op, name)
		}
		out = *is
		return false, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
}

// managedByKeyVault is Azure's refusal to change a certificate's key or
// secret through the keys or secrets API (inner is SecretManagedByKeyVault
// or KeyManagedByKeyVault). Azure's current text names the object kind,
// "secret" in lower case but "Key" capitalised: both spellings are copied
// from Key Vault answers seen in the field (a secret delete, a key backup).
// Older Key Vault builds said "... is not allowed as this object's lifetime
// is managed by Key Vault." instead; clients key on the codes, not the text.
func managedByKeyVault(op errs.Op, operation, inner string) error {
	noun := "secret"
	if inner == "KeyManagedByKeyVault" {
		noun = "Key"
	}
	return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner(inner), errs.Msg(
		"Operation \""+operation+"\" is not allowed on this "+noun+", since it is associated with a certificate. "+
			"Perform the operation on the corresponding certificate. For more information refer to "+
			"https://docs.microsoft.com/en-us/azure/key-vault/certificates/about-certificates#composition-of-a-certificate"))
}

// refuseManagedKey refuses a new key version through the keys API for a
// name whose key belongs to a certificate.
func (s *Service) refuseManagedKey(ctx context.Context, op errs.Op, v *model.Vault, name, operation string) error {
	k, err := s.Store.GetKeyHead(ctx, v.Name, name)
	switch {
	case errs.KindOf(err) == errs.NotExist:
		return nil
	case err != nil:
		return errs.E(op, err)
	case len(k.Versions) > 0 && k.Latest().Managed:
		return managedByKeyVault(op, operation, "KeyManagedByKeyVault")
	}
	return nil
}

// PurgeExpiredCertificates permanently removes soft-deleted certificate
// records whose scheduled purge date has passed, a page at a time (see
// purgeExpired); their keys and secrets are purged by their own sweeps on
// the same schedule.
func (s *Service) PurgeExpiredCertificates(ctx context.Context) (int, error) {
	now := s.Now().Unix()
	sweep := s.certLifecycle()
	return s.inLiveVaults(ctx, func(vault string) (int, error) { return sweep.purgeExpired(ctx, vault, now) })
}

// reusableKey is the latest version's private key when the policy says
// reuse_key and that key still fits the policy's type and size; else nil,
// and a new key is generated.
func (s *Service) reusableKey(ctx context.Context, v *model.Vault, name string, kp *wire.CertKeyProperties) (crypto.Signer, error) {
	if kp.ReuseKey == nil || !*kp.ReuseKey {
		return nil, nil
	}
	c, err := s.Store.GetCertificateHead(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	latest := c.Latest()
	if latest == nil || c.Deleted != nil {
		return nil, nil
	}
	der, err := s.Store.GetKeyMaterial(ctx, v.Name, name, latest.Version)
	if err != nil {
		return nil, err
	}
	priv, err := keys.Parse(der)
	if err != nil {
		return nil, errs.E(errs.Internal, err)
	}
	if keys.Size(priv) != *kp.KeySize || (keys.BaseKty(kp.Kty) == keys.RSA) != isRSA(priv) {
		return nil, nil
	}
	return priv, nil
}

func isRSA(priv crypto.Signer) bool {
	_, ok := priv.Public().(*rsa.PublicKey)
	return ok
}
