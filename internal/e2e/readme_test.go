package e2e

// The README test: the shell code blocks of README.md and docs/*.md run
// verbatim, in order, one section at a time, as a reader pasting them would.
//
// # What runs
//
// A document is split into sections at its level-2 headings ("## "); the
// part before the first one is the section "(top)". The shell blocks of a
// section (fences labelled sh, bash, shell, console, zsh, or unlabelled) are
// concatenated into one `bash` script run with `set -Eeuo pipefail`: any
// failing command fails the test, including one inside a command
// substitution used as an argument (an ERR trap records it), and, with
// pipefail, a pipeline whose reader quits early (`| grep -q`: SIGPIPE) --
// write such lines without -q. Shell variables carry over from block to
// block within a section, never between sections.
// Fences in other languages (go, python, json, ini, ...) are prose unless
// annotated with file=.
//
// Each section gets a fresh world: HOME is a new temporary directory (so
// Coffer's data directory ~/.local/share/coffer and the CLI's login
// ~/.config/coffer are new; COFFER_*, AZURE_*, proxy and CA variables of the
// machine running the test are removed), the working directory is a fresh
// directory holding the repository's files (symlinks to a checkout, as a
// fresh clone) and a freshly built ./coffer, and `coffer` is on PATH (as
// after `install coffer /usr/local/bin`). Stdin is /dev/null.
//
// As root, every section runs in a network namespace of its own, so its
// servers (127.0.0.1:8443, :443, 169.254.169.254:80) never meet another
// test's, and its /etc is a throwaway overlay (with the namespace's own
// /etc/hosts, which it may append to). Without root, sections marked netns
// are skipped (under CI=true: failed) and the others run on the host, one
// at a time.
//
// Commands a section starts in the background (`./coffer serve &`) live
// until the section ends: the script runs in its own process group, which
// gets SIGTERM, then SIGKILL, when the last block is done.
//
// # Placeholders
//
// There are none: a run block containing `<something>` fails the test.
// Documents capture values from earlier commands into shell variables, the
// way az users do:
//
//	PASSWORD=$(./coffer ad sp create-for-rbac -n ci-bot --query password -o tsv)
//	APP_ID=$(./coffer ad sp list --display-name ci-bot --query "[].appId" -o tsv)
//
// # Annotations
//
// HTML comments on a line of their own (invisible on GitHub):
//
//	<!-- not-run: REASON -->
//	    right before a block (blank lines allowed): the block is not run;
//	    the reason is required. Every shell block is either run or marked.
//	<!-- doctest: OPTIONS -->
//	    right before a block:
//	    file=PATH      write the block to PATH (relative to the working
//	                   directory) at this point instead of running it; for
//	                   a program shown in its own language, e.g. ```python
//	    expect="TEXT"  the block's standard output must contain TEXT
//	                   (repeatable); for commands whose failure would not
//	                   change their exit status
//	<!-- doctest-section: OPTIONS -->
//	    anywhere in a section before its first block:
//	    netns          the section needs a network namespace (root): it
//	                   listens on 443 or 169.254.169.254:80, or edits
//	                   /etc/hosts
//	    hosts="A B"    names pinned to 127.0.0.1 in the namespace's
//	                   /etc/hosts before the section starts (what the
//	                   reader's DNS already does); needs netns
//	    addr=CIDR      an address the machine has (added to the namespace's
//	                   loopback), e.g. addr=10.0.0.5/32; repeatable
//	    scratch=DIR    DIR (e.g. /usr/local/bin) is writable but throwaway:
//	                   an overlay in the namespace's mount namespace; needs
//	                   netns. /etc always is, in every namespace
//	    needs=LIST     tools the section uses, comma-separated:
//	                   az      the Azure CLI (`az` on PATH); AZURE_CONFIG_DIR
//	                           is a fresh directory, telemetry off
//	                   python  /usr/bin/python3 with the azure-identity and
//	                           azure-keyvault-secrets packages: PATH entries of
//	                           pyenv/virtualenvs are dropped so `python3` is
//	                           the system one
//	                   node    node on PATH
//	                   a missing tool skips the section (under CI: fails)
//	    env=NAME=VALUE set for the section (repeatable); $HOME and $PWD are
//	                   expanded. Only for what a reader's machine already
//	                   has, never for a step the section should show
//	    timeout=DUR    instead of 5m
//	    continues      this section goes on with the previous one's script
//	                   (shared variables, data directory and namespace), for
//	                   a document that is one walkthrough in several parts
//	                   (docs/agent.md); README sections never continue
//
// The first block of README.md (`go run ./cmd/coffer serve`, `scripts/test`)
// is not-run here: scripts/test is this suite. TestReadmeQuickstart checks
// that block's text and runs its first line.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// docFiles are the documents whose sections the test runs.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		files = append(files, rel)
	}
	return files
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from the test's directory: %v", err)
	}
	return root
}

