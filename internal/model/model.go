// Package model holds Coffer's plain domain types: principals, vaults,
// access policies, role assignments and secrets. They carry JSON tags
// because the store persists them as JSON; they are not wire shapes (those
// live in internal/wire). Validation that needs no I/O lives here too.
package model

import (
	"strings"
	"time"
)

// Principal types.
const (
	PrincipalServicePrincipal = "ServicePrincipal"
	PrincipalManagedIdentity  = "ManagedIdentity"
	// PrincipalApplication is an app registration without a service
	// principal yet: it cannot obtain tokens.
	PrincipalApplication = "Application"
	// PrincipalUser is a directory user: it signs in with a password
	// (authorization code flow) and gets delegated tokens.
	PrincipalUser = "User"
)

// Principal is anything that can hold a token: a service principal with
// client secrets, or a managed identity.
type Principal struct {
	ObjectID    string `json:"objectId"`
	AppID       string `json:"appId"`
	DisplayName string `json:"displayName"`
	Type        string `json:"type"`
	// ResourceID is the ARM id a managed identity belongs to (xms_mirid):
	// the VM for system-assigned, the identity resource for user-assigned.
	ResourceID string `json:"resourceId,omitempty"`
	// ApplicationObjectID is the Graph object id of the app registration
	// (distinct from ObjectID, the service principal's), if any.
	ApplicationObjectID string `json:"applicationObjectId,omitempty"`
	// IdentifierURIs and Tags are the app registration's Graph
	// identifierUris and tags.
	IdentifierURIs []string `json:"identifierUris,omitempty"`
	Tags           []string `json:"tags,omitempty"`
	// Credentials are hashed client secrets; the plain text is shown once.
	Credentials []Credential `json:"credentials,omitempty"`
	Created     time.Time    `json:"created"`
	// UserPrincipalName and PasswordHash (a PHC-style argon2id string,
	// never the password) are set on users only.
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	PasswordHash      string `json:"passwordHash,omitempty"`
	// Disabled is Graph's accountEnabled=false, on users and service
	// principals: no new tokens, and issued ones stop working.
	Disabled bool `json:"disabled,omitempty"`
	// AppRoleAssignments are the Microsoft Graph application permissions
	// (app roles) granted to this service principal or managed identity.
	AppRoleAssignments []AppRoleAssignment `json:"appRoleAssignments,omitempty"`
}

// AppRoleAssignment grants one app role of Microsoft Graph to a principal.
type AppRoleAssignment struct {
	// ID is Graph's assignment id (an opaque base64url string).
	ID        string    `json:"id"`
	AppRoleID string    `json:"appRoleId"`
	Created   time.Time `json:"created"`
}

// Credential is a stored client secret: only its SHA-256 is kept. Client
// secrets are high-entropy random strings, so a fast hash is sufficient.
type Credential struct {
	KeyID   string    `json:"keyId"`
	Hash    []byte    `json:"hash"`
	Hint    string    `json:"hint"`
	Name    string    `json:"displayName,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	// ServicePrincipal marks a password added to the service principal
	// (Graph servicePrincipal addPassword) rather than to the application;
	// both authenticate, as in Entra.
	ServicePrincipal bool `json:"servicePrincipal,omitempty"`
}

// Secret permission names of the access-policy model.
const (
	PermGet     = "get"
	PermList    = "list"
	PermSet     = "set"
	PermDelete  = "delete"
	PermBackup  = "backup"
	PermRestore = "restore"
	PermRecover = "recover"
	PermPurge   = "purge"
	PermAll     = "all"
)

// SecretPermissions lists every secret permission, in Azure's order.
var SecretPermissions = []string{PermGet, PermList, PermSet, PermDelete, PermBackup, PermRestore, PermRecover, PermPurge}

// SecretManagementTemplate is the portal's "Secret Management" template:
// every secret management operation, without the privileged purge.
var SecretManagementTemplate = []string{PermGet, PermList, PermSet, PermDelete, PermRecover, PermBackup, PermRestore}

// Permissions of one access-policy entry, per object kind.
type Permissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// AccessPolicy is one vault access-policy entry.
type AccessPolicy struct {
	TenantID      string      `json:"tenantId"`
	ObjectID      string      `json:"objectId"`
	ApplicationID string      `json:"applicationId,omitempty"`
	Permissions   Permissions `json:"permissions"`
}

// Vault is a key vault.
type Vault struct {
	Name           string            `json:"name"` // as created; lookups are case-insensitive
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	TenantID       string            `json:"tenantId"`
	SKU            string            `json:"sku"`

	AccessPolicies            []AccessPolicy `json:"accessPolicies"`
	EnableSoftDelete          bool           `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays int            `json:"softDeleteRetentionInDays"`
	EnablePurgeProtection     bool           `json:"enablePurgeProtection"`
	EnableRbacAuthorization   bool           `json:"enableRbacAuthorization"`
	// NetworkACLs and PublicNetworkAccess are the vault firewall; nil
	// NetworkACLs and "" access mean open, as on a new Azure vault.
	NetworkACLs         *NetworkACLs `json:"networkAcls,omitempty"`
	PublicNetworkAccess string       `json:"publicNetworkAccess,omitempty"`

	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy,omitempty"`
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
	// Deleted is set while the vault is soft-deleted.
	Deleted *time.Time `json:"deleted,omitempty"`
}

