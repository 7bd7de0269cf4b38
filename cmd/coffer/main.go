// Command coffer is a self-hostable, Azure-wire-compatible managed identity
// and Key Vault server, with an az-shaped CLI over its own public APIs.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) { // coffer run: pass the child's status through
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, renderError(err))
		os.Exit(1)
	}
}