func TestReadme(t *testing.T) {
	root := repoRoot(t)
	coffer, _ := binaries(t)
	for _, f := range docFiles(t, root) {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		sections, err := parseDoc(f, string(src))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		cs := chains(sections)
		if len(cs) == 0 {
			// A parser that finds nothing would pass every document.
			t.Errorf("%s: no section to run", f)
		}
		t.Run(f, func(t *testing.T) {
			for _, c := range cs {
				t.Run(c.name(), func(t *testing.T) {
					runDocChain(t, root, coffer, c)
				})
			}
		})
	}
}

// runDocChain runs one section (with its continuations) and reports every
// failure with the document line it came from.
func runDocChain(t *testing.T, root, coffer string, c docChain) {
	o := c.opts()
	for _, n := range o.needs {
		requireDocTool(t, n)
	}
	useNetns := os.Geteuid() == 0
	if o.netns || useNetns {
		requireRootAndIP(t)
	} else if ln, err := net.Listen("tcp", "127.0.0.1:8443"); err != nil {
		// Without a namespace the section's server needs the default port.
		skipOrFail(t, "127.0.0.1:8443 is in use and without root there is no network namespace to run in: "+err.Error())
	} else {
		ln.Close()
	}
	work, unlock := workDir(t, root, coffer)
	defer unlock()
	res, err := runChainScript(t, c, chainEnv{
		work:   work,
		coffer: coffer,
		netns:  useNetns,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.problems {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("--- trace and errors ---\n%s", tail(res.log, 12000))
		for i, out := range res.outputs {
			if out != "" {
				t.Logf("--- stdout of block %d (%s:%d) ---\n%s", i+1, c.blockFile(i), res.blocks[i].line, tail(out, 4000))
			}
		}
	}
}

func (c docChain) blockFile(i int) string {
	n := 0
	for _, s := range c.sections {
		for _, b := range s.blocks {
			if b.notRun != "" || (b.file == "" && !isShell(b.lang)) {
				continue
			}
			if n == i {
				return s.file
			}
			n++
		}
	}
	return "?"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must provide it; see scripts/test)", why)
	}
	t.Skip(why)
}

func requireDocTool(t *testing.T, name string) {
	t.Helper()
	switch name {
	case "az":
		if _, err := exec.LookPath("az"); err != nil {
			skipOrFail(t, "the section needs the Azure CLI (az)")
		}
	case "python":
		if err := exec.Command("/usr/bin/python3", "-c", "import azure.identity, azure.keyvault.secrets").Run(); err != nil {
			skipOrFail(t, "the section needs /usr/bin/python3 with azure-identity and azure-keyvault-secrets: "+err.Error())
		}
	case "node":
		if _, err := exec.LookPath("node"); err != nil {
			skipOrFail(t, "the section needs node")
		}
	}
}

// chainEnv is where and how a chain runs.
type chainEnv struct {
	work   string // working directory
	coffer string // binary put on PATH as `coffer` ("" for none)
	netns  bool   // run in a network namespace of its own
}

type chainResult struct {
	problems []string
	log      string
	outputs  []string
	blocks   []*docBlock
}

