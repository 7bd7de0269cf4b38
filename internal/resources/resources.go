// Package resources manages the ARM-like resources that are not vaults:
// resource groups, virtual machines (identity holders) and user-assigned
// managed identities, plus the machine credentials that let an agent,
// `coffer run` or an App Service-style client act as a VM, and the minting
// of managed-identity tokens for them.
//
// Invariant: a VM can only ever obtain tokens for its own identities (its
// system-assigned principal and the user-assigned identities attached to it).
package resources

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// ManagedIdentityTokenLifetime is ~24 h like real managed-identity tokens.
const ManagedIdentityTokenLifetime = 24 * time.Hour

// Service implements resource operations.
type Service struct {
	Store    *store.Store
	Minter   *identity.Minter
	TenantID string
	Now      func() time.Time

	mu    sync.Mutex
	cache map[cacheKey]*identity.Token
}

type cacheKey struct{ objectID, resource string }

var (
	groupNameRE = regexp.MustCompile(`^[-\w\._\(\)]{1,90}$`)
	vmNameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$`)
	uamiNameRE  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$`)
)

func invalid(op errs.Op, code, msg string) error {
	return errs.E(op, errs.Invalid, errs.Code(code), errs.Msg(msg))
}

// GroupNotFound is ARM's error for a missing group.
func GroupNotFound(op errs.Op, name string) error {
	return errs.E(op, errs.NotExist, errs.Code("ResourceGroupNotFound"), errs.Msg(fmt.Sprintf("Resource group '%s' could not be found.", name)))
}

