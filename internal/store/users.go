package store

import (
	"context"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
)

// Users are principals (under principals/) with a userPrincipalName index
// of their own: they have no app id, so the app-id index does not apply.
const prefixUPNs = "upns/"

func upnKey(upn string) string { return prefixUPNs + strings.ToLower(upn) }

// CreateUser stores a new user; errs.Exist if the UPN is taken.
func (s *Store) CreateUser(ctx context.Context, p *model.Principal) error {
	const op errs.Op = "store.CreateUser"
	if p.Type != model.PrincipalUser || p.UserPrincipalName == "" {
		return errs.E(op, errs.Invalid, errs.Msg("not a user"))
	}
	// Index first, as CreatePrincipal does: a dangling index entry reads as
	// absent, a user without one could never sign in.
	if err := mapErr(op, s.kv.Create(ctx, upnKey(p.UserPrincipalName), []byte(p.ObjectID))); err != nil {
		return err
	}
	if err := createJSON(ctx, s.kv, op, principalKey(p.ObjectID), p); err != nil {
		_ = s.kv.Delete(ctx, upnKey(p.UserPrincipalName))
		return err
	}
	return nil
}

// GetUserByUPN returns the user with the given userPrincipalName
// (case-insensitive).
func (s *Store) GetUserByUPN(ctx context.Context, upn string) (*model.Principal, error) {
	const op errs.Op = "store.GetUserByUPN"
	oid, err := s.kv.Get(ctx, upnKey(upn))
	if err != nil {
		return nil, mapErr(op, err)
	}
	p, err := s.GetPrincipal(ctx, string(oid))
	if err != nil {
		return nil, err
	}
	if p.Type != model.PrincipalUser || !strings.EqualFold(p.UserPrincipalName, upn) {
		return nil, errs.E(op, errs.NotExist)
	}
	return p, nil
}

// DeleteUser removes a user and its UPN index entry.
func (s *Store) DeleteUser(ctx context.Context, objectID string) error {
	const op errs.Op = "store.DeleteUser"
	p, err := s.GetPrincipal(ctx, objectID)
	if err != nil {
		return err
	}
	if p.Type != model.PrincipalUser {
		return errs.E(op, errs.NotExist)
	}
	if err := mapErr(op, s.kv.Delete(ctx, principalKey(objectID))); err != nil {
		return err
	}
	_ = s.kv.Delete(ctx, upnKey(p.UserPrincipalName))
	return nil
}
