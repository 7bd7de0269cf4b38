// Command miclient is an unmodified Azure SDK program for the tests: it
// reads one secret with managed identity, exactly as an application on an
// Azure VM would, and prints its value. Nothing in it knows about Coffer;
// the environment (HTTP_PROXY, HTTPS_PROXY, SSL_CERT_FILE) does the rest.
//
// COFFER_TEST_VAULT_URL and COFFER_TEST_SECRET_NAME say what to read;
// COFFER_TEST_CREDENTIAL=default uses DefaultAzureCredential (which probes
// IMDS first) instead of ManagedIdentityCredential.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cred azcore.TokenCredential
	var err error
	if os.Getenv("COFFER_TEST_CREDENTIAL") == "default" {
		cred, err = azidentity.NewDefaultAzureCredential(nil)
	} else {
		cred, err = azidentity.NewManagedIdentityCredential(nil)
	}
	if err != nil {
		fail(err)
	}
	c, err := azsecrets.NewClient(os.Getenv("COFFER_TEST_VAULT_URL"), cred, nil)
	if err != nil {
		fail(err)
	}
	resp, err := c.GetSecret(ctx, os.Getenv("COFFER_TEST_SECRET_NAME"), "", nil)
	if err != nil {
		fail(err)
	}
	fmt.Print(*resp.Value)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "miclient:", err)
	os.Exit(1)
}
