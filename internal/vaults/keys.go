package vaults

import (
	"context"
	"crypto"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/wire"
)

// MaxReleasePolicyBytes bounds a stored release policy.
const MaxReleasePolicyBytes = 16 << 10

// AuthorizeKey checks that caller may perform a key action on the named key
// (or the vault's keys, when name is empty), under the vault's permission
// model. Only key permissions count: secret permissions grant nothing here.
func (s *Service) AuthorizeKey(ctx context.Context, v *model.Vault, c Caller, a policy.Action, name string) error {
	return s.authorize(ctx, "vaults.AuthorizeKey", v, c, a, keyKind, name)
}

func keyNotFound(op errs.Op, name, version string) error { return keyKind.notFound(op, name, version) }

func keyDeletedButRecoverable(op errs.Op, name string) error {
	return keyKind.deletedButRecoverable(op, name)
}

// KeyParams are the parts of a create or import request common to both.
type KeyParams struct {
	KeyOps        []string // nil: the key type's defaults
	Tags          map[string]string
	Attributes    Attributes
	Exportable    *bool
	ReleasePolicy json.RawMessage
}

// CreateKeyParams is a create request.
type CreateKeyParams struct {
	KeyParams
	Kty            string
	Size, Exponent int
	Crv            string
}

func (s *Service) newKeyVersion(op errs.Op, kty string, priv crypto.Signer, p KeyParams) (model.KeyVersion, error) {
	if err := validateTags(op, p.Tags); err != nil {
		return model.KeyVersion{}, err
	}
	ops := keys.DefaultOps(kty)
	if p.KeyOps != nil {
		var err error
		if ops, err = keys.NormalizeOps(p.KeyOps); err != nil {
			return model.KeyVersion{}, err
		}
	}
	if len(p.ReleasePolicy) > MaxReleasePolicyBytes {
		return model.KeyVersion{}, badParameter(op, "The release policy is too large.")
	}
	pub := keys.Public(priv, kty)
	now := s.Now().Unix()
	ver := model.KeyVersion{
		Version: NewVersionID(), Kty: kty, KeyOps: ops, N: pub.N, E: pub.E, Crv: pub.Crv, X: pub.X, Y: pub.Y,
		Tags: p.Tags, Enabled: true, NotBefore: p.Attributes.NotBefore, Expires: p.Attributes.Expires,
		Created: now, Updated: now, ReleasePolicy: p.ReleasePolicy,
	}
	if p.Attributes.Enabled != nil {
		ver.Enabled = *p.Attributes.Enabled
	}
	if p.Exportable != nil {
		ver.Exportable = *p.Exportable
	}
	return ver, nil
}

// Secure key release needs a premium vault and an HSM-protected key, as in
// Key Vault. The AKV.SKR codes and texts of 1001, 1004, 1005 and 1020 are
// Key Vault's own (seen in its answers); 1006's code is Key Vault's, its
// text Coffer's (Key Vault's is not published). The hardware-key refusal's
// text is Key Vault's; its status 403 as reported by Azure PowerShell.
var (
	errHardwareOnStandard = errs.E(errs.Permission, errs.Code("Forbidden"), errs.Msg("Hardware key operation not allowed on standard vault"))
	errExportableStandard = errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg("AKV.SKR.1001: The exportable attribute is only supported with premium vaults and API version >= '7.3-preview'."))
	errExportableNoPolicy = errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg("AKV.SKR.1004: Exportable keys must have release policy."))
	errPolicyNotExport    = errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg("AKV.SKR.1005: Non-exportable keys must not have release policy."))
	errExportableSoftware = errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg("AKV.SKR.1006: Only HSM-protected keys (RSA-HSM, EC-HSM) can be exportable."))
	errImmutablePolicy    = errs.E(errs.Invalid, errs.Code("BadParameter"), errs.Msg("AKV.SKR.1020: Immutable Key Release Policy cannot be modified."))
)

// premium reports whether the vault's SKU allows HSM-protected keys.
func premium(v *model.Vault) bool { return strings.EqualFold(v.SKU, "premium") }

// hasPolicy reports whether a request carries a release policy.
func hasPolicy(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t != "" && t != "null"
}

// checkKeyProtection applies the vault's SKU and the secure-key-release
// rules to a new key of type kty.
func checkKeyProtection(op errs.Op, v *model.Vault, kty string, p KeyParams) error {
	hsm := strings.HasSuffix(kty, "-HSM")
	exportable := p.Exportable != nil && *p.Exportable
	switch {
	case hsm && !premium(v):
		return errs.E(op, errHardwareOnStandard)
	case exportable && !premium(v):
		return errs.E(op, errExportableStandard)
	case exportable && !hasPolicy(p.ReleasePolicy):
		return errs.E(op, errExportableNoPolicy)
	case !exportable && hasPolicy(p.ReleasePolicy):
		return errs.E(op, errPolicyNotExport)
	case exportable && !hsm:
		return errs.E(op, errExportableSoftware)
	}
	return nil
}