// runChainScript runs a chain's script and checks what it left behind. An
// error means the harness itself could not run; problems are the
// document's.
func runChainScript(t *testing.T, c docChain, ce chainEnv) (*chainResult, error) {
	o := c.opts()
	script, loc, blocks := c.script()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	outDir := filepath.Join(dir, "out")
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{home, outDir, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if ce.coffer != "" {
		if err := os.Symlink(ce.coffer, filepath.Join(bin, "coffer")); err != nil {
			return nil, err
		}
	}
	scriptFile := filepath.Join(dir, "section.sh")
	failedFile := filepath.Join(dir, "failed")
	logFile := filepath.Join(dir, "log")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		return nil, err
	}
	env, err := sectionEnv(o, home, ce.work, bin)
	if err != nil {
		return nil, err
	}
	env = append(env, "DOCTEST_FAILED="+failedFile, "DOCTEST_OUT="+outDir)

	timeout := 5 * time.Minute
	if o.timeout > 0 {
		timeout = o.timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var cmd *exec.Cmd
	if ce.netns {
		var hosts []string
		if len(o.hosts) > 0 {
			hosts = []string{"127.0.0.1 " + strings.Join(o.hosts, " ")}
		}
		ns := newNetns(t, hosts, o.addrs...)
		// Overlay options are comma-separated and cannot quote, and
		// t.TempDir's name holds the test's (commas included).
		ovl, err := os.MkdirTemp("", "doctest-overlay-")
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = os.RemoveAll(ovl) })
		wrapper := filepath.Join(dir, "netns.sh")
		if err := os.WriteFile(wrapper, []byte(overlayWrapper(ns.name, ovl, o.scratch)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command("ip", "netns", "exec", ns.name, "bash", "--noprofile", "--norc", wrapper, scriptFile)
	} else {
		cmd = exec.Command("bash", "--noprofile", "--norc", scriptFile)
	}
	cmd.Dir, cmd.Env = ce.work, env
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// A file, not a pipe: background commands keep their copy open, and
	// Wait must not wait for them.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	timedOut := false
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		timedOut = true
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		waitErr = <-done
	}
	stopGroup(pgid)
	t.Logf("%s: ran in %s", c.name(), time.Since(start).Round(100*time.Millisecond))

	res := &chainResult{blocks: blocks}
	b, _ := os.ReadFile(logFile)
	res.log = string(b)
	for i := range blocks {
		out, _ := os.ReadFile(filepath.Join(outDir, strconv.Itoa(i+1)))
		res.outputs = append(res.outputs, string(out))
	}
	where := func(scriptLine int) string {
		if l, ok := loc[scriptLine]; ok {
			return fmt.Sprintf("%s:%d", l.file, l.line)
		}
		// A line of a file= block, or of the harness: name the nearest
		// document line before it.
		best := 0
		for k := range loc {
			if k < scriptLine && k > best {
				best = k
			}
		}
		if best == 0 {
			return "the harness (script line " + strconv.Itoa(scriptLine) + ")"
		}
		return fmt.Sprintf("%s:%d (+%d)", loc[best].file, loc[best].line, scriptLine-best)
	}
	if f, err := os.ReadFile(failedFile); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(f)), "\n") {
			parts := strings.SplitN(l, " ", 4)
			if len(parts) < 4 {
				continue
			}
			line, _ := strconv.Atoi(parts[1])
			res.problems = append(res.problems, fmt.Sprintf("%s: exit status %s: %s", where(line), parts[2], parts[3]))
		}
	}
	switch {
	case timedOut:
		res.problems = append(res.problems, fmt.Sprintf("section %q did not finish within %s", c.name(), timeout))
	case waitErr != nil && len(res.problems) == 0:
		res.problems = append(res.problems, fmt.Sprintf("section %q: bash exited with %v before the end (see the trace)", c.name(), waitErr))
	}
	for i, bl := range blocks {
		for _, want := range bl.expects {
			if !strings.Contains(res.outputs[i], want) {
				res.problems = append(res.problems, fmt.Sprintf("%s:%d: the block's output lacks %q", c.blockFile(i), bl.line, want))
			}
		}
	}
	return res, nil
}

