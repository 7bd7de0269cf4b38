package odata

import (
	"fmt"
	"strings"
	"unicode"
)

// Search is a parsed $search: clauses "property:words" joined by AND/OR
// (AND binds tighter), as Graph's directory search accepts them.
type Search struct {
	// Or of And groups.
	Groups [][]SearchClause
}

// SearchClause is one quoted "property:words" term.
type SearchClause struct {
	Prop  string
	Terms []string // lower-cased tokens of the words
}

// ParseSearch parses a $search value such as
// "displayName:web" OR "description:ci". Each clause must be quoted, as
// Graph requires.
func ParseSearch(src string) (*Search, error) {
	bad := func(format string, a ...any) error {
		return &Error{Syntax, "Syntax error: " + fmt.Sprintf(format, a...)}
	}
	s := &Search{Groups: [][]SearchClause{nil}}
	i, expectClause := 0, true
	for {
		for i < len(src) && src[i] == ' ' {
			i++
		}
		if i >= len(src) {
			break
		}
		if !expectClause {
			j := i
			for j < len(src) && src[j] != ' ' && src[j] != '"' {
				j++
			}
			switch src[i:j] {
			case "AND":
			case "OR":
				s.Groups = append(s.Groups, nil)
			default:
				return nil, bad("character '%c' is not valid at position %d in '%s'.", src[i], i, src)
			}
			i, expectClause = j, true
			continue
		}
		if src[i] != '"' {
			return nil, bad("character '%c' is not valid at position %d in '%s'.", src[i], i, src)
		}
		end := strings.IndexByte(src[i+1:], '"')
		if end < 0 {
			return nil, bad("unterminated quoted clause at position %d in '%s'.", i, src)
		}
		body := src[i+1 : i+1+end]
		prop, words, ok := strings.Cut(body, ":")
		if !ok || strings.TrimSpace(prop) == "" {
			return nil, bad("a search clause must have the form \"property:value\"; got '%s'.", body)
		}
		g := &s.Groups[len(s.Groups)-1]
		*g = append(*g, SearchClause{Prop: strings.TrimSpace(prop), Terms: tokens(words)})
		i, expectClause = i+2+end, false
	}
	if expectClause {
		return nil, bad("the search expression '%s' is empty or ends with an operator.", src)
	}
	return s, nil
}

// CheckSearch resolves the clause properties against the searchable ones.
func (sc *Schema) CheckSearch(s *Search, searchable ...string) error {
	for gi := range s.Groups {
		for ci := range s.Groups[gi] {
			c := &s.Groups[gi][ci]
			p := sc.Lookup(c.Prop)
			if p == nil {
				return sc.noProperty(c.Prop)
			}
			ok := false
			for _, n := range searchable {
				ok = ok || n == p.Name
			}
			if !ok {
				return unsupportedErr(fmt.Sprintf("Search is not supported on property '%s' of resource '%s'.", p.Name, sc.Resource))
			}
			c.Prop = p.Name
		}
	}
	return nil
}

// Match reports whether obj matches: a clause matches when every term is a
// prefix of some token of the property (tokens split at spaces, symbols
// and camelCase boundaries, as Graph's tokenized search does).
func (s *Search) Match(obj map[string]any) bool {
	for _, g := range s.Groups {
		all := true
		for _, c := range g {
			v, _ := obj[c.Prop].(string)
			all = all && matchTerms(tokens(v), c.Terms)
		}
		if all {
			return true
		}
	}
	return false
}

func matchTerms(have, terms []string) bool {
	for _, t := range terms {
		found := false
		for _, h := range have {
			found = found || strings.HasPrefix(h, t)
		}
		if !found {
			return false
		}
	}
	return true
}

// tokens splits s into lower-case words at non-alphanumerics and at
// lower-to-upper case changes ("myWebApp" → my, web, app).
func tokens(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return out
}
