package arm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/wire"
)

func (h *Handler) vmWire(c *call, vm *model.Compute) wire.VirtualMachine {
	out := wire.VirtualMachine{ID: vm.ResourceID(), Name: vm.Name, Type: "Microsoft.Compute/virtualMachines", Location: vm.Location, Tags: vm.Tags}
	out.Properties.VMID = vm.VMID
	out.Properties.ProvisioningState = "Succeeded"
	var types []string
	id := &wire.ResourceIdentity{}
	if vm.SystemAssigned != "" {
		types = append(types, "SystemAssigned")
		id.PrincipalID, id.TenantID = vm.SystemAssigned, h.TenantID
	}
	if len(vm.UserAssigned) > 0 {
		types = append(types, "UserAssigned")
		id.UserAssignedIdentities = map[string]*wire.UserAssignedIdentityRef{}
		for _, rid := range vm.UserAssigned {
			ref := &wire.UserAssignedIdentityRef{}
			parts := strings.Split(strings.Trim(rid, "/"), "/")
			if len(parts) == 8 {
				if u, err := h.Store.GetUAMI(c.ctx(), parts[1], parts[3], parts[7]); err == nil {
					ref.PrincipalID, ref.ClientID = u.PrincipalID, u.ClientID
				}
			}
			id.UserAssignedIdentities[rid] = ref
		}
	}
	if len(types) > 0 {
		id.Type = strings.Join(types, ", ")
		out.Identity = id
	}
	return out
}

func (h *Handler) listVMs(c *call, sub, rg string) error {
	return listIn(h, c, sub, rg, vmRead, h.Store.ListComputes, (*model.Compute).ResourceID, func(vm *model.Compute) wire.VirtualMachine { return h.vmWire(c, vm) })
}

// Operation names the VM and identity handlers authorize.
const (
	vmRead         = "Microsoft.Compute/virtualMachines/read"
	vmWrite        = "Microsoft.Compute/virtualMachines/write"
	vmDelete       = "Microsoft.Compute/virtualMachines/delete"
	vmCredentials  = "Microsoft.Compute/virtualMachines/cofferCredentials/action"
	identityRead   = "Microsoft.ManagedIdentity/userAssignedIdentities/read"
	identityWrite  = "Microsoft.ManagedIdentity/userAssignedIdentities/write"
	identityDelete = "Microsoft.ManagedIdentity/userAssignedIdentities/delete"
	identityAssign = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
)

// vmIdentityBody is the identity of a VM request. A null entry in
// userAssignedIdentities (PATCH) removes that identity, as in ARM.
type vmIdentityBody struct {
	Type                   string                      `json:"type"`
	UserAssignedIdentities map[string]*json.RawMessage `json:"userAssignedIdentities"`
}

func invalidIdentity(msg string) error {
	return armErr(errs.Invalid, "InvalidIdentityValues", msg)
}

// identitySpec applies a request's identity to spec: the type must be one
// ARM knows, user-assigned identities come with the UserAssigned type and
// only with it, and every entry must be an object (or null in a PATCH).
func identitySpec(id *vmIdentityBody, existing *model.Compute, patch bool, spec *resources.VMSpec) error {
	t := strings.ToLower(strings.ReplaceAll(id.Type, " ", ""))
	switch t {
	case "systemassigned", "userassigned", "systemassigned,userassigned", "none":
	default:
		return armErr(errs.Invalid, "InvalidIdentityType", "The identity type '"+id.Type+"' is invalid. Allowed: SystemAssigned, UserAssigned, 'SystemAssigned, UserAssigned', None.")
	}
	spec.SystemAssigned = strings.Contains(t, "systemassigned")
	if !strings.Contains(t, "userassigned") {
		if len(id.UserAssignedIdentities) > 0 {
			return invalidIdentity("The property 'userAssignedIdentities' can only be given with the identity type 'UserAssigned' or 'SystemAssigned, UserAssigned'.")
		}
		spec.UserAssigned = nil
		return nil
	}
	spec.UserAssigned = nil
	if patch && existing != nil {
		spec.UserAssigned = existing.UserAssigned
	}
	for rid, v := range id.UserAssignedIdentities {
		if v == nil || string(*v) == "null" {
			if !patch {
				return invalidIdentity("The user-assigned identity '" + rid + "' has a null value; null removes an identity only in a PATCH.")
			}
			spec.UserAssigned = removeID(spec.UserAssigned, rid)
			continue
		}
		if b := strings.TrimSpace(string(*v)); !strings.HasPrefix(b, "{") {
			return armErr(errs.Invalid, "InvalidRequestContent", "The request content was invalid and could not be deserialized: property 'userAssignedIdentities' has the wrong type.")
		}
		spec.UserAssigned = append(removeID(spec.UserAssigned, rid), rid)
	}
	if len(spec.UserAssigned) == 0 {
		return invalidIdentity("The identity type '" + id.Type + "' requires at least one entry in 'userAssignedIdentities'.")
	}
	return nil
}

