package cliout

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// yamlWidth is PyYAML's default best_width: plain and single-quoted
// scalars are folded at a space once a line passes it.
const yamlWidth = 80

// yamlEmitter writes what PyYAML's safe_dump(default_flow_style=False)
// writes for JSON-shaped data, which is az's -o yaml: block mappings with
// keys sorted, sequences inside a mapping not indented, {} and [] for empty
// collections, strings plain when they read back as strings and quoted
// (single quotes preferred) when not.
type yamlEmitter struct {
	b     strings.Builder
	col   int
	color bool
}

func renderYAML(v any, color bool) []byte {
	e := &yamlEmitter{color: color}
	switch x := v.(type) {
	case map[string]any:
		if len(x) > 0 {
			e.mapping(x, 0)
			return []byte(e.b.String())
		}
	case []any:
		if len(x) > 0 {
			e.sequence(x, 0)
			return []byte(e.b.String())
		}
	}
	plain := e.scalar(v, 2)
	e.newline()
	if plain {
		// PyYAML ends a document whose root is an open-ended plain scalar.
		e.tok(ansiDocEnd, "...")
		e.newline()
	}
	return []byte(e.b.String())
}

// write adds plain text (no line breaks) and advances the column.
func (e *yamlEmitter) write(s string) {
	e.b.WriteString(s)
	e.col += utf8.RuneCountInString(s)
}

// tok adds one token in a colour, as pygments' TerminalFormatter wraps
// each token of its YAML lexer (even an empty one).
func (e *yamlEmitter) tok(code, s string) {
	if e.color {
		e.b.WriteString(code)
	}
	e.write(s)
	if e.color {
		e.b.WriteString(ansiReset)
	}
}

// newline ends a line; coloured output closes it with an empty
// whitespace token, as the lexer's line-end token renders.
func (e *yamlEmitter) newline() {
	e.tok(ansiGray, "")
	e.b.WriteByte('\n')
	e.col = 0
}

func (e *yamlEmitter) indent(n int) {
	if e.col < n {
		e.tok(ansiGray, strings.Repeat(" ", n-e.col))
	}
}

// indicator writes ":" or "-" and the space after it.
func (e *yamlEmitter) indicator(s string, space bool) {
	e.write(s)
	if space {
		e.tok(ansiGray, " ")
	}
}

// mapping writes a non-empty mapping whose keys start at column ind; the
// first key continues the current line when it already reaches ind.
func (e *yamlEmitter) mapping(m map[string]any, ind int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.indent(ind)
		e.key(k)
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) > 0 {
				e.indicator(":", false)
				e.newline()
				e.mapping(v, ind+2)
				continue
			}
		case []any:
			if len(v) > 0 {
				e.indicator(":", false)
				e.newline()
				e.sequence(v, ind)
				continue
			}
		}
		e.indicator(":", true)
		e.scalar(m[k], ind+2)
		e.newline()
	}
}

func (e *yamlEmitter) sequence(l []any, ind int) {
	for _, v := range l {
		e.indent(ind)
		e.indicator("-", true)
		switch x := v.(type) {
		case map[string]any:
			if len(x) > 0 {
				e.mapping(x, ind+2)
				continue
			}
		case []any:
			if len(x) > 0 {
				e.sequence(x, ind+2)
				continue
			}
		}
		e.scalar(v, ind+2)
		e.newline()
	}
}

func (e *yamlEmitter) key(k string) {
	style := yamlStyle(k)
	if style == '|' { // a multi-line key is written double-quoted
		style = '"'
	}
	e.str(k, style, 0, true)
}

// scalar writes a scalar (or an empty collection) and reports whether it
// was written plain.
func (e *yamlEmitter) scalar(v any, ind int) bool {
	switch x := v.(type) {
	case nil:
		e.write("null")
	case bool:
		e.write(strconv.FormatBool(x))
	case json.Number:
		e.write(yamlNumber(x.String()))
	case float64:
		e.write(yamlNumber(pyFloat(x)))
	case map[string]any:
		e.write("{}")
		return false
	case []any:
		e.write("[]")
		return false
	case string:
		style := yamlStyle(x)
		if style == '|' {
			style = '\''
		}
		e.str(x, style, ind, false)
		return style == 0
	default:
		e.write(fmt.Sprint(x))
	}
	return true
}

