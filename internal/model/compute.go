package model

import (
	"strings"
	"time"
)

// ResourceGroup is an ARM resource group.
type ResourceGroup struct {
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	Created        time.Time         `json:"created"`
}

// ResourceID is the group's ARM id.
func (g *ResourceGroup) ResourceID() string {
	return "/subscriptions/" + g.SubscriptionID + "/resourceGroups/" + g.Name
}

// Compute is a machine that holds managed identities: a VM record. No real
// compute exists; the record is what IMDS, the agent and `coffer run`
// serve identity and metadata for.
type Compute struct {
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	VMID           string            `json:"vmId"`
	// SystemAssigned is the object id of the system-assigned identity, if any.
	SystemAssigned string `json:"systemAssigned,omitempty"`
	// UserAssigned are the ARM ids of attached user-assigned identities.
	UserAssigned []string `json:"userAssigned,omitempty"`
	// Credentials authenticate the machine (agent, App Service header, coffer run).
	Credentials []Credential `json:"credentials,omitempty"`
	Created     time.Time    `json:"created"`
}

// ResourceID is the VM's ARM id.
func (c *Compute) ResourceID() string {
	return "/subscriptions/" + c.SubscriptionID + "/resourceGroups/" + c.ResourceGroup + "/providers/Microsoft.Compute/virtualMachines/" + c.Name
}

// HasUserAssigned reports whether the identity with ARM id rid is attached.
func (c *Compute) HasUserAssigned(rid string) bool {
	for _, u := range c.UserAssigned {
		if strings.EqualFold(u, rid) {
			return true
		}
	}
	return false
}

// UserAssignedIdentity is a standalone managed identity resource.
type UserAssignedIdentity struct {
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	PrincipalID    string            `json:"principalId"`
	ClientID       string            `json:"clientId"`
	TenantID       string            `json:"tenantId"`
	Created        time.Time         `json:"created"`
}

// ResourceID is the identity's ARM id.
func (u *UserAssignedIdentity) ResourceID() string {
	return "/subscriptions/" + u.SubscriptionID + "/resourceGroups/" + u.ResourceGroup + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + u.Name
}
