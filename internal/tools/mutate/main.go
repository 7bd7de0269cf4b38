// Command mutate is Coffer's mutation check for its security-critical
// conditions (run it as scripts/mutate). Each mutant in mutants.go flips
// one condition — a token audience, issuer or expiry check, an access
// decision, identity selection, an IMDS request rule, the run proxy's host
// allow-list — and names the tests that must notice. For each mutant the
// command writes the mutated file to a temporary directory and runs those
// tests with `go test -overlay`, so the working tree is never touched.
//
// It fails when a mutant survives (its tests still pass), when a mutant
// does not compile, or when a mutant's original snippet no longer occurs
// exactly once in its file: the list must be kept in step with the code.
//
// Usage: scripts/mutate [-run regexp] [-list] [-v]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// mutant is one deliberate bug.
type mutant struct {
	Name string
	// File is relative to the module root.
	File string
	// Orig must occur exactly once in File; Repl replaces it.
	Orig, Repl string
	// Pkgs are the packages to test (./internal/...); Run is the -run
	// regexp selecting the tests that must kill the mutant.
	Pkgs []string
	Run  string
}

func main() {
	runRE := flag.String("run", "", "only mutants whose name matches this regexp")
	list := flag.Bool("list", false, "list the mutants and exit")
	verbose := flag.Bool("v", false, "print the output of every test run")
	timeout := flag.Duration("timeout", 3*time.Minute, "per-mutant go test timeout (a hang counts as killed)")
	flag.Parse()
	if err := chdirModuleRoot(); err != nil {
		fatal(err)
	}
	var sel *regexp.Regexp
	if *runRE != "" {
		sel = regexp.MustCompile(*runRE)
	}
	tmp, err := os.MkdirTemp("", "coffer-mutate-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	if !*list {
		// The tests must pass on the unmutated tree, or a "killed" verdict
		// would mean nothing.
		if err := baseline(sel, *timeout); err != nil {
			fmt.Println("mutation check: BROKEN baseline:", err)
			os.Exit(1)
		}
	}
	var survived, broken []string
	n := 0
	for i, m := range mutants {
		if sel != nil && !sel.MatchString(m.Name) {
			continue
		}
		if *list {
			fmt.Printf("%-45s %s  [%s -run '%s']\n", m.Name, m.File, strings.Join(m.Pkgs, " "), m.Run)
			continue
		}
		n++
		t0 := time.Now()
		verdict, out, err := check(m, filepath.Join(tmp, fmt.Sprint(i)), *timeout)
		switch {
		case err != nil:
			broken = append(broken, m.Name+": "+err.Error())
			verdict = "BROKEN"
		case verdict == "SURVIVED":
			survived = append(survived, m.Name)
		}
		fmt.Printf("mutant %-45s %-8s %5.1fs\n", m.Name, verdict, time.Since(t0).Seconds())
		if *verbose || verdict != "killed" {
			os.Stdout.Write(indent(out))
		}
	}
	if *list {
		return
	}
	fmt.Printf("mutation check: %d mutants, %d killed, %d survived, %d broken (%.0fs)\n",
		n, n-len(survived)-len(broken), len(survived), len(broken), time.Since(start).Seconds())
	for _, s := range survived {
		fmt.Printf("  SURVIVED: %s — no test noticed this bug; add one\n", s)
	}
	for _, b := range broken {
		fmt.Printf("  BROKEN:   %s\n", b)
	}
	if len(survived)+len(broken) > 0 {
		os.Exit(1)
	}
}

// check applies m through an overlay and runs its tests. verdict is
// "killed" or "SURVIVED"; err reports a mutant that is not applicable
// (stale snippet) or does not compile.
func check(m mutant, dir string, timeout time.Duration) (verdict string, out []byte, err error) {
	src, err := os.ReadFile(m.File)
	if err != nil {
		return "", nil, err
	}
	if c := bytes.Count(src, []byte(m.Orig)); c != 1 {
		return "", nil, fmt.Errorf("the original snippet occurs %d times in %s (want exactly 1): update the mutant", c, m.File)
	}
	if m.Orig == m.Repl {
		return "", nil, fmt.Errorf("replacement equals the original")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	mutated := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(mutated, bytes.Replace(src, []byte(m.Orig), []byte(m.Repl), 1), 0o644); err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(m.File)
	if err != nil {
		return "", nil, err
	}
	overlay := filepath.Join(dir, "overlay.json")
	b, _ := json.Marshal(map[string]map[string]string{"Replace": {abs: mutated}})
	if err := os.WriteFile(overlay, b, 0o644); err != nil {
		return "", nil, err
	}
	// go vet would reject some mutants (e.g. unused results) before the
	// tests run; the question here is only whether a test fails.
	args := append([]string{"test", "-overlay=" + overlay, "-count=1", "-vet=off", "-timeout=" + timeout.String(), "-run", m.Run}, m.Pkgs...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	out, runErr := cmd.CombinedOutput()
	if runErr == nil {
		// Guard against a -run that matches nothing: that passes too.
		if bytes.Contains(out, []byte("no tests to run")) {
			return "", out, fmt.Errorf("-run %q matches no test in %v", m.Run, m.Pkgs)
		}
		return "SURVIVED", out, nil
	}
	if bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")) {
		return "", out, fmt.Errorf("the mutant does not compile")
	}
	return "killed", out, nil
}

// baseline runs, per package, every test the selected mutants name, on
// the tree as it is.
func baseline(sel *regexp.Regexp, timeout time.Duration) error {
	runs := map[string][]string{}
	var pkgs []string
	for _, m := range mutants {
		if sel != nil && !sel.MatchString(m.Name) {
			continue
		}
		for _, p := range m.Pkgs {
			if _, ok := runs[p]; !ok {
				pkgs = append(pkgs, p)
			}
			if !slices.Contains(runs[p], m.Run) {
				runs[p] = append(runs[p], m.Run)
			}
		}
	}
	for _, p := range pkgs {
		t0 := time.Now()
		run := "(" + strings.Join(runs[p], ")|(") + ")"
		ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
		out, err := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout="+timeout.String(), "-run", run, p).CombinedOutput()
		cancel()
		fmt.Printf("baseline %-44s %-8s %5.1fs\n", p, map[bool]string{true: "ok", false: "FAIL"}[err == nil], time.Since(t0).Seconds())
		if err != nil {
			os.Stdout.Write(indent(out))
			return fmt.Errorf("the tests of %s fail without any mutant", p)
		}
	}
	return nil
}

func chdirModuleRoot() error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return fmt.Errorf("not inside the coffer module")
	}
	return os.Chdir(filepath.Dir(mod))
}

func indent(b []byte) []byte {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 60 {
		lines = append(lines[:30], append([]string{"    …"}, lines[len(lines)-30:]...)...)
	}
	return []byte("    " + strings.Join(lines, "\n    ") + "\n")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}
