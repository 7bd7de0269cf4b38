package graph

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// maxPasswords per application or service principal.
const maxPasswords = 100

// owner resolves the object whose passwords a request changes: the
// application, or (onSP) the service principal, which must not be a
// managed identity (Entra manages their credentials).
func (h *Handler) owner(r *http.Request, id ref, onSP bool) (*model.Principal, error) {
	if !onSP {
		return h.application(r.Context(), id)
	}
	p, err := h.servicePrincipal(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if p.Type == model.PrincipalManagedIdentity {
		return nil, badRequest("The credentials of a managed identity are managed by the platform and cannot be changed.")
	}
	return p, nil
}

// addPassword answers POST /applications/{id}/addPassword and
// /servicePrincipals/{id}/addPassword: the only response that carries the
// secret text.
func (h *Handler) addPassword(w http.ResponseWriter, r *http.Request, id ref, onSP bool) error {
	var body struct {
		PasswordCredential struct {
			DisplayName string     `json:"displayName"`
			EndDateTime *time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	p, err := h.owner(r, id, onSP)
	if err != nil {
		return err
	}
	now := h.Now()
	secret, cred := identity.NewClientSecret(now)
	cred.Name = body.PasswordCredential.DisplayName
	cred.Expires = now.Add(DefaultSecretLifetime)
	cred.ServicePrincipal = onSP
	if e := body.PasswordCredential.EndDateTime; e != nil {
		if !e.After(now) {
			return badRequest("endDateTime must be in the future.")
		}
		cred.Expires = *e
	}
	if err := h.Store.UpdatePrincipal(r.Context(), p.ObjectID, func(cur *model.Principal) error {
		n := 0
		for _, c := range cur.Credentials {
			if c.ServicePrincipal == onSP {
				n++
			}
		}
		if n >= maxPasswords {
			return badRequest("An application or service principal can have at most 100 password credentials.")
		}
		cur.Credentials = append(cur.Credentials, cred)
		return nil
	}); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"@odata.context": h.odataContext("microsoft.graph.passwordCredential"),
		"keyId":          cred.KeyID, "displayName": cred.Name, "hint": cred.Hint, "secretText": secret,
		"startDateTime": graphTime(cred.Created), "endDateTime": graphTime(cred.Expires),
		"customKeyIdentifier": nil,
	})
	return nil
}

// removePassword answers POST …/removePassword; a password of the
// application cannot be removed through the service principal, nor the
// reverse, as in Graph.
func (h *Handler) removePassword(w http.ResponseWriter, r *http.Request, id ref, onSP bool) error {
	var body struct {
		KeyID string `json:"keyId"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if _, err := uuid.Parse(body.KeyID); err != nil {
		return badRequest("Property 'keyId' must be a GUID.")
	}
	p, err := h.owner(r, id, onSP)
	if err != nil {
		return err
	}
	found := false
	if err := h.Store.UpdatePrincipal(r.Context(), p.ObjectID, func(cur *model.Principal) error {
		found = false
		kept := cur.Credentials[:0]
		for _, c := range cur.Credentials {
			if c.ServicePrincipal == onSP && strings.EqualFold(c.KeyID, body.KeyID) {
				found = true
				continue
			}
			kept = append(kept, c)
		}
		cur.Credentials = kept
		return nil
	}); err != nil {
		return err
	}
	if !found {
		return notFound(body.KeyID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
