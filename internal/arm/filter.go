package arm

import (
	"strings"
	"unicode"

	"github.com/coffer-dev/coffer/internal/errs"
)

// The $filter of ARM's generic resource listings (GET …/resources),
// as documented for Resources_List:
//
//	filter     = or
//	or         = and *( "or" and )
//	and        = primary *( "and" primary )
//	primary    = "(" or ")" / comparison / substringof / startswith
//	comparison = property ( "eq" / "ne" ) string
//	substringof = "substringof(" string "," ( "name" / "resourceGroup" ) ")"
//	startswith = "startswith(" "tagName" "," string ")"
//	string     = "'" *( char / "''" ) "'"
//
// Properties compared with eq/ne: resourceType, name, location,
// resourceGroup, identity/principalId (a system-assigned identity);
// tagName and tagValue with eq only. ARM allows tag filters
// only on their own: "tagName eq 'k'", "tagName eq 'k' and tagValue eq 'v'"
// or "startswith(tagName, 'p')"; mixing them with anything else is refused.
// Keywords and property names are case-insensitive, as in ARM.
// Properties Coffer's resources never carry (plan, kind) are refused
// rather than ignored: an unfiltered answer to a filtered question is what
// breaks clients that trust the filter.

// resourceFilter is a parsed $filter: a predicate over generic resources.
type resourceFilter struct {
	root filterNode
	// tagged: the filter selects by tag, so ARM leaves tags out of the items.
	tagged bool
}

// filterNode is one node of the filter's syntax tree.
type filterNode interface {
	match(r *genericItem) bool
}

type (
	andNode  struct{ l, r filterNode }
	orNode   struct{ l, r filterNode }
	cmpNode  struct{ prop, op, val string }
	subNode  struct{ val, prop string } // substringof(val, prop)
	tagStart struct{ prefix string }    // startswith(tagName, prefix)
	// tagNode is tagName eq 'k' [and tagValue eq 'v'].
	tagNode struct {
		name     string
		value    string
		hasValue bool
	}
)

func (n andNode) match(r *genericItem) bool { return n.l.match(r) && n.r.match(r) }
func (n orNode) match(r *genericItem) bool  { return n.l.match(r) || n.r.match(r) }

func (n cmpNode) match(r *genericItem) bool {
	var got string
	switch n.prop {
	case "resourcetype":
		got = r.Type
	case "name":
		got = r.Name
	case "location":
		got = normLocation(r.Location)
	case "resourcegroup":
		got = r.ResourceGroup
	case "identity/principalid":
		if r.Identity != nil {
			got = r.Identity.PrincipalID
		}
	}
	want := n.val
	if n.prop == "location" {
		want = normLocation(want)
	}
	same := strings.EqualFold(got, want)
	if n.op == "ne" {
		return !same
	}
	return same
}

func (n subNode) match(r *genericItem) bool {
	s := r.Name
	if n.prop == "resourcegroup" {
		s = r.ResourceGroup
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(n.val))
}

// Tag names compare case-insensitively, tag values exactly (Azure's rule
// for tags).
func (n tagNode) match(r *genericItem) bool {
	for k, v := range r.Tags {
		if strings.EqualFold(k, n.name) && (!n.hasValue || v == n.value) {
			return true
		}
	}
	return false
}

func (n tagStart) match(r *genericItem) bool {
	for k := range r.Tags {
		if strings.HasPrefix(strings.ToLower(k), strings.ToLower(n.prefix)) {
			return true
		}
	}
	return false
}

// normLocation makes "East US" and "eastus" the same region.
func normLocation(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

func invalidFilter(raw string) error {
	return armErr(errs.Invalid, "InvalidFilterInQueryString", "Invalid $filter '"+raw+"' specified in the query string.")
}

// parseResourceFilter parses and validates a $filter; "" matches everything.
func parseResourceFilter(raw string) (*resourceFilter, error) {
	if strings.TrimSpace(raw) == "" {
		return &resourceFilter{}, nil
	}
	toks, ok := lexFilter(raw)
	if !ok {
		return nil, invalidFilter(raw)
	}
	p := &filterParser{toks: toks}
	root, ok := p.or()
	if !ok || p.pos != len(p.toks) {
		return nil, invalidFilter(raw)
	}
	f := &resourceFilter{root: root}
	// Tag filters stand alone: fold "tagName eq and tagValue eq" into one
	// node and refuse any other use of the tag pseudo-properties.
	if tagged, ok := tagFilter(root); ok {
		f.root, f.tagged = tagged, true
		return f, nil
	}
	if usesTags(root) {
		return nil, invalidFilter(raw)
	}
	return f, nil
}

// tagFilter recognizes the three standalone tag forms.
func tagFilter(n filterNode) (filterNode, bool) {
	switch n := n.(type) {
	case tagStart:
		return n, true
	case cmpNode:
		if n.prop == "tagname" && n.op == "eq" {
			return tagNode{name: n.val}, true
		}
	case andNode:
		l, lok := n.l.(cmpNode)
		r, rok := n.r.(cmpNode)
		if lok && rok && l.op == "eq" && r.op == "eq" {
			if l.prop == "tagvalue" && r.prop == "tagname" {
				l, r = r, l
			}
			if l.prop == "tagname" && r.prop == "tagvalue" {
				return tagNode{name: l.val, value: r.val, hasValue: true}, true
			}
		}
	}
	return nil, false
}

func usesTags(n filterNode) bool {
	switch n := n.(type) {
	case andNode:
		return usesTags(n.l) || usesTags(n.r)
	case orNode:
		return usesTags(n.l) || usesTags(n.r)
	case cmpNode:
		return n.prop == "tagname" || n.prop == "tagvalue"
	case tagStart:
		return true
	}
	return false
}

// token kinds.
const (
	tIdent = iota
	tString
	tLParen
	tRParen
	tComma
)

type filterToken struct {
	kind int
	text string
}

// lexFilter splits a filter into identifiers (letters, digits, '/', '.',
// '_'), quoted strings (a doubled quote stands for one), parentheses and
// commas.
func lexFilter(s string) ([]filterToken, bool) {
	var out []filterToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, filterToken{tLParen, "("})
			i++
		case c == ')':
			out = append(out, filterToken{tRParen, ")"})
			i++
		case c == ',':
			out = append(out, filterToken{tComma, ","})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, false
			}
			out = append(out, filterToken{tString, b.String()})
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			out = append(out, filterToken{tIdent, s[i:j]})
			i = j
		default:
			return nil, false
		}
	}
	return out, true
}

