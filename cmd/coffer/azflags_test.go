package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
