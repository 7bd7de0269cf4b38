package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/client"
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

// addOutputFlags adds az's -o/--query to a command tree.
func addOutputFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&opts.output, "output", "o", "json", "output format: json, jsonc, tsv, table, none")
	cmd.PersistentFlags().StringVar(&opts.query, "query", "", "dotted path of the value to print, e.g. properties.vaultUri")
}

// printResult renders v as the user asked (JSON by default, like az).
func printResult(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return err
	}
	if opts.query != "" {
		generic = query(generic, opts.query)
	}
	switch opts.output {
	case "none":
		return nil
	case "tsv":
		return printTSV(w, generic)
	case "table":
		return printTable(w, generic)
	default:
		out, err := json.MarshalIndent(generic, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(out))
		return err
	}
}

// query follows a dotted path (with [] to map over lists).
func query(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			continue
		}
		if strings.HasSuffix(part, "[]") {
			part = strings.TrimSuffix(part, "[]")
			if part != "" {
				v = field(v, part)
			}
			continue
		}
		if list, ok := v.([]any); ok {
			var out []any
			for _, x := range list {
				out = append(out, field(x, part))
			}
			v = out
			continue
		}
		v = field(v, part)
	}
	return v
}

func field(v any, name string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if x, ok := m[name]; ok {
		return x
	}
	for k, x := range m {
		if strings.EqualFold(k, name) {
			return x
		}
	}
	return nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func rows(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	return []any{v}
}

func printTSV(w io.Writer, v any) error {
	for _, r := range rows(v) {
		if m, ok := r.(map[string]any); ok {
			var cols []string
			for _, k := range sortedScalarKeys(m) {
				cols = append(cols, scalar(m[k]))
			}
			fmt.Fprintln(w, strings.Join(cols, "\t"))
			continue
		}
		fmt.Fprintln(w, scalar(r))
	}
	return nil
}

func sortedScalarKeys(m map[string]any) []string {
	var keys []string
	for k, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printTable(w io.Writer, v any) error {
	rs := rows(v)
	if len(rs) == 0 {
		return nil
	}
	first, ok := rs[0].(map[string]any)
	if !ok {
		return printTSV(w, v)
	}
	keys := sortedScalarKeys(first)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	var head, line []string
	for _, k := range keys {
		head = append(head, strings.ToUpper(k[:1])+k[1:])
		line = append(line, strings.Repeat("-", len(k)))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	fmt.Fprintln(tw, strings.Join(line, "\t"))
	for _, r := range rs {
		m, _ := r.(map[string]any)
		var cols []string
		for _, k := range keys {
			cols = append(cols, scalar(m[k]))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
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
