package keyvault

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/vaults"
	"github.com/coffer-dev/coffer/internal/wire"
)

// keyOpRoutes maps the operation path segment to the operation.
var keyOpRoutes = map[string]struct {
	op     string
	action policy.Action
}{
	"encrypt":   {keys.OpEncrypt, policy.EncryptKey},
	"decrypt":   {keys.OpDecrypt, policy.DecryptKey},
	"wrapkey":   {keys.OpWrapKey, policy.WrapKey},
	"unwrapkey": {keys.OpUnwrapKey, policy.UnwrapKey},
	"sign":      {keys.OpSign, policy.SignKey},
	"verify":    {keys.OpVerify, policy.VerifyKey},
}

// keyRoute routes /keys and /deletedkeys paths; pick is route's helper.
// Key routes, built once like the secret routes (see methods).
var (
	routesDeletedKeys  = methods{"GET": (*Handler).listDeletedKeys}
	routesDeletedKey   = methods{"GET": (*Handler).getDeletedKey, "DELETE": (*Handler).purgeDeletedKey}
	routesRecoverKey   = methods{"POST": (*Handler).recoverDeletedKey}
	routesKeys         = methods{"GET": (*Handler).listKeys}
	routesKey          = methods{"GET": (*Handler).getKey, "PUT": (*Handler).importKey, "PATCH": (*Handler).updateKey, "DELETE": (*Handler).deleteKey}
	routesKeyVersion   = methods{"GET": (*Handler).getKey, "PATCH": (*Handler).updateKey}
	routesCreateKey    = methods{"POST": (*Handler).createKey}
	routesBackupKey    = methods{"POST": (*Handler).backupKey}
	routesRotateKey    = methods{"POST": (*Handler).rotateKey}
	routesRotationPol  = methods{"GET": (*Handler).getRotationPolicy, "PUT": (*Handler).setRotationPolicy}
	routesKeyOperation = methods{"POST": (*Handler).keyOperation}
)

// pickKeyRoute is pickRoute for /keys and /deletedkeys paths.
func pickKeyRoute(method string, segs []string, pick func(methods, ...string) (op, []string, bool)) (op, []string, bool) {
	if segs[0] == "deletedkeys" {
		switch len(segs) {
		case 1:
			return pick(routesDeletedKeys)
		case 2:
			return pick(routesDeletedKey)
		case 3:
			if strings.EqualFold(segs[2], "recover") {
				return pick(routesRecoverKey)
			}
		}
		return nil, nil, false
	}
	switch len(segs) {
	case 1:
		return pick(routesKeys)
	case 2:
		if strings.EqualFold(segs[1], "restore") && method == http.MethodPost {
			return (*Handler).restoreKey, nil, true
		}
		return pick(routesKey)
	case 3:
		switch s := strings.ToLower(segs[2]); {
		case s == "create":
			return pick(routesCreateKey)
		case s == "versions" && method == http.MethodGet:
			return (*Handler).listKeyVersions, nil, true
		case s == "backup":
			return pick(routesBackupKey)
		case s == "rotate":
			return pick(routesRotateKey)
		case s == "rotationpolicy":
			return pick(routesRotationPol)
		case s == "release":
			return pick(routesReleaseKey)
		default:
			// An SDK asked for the latest version sends /keys/{name}//sign,
			// which collapses to this; versions are hex, never op names.
			if _, ok := keyOpRoutes[s]; ok {
				return pick(routesKeyOperation)
			}
		}
		return pick(routesKeyVersion)
	case 4:
		if _, ok := keyOpRoutes[strings.ToLower(segs[3])]; ok {
			return pick(routesKeyOperation)
		}
		if strings.EqualFold(segs[3], "release") {
			return pick(routesReleaseKey)
		}
	}
	return nil, nil, false
}

// keyVersion is the version segment of /keys/{name}/{version}[/{op}], ""
// for the latest.
func (req *request) keyVersion() string {
	if len(req.segs) > 2 {
		if _, isOp := keyOpRoutes[strings.ToLower(req.segs[2])]; !isOp {
			return req.segs[2]
		}
	}
	return ""
}

// openKey loads the vault and authorizes a key action, as open does for
// secrets.
func (h *Handler) openKey(req *request, a policy.Action, name string) (*model.Vault, error) {
	return h.openFor(req, a, name, h.Vaults.AuthorizeKey)
}

func (req *request) keyID(name, version string) string {
	id := req.base() + "/keys/" + name
	if version != "" {
		id += "/" + version
	}
	return id
}

