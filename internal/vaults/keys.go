package vaults

import (
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
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
	const op errs.Op = "vaults.AuthorizeKey"
	loc := cmp.Or(v.Location, Location)
	if v.EnableRbacAuthorization {
		assignments, err := s.Store.ListRoleAssignments(ctx)
		if err != nil {
			return errs.E(op, err)
		}
		scope := strings.ToLower(v.ResourceID())
		if name != "" {
			scope += "/keys/" + strings.ToLower(name)
		}
		if policy.AllowedByRBAC(assignments, c, scope, a.DataAction) {
			return nil
		}
		msg := fmt.Sprintf("Caller is not authorized to perform action on resource.\r\n"+
			"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
			"Caller: appid=%s;oid=%s;iss=https://sts.windows.net/%s/\r\n"+
			"Action: '%s'\r\n"+
			"Resource: '%s'\r\n"+
			"Assignment: (not found)\r\n"+
			"DenyAssignmentId: null\r\n"+
			"DecisionReason: 'DeniedWithNoValidRBAC' \r\n"+
			"Vault: %s;location=%s\r\n", c.AppID, c.ObjectID, c.TenantID, a.DataAction, scope, v.Name, loc)
		return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("ForbiddenByRbac"), errs.Msg(msg))
	}
	if policy.AllowedKeyByAccessPolicy(v.AccessPolicies, c, a.Permission) {
		return nil
	}
	msg := fmt.Sprintf("The user, group or application 'appid=%s;oid=%s;iss=https://sts.windows.net/%s/' does not have keys %s permission on key vault '%s;location=%s'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
		c.AppID, c.ObjectID, c.TenantID, a.Permission, v.Name, loc)
	return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("AccessDenied"), errs.Msg(msg))
}

func keyNotFound(op errs.Op, name, version string) error {
	id := name
	if version != "" {
		id += "/" + version
	}
	return errs.E(op, errs.NotExist, errs.Code("KeyNotFound"), errs.Msg(fmt.Sprintf(
		"A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", id)))
}

func deletedKeyNotFound(op errs.Op, name string) error {
	return errs.E(op, errs.NotExist, errs.Code("KeyNotFound"), errs.Msg("Deleted Key not found: "+name))
}

func keyDeletedButRecoverable(op errs.Op, name string) error {
	return errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Inner("ObjectIsDeletedButRecoverable"), errs.Msg(fmt.Sprintf(
		"Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", name)))
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
	if p.Exportable != nil && *p.Exportable && len(p.ReleasePolicy) == 0 {
		return model.KeyVersion{}, badParameter(op, "Exportable keys must have a release policy.")
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
		if len(p.ReleasePolicy) > 0 {
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
	const op errs.Op = "vaults.DeleteKey"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	now := s.Now()
	var out model.Key
	err := s.Store.UpdateKeyHead(ctx, v.Name, name, func(k *model.Key, exists bool) (bool, error) {
		if !exists || k.Deleted != nil {
			return exists, keyNotFound(op, name, "")
		}
		if !managedOK && len(k.Versions) > 0 && k.Latest().Managed {
			return true, managedByKeyVault(op, "delete", "KeyManagedByKeyVault")
		}
		out = *k
		if !v.EnableSoftDelete {
			return false, nil
		}
		k.Deleted = &model.DeletedInfo{
			DeletedDate:        now.Unix(),
			ScheduledPurgeDate: now.Add(time.Duration(v.RecoverableDays()) * 24 * time.Hour).Unix(),
		}
		out = *k
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	if !v.EnableSoftDelete {
		if err := s.Store.DeleteKeyMaterials(ctx, v.Name, out.Name); err != nil {
			return nil, errs.E(op, err)
		}
	}
	return &out, nil
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

// ListKeyVersions returns a live key's versions, newest first.
func (s *Service) ListKeyVersions(ctx context.Context, v *model.Vault, name string) (*model.Key, []model.KeyVersion, error) {
	k, err := s.lookupKeyAll(ctx, "vaults.ListKeyVersions", v, name)
	if err != nil {
		return nil, nil, err
	}
	vers := make([]model.KeyVersion, len(k.Versions))
	for i := range k.Versions {
		vers[len(vers)-1-i] = k.Versions[i]
	}
	sort.SliceStable(vers, func(i, j int) bool { return vers[i].Created > vers[j].Created })
	return k, vers, nil
}

// GetDeletedKey returns a soft-deleted key.
func (s *Service) GetDeletedKey(ctx context.Context, v *model.Vault, name string) (*model.Key, error) {
	const op errs.Op = "vaults.GetDeletedKey"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	k, err := s.Store.GetKeyHead(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && k.Deleted == nil) {
		return nil, deletedKeyNotFound(op, name)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return k, nil
}

// PurgeDeletedKey permanently removes a soft-deleted key and its material.
func (s *Service) PurgeDeletedKey(ctx context.Context, v *model.Vault, name string) error {
	const op errs.Op = "vaults.PurgeDeletedKey"
	if !ValidSecretName(name) {
		return invalidName(op, name)
	}
	err := s.Store.UpdateKeyHead(ctx, v.Name, name, func(k *model.Key, exists bool) (bool, error) {
		if !exists || k.Deleted == nil {
			return exists, deletedKeyNotFound(op, name)
		}
		if v.EnablePurgeProtection {
			return true, errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("ForbiddenByPolicy"), errs.Msg(fmt.Sprintf(
				"Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: %s;location=%s", v.Name, cmp.Or(v.Location, Location))))
		}
		return false, nil
	})
	if err != nil {
		return errs.E(op, err)
	}
	if err := s.Store.DeleteKeyMaterials(ctx, v.Name, name); err != nil {
		return errs.E(op, err)
	}
	return nil
}

// RecoverDeletedKey undoes a soft delete, restoring every version.
func (s *Service) RecoverDeletedKey(ctx context.Context, v *model.Vault, name string) (*model.Key, error) {
	const op errs.Op = "vaults.RecoverDeletedKey"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	var out model.Key
	err := s.Store.UpdateKeyHead(ctx, v.Name, name, func(k *model.Key, exists bool) (bool, error) {
		if !exists || k.Deleted == nil {
			return exists, deletedKeyNotFound(op, name)
		}
		k.Deleted = nil
		out = *k
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
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
// it). It returns how many keys it removed.
func (s *Service) PurgeExpiredKeys(ctx context.Context) (int, error) {
	vs, err := s.Store.ListVaults(ctx)
	if err != nil {
		return 0, err
	}
	now := s.Now().Unix()
	n := 0
	for i := range vs {
		if vs[i].Deleted != nil {
			continue
		}
		all, err := s.Store.ListKeys(ctx, vs[i].Name)
		if err != nil {
			return n, err
		}
		for _, k := range all {
			if k.Deleted == nil || k.Deleted.ScheduledPurgeDate > now {
				continue
			}
			purged := false
			err := s.Store.UpdateKeyHead(ctx, vs[i].Name, k.Name, func(cur *model.Key, exists bool) (bool, error) {
				purged = exists && cur.Deleted != nil && cur.Deleted.ScheduledPurgeDate <= now
				return !purged && exists, nil
			})
			if err != nil {
				return n, err
			}
			if !purged {
				continue
			}
			if err := s.Store.DeleteKeyMaterials(ctx, vs[i].Name, k.Name); err != nil {
				return n, err
			}
			n++
		}
	}
	// Certificate records expire with their keys (each certificate has
	// one, deleted and scheduled together), so the same sweep ends them.
	c, err := s.PurgeExpiredCertificates(ctx)
	return n + c, err
}
