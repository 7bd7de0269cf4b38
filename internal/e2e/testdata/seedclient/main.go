// Command seedclient is an unmodified Azure SDK program: it reads one
// secret with ManagedIdentityCredential and azsecrets, configured only by
// the environment (SEED_VAULT_URL, SEED_SECRET, optional AZURE_CLIENT_ID for
// a user-assigned identity), and prints the secret as JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func main() {
	var opts *azidentity.ManagedIdentityCredentialOptions
	if id := os.Getenv("SEED_CLIENT_ID"); id != "" {
		opts = &azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(id)}
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		fail(err)
	}
	c, err := azsecrets.NewClient(os.Getenv("SEED_VAULT_URL"), cred, nil)
	if err != nil {
		fail(err)
	}
	s, err := c.GetSecret(context.Background(), os.Getenv("SEED_SECRET"), "", nil)
	if err != nil {
		fail(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"value": *s.Value, "id": string(*s.ID), "enabled": *s.Attributes.Enabled})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
