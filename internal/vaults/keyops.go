package vaults

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/model"
)

// KeyOpParams is one cryptographic operation on a key version. For verify,
// Value is the signature and Digest what was signed; for sign, Digest.
type KeyOpParams struct {
	Op     string // a keys.Op* name: encrypt, decrypt, wrapKey, unwrapKey, sign, verify
	Alg    string
	Value  []byte
	Digest []byte
}

// KeyOpResult is the outcome: Value for encrypt/decrypt/wrap/unwrap/sign,
// Verified for verify.
type KeyOpResult struct {
	Version  string
	Value    []byte
	Verified bool
}

// Operations refused on a disabled key (those needing the private key), and
// on a key outside its nbf/exp window (those producing new protected
// data); the others stay available so that data protected before can still
// be read and checked, as Key Vault documents for exp.
var (
	refusedWhenDisabled = []string{keys.OpDecrypt, keys.OpSign, keys.OpUnwrapKey}
	refusedOutsideTime  = []string{keys.OpEncrypt, keys.OpSign, keys.OpWrapKey}
)

// KeyOperation performs a cryptographic operation with one key version
// (latest when version is empty), enforcing key_ops and the attributes.
func (s *Service) KeyOperation(ctx context.Context, v *model.Vault, name, version string, p KeyOpParams) (*KeyOpResult, error) {
	const op errs.Op = "vaults.KeyOperation"
	k, ver, err := s.lookupKey(ctx, op, v, name, version)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ver.KeyOps, p.Op) {
		return nil, errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("KeyOperationForbidden"),
			errs.Msg(fmt.Sprintf("Operation %s is not permitted on this key.", p.Op)))
	}
	if !ver.Enabled && slices.Contains(refusedWhenDisabled, p.Op) {
		return nil, errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("KeyDisabled"),
			errs.Msg(fmt.Sprintf("Operation %s is not allowed on a disabled key.", p.Op)))
	}
	if slices.Contains(refusedOutsideTime, p.Op) {
		now := s.Now().Unix()
		if ver.Expires != nil && now >= *ver.Expires {
			return nil, errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("KeyExpired"),
				errs.Msg(fmt.Sprintf("Operation %s is not allowed on an expired key.", p.Op)))
		}
		if ver.NotBefore != nil && now < *ver.NotBefore {
			return nil, errs.E(op, errs.Permission, errs.Code("Forbidden"), errs.Inner("KeyNotYetValid"),
				errs.Msg(fmt.Sprintf("Operation %s is not allowed on a key that is not yet valid.", p.Op)))
		}
	}
	priv, err := s.privateKey(ctx, op, v, k, ver)
	if err != nil {
		return nil, err
	}
	res := &KeyOpResult{Version: ver.Version}
	switch p.Op {
	case keys.OpEncrypt, keys.OpWrapKey:
		res.Value, err = keys.Encrypt(priv.Public(), p.Alg, p.Value)
	case keys.OpDecrypt, keys.OpUnwrapKey:
		res.Value, err = keys.Decrypt(priv, p.Alg, p.Value)
	case keys.OpSign:
		res.Value, err = keys.Sign(priv, p.Alg, p.Digest)
	case keys.OpVerify:
		res.Verified, err = keys.Verify(priv.Public(), p.Alg, p.Digest, p.Value)
	default:
		return nil, errs.E(op, errs.Internal, "unknown key operation "+p.Op)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return res, nil
}

// RotateKey adds a version of the same type, size or curve, key_ops and
// tags as the latest one; its expiry follows the rotation policy's
// expiryTime when one is set.
func (s *Service) RotateKey(ctx context.Context, v *model.Vault, name string) (*model.Key, *model.KeyVersion, error) {
	const op errs.Op = "vaults.RotateKey"
	k, latest, err := s.lookupKey(ctx, op, v, name, "")
	if err != nil {
		return nil, nil, err
	}
	if latest.Managed {
		return nil, nil, managedByKeyVault(op, "rotate", "KeyManagedByKeyVault")
	}
	size := 0
	if keys.BaseKty(latest.Kty) == keys.RSA {
		n, err := keys.DecodeB64(latest.N)
		if err != nil {
			return nil, nil, errs.E(op, errs.Internal, err)
		}
		size = len(n) * 8
	}
	priv, err := keys.Generate(latest.Kty, size, 0, latest.Crv)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	p := KeyParams{KeyOps: latest.KeyOps, Tags: latest.Tags}
	if k.RotationPolicy != nil && k.RotationPolicy.ExpiryTime != "" {
		d, _ := parseISODuration(k.RotationPolicy.ExpiryTime)
		exp := d.addTo(s.Now()).Unix()
		p.Attributes.Expires = &exp
	}
	ver, err := s.newKeyVersion(op, latest.Kty, priv, p)
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	return s.addKeyVersion(ctx, op, v, k.Name, ver, priv, true)
}