// stopGroup ends what a section left running in the background: SIGTERM
// (servers shut down cleanly), then SIGKILL for what is still there.
func stopGroup(pgid int) {
	alive := func() bool { return syscall.Kill(-pgid, 0) == nil && groupHasLiveMember(pgid) }
	if !alive() {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for alive() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		deadline = time.Now().Add(5 * time.Second)
		for alive() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// groupHasLiveMember reports whether a process of the group is still
// running (zombies waiting for their reaper do not count).
func groupHasLiveMember(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid && f[0] != "Z" && pid > 0 {
			return true
		}
	}
	return false
}

// overlayWrapper runs the script inside the namespace, with each scratch
// directory made writable through a throwaway overlay (ip netns exec has
// already given us a mount namespace of our own). /etc/hosts stays the
// namespace's file, so appending to it works as on a machine.
func overlayWrapper(nsName, dir string, scratch []string) string {
	var sb strings.Builder
	sb.WriteString("set -eu\n")
	// /etc is always throwaway: a document's `install -d /etc/coffer` or
	// `>> /etc/hosts` must never reach the machine running the test.
	dirs := []string{"/etc"}
	for _, d := range scratch {
		if filepath.Clean(d) != "/etc" {
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	for i, d := range dirs {
		up := filepath.Join(dir, "overlay", strconv.Itoa(i), "upper")
		wk := filepath.Join(dir, "overlay", strconv.Itoa(i), "work")
		fmt.Fprintf(&sb, "mkdir -p %s %s\n", shellQuoteTest(up), shellQuoteTest(wk))
		fmt.Fprintf(&sb, "mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s\n", d, up, wk, shellQuoteTest(d))
		if d == "/etc" {
			fmt.Fprintf(&sb, "mount --bind %s /etc/hosts\n", shellQuoteTest(filepath.Join("/etc/netns", nsName, "hosts")))
		}
	}
	sb.WriteString(`exec bash --noprofile --norc "$1"` + "\n")
	return sb.String()
}

// droppedEnv are variables of the machine running the test that a fresh
// reader's shell would not have, or that would point the section at
// another server, identity or CA.
func droppedEnv(k string) bool {
	u := strings.ToUpper(k)
	for _, p := range []string{"COFFER_", "AZURE_", "IDENTITY_", "MSI_", "XDG_", "PYENV", "GO", "NODE_", "VIRTUAL_ENV", "DOCTEST_"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	switch u {
	case "HOME", "PATH", "PWD", "OLDPWD", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "IMDS_ENDPOINT",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CDPATH", "BASH_ENV", "ENV":
		return true
	}
	return false
}

var (
	goEnvOnce sync.Once
	goEnvVars []string
	goEnvErr  error
)

// goEnv pins the Go toolchain's caches and settings to the ones of the
// machine running the test: with a fresh HOME, `go build` would otherwise
// start from an empty build and module cache.
func goEnv() ([]string, error) {
	goEnvOnce.Do(func() {
		out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN", "GOROOT").Output()
		if err != nil {
			goEnvErr = fmt.Errorf("go env: %w", err)
			return
		}
		var m map[string]string
		if err := json.Unmarshal(out, &m); err != nil {
			goEnvErr = err
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if m[k] != "" {
				goEnvVars = append(goEnvVars, k+"="+m[k])
			}
		}
	})
	return goEnvVars, goEnvErr
}

// sectionEnv is the environment of a fresh reader's shell.
func sectionEnv(o sectionOpts, home, work, bin string) ([]string, error) {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !droppedEnv(k) {
			env = append(env, kv)
		}
	}
	gv, err := goEnv()
	if err != nil {
		return nil, err
	}
	env = append(env, gv...)
	path := []string{bin}
	dropPyenv := false
	for _, n := range o.needs {
		if n == "python" {
			dropPyenv = true
		}
	}
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		// pyenv's shims find their interpreters under $HOME, which is
		// fresh; they would fail rather than fall back.
		if strings.Contains(p, "/.pyenv/") || strings.HasSuffix(p, "/.pyenv") {
			if dropPyenv {
				continue
			}
		}
		path = append(path, p)
	}
	if dropPyenv {
		// /usr/bin first: `python3` is the system interpreter.
		path = append([]string{bin, "/usr/bin"}, path[1:]...)
	}
	env = append(env, "HOME="+home, "PATH="+strings.Join(path, string(os.PathListSeparator)), "PWD="+work)
	for _, n := range o.needs {
		if n == "az" {
			env = append(env, "AZURE_CONFIG_DIR="+filepath.Join(home, ".azure"), "AZURE_CORE_COLLECT_TELEMETRY=no")
		}
	}
	vars := map[string]string{"HOME": home, "PWD": work}
	for _, e := range o.env {
		k, v, _ := strings.Cut(e, "=")
		env = append(env, k+"="+os.Expand(v, func(s string) string { return vars[s] }))
	}
	return env, nil
}

// workDir prepares the section's working directory: the repository's
// tracked top-level entries (symlinked, as a fresh clone) and ./coffer. Its
// path is the same for every section and run of a checkout, so `go build`
// in it hits the build cache (the package directory is part of Go's cache
// key); a lock keeps two test runs from sharing it at once.
func workDir(t *testing.T, root, coffer string) (string, func()) {
	t.Helper()
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "coffer-readme-"+hex.EncodeToString(sum[:6]))
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	unlock := func() {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	}
	if err := os.RemoveAll(dir); err != nil {
		unlock()
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		unlock()
		t.Fatal(err)
	}
	for _, name := range topLevelEntries(t, root) {
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			unlock()
			t.Fatal(err)
		}
	}
	if err := copyFile(coffer, filepath.Join(dir, "coffer"), 0o755); err != nil {
		unlock()
		t.Fatal(err)
	}
	return dir, unlock
}

