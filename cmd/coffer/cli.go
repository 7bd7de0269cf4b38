package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
	"github.com/coffer-dev/coffer/internal/cliout"
)

// cliOpts are the global options of client commands.
type cliOpts struct {
	dataDir string
	output  string
	query   string
}

var opts cliOpts

// session is what a client command needs: an API client and the instance.
type session struct {
	c    *client.Client
	info *app.ServerInfo
	sub  string
}

// connect waits for the server of --data-dir (see serverInfo), picks the
// credential (this server's `coffer login`, else its admin) and checks it.
func connect() (*session, error) {
	return openConnect(context.Background())
}

func (s *session) rgPath(rg string) string {
	return "/subscriptions/" + s.sub + "/resourceGroups/" + rg
}

// addOutputFlags adds az's global -o/--query to a command tree. Like az,
// the default format comes from AZURE_CORE_OUTPUT (az's core.output
// setting), else json.
func addOutputFlags(cmd *cobra.Command) {
	def := os.Getenv("AZURE_CORE_OUTPUT")
	if def == "" {
		def = "json"
	}
	cmd.PersistentFlags().StringVarP(&opts.output, "output", "o", def, "output format: json, jsonc, yaml, yamlc, table, tsv, none")
	cmd.PersistentFlags().StringVar(&opts.query, "query", "", "JMESPath query string. See http://jmespath.org/ for more information and examples.")
}

// checkOutputFlags validates -o and --query before a command does
// anything, as argparse does in az.
func checkOutputFlags(cmd *cobra.Command) error {
	if _, err := cliout.ParseFormat(opts.output); err != nil {
		return err
	}
	if f := cmd.Flags().Lookup("query"); f != nil && f.Changed {
		if _, err := cliout.CompileQuery(opts.query); err != nil {
			return err
		}
	}
	return nil
}

// printResult renders v as the user asked (JSON by default, like az).
func printResult(w io.Writer, v any) error { return printTable(w, v, nil) }

// printTable is printResult with az's table transformer for the command:
// the shape -o table shows when no --query is given.
func printTable(w io.Writer, v any, transform func(any) (any, []string)) error {
	format, err := cliout.ParseFormat(opts.output)
	if err != nil {
		return err
	}
	o := cliout.Options{Format: format, TableTransform: transform, Color: colorOutput(w)}
	if opts.query != "" {
		if o.Query, err = cliout.CompileQuery(opts.query); err != nil {
			return err
		}
	}
	b, err := cliout.Render(v, o)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// colorOutput is az's rule for jsonc/yamlc: colour only when stdout and
// stderr are terminals and the user has not turned colour off.
func colorOutput(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || !term.IsTerminal(int(os.Stderr.Fd())) {
		return false
	}
	switch strings.ToLower(os.Getenv("AZURE_CORE_NO_COLOR")) {
	case "1", "true", "yes", "on":
		return false
	}
	return true
}

func stderrf(format string, args ...any) { fmt.Fprintf(os.Stderr, format, args...) }

// ensureGroup creates the resource group if it does not exist yet, so the
// az-shaped create commands work on a fresh server (az itself would fail).
func (s *session) ensureGroup(ctx context.Context, rg, location string) error {
	var g map[string]any
	_, err := s.c.ARM(ctx, "GET", s.rgPath(rg), nil, &g)
	if err == nil {
		return nil
	}
	if !client.IsNotFound(err) {
		return err
	}
	if location == "" {
		location = app.DefaultLocation
	}
	stderrf("resource group %q does not exist; creating it in %q\n", rg, location)
	_, err = s.c.ARM(ctx, "PUT", s.rgPath(rg), map[string]any{"location": location}, nil)
	return err
}
