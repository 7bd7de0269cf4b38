package model

import (
	"encoding/json"
	"strings"
)

// Key permission names of the access-policy model, as Azure spells them.
// Names compare case-insensitively.
var KeyPermissions = []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
	"decrypt", "encrypt", "unwrapKey", "wrapKey", "verify", "sign", "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy"}

// Key is one key name in one vault with all of its versions. Private key
// material is stored apart from the record, one entry per version.
type Key struct {
	Name     string       `json:"name"` // display casing, from the first create
	Versions []KeyVersion `json:"versions"`
	// Deleted is set while the key is soft-deleted.
	Deleted        *DeletedInfo       `json:"deleted,omitempty"`
	RotationPolicy *KeyRotationPolicy `json:"rotationPolicy,omitempty"`
}

// Latest returns the newest version. Keys always hold at least one.
func (k *Key) Latest() *KeyVersion { return &k.Versions[len(k.Versions)-1] }

// Version returns the version with the given id (case-insensitive), or nil.
func (k *Key) Version(id string) *KeyVersion {
	for i := range k.Versions {
		if strings.EqualFold(k.Versions[i].Version, id) {
			return &k.Versions[i]
		}
	}
	return nil
}

// KeyVersion is one immutable key pair with mutable attributes. The public
// parts are kept here (base64url, as served) so that reads and lists never
// touch private material.
type KeyVersion struct {
	Version       string            `json:"version"`
	Kty           string            `json:"kty"` // as requested, including -HSM spellings
	KeyOps        []string          `json:"keyOps"`
	N             string            `json:"n,omitempty"`
	E             string            `json:"e,omitempty"`
	Crv           string            `json:"crv,omitempty"`
	X             string            `json:"x,omitempty"`
	Y             string            `json:"y,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Enabled       bool              `json:"enabled"`
	NotBefore     *int64            `json:"nbf,omitempty"`
	Expires       *int64            `json:"exp,omitempty"`
	Created       int64             `json:"created"`
	Updated       int64             `json:"updated"`
	Exportable    bool              `json:"exportable,omitempty"`
	ReleasePolicy json.RawMessage   `json:"releasePolicy,omitempty"`
	// Managed marks the key backing a certificate version.
	Managed bool `json:"managed,omitempty"`
}

// KeyRotationPolicy is a key's rotation policy; durations are ISO 8601.
type KeyRotationPolicy struct {
	LifetimeActions []KeyLifetimeAction `json:"lifetimeActions"`
	ExpiryTime      string              `json:"expiryTime,omitempty"`
	Created         int64               `json:"created"`
	Updated         int64               `json:"updated"`
}

// KeyLifetimeAction is one trigger (exactly one duration set) and its
// action, Rotate or Notify.
type KeyLifetimeAction struct {
	TimeAfterCreate  string `json:"timeAfterCreate,omitempty"`
	TimeBeforeExpiry string `json:"timeBeforeExpiry,omitempty"`
	Action           string `json:"action"`
}
