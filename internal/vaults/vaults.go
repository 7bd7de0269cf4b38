// Package vaults implements Key Vault semantics over the store: secrets and
// their versions, attributes, soft delete, recovery, purge, backup and
// restore, and the authorization of each operation through policy.
//
// Every operation on one secret name is a single atomic read-modify-write
// of that name's record, so concurrent writers never lose versions and a
// failed validation stores nothing. Errors carry Key Vault's wire codes and
// messages (azure-wire-spec §1.9) so transports can render them verbatim.
package vaults

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/store"
)

// Limits of the secrets API (azure-wire-spec §1.10).
const (
	MaxValueBytes       = 25 * 1024
	MaxContentTypeChars = 255
	MaxTags             = 15
	MaxTagNameChars     = 512
	MaxTagValueChars    = 512
	MaxVersionsInBackup = 500
)

// Location is reported in access-denied messages.
const Location = "local"

var secretNameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// ValidSecretName reports whether name satisfies Key Vault's object name rule.
func ValidSecretName(name string) bool { return secretNameRE.MatchString(name) }

// Service implements secret operations.
type Service struct {
	Store *store.Store
	Now   func() time.Time
	// Backup seals backup blobs (AES-256-GCM with a per-instance key).
	Backup cipher.AEAD
}

// Caller is who performs an operation.
type Caller = policy.Caller

// OpenVault returns the live vault with the given name.
func (s *Service) OpenVault(ctx context.Context, name string) (*model.Vault, error) {
	const op errs.Op = "vaults.OpenVault"
	v, err := s.Store.GetVault(ctx, name)
	if err != nil || v.Deleted != nil {
		return nil, errs.E(op, errs.NotExist, errs.Code("VaultNotFound"),
			errs.Msg(fmt.Sprintf("The vault '%s' was not found.", name)), err)
	}
	return v, nil
}

// Authorize checks that caller may perform action on the named secret (or
// the vault, when secret is empty), under the vault's permission model.
func (s *Service) Authorize(ctx context.Context, v *model.Vault, c Caller, a policy.Action, secret string) error {
	return s.authorize(ctx, "vaults.Authorize", v, c, a, secretKind, secret)
}

// Attributes are the writable secret attributes; nil fields are unchanged
// (on update) or defaulted (on set).
type Attributes struct {
	Enabled   *bool
	NotBefore *int64
	Expires   *int64
}

// SetParams is a SetSecret request.
type SetParams struct {
	Value       *string
	ContentType *string
	Tags        map[string]string
	Attributes  Attributes
}

// UpdateParams is an UpdateSecret request.
type UpdateParams struct {
	ContentType *string
	Tags        map[string]string
	TagsSet     bool // tags present in the request (even if empty)
	Attributes  Attributes
}

func badParameter(op errs.Op, msg string) error {
	return errs.E(op, errs.Invalid, errs.Code("BadParameter"), errs.Msg(msg))
}

func invalidName(op errs.Op, name string) error {
	return badParameter(op, "The request URI contains an invalid name: "+name)
}

func secretNotFound(op errs.Op, name, version string) error {
	return secretKind.notFound(op, name, version)
}

func deletedButRecoverable(op errs.Op, name string) error {
	return secretKind.deletedButRecoverable(op, name)
}

func validateTags(op errs.Op, tags map[string]string) error {
	if len(tags) > MaxTags {
		return badParameter(op, fmt.Sprintf("Tags exceed the maximum of %d per secret.", MaxTags))
	}
	for k, v := range tags {
		if len(k) == 0 || len([]rune(k)) > MaxTagNameChars {
			return badParameter(op, fmt.Sprintf("Tag names must be between 1 and %d characters.", MaxTagNameChars))
		}
		if len([]rune(v)) > MaxTagValueChars {
			return badParameter(op, fmt.Sprintf("Tag values must be at most %d characters.", MaxTagValueChars))
		}
	}
	return nil
}

func validateContentType(op errs.Op, ct *string) error {
	if ct != nil && len([]rune(*ct)) > MaxContentTypeChars {
		return badParameter(op, fmt.Sprintf("The content type must be at most %d characters.", MaxContentTypeChars))
	}
	return nil
}

// NewVersionID returns a version id: 32 lower-case hex characters.
func NewVersionID() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

