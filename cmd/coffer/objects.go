package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// objectTarget is what a secret, key or certificate command acts on:
// --vault-name, --name/-n and --version, or --id, bound to that command
// group's flag variables. One of these serves the three groups, which
// address their objects the same way.
type objectTarget struct {
	kind                     string // the collection in ids and paths: secrets, keys, certificates
	vault, name, version, id *string
}

// resolve checks the flags and, given --id, fills vault, name and version
// from it (a deleted object's id when deleted is set), as az does.
func (o objectTarget) resolve(cmd *cobra.Command, deleted bool) error {
	if *o.id == "" {
		var missing []string
		if *o.vault == "" {
			missing = append(missing, "--vault-name")
		}
		if *o.name == "" {
			missing = append(missing, "--name/-n")
		}
		if len(missing) > 0 {
			return usagef("the following arguments are required: %s (or --id)", strings.Join(missing, ", "))
		}
		return nil
	}
	for _, f := range []string{"vault-name", "name", "version"} {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("usage error: --id ID | --vault-name VAULT --name NAME [--version VERSION]")
		}
	}
	var err error
	*o.vault, *o.name, *o.version, err = parseObjectID(*o.id, o.kind, deleted)
	return err
}

// run is a command's RunE: resolve the target (for commands with --id),
// connect, call f and print what it returns (nothing for nil).
func (o objectTarget) run(deleted bool, f func(cmd *cobra.Command, s *session) (any, error)) func(cmd *cobra.Command, _ []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Lookup("id") != nil {
			if err := o.resolve(cmd, deleted); err != nil {
				return err
			}
		}
		s, err := connect()
		if err != nil {
			return err
		}
		out, err := f(cmd, s)
		if err != nil || out == nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}
}

// kv sends one request to the target's vault and returns the decoded answer.
func (o objectTarget) kv(cmd *cobra.Command, s *session, method, path string, body any) (any, error) {
	var out any
	_, err := s.c.KeyVault(cmd.Context(), *o.vault, method, path, body, &out)
	return out, err
}

// parseObjectID splits an object id (https://VAULT.DNS/KIND/NAME[/VERSION])
// or, for deleted, a recovery id (https://VAULT.DNS/deletedKIND/NAME).
func parseObjectID(id, kind string, deleted bool) (vault, name, version string, err error) {
	if deleted {
		kind = "deleted" + kind
	}
	u, perr := url.Parse(id)
	var parts []string
	if perr == nil {
		parts = strings.Split(strings.Trim(u.Path, "/"), "/")
		vault, _, _ = strings.Cut(u.Hostname(), ".")
	}
	if perr != nil || u.Scheme != "https" || vault == "" || len(parts) < 2 || len(parts) > 3 || parts[0] != kind || (deleted && len(parts) != 2) {
		return "", "", "", fmt.Errorf("argument --id: invalid id '%s': want https://VAULT.vault.azure.net/%s/NAME", id, kind)
	}
	name = parts[1]
	if len(parts) == 3 {
		version = parts[2]
	}
	return vault, name, version, nil
}
