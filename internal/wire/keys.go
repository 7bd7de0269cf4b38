package wire

import "encoding/json"

// JSONWebKey is Key Vault's JWK: every binary field is base64url without
// padding. Responses carry public parts only.
type JSONWebKey struct {
	Kid    string   `json:"kid,omitempty"`
	Kty    string   `json:"kty,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
	D      string   `json:"d,omitempty"`
	DP     string   `json:"dp,omitempty"`
	DQ     string   `json:"dq,omitempty"`
	QI     string   `json:"qi,omitempty"`
	P      string   `json:"p,omitempty"`
	Q      string   `json:"q,omitempty"`
	K      string   `json:"k,omitempty"`
	T      string   `json:"key_hsm,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
}

// KeyAttributes of a key version.
type KeyAttributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoverableDays int    `json:"recoverableDays,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	Exportable      *bool  `json:"exportable,omitempty"`
}

// KeyBundle is a key version: its public JWK and attributes.
type KeyBundle struct {
	Key           JSONWebKey        `json:"key"`
	Attributes    KeyAttributes     `json:"attributes"`
	Tags          map[string]string `json:"tags,omitempty"`
	Managed       bool              `json:"managed,omitempty"`
	ReleasePolicy json.RawMessage   `json:"release_policy,omitempty"`
}

// DeletedKeyBundle is a soft-deleted key.
type DeletedKeyBundle struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	Key                JSONWebKey        `json:"key"`
	Attributes         KeyAttributes     `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
	ReleasePolicy      json.RawMessage   `json:"release_policy,omitempty"`
}

// KeyItem is one entry of a key or key-version list.
type KeyItem struct {
	Kid        string            `json:"kid"`
	Attributes KeyAttributes     `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
	Managed    bool              `json:"managed,omitempty"`
}

// DeletedKeyItem is one entry of the deleted-keys list.
type DeletedKeyItem struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	Kid                string            `json:"kid"`
	Attributes         KeyAttributes     `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
}

// KeyCreateParameters is the body of POST /keys/{name}/create.
type KeyCreateParameters struct {
	Kty            string            `json:"kty"`
	KeySize        *int              `json:"key_size,omitempty"`
	PublicExponent *int              `json:"public_exponent,omitempty"`
	KeyOps         []string          `json:"key_ops,omitempty"`
	Attributes     *KeyAttributes    `json:"attributes,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Crv            string            `json:"crv,omitempty"`
	ReleasePolicy  json.RawMessage   `json:"release_policy,omitempty"`
}

// KeyImportParameters is the body of PUT /keys/{name}.
type KeyImportParameters struct {
	HSM           *bool             `json:"Hsm,omitempty"`
	Key           *JSONWebKey       `json:"key"`
	Attributes    *KeyAttributes    `json:"attributes,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	ReleasePolicy json.RawMessage   `json:"release_policy,omitempty"`
}

// KeyUpdateParameters is the PATCH body.
type KeyUpdateParameters struct {
	KeyOps        *[]string          `json:"key_ops,omitempty"`
	Attributes    *KeyAttributes     `json:"attributes,omitempty"`
	Tags          *map[string]string `json:"tags,omitempty"`
	ReleasePolicy json.RawMessage    `json:"release_policy,omitempty"`
}

// KeyOperationsParameters is the body of encrypt, decrypt, wrapkey and unwrapkey.
type KeyOperationsParameters struct {
	Alg   string `json:"alg"`
	Value string `json:"value"`
	IV    string `json:"iv,omitempty"`
	AAD   string `json:"aad,omitempty"`
	Tag   string `json:"tag,omitempty"`
}

// KeyOperationResult answers encrypt, decrypt, wrapkey, unwrapkey and sign.
type KeyOperationResult struct {
	Kid   string `json:"kid"`
	Value string `json:"value"`
}

// KeySignParameters is the body of sign.
type KeySignParameters struct {
	Alg   string `json:"alg"`
	Value string `json:"value"`
}

// KeyVerifyParameters is the body of verify: value is the signature.
type KeyVerifyParameters struct {
	Alg    string `json:"alg"`
	Digest string `json:"digest"`
	Value  string `json:"value"`
}

// KeyVerifyResult answers verify.
type KeyVerifyResult struct {
	Value bool `json:"value"`
}

// KeyRotationPolicy is a key's rotation policy.
type KeyRotationPolicy struct {
	ID              string                       `json:"id,omitempty"`
	LifetimeActions []KeyLifetimeAction          `json:"lifetimeActions"`
	Attributes      *KeyRotationPolicyAttributes `json:"attributes,omitempty"`
}

// KeyLifetimeAction is one trigger and its action.
type KeyLifetimeAction struct {
	Trigger KeyLifetimeTrigger `json:"trigger"`
	Action  KeyLifetimeType    `json:"action"`
}

// KeyLifetimeTrigger holds ISO 8601 durations.
type KeyLifetimeTrigger struct {
	TimeAfterCreate  string `json:"timeAfterCreate,omitempty"`
	TimeBeforeExpiry string `json:"timeBeforeExpiry,omitempty"`
}

// KeyLifetimeType is the action: Rotate or Notify.
type KeyLifetimeType struct {
	Type string `json:"type"`
}

// KeyRotationPolicyAttributes of a rotation policy.
type KeyRotationPolicyAttributes struct {
	ExpiryTime string `json:"expiryTime,omitempty"`
	Created    int64  `json:"created,omitempty"`
	Updated    int64  `json:"updated,omitempty"`
}