// SetSecret adds a new version (creating the secret if needed) and makes it latest.
func (s *Service) SetSecret(ctx context.Context, v *model.Vault, name string, p SetParams) (*model.Secret, *model.SecretVersion, error) {
	const op errs.Op = "vaults.SetSecret"
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	if p.Value == nil {
		return nil, nil, badParameter(op, "The parameter 'value' is required.")
	}
	if len(*p.Value) > MaxValueBytes {
		return nil, nil, badParameter(op, fmt.Sprintf("Secret is beyond the maximum permitted length of %d characters.", MaxValueBytes))
	}
	if err := validateContentType(op, p.ContentType); err != nil {
		return nil, nil, err
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, nil, err
	}
	now := s.Now().Unix()
	ver := model.SecretVersion{
		Version: NewVersionID(), Value: *p.Value, Tags: p.Tags, Enabled: true,
		NotBefore: p.Attributes.NotBefore, Expires: p.Attributes.Expires, Created: now, Updated: now,
	}
	if p.ContentType != nil {
		ver.ContentType = *p.ContentType
	}
	if p.Attributes.Enabled != nil {
		ver.Enabled = *p.Attributes.Enabled
	}
	// Value, version and head go in one transaction: an interrupted SET
	// leaves nothing behind, and it costs one commit.
	out, err := s.Store.AddSecretVersion(ctx, v.Name, name, ver, ver.Value, func(sec *model.Secret, exists bool) error {
		if exists && sec.Deleted != nil {
			return deletedButRecoverable(op, sec.Name)
		}
		if exists && len(sec.Versions) > 0 && sec.Latest().Managed {
			return managedByKeyVault(op, "set", "SecretManagedByKeyVault")
		}
		return nil
	})
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	latest := out.Latest()
	latest.Value = ver.Value
	return out, latest, nil
}

// GetSecret returns a live secret and the requested version (latest when
// version is empty). A disabled version is Forbidden/SecretDisabled.
func (s *Service) GetSecret(ctx context.Context, v *model.Vault, name, version string) (*model.Secret, *model.SecretVersion, error) {
	const op errs.Op = "vaults.GetSecret"
	sec, ver, err := s.lookup(ctx, op, v, name, version)
	if err != nil {
		return nil, nil, err
	}
	if !ver.Enabled {
		return nil, nil, errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("SecretDisabled"),
			errs.Msg("Operation get is not allowed on a disabled secret."))
	}
	value, err := s.Store.GetSecretValue(ctx, v.Name, sec.Name, ver.Version)
	if errs.KindOf(err) == errs.NotExist { // purged between the two reads
		return nil, nil, secretNotFound(op, name, version)
	}
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	ver.Value = value
	return sec, ver, nil
}

// lookup reads a live secret's head and one version (latest when version
// is empty), never the other versions.
func (s *Service) lookup(ctx context.Context, op errs.Op, v *model.Vault, name, version string) (*model.Secret, *model.SecretVersion, error) {
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	sec, ver, err := s.Store.GetSecretVersion(ctx, v.Name, name, version)
	if errs.KindOf(err) == errs.NotExist || (err == nil && sec.Deleted != nil) {
		return nil, nil, secretNotFound(op, name, version)
	}
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	return sec, ver, nil
}

