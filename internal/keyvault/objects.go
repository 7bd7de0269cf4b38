package keyvault

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/vaults"
	"github.com/coffer-dev/coffer/internal/wire"
)

// Secrets, keys and certificates answer their lifecycle requests (delete,
// get deleted, recover, purge, backup, restore) the same way; the helpers
// here serve all three, given the kind's opener and service method.

// opener loads the vault of a request and authorizes an action on a named
// object of one kind (h.open, h.openKey, h.openCert).
type opener func(req *request, a policy.Action, name string) (*model.Vault, error)

// authorizer is the service's authorization for one kind of object.
type authorizer func(ctx context.Context, v *model.Vault, c vaults.Caller, a policy.Action, name string) error

// openFor loads the vault and authorizes the action on the named object.
//
// The name is validated first so that no authorization scope is ever built
// from a malformed name; throttling counts only requests to a real vault,
// so its buckets cannot be multiplied by made-up host names.
func (h *Handler) openFor(req *request, a policy.Action, name string, authorize authorizer) (*model.Vault, error) {
	if name != "" && !vaults.ValidSecretName(name) {
		return nil, badParameter("The request URI contains an invalid name: " + name)
	}
	v, err := h.Vaults.OpenVault(req.r.Context(), req.vault)
	if err != nil {
		return nil, err
	}
	if ok, wait := h.Throttle.Allow(v.Name); !ok {
		// Seconds, rounded up: azcore honours Retry-After.
		req.w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return nil, errs.E(errs.TooMany, errs.Code("Throttled"),
			errs.Msg("Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"))
	}
	if err := h.Vaults.CheckNetwork(v, req.caller, peerAddr(req.r)); err != nil {
		return nil, err
	}
	if err := authorize(req.r.Context(), v, req.caller, a, name); err != nil {
		return nil, err
	}
	return v, nil
}

// serveObject runs an operation on the request's named object that
// answers with the object, and renders it.
func serveObject[O, R any](w http.ResponseWriter, req *request, open opener, a policy.Action,
	op func(context.Context, *model.Vault, string) (*O, error), render func(*model.Vault, *O) R) error {
	v, err := open(req, a, req.name())
	if err != nil {
		return err
	}
	o, err := op(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, render(v, o))
	return nil
}

// servePurge purges the request's named soft-deleted object: 204.
func servePurge(w http.ResponseWriter, req *request, open opener, a policy.Action,
	purge func(context.Context, *model.Vault, string) error) error {
	v, err := open(req, a, req.name())
	if err != nil {
		return err
	}
	if err := purge(req.r.Context(), v, req.name()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// serveBackup answers the request's named object's backup blob, base64url.
func serveBackup(w http.ResponseWriter, req *request, open opener, a policy.Action,
	backup func(context.Context, *model.Vault, string) ([]byte, error)) error {
	v, err := open(req, a, req.name())
	if err != nil {
		return err
	}
	blob, err := backup(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, wire.BackupSecretResult{Value: base64.RawURLEncoding.EncodeToString(blob)})
	return nil
}

// serveRestore restores an object from the backup blob in the body and
// renders it.
func serveRestore[O, R any](w http.ResponseWriter, req *request, open opener, a policy.Action,
	restore func(context.Context, *model.Vault, []byte) (*O, error), render func(*model.Vault, *O) R) error {
	v, err := open(req, a, "")
	if err != nil {
		return err
	}
	var body wire.BackupSecretResult
	if err := decode(req, &body); err != nil {
		return err
	}
	blob, err := decodeBase64URL(body.Value)
	if err != nil || body.Value == "" {
		return badParameter("The backup blob is not valid base64url.")
	}
	o, err := restore(req.r.Context(), v, blob)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, render(v, o))
	return nil
}

// latestBundle, latestKeyBundle and latestCertBundle render an object with
// its latest version.
func (req *request) latestBundle(v *model.Vault, sec *model.Secret) wire.SecretBundle {
	return req.bundle(v, sec, sec.Latest(), false)
}

func (req *request) latestKeyBundle(v *model.Vault, k *model.Key) wire.KeyBundle {
	return req.keyBundle(v, k, k.Latest())
}

func (req *request) latestCertBundle(v *model.Vault, c *model.Certificate) wire.CertificateBundle {
	return req.certBundle(v, c, c.Latest())
}
