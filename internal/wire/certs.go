package wire

import "encoding/json"

// CertificateAttributes are a certificate version's attributes.
type CertificateAttributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	RecoverableDays int    `json:"recoverableDays,omitempty"`
}

// CertificateBundle is one certificate version.
type CertificateBundle struct {
	ID          string                `json:"id"`
	Kid         string                `json:"kid,omitempty"`
	Sid         string                `json:"sid,omitempty"`
	X5t         string                `json:"x5t,omitempty"`
	Cer         string                `json:"cer,omitempty"`
	ContentType string                `json:"contentType,omitempty"`
	Attributes  CertificateAttributes `json:"attributes"`
	Policy      *CertificatePolicy    `json:"policy,omitempty"`
	Tags        map[string]string     `json:"tags,omitempty"`
	// PreserveCertOrder (7.6) is echoed when the version was created or
	// imported with it.
	PreserveCertOrder *bool `json:"preserveCertOrder,omitempty"`
}

// DeletedCertificateBundle is a soft-deleted certificate.
type DeletedCertificateBundle struct {
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        int64  `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
	CertificateBundle
}

// CertificateItem is one entry of a certificate or version list.
type CertificateItem struct {
	ID         string                `json:"id"`
	X5t        string                `json:"x5t,omitempty"`
	Attributes CertificateAttributes `json:"attributes"`
	Tags       map[string]string     `json:"tags,omitempty"`
}

// DeletedCertificateItem is one entry of the deleted-certificates list.
type DeletedCertificateItem struct {
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        int64  `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
	CertificateItem
}

// CertificatePolicy is a certificate's management policy. It is also the
// stored form, so unknown-to-Coffer but valid fields survive a round trip
// only where they are modelled here.
type CertificatePolicy struct {
	ID              string                     `json:"id,omitempty"`
	KeyProps        *CertKeyProperties         `json:"key_props,omitempty"`
	SecretProps     *CertSecretProperties      `json:"secret_props,omitempty"`
	X509Props       *X509CertificateProperties `json:"x509_props,omitempty"`
	LifetimeActions []CertLifetimeAction       `json:"lifetime_actions,omitempty"`
	Issuer          *CertIssuerParameters      `json:"issuer,omitempty"`
	Attributes      *CertificateAttributes     `json:"attributes,omitempty"`
}

// CertKeyProperties are the policy's key_props.
type CertKeyProperties struct {
	Exportable *bool  `json:"exportable,omitempty"`
	Kty        string `json:"kty,omitempty"`
	KeySize    *int   `json:"key_size,omitempty"`
	ReuseKey   *bool  `json:"reuse_key,omitempty"`
	Crv        string `json:"crv,omitempty"`
}

// CertSecretProperties are the policy's secret_props.
type CertSecretProperties struct {
	ContentType string `json:"contentType,omitempty"`
}

// X509CertificateProperties are the policy's x509_props.
type X509CertificateProperties struct {
	Subject        string                   `json:"subject,omitempty"`
	Ekus           []string                 `json:"ekus,omitempty"`
	SANs           *SubjectAlternativeNames `json:"sans,omitempty"`
	KeyUsage       []string                 `json:"key_usage,omitempty"`
	ValidityMonths *int                     `json:"validity_months,omitempty"`
}

// SubjectAlternativeNames are the policy's sans.
type SubjectAlternativeNames struct {
	Emails   []string `json:"emails,omitempty"`
	DNSNames []string `json:"dns_names,omitempty"`
	UPNs     []string `json:"upns,omitempty"`
}

// CertLifetimeAction is one lifetime action of a policy.
type CertLifetimeAction struct {
	Trigger *struct {
		LifetimePercentage *int `json:"lifetime_percentage,omitempty"`
		DaysBeforeExpiry   *int `json:"days_before_expiry,omitempty"`
	} `json:"trigger,omitempty"`
	Action *struct {
		ActionType string `json:"action_type,omitempty"`
	} `json:"action,omitempty"`
}

// CertIssuerParameters names a policy's issuer.
type CertIssuerParameters struct {
	Name             string `json:"name,omitempty"`
	Cty              string `json:"cty,omitempty"`
	CertTransparency *bool  `json:"cert_transparency,omitempty"`
}

// CertificateCreateParameters is the body of POST /certificates/{name}/create.
type CertificateCreateParameters struct {
	Policy            *CertificatePolicy     `json:"policy,omitempty"`
	Attributes        *CertificateAttributes `json:"attributes,omitempty"`
	Tags              map[string]string      `json:"tags,omitempty"`
	PreserveCertOrder *bool                  `json:"preserveCertOrder,omitempty"`
}

// CertificateImportParameters is the body of POST /certificates/{name}/import.
type CertificateImportParameters struct {
	Value      *string                `json:"value"`
	Pwd        string                 `json:"pwd,omitempty"`
	Policy     *CertificatePolicy     `json:"policy,omitempty"`
	Attributes *CertificateAttributes `json:"attributes,omitempty"`
	Tags       map[string]string      `json:"tags,omitempty"`
	// PreserveCertOrder keeps the chain in the order given instead of
	// moving the leaf to the front.
	PreserveCertOrder *bool `json:"preserveCertOrder,omitempty"`
}

// CertificateUpdateParameters is the body of PATCH /certificates/{name}/{version}.
type CertificateUpdateParameters struct {
	Policy     *CertificatePolicy     `json:"policy,omitempty"`
	Attributes *CertificateAttributes `json:"attributes,omitempty"`
	Tags       *map[string]string     `json:"tags,omitempty"`
}

// CertificateOperation is a certificate's pending (or finished) creation.
type CertificateOperation struct {
	ID                    string                `json:"id"`
	Issuer                *CertIssuerParameters `json:"issuer,omitempty"`
	Csr                   string                `json:"csr,omitempty"`
	CancellationRequested bool                  `json:"cancellation_requested"`
	Status                string                `json:"status"`
	StatusDetails         string                `json:"status_details,omitempty"`
	Error                 *ErrorDetail          `json:"error,omitempty"`
	Target                string                `json:"target,omitempty"`
	RequestID             string                `json:"request_id,omitempty"`
	PreserveCertOrder     *bool                 `json:"preserveCertOrder,omitempty"`
}

// Contact is one certificate contact.
type Contact struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Contacts are a vault's certificate contacts.
type Contacts struct {
	ID          string    `json:"id,omitempty"`
	ContactList []Contact `json:"contacts"`
}

// IssuerAttributes are an issuer's attributes.
type IssuerAttributes struct {
	Enabled *bool `json:"enabled,omitempty"`
	Created int64 `json:"created,omitempty"`
	Updated int64 `json:"updated,omitempty"`
}

// IssuerBundle is a certificate issuer.
type IssuerBundle struct {
	ID          string            `json:"id,omitempty"`
	Provider    string            `json:"provider,omitempty"`
	Credentials json.RawMessage   `json:"credentials,omitempty"`
	OrgDetails  json.RawMessage   `json:"org_details,omitempty"`
	Attributes  *IssuerAttributes `json:"attributes,omitempty"`
}

// IssuerItem is one entry of the issuer list.
type IssuerItem struct {
	ID       string `json:"id"`
	Provider string `json:"provider,omitempty"`
}
