// Command readsecret is an ordinary Azure program, with nothing in it about
// Coffer: it reads one secret from a key vault with DefaultAzureCredential
// and the azsecrets client, both on their default settings, and prints the
// value. The README runs it against Coffer in each of the ways an
// unmodified program can be pointed at it.
//
//	readsecret VAULT_URL SECRET_NAME
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: readsecret VAULT_URL SECRET_NAME")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "readsecret:", err)
		os.Exit(1)
	}
}

func run(vaultURL, name string) error {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return err
	}
	client, err := azsecrets.NewClient(vaultURL, cred, nil)
	if err != nil {
		return err
	}
	s, err := client.GetSecret(context.Background(), name, "", nil)
	if err != nil {
		return err
	}
	fmt.Println(*s.Value)
	return nil
}