// hasExportable: the exportable attribute exists from 7.3 on.
func (req *request) hasExportable() bool {
	if !req.api.hasRecoverableDays {
		return false
	}
	return !strings.HasPrefix(req.api.raw, "7.1") && !strings.HasPrefix(req.api.raw, "7.2")
}

func (req *request) keyAttributes(v *model.Vault, ver *model.KeyVersion) wire.KeyAttributes {
	enabled := ver.Enabled
	a := wire.KeyAttributes{
		Enabled: &enabled, NotBefore: ver.NotBefore, Expires: ver.Expires,
		Created: ver.Created, Updated: ver.Updated, RecoveryLevel: v.RecoveryLevel(),
	}
	if req.api.hasRecoverableDays {
		a.RecoverableDays = v.RecoverableDays()
	}
	if req.hasExportable() {
		exp := ver.Exportable
		a.Exportable = &exp
	}
	return a
}

func (req *request) jwk(name string, ver *model.KeyVersion) wire.JSONWebKey {
	ops := ver.KeyOps
	if ops == nil {
		ops = []string{}
	}
	return wire.JSONWebKey{Kid: req.keyID(name, ver.Version), Kty: ver.Kty, KeyOps: ops,
		N: ver.N, E: ver.E, Crv: ver.Crv, X: ver.X, Y: ver.Y}
}

func (req *request) keyBundle(v *model.Vault, k *model.Key, ver *model.KeyVersion) wire.KeyBundle {
	return wire.KeyBundle{Key: req.jwk(k.Name, ver), Attributes: req.keyAttributes(v, ver), Tags: ver.Tags, ReleasePolicy: ver.ReleasePolicy, Managed: ver.Managed}
}

func (req *request) deletedKeyBundle(v *model.Vault, k *model.Key) wire.DeletedKeyBundle {
	ver := k.Latest()
	b := wire.DeletedKeyBundle{Key: req.jwk(k.Name, ver), Attributes: req.keyAttributes(v, ver), Tags: ver.Tags, ReleasePolicy: ver.ReleasePolicy, Managed: ver.Managed}
	if k.Deleted != nil {
		b.RecoveryID = req.base() + "/deletedkeys/" + k.Name
		b.DeletedDate = k.Deleted.DeletedDate
		b.ScheduledPurgeDate = k.Deleted.ScheduledPurgeDate
	}
	return b
}

func toKeyAttributes(a *wire.KeyAttributes) (vaults.Attributes, *bool) {
	if a == nil {
		return vaults.Attributes{}, nil
	}
	return vaults.Attributes{Enabled: a.Enabled, NotBefore: a.NotBefore, Expires: a.Expires}, a.Exportable
}

func (h *Handler) createKey(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.CreateKey, req.name())
	if err != nil {
		return err
	}
	var body wire.KeyCreateParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	attrs, exportable := toKeyAttributes(body.Attributes)
	p := vaults.CreateKeyParams{Kty: body.Kty, Crv: body.Crv, KeyParams: vaults.KeyParams{
		KeyOps: body.KeyOps, Tags: body.Tags, Attributes: attrs, Exportable: exportable, ReleasePolicy: body.ReleasePolicy,
	}}
	if body.KeySize != nil {
		if *body.KeySize <= 0 {
			return badParameter("Invalid key size " + strconv.Itoa(*body.KeySize) + ".")
		}
		p.Size = *body.KeySize
	}
	if body.PublicExponent != nil {
		if *body.PublicExponent <= 0 {
			return badParameter("Invalid public exponent " + strconv.Itoa(*body.PublicExponent) + ".")
		}
		p.Exponent = *body.PublicExponent
	}
	k, ver, err := h.Vaults.CreateKey(req.r.Context(), v, req.name(), p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.keyBundle(v, k, ver))
	return nil
}

func (h *Handler) importKey(w http.ResponseWriter, req *request) error {
	if req.trail {
		return badParameter("The request URI contains an invalid name: " + req.name() + "/")
	}
	v, err := h.openKey(req, policy.ImportKey, req.name())
	if err != nil {
		return err
	}
	var body wire.KeyImportParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	attrs, exportable := toKeyAttributes(body.Attributes)
	k, ver, err := h.Vaults.ImportKey(req.r.Context(), v, req.name(), body.Key, body.HSM != nil && *body.HSM, vaults.KeyParams{
		Tags: body.Tags, Attributes: attrs, Exportable: exportable, ReleasePolicy: body.ReleasePolicy,
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.keyBundle(v, k, ver))
	return nil
}

func (h *Handler) getKey(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.GetKey, req.name())
	if err != nil {
		return err
	}
	k, ver, err := h.Vaults.GetKeyVersion(req.r.Context(), v, req.name(), req.keyVersion())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.keyBundle(v, k, ver))
	return nil
}

