package model

import (
	"encoding/json"
	"strings"
)

// CertificatePermissions lists the access-policy certificate permissions,
// in Azure's order. Names compare case-insensitively.
var CertificatePermissions = []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
	"managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers", "purge"}

// Certificate is one certificate name in one vault with all of its
// versions. Each version shares its version id with the backing key
// (/keys/{name}/{version}) and backing secret (/secrets/{name}/{version}),
// which hold the private key and the certificate with its key.
type Certificate struct {
	Name     string               `json:"name"`
	Versions []CertificateVersion `json:"versions"`
	// Policy is the current policy in Azure's wire shape (without id).
	Policy  json.RawMessage       `json:"policy"`
	Pending *CertificateOperation `json:"pending,omitempty"`
	Deleted *DeletedInfo          `json:"deleted,omitempty"`
}

// Latest returns the newest version, nil while the first is pending.
func (c *Certificate) Latest() *CertificateVersion {
	if len(c.Versions) == 0 {
		return nil
	}
	return &c.Versions[len(c.Versions)-1]
}

// Version returns the version with the given id (case-insensitive), or nil.
func (c *Certificate) Version(id string) *CertificateVersion {
	for i := range c.Versions {
		if strings.EqualFold(c.Versions[i].Version, id) {
			return &c.Versions[i]
		}
	}
	return nil
}

// CertificateVersion is one issued or imported certificate.
type CertificateVersion struct {
	Version   string            `json:"version"`
	Cer       []byte            `json:"cer"` // the leaf, DER
	Tags      map[string]string `json:"tags,omitempty"`
	Enabled   bool              `json:"enabled"`
	NotBefore *int64            `json:"nbf,omitempty"`
	Expires   *int64            `json:"exp,omitempty"`
	Created   int64             `json:"created"`
	Updated   int64             `json:"updated"`
	// PreserveCertOrder: the version was created or imported with
	// preserveCertOrder (its chain kept in the order given).
	PreserveCertOrder bool `json:"preserveCertOrder,omitempty"`
}

// CertificateOperation is the last create operation of a certificate.
type CertificateOperation struct {
	RequestID     string `json:"requestId"`
	Issuer        string `json:"issuer"`
	Csr           []byte `json:"csr,omitempty"`
	Cancelled     bool   `json:"cancelled,omitempty"`
	Status        string `json:"status"`
	StatusDetails string `json:"statusDetails,omitempty"`
	ErrorCode     string `json:"errorCode,omitempty"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
	// PreserveCertOrder is the create request's, echoed on the operation.
	PreserveCertOrder bool `json:"preserveCertOrder,omitempty"`
	// Version, Tags and Enabled are those of the version an operation in
	// progress (issuer Unknown) will become when its certificate is merged;
	// its private key is stored as key material under Version meanwhile.
	Version string            `json:"version,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Enabled *bool             `json:"enabled,omitempty"`
}

// CertificateIssuer is an issuer configured in a vault.
type CertificateIssuer struct {
	Name        string          `json:"name"`
	Provider    string          `json:"provider"`
	Credentials json.RawMessage `json:"credentials,omitempty"`
	OrgDetails  json.RawMessage `json:"orgDetails,omitempty"`
	Enabled     bool            `json:"enabled"`
	Created     int64           `json:"created"`
	Updated     int64           `json:"updated"`
}

// CertificateContact is one certificate contact of a vault.
type CertificateContact struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}
