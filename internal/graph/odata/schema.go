package odata

import (
	"fmt"
	"strings"
)

// Type is a property's EDM type as far as filtering cares.
type Type int

// Property types.
const (
	// Complex is any property that cannot be compared to a literal
	// (complex types, collections of complex types, dates Coffer does not
	// filter on).
	Complex Type = iota
	String
	GUID
	Bool
	StringCollection
)

func (t Type) edm() string {
	switch t {
	case String, StringCollection:
		return "Edm.String"
	case GUID:
		return "Edm.Guid"
	case Bool:
		return "Edm.Boolean"
	}
	return "Edm.ComplexType"
}

func (k LitKind) edm() string {
	switch k {
	case LitString:
		return "Edm.String"
	case LitGUID:
		return "Edm.Guid"
	case LitBool:
		return "Edm.Boolean"
	case LitNumber:
		return "Edm.Int32"
	}
	return "<null>"
}

// Prop is one property of an entity.
type Prop struct {
	Name string
	Type Type
	// Ops lists the operators Graph serves on the property by default:
	// "eq", "in", "startswith", "ge", "le" (for collections, inside any()).
	// Empty: not filterable. In advanced queries, filterable properties
	// also take ne and not, and those with startswith take endswith.
	Ops []string
}

func (p *Prop) allows(op string) bool {
	for _, o := range p.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Schema describes an entity type for Check.
type Schema struct {
	// Resource is the name in Graph's "of resource '…'" messages, e.g.
	// "ServicePrincipal".
	Resource string
	// Type is the OData type name, e.g. "microsoft.graph.servicePrincipal".
	Type  string
	Props []Prop
}

// Lookup finds a property by name, case-insensitively, as Graph does.
func (s *Schema) Lookup(name string) *Prop {
	for i := range s.Props {
		if strings.EqualFold(s.Props[i].Name, name) {
			return &s.Props[i]
		}
	}
	return nil
}

func (s *Schema) noProperty(name string) error {
	return invalidErr(fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, s.Type))
}