// immutablePolicy reports whether a stored release policy says immutable.
func immutablePolicy(raw json.RawMessage) bool {
	var pol struct {
		Immutable bool `json:"immutable"`
	}
	return hasPolicy(raw) && json.Unmarshal(raw, &pol) == nil && pol.Immutable
}

// addKeyVersion stores the version and its material in one transaction
// (creating the key), so a failed request stores nothing. The key it
// returns holds the new version only.
func (s *Service) addKeyVersion(ctx context.Context, op errs.Op, v *model.Vault, name string, ver model.KeyVersion, priv crypto.Signer, mustExist bool) (*model.Key, *model.KeyVersion, error) {
	der, err := keys.Marshal(priv)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	out, err := s.Store.AddKeyVersion(ctx, v.Name, name, ver, der, func(k *model.Key, exists bool) error {
		if exists && k.Deleted != nil {
			return keyDeletedButRecoverable(op, k.Name)
		}
		if !exists && mustExist {
			return keyNotFound(op, name, "")
		}
		return nil
	})
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	s.keyCache().put(v.Name, name, ver.Version, priv)
	return out, out.Latest(), nil
}

// CreateKey generates a key pair as a new version (creating the key).
func (s *Service) CreateKey(ctx context.Context, v *model.Vault, name string, p CreateKeyParams) (*model.Key, *model.KeyVersion, error) {
	const op errs.Op = "vaults.CreateKey"
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	if p.Kty == "" {
		return nil, nil, badParameter(op, "The parameter 'kty' is required.")
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, nil, err
	}
	if p.KeyOps != nil {
		if _, err := keys.NormalizeOps(p.KeyOps); err != nil {
			return nil, nil, errs.E(op, err)
		}
	}
	if keys.BaseKty(p.Kty) != "" {
		if err := checkKeyProtection(op, v, p.Kty, p.KeyParams); err != nil {
			return nil, nil, err
		}
	}
	priv, err := keys.Generate(p.Kty, p.Size, p.Exponent, p.Crv)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	ver, err := s.newKeyVersion(op, p.Kty, priv, p.KeyParams)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	if err := s.refuseManagedKey(ctx, op, v, name, "create"); err != nil {
		return nil, nil, err
	}
	return s.addKeyVersion(ctx, op, v, name, ver, priv, false)
}

// ImportKey stores an imported JWK (with private parts) as a new version.
func (s *Service) ImportKey(ctx context.Context, v *model.Vault, name string, jwk *wire.JSONWebKey, hsm bool, p KeyParams) (*model.Key, *model.KeyVersion, error) {
	const op errs.Op = "vaults.ImportKey"
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	if jwk == nil {
		return nil, nil, badParameter(op, "The parameter 'key' is required.")
	}
	priv, err := keys.FromJWK(jwk)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	kty := jwk.Kty
	if hsm && !strings.HasSuffix(kty, "-HSM") {
		kty += "-HSM"
	}
	if p.KeyOps == nil && jwk.KeyOps != nil {
		p.KeyOps = jwk.KeyOps
	}
	if err := checkKeyProtection(op, v, kty, p); err != nil {
		return nil, nil, err
	}
	ver, err := s.newKeyVersion(op, kty, priv, p)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	if err := s.refuseManagedKey(ctx, op, v, name, "import"); err != nil {
		return nil, nil, err
	}
	return s.addKeyVersion(ctx, op, v, name, ver, priv, false)
}

// lookupKey returns a live key, holding its latest version only, and one
// version (latest when version is empty): the head and at most one
// version record are read.
func (s *Service) lookupKey(ctx context.Context, op errs.Op, v *model.Vault, name, version string) (*model.Key, *model.KeyVersion, error) {
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	k, ver, err := s.Store.GetKeyVersion(ctx, v.Name, name, version)
	if errs.KindOf(err) == errs.NotExist || (err == nil && k.Deleted != nil) {
		return nil, nil, keyNotFound(op, name, version)
	}
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	return k, ver, nil
}

