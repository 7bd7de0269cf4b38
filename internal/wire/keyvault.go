// Package wire holds the JSON shapes of the APIs Coffer speaks: Key Vault
// data plane, IMDS/App Service token responses, OAuth2 errors, and ARM.
// Field order follows the real service's (azure-wire-spec §1.2), absent
// optional fields are omitted, and timestamps are integer Unix seconds.
package wire

// SecretAttributes of a version.
type SecretAttributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	RecoverableDays int    `json:"recoverableDays,omitempty"`
}

// SecretBundle is a secret version with (on get/set) its value.
type SecretBundle struct {
	Value       *string           `json:"value,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	ID          string            `json:"id"`
	Attributes  SecretAttributes  `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	Kid         string            `json:"kid,omitempty"`
	Managed     bool              `json:"managed,omitempty"`
}

// DeletedSecretBundle is a soft-deleted secret.
type DeletedSecretBundle struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	ID                 string            `json:"id"`
	Attributes         SecretAttributes  `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Kid                string            `json:"kid,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
}

// SecretItem is one entry of a secret or version list.
type SecretItem struct {
	ID          string            `json:"id"`
	Attributes  SecretAttributes  `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Managed     bool              `json:"managed,omitempty"`
}

// DeletedSecretItem is one entry of the deleted-secrets list.
type DeletedSecretItem struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	ID                 string            `json:"id"`
	Attributes         SecretAttributes  `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
}

// ListResult is a page of items. NextLink is null on the last page, as the
// real service emits it.
type ListResult[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink"`
}

// SecretSetParameters is the PUT body.
type SecretSetParameters struct {
	Value       *string           `json:"value"`
	ContentType *string           `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  *SecretAttributes `json:"attributes,omitempty"`
}

// SecretUpdateParameters is the PATCH body.
type SecretUpdateParameters struct {
	ContentType *string            `json:"contentType,omitempty"`
	Tags        *map[string]string `json:"tags,omitempty"`
	Attributes  *SecretAttributes  `json:"attributes,omitempty"`
}

// BackupSecretResult carries a base64url backup blob; it is also the restore body.
type BackupSecretResult struct {
	Value string `json:"value"`
}

// KeyVaultError is the error body of Key Vault and ARM.
type KeyVaultError struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of a KeyVaultError.
type ErrorDetail struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *InnerError `json:"innererror,omitempty"`
}

// InnerError names a more specific error code.
type InnerError struct {
	Code string `json:"code"`
}
