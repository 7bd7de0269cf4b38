package e2e

// The extractor of the README test (readme_test.go, where the annotation
// convention is documented): it splits a Markdown document into sections
// and code blocks and reads the annotations attached to them.

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// docBlock is one fenced code block.
type docBlock struct {
	line     int    // 1-based line of the opening fence
	lang     string // first word of the info string
	text     []string
	notRun   string // reason, when marked not-run
	file     string // write the block to this file instead of running it
	expects  []string
	firstRow int // 1-based line of text[0]
}

// docSection is what lies between two level-2 headings (the part before
// the first one is the section "(top)").
type docSection struct {
	file   string
	title  string
	line   int
	opts   sectionOpts
	hasOpt bool
	blocks []*docBlock
}

// sectionOpts are a section's <!-- doctest-section: ... --> options.
type sectionOpts struct {
	netns     bool
	continues bool
	hosts     []string
	addrs     []string
	scratch   []string
	needs     []string
	env       []string
	timeout   time.Duration
}

// runs reports whether the section has a block the runner executes.
func (s *docSection) runs() bool {
	for _, b := range s.blocks {
		if b.notRun == "" && (b.file != "" || isShell(b.lang)) {
			return true
		}
	}
	return false
}

// isShell reports whether a fence's language is one the README test must
// run (or see explicitly marked). An unlabelled fence counts as shell, so a
// forgotten language cannot hide a block from the test.
func isShell(lang string) bool {
	switch lang {
	case "", "sh", "bash", "shell", "console", "zsh":
		return true
	}
	return false
}

var (
	annotationRE = regexp.MustCompile(`^<!--\s*(not-run|doctest|doctest-section)\s*:\s*(.*?)\s*-->\s*$`)
	fenceRE      = regexp.MustCompile("^(```+|~~~+)\\s*([^\\s`]*)")
	// A placeholder the reader would have to fill in: the test has no way
	// to, so the documents capture values into shell variables instead.
	placeholderRE = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.-]*>`)
	optionRE      = regexp.MustCompile(`^([a-z][a-z-]*)(?:=(?:"([^"]*)"|(\S+)))?`)
)

type pendingNote struct {
	line       int
	kind, body string
}