// lookupKeyAll returns a live key with every version, oldest first.
func (s *Service) lookupKeyAll(ctx context.Context, op errs.Op, v *model.Vault, name string) (*model.Key, error) {
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	k, err := s.Store.GetKey(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (k.Deleted != nil || len(k.Versions) == 0)) {
		return nil, keyNotFound(op, name, "")
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return k, nil
}

// GetKey returns a live key with every version and one of them (latest
// when version is empty). Disabled versions are readable: only their use
// is refused. It reads every version; GetKeyVersion does not.
func (s *Service) GetKey(ctx context.Context, v *model.Vault, name, version string) (*model.Key, *model.KeyVersion, error) {
	const op errs.Op = "vaults.GetKey"
	k, err := s.lookupKeyAll(ctx, op, v, name)
	if err != nil {
		return nil, nil, err
	}
	ver := k.Latest()
	if version != "" {
		if ver = k.Version(version); ver == nil {
			return nil, nil, keyNotFound(op, name, version)
		}
	}
	return k, ver, nil
}

// GetKeyVersion is GetKey reading only the head and the one version: the
// key it returns holds its latest version only.
func (s *Service) GetKeyVersion(ctx context.Context, v *model.Vault, name, version string) (*model.Key, *model.KeyVersion, error) {
	return s.lookupKey(ctx, "vaults.GetKey", v, name, version)
}

// KeyUpdateParams is an update request.
type KeyUpdateParams struct {
	KeyOps        *[]string
	Tags          map[string]string
	TagsSet       bool
	Attributes    Attributes
	ReleasePolicy json.RawMessage
}

// UpdateKey changes key_ops, attributes or tags of one version.
func (s *Service) UpdateKey(ctx context.Context, v *model.Vault, name, version string, p KeyUpdateParams) (*model.Key, *model.KeyVersion, error) {
	return s.updateKey(ctx, v, name, version, p, false)
}

// updateKey is UpdateKey; managedOK lets a certificate update its own key,
// which the keys API may not.
func (s *Service) updateKey(ctx context.Context, v *model.Vault, name, version string, p KeyUpdateParams, managedOK bool) (*model.Key, *model.KeyVersion, error) {
	const op errs.Op = "vaults.UpdateKey"
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, nil, err
	}
	var ops []string
	if p.KeyOps != nil {
		var err error
		if ops, err = keys.NormalizeOps(*p.KeyOps); err != nil {
			return nil, nil, errs.E(op, err)
		}
	}
	if len(p.ReleasePolicy) > MaxReleasePolicyBytes {
		return nil, nil, badParameter(op, "The release policy is too large.")
	}
	k, ver, err := s.Store.UpdateKeyVersion(ctx, v.Name, name, version, func(k *model.Key, ver *model.KeyVersion, exists bool) error {
		if !exists || k.Deleted != nil || ver == nil {
			return keyNotFound(op, name, version)
		}
		if ver.Managed && !managedOK {
			return managedByKeyVault(op, "update", "KeyManagedByKeyVault")
		}
		if p.KeyOps != nil {
			ver.KeyOps = ops
		}
		if p.TagsSet {
			ver.Tags = p.Tags
		}
		if p.Attributes.Enabled != nil {
			ver.Enabled = *p.Attributes.Enabled
		}
		if p.Attributes.NotBefore != nil {
			ver.NotBefore = p.Attributes.NotBefore
		}
		if p.Attributes.Expires != nil {
			ver.Expires = p.Attributes.Expires
		}
		if hasPolicy(p.ReleasePolicy) {
			if !ver.Exportable {
				return errPolicyNotExport
			}
			if immutablePolicy(ver.ReleasePolicy) {
				return errImmutablePolicy
			}
			ver.ReleasePolicy = p.ReleasePolicy
		}
		ver.Updated = s.Now().Unix()
		return nil
	})
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	return k, ver, nil
}

// DeleteKey deletes every version: soft delete when the vault has it.
func (s *Service) DeleteKey(ctx context.Context, v *model.Vault, name string) (*model.Key, error) {
	return s.deleteKey(ctx, v, name, false)
}

// deleteKey is DeleteKey; managedOK lets a certificate delete its own key,
// which the keys API may not.
func (s *Service) deleteKey(ctx context.Context, v *model.Vault, name string, managedOK bool) (*model.Key, error) {
	return s.keyLifecycle().delete(ctx, "vaults.DeleteKey", s, v, name, func(k *model.Key) error {
		if !managedOK && len(k.Versions) > 0 && k.Latest().Managed {
			return managedByKeyVault("vaults.DeleteKey", "delete", "KeyManagedByKeyVault")
		}
		return nil
	})
}

// ListKeys returns the live keys (deleted=false) or the soft-deleted ones.
func (s *Service) ListKeys(ctx context.Context, v *model.Vault, deleted bool) ([]model.Key, error) {
	all, err := s.Store.ListKeys(ctx, v.Name)
	if err != nil {
		return nil, errs.E(errs.Op("vaults.ListKeys"), err)
	}
	out := all[:0]
	for _, k := range all {
		if (k.Deleted != nil) == deleted {
			out = append(out, k)
		}
	}
	return out, nil
}