func isIdentByte(c byte) bool {
	return c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || c == '/' || c == '.' || c == '_')
}

type filterParser struct {
	toks []filterToken
	pos  int
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.pos >= len(p.toks) {
		return filterToken{}, false
	}
	return p.toks[p.pos], true
}

func (p *filterParser) keyword(word string) bool {
	t, ok := p.peek()
	if ok && t.kind == tIdent && strings.EqualFold(t.text, word) {
		p.pos++
		return true
	}
	return false
}

func (p *filterParser) expect(kind int) (filterToken, bool) {
	t, ok := p.peek()
	if !ok || t.kind != kind {
		return filterToken{}, false
	}
	p.pos++
	return t, true
}

func (p *filterParser) or() (filterNode, bool) {
	l, ok := p.and()
	for ok && p.keyword("or") {
		var r filterNode
		if r, ok = p.and(); ok {
			l = orNode{l, r}
		}
	}
	return l, ok
}

func (p *filterParser) and() (filterNode, bool) {
	l, ok := p.primary()
	for ok && p.keyword("and") {
		var r filterNode
		if r, ok = p.primary(); ok {
			l = andNode{l, r}
		}
	}
	return l, ok
}

// comparable properties, lower case.
var filterProps = map[string]bool{"resourcetype": true, "name": true, "location": true, "resourcegroup": true,
	"identity/principalid": true, "tagname": true, "tagvalue": true}

func (p *filterParser) primary() (filterNode, bool) {
	if _, ok := p.expect(tLParen); ok {
		n, ok := p.or()
		if !ok {
			return nil, false
		}
		_, ok = p.expect(tRParen)
		return n, ok
	}
	id, ok := p.expect(tIdent)
	if !ok {
		return nil, false
	}
	name := strings.ToLower(id.text)
	if t, ok := p.peek(); ok && t.kind == tLParen {
		p.pos++
		return p.call(name)
	}
	if !filterProps[name] {
		return nil, false
	}
	var op string
	switch {
	case p.keyword("eq"):
		op = "eq"
	case p.keyword("ne"):
		op = "ne"
	default:
		return nil, false
	}
	if op == "ne" && (name == "tagname" || name == "tagvalue") {
		return nil, false
	}
	v, ok := p.expect(tString)
	if !ok {
		return nil, false
	}
	return cmpNode{prop: name, op: op, val: v.text}, true
}

// call parses the arguments of a function after its "(".
func (p *filterParser) call(fn string) (filterNode, bool) {
	switch fn {
	case "substringof":
		v, ok := p.expect(tString)
		if !ok {
			return nil, false
		}
		if _, ok := p.expect(tComma); !ok {
			return nil, false
		}
		prop, ok := p.expect(tIdent)
		if !ok {
			return nil, false
		}
		pn := strings.ToLower(prop.text)
		if pn != "name" && pn != "resourcegroup" {
			return nil, false
		}
		if _, ok := p.expect(tRParen); !ok {
			return nil, false
		}
		return subNode{val: v.text, prop: pn}, true
	case "startswith":
		prop, ok := p.expect(tIdent)
		if !ok || !strings.EqualFold(prop.text, "tagName") {
			return nil, false
		}
		if _, ok := p.expect(tComma); !ok {
			return nil, false
		}
		v, ok := p.expect(tString)
		if !ok {
			return nil, false
		}
		if _, ok := p.expect(tRParen); !ok {
			return nil, false
		}
		return tagStart{prefix: v.text}, true
	}
	return nil, false
}