// yamlNumber writes a number as PyYAML does: ints as is, floats as
// Python's repr with a ".0" before a bare exponent.
func yamlNumber(s string) string {
	s = strings.ToLower(s)
	if strings.Contains(s, "e") && !strings.Contains(s, ".") {
		i := strings.Index(s, "e")
		s = s[:i] + ".0" + s[i:]
	}
	return s
}

// str writes a string in style 0 (plain), '\” or '"', folding plain and
// single-quoted text at spaces past yamlWidth, continuing at column ind.
// Coloured, it splits quoted text into pygments' tokens: each quote, each
// word and each escape in yellow, the spaces between words in red.
func (e *yamlEmitter) str(s string, style byte, ind int, isKey bool) {
	if style == 0 {
		if isKey {
			e.tok(ansiBrightBlue, s)
			return
		}
		e.fold([]rune(s), ind, false)
		return
	}
	q := string(style)
	e.tok(ansiYellow, q)
	if style == '"' {
		e.doubleFolded(s, ind, isKey)
	} else {
		e.fold([]rune(strings.ReplaceAll(s, "'", "''")), ind, !isKey)
	}
	e.tok(ansiYellow, q)
}

// fold writes text, replacing a single space by a line break (and the
// continuation indent) when the line is already past yamlWidth, and each
// run of line breaks by one more break (YAML folding), as PyYAML does.
func (e *yamlEmitter) fold(runes []rune, ind int, quoted bool) {
	word := func(w []rune) {
		if len(w) == 0 {
			return
		}
		if quoted {
			e.tok(ansiYellow, string(w))
		} else {
			e.write(string(w))
		}
	}
	space := func() {
		if quoted {
			e.tok(ansiRed, " ")
		} else {
			e.write(" ")
		}
	}
	start := 0
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r == ' ':
			word(runes[start:i])
			start = i + 1
			single := i > 0 && runes[i-1] != ' ' && i+1 < len(runes) && runes[i+1] != ' '
			if single && e.col > yamlWidth {
				e.newline()
				e.indent(ind)
				continue
			}
			if !quoted {
				// plain text is one token, spaces included
				e.write(" ")
				continue
			}
			space()
		case r == '\n':
			word(runes[start:i])
			e.newline()
			for i+1 < len(runes) && runes[i+1] == '\n' {
				e.newline()
				i++
			}
			e.newline()
			e.indent(ind)
			start = i + 1
		}
	}
	word(runes[start:])
}

// The implicit types of PyYAML's resolver: a plain scalar matching one of
// these would not read back as a string, so such strings are quoted.
var yamlImplicit = []*regexp.Regexp{
	regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`),
	regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`),
	regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`),
	regexp.MustCompile(`^(?:<<|=|~|null|Null|NULL|)$`),
	regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`),
}