// lookupAll reads a live secret with every version.
func (s *Service) lookupAll(ctx context.Context, op errs.Op, v *model.Vault, name string) (*model.Secret, error) {
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	sec, err := s.Store.GetSecret(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && (sec.Deleted != nil || len(sec.Versions) == 0)) {
		return nil, secretNotFound(op, name, "")
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return sec, nil
}

// UpdateSecret changes the attributes, content type or tags of one version
// (latest when version is empty). Allowed on disabled versions.
func (s *Service) UpdateSecret(ctx context.Context, v *model.Vault, name, version string, p UpdateParams) (*model.Secret, *model.SecretVersion, error) {
	return s.updateSecret(ctx, v, name, version, p, false)
}

// updateSecret is UpdateSecret; managedOK lets a certificate update its own
// secret, which the secrets API may not.
func (s *Service) updateSecret(ctx context.Context, v *model.Vault, name, version string, p UpdateParams, managedOK bool) (*model.Secret, *model.SecretVersion, error) {
	const op errs.Op = "vaults.UpdateSecret"
	if !ValidSecretName(name) {
		return nil, nil, invalidName(op, name)
	}
	if err := validateContentType(op, p.ContentType); err != nil {
		return nil, nil, err
	}
	if err := validateTags(op, p.Tags); err != nil {
		return nil, nil, err
	}
	sec, ver, err := s.Store.UpdateSecretVersion(ctx, v.Name, name, version, func(sec *model.Secret, ver *model.SecretVersion, exists bool) error {
		if !exists || sec.Deleted != nil || ver == nil {
			return secretNotFound(op, name, version)
		}
		if ver.Managed && !managedOK {
			return managedByKeyVault(op, "update", "SecretManagedByKeyVault")
		}
		if p.ContentType != nil {
			ver.ContentType = *p.ContentType
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
		ver.Updated = s.Now().Unix()
		return nil
	})
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	return sec, ver, nil
}

// DeleteSecret deletes every version: soft delete when the vault has it,
// otherwise a permanent delete. It returns the record as deleted.
func (s *Service) DeleteSecret(ctx context.Context, v *model.Vault, name string) (*model.Secret, error) {
	return s.deleteSecret(ctx, v, name, false)
}

// deleteSecret is DeleteSecret; managedOK lets a certificate delete its own
// secret, which the secrets API may not.
func (s *Service) deleteSecret(ctx context.Context, v *model.Vault, name string, managedOK bool) (*model.Secret, error) {
	return s.secretLifecycle().delete(ctx, "vaults.DeleteSecret", s, v, name, func(sec *model.Secret) error {
		if !managedOK && len(sec.Versions) > 0 && sec.Latest().Managed {
			return managedByKeyVault("vaults.DeleteSecret", "delete", "SecretManagedByKeyVault")
		}
		return nil
	})
}

// ListSecrets returns the live secrets, ordered by upper-cased name.
func (s *Service) ListSecrets(ctx context.Context, v *model.Vault) ([]model.Secret, error) {
	return s.list(ctx, v, false)
}

// ListDeletedSecrets returns the soft-deleted secrets, ordered by upper-cased name.
func (s *Service) ListDeletedSecrets(ctx context.Context, v *model.Vault) ([]model.Secret, error) {
	return s.list(ctx, v, true)
}

func (s *Service) list(ctx context.Context, v *model.Vault, deleted bool) ([]model.Secret, error) {
	all, err := s.Store.ListSecrets(ctx, v.Name)
	if err != nil {
		return nil, errs.E(errs.Op("vaults.list"), err)
	}
	out := all[:0]
	for _, sec := range all {
		if (sec.Deleted != nil) == deleted {
			out = append(out, sec)
		}
	}
	return out, nil
}

// ListVersions returns a live secret's versions, newest first.
func (s *Service) ListVersions(ctx context.Context, v *model.Vault, name string) (*model.Secret, []model.SecretVersion, error) {
	const op errs.Op = "vaults.ListVersions"
	sec, err := s.lookupAll(ctx, op, v, name)
	if err != nil {
		return nil, nil, err
	}
	return sec, newestFirst(sec.Versions, func(v *model.SecretVersion) int64 { return v.Created }), nil
}

// GetDeletedSecret returns a soft-deleted secret.
func (s *Service) GetDeletedSecret(ctx context.Context, v *model.Vault, name string) (*model.Secret, error) {
	return s.secretLifecycle().getDeleted(ctx, "vaults.GetDeletedSecret", v, name)
}

// PurgeDeletedSecret permanently removes a soft-deleted secret, unless the
// vault's recovery level forbids purging.
func (s *Service) PurgeDeletedSecret(ctx context.Context, v *model.Vault, name string) error {
	_, err := s.secretLifecycle().purge(ctx, "vaults.PurgeDeletedSecret", v, name)
	return err
}

// RecoverDeletedSecret undoes a soft delete, restoring every version.
func (s *Service) RecoverDeletedSecret(ctx context.Context, v *model.Vault, name string) (*model.Secret, error) {
	return s.secretLifecycle().recover(ctx, "vaults.RecoverDeletedSecret", v, name)
}

// PurgeExpired permanently removes soft-deleted vaults and secrets whose
// scheduled purge date has passed, as Key Vault does at the end of the
// retention period. It returns how many objects it removed.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	vaults, err := s.Store.ListVaults(ctx)
	if err != nil {
		return 0, err
	}
	now := s.Now().Unix()
	n := 0
	for i := range vaults {
		if vaults[i].Deleted != nil {
			if ScheduledPurgeDate(&vaults[i]).Unix() <= now {
				// Re-checked against the stored vault in the removing
				// transaction: it may have been recovered meanwhile.
				err := s.Store.PurgeVaultIf(ctx, vaults[i].Name, func(cur *model.Vault) error {
					if cur.Deleted == nil || ScheduledPurgeDate(cur).Unix() > now {
						return errNotDue
					}
					return nil
				})
				switch {
				case err == nil:
					n++
				case err == errNotDue || errs.KindOf(err) == errs.NotExist:
				default:
					return n, err
				}
			}
			continue // a deleted vault's secrets wait for it
		}
		m, err := s.purgeExpiredSecrets(ctx, vaults[i].Name, now)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// errNotDue stops a purge whose target is no longer due.
var errNotDue = errors.New("vaults: no longer due for purge")

// purgeExpiredSecrets removes a vault's expired soft-deleted secrets, a
// page at a time.
func (s *Service) purgeExpiredSecrets(ctx context.Context, vault string, now int64) (int, error) {
	return s.secretLifecycle().purgeExpired(ctx, vault, now)
}

// ListSecretsPage returns up to max live secrets whose upper-cased name
// sorts after after, in that order, and whether more follow; each with its
// latest version only. Its cost is that of the page.
func (s *Service) ListSecretsPage(ctx context.Context, v *model.Vault, after string, max int) ([]model.Secret, bool, error) {
	secs, more, err := s.Store.ListSecretsPage(ctx, v.Name, after, max, false)
	if err != nil {
		return nil, false, errs.E(errs.Op("vaults.ListSecretsPage"), err)
	}
	return secs, more, nil
}

// ListDeletedSecretsPage is ListSecretsPage for the soft-deleted secrets.
func (s *Service) ListDeletedSecretsPage(ctx context.Context, v *model.Vault, after string, max int) ([]model.Secret, bool, error) {
	secs, more, err := s.Store.ListSecretsPage(ctx, v.Name, after, max, true)
	if err != nil {
		return nil, false, errs.E(errs.Op("vaults.ListDeletedSecretsPage"), err)
	}
	return secs, more, nil
}
