package wire

// GenericResource is an item of ARM's generic resource listings
// (GET …/resources): the envelope every resource shares. createdTime,
// changedTime and provisioningState appear only when $expand asks for them.
type GenericResource struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	Location          string            `json:"location"`
	Tags              map[string]string `json:"tags,omitempty"`
	Identity          *ResourceIdentity `json:"identity,omitempty"`
	CreatedTime       string            `json:"createdTime,omitempty"`
	ChangedTime       string            `json:"changedTime,omitempty"`
	ProvisioningState string            `json:"provisioningState,omitempty"`
}

// Provider is a resource provider registration (GET …/providers/{ns}).
type Provider struct {
	ID                 string                 `json:"id,omitempty"`
	Namespace          string                 `json:"namespace"`
	RegistrationState  string                 `json:"registrationState,omitempty"`
	RegistrationPolicy string                 `json:"registrationPolicy,omitempty"`
	ResourceTypes      []ProviderResourceType `json:"resourceTypes"`
}

// ProviderResourceType is one resource type a provider serves.
type ProviderResourceType struct {
	ResourceType string   `json:"resourceType"`
	Locations    []string `json:"locations"`
	APIVersions  []string `json:"apiVersions"`
	Capabilities string   `json:"capabilities,omitempty"`
}

// RoleDefinition is a Microsoft.Authorization/roleDefinitions resource.
type RoleDefinition struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		RoleName         string           `json:"roleName"`
		Type             string           `json:"type"`
		Description      string           `json:"description"`
		AssignableScopes []string         `json:"assignableScopes"`
		Permissions      []RolePermission `json:"permissions"`
		CreatedOn        string           `json:"createdOn,omitempty"`
		UpdatedOn        string           `json:"updatedOn,omitempty"`
	} `json:"properties"`
}

// RolePermission is the action set of a role definition.
type RolePermission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}