// yamlStyle picks the style PyYAML picks for a block-context string: 0 for
// plain, '\” for single-quoted, '"' for double-quoted, '|' for "single
// quotes unless it is a key" (multi-line text).
func yamlStyle(s string) byte {
	var (
		flowInd, blockInd, lineBreaks, special       bool
		leadSpace, leadBreak, trailSpace, trailBreak bool
		breakSpace, spaceBreak, prevSpace, prevBreak bool
	)
	if s == "" {
		return '\''
	}
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		blockInd, flowInd = true, true
	}
	runes := []rune(s)
	for i, r := range runes {
		followedBySpace := i+1 == len(runes) || runes[i+1] == ' ' || runes[i+1] == '\n'
		if i == 0 {
			switch {
			case strings.ContainsRune("#,[]{}&*!|>'\"%@`", r):
				flowInd, blockInd = true, true
			case r == '?' || r == ':':
				flowInd = true
				if followedBySpace {
					blockInd = true
				}
			case r == '-' && followedBySpace:
				flowInd, blockInd = true, true
			}
		} else {
			switch {
			case strings.ContainsRune(",?[]{}", r):
				flowInd = true
			case r == ':':
				flowInd = true
				if followedBySpace {
					blockInd = true
				}
			case r == '#' && prevSpace:
				flowInd, blockInd = true, true
			}
		}
		isBreak := r == '\n'
		if isBreak {
			lineBreaks = true
		}
		if !(r == '\n' || (r >= 0x20 && r <= 0x7e)) {
			special = true // non-printable, tab, or non-ASCII (az does not pass allow_unicode)
		}
		if r == ' ' {
			if i == 0 {
				leadSpace = true
			}
			if i == len(runes)-1 {
				trailSpace = true
			}
			if prevBreak {
				breakSpace = true
			}
		}
		if isBreak {
			if i == 0 {
				leadBreak = true
			}
			if i == len(runes)-1 {
				trailBreak = true
			}
			if prevSpace {
				spaceBreak = true
			}
		}
		prevSpace, prevBreak = r == ' ', isBreak
	}
	plain, single := true, true
	if leadSpace || leadBreak || trailSpace || trailBreak {
		plain = false
	}
	if breakSpace {
		plain, single = false, false
	}
	if spaceBreak || special {
		plain, single = false, false
	}
	if lineBreaks || blockInd {
		plain = false
	}
	_ = flowInd // block context: flow indicators do not forbid plain
	if plain {
		for _, re := range yamlImplicit {
			if re.MatchString(s) {
				plain = false
				break
			}
		}
	}
	switch {
	case plain:
		return 0
	case single && lineBreaks:
		return '|'
	case single:
		return '\''
	}
	return '"'
}

// doubleFolded writes the inside of a double-quoted scalar, folding it
// like PyYAML: at a space (or after an escape) once the line would pass
// yamlWidth, the line ends in a backslash and a leading space of the next
// line is escaped. Keys are never folded.
func (e *yamlEmitter) doubleFolded(s string, ind int, isKey bool) {
	runes := []rune(s)
	chunk := func(rs []rune) {
		// words yellow, spaces red, as the lexer splits quoted text
		start := 0
		for i, r := range rs {
			if r == ' ' {
				if start < i {
					e.tok(ansiYellow, string(rs[start:i]))
				}
				e.tok(ansiRed, " ")
				start = i + 1
			}
		}
		if start < len(rs) {
			e.tok(ansiYellow, string(rs[start:]))
		}
	}
	start := 0
	for end := 0; end <= len(runes); end++ {
		var ch rune = -1
		if end < len(runes) {
			ch = runes[end]
		}
		if ch < 0 || ch == '"' || ch == '\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 || ch == 0xfeff || ch < 0x20 || ch > 0x7e {
			if start < end {
				chunk(runes[start:end])
				start = end
			}
			if ch >= 0 {
				q := doubleQuoted(string(ch))
				e.tok(ansiYellow, q[1:len(q)-1])
				start = end + 1
			}
		}
		if !isKey && end > 0 && end < len(runes)-1 && (ch == ' ' || start >= end) && e.col+(end-start) > yamlWidth {
			if start < end {
				chunk(runes[start:end])
				start = end
			}
			e.tok(ansiYellow, "\\")
			e.newline()
			e.indent(ind)
			if start < len(runes) && runes[start] == ' ' {
				e.tok(ansiYellow, "\\")
			}
		}
	}
}

// doubleQuoted escapes as PyYAML's double-quoted style.
func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case 0:
			b.WriteString(`\0`)
		case 7:
			b.WriteString(`\a`)
		case 8:
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case 0x0b:
			b.WriteString(`\v`)
		case 0x0c:
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1b:
			b.WriteString(`\e`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case 0x85:
			b.WriteString(`\N`)
		case 0xa0:
			b.WriteString(`\_`)
		case 0x2028:
			b.WriteString(`\L`)
		case 0x2029:
			b.WriteString(`\P`)
		default:
			switch {
			case r >= 0x20 && r <= 0x7e:
				b.WriteRune(r)
			case r <= 0xff:
				fmt.Fprintf(&b, `\x%02X`, r)
			case r <= 0xffff:
				fmt.Fprintf(&b, `\u%04X`, r)
			default:
				fmt.Fprintf(&b, `\U%08X`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
