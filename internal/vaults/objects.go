package vaults

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
)

// Secrets, keys and certificates are the same kind of thing to a vault: a
// named, versioned, soft-deletable object. What differs between them in
// authorization and in Azure's answers is their name and their set of
// access-policy permissions; objectKind holds that, and the lifecycle
// helpers below serve all three.
type objectKind struct {
	noun    string // "secret": in messages
	title   string // "Secret": in messages and error codes
	plural  string // "secrets": the RBAC scope segment and access-policy denials
	allowed func(policies []model.AccessPolicy, c Caller, perm string) bool
}

var (
	secretKind = objectKind{"secret", "Secret", "secrets", policy.AllowedByAccessPolicy}
	keyKind    = objectKind{"key", "Key", "keys", policy.AllowedKeyByAccessPolicy}
	certKind   = objectKind{"certificate", "Certificate", "certificates", policy.AllowedCertificateByAccessPolicy}
)

// notFound is Azure's answer for a live object (or version) that is absent.
func (k objectKind) notFound(op errs.Op, name, version string) error {
	id := name
	if version != "" {
		id += "/" + version
	}
	return errs.E(op, errs.NotExist, errs.Code(k.title+"NotFound"), errs.Msg(fmt.Sprintf(
		"A %s with (name/id) %s was not found in this key vault. If you recently deleted this %s you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", k.noun, id, k.noun)))
}

// deletedNotFound is Azure's answer for a soft-deleted object that is absent.
func (k objectKind) deletedNotFound(op errs.Op, name string) error {
	return errs.E(op, errs.NotExist, errs.Code(k.title+"NotFound"), errs.Msg("Deleted "+k.title+" not found: "+name))
}

// deletedButRecoverable refuses to reuse the name of a soft-deleted object.
func (k objectKind) deletedButRecoverable(op errs.Op, name string) error {
	return errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Inner("ObjectIsDeletedButRecoverable"), errs.Msg(fmt.Sprintf(
		"%s %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the %s can only be recovered or purged.", k.title, name, k.noun)))
}

// authorize checks that caller may perform action on the named object of
// kind k (or the vault's objects of that kind, when name is empty), under
// the vault's permission model. Only that kind's permissions count.
func (s *Service) authorize(ctx context.Context, op errs.Op, v *model.Vault, c Caller, a policy.Action, k objectKind, name string) error {
	// Denials name the vault's own location, as Azure's do.
	loc := cmp.Or(v.Location, Location)
	if v.EnableRbacAuthorization {
		assignments, err := s.Store.ListRoleAssignments(ctx)
		if err != nil {
			return errs.E(op, err)
		}
		scope := strings.ToLower(v.ResourceID())
		if name != "" {
			scope += "/" + k.plural + "/" + strings.ToLower(name)
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
	if k.allowed(v.AccessPolicies, c, a.Permission) {
		return nil
	}
	msg := fmt.Sprintf("The user, group or application 'appid=%s;oid=%s;iss=https://sts.windows.net/%s/' does not have %s %s permission on key vault '%s;location=%s'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
		c.AppID, c.ObjectID, c.TenantID, k.plural, a.Permission, v.Name, loc)
	return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("AccessDenied"), errs.Msg(msg))
}

// deletion is the soft-delete record of an object deleted now: it is
// purged when the vault's retention period has passed.
func (s *Service) deletion(v *model.Vault) *model.DeletedInfo {
	now := s.Now()
	return &model.DeletedInfo{
		DeletedDate:        now.Unix(),
		ScheduledPurgeDate: now.Add(time.Duration(v.RecoverableDays()) * 24 * time.Hour).Unix(),
	}
}

// purgeProtected is Azure's refusal to purge in a vault with purge protection.
func purgeProtected(op errs.Op, v *model.Vault) error {
	return errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("ForbiddenByPolicy"), errs.Msg(fmt.Sprintf(
		"Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: %s;location=%s", v.Name, cmp.Or(v.Location, Location))))
}

// newestFirst returns stored versions (oldest first) newest first: by
// creation time, and later-added first within the same second.
func newestFirst[V any](stored []V, created func(*V) int64) []V {
	vers := make([]V, len(stored))
	for i := range stored {
		vers[len(vers)-1-i] = stored[i]
	}
	sort.SliceStable(vers, func(i, j int) bool { return created(&vers[i]) > created(&vers[j]) })
	return vers
}

// purgeExpiredPage is how many deleted objects a purge sweep reads at a time.
const purgeExpiredPage = 100

// lifecycle is what the shared soft-delete lifecycle (get deleted,
// recover, purge, the scheduled purge) needs of one kind of object: its
// store's head reads and writes, and where its name and soft-delete record
// are. Each of these reads or writes the head only, whatever the number of
// versions.
type lifecycle[O any] struct {
	kind objectKind
	head func(ctx context.Context, vault, name string) (*O, error)
	// page lists a vault's live or soft-deleted objects after a name.
	page       func(ctx context.Context, vault, after string, limit int, deleted bool) ([]O, bool, error)
	updateHead func(ctx context.Context, vault, name string, fn func(o *O, exists bool) (bool, error)) error
	name       func(o *O) string
	deleted    func(o *O) **model.DeletedInfo
	// purged, when set, runs after each removal of an object.
	purged func(ctx context.Context, vault, name string) error
}

func (s *Service) secretLifecycle() lifecycle[model.Secret] {
	return lifecycle[model.Secret]{kind: secretKind, head: s.Store.GetSecretHead, page: s.Store.ListSecretsPage, updateHead: s.Store.UpdateSecretHead,
		name:    func(sec *model.Secret) string { return sec.Name },
		deleted: func(sec *model.Secret) **model.DeletedInfo { return &sec.Deleted }}
}

