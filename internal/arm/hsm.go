package arm

import (
	"net/http"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/wire"
)

// Coffer has no Managed HSMs, but tools ask for them next to vaults (az
// keyvault list and list-deleted list both kinds and fail on a 404), so
// the collections answer as empty and single HSMs as not found.

const (
	hsmRead        = "Microsoft.KeyVault/managedHSMs/read"
	deletedHSMRead = "Microsoft.KeyVault/deletedManagedHsms/read"
)

func emptyPage(c *call) error {
	httpx.WriteJSON(c.w, http.StatusOK, wire.Page[struct{}]{Value: []struct{}{}})
	return nil
}

func hsmNotFound(typ, name, rg string) error {
	msg := "The Resource 'Microsoft.KeyVault/" + typ + "/" + name + "' "
	if rg != "" {
		msg += "under resource group '" + rg + "' "
	}
	return armErr(errs.NotExist, "ResourceNotFound", msg+"was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
}

// managedHSMs handles …/resourceGroups/{rg}/providers/Microsoft.KeyVault/managedHSMs[/{name}].
func (h *Handler) managedHSMs(c *call, sub, rg string, rest []string) error {
	if _, err := h.Resources.Group(c.ctx(), sub, rg); err != nil {
		return err
	}
	scope := "/subscriptions/" + sub + "/resourceGroups/" + rg
	switch {
	case len(rest) == 0 && c.r.Method == http.MethodGet:
		if err := h.authorize(c, scope, hsmRead); err != nil {
			return err
		}
		return emptyPage(c)
	case len(rest) == 1 && c.r.Method == http.MethodGet:
		if err := h.authorize(c, scope, hsmRead); err != nil {
			return err
		}
		return hsmNotFound("managedHSMs", rest[0], rg)
	case len(rest) == 1 && c.r.Method == http.MethodDelete:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	case len(rest) == 1 && (c.r.Method == http.MethodPut || c.r.Method == http.MethodPatch):
		return armErr(errs.Invalid, "BadRequest", "Coffer does not provide Managed HSM; use a vault (Microsoft.KeyVault/vaults).")
	case len(rest) <= 1:
		return methodNotAllowed(c)
	}
	return notFound(c)
}

// subManagedHSMs handles the subscription-level HSM paths: managedHSMs,
// deletedManagedHSMs and locations/{loc}/deletedManagedHSMs/{name}[/purge].
func (h *Handler) subManagedHSMs(c *call, sub, typ string, rest []string) error {
	scope := "/subscriptions/" + sub
	switch {
	case eq(typ, "managedHSMs") && len(rest) == 0:
		if c.r.Method != http.MethodGet {
			return methodNotAllowed(c)
		}
		// A collection of resources that live in groups: ARM answers
		// anyone with a role in the subscription, with what it may read.
		if err := h.requireSubscriptionVisible(c, sub); err != nil {
			return err
		}
		return emptyPage(c)
	case eq(typ, "deletedManagedHSMs") && len(rest) == 0:
		if c.r.Method != http.MethodGet {
			return methodNotAllowed(c)
		}
		if err := h.authorize(c, scope, deletedHSMRead); err != nil {
			return err
		}
		return emptyPage(c)
	case eq(typ, "locations") && (len(rest) == 3 || (len(rest) == 4 && eq(rest[3], "purge"))):
		if err := h.authorize(c, scope, deletedHSMRead); err != nil {
			return err
		}
		return hsmNotFound("deletedManagedHSMs", rest[2], "")
	}
	return notFound(c)
}