// parseDoc splits a Markdown document into sections and blocks and checks
// the annotations. Every problem is an error: a mistyped annotation must
// not quietly turn a block off.
func parseDoc(file, src string) ([]*docSection, error) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var errs []string
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	sec := &docSection{file: file, title: "(top)", line: 1}
	sections := []*docSection{sec}
	var notes []pendingNote
	flushNotes := func() {
		for _, n := range notes {
			fail(n.line, "<!-- %s: --> must come right before a code block (blank lines allowed)", n.kind)
		}
		notes = nil
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		ln := i + 1
		trimmed := strings.TrimSpace(l)
		if m := fenceRE.FindStringSubmatch(trimmed); m != nil {
			b := &docBlock{line: ln, lang: strings.ToLower(m[2]), firstRow: ln + 1}
			closed := false
			for i++; i < len(lines); i++ {
				if t := strings.TrimSpace(lines[i]); strings.HasPrefix(t, m[1]) && strings.Trim(t, m[1][:1]) == "" {
					closed = true
					break
				}
				b.text = append(b.text, lines[i])
			}
			if !closed {
				fail(ln, "code block is never closed")
			}
			for _, n := range notes {
				if err := applyBlockNote(b, n); err != nil {
					fail(n.line, "%v", err)
				}
			}
			notes = nil
			if b.notRun == "" && b.file == "" && isShell(b.lang) {
				for j, t := range b.text {
					if p := placeholderRE.FindString(t); p != "" {
						fail(b.firstRow+j, "placeholder %s: capture the value in a shell variable instead (or mark the block <!-- not-run: why -->)", p)
					}
				}
			}
			sec.blocks = append(sec.blocks, b)
			continue
		}
		if strings.HasPrefix(l, "## ") {
			flushNotes()
			sec = &docSection{file: file, title: strings.TrimSpace(strings.TrimPrefix(l, "## ")), line: ln}
			sections = append(sections, sec)
			continue
		}
		if m := annotationRE.FindStringSubmatch(trimmed); m != nil {
			if m[1] == "doctest-section" {
				if sec.hasOpt {
					fail(ln, "a second <!-- doctest-section: --> in section %q", sec.title)
				} else if len(sec.blocks) > 0 {
					fail(ln, "<!-- doctest-section: --> must come before the section's first code block")
				}
				opts, err := parseSectionOpts(m[2])
				if err != nil {
					fail(ln, "%v", err)
				}
				sec.opts, sec.hasOpt = opts, true
				continue
			}
			notes = append(notes, pendingNote{line: ln, kind: m[1], body: m[2]})
			continue
		}
		if strings.HasPrefix(trimmed, "<!--") && (strings.Contains(trimmed, "doctest") || strings.Contains(trimmed, "not-run")) {
			fail(ln, "malformed annotation %q: want <!-- not-run: why -->, <!-- doctest: ... --> or <!-- doctest-section: ... --> on one line", trimmed)
			continue
		}
		if trimmed != "" {
			flushNotes()
		}
	}
	flushNotes()
	for i, s := range sections {
		if s.opts.continues {
			if i == 0 || !sections[i-1].runs() && !sections[i-1].opts.continues {
				fail(s.line, "section %q continues a section that runs nothing", s.title)
			}
			if s.opts.netns || len(s.opts.hosts)+len(s.opts.addrs)+len(s.opts.scratch)+len(s.opts.needs)+len(s.opts.env) > 0 || s.opts.timeout != 0 {
				fail(s.line, "a continuing section takes its options from the section it continues")
			}
		}
		if len(s.opts.scratch) > 0 && !s.opts.netns {
			fail(s.line, "scratch= needs netns (the overlay lives in the namespace's mount namespace)")
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return sections, nil
}

func applyBlockNote(b *docBlock, n pendingNote) error {
	if n.kind == "not-run" {
		if strings.TrimSpace(n.body) == "" {
			return fmt.Errorf("<!-- not-run: --> needs a reason")
		}
		if b.notRun != "" {
			return fmt.Errorf("block marked not-run twice")
		}
		b.notRun = n.body
		return nil
	}
	return eachOption(n.body, func(key, val string, hasVal bool) error {
		switch key {
		case "file":
			if !hasVal || val == "" {
				return fmt.Errorf("file= needs a path")
			}
			b.file = val
		case "expect":
			if !hasVal || val == "" {
				return fmt.Errorf("expect= needs the text to find")
			}
			b.expects = append(b.expects, val)
		default:
			return fmt.Errorf("unknown block option %q (known: file=, expect=)", key)
		}
		return nil
	})
}

func parseSectionOpts(body string) (sectionOpts, error) {
	var o sectionOpts
	err := eachOption(body, func(key, val string, hasVal bool) error {
		needVal := func() error {
			if !hasVal || val == "" {
				return fmt.Errorf("%s= needs a value", key)
			}
			return nil
		}
		switch key {
		case "netns":
			o.netns = true
		case "continues":
			o.continues = true
		case "hosts":
			if err := needVal(); err != nil {
				return err
			}
			o.hosts = append(o.hosts, strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' })...)
		case "addr":
			if err := needVal(); err != nil {
				return err
			}
			o.addrs = append(o.addrs, val)
		case "scratch":
			if err := needVal(); err != nil {
				return err
			}
			if !strings.HasPrefix(val, "/") {
				return fmt.Errorf("scratch=%s: want an absolute directory", val)
			}
			o.scratch = append(o.scratch, val)
		case "needs":
			if err := needVal(); err != nil {
				return err
			}
			for _, n := range strings.Split(val, ",") {
				switch n {
				case "az", "python", "node":
					o.needs = append(o.needs, n)
				default:
					return fmt.Errorf("needs=%s: known tools are az, python, node", n)
				}
			}
		case "env":
			if err := needVal(); err != nil {
				return err
			}
			if !strings.Contains(val, "=") {
				return fmt.Errorf("env=%s: want NAME=VALUE", val)
			}
			o.env = append(o.env, val)
		case "timeout":
			if err := needVal(); err != nil {
				return err
			}
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return fmt.Errorf("timeout=%s: want a duration such as 5m", val)
			}
			o.timeout = d
		default:
			return fmt.Errorf("unknown section option %q (known: netns, continues, hosts=, addr=, scratch=, needs=, env=, timeout=)", key)
		}
		return nil
	})
	if (len(o.hosts) > 0 || len(o.addrs) > 0) && !o.netns {
		return o, fmt.Errorf("hosts= and addr= need netns")
	}
	return o, err
}

// eachOption calls f for each `key`, `key=value` or `key="a value"` in s.
func eachOption(s string, f func(key, val string, hasVal bool) error) error {
	s = strings.TrimSpace(s)
	for s != "" {
		m := optionRE.FindStringSubmatchIndex(s)
		if m == nil {
			return fmt.Errorf("cannot read option at %q", s)
		}
		key := s[m[2]:m[3]]
		val, hasVal := "", false
		if m[4] >= 0 {
			val, hasVal = s[m[4]:m[5]], true
		} else if m[6] >= 0 {
			val, hasVal = s[m[6]:m[7]], true
		}
		if err := f(key, val, hasVal); err != nil {
			return err
		}
		rest := s[m[1]:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return fmt.Errorf("cannot read option at %q", s)
		}
		s = strings.TrimSpace(rest)
	}
	return nil
}

// docChain is a section with the sections that continue it: one script,
// one data directory, one namespace.
type docChain struct {
	sections []*docSection
}

func (c docChain) opts() sectionOpts { return c.sections[0].opts }

func (c docChain) name() string {
	return c.sections[0].title
}

// chains groups sections into runnable units, dropping those with nothing
// to run.
func chains(sections []*docSection) []docChain {
	var out []docChain
	for _, s := range sections {
		if s.opts.continues && len(out) > 0 {
			out[len(out)-1].sections = append(out[len(out)-1].sections, s)
			continue
		}
		out = append(out, docChain{sections: []*docSection{s}})
	}
	var keep []docChain
	for _, c := range out {
		for _, s := range c.sections {
			if s.runs() {
				keep = append(keep, c)
				break
			}
		}
	}
	return keep
}

// docLoc is where a script line came from.
type docLoc struct {
	file  string
	line  int
	block int
}

// script turns a chain into one bash script. Each block's stdout goes to
// its own file (for expect=); the shell's trace and errors go to stderr.
// The ERR trap, inherited by functions and command substitutions
// (errtrace, inherit_errexit), records the first failing line even where
// errexit alone would carry on: `cmd "$(failing)"`.
func (c docChain) script() (string, map[int]docLoc, []*docBlock) {
	var sb strings.Builder
	loc := map[int]docLoc{}
	n := 0
	emit := func(s string, l *docLoc) {
		n++
		if l != nil {
			loc[n] = *l
		}
		sb.WriteString(s)
		sb.WriteByte('\n')
	}
	emit("set -Eeuo pipefail", nil)
	emit("shopt -s inherit_errexit", nil)
	emit(`__doctest_block=0`, nil)
	emit(`trap '{ __doctest_rc=$? __doctest_line=$LINENO; set +x; } 2>/dev/null; printf "%s %s %s %s\n" "$__doctest_block" "$__doctest_line" "$__doctest_rc" "$BASH_COMMAND" >>"$DOCTEST_FAILED"; set -x' ERR`, nil)
	emit("set -x", nil)
	var blocks []*docBlock
	for _, s := range c.sections {
		for _, b := range s.blocks {
			if b.notRun != "" || (b.file == "" && !isShell(b.lang)) {
				continue
			}
			blocks = append(blocks, b)
			idx := len(blocks)
			emit(fmt.Sprintf("__doctest_block=%d", idx), nil)
			if b.file != "" {
				delim := fmt.Sprintf("__DOCTEST_EOF_%d__", idx)
				emit(fmt.Sprintf("cat >%s <<'%s'", shellQuoteTest(b.file), delim), &docLoc{file: s.file, line: b.line, block: idx})
				for _, t := range b.text {
					emit(t, nil)
				}
				emit(delim, nil)
				continue
			}
			emit(fmt.Sprintf(`exec >"$DOCTEST_OUT/%d"`, idx), nil)
			for j, t := range b.text {
				emit(t, &docLoc{file: s.file, line: b.firstRow + j, block: idx})
			}
		}
	}
	emit("__doctest_block=end", nil)
	return sb.String(), loc, blocks
}

func shellQuoteTest(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
