package store

import (
	"context"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
)

func groupKey(sub, rg string) string {
	return prefixGroups + strings.ToLower(sub) + "/" + strings.ToLower(rg)
}
func computeKey(sub, rg, name string) string {
	return prefixComputes + strings.ToLower(sub) + "/" + strings.ToLower(rg) + "/" + strings.ToLower(name)
}
func uamiKey(sub, rg, name string) string {
	return prefixUAMIs + strings.ToLower(sub) + "/" + strings.ToLower(rg) + "/" + strings.ToLower(name)
}
func computeCredKey(keyID string) string { return prefixComputeKeys + strings.ToLower(keyID) }

// CreateResourceGroup stores a new group (errs.Exist if present).
func (s *Store) CreateResourceGroup(ctx context.Context, g *model.ResourceGroup) error {
	return createJSON(ctx, s.kv, "store.CreateResourceGroup", groupKey(g.SubscriptionID, g.Name), g)
}

// PutResourceGroup stores a group unconditionally.
func (s *Store) PutResourceGroup(ctx context.Context, g *model.ResourceGroup) error {
	return putJSON(ctx, s.kv, "store.PutResourceGroup", groupKey(g.SubscriptionID, g.Name), g)
}

// GetResourceGroup returns a group by name (case-insensitive).
func (s *Store) GetResourceGroup(ctx context.Context, sub, name string) (*model.ResourceGroup, error) {
	var g model.ResourceGroup
	if err := getJSON(ctx, s.kv, "store.GetResourceGroup", groupKey(sub, name), &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// ListResourceGroups returns the groups of a subscription.
func (s *Store) ListResourceGroups(ctx context.Context, sub string) ([]model.ResourceGroup, error) {
	return listJSON[model.ResourceGroup](ctx, s.kv, "store.ListResourceGroups", prefixGroups+strings.ToLower(sub)+"/")
}

// DeleteResourceGroup removes the group record only.
func (s *Store) DeleteResourceGroup(ctx context.Context, sub, name string) error {
	return mapErr("store.DeleteResourceGroup", s.kv.Delete(ctx, groupKey(sub, name)))
}

// CreateCompute stores a new VM record.
func (s *Store) CreateCompute(ctx context.Context, c *model.Compute) error {
	return createJSON(ctx, s.kv, "store.CreateCompute", computeKey(c.SubscriptionID, c.ResourceGroup, c.Name), c)
}

// GetCompute returns a VM record.
func (s *Store) GetCompute(ctx context.Context, sub, rg, name string) (*model.Compute, error) {
	var c model.Compute
	if err := getJSON(ctx, s.kv, "store.GetCompute", computeKey(sub, rg, name), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateCompute applies fn to a VM record atomically.
func (s *Store) UpdateCompute(ctx context.Context, sub, rg, name string, fn func(c *model.Compute) error) error {
	const op errs.Op = "store.UpdateCompute"
	return updateJSON(ctx, s.kv, op, computeKey(sub, rg, name), func(c *model.Compute, exists bool) (bool, error) {
		if !exists {
			return false, errs.E(op, errs.NotExist)
		}
		return true, fn(c)
	})
}

// DeleteCompute removes a VM record.
func (s *Store) DeleteCompute(ctx context.Context, sub, rg, name string) error {
	return mapErr("store.DeleteCompute", s.kv.Delete(ctx, computeKey(sub, rg, name)))
}

// ListComputes returns the VMs of a subscription, optionally of one group.
func (s *Store) ListComputes(ctx context.Context, sub, rg string) ([]model.Compute, error) {
	prefix := prefixComputes + strings.ToLower(sub) + "/"
	if rg != "" {
		prefix += strings.ToLower(rg) + "/"
	}
	return listJSON[model.Compute](ctx, s.kv, "store.ListComputes", prefix)
}

// computeRef locates a VM record from a credential key id.
type computeRef struct {
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	Name           string `json:"name"`
}

// PutComputeCredentialIndex maps a credential key id to its VM.
func (s *Store) PutComputeCredentialIndex(ctx context.Context, keyID string, c *model.Compute) error {
	return putJSON(ctx, s.kv, "store.PutComputeCredentialIndex", computeCredKey(keyID),
		computeRef{c.SubscriptionID, c.ResourceGroup, c.Name})
}

// DeleteComputeCredentialIndex drops a credential key id mapping.
func (s *Store) DeleteComputeCredentialIndex(ctx context.Context, keyID string) error {
	err := s.kv.Delete(ctx, computeCredKey(keyID))
	if err != nil && errs.KindOf(mapErr("", err)) == errs.NotExist {
		return nil
	}
	return mapErr("store.DeleteComputeCredentialIndex", err)
}

// GetComputeByCredential returns the VM a credential key id belongs to.
func (s *Store) GetComputeByCredential(ctx context.Context, keyID string) (*model.Compute, error) {
	var ref computeRef
	if err := getJSON(ctx, s.kv, "store.GetComputeByCredential", computeCredKey(keyID), &ref); err != nil {
		return nil, err
	}
	return s.GetCompute(ctx, ref.SubscriptionID, ref.ResourceGroup, ref.Name)
}

// CreateUAMI stores a user-assigned identity.
func (s *Store) CreateUAMI(ctx context.Context, u *model.UserAssignedIdentity) error {
	return createJSON(ctx, s.kv, "store.CreateUAMI", uamiKey(u.SubscriptionID, u.ResourceGroup, u.Name), u)
}

// GetUAMI returns a user-assigned identity.
func (s *Store) GetUAMI(ctx context.Context, sub, rg, name string) (*model.UserAssignedIdentity, error) {
	var u model.UserAssignedIdentity
	if err := getJSON(ctx, s.kv, "store.GetUAMI", uamiKey(sub, rg, name), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// DeleteUAMI removes a user-assigned identity record.
func (s *Store) DeleteUAMI(ctx context.Context, sub, rg, name string) error {
	return mapErr("store.DeleteUAMI", s.kv.Delete(ctx, uamiKey(sub, rg, name)))
}

// ListUAMIs returns the identities of a subscription, optionally of one group.
func (s *Store) ListUAMIs(ctx context.Context, sub, rg string) ([]model.UserAssignedIdentity, error) {
	prefix := prefixUAMIs + strings.ToLower(sub) + "/"
	if rg != "" {
		prefix += strings.ToLower(rg) + "/"
	}
	return listJSON[model.UserAssignedIdentity](ctx, s.kv, "store.ListUAMIs", prefix)
}

// UpdateUAMI applies fn to a user-assigned identity atomically.
func (s *Store) UpdateUAMI(ctx context.Context, sub, rg, name string, fn func(u *model.UserAssignedIdentity) error) error {
	const op errs.Op = "store.UpdateUAMI"
	return updateJSON(ctx, s.kv, op, uamiKey(sub, rg, name), func(u *model.UserAssignedIdentity, exists bool) (bool, error) {
		if !exists {
			return false, errs.E(op, errs.NotExist)
		}
		return true, fn(u)
	})
}