func (h *Handler) updateKey(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.UpdateKey, req.name())
	if err != nil {
		return err
	}
	var body wire.KeyUpdateParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	attrs, _ := toKeyAttributes(body.Attributes)
	p := vaults.KeyUpdateParams{KeyOps: body.KeyOps, Attributes: attrs, ReleasePolicy: body.ReleasePolicy}
	if body.Tags != nil {
		p.Tags, p.TagsSet = *body.Tags, true
	}
	k, ver, err := h.Vaults.UpdateKey(req.r.Context(), v, req.name(), req.keyVersion(), p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.keyBundle(v, k, ver))
	return nil
}

func (h *Handler) deleteKey(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openKey, policy.DeleteKey, h.Vaults.DeleteKey, req.deletedKeyBundle)
}

func (h *Handler) getDeletedKey(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openKey, policy.GetKey, h.Vaults.GetDeletedKey, req.deletedKeyBundle)
}

func (h *Handler) purgeDeletedKey(w http.ResponseWriter, req *request) error {
	return servePurge(w, req, h.openKey, policy.PurgeKey, h.Vaults.PurgeDeletedKey)
}

func (h *Handler) recoverDeletedKey(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.openKey, policy.RecoverKey, h.Vaults.RecoverDeletedKey, req.latestKeyBundle)
}

func (h *Handler) backupKey(w http.ResponseWriter, req *request) error {
	return serveBackup(w, req, h.openKey, policy.BackupKey, h.Vaults.BackupKey)
}

func (h *Handler) restoreKey(w http.ResponseWriter, req *request) error {
	return serveRestore(w, req, h.openKey, policy.RestoreKey, h.Vaults.RestoreKey, req.latestKeyBundle)
}

func (h *Handler) rotateKey(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.RotateKey, req.name())
	if err != nil {
		return err
	}
	k, ver, err := h.Vaults.RotateKey(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.keyBundle(v, k, ver))
	return nil
}

func (req *request) rotationPolicy(k *model.Key) wire.KeyRotationPolicy {
	out := wire.KeyRotationPolicy{ID: req.keyID(k.Name, "") + "/rotationpolicy"}
	p := k.RotationPolicy
	if p == nil {
		// What Key Vault answers for a key that never had a policy set.
		out.LifetimeActions = []wire.KeyLifetimeAction{{Trigger: wire.KeyLifetimeTrigger{TimeBeforeExpiry: "P30D"}, Action: wire.KeyLifetimeType{Type: "Notify"}}}
		out.Attributes = &wire.KeyRotationPolicyAttributes{}
		return out
	}
	out.LifetimeActions = make([]wire.KeyLifetimeAction, 0, len(p.LifetimeActions))
	for _, a := range p.LifetimeActions {
		out.LifetimeActions = append(out.LifetimeActions, wire.KeyLifetimeAction{
			Trigger: wire.KeyLifetimeTrigger{TimeAfterCreate: a.TimeAfterCreate, TimeBeforeExpiry: a.TimeBeforeExpiry},
			Action:  wire.KeyLifetimeType{Type: a.Action},
		})
	}
	out.Attributes = &wire.KeyRotationPolicyAttributes{ExpiryTime: p.ExpiryTime, Created: p.Created, Updated: p.Updated}
	return out
}

func (h *Handler) getRotationPolicy(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.GetRotationPolicy, req.name())
	if err != nil {
		return err
	}
	k, err := h.Vaults.GetKeyRotationPolicy(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.rotationPolicy(k))
	return nil
}

func (h *Handler) setRotationPolicy(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.SetRotationPolicy, req.name())
	if err != nil {
		return err
	}
	var body wire.KeyRotationPolicy
	if err := decode(req, &body); err != nil {
		return err
	}
	pol := model.KeyRotationPolicy{LifetimeActions: []model.KeyLifetimeAction{}}
	if body.Attributes != nil {
		pol.ExpiryTime = body.Attributes.ExpiryTime
	}
	for _, a := range body.LifetimeActions {
		pol.LifetimeActions = append(pol.LifetimeActions, model.KeyLifetimeAction{
			TimeAfterCreate: a.Trigger.TimeAfterCreate, TimeBeforeExpiry: a.Trigger.TimeBeforeExpiry, Action: a.Action.Type,
		})
	}
	k, err := h.Vaults.SetKeyRotationPolicy(req.r.Context(), v, req.name(), pol)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.rotationPolicy(k))
	return nil
}

