package opname

import (
	"net/http/httptest"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
)

func TestClassify(t *testing.T) {
	const (
		sub = "/subscriptions/00000000-0000-0000-0000-000000000001"
		rg  = sub + "/resourceGroups/rg"
		kv  = rg + "/providers/Microsoft.KeyVault/vaults/v1"
		vm  = rg + "/providers/Microsoft.Compute/virtualMachines/vm1"
	)
	tests := []struct {
		method, host, path string
		want               Op
	}{
		{"GET", "v1.vault.azure.net", "/secrets/db/abc", Op{KeyVault, "SecretGet", "v1", "db"}},
		{"GET", "v1.vault.azure.net", "/secrets/db", Op{KeyVault, "SecretGet", "v1", "db"}},
		{"PUT", "v1.vault.azure.net", "/secrets/db", Op{KeyVault, "SecretSet", "v1", "db"}},
		{"PATCH", "v1.vault.azure.net", "/secrets/db/abc", Op{KeyVault, "SecretUpdate", "v1", "db"}},
		{"DELETE", "v1.vault.azure.net", "/secrets/db", Op{KeyVault, "SecretDelete", "v1", "db"}},
		{"GET", "v1.vault.azure.net", "/secrets", Op{KeyVault, "SecretList", "v1", ""}},
		{"GET", "v1.vault.azure.net", "/secrets/db/versions", Op{KeyVault, "SecretListVersions", "v1", "db"}},
		{"POST", "v1.vault.azure.net", "/secrets/db/backup", Op{KeyVault, "SecretBackup", "v1", "db"}},
		{"POST", "v1.vault.azure.net", "/secrets/restore", Op{KeyVault, "SecretRestore", "v1", ""}},
		{"GET", "v1.vault.azure.net", "/deletedsecrets", Op{KeyVault, "SecretListDeleted", "v1", ""}},
		{"GET", "v1.vault.azure.net", "/deletedsecrets/db", Op{KeyVault, "SecretGetDeleted", "v1", "db"}},
		{"DELETE", "v1.vault.azure.net", "/deletedsecrets/db", Op{KeyVault, "SecretPurge", "v1", "db"}},
		{"POST", "v1.vault.azure.net", "/deletedsecrets/db/recover", Op{KeyVault, "SecretRecover", "v1", "db"}},
		{"POST", "v1.vault.azure.net", "/keys/k/create", Op{KeyVault, "KeyCreate", "v1", "k"}},
		{"POST", "v1.vault.azure.net", "/keys/k/abc/sign", Op{KeyVault, "KeySign", "v1", "k"}},
		{"POST", "v1.vault.azure.net", "/keys/k/abc/anything", Op{KeyVault, "Other", "v1", "k"}},
		{"GET", "v1.vault.azure.net", "/healthz", Op{Health, "Healthz", "", ""}},
		{"GET", "localhost:8443", "/secrets/db", Op{KeyVault, "SecretGet", "", "db"}},
		{"GET", "v1.vault.azure.net", "/certificates", Op{KeyVault, "Other", "v1", ""}},

		{"PUT", "management.azure.com", kv, Op{API: ARM, Name: "VaultPut"}},
		{"GET", "management.azure.com", kv, Op{API: ARM, Name: "VaultGet"}},
		{"PATCH", "management.azure.com", kv, Op{API: ARM, Name: "VaultPatch"}},
		{"DELETE", "management.azure.com", kv, Op{API: ARM, Name: "VaultDelete"}},
		{"GET", "management.azure.com", rg + "/providers/Microsoft.KeyVault/vaults", Op{API: ARM, Name: "VaultList"}},
		{"POST", "management.azure.com", sub + "/providers/Microsoft.KeyVault/locations/westus/deletedVaults/v1/purge", Op{API: ARM, Name: "DeletedVaultPurge"}},
		{"PUT", "management.azure.com", kv + "/accessPolicies/add", Op{API: ARM, Name: "VaultAccessPolicyPut"}},
		{"PUT", "management.azure.com", rg, Op{API: ARM, Name: "ResourceGroupPut"}},
		{"GET", "management.azure.com", sub + "/resourcegroups", Op{API: ARM, Name: "ResourceGroupList"}},
		{"GET", "management.azure.com", "/subscriptions", Op{API: ARM, Name: "SubscriptionList"}},
		{"GET", "management.azure.com", sub, Op{API: ARM, Name: "SubscriptionGet"}},
		{"POST", "management.azure.com", sub + "/providers/Microsoft.KeyVault/register", Op{API: ARM, Name: "ProviderRegister"}},
		{"GET", "management.azure.com", "/providers", Op{API: ARM, Name: "ProviderList"}},
		{"PUT", "management.azure.com", rg + "/providers/Microsoft.Authorization/roleAssignments/0b1f", Op{API: ARM, Name: "RoleAssignmentCreate"}},
		{"DELETE", "management.azure.com", kv + "/providers/Microsoft.Authorization/roleAssignments/0b1f", Op{API: ARM, Name: "RoleAssignmentDelete"}},
		{"GET", "management.azure.com", sub + "/providers/Microsoft.Authorization/roleAssignments", Op{API: ARM, Name: "RoleAssignmentList"}},
		{"GET", "management.azure.com", sub + "/providers/Microsoft.Authorization/roleDefinitions/abc", Op{API: ARM, Name: "RoleDefinitionGet"}},
		{"POST", "management.azure.com", vm + "/cofferCredentials", Op{API: ARM, Name: "VirtualMachineCredentialCreate"}},
		{"DELETE", "management.azure.com", vm + "/cofferCredentials/k1", Op{API: ARM, Name: "VirtualMachineCredentialRevoke"}},
		{"PATCH", "management.azure.com", vm + "/cofferCredentials/k1", Op{API: ARM, Name: "VirtualMachineCredentialRenew"}},
		{"PUT", "management.azure.com", vm, Op{API: ARM, Name: "VirtualMachinePut"}},
		{"PUT", "management.azure.com", rg + "/providers/Microsoft.Foo/bars/x", Op{API: ARM, Name: "Other"}},
		{"POST", "management.azure.com", kv + "/whatever", Op{API: ARM, Name: "Other"}},

		{"POST", "graph.microsoft.com", "/v1.0/applications", Op{API: Graph, Name: "ApplicationCreate"}},
		{"GET", "graph.microsoft.com", "/v1.0/applications", Op{API: Graph, Name: "ApplicationList"}},
		{"GET", "graph.microsoft.com", "/v1.0/applications/abc", Op{API: Graph, Name: "ApplicationGet"}},
		{"GET", "graph.microsoft.com", "/v1.0/applications(appId='abc')", Op{API: Graph, Name: "ApplicationGet"}},
		{"PATCH", "graph.microsoft.com", "/v1.0/applications/abc", Op{API: Graph, Name: "ApplicationUpdate"}},
		{"POST", "graph.microsoft.com", "/v1.0/applications/abc/addPassword", Op{API: Graph, Name: "ApplicationAddPassword"}},
		{"GET", "graph.microsoft.com", "/v1.0/servicePrincipals/$count", Op{API: Graph, Name: "ServicePrincipalCount"}},
		{"DELETE", "graph.microsoft.com", "/v1.0/servicePrincipals/abc", Op{API: Graph, Name: "ServicePrincipalDelete"}},
		{"POST", "graph.microsoft.com", "/v1.0/directoryObjects/getByIds", Op{API: Graph, Name: "DirectoryObjectGetByIds"}},
		{"GET", "graph.microsoft.com", "/v1.0/me", Op{API: Graph, Name: "MeGet"}},
		{"GET", "graph.microsoft.com", "/v1.0/secretStuff", Op{API: Graph, Name: "Other"}},

		{"POST", "login.microsoftonline.com", "/tid/oauth2/v2.0/token", Op{API: Token, Name: TokenIssue}},
		{"POST", "login.microsoftonline.com", "/tid/oauth2/token", Op{API: Token, Name: TokenIssue}},
		{"GET", "localhost:8443", "/msi/token", Op{API: Token, Name: TokenIssue}},
		{"GET", "login.microsoftonline.com", "/tid/v2.0/.well-known/openid-configuration", Op{API: Metadata, Name: "MetadataGet"}},
		{"GET", "localhost:8443", "/nothing", Op{API: Other, Name: "Other"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.path, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://"+tt.host+tt.path, nil)
			if got := Classify(cloud.AzureCloud, r); got != tt.want {
				t.Errorf("Classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}