func (h *Handler) vm(c *call, sub, rg, name string) error {
	scope := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name
	switch c.r.Method {
	case http.MethodGet:
		if err := h.authorize(c, scope, vmRead); err != nil {
			return err
		}
		vm, err := h.Resources.VM(c.ctx(), sub, rg, name)
		if err != nil {
			return err
		}
		httpx.WriteJSON(c.w, http.StatusOK, h.vmWire(c, vm))
		return nil
	case http.MethodPut, http.MethodPatch:
		if err := h.authorize(c, scope, vmWrite); err != nil {
			return err
		}
		var body struct {
			Location string            `json:"location"`
			Tags     map[string]string `json:"tags"`
			Identity *vmIdentityBody   `json:"identity"`
		}
		if err := decode(c, &body); err != nil {
			return err
		}
		patch := c.r.Method == http.MethodPatch
		spec := resources.VMSpec{Location: body.Location, Tags: body.Tags}
		existing, err := h.Store.GetCompute(c.ctx(), sub, rg, name)
		if err != nil && errs.KindOf(err) != errs.NotExist {
			return err
		}
		if patch && existing == nil {
			if _, err := h.Resources.VM(c.ctx(), sub, rg, name); err != nil {
				return err
			}
		}
		if existing != nil && (patch || body.Identity == nil) {
			// PATCH and identity-less PUTs keep the current assignment.
			spec.SystemAssigned, spec.UserAssigned = existing.SystemAssigned != "", existing.UserAssigned
		}
		if body.Identity != nil {
			if err := identitySpec(body.Identity, existing, patch, &spec); err != nil {
				return err
			}
			// Attaching a user-assigned identity needs the right to assign it.
			for _, rid := range spec.UserAssigned {
				if existing != nil && slices.ContainsFunc(existing.UserAssigned, func(x string) bool { return strings.EqualFold(x, rid) }) {
					continue
				}
				if err := h.authorize(c, rid, identityAssign); err != nil {
					_, _, msg := errs.Details(err)
					return armErr(errs.Permission, "LinkedAuthorizationFailed", string(msg))
				}
			}
		}
		vm, created, err := h.Resources.CreateOrUpdateVM(c.ctx(), sub, rg, name, spec)
		if err != nil {
			return err
		}
		return writeUpsert(c, created, h.vmWire(c, vm))
	case http.MethodDelete:
		if err := h.authorize(c, scope, vmDelete); err != nil {
			return err
		}
		return deleteResult(c, h.Resources.DeleteVM(c.ctx(), sub, rg, name))
	}
	return methodNotAllowed(c)
}

func removeID(ids []string, id string) []string {
	var out []string
	for _, x := range ids {
		if !strings.EqualFold(x, id) {
			out = append(out, x)
		}
	}
	return out
}

// maxCredentialName bounds a machine credential's display name.
const maxCredentialName = 128