func (s *Service) keyLifecycle() lifecycle[model.Key] {
	return lifecycle[model.Key]{kind: keyKind, head: s.Store.GetKeyHead, page: s.Store.ListKeysPage, updateHead: s.Store.UpdateKeyHead,
		name:    func(k *model.Key) string { return k.Name },
		deleted: func(k *model.Key) **model.DeletedInfo { return &k.Deleted },
		// The material of a pending certificate operation has no version
		// record, so the removal of the versions does not take it.
		purged: s.Store.DeleteKeyMaterials}
}

func (s *Service) certLifecycle() lifecycle[model.Certificate] {
	return lifecycle[model.Certificate]{kind: certKind, head: s.Store.GetCertificateHead, page: s.Store.ListCertificatesPage, updateHead: s.Store.UpdateCertificateHead,
		name:    func(c *model.Certificate) string { return c.Name },
		deleted: func(c *model.Certificate) **model.DeletedInfo { return &c.Deleted }}
}

// delete deletes every version of a live object: a soft delete when the
// vault has it, else a permanent one (the head at once, the versions and
// values page by page). It returns the object as deleted. refuse, when
// set, may refuse (or answer not found for) the object it is given.
func (l lifecycle[O]) delete(ctx context.Context, op errs.Op, s *Service, v *model.Vault, name string, refuse func(o *O) error) (*O, error) {
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	var out O
	err := l.updateHead(ctx, v.Name, name, func(o *O, exists bool) (bool, error) {
		if !exists || *l.deleted(o) != nil {
			return exists, l.kind.notFound(op, name, "")
		}
		if refuse != nil {
			if err := refuse(o); err != nil {
				return true, err
			}
		}
		out = *o
		if !v.EnableSoftDelete {
			return false, nil
		}
		*l.deleted(o) = s.deletion(v)
		out = *o
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	if !v.EnableSoftDelete && l.purged != nil {
		if err := l.purged(ctx, v.Name, l.name(&out)); err != nil {
			return nil, errs.E(op, err)
		}
	}
	return &out, nil
}

// getDeleted returns a soft-deleted object, with its latest version only.
func (l lifecycle[O]) getDeleted(ctx context.Context, op errs.Op, v *model.Vault, name string) (*O, error) {
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	o, err := l.head(ctx, v.Name, name)
	if errs.KindOf(err) == errs.NotExist || (err == nil && *l.deleted(o) == nil) {
		return nil, l.kind.deletedNotFound(op, name)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return o, nil
}

// recover undoes a soft delete, restoring every version.
func (l lifecycle[O]) recover(ctx context.Context, op errs.Op, v *model.Vault, name string) (*O, error) {
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	var out O
	err := l.updateHead(ctx, v.Name, name, func(o *O, exists bool) (bool, error) {
		if !exists || *l.deleted(o) == nil {
			return exists, l.kind.deletedNotFound(op, name)
		}
		*l.deleted(o) = nil
		out = *o
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
}

// purge permanently removes a soft-deleted object, unless the vault's
// purge protection forbids it, and returns its name as stored. Removing
// the head re-checks, in the same transaction, that it is still the
// deleted record it saw; the versions and values follow.
func (l lifecycle[O]) purge(ctx context.Context, op errs.Op, v *model.Vault, name string) (string, error) {
	if !ValidSecretName(name) {
		return "", invalidName(op, name)
	}
	stored := name
	err := l.updateHead(ctx, v.Name, name, func(o *O, exists bool) (bool, error) {
		if !exists || *l.deleted(o) == nil {
			return exists, l.kind.deletedNotFound(op, name)
		}
		if v.EnablePurgeProtection {
			return true, purgeProtected(op, v)
		}
		stored = l.name(o)
		return false, nil
	})
	if err != nil {
		return "", errs.E(op, err)
	}
	if l.purged != nil {
		if err := l.purged(ctx, v.Name, name); err != nil {
			return "", errs.E(op, err)
		}
	}
	return stored, nil
}

// purgeExpired removes a vault's soft-deleted objects whose scheduled
// purge date has passed, reading the deleted ones a page at a time so that
// memory stays bounded by the page, whatever the size of the vault. Each
// removal re-checks, in the transaction that removes the head, that the
// object is still deleted and expired (it may have been recovered
// meanwhile). It returns how many it removed.
func (l lifecycle[O]) purgeExpired(ctx context.Context, vault string, now int64) (int, error) {
	n, after := 0, ""
	for {
		objs, more, err := l.page(ctx, vault, after, purgeExpiredPage, true)
		if err != nil {
			return n, err
		}
		for i := range objs {
			if del := *l.deleted(&objs[i]); del == nil || del.ScheduledPurgeDate > now {
				continue
			}
			name := l.name(&objs[i])
			purged := false
			err := l.updateHead(ctx, vault, name, func(cur *O, exists bool) (bool, error) {
				del := *l.deleted(cur)
				purged = exists && del != nil && del.ScheduledPurgeDate <= now
				return !purged && exists, nil
			})
			if err != nil {
				return n, err
			}
			if !purged {
				continue
			}
			if l.purged != nil {
				if err := l.purged(ctx, vault, name); err != nil {
					return n, err
				}
			}
			n++
		}
		if !more || len(objs) == 0 {
			return n, nil
		}
		after = strings.ToUpper(l.name(&objs[len(objs)-1]))
	}
}

// inLiveVaults runs fn for every vault that is not deleted (a deleted
// vault's objects go with it) and adds up what it returns.
func (s *Service) inLiveVaults(ctx context.Context, fn func(vault string) (int, error)) (int, error) {
	vs, err := s.Store.ListVaults(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range vs {
		if vs[i].Deleted != nil {
			continue
		}
		m, err := fn(vs[i].Name)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
