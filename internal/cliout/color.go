package cliout

import (
	"bytes"
	"unicode/utf8"
)

// The colours of pygments' TerminalFormatter on a light background, which
// az uses for jsonc and yamlc: keys (Name.Tag) bright blue, strings
// yellow, numbers and keywords (true/false/null) blue, whitespace gray.
const (
	ansiBrightBlue = "\x1b[94m"
	ansiBlue       = "\x1b[34m"
	ansiYellow     = "\x1b[33m"
	ansiGray       = "\x1b[37m"
	ansiRed        = "\x1b[31m"         // spaces inside quoted YAML
	ansiDocEnd     = "\x1b[04m\x1b[36m" // "..." (underlined cyan)
	ansiReset      = "\x1b[39;49;00m"
)

// colorJSON colours indented JSON token by token. Like the pygments
// formatter, it colours each line of a token separately, so a whitespace
// token spanning a line break leaves the break itself uncoloured.
func colorJSON(src []byte) []byte {
	var out bytes.Buffer
	emit := func(code string, tok []byte) {
		// Python's splitlines also ends a line at U+0085, U+2028 and
		// U+2029, which JSON leaves unescaped; those stay inside the
		// coloured piece, a "\n" is written outside it.
		for len(tok) > 0 {
			n, brk := len(tok), false
			for i, r := range string(tok) {
				if r == '\n' {
					n, brk = i, true
					break
				}
				if r == 0x85 || r == 0x2028 || r == 0x2029 {
					n = i + utf8.RuneLen(r)
					break
				}
			}
			if code == "" {
				out.Write(tok[:n])
			} else {
				out.WriteString(code)
				out.Write(tok[:n])
				out.WriteString(ansiReset)
			}
			if brk {
				out.WriteByte('\n')
				n++
			}
			tok = tok[n:]
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\n' || src[j] == '\t' || src[j] == '\r') {
				j++
			}
			emit(ansiGray, src[i:j])
			i = j
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j++
			// A string followed by a colon is an object key.
			k := j
			for k < len(src) && src[k] == ' ' {
				k++
			}
			code := ansiYellow
			if k < len(src) && src[k] == ':' {
				code = ansiBrightBlue
			}
			emit(code, src[i:j])
			i = j
		case c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':':
			out.WriteByte(c)
			i++
		default: // numbers and true/false/null
			j := i
			for j < len(src) && !bytes.ContainsRune([]byte(" \n\t\r,]}:"), rune(src[j])) {
				j++
			}
			emit(ansiBlue, src[i:j])
			i = j
		}
	}
	return out.Bytes()
}
