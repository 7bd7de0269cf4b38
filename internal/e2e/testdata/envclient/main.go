// Command envclient is the newcomer's program: DefaultAzureCredential and
// azsecrets with no client options at all, configured only by the
// environment that `coffer env` prints. It sets a secret in
// $COFFER_VAULT_URL, reads it back and prints the result as JSON.
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
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		fail(err)
	}
	c, err := azsecrets.NewClient(os.Getenv("COFFER_VAULT_URL"), cred, nil)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	value := "hello from DefaultAzureCredential"
	if _, err := c.SetSecret(ctx, "newcomer", azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		fail(err)
	}
	s, err := c.GetSecret(ctx, "newcomer", "", nil)
	if err != nil {
		fail(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"value": *s.Value, "id": string(*s.ID)})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