// ListKeysPage returns up to max live keys (deleted=false) or soft-deleted
// ones whose upper-cased name sorts after after, in that order, each with
// its latest version only, and whether more follow. Its cost is that of
// the page.
func (s *Service) ListKeysPage(ctx context.Context, v *model.Vault, after string, max int, deleted bool) ([]model.Key, bool, error) {
	ks, more, err := s.Store.ListKeysPage(ctx, v.Name, after, max, deleted)
	if err != nil {
		return nil, false, errs.E(errs.Op("vaults.ListKeysPage"), err)
	}
	return ks, more, nil
}

// ListKeyVersions returns a live key's versions, newest first.
func (s *Service) ListKeyVersions(ctx context.Context, v *model.Vault, name string) (*model.Key, []model.KeyVersion, error) {
	k, err := s.lookupKeyAll(ctx, "vaults.ListKeyVersions", v, name)
	if err != nil {
		return nil, nil, err
	}
	return k, newestFirst(k.Versions, func(v *model.KeyVersion) int64 { return v.Created }), nil
}

// GetDeletedKey returns a soft-deleted key.
func (s *Service) GetDeletedKey(ctx context.Context, v *model.Vault, name string) (*model.Key, error) {
	return s.keyLifecycle().getDeleted(ctx, "vaults.GetDeletedKey", v, name)
}

// PurgeDeletedKey permanently removes a soft-deleted key and its material.
func (s *Service) PurgeDeletedKey(ctx context.Context, v *model.Vault, name string) error {
	_, err := s.keyLifecycle().purge(ctx, "vaults.PurgeDeletedKey", v, name)
	return err
}

// RecoverDeletedKey undoes a soft delete, restoring every version.
func (s *Service) RecoverDeletedKey(ctx context.Context, v *model.Vault, name string) (*model.Key, error) {
	return s.keyLifecycle().recover(ctx, "vaults.RecoverDeletedKey", v, name)
}

// privateKey loads (or takes from the cache) a version's private key.
func (s *Service) privateKey(ctx context.Context, op errs.Op, v *model.Vault, k *model.Key, ver *model.KeyVersion) (crypto.Signer, error) {
	if priv := s.keyCache().get(v.Name, k.Name, ver.Version); priv != nil {
		return priv, nil
	}
	der, err := s.Store.GetKeyMaterial(ctx, v.Name, k.Name, ver.Version)
	if errs.KindOf(err) == errs.NotExist { // purged between the two reads
		return nil, keyNotFound(op, k.Name, ver.Version)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	priv, err := keys.Parse(der)
	if err != nil {
		return nil, errs.E(op, err)
	}
	s.keyCache().put(v.Name, k.Name, ver.Version, priv)
	return priv, nil
}

// keyCache holds parsed private keys by vault/name/version. A version's
// material never changes (a new key gets a new random version id), so
// entries need no invalidation, only a bound.
type keyCache struct {
	mu sync.Mutex
	m  map[string]crypto.Signer
}

const keyCacheMax = 1024

// keyCaches maps a Service (weakly, so Service needs no new field and a
// dropped Service does not keep private keys alive) to its cache.
var keyCaches sync.Map // weak.Pointer[Service] → *keyCache

func (s *Service) keyCache() *keyCache {
	wp := weak.Make(s)
	if c, ok := keyCaches.Load(wp); ok {
		return c.(*keyCache)
	}
	c, loaded := keyCaches.LoadOrStore(wp, &keyCache{m: map[string]crypto.Signer{}})
	if !loaded {
		runtime.AddCleanup(s, func(wp weak.Pointer[Service]) { keyCaches.Delete(wp) }, wp)
	}
	return c.(*keyCache)
}

func cacheKey(vault, name, version string) string {
	return strings.ToLower(vault) + "/" + strings.ToUpper(name) + "/" + strings.ToLower(version)
}

func (c *keyCache) get(vault, name, version string) crypto.Signer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[cacheKey(vault, name, version)]
}

func (c *keyCache) put(vault, name, version string, priv crypto.Signer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= keyCacheMax {
		clear(c.m)
	}
	c.m[cacheKey(vault, name, version)] = priv
}

// PurgeExpiredKeys permanently removes soft-deleted keys whose scheduled
// purge date has passed, in live vaults (a deleted vault's keys go with
// it), a page at a time (see purgeExpired). It returns how many keys and
// certificates it removed.
func (s *Service) PurgeExpiredKeys(ctx context.Context) (int, error) {
	now := s.Now().Unix()
	sweep := s.keyLifecycle()
	n, err := s.inLiveVaults(ctx, func(vault string) (int, error) { return sweep.purgeExpired(ctx, vault, now) })
	if err != nil {
		return n, err
	}
	// Certificate records expire with their keys (each certificate has
	// one, deleted and scheduled together), so the same sweep ends them.
	c, err := s.PurgeExpiredCertificates(ctx)
	return n + c, err
}