func (s *Schema) unsupported(p string) error {
	return unsupportedErr(fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", p, s.Resource))
}

func needsAdvanced(op string) error {
	return unsupportedErr(fmt.Sprintf("Operator '%s' is not supported because the required parameters might be missing. "+
		"Try adding $count=true query parameter and ConsistencyLevel:eventual header. "+
		"Refer to https://aka.ms/graph-docs/advanced-queries for more information", op))
}

var opKind = map[string]string{
	"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual",
}

// checker carries the state of one Check.
type checker struct {
	s        *Schema
	advanced bool
	// lvar is the lambda variable in scope and lprop its collection.
	lvar  string
	lprop *Prop
}

// Check resolves property names in n against s and rejects what Graph
// rejects. advanced says whether the request is an advanced query
// (ConsistencyLevel: eventual and $count=true), which enables ne, not and
// endswith. The returned tree has canonical property names and is what
// Eval takes.
func (s *Schema) Check(n Node, advanced bool) (Node, error) {
	c := &checker{s: s, advanced: advanced}
	return c.check(n)
}

func (c *checker) check(n Node) (Node, error) {
	switch n := n.(type) {
	case *Logical:
		l, err := c.check(n.L)
		if err != nil {
			return nil, err
		}
		r, err := c.check(n.R)
		if err != nil {
			return nil, err
		}
		return &Logical{n.Op, l, r}, nil
	case *Not:
		if !c.advanced {
			return nil, needsAdvanced("not")
		}
		if c.lvar != "" {
			return nil, unsupportedErr("Unsupported query: 'not' inside a lambda expression.")
		}
		x, err := c.check(n.X)
		if err != nil {
			return nil, err
		}
		return &Not{x}, nil
	case *Compare:
		p, elem, err := c.operand(n.Left)
		if err != nil {
			return nil, err
		}
		switch n.Op {
		case "ne":
			if !c.advanced {
				return nil, needsAdvanced("ne")
			}
			if elem {
				return nil, c.s.unsupported(p.Name)
			}
		case "gt", "lt":
			return nil, c.s.unsupported(p.Name)
		default:
			if !p.allows(n.Op) {
				return nil, c.s.unsupported(p.Name)
			}
		}
		if err := c.typeCheck(p, n.Right, opKind[n.Op]); err != nil {
			return nil, err
		}
		return &Compare{n.Op, c.resolved(p, elem, n.Left.Pos), n.Right}, nil
	case *In:
		p, elem, err := c.operand(n.Left)
		if err != nil {
			return nil, err
		}
		if !p.allows("in") {
			return nil, c.s.unsupported(p.Name)
		}
		for _, v := range n.Values {
			if err := c.typeCheck(p, v, "In"); err != nil {
				return nil, err
			}
		}
		return &In{c.resolved(p, elem, n.Left.Pos), n.Values}, nil
	case *Func:
		p, elem, err := c.operand(n.Arg)
		if err != nil {
			return nil, err
		}
		if n.Name == "endswith" && !c.advanced {
			return nil, needsAdvanced("endsWith")
		}
		if p.Type != String && p.Type != StringCollection || !p.allows("startswith") {
			return nil, c.s.unsupported(p.Name)
		}
		if n.Value.Kind != LitString {
			return nil, invalidErr(fmt.Sprintf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", n.Name, n.Name))
		}
		return &Func{n.Name, c.resolved(p, elem, n.Arg.Pos), n.Value}, nil
	case *Lambda:
		if c.lvar != "" {
			return nil, unsupportedErr("Nested lambda expressions are not supported.")
		}
		if len(n.Coll.Segments) != 1 {
			return nil, c.complexPath(n.Coll)
		}
		p := c.s.Lookup(n.Coll.Segments[0])
		if p == nil {
			return nil, c.s.noProperty(n.Coll.Segments[0])
		}
		if p.Type == Complex && len(p.Ops) == 0 {
			return nil, unsupportedErr(fmt.Sprintf("Complex query on property %s is not supported.", p.Name))
		}
		if p.Type != StringCollection || n.Op == "all" || len(p.Ops) == 0 {
			return nil, c.s.unsupported(p.Name)
		}
		out := &Lambda{Op: n.Op, Coll: Path{[]string{p.Name}, n.Coll.Pos}, Var: n.Var}
		if n.Body == nil {
			return out, nil
		}
		// Inside the body the variable is an element, with the
		// collection's operators.
		c.lvar, c.lprop = n.Var, p
		body, err := c.check(n.Body)
		c.lvar, c.lprop = "", nil
		if err != nil {
			return nil, err
		}
		out.Body = body
		return out, nil
	}
	return nil, fmt.Errorf("odata: unknown node %T", n)
}

// operand resolves a path used as a comparison operand. Inside a lambda the
// variable alone is the element (elem true, prop the collection); outside
// it must name a scalar property.
func (c *checker) operand(path Path) (*Prop, bool, error) {
	if c.lvar != "" {
		if len(path.Segments) == 1 && path.Segments[0] == c.lvar {
			return c.lprop, true, nil
		}
		return nil, false, unsupportedErr(fmt.Sprintf("Unsupported query: only the lambda variable '%s' may be used inside the lambda expression.", c.lvar))
	}
	if len(path.Segments) != 1 {
		return nil, false, c.complexPath(path)
	}
	p := c.s.Lookup(path.Segments[0])
	if p == nil {
		return nil, false, c.s.noProperty(path.Segments[0])
	}
	if len(p.Ops) == 0 || p.Type == Complex {
		return nil, false, c.s.unsupported(p.Name)
	}
	if p.Type == StringCollection {
		// A collection is filtered through any(), never compared whole.
		return nil, false, c.s.unsupported(p.Name)
	}
	return p, false, nil
}

func (c *checker) complexPath(path Path) error {
	if p := c.s.Lookup(path.Segments[0]); p != nil {
		return unsupportedErr(fmt.Sprintf("Complex query on property %s is not supported.", p.Name))
	}
	return c.s.noProperty(path.Segments[0])
}

func (c *checker) resolved(p *Prop, elem bool, pos int) Path {
	if elem {
		return Path{Pos: pos}
	}
	return Path{[]string{p.Name}, pos}
}

func (c *checker) typeCheck(p *Prop, lit Literal, kind string) error {
	want := p.Type
	if want == StringCollection {
		want = String
	}
	ok := lit.Kind == LitNull ||
		want == String && lit.Kind == LitString ||
		want == GUID && lit.Kind == LitGUID ||
		want == Bool && lit.Kind == LitBool
	if !ok {
		return invalidErr(fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", want.edm(), lit.Kind.edm(), kind))
	}
	return nil
}
