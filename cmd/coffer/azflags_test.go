package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/client"
)

// TestListFlagParsing: argparse's nargs lists on top of cobra, through the
// same pre-pass and pflag.Value the CLI uses.
func TestListFlagParsing(t *testing.T) {
	tests := []struct {
		name      string
		args      string
		perms     []string // nil: flag not given
		scopes    []string
		tags      map[string]string
		value     string
		wantError string
	}{
		{name: "space-separated", args: "leaf --perms get list", perms: []string{"get", "list"}},
		{name: "repeated", args: "leaf --perms get --perms list", perms: []string{"get", "list"}},
		{name: "commas", args: "leaf --perms get,list", perms: []string{"get", "list"}},
		{name: "= takes one word", args: "leaf --perms=get --perms list set", perms: []string{"get", "list", "set"}},
		{name: "zero words is an empty list", args: "leaf --perms --value x", perms: []string{}, value: "x"},
		{name: "a flag's value is never a list word", args: "leaf --value --perms --perms a", perms: []string{"a"}, value: "--perms"},
		{name: "negative numbers are words", args: "leaf --perms -1 -2.5", perms: []string{"-1", "-2.5"}},
		{name: "shorthand flag ends the list", args: "leaf --perms a -v x", perms: []string{"a"}, value: "x"},
		{name: "tags", args: "leaf --tags a=1 b c=x,y d=2,e=3", tags: map[string]string{"a": "1", "b": "", "c": "x,y", "d": "2", "e": "3"}},
		{name: "one or more", args: "leaf --scopes /s/1 /s/2", scopes: []string{"/s/1", "/s/2"}},
		{name: "one or more needs one", args: "leaf --scopes", wantError: "argument --scopes: expected at least one argument"},
		{name: "one or more before a flag needs one", args: "leaf --scopes --value x", wantError: "argument --scopes: expected at least one argument"},
		{name: "leftover word", args: "leaf --value x stray", wantError: "unrecognized arguments: stray"},
		{name: "unknown flag", args: "leaf --nope", wantError: "unrecognized arguments: --nope"},
		{name: "missing value", args: "leaf --value", wantError: "argument --value/-v: expected one argument"},
		{name: "required", args: "req", wantError: "the following arguments are required: --name/-n"},
		{name: "words after -- stay words", args: "leaf --perms a -- b", wantError: "unrecognized arguments: b"},
		{name: "unknown command in a group", args: "bogus", wantError: "'bogus' is not in the 'root grp' command group"},
		{name: "unknown command in a group, with flags", args: "bogus -n x", wantError: "'bogus' is not in the 'root grp' command group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var perms, scopes, tags []string
			var value, name string
			root := &cobra.Command{Use: "root", SilenceErrors: true, SilenceUsage: true}
			addOutputFlags(root)
			grp := &cobra.Command{Use: "grp"}
			leaf := &cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return nil }}
			listVar(leaf.Flags(), &perms, "perms", zeroOrMore, "")
			listVar(leaf.Flags(), &scopes, "scopes", oneOrMore, "")
			tagsVar(leaf.Flags(), &tags)
			leaf.Flags().StringVarP(&value, "value", "v", "", "")
			req := &cobra.Command{Use: "req", RunE: func(*cobra.Command, []string) error { return nil }}
			req.Flags().StringVarP(&name, "name", "n", "", "")
			_ = req.MarkFlagRequired("name")
			grp.AddCommand(leaf, req)
			root.AddCommand(grp)
			args := append([]string{"grp"}, strings.Fields(tt.args)...)
			finishCLI(root)
			expanded, err := expandListArgs(root, args)
			if err == nil {
				root.SetArgs(expanded)
				err = root.Execute()
			}
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error = %v, want %q", err, tt.wantError)
				}
				if code := exitCode(err); code != 2 {
					t.Errorf("exit code %d for a usage error, want 2 (argparse's)", code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(perms, "|") != strings.Join(tt.perms, "|") || (perms == nil) != (tt.perms == nil) {
				t.Errorf("perms = %#v, want %#v", perms, tt.perms)
			}
			if strings.Join(scopes, "|") != strings.Join(tt.scopes, "|") {
				t.Errorf("scopes = %#v, want %#v", scopes, tt.scopes)
			}
			if tt.tags != nil {
				got := parseTags(tags)
				if len(got) != len(tt.tags) {
					t.Errorf("tags = %v, want %v", got, tt.tags)
				}
				for k, v := range tt.tags {
					if got[k] != v {
						t.Errorf("tags = %v, want %v", got, tt.tags)
					}
				}
			}
			if value != tt.value {
				t.Errorf("value = %q, want %q", value, tt.value)
			}
		})
	}
}