// b64Param decodes a required base64url request property.
func b64Param(name, v string) ([]byte, error) {
	if v == "" {
		return nil, badParameter("The parameter '" + name + "' is required.")
	}
	b, err := keys.DecodeB64(v)
	if err != nil {
		return nil, badParameter("The parameter '" + name + "' is not valid base64url.")
	}
	return b, nil
}

func (h *Handler) keyOperation(w http.ResponseWriter, req *request) error {
	route := keyOpRoutes[strings.ToLower(req.segs[len(req.segs)-1])]
	v, err := h.openKey(req, route.action, req.name())
	if err != nil {
		return err
	}
	p := vaults.KeyOpParams{Op: route.op}
	switch route.op {
	case keys.OpSign:
		var body wire.KeySignParameters
		if err := decode(req, &body); err != nil {
			return err
		}
		p.Alg = body.Alg
		if p.Digest, err = b64Param("value", body.Value); err != nil {
			return err
		}
	case keys.OpVerify:
		var body wire.KeyVerifyParameters
		if err := decode(req, &body); err != nil {
			return err
		}
		p.Alg = body.Alg
		if p.Digest, err = b64Param("digest", body.Digest); err != nil {
			return err
		}
		if p.Value, err = b64Param("value", body.Value); err != nil {
			return err
		}
	default:
		var body wire.KeyOperationsParameters
		if err := decode(req, &body); err != nil {
			return err
		}
		p.Alg = body.Alg
		if p.Value, err = b64Param("value", body.Value); err != nil {
			return err
		}
	}
	if p.Alg == "" {
		return badParameter("The parameter 'alg' is required.")
	}
	res, err := h.Vaults.KeyOperation(req.r.Context(), v, req.name(), req.keyVersion(), p)
	if err != nil {
		return err
	}
	if route.op == keys.OpVerify {
		httpx.WriteJSON(w, http.StatusOK, wire.KeyVerifyResult{Value: res.Verified})
		return nil
	}
	httpx.WriteJSON(w, http.StatusOK, wire.KeyOperationResult{Kid: req.keyID(req.name(), res.Version), Value: base64.RawURLEncoding.EncodeToString(res.Value)})
	return nil
}

func upperKeyName(k model.Key) string { return strings.ToUpper(k.Name) }

func (h *Handler) listKeys(w http.ResponseWriter, req *request) error {
	return h.listKeysOf(w, req, false)
}

func (h *Handler) listDeletedKeys(w http.ResponseWriter, req *request) error {
	return h.listKeysOf(w, req, true)
}

func (h *Handler) listKeysOf(w http.ResponseWriter, req *request, deleted bool) error {
	v, err := h.openKey(req, policy.ListKeys, "")
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	// One page is read from the store's ordered index, as for secrets.
	items, more, err := h.Vaults.ListKeysPage(req.r.Context(), v, p.after, p.max, deleted)
	if err != nil {
		return err
	}
	last := lastKey(items, more, upperKeyName)
	if deleted {
		return writeItems(w, req, p, items, last, "/deletedkeys", func(k *model.Key) wire.DeletedKeyItem {
			b := req.deletedKeyBundle(v, k)
			return wire.DeletedKeyItem{RecoveryID: b.RecoveryID, DeletedDate: b.DeletedDate, ScheduledPurgeDate: b.ScheduledPurgeDate,
				Kid: req.keyID(k.Name, ""), Attributes: b.Attributes, Tags: b.Tags, Managed: b.Managed}
		})
	}
	return writeItems(w, req, p, items, last, "/keys", func(k *model.Key) wire.KeyItem {
		ver := k.Latest()
		return wire.KeyItem{Kid: req.keyID(k.Name, ""), Attributes: req.keyAttributes(v, ver), Tags: ver.Tags, Managed: ver.Managed}
	})
}

func (h *Handler) listKeyVersions(w http.ResponseWriter, req *request) error {
	v, err := h.openKey(req, policy.ListKeys, req.name())
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	k, vers, err := h.Vaults.ListKeyVersions(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	all := byPagingKey(k.Versions, vers, func(v *model.KeyVersion) (string, int64) { return v.Version, v.Created })
	return writePage(w, req, p, all, pagingKey[model.KeyVersion], "/keys/"+k.Name+"/versions", func(it *pagedVersion[model.KeyVersion]) wire.KeyItem {
		return wire.KeyItem{Kid: req.keyID(k.Name, it.ver.Version), Attributes: req.keyAttributes(v, &it.ver), Tags: it.ver.Tags, Managed: it.ver.Managed}
	})
}
