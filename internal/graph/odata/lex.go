package odata

import (
	"fmt"
	"regexp"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tGUID
	tNumber
	tLParen
	tRParen
	tComma
	tSlash
	tColon
)

// token is one lexeme; pos is its 0-based byte offset in the filter text.
type token struct {
	kind tokKind
	text string // identifier/number/GUID text, or the unescaped string
	pos  int
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lex splits src into tokens. Words are runs of letters, digits, '_', '.'
// and '-'; a word that is a GUID is a GUID literal (Graph compares
// Edm.Guid properties to unquoted GUIDs), one that starts with a digit or
// '-' must be a number, anything else is an identifier or keyword.
func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			out = append(out, token{tLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")", i})
			i++
		case c == ',':
			out = append(out, token{tComma, ",", i})
			i++
		case c == '/':
			out = append(out, token{tSlash, "/", i})
			i++
		case c == ':':
			out = append(out, token{tColon, ":", i})
			i++
		case c == '\'':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, syntaxErr(fmt.Sprintf("There is an unterminated string literal at position %d in '%s'.", start, src))
				}
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			out = append(out, token{tString, b.String(), start})
		case isWordByte(c):
			start := i
			for i < len(src) && isWordByte(src[i]) {
				i++
			}
			w := src[start:i]
			switch {
			case guidRE.MatchString(w):
				out = append(out, token{tGUID, strings.ToLower(w), start})
			case w[0] == '-' || w[0] >= '0' && w[0] <= '9':
				if !numberRE.MatchString(w) {
					return nil, syntaxErr(fmt.Sprintf("Syntax error at position %d in '%s'.", start, src))
				}
				out = append(out, token{tNumber, w, start})
			default:
				if strings.Contains(w, "-") {
					return nil, syntaxErr(fmt.Sprintf("Syntax error: character '-' is not valid at position %d in '%s'.", start+strings.IndexByte(w, '-'), src))
				}
				out = append(out, token{tIdent, w, start})
			}
		default:
			return nil, syntaxErr(fmt.Sprintf("Syntax error: character '%c' is not valid at position %d in '%s'.", c, i, src))
		}
	}
	out = append(out, token{tEOF, "", len(src)})
	return out, nil
}

var numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