func TestThreeStateFlags(t *testing.T) {
	tests := []struct {
		args      string
		want      bool
		wantError string
	}{
		{args: "leaf", want: false},
		{args: "leaf --rbac", want: true},
		{args: "leaf --rbac true", want: true},
		{args: "leaf --rbac False", want: false},
		{args: "leaf --rbac=false", want: false},
		{args: "leaf --rbac --other x", want: true},
		{args: "leaf --rbac maybe", wantError: "unrecognized arguments: maybe"},
		{args: "leaf --rbac=maybe", wantError: "argument --rbac: invalid choice: 'maybe' (choose from 'true', 'false')"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var rbac bool
			var other string
			root := &cobra.Command{Use: "root", SilenceErrors: true, SilenceUsage: true}
			addOutputFlags(root)
			leaf := &cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return nil }}
			boolVar(leaf.Flags(), &rbac, "rbac", "")
			leaf.Flags().StringVar(&other, "other", "", "")
			root.AddCommand(leaf)
			finishCLI(root)
			expanded, err := expandListArgs(root, strings.Fields(tt.args))
			if err == nil {
				root.SetArgs(expanded)
				err = root.Execute()
			}
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil || rbac != tt.want {
				t.Errorf("rbac = %v (err %v), want %v", rbac, err, tt.want)
			}
		})
	}
}

// TestExitCodes: az's exit statuses, through a command tree finished like
// the CLI's: 2 for what argparse rejects, 3 for a 404, 1 for the rest.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		fail error // what the leaf command returns
		want int
	}{
		{"success", []string{"grp", "leaf"}, nil, 0},
		{"unknown first word", []string{"bogus"}, nil, 2},
		{"unknown command in a group", []string{"grp", "bogus"}, nil, 2},
		{"unknown flag", []string{"grp", "leaf", "--nope"}, nil, 2},
		{"leftover word", []string{"grp", "leaf", "stray"}, nil, 2},
		{"flag without its value", []string{"grp", "leaf", "--value"}, nil, 2},
		{"required flag missing", []string{"grp", "req"}, nil, 2},
		{"bad output format", []string{"grp", "leaf", "-o", "xml"}, nil, 2},
		{"bad --query", []string{"grp", "leaf", "--query", "["}, nil, 2},
		{"command error", []string{"grp", "leaf"}, errors.New("usage error: --ids IDS | --name NAME"), 1},
		{"service refusal", []string{"grp", "leaf"}, &client.Error{Status: 403, Code: "Forbidden"}, 1},
		{"not found", []string{"grp", "leaf"}, fmt.Errorf("reading: %w", &client.Error{Status: 404, Code: "VaultNotFound"}), 3},
		{"the CLI's own not found", []string{"grp", "leaf"}, notFoundError{errors.New("Service principal 'x' doesn't exist")}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := &cobra.Command{Use: "root", SilenceErrors: true, SilenceUsage: true}
			addOutputFlags(root)
			grp := &cobra.Command{Use: "grp"}
			var value, name string
			leaf := &cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return tt.fail }}
			leaf.Flags().StringVar(&value, "value", "", "")
			req := &cobra.Command{Use: "req", RunE: func(*cobra.Command, []string) error { return nil }}
			req.Flags().StringVarP(&name, "name", "n", "", "")
			_ = req.MarkFlagRequired("name")
			grp.AddCommand(leaf, req)
			root.AddCommand(grp)
			finishCLI(root)
			root.SetArgs(tt.args)
			err := root.Execute()
			got := 0
			if err != nil {
				got = exitCode(err)
			}
			if got != tt.want {
				t.Errorf("exit code %d (error %v), want %d", got, err, tt.want)
			}
		})
	}
}
