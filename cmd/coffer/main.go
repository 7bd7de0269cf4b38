// Command coffer is a self-hostable, Azure-wire-compatible managed identity
// and Key Vault server, with an az-shaped CLI over its own public APIs.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}
