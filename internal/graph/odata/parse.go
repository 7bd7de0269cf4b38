package odata

import (
	"fmt"
	"strings"
)

// Node is a boolean filter expression.
type Node interface{ node() }

// LitKind is the type of a literal.
type LitKind int

// Literal kinds.
const (
	LitString LitKind = iota + 1
	LitGUID
	LitBool
	LitNull
	LitNumber
)

// Literal is a constant operand.
type Literal struct {
	Kind  LitKind
	Value string // string text unescaped; GUID lower-case; "true"/"false"; number text
}

// Path is a property reference: segments as written (e.g. "displayName",
// or "c" for a lambda variable). Schema.Check replaces Name with the
// canonical property name.
type Path struct {
	Segments []string
	Pos      int
}

// Compare is "path op literal" with op one of eq ne gt ge lt le.
type Compare struct {
	Op    string
	Left  Path
	Right Literal
}

// In is "path in (v1, v2, ...)".
type In struct {
	Left   Path
	Values []Literal
}

// Func is startswith(path, literal) or endswith(path, literal).
type Func struct {
	Name  string // "startswith" or "endswith"
	Arg   Path
	Value Literal
}

// Logical is "l and r" or "l or r".
type Logical struct {
	Op   string // "and" or "or"
	L, R Node
}

// Not negates X.
type Not struct{ X Node }

// Lambda is "path/any(v: body)" or "path/all(v: body)"; Body is nil for
// "path/any()", true when the collection is not empty.
type Lambda struct {
	Op   string // "any" or "all"
	Coll Path
	Var  string
	Body Node
}

func (*Compare) node() {}
func (*In) node()      {}
func (*Func) node()    {}
func (*Logical) node() {}
func (*Not) node()     {}
func (*Lambda) node()  {}

// Limits that keep a hostile filter from costing more than a real one:
// nesting bounds the parser's recursion, nodes the tree's size.
const (
	maxDepth = 32
	maxNodes = 512
)

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	nodes int
}

// enter counts a node and one level of nesting; leave undoes the nesting.
func (p *parser) enter() error {
	p.depth++
	p.nodes++
	if p.depth > maxDepth || p.nodes > maxNodes {
		return unsupportedErr("The filter expression is too complex: at most 32 levels of nesting and 512 terms.")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// Parse parses a $filter expression.
func Parse(src string) (Node, error) {
	if strings.TrimSpace(src) == "" {
		return nil, syntaxErr("The filter expression is empty.")
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t)
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// keyword reports whether the next token is the identifier kw (any case).
func (p *parser) keyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) errAt(t token) error {
	return syntaxErr(fmt.Sprintf("Syntax error at position %d in '%s'.", t.pos, p.src))
}

func (p *parser) expect(k tokKind) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.errAt(t)
	}
	return t, nil
}

func (p *parser) or() (Node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Logical{"or", l, r}
	}
	return l, nil
}

func (p *parser) and() (Node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &Logical{"and", l, r}
	}
	return l, nil
}

func (p *parser) unary() (Node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if p.keyword("not") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Not{x}, nil
	}
	return p.primary()
}

var compareOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true}

func (p *parser) primary() (Node, error) {
	t := p.peek()
	switch {
	case t.kind == tLParen:
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return n, nil
	case t.kind == tIdent && (strings.EqualFold(t.text, "startswith") || strings.EqualFold(t.text, "endswith")) &&
		p.toks[p.i+1].kind == tLParen:
		p.next()
		p.next()
		arg, err := p.path()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tComma); err != nil {
			return nil, err
		}
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return &Func{strings.ToLower(t.text), arg, lit}, nil
	case t.kind == tIdent:
		return p.pathExpr()
	}
	return nil, p.errAt(t)
}

// pathExpr parses what follows a property path: a lambda, a comparison or
// an "in" list.
func (p *parser) pathExpr() (Node, error) {
	start := p.peek()
	var segs []string
	for {
		t, err := p.expect(tIdent)
		if err != nil {
			return nil, err
		}
		lower := strings.ToLower(t.text)
		if len(segs) > 0 && (lower == "any" || lower == "all") && p.peek().kind == tLParen {
			return p.lambda(lower, Path{segs, start.pos})
		}
		segs = append(segs, t.text)
		if p.peek().kind != tSlash {
			break
		}
		p.next()
	}
	left := Path{segs, start.pos}
	op := p.next()
	lower := strings.ToLower(op.text)
	switch {
	case op.kind == tIdent && compareOps[lower]:
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		return &Compare{lower, left, lit}, nil
	case op.kind == tIdent && lower == "in":
		if _, err := p.expect(tLParen); err != nil {
			return nil, err
		}
		var vals []Literal
		for {
			if err := p.enter(); err != nil {
				return nil, err
			}
			p.leave()
			lit, err := p.literal()
			if err != nil {
				return nil, err
			}
			vals = append(vals, lit)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return &In{left, vals}, nil
	}
	return nil, p.errAt(op)
}

func (p *parser) lambda(op string, coll Path) (Node, error) {
	p.next() // (
	if p.peek().kind == tRParen {
		p.next()
		if op == "all" { // all() needs a predicate
			return nil, p.errAt(p.toks[p.i-1])
		}
		return &Lambda{Op: op, Coll: coll}, nil
	}
	v, err := p.expect(tIdent)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tColon); err != nil {
		return nil, err
	}
	body, err := p.or()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	return &Lambda{Op: op, Coll: coll, Var: v.text, Body: body}, nil
}

func (p *parser) path() (Path, error) {
	start := p.peek()
	var segs []string
	for {
		t, err := p.expect(tIdent)
		if err != nil {
			return Path{}, err
		}
		segs = append(segs, t.text)
		if p.peek().kind != tSlash {
			return Path{segs, start.pos}, nil
		}
		p.next()
	}
}

func (p *parser) literal() (Literal, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return Literal{LitString, t.text}, nil
	case tGUID:
		return Literal{LitGUID, t.text}, nil
	case tNumber:
		return Literal{LitNumber, t.text}, nil
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true", "false":
			return Literal{LitBool, strings.ToLower(t.text)}, nil
		case "null":
			return Literal{LitNull, "null"}, nil
		}
	}
	return Literal{}, p.errAt(t)
}
