package keyvault

import (
	"net/http"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/policy"
)

// Secure key release (POST /keys/{name}[/{version}]/release) hands an
// exportable key's private part, wrapped for the target, to a caller
// whose attestation token (the "target") satisfies the key's release
// policy. Coffer has no attestation service whose tokens it could trust,
// so it releases nothing: the route exists, the caller is authorized
// (the "release" permission or dataAction), the body and the key are
// checked as Key Vault checks them, and then the release is refused.
// The refusal texts are Coffer's own: Key Vault's answers for a
// non-exportable key and for a token it cannot verify are not documented.
var routesReleaseKey = methods{"POST": (*Handler).releaseKey}

func (h *Handler) releaseKey(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.ReleaseKey, req.name())
	if err != nil {
		return err
	}
	var body struct {
		Target string `json:"target"`
		Nonce  string `json:"nonce,omitempty"`
		Enc    string `json:"enc,omitempty"`
	}
	if err := decode(req, &body); err != nil {
		return err
	}
	if body.Target == "" {
		return badParameter("Property target is required.")
	}
	version := ""
	if len(req.segs) == 4 {
		version = req.segs[2]
	}
	_, ver, err := h.Vaults.GetKey(req.r.Context(), v, req.name(), version)
	if err != nil {
		return err
	}
	if !ver.Exportable {
		return badParameter("The key is not exportable; only an exportable key with a release policy can be released.")
	}
	return errs.E(errs.Permission, errs.Code("Forbidden"),
		errs.Msg("The target attestation token cannot be verified: this vault has no trusted attestation service, so it releases no key."))
}