func resourceNotFound(op errs.Op, typ, name, rg string) error {
	return errs.E(op, errs.NotExist, errs.Code("ResourceNotFound"), errs.Msg(fmt.Sprintf(
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", typ, name, rg)))
}

// CreateOrUpdateGroup creates a group or updates its tags; created reports which.
func (s *Service) CreateOrUpdateGroup(ctx context.Context, sub, name, location string, tags map[string]string) (*model.ResourceGroup, bool, error) {
	const op errs.Op = "resources.CreateOrUpdateGroup"
	if !groupNameRE.MatchString(name) || strings.HasSuffix(name, ".") {
		return nil, false, invalid(op, "InvalidResourceGroup", fmt.Sprintf("The provided resource group name '%s' has these invalid characters or is too long.", name))
	}
	if location == "" {
		return nil, false, invalid(op, "LocationRequired", "The location property is required for this definition.")
	}
	existing, err := s.Store.GetResourceGroup(ctx, sub, name)
	if err == nil {
		if !strings.EqualFold(existing.Location, location) {
			return nil, false, errs.E(op, errs.Conflict, errs.Code("InvalidResourceGroupLocation"), errs.Msg(fmt.Sprintf(
				"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", location, existing.Location)))
		}
		existing.Tags = tags
		return existing, false, s.Store.PutResourceGroup(ctx, existing)
	}
	if errs.KindOf(err) != errs.NotExist {
		return nil, false, err
	}
	g := &model.ResourceGroup{Name: name, SubscriptionID: sub, Location: strings.ToLower(location), Tags: tags, Created: s.Now()}
	if err := s.Store.CreateResourceGroup(ctx, g); err != nil {
		if errs.KindOf(err) == errs.Exist {
			return s.CreateOrUpdateGroup(ctx, sub, name, location, tags)
		}
		return nil, false, err
	}
	return g, true, nil
}

// Group returns an existing group or ResourceGroupNotFound.
func (s *Service) Group(ctx context.Context, sub, name string) (*model.ResourceGroup, error) {
	const op errs.Op = "resources.Group"
	g, err := s.Store.GetResourceGroup(ctx, sub, name)
	if errs.KindOf(err) == errs.NotExist {
		return nil, GroupNotFound(op, name)
	}
	return g, err
}

// VMSpec describes a VM to create or update.
type VMSpec struct {
	Location       string
	Tags           map[string]string
	SystemAssigned bool
	UserAssigned   []string // ARM ids
}

// CreateOrUpdateVM creates a VM (with a system-assigned principal if asked)
// or updates its identity assignment and tags.
func (s *Service) CreateOrUpdateVM(ctx context.Context, sub, rg, name string, spec VMSpec) (*model.Compute, bool, error) {
	const op errs.Op = "resources.CreateOrUpdateVM"
	if !vmNameRE.MatchString(name) {
		return nil, false, invalid(op, "InvalidParameter", fmt.Sprintf("The virtual machine name '%s' is invalid.", name))
	}
	g, err := s.Group(ctx, sub, rg)
	if err != nil {
		return nil, false, err
	}
	for _, rid := range spec.UserAssigned {
		if _, err := s.uamiByID(ctx, rid); err != nil {
			return nil, false, err
		}
	}
	created := false
	c, err := s.Store.GetCompute(ctx, sub, rg, name)
	if errs.KindOf(err) == errs.NotExist {
		created = true
		loc := spec.Location
		if loc == "" {
			loc = g.Location
		}
		c = &model.Compute{Name: name, SubscriptionID: sub, ResourceGroup: g.Name, Location: strings.ToLower(loc), Tags: spec.Tags, VMID: uuid.NewString(), Created: s.Now()}
		if err := s.Store.CreateCompute(ctx, c); err != nil {
			return nil, false, err
		}
	} else if err != nil {
		return nil, false, err
	}
	if err := s.setIdentities(ctx, c, spec.SystemAssigned, spec.UserAssigned, spec.Tags, !created); err != nil {
		return nil, false, err
	}
	c, err = s.Store.GetCompute(ctx, sub, rg, name)
	return c, created, err
}

// setIdentities makes the VM's identity assignment match: it creates or
// deletes the system-assigned principal and replaces the user-assigned list.
func (s *Service) setIdentities(ctx context.Context, c *model.Compute, system bool, user []string, tags map[string]string, setTags bool) error {
	var newPrincipal *model.Principal
	if system && c.SystemAssigned == "" {
		newPrincipal = &model.Principal{
			ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), DisplayName: c.Name,
			Type: model.PrincipalManagedIdentity, ResourceID: c.ResourceID(), Created: s.Now(),
		}
		if err := s.Store.CreatePrincipal(ctx, newPrincipal); err != nil {
			return err
		}
	}
	var dropped string
	err := s.Store.UpdateCompute(ctx, c.SubscriptionID, c.ResourceGroup, c.Name, func(cur *model.Compute) error {
		dropped = ""
		switch {
		case system && cur.SystemAssigned != "":
			// Already has one (perhaps from a concurrent request): keep
			// it, and drop the principal this call made.
			if newPrincipal != nil {
				dropped = newPrincipal.ObjectID
			}
		case newPrincipal != nil:
			cur.SystemAssigned = newPrincipal.ObjectID
		case !system && cur.SystemAssigned != "":
			dropped = cur.SystemAssigned
			cur.SystemAssigned = ""
		}
		cur.UserAssigned = dedupe(user)
		if setTags && tags != nil {
			cur.Tags = tags
		}
		return nil
	})
	if err != nil {
		return err
	}
	if dropped != "" {
		return s.deletePrincipal(ctx, dropped)
	}
	return nil
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		found := false
		for _, o := range out {
			found = found || strings.EqualFold(o, id)
		}
		if !found {
			out = append(out, id)
		}
	}
	return out
}

func (s *Service) deletePrincipal(ctx context.Context, oid string) error {
	s.mu.Lock()
	for k := range s.cache {
		if k.objectID == oid {
			delete(s.cache, k)
		}
	}
	s.mu.Unlock()
	err := s.Store.DeletePrincipal(ctx, oid)
	if errs.KindOf(err) == errs.NotExist {
		return nil
	}
	return err
}

// VM returns a VM or ResourceNotFound.
func (s *Service) VM(ctx context.Context, sub, rg, name string) (*model.Compute, error) {
	const op errs.Op = "resources.VM"
	if _, err := s.Group(ctx, sub, rg); err != nil {
		return nil, err
	}
	c, err := s.Store.GetCompute(ctx, sub, rg, name)
	if errs.KindOf(err) == errs.NotExist {
		return nil, resourceNotFound(op, "Microsoft.Compute/virtualMachines", name, rg)
	}
	return c, err
}

// DeleteVM deletes a VM, its system-assigned identity and its credentials,
// so that its tokens stop working at once.
func (s *Service) DeleteVM(ctx context.Context, sub, rg, name string) error {
	c, err := s.VM(ctx, sub, rg, name)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteCompute(ctx, sub, rg, name); err != nil {
		return err
	}
	for _, cred := range c.Credentials {
		_ = s.Store.DeleteComputeCredentialIndex(ctx, cred.KeyID)
	}
	if c.SystemAssigned != "" {
		return s.deletePrincipal(ctx, c.SystemAssigned)
	}
	return nil
}

// CreateOrUpdateUAMI creates a user-assigned identity (and its principal).
func (s *Service) CreateOrUpdateUAMI(ctx context.Context, sub, rg, name, location string, tags map[string]string) (*model.UserAssignedIdentity, bool, error) {
	const op errs.Op = "resources.CreateOrUpdateUAMI"
	if !uamiNameRE.MatchString(name) {
		return nil, false, invalid(op, "InvalidResourceName", fmt.Sprintf("Resource name '%s' is invalid. The name can contain only letters, numbers, underscores and hyphens, starts with a letter or number, and is 3 to 128 characters long.", name))
	}
	g, err := s.Group(ctx, sub, rg)
	if err != nil {
		return nil, false, err
	}
	if _, err := s.Store.GetUAMI(ctx, sub, rg, name); err == nil {
		// An update changes only the tags (nil keeps them, as ARM's PATCH does).
		var out model.UserAssignedIdentity
		err := s.Store.UpdateUAMI(ctx, sub, rg, name, func(u *model.UserAssignedIdentity) error {
			if tags != nil {
				u.Tags = tags
			}
			out = *u
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		return &out, false, nil
	} else if errs.KindOf(err) != errs.NotExist {
		return nil, false, err
	}
	if location == "" {
		location = g.Location
	}
	u := &model.UserAssignedIdentity{Name: name, SubscriptionID: sub, ResourceGroup: g.Name, Location: strings.ToLower(location), Tags: tags,
		PrincipalID: identity.NewObjectID(), ClientID: identity.NewObjectID(), TenantID: s.TenantID, Created: s.Now()}
	p := &model.Principal{ObjectID: u.PrincipalID, AppID: u.ClientID, DisplayName: name,
		Type: model.PrincipalManagedIdentity, ResourceID: u.ResourceID(), Created: s.Now()}
	if err := s.Store.CreatePrincipal(ctx, p); err != nil {
		return nil, false, err
	}
	if err := s.Store.CreateUAMI(ctx, u); err != nil {
		_ = s.Store.DeletePrincipal(ctx, p.ObjectID)
		return nil, false, err
	}
	return u, true, nil
}

// UAMI returns a user-assigned identity or ResourceNotFound.
func (s *Service) UAMI(ctx context.Context, sub, rg, name string) (*model.UserAssignedIdentity, error) {
	const op errs.Op = "resources.UAMI"
	if _, err := s.Group(ctx, sub, rg); err != nil {
		return nil, err
	}
	u, err := s.Store.GetUAMI(ctx, sub, rg, name)
	if errs.KindOf(err) == errs.NotExist {
		return nil, resourceNotFound(op, "Microsoft.ManagedIdentity/userAssignedIdentities", name, rg)
	}
	return u, err
}

// uamiByID resolves an ARM id of a user-assigned identity.
func (s *Service) uamiByID(ctx context.Context, rid string) (*model.UserAssignedIdentity, error) {
	const op errs.Op = "resources.uamiByID"
	parts := strings.Split(strings.Trim(rid, "/"), "/")
	if len(parts) != 8 || !strings.EqualFold(parts[0], "subscriptions") || !strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") || !strings.EqualFold(parts[5], "Microsoft.ManagedIdentity") || !strings.EqualFold(parts[6], "userAssignedIdentities") {
		return nil, invalid(op, "InvalidIdentityValues", fmt.Sprintf("The user-assigned identity id '%s' is not a valid resource id.", rid))
	}
	u, err := s.Store.GetUAMI(ctx, parts[1], parts[3], parts[7])
	if errs.KindOf(err) == errs.NotExist {
		return nil, errs.E(op, errs.Invalid, errs.Code("FailedIdentityOperation"), errs.Msg(fmt.Sprintf("The user-assigned identity '%s' was not found.", rid)))
	}
	return u, err
}

// DeleteUAMI deletes a user-assigned identity and its principal; VMs that
// still list it simply can no longer get tokens for it.
func (s *Service) DeleteUAMI(ctx context.Context, sub, rg, name string) error {
	u, err := s.UAMI(ctx, sub, rg, name)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteUAMI(ctx, sub, rg, name); err != nil {
		return err
	}
	// Detach it from every VM, so that an identity re-created later under
	// the same name is not silently handed to VMs nobody assigned it to.
	rid := u.ResourceID()
	vms, err := s.Store.ListComputes(ctx, sub, "")
	if err != nil {
		return err
	}
	for _, vm := range vms {
		if !vm.HasUserAssigned(rid) {
			continue
		}
		err := s.Store.UpdateCompute(ctx, vm.SubscriptionID, vm.ResourceGroup, vm.Name, func(cur *model.Compute) error {
			kept := cur.UserAssigned[:0]
			for _, id := range cur.UserAssigned {
				if !strings.EqualFold(id, rid) {
					kept = append(kept, id)
				}
			}
			cur.UserAssigned = kept
			return nil
		})
		if err != nil && errs.KindOf(err) != errs.NotExist {
			return err
		}
	}
	return s.deletePrincipal(ctx, u.PrincipalID)
}

// credentialPrefix marks machine credentials so they are recognisable in
// configuration files and secret scanners.
const credentialPrefix = "cofferm_"

// NewCredential issues a machine credential for a VM that does not
// expire. Only its hash is stored; the returned string is shown once.
func (s *Service) NewCredential(ctx context.Context, sub, rg, name string) (string, string, error) {
	return s.NewCredentialWith(ctx, sub, rg, name, CredentialOptions{})
}

// CredentialOptions shape a new machine credential.
type CredentialOptions struct {
	// Name, when set, makes the credential replace the VM's credentials of
	// that name in the same update: a client that issues one per use under
	// a fixed name (coffer env --identity) holds one at a time instead of
	// accumulating credentials.
	Name string
	// Expires is when the credential stops working (zero: never); an
	// expiry in the past is refused.
	Expires time.Time
}

// NewCredentialWith is NewCredential with options.
func (s *Service) NewCredentialWith(ctx context.Context, sub, rg, name string, o CredentialOptions) (string, string, error) {
	if !o.Expires.IsZero() && !o.Expires.After(s.Now()) {
		return "", "", errs.E(errs.Op("resources.NewCredential"), errs.Invalid, errs.Msg("The credential's expiry must be in the future."))
	}
	c, err := s.VM(ctx, sub, rg, name)
	if err != nil {
		return "", "", err
	}
	secret, cred := identity.NewClientSecret(s.Now())
	cred.Expires = o.Expires
	keyID := strings.ReplaceAll(cred.KeyID, "-", "")
	cred.KeyID = keyID
	cred.Name = o.Name
	if err := s.Store.PutComputeCredentialIndex(ctx, keyID, c); err != nil {
		return "", "", err
	}
	var replaced []string
	if err := s.Store.UpdateCompute(ctx, sub, rg, name, func(cur *model.Compute) error {
		replaced = nil
		kept := make([]model.Credential, 0, len(cur.Credentials)+1)
		for _, old := range cur.Credentials {
			if o.Name != "" && old.Name == o.Name {
				replaced = append(replaced, old.KeyID)
				continue
			}
			kept = append(kept, old)
		}
		cur.Credentials = append(kept, cred)
		return nil
	}); err != nil {
		_ = s.Store.DeleteComputeCredentialIndex(ctx, keyID)
		return "", "", err
	}
	for _, k := range replaced {
		_ = s.Store.DeleteComputeCredentialIndex(ctx, k)
	}
	return credentialPrefix + keyID + "." + base64.RawURLEncoding.EncodeToString([]byte(secret)), keyID, nil
}

// ExtendCredential moves the expiry of a VM's live credential to expires
// (in the future): how `coffer run` keeps its short-lived credential alive
// while the program runs. A credential that has expired stays dead: it is
// NotExist, like one that was revoked, so a credential left by a killed
// run cannot be brought back.
func (s *Service) ExtendCredential(ctx context.Context, sub, rg, name, keyID string, expires time.Time) (*model.Credential, error) {
	const op errs.Op = "resources.ExtendCredential"
	now := s.Now()
	if !expires.After(now) {
		return nil, errs.E(op, errs.Invalid, errs.Msg("The credential's expiry must be in the future."))
	}
	if _, err := s.VM(ctx, sub, rg, name); err != nil {
		return nil, err
	}
	var out *model.Credential
	err := s.Store.UpdateCompute(ctx, sub, rg, name, func(cur *model.Compute) error {
		out = nil
		for i := range cur.Credentials {
			c := &cur.Credentials[i]
			if strings.EqualFold(c.KeyID, keyID) && (c.Expires.IsZero() || now.Before(c.Expires)) {
				c.Expires = expires
				cp := *c
				out = &cp
				return nil
			}
		}
		return errs.E(op, errs.NotExist)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeCredentials revokes one credential (by key id) or, with keyID "",
// all of them. It returns how many were revoked.
func (s *Service) RevokeCredentials(ctx context.Context, sub, rg, name, keyID string) (int, error) {
	if _, err := s.VM(ctx, sub, rg, name); err != nil {
		return 0, err
	}
	var revoked []string
	err := s.Store.UpdateCompute(ctx, sub, rg, name, func(cur *model.Compute) error {
		revoked = nil
		kept := cur.Credentials[:0]
		for _, c := range cur.Credentials {
			if keyID == "" || strings.EqualFold(c.KeyID, keyID) {
				revoked = append(revoked, c.KeyID)
				continue
			}
			kept = append(kept, c)
		}
		cur.Credentials = kept
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range revoked {
		_ = s.Store.DeleteComputeCredentialIndex(ctx, k)
	}
	return len(revoked), nil
}

// Authenticate returns the VM a machine credential belongs to, or an
// Unauthenticated error that reveals nothing about why.
func (s *Service) Authenticate(ctx context.Context, credential string) (*model.Compute, error) {
	const op errs.Op = "resources.Authenticate"
	fail := errs.E(op, errs.Unauthenticated, errs.Msg("The machine credential is missing or invalid."))
	rest, ok := strings.CutPrefix(credential, credentialPrefix)
	if !ok {
		return nil, fail
	}
	keyID, enc, ok := strings.Cut(rest, ".")
	secret, err := base64.RawURLEncoding.DecodeString(enc)
	if !ok || err != nil || len(keyID) != 32 {
		return nil, fail
	}
	c, err := s.Store.GetComputeByCredential(ctx, keyID)
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return nil, fail
		}
		return nil, errs.E(op, err)
	}
	var match []model.Credential
	for _, cr := range c.Credentials {
		if cr.KeyID == keyID {
			match = append(match, cr)
		}
	}
	if !identity.CheckClientSecret(match, string(secret), s.Now()) {
		return nil, fail
	}
	return c, nil
}

// Selector picks one of a VM's identities; at most one field is set.
type Selector struct {
	ClientID   string
	ObjectID   string
	ResourceID string
}

// IdentityNotFound is IMDS's answer when the selected identity is not
// assigned to the VM (always 400, never 404: SDKs retry 404s for a minute).
func IdentityNotFound(op errs.Op) error {
	return errs.E(op, errs.Invalid, errs.Code("invalid_request"), errs.Msg("Identity not found"))
}

// ResolveIdentity returns the principal of the VM's identity that sel
// picks. With an empty selector it is the system-assigned identity, or the
// only user-assigned one when there is no system-assigned identity.
func (s *Service) ResolveIdentity(ctx context.Context, c *model.Compute, sel Selector) (*model.Principal, error) {
	const op errs.Op = "resources.ResolveIdentity"
	// principal reads an identity's principal; a missing one (deleted) is
	// nil, but a failing store is an error: it must not read as "this
	// identity is not yours" (a permanent 400 to IMDS clients).
	principal := func(oid string) (*model.Principal, error) {
		p, err := s.Store.GetPrincipal(ctx, oid)
		if errs.KindOf(err) == errs.NotExist {
			return nil, nil
		}
		if err != nil {
			return nil, errs.E(op, err)
		}
		return p, nil
	}
	var users []*model.Principal
	for _, rid := range c.UserAssigned {
		u, err := s.uamiByID(ctx, rid)
		if errs.KindOf(err) == errs.Invalid {
			continue // deleted identity: not selectable
		}
		if err != nil {
			return nil, errs.E(op, err)
		}
		p, err := principal(u.PrincipalID)
		if err != nil {
			return nil, err
		}
		if p != nil {
			users = append(users, p)
		}
	}
	var system *model.Principal
	if c.SystemAssigned != "" {
		var err error
		if system, err = principal(c.SystemAssigned); err != nil {
			return nil, err
		}
	}
	var pick *model.Principal
	switch {
	case sel.ClientID != "":
		for _, p := range users {
			if strings.EqualFold(p.AppID, sel.ClientID) {
				pick = p
			}
		}
		if pick == nil && system != nil && strings.EqualFold(system.AppID, sel.ClientID) {
			pick = system
		}
	case sel.ObjectID != "":
		for _, p := range users {
			if strings.EqualFold(p.ObjectID, sel.ObjectID) {
				pick = p
			}
		}
		if pick == nil && system != nil && strings.EqualFold(system.ObjectID, sel.ObjectID) {
			pick = system
		}
	case sel.ResourceID != "":
		for _, p := range users {
			if strings.EqualFold(p.ResourceID, sel.ResourceID) {
				pick = p
			}
		}
	case system != nil:
		pick = system
	case c.SystemAssigned == "" && len(users) == 1:
		pick = users[0]
	}
	if pick == nil {
		return nil, IdentityNotFound(op)
	}
	return pick, nil
}

// ManagedIdentityToken returns a token for the VM's selected identity and
// resource, reusing a cached one (as IMDS does) until half its lifetime
// has passed, so clients that refresh at half-life get a fresh token.
// bypassCache (IMDS's bypass_cache=true) forces a fresh token.
func (s *Service) ManagedIdentityToken(ctx context.Context, c *model.Compute, sel Selector, resource string, bypassCache bool) (*identity.Token, *model.Principal, error) {
	p, err := s.ResolveIdentity(ctx, c, sel)
	if err != nil {
		return nil, nil, err
	}
	key := cacheKey{p.ObjectID, resource}
	now := s.Now()
	s.mu.Lock()
	if t := s.cache[key]; !bypassCache && t != nil && now.Before(t.NotBefore.Add(t.Expires.Sub(t.NotBefore)/2)) {
		s.mu.Unlock()
		return t, p, nil
	}
	s.mu.Unlock()
	t, err := s.Minter.Mint(p, resource, ManagedIdentityTokenLifetime)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	if s.cache == nil || len(s.cache) > 10000 {
		s.cache = map[cacheKey]*identity.Token{}
	}
	s.cache[key] = t
	s.mu.Unlock()
	return t, p, nil
}

// RandomID returns n random bytes, base64url-encoded.
func RandomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