// GetKeyRotationPolicy returns the key's policy, or nil when none was set
// (the transport then answers with Key Vault's default).
func (s *Service) GetKeyRotationPolicy(ctx context.Context, v *model.Vault, name string) (*model.Key, error) {
	k, _, err := s.lookupKey(ctx, "vaults.GetKeyRotationPolicy", v, name, "")
	return k, err
}

// SetKeyRotationPolicy validates and stores a rotation policy.
func (s *Service) SetKeyRotationPolicy(ctx context.Context, v *model.Vault, name string, pol model.KeyRotationPolicy) (*model.Key, error) {
	const op errs.Op = "vaults.SetKeyRotationPolicy"
	if !ValidSecretName(name) {
		return nil, invalidName(op, name)
	}
	// Key Vault's documented limits: an expiry of at least 28 days; a
	// trigger at least 7 days after creation and at least 7 days before
	// the expiry; one Rotate and one Notify at most. Its error texts for
	// them are not published, so these are Coffer's.
	var expiry time.Duration
	if pol.ExpiryTime != "" {
		d, ok := parseISODuration(pol.ExpiryTime)
		if !ok {
			return nil, badParameter(op, "The expiryTime '"+pol.ExpiryTime+"' is not a valid ISO 8601 duration.")
		}
		if d.approx() < minRotationExpiry {
			return nil, badParameter(op, "The expiryTime must be at least 28 days (P28D).")
		}
		expiry = d.approx()
	}
	rotates, notifies := 0, 0
	for i := range pol.LifetimeActions {
		a := &pol.LifetimeActions[i]
		switch {
		case strings.EqualFold(a.Action, "Rotate"):
			a.Action = "Rotate"
			rotates++
		case strings.EqualFold(a.Action, "Notify"):
			a.Action = "Notify"
			notifies++
		default:
			return nil, badParameter(op, "The lifetime action type '"+a.Action+"' is invalid. Valid types are: Rotate, Notify.")
		}
		if (a.TimeAfterCreate == "") == (a.TimeBeforeExpiry == "") {
			return nil, badParameter(op, "A lifetime action trigger must set exactly one of timeAfterCreate and timeBeforeExpiry.")
		}
		for _, d := range []string{a.TimeAfterCreate, a.TimeBeforeExpiry} {
			if d == "" {
				continue
			}
			iso, ok := parseISODuration(d)
			if !ok {
				return nil, badParameter(op, "The trigger '"+d+"' is not a valid ISO 8601 duration.")
			}
			if iso.approx() < minRotationTrigger {
				return nil, badParameter(op, "The trigger '"+d+"' is shorter than the minimum of 7 days (P7D).")
			}
			if expiry != 0 && iso.approx() > expiry-minRotationTrigger {
				return nil, badParameter(op, "The trigger '"+d+"' must fall at least 7 days after creation and at least 7 days before the expiryTime '"+pol.ExpiryTime+"'.")
			}
		}
		if a.Action == "Notify" && a.TimeBeforeExpiry == "" {
			return nil, badParameter(op, "A Notify action must be triggered by timeBeforeExpiry.")
		}
	}
	if rotates > 1 {
		return nil, badParameter(op, "A rotation policy may have at most one Rotate action.")
	}
	if notifies > 1 {
		return nil, badParameter(op, "A rotation policy may have at most one Notify action.")
	}
	now := s.Now().Unix()
	var out model.Key
	err := s.Store.UpdateKeyHead(ctx, v.Name, name, func(k *model.Key, exists bool) (bool, error) {
		if !exists || k.Deleted != nil {
			return exists, keyNotFound(op, name, "")
		}
		pol.Created, pol.Updated = now, now
		if k.RotationPolicy != nil && k.RotationPolicy.Created != 0 {
			pol.Created = k.RotationPolicy.Created
		}
		k.RotationPolicy = &pol
		out = *k
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
}

// Limits of a rotation policy, as Key Vault documents them.
const (
	minRotationExpiry  = 28 * 24 * time.Hour
	minRotationTrigger = 7 * 24 * time.Hour
)

// isoDuration is an ISO 8601 duration (PnYnMnWnDTnHnMnS).
type isoDuration struct {
	years, months, days int
	clock               time.Duration
}

var isoDurationRE = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

func parseISODuration(s string) (isoDuration, bool) {
	m := isoDurationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return isoDuration{}, false
	}
	n := make([]int, 8)
	for i := 1; i < 8; i++ {
		if m[i] != "" {
			v, err := strconv.Atoi(m[i])
			if err != nil || v > 100000 {
				return isoDuration{}, false
			}
			n[i] = v
		}
	}
	return isoDuration{years: n[1], months: n[2], days: n[3]*7 + n[4],
		clock: time.Duration(n[5])*time.Hour + time.Duration(n[6])*time.Minute + time.Duration(n[7])*time.Second}, true
}

func (d isoDuration) addTo(t time.Time) time.Time {
	return t.AddDate(d.years, d.months, d.days).Add(d.clock)
}

func (d isoDuration) approx() time.Duration {
	return time.Duration(d.years*365+d.months*30+d.days)*24*time.Hour + d.clock
}

// keyBackupMarker starts key backup blobs, like the secret backups' marker.
const keyBackupMarker = "AzureKeyVaultKeyBackupV1.microsoft.com"

type keyBackupPayload struct {
	Key      model.Key `json:"key"`
	Material [][]byte  `json:"material"` // PKCS#8, one per version, in order
}

// BackupKey returns a sealed blob with every version of a live key, its
// private material included; only this Coffer instance can open it.
func (s *Service) BackupKey(ctx context.Context, v *model.Vault, name string) ([]byte, error) {
	return s.backupKey(ctx, v, name, false)
}

// backupKey is BackupKey; managedOK lets a certificate's backup take its
// own key, which the keys API may not.
func (s *Service) backupKey(ctx context.Context, v *model.Vault, name string, managedOK bool) ([]byte, error) {
	const op errs.Op = "vaults.BackupKey"
	k, err := s.lookupKeyAll(ctx, op, v, name)
	if err != nil {
		return nil, err
	}
	if !managedOK && k.Latest().Managed {
		return nil, managedByKeyVault(op, "backup", "KeyManagedByKeyVault")
	}
	if len(k.Versions) > MaxVersionsInBackup {
		return nil, badParameter(op, fmt.Sprintf("The key has more than %d versions and cannot be backed up.", MaxVersionsInBackup))
	}
	p := keyBackupPayload{Key: *k}
	for _, ver := range k.Versions {
		der, err := s.Store.GetKeyMaterial(ctx, v.Name, k.Name, ver.Version)
		if err != nil {
			return nil, errs.E(op, err)
		}
		p.Material = append(p.Material, der)
	}
	return s.sealBackup(op, keyBackupMarker, p)
}

// RestoreKey recreates a key, with all of its versions and their ids, from
// a blob made by BackupKey. The name must be free in the vault.
func (s *Service) RestoreKey(ctx context.Context, v *model.Vault, blob []byte) (*model.Key, error) {
	const op errs.Op = "vaults.RestoreKey"
	malformed := badParameter(op, "Backup blob is malformed or was not produced by this service.")
	var p keyBackupPayload
	if !s.openBackup(keyBackupMarker, blob, &p) || !ValidSecretName(p.Key.Name) || len(p.Key.Versions) == 0 || len(p.Material) != len(p.Key.Versions) {
		return nil, malformed
	}
	name := p.Key.Name
	taken := func(k *model.Key) error {
		if k.Deleted != nil {
			return keyDeletedButRecoverable(op, k.Name)
		}
		return errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Key %s already exists in this vault.", k.Name)))
	}
	if cur, err := s.Store.GetKeyHead(ctx, v.Name, name); err == nil {
		return nil, taken(cur)
	} else if errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	material := make(map[string][]byte, len(p.Material))
	for i, der := range p.Material {
		if len(p.Key.Versions[i].Version) != 32 {
			return nil, malformed
		}
		if _, err := keys.Parse(der); err != nil {
			return nil, malformed
		}
		material[p.Key.Versions[i].Version] = der
	}
	rec := p.Key
	rec.Deleted = nil
	if err := s.Store.CreateKey(ctx, v.Name, &rec, material); errs.KindOf(err) == errs.Exist {
		// Lost a race with a create of the same name.
		if cur, err := s.Store.GetKeyHead(ctx, v.Name, name); err == nil {
			return nil, taken(cur)
		}
		return nil, errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Key %s already exists in this vault.", name)))
	} else if err != nil {
		return nil, errs.E(op, err)
	}
	return &rec, nil
}