// topLevelEntries are the first path elements of the files git tracks (what
// a clone has), or, outside git, the directory's entries but .git.
func topLevelEntries(t *testing.T, root string) []string {
	seen := map[string]bool{}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err == nil && len(out) > 0 {
		for _, f := range bytes.Split(out, []byte{0}) {
			if len(f) == 0 {
				continue
			}
			first, _, _ := strings.Cut(string(f), "/")
			if _, err := os.Lstat(filepath.Join(root, first)); err == nil {
				seen[first] = true
			}
		}
	} else {
		ents, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != ".git" {
				seen[e.Name()] = true
			}
		}
	}
	var names []string
	for n := range seen {
		if n != "coffer" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestReadmeQuickstart keeps README.md's first block true: exactly the two
// commands, the first of which runs Coffer on its defaults (HTTPS on
// localhost:8443, data under ~/.local/share/coffer). The second is the
// suite this test is part of; it is checked to exist.
func TestReadmeQuickstart(t *testing.T) {
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections, err := parseDoc("README.md", string(src))
	if err != nil {
		t.Fatal(err)
	}
	top := sections[0]
	if len(top.blocks) != 1 {
		t.Fatalf("README.md starts with %d code blocks before its first section, want 1", len(top.blocks))
	}
	var cmds []string
	for _, l := range top.blocks[0].text {
		cmd, _, _ := strings.Cut(l, "#")
		if c := strings.TrimSpace(cmd); c != "" {
			cmds = append(cmds, c)
		}
	}
	// The first command names the toolchain go.mod's go line requires, so
	// it works where the machine's own go is older.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	if want := []string{"GOTOOLCHAIN=go" + string(goLine[1]) + " go run ./cmd/coffer serve", "scripts/test"}; fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Fatalf("README.md's first block runs %q, want %q", cmds, want)
	}
	if st, err := os.Stat(filepath.Join(root, "scripts", "test")); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("scripts/test is not an executable file: %v", err)
	}
	coffer, _ := binaries(t)
	sec := &docSection{file: "README.md", title: "quickstart", blocks: []*docBlock{{
		line: top.blocks[0].line, lang: "sh", firstRow: top.blocks[0].firstRow,
		text: []string{
			cmds[0] + " &",
			// What "runs Coffer on its defaults" promises.
			`for i in $(seq 600); do [ -s ~/.local/share/coffer/ca.pem ] && curl -sf --cacert ~/.local/share/coffer/ca.pem https://localhost:8443/healthz && break; sleep 0.1; done`,
			`curl -sf --cacert ~/.local/share/coffer/ca.pem https://localhost:8443/healthz`,
		},
	}}}
	useNetns := os.Geteuid() == 0
	if useNetns {
		requireRootAndIP(t)
	} else if ln, err := net.Listen("tcp", "127.0.0.1:8443"); err != nil {
		skipOrFail(t, "127.0.0.1:8443 is in use and without root there is no network namespace to run in")
	} else {
		ln.Close()
	}
	work, unlock := workDir(t, root, coffer)
	defer unlock()
	res, err := runChainScript(t, docChain{sections: []*docSection{sec}}, chainEnv{work: work, coffer: coffer, netns: useNetns})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.problems {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("--- log ---\n%s", tail(res.log, 8000))
	}
}
