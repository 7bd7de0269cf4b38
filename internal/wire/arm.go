package wire

// ARM wire shapes (azure-wire-spec §4). Times are RFC 3339 strings in ARM.

// SystemData is ARM's creation/modification record.
type SystemData struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     string `json:"lastModifiedAt,omitempty"`
}

// ResourceGroup is a Microsoft.Resources/resourceGroups resource.
type ResourceGroup struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties struct {
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

// Sku of a vault.
type Sku struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

// AccessPolicyEntry of a vault.
type AccessPolicyEntry struct {
	TenantID      string      `json:"tenantId"`
	ObjectID      string      `json:"objectId"`
	ApplicationID string      `json:"applicationId,omitempty"`
	Permissions   Permissions `json:"permissions"`
}

// Permissions per object kind.
type Permissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// VaultProperties of Microsoft.KeyVault/vaults.
type VaultProperties struct {
	TenantID                     string              `json:"tenantId,omitempty"`
	Sku                          *Sku                `json:"sku,omitempty"`
	AccessPolicies               []AccessPolicyEntry `json:"accessPolicies"`
	VaultURI                     string              `json:"vaultUri,omitempty"`
	EnabledForDeployment         *bool               `json:"enabledForDeployment,omitempty"`
	EnabledForDiskEncryption     *bool               `json:"enabledForDiskEncryption,omitempty"`
	EnabledForTemplateDeployment *bool               `json:"enabledForTemplateDeployment,omitempty"`
	EnableSoftDelete             *bool               `json:"enableSoftDelete,omitempty"`
	SoftDeleteRetentionInDays    *int                `json:"softDeleteRetentionInDays,omitempty"`
	EnablePurgeProtection        *bool               `json:"enablePurgeProtection,omitempty"`
	EnableRbacAuthorization      *bool               `json:"enableRbacAuthorization,omitempty"`
	CreateMode                   string              `json:"createMode,omitempty"`
	PublicNetworkAccess          string              `json:"publicNetworkAccess,omitempty"`
	NetworkAcls                  *NetworkRuleSet     `json:"networkAcls,omitempty"`
	ProvisioningState            string              `json:"provisioningState,omitempty"`
}

// Vault is a Microsoft.KeyVault/vaults resource.
type Vault struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SystemData *SystemData       `json:"systemData,omitempty"`
	Properties VaultProperties   `json:"properties"`
}

// VaultCreateOrUpdateParameters is the PUT body of a vault.
type VaultCreateOrUpdateParameters struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties *VaultProperties  `json:"properties"`
}

// VaultAccessPolicyParameters is the accessPolicies/{kind} body and result.
type VaultAccessPolicyParameters struct {
	ID         string `json:"id,omitempty"`
	Type       string `json:"type,omitempty"`
	Properties struct {
		AccessPolicies []AccessPolicyEntry `json:"accessPolicies"`
	} `json:"properties"`
}

// DeletedVault is a Microsoft.KeyVault/deletedVaults resource.
type DeletedVault struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		VaultID                string            `json:"vaultId"`
		Location               string            `json:"location"`
		DeletionDate           string            `json:"deletionDate"`
		ScheduledPurgeDate     string            `json:"scheduledPurgeDate"`
		Tags                   map[string]string `json:"tags"`
		PurgeProtectionEnabled bool              `json:"purgeProtectionEnabled"`
	} `json:"properties"`
}

// UserAssignedIdentityRef is one entry of identity.userAssignedIdentities.
type UserAssignedIdentityRef struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// ResourceIdentity is the identity block of a VM.
type ResourceIdentity struct {
	Type                   string                              `json:"type"`
	PrincipalID            string                              `json:"principalId,omitempty"`
	TenantID               string                              `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]*UserAssignedIdentityRef `json:"userAssignedIdentities,omitempty"`
}

// VirtualMachine is a Microsoft.Compute/virtualMachines resource (identity
// holder only; no compute properties beyond the ids).
type VirtualMachine struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Identity   *ResourceIdentity `json:"identity,omitempty"`
	Properties struct {
		VMID              string `json:"vmId"`
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

// UserAssignedIdentity is a Microsoft.ManagedIdentity/userAssignedIdentities resource.
type UserAssignedIdentity struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties struct {
		TenantID    string `json:"tenantId"`
		PrincipalID string `json:"principalId"`
		ClientID    string `json:"clientId"`
	} `json:"properties"`
}

// MachineCredential is Coffer's extension: a VM's new agent credential.
type MachineCredential struct {
	KeyID string `json:"keyId"`
	// Credential is shown once, when it is issued (not on renewal).
	Credential string `json:"credential,omitempty"`
	// DisplayName names a credential that replaces earlier ones of the
	// same name (omitted for unnamed ones).
	DisplayName string `json:"displayName,omitempty"`
	// ExpiresOn is when the credential stops working (RFC 3339), if ever.
	ExpiresOn string `json:"expiresOn,omitempty"`
}

// RoleAssignment is a Microsoft.Authorization/roleAssignments resource.
type RoleAssignment struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType,omitempty"`
		Scope            string `json:"scope"`
		// ARM sends every property, null where unset; Coffer makes no
		// conditional (ABAC) or delegated assignments.
		Condition                          *string `json:"condition"`
		ConditionVersion                   *string `json:"conditionVersion"`
		CreatedOn                          string  `json:"createdOn,omitempty"`
		UpdatedOn                          string  `json:"updatedOn,omitempty"`
		CreatedBy                          *string `json:"createdBy"`
		UpdatedBy                          *string `json:"updatedBy"`
		DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
		Description                        *string `json:"description"`
	} `json:"properties"`
}

// Page is an ARM list result.
type Page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// NetworkRuleSet is a vault's firewall.
type NetworkRuleSet struct {
	Bypass              string               `json:"bypass,omitempty"`
	DefaultAction       string               `json:"defaultAction,omitempty"`
	IPRules             []IPRule             `json:"ipRules"`
	VirtualNetworkRules []VirtualNetworkRule `json:"virtualNetworkRules"`
}

// IPRule is an address or CIDR range allowed through the firewall.
type IPRule struct {
	Value string `json:"value"`
}

// VirtualNetworkRule names a subnet (stored; Coffer has no virtual networks).
type VirtualNetworkRule struct {
	ID                               string `json:"id"`
	IgnoreMissingVnetServiceEndpoint bool   `json:"ignoreMissingVnetServiceEndpoint,omitempty"`
}