// vmCredentials is Coffer's extension for machine credentials:
// POST …/cofferCredentials issues one (shown once; an optional body
// {"displayName": "x"} names it and replaces the VM's credentials of that
// name), DELETE …/cofferCredentials revokes all, DELETE
// …/cofferCredentials/{keyId} revokes one.
func (h *Handler) vmCredentials(c *call, sub, rg, name, keyID string) error {
	scope := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name
	if err := h.authorize(c, scope, vmCredentials); err != nil {
		return err
	}
	switch {
	case c.r.Method == http.MethodPost && keyID == "":
		// The body is optional (older clients send none):
		// {"displayName": "x"} names the credential and replaces the VM's
		// credentials of that name; {"expiresOn": RFC 3339 time} makes it
		// stop working then.
		var body struct {
			DisplayName string     `json:"displayName"`
			ExpiresOn   *time.Time `json:"expiresOn"`
		}
		raw, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return armErr(errs.TooLarge, "RequestEntityTooLarge", "The request body is too large.")
			}
			return armErr(errs.Invalid, "InvalidRequestContent", "The request content could not be read.")
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			c.r.Body = io.NopCloser(bytes.NewReader(raw))
			if err := decode(c, &body); err != nil {
				return err
			}
		}
		if len(body.DisplayName) > maxCredentialName {
			return armErr(errs.Invalid, "InvalidRequestContent", "The credential's displayName must be at most 128 characters long.")
		}
		var expires time.Time
		if body.ExpiresOn != nil {
			expires = *body.ExpiresOn
		}
		cred, id, err := h.Resources.NewCredentialWith(c.ctx(), sub, rg, name, resources.CredentialOptions{Name: body.DisplayName, Expires: expires})
		if errs.KindOf(err) == errs.Invalid {
			return armErr(errs.Invalid, "InvalidRequestContent", "The property 'expiresOn' must be a time in the future.")
		}
		if err != nil {
			return err
		}
		out := wire.MachineCredential{KeyID: id, Credential: cred, DisplayName: body.DisplayName}
		if !expires.IsZero() {
			out.ExpiresOn = expires.UTC().Format(time.RFC3339)
		}
		c.w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(c.w, http.StatusOK, out)
		return nil
	case c.r.Method == http.MethodPatch && keyID != "":
		// {"expiresOn": RFC 3339 time}: renews (or shortens) a live
		// credential; `coffer run` keeps its short-lived one alive so.
		var body struct {
			ExpiresOn *time.Time `json:"expiresOn"`
		}
		if err := decode(c, &body); err != nil {
			return err
		}
		if body.ExpiresOn == nil {
			return armErr(errs.Invalid, "InvalidRequestContent", "The property 'expiresOn' is required.")
		}
		cred, err := h.Resources.ExtendCredential(c.ctx(), sub, rg, name, keyID, *body.ExpiresOn)
		switch errs.KindOf(err) {
		case errs.Invalid:
			return armErr(errs.Invalid, "InvalidRequestContent", "The property 'expiresOn' must be a time in the future.")
		case errs.NotExist:
			if _, verr := h.Resources.VM(c.ctx(), sub, rg, name); verr != nil {
				return verr
			}
			return armErr(errs.NotExist, "CredentialNotFound", "The credential '"+keyID+"' was not found on virtual machine '"+name+"' (revoked or expired).")
		}
		if err != nil {
			return err
		}
		httpx.WriteJSON(c.w, http.StatusOK, wire.MachineCredential{KeyID: cred.KeyID, DisplayName: cred.Name, ExpiresOn: cred.Expires.UTC().Format(time.RFC3339)})
		return nil
	case c.r.Method == http.MethodDelete:
		n, err := h.Resources.RevokeCredentials(c.ctx(), sub, rg, name, keyID)
		if err != nil {
			return err
		}
		if keyID != "" && n == 0 {
			return armErr(errs.NotExist, "CredentialNotFound", "The credential '"+keyID+"' was not found on virtual machine '"+name+"'.")
		}
		httpx.WriteJSON(c.w, http.StatusOK, map[string]int{"revoked": n})
		return nil
	}
	return methodNotAllowed(c)
}

func (h *Handler) uamiWire(u *model.UserAssignedIdentity) wire.UserAssignedIdentity {
	out := wire.UserAssignedIdentity{ID: u.ResourceID(), Name: u.Name, Type: "Microsoft.ManagedIdentity/userAssignedIdentities", Location: u.Location, Tags: u.Tags}
	out.Properties.TenantID, out.Properties.PrincipalID, out.Properties.ClientID = u.TenantID, u.PrincipalID, u.ClientID
	return out
}

func (h *Handler) listUAMIs(c *call, sub, rg string) error {
	return listIn(h, c, sub, rg, identityRead, h.Store.ListUAMIs, (*model.UserAssignedIdentity).ResourceID, h.uamiWire)
}

func (h *Handler) uami(c *call, sub, rg, name string) error {
	scope := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
	switch c.r.Method {
	case http.MethodGet:
		if err := h.authorize(c, scope, identityRead); err != nil {
			return err
		}
		u, err := h.Resources.UAMI(c.ctx(), sub, rg, name)
		if err != nil {
			return err
		}
		httpx.WriteJSON(c.w, http.StatusOK, h.uamiWire(u))
		return nil
	case http.MethodPut, http.MethodPatch:
		if err := h.authorize(c, scope, identityWrite); err != nil {
			return err
		}
		var body struct {
			Location string            `json:"location"`
			Tags     map[string]string `json:"tags"`
		}
		if err := decode(c, &body); err != nil {
			return err
		}
		u, created, err := h.Resources.CreateOrUpdateUAMI(c.ctx(), sub, rg, name, body.Location, body.Tags)
		if err != nil {
			return err
		}
		return writeUpsert(c, created, h.uamiWire(u))
	case http.MethodDelete:
		if err := h.authorize(c, scope, identityDelete); err != nil {
			return err
		}
		return deleteResult(c, h.Resources.DeleteUAMI(c.ctx(), sub, rg, name))
	}
	return methodNotAllowed(c)
}
