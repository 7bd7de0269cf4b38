package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/coffer-dev/coffer/internal/client"
)

// az parses its arguments with argparse, where a list argument
// (nargs='+' or '*') takes every following word up to the next option:
// `--secret-permissions get list`. pflag takes one word per flag, so a
// pre-pass (expandListArgs) rewrites each list flag and its words into one
// --flag=word per word before cobra parses. Repeating the flag and commas
// (the forms Coffer accepted before) keep working. Every word that is left
// over is an error, as in az ("unrecognized arguments: …").

// nargs says how many words a list flag takes.
type nargs int

const (
	zeroOrMore nargs = iota // argparse '*': an empty list is a value
	oneOrMore               // argparse '+'
)

// listFlag is the pflag.Value of every list flag.
type listFlag struct {
	values *[]string
	n      nargs
	split  func(string) []string
	set    bool
}

func (f *listFlag) String() string {
	if f.values == nil {
		return ""
	}
	return strings.Join(*f.values, " ")
}

func (f *listFlag) Type() string { return "list" }

// Set adds one word (the first call replaces the default). The empty
// word is what the pre-pass passes for a '*' flag given without words.
func (f *listFlag) Set(s string) error {
	if !f.set {
		*f.values = []string{}
		f.set = true
	}
	if s == "" {
		return nil
	}
	*f.values = append(*f.values, f.split(s)...)
	return nil
}

// splitCommas splits a word at commas: permission names, resource ids and
// identities never contain one.
func splitCommas(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitTags splits "a=1,b=2" into two tags only when every part is a
// name=value pair, so a tag value may itself contain commas ("a=x,y").
func splitTags(s string) []string {
	parts := strings.Split(s, ",")
	for _, p := range parts {
		if !strings.Contains(p, "=") {
			return []string{s}
		}
	}
	return parts
}

// listVar declares a list flag.
func listVar(fs *pflag.FlagSet, p *[]string, name string, n nargs, usage string) {
	fs.Var(&listFlag{values: p, n: n, split: splitCommas}, name, usage)
}

// tagsVar declares az's --tags: space-separated name[=value] words.
func tagsVar(fs *pflag.FlagSet, p *[]string) {
	fs.Var(&listFlag{values: p, n: zeroOrMore, split: splitTags}, "tags", `space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags`)
}

// triState is az's get_three_state_flag: `--flag` alone means true, and
// `--flag true|false` (any case) sets it either way.
type triState struct{ p *bool }

func (f *triState) String() string {
	if f.p == nil {
		return "false"
	}
	return strconv.FormatBool(*f.p)
}

func (f *triState) Type() string { return "bool" }

func (f *triState) Set(s string) error {
	switch strings.ToLower(s) {
	case "true":
		*f.p = true
	case "false":
		*f.p = false
	default:
		return choiceError(fmt.Sprintf("invalid choice: '%s' (choose from 'true', 'false')", s))
	}
	return nil
}

// boolVar declares a three-state flag.
func boolVar(fs *pflag.FlagSet, p *bool, name, usage string) {
	fs.Var(&triState{p: p}, name, usage+" (true or false; alone: true)")
	fs.Lookup(name).NoOptDefVal = "true"
}

// choiceError is a flag value error already worded as argparse words it,
// after "argument --flag: ".
type choiceError string

func (e choiceError) Error() string { return string(e) }

// parseTags turns --tags words into a map, as az's validate_tags does: a
// word without "=" is a tag with an empty value.
func parseTags(words []string) map[string]string {
	m := map[string]string{}
	for _, w := range words {
		if w == "" {
			continue
		}
		k, v, _ := strings.Cut(w, "=")
		m[k] = v
	}
	return m
}

// expandListArgs is the pre-pass: it finds the command args name and
// rewrites `--flag a b` into `--flag=a --flag=b` for its list flags.
func expandListArgs(root *cobra.Command, args []string) ([]string, error) {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args, nil // cobra reports the unknown command
	}
	lookup := func(name string, short bool) *pflag.Flag {
		for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
			if short {
				if f := fs.ShorthandLookup(name); f != nil {
					return f
				}
			} else if f := fs.Lookup(name); f != nil {
				return f
			}
		}
		return nil
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			if strings.Contains(a, "=") {
				out = append(out, a) // --flag=value: one value, as in argparse
				continue
			}
			f = lookup(a[2:], false)
		case len(a) == 2 && a[0] == '-' && a[1] != '-':
			f = lookup(a[1:], true)
		}
		if f != nil {
			if _, ok := f.Value.(*triState); ok {
				// `--flag true|false`: the optional word is the value.
				if i+1 < len(args) && (strings.EqualFold(args[i+1], "true") || strings.EqualFold(args[i+1], "false")) {
					out = append(out, "--"+f.Name+"="+args[i+1])
					i++
				} else {
					out = append(out, a)
				}
				continue
			}
		}
		lf, isList := (*listFlag)(nil), false
		if f != nil {
			lf, isList = f.Value.(*listFlag)
		}
		if !isList {
			out = append(out, a)
			// The next word is this flag's value, never a flag name.
			if f != nil && f.NoOptDefVal == "" && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			continue
		}
		j := i + 1
		for j < len(args) && !looksLikeOption(args[j]) {
			j++
		}
		words := args[i+1 : j]
		if len(words) == 0 {
			if lf.n == oneOrMore {
				return nil, usagef("argument %s: expected at least one argument", optionNames(f))
			}
			out = append(out, "--"+f.Name+"=")
		}
		for _, w := range words {
			out = append(out, "--"+f.Name+"="+w)
		}
		i = j - 1
	}
	return out, nil
}