// ResourceID is the vault's ARM id.
func (v *Vault) ResourceID() string {
	return "/subscriptions/" + v.SubscriptionID + "/resourceGroups/" + v.ResourceGroup + "/providers/Microsoft.KeyVault/vaults/" + v.Name
}

// RecoveryLevel is the recoveryLevel reported for the vault's secrets
// (azure-wire-spec §1.7).
func (v *Vault) RecoveryLevel() string {
	if !v.EnableSoftDelete {
		return "Purgeable"
	}
	prefix := "Recoverable"
	if v.SoftDeleteRetentionInDays != 90 {
		prefix = "CustomizedRecoverable"
	}
	if v.EnablePurgeProtection {
		return prefix
	}
	return prefix + "+Purgeable"
}

// RecoverableDays is the soft-delete retention, 0 without soft delete.
func (v *Vault) RecoverableDays() int {
	if !v.EnableSoftDelete {
		return 0
	}
	return v.SoftDeleteRetentionInDays
}

// RoleAssignment grants a role definition to a principal at a scope (an
// ARM resource id prefix: subscription, resource group, vault or secret).
type RoleAssignment struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Scope            string    `json:"scope"`
	RoleDefinitionID string    `json:"roleDefinitionId"` // GUID only
	PrincipalID      string    `json:"principalId"`
	PrincipalType    string    `json:"principalType,omitempty"`
	Description      string    `json:"description,omitempty"`
	Created          time.Time `json:"created"`
	// CreatedBy is the object id of the caller that made the assignment
	// (empty for ones made by Coffer itself, as ARM shows null).
	CreatedBy string `json:"createdBy,omitempty"`
}

// Secret is one secret name in one vault with all of its versions.
type Secret struct {
	Name     string          `json:"name"` // display casing, from the first set
	Versions []SecretVersion `json:"versions"`
	// Deleted is set while the secret is soft-deleted.
	Deleted *DeletedInfo `json:"deleted,omitempty"`
}

// Latest returns the newest version. Secrets always hold at least one.
func (s *Secret) Latest() *SecretVersion { return &s.Versions[len(s.Versions)-1] }

// Version returns the version with the given id (case-insensitive), or nil.
func (s *Secret) Version(id string) *SecretVersion {
	for i := range s.Versions {
		if strings.EqualFold(s.Versions[i].Version, id) {
			return &s.Versions[i]
		}
	}
	return nil
}

// DeletedInfo records a soft delete.
type DeletedInfo struct {
	DeletedDate        int64 `json:"deletedDate"`
	ScheduledPurgeDate int64 `json:"scheduledPurgeDate"`
}

// SecretVersion is one immutable value with mutable attributes.
type SecretVersion struct {
	Version string `json:"version"`
	// Value is stored under its own key, not in the secret record; it is
	// set only on versions a service method returns with their value.
	Value       string            `json:"-"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     bool              `json:"enabled"`
	NotBefore   *int64            `json:"nbf,omitempty"`
	Expires     *int64            `json:"exp,omitempty"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
	// Managed marks the secret backing a certificate version: its value is
	// the certificate with its private key, and its kid the backing key.
	Managed bool `json:"managed,omitempty"`
}

// NetworkACLs is a vault's firewall (ARM NetworkRuleSet).
type NetworkACLs struct {
	Bypass              string   `json:"bypass"`        // AzureServices or None
	DefaultAction       string   `json:"defaultAction"` // Allow or Deny
	IPRules             []string `json:"ipRules,omitempty"`
	VirtualNetworkRules []string `json:"virtualNetworkRules,omitempty"`
}
