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

func backupHeader() []byte {
	return append([]byte{byte(len(backupMarker))}, backupMarker...)
}

// BackupSecret returns a sealed blob with every version of a live secret.
// The blob cannot be read or altered outside this Coffer instance.
func (s *Service) BackupSecret(ctx context.Context, v *model.Vault, name string) ([]byte, error) {
	const op errs.Op = "vaults.BackupSecret"
	sec, _, err := s.lookup(ctx, op, v, name, "")
	if err != nil {
		return nil, err
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
	plain, err := json.Marshal(payload)
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	nonce := make([]byte, s.Backup.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	out := append(backupHeader(), backupFormat)
	out = append(out, nonce...)
	return s.Backup.Seal(out, nonce, plain, backupHeader()), nil
}

// RestoreSecret recreates a secret, with all of its versions and their ids,
// from a blob made by BackupSecret. The name must be free in the vault.
func (s *Service) RestoreSecret(ctx context.Context, v *model.Vault, blob []byte) (*model.Secret, error) {
	const op errs.Op = "vaults.RestoreSecret"
	malformed := badParameter(op, "Backup blob is malformed or was not produced by this service.")
	h := backupHeader()
	ns := s.Backup.NonceSize()
	if len(blob) < len(h)+1+ns || string(blob[:len(h)]) != string(h) || blob[len(h)] != backupFormat {
		return nil, malformed
	}
	nonce := blob[len(h)+1 : len(h)+1+ns]
	plain, err := s.Backup.Open(nil, nonce, blob[len(h)+1+ns:], h)
	if err != nil {
		return nil, malformed
	}
	var p backupPayload
	if err := json.Unmarshal(plain, &p); err != nil || !ValidSecretName(p.Name) || len(p.Versions) == 0 {
		return nil, malformed
	}
	// Refuse a taken name before writing any value: the backup's version
	// ids are those of a secret that may still exist here.
	if cur, err := s.Store.GetSecret(ctx, v.Name, p.Name); err == nil {
		if cur.Deleted != nil {
			return nil, deletedButRecoverable(op, cur.Name)
		}
		return nil, errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Secret %s already exists in this vault.", cur.Name)))
	} else if errs.KindOf(err) != errs.NotExist {
		return nil, errs.E(op, err)
	}
	versions := make([]model.SecretVersion, 0, len(p.Versions))
	for _, bv := range p.Versions {
		if len(bv.Version) != 32 || len(bv.Value) > MaxValueBytes {
			return nil, malformed
		}
		if err := s.Store.PutSecretValue(ctx, v.Name, p.Name, bv.Version, bv.Value); err != nil {
			return nil, errs.E(op, err)
		}
		versions = append(versions, bv.SecretVersion)
	}
	var out model.Secret
	err = s.Store.UpdateSecret(ctx, v.Name, p.Name, func(sec *model.Secret, exists bool) (bool, error) {
		if exists && sec.Deleted != nil {
			return true, deletedButRecoverable(op, sec.Name)
		}
		if exists {
			// Lost a race with a set of the same name; the values written
			// above have this backup's version ids and stay unreferenced
			// until the name is purged.
			return true, errs.E(op, errs.Conflict, errs.Code("Conflict"), errs.Msg(fmt.Sprintf("Secret %s already exists in this vault.", sec.Name)))
		}
		*sec = model.Secret{Name: p.Name, Versions: versions}
		out = *sec
		return true, nil
	})
	if err != nil {
		return nil, errs.E(op, err)
	}
	return &out, nil
}