// looksLikeOption is argparse's test for where a list ends: a word that
// starts with "-" and is not a negative number.
func looksLikeOption(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, r := range s[1:] {
		if (r < '0' || r > '9') && r != '.' {
			return true
		}
	}
	return false
}

// optionNames is argparse's name of an argument in errors: "--name/-n".
func optionNames(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "--" + f.Name + "/-" + f.Shorthand
	}
	return "--" + f.Name
}

// azArgs validates a leaf command's arguments as argparse would: required
// arguments first, then no leftover words, then the global -o and --query.
func azArgs(cmd *cobra.Command, args []string) error {
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if req := f.Annotations[cobra.BashCompOneRequiredFlag]; len(req) > 0 && req[0] == "true" && !f.Changed {
			missing = append(missing, optionNames(f))
		}
	})
	if len(missing) > 0 {
		return usagef("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	if len(args) > 0 {
		return usagef("unrecognized arguments: %s", strings.Join(args, " "))
	}
	if err := checkOutputFlags(cmd); err != nil {
		return usageError{err}
	}
	return nil
}

// azFlagError words pflag's errors as argparse words them. In a command
// group, a misspelt command is the error to report, not its flags. All of
// them are usage errors.
func azFlagError(cmd *cobra.Command, err error) error {
	return usageError{flagError(cmd, err)}
}

func flagError(cmd *cobra.Command, err error) error {
	if cmd.HasSubCommands() && cmd.HasParent() {
		if words := cmd.Flags().Args(); len(words) > 0 {
			return notInGroup(cmd, words[0])
		}
	}
	var notExist *pflag.NotExistError
	var needsValue *pflag.ValueRequiredError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notExist):
		if s := notExist.GetSpecifiedShortnames(); s != "" {
			return fmt.Errorf("unrecognized arguments: -%s", s)
		}
		return fmt.Errorf("unrecognized arguments: --%s", notExist.GetSpecifiedName())
	case errors.As(err, &needsValue):
		if lf, ok := needsValue.GetFlag().Value.(*listFlag); ok && lf.n == oneOrMore {
			return fmt.Errorf("argument %s: expected at least one argument", optionNames(needsValue.GetFlag()))
		}
		return fmt.Errorf("argument %s: expected one argument", optionNames(needsValue.GetFlag()))
	case errors.As(err, &invalid):
		var choice choiceError
		if errors.As(err, &choice) {
			return fmt.Errorf("argument %s: %s", optionNames(invalid.GetFlag()), choice)
		}
		return fmt.Errorf("argument %s: invalid %s value: '%s'", optionNames(invalid.GetFlag()), invalid.GetFlag().Value.Type(), invalid.GetValue())
	}
	return err
}

// finishCLI makes the command tree parse like az: the list-flag pre-pass
// over the process arguments, argparse's checks on every leaf command, and
// argparse's wording of flag errors. Commands that declare their own
// positional arguments (coffer run) keep them.
func finishCLI(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.Runnable() && c.Args == nil:
			c.Args = azArgs
		case !c.Runnable() && c.HasParent():
			// A command group run with a word that names no command:
			// az's error, where cobra would print help and succeed.
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return notInGroup(cmd, args[0])
				}
				return cmd.Help()
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if root.RunE == nil && root.Run == nil {
		// A first word that names no command: az's error, where cobra's
		// "unknown command" would exit like any other failure.
		root.Args = cobra.ArbitraryArgs
		root.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("'%s' is misspelled or not recognized by the system.", args[0])
			}
			return cmd.Help()
		}
	}
	root.SetFlagErrorFunc(azFlagError)
	args, err := expandListArgs(root, os.Args[1:])
	if err != nil {
		// Reported when the command runs, like any other usage error.
		cmd, _, _ := root.Find(os.Args[1:])
		if cmd != nil {
			cmd.Args = func(*cobra.Command, []string) error { return err }
		}
		return
	}
	root.SetArgs(args)
}

func notInGroup(group *cobra.Command, word string) error {
	return usagef("'%s' is not in the '%s' command group. See '%s --help'.", word, group.CommandPath(), group.CommandPath())
}

// usageError is an error in the command line itself, one that az's
// argparse reports before running the command: az exits 2 for these.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode is az's exit status for an error: 2 for a usage error (argparse
// exits 2), 3 for a resource that does not exist (az's
// ResourceNotFoundError, any 404), 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return 3
	}
	var nf notFoundError
	if errors.As(err, &nf) {
		return 3
	}
	return 1
}

// notFoundError is the CLI's own "does not exist" (az raises these with
// status 404 so that it exits 3).
type notFoundError struct{ error }

func (e notFoundError) Unwrap() error { return e.error }

// errCancelled is az's answer to a "n" at a confirmation prompt.
var errCancelled = errors.New("Operation cancelled.")

// confirm asks az's confirmation question unless yes is set. Like az, it
// needs a terminal on stdin and refuses to go on without one.
func confirm(cmd *cobra.Command, yes bool) error {
	if yes {
		return nil
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Unable to prompt for confirmation as no tty available. Use --yes.")
		return errCancelled
	}
	r := bufio.NewReader(in)
	for {
		// On stderr, not stdout as Python's input() does, so a prompt
		// never ends up in captured output.
		fmt.Fprint(cmd.ErrOrStderr(), "Are you sure you want to perform this operation? (y/n): ")
		line, err := r.ReadString('\n')
		switch ans := strings.TrimSpace(line); {
		case strings.EqualFold(ans, "y"):
			return nil
		case strings.EqualFold(ans, "n"), err != nil:
			return errCancelled
		}
	}
}
