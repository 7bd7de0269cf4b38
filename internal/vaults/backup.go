package vaults

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/model"
)

// backupMarker starts every backup blob, length-prefixed like Azure's, so
// tooling that sniffs the format recognises it. What follows is Coffer's own
// sealed payload: format byte, AES-GCM nonce, ciphertext of the JSON record.
const backupMarker = "AzureKeyVaultSecretBackupV1.microsoft.com"

const backupFormat byte = 1

// NewBackupAEAD builds the AEAD that seals backup blobs from a 32-byte key.
func NewBackupAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

type backupPayload struct {
	Name     string          `json:"name"`
	Versions []backupVersion `json:"versions"`
}

// backupVersion carries the value, which the stored record does not.
type backupVersion struct {
	model.SecretVersion
	Value string `json:"value"`
}

// markerHeader is a marker, length-prefixed: the start of a blob.
func markerHeader(marker string) []byte {
	return append([]byte{byte(len(marker))}, marker...)
}

// sealBackup seals payload, as JSON, into a blob that starts with marker;
// it cannot be read or altered outside this Coffer instance.
func (s *Service) sealBackup(op errs.Op, marker string, payload any) ([]byte, error) {
	plain, err := json.Marshal(payload)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	nonce := make([]byte, s.Backup.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	out := append(markerHeader(marker), backupFormat)
	out = append(out, nonce...)
	return s.Backup.Seal(out, nonce, plain, markerHeader(marker)), nil
}

// openBackup opens a blob sealed by sealBackup with the same marker into
// payload, and reports whether it was one.
func (s *Service) openBackup(marker string, blob []byte, payload any) bool {
	h := markerHeader(marker)
	ns := s.Backup.NonceSize()
	if len(blob) < len(h)+1+ns || string(blob[:len(h)]) != string(h) || blob[len(h)] != backupFormat {
		return false
	}
	plain, err := s.Backup.Open(nil, blob[len(h)+1:len(h)+1+ns], blob[len(h)+1+ns:], h)
	return err == nil && json.Unmarshal(plain, payload) == nil
}

// BackupSecret returns a sealed blob with every version of a live secret.
// The blob cannot be read or altered outside this Coffer instance.
func (s *Service) BackupSecret(ctx context.Context, v *model.Vault, name string) ([]byte, error) {
	return s.backupSecret(ctx, v, name, false)
}

// backupSecret is BackupSecret; managedOK lets a certificate's backup take
// its own secret, which the secrets API may not.
func (s *Service) backupSecret(ctx context.Context, v *model.Vault, name string, managedOK bool) ([]byte, error) {
	const op errs.Op = "vaults.BackupSecret"
	sec, err := s.lookupAll(ctx, op, v, name)
	if err != nil {
		return nil, err
	}
	if !managedOK && sec.Latest().Managed {
		return nil, managedByKeyVault(op, "backup", "SecretManagedByKeyVault")
	}
	if len(sec.Versions) > MaxVersionsInBackup {
		return nil, badParameter(op, fmt.Sprintf("The secret has more than %d versions and cannot be backed up.", MaxVersionsInBackup))
	}
	payload := backupPayload{Name: sec.Name}
	for _, ver := range sec.Versions {
		value, err := s.Store.GetSecretValue(ctx, v.Name, sec.Name, ver.Version)
		if err != nil {
			return nil, errs.E(op, err)
		}
		payload.Versions = append(payload.Versions, backupVersion{SecretVersion: ver, Value: value})
	}
	return s.sealBackup(op, backupMarker, payload)
}

// RestoreSecret recreates a secret, with all of its versions and their ids,
// from a blob made by BackupSecret. The name must be free in the vault.
func (s *Service) RestoreSecret(ctx context.Context, v *model.Vault, blob []byte) (*model.Secret, error) {
	const op errs.Op = "vaults.RestoreSecret"
	malformed := badParameter(op, "Backup blob is malformed or was not produced by this service.")
	var p backupPayload
	if !s.openBackup(backupMarker, blob, &p) || !ValidSecretName(p.Name) || len(p.Versions) == 0 {
		return nil, malformed
	}
	// Refuse a taken name before writing any value: the backup's version
	// ids are those of a secret that may still exist here.
	if err := s.nameFree(ctx, op, v, p.Name); err != nil {
		return nil, err
	}
	sec := model.Secret{Name: p.Name, Versions: make([]model.SecretVersion, 0, len(p.Versions))}
	values := make(map[string]string, len(p.Versions))
	for _, bv := range p.Versions {
		if len(bv.Version) != 32 || len(bv.Value) > MaxValueBytes {
			return nil, malformed
		}
		sec.Versions = append(sec.Versions, bv.SecretVersion)
		values[bv.Version] = bv.Value
	}
	// One transaction for the head (plus whatever versions fit next to
	// it): either the secret appears whole or not at all.
	if err := s.Store.CreateSecret(ctx, v.Name, &sec, values); errs.KindOf(err) == errs.Exist {
		// Lost a race with a set of the same name.
		if err := s.nameFree(ctx, op, v, p.Name); err != nil {
			return nil, err
		}
		return nil, errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Secret %s already exists in this vault.", p.Name)))
	} else if err != nil {
		return nil, errs.E(op, err)
	}
	out := sec
	return &out, nil
}

// nameFree returns nil when no secret, live or soft-deleted, has the name.
func (s *Service) nameFree(ctx context.Context, op errs.Op, v *model.Vault, name string) error {
	cur, err := s.Store.GetSecretHead(ctx, v.Name, name)
	switch {
	case errs.KindOf(err) == errs.NotExist:
		return nil
	case err != nil:
		return errs.E(op, err)
	case cur.Deleted != nil:
		return deletedButRecoverable(op, cur.Name)
	}
	return errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Secret %s already exists in this vault.", cur.Name)))
}
