package odata

import "strings"

// Eval reports whether obj (an entity rendered as JSON: strings, bools,
// nil, []string or []any) matches n, a tree returned by Schema.Check.
// String comparisons ignore case, as directory queries do.
func Eval(n Node, obj map[string]any) bool {
	return eval(n, obj, nil)
}

// eval evaluates n; elem is the current lambda element, if any.
func eval(n Node, obj map[string]any, elem any) bool {
	switch n := n.(type) {
	case *Logical:
		if n.Op == "and" {
			return eval(n.L, obj, elem) && eval(n.R, obj, elem)
		}
		return eval(n.L, obj, elem) || eval(n.R, obj, elem)
	case *Not:
		return !eval(n.X, obj, elem)
	case *Compare:
		return compare(n.Op, value(n.Left, obj, elem), n.Right)
	case *In:
		v := value(n.Left, obj, elem)
		for _, lit := range n.Values {
			if compare("eq", v, lit) {
				return true
			}
		}
		return false
	case *Func:
		s, ok := value(n.Arg, obj, elem).(string)
		if !ok {
			return false
		}
		s, pre := strings.ToLower(s), strings.ToLower(n.Value.Value)
		if n.Name == "endswith" {
			return strings.HasSuffix(s, pre)
		}
		return strings.HasPrefix(s, pre)
	case *Lambda:
		items := collection(obj[n.Coll.Segments[0]])
		if n.Body == nil {
			return len(items) > 0
		}
		for _, it := range items {
			m := eval(n.Body, obj, it)
			if n.Op == "any" && m {
				return true
			}
			if n.Op == "all" && !m {
				return false
			}
		}
		return n.Op == "all"
	}
	return false
}

func value(p Path, obj map[string]any, elem any) any {
	if len(p.Segments) == 0 {
		return elem
	}
	return obj[p.Segments[0]]
}

func collection(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	}
	return nil
}

func compare(op string, v any, lit Literal) bool {
	if lit.Kind == LitNull {
		isNull := v == nil
		if s, ok := v.(string); ok && s == "" {
			// Graph stores unset strings as null.
			isNull = true
		}
		switch op {
		case "eq":
			return isNull
		case "ne":
			return !isNull
		}
		return false
	}
	switch v := v.(type) {
	case bool:
		if op == "ne" {
			return (lit.Value == "true") != v
		}
		return op == "eq" && (lit.Value == "true") == v
	case string:
		c := strings.Compare(strings.ToLower(v), strings.ToLower(lit.Value))
		switch op {
		case "eq":
			return c == 0
		case "ne":
			return c != 0
		case "ge":
			return c >= 0
		case "le":
			return c <= 0
		}
	case nil:
		return op == "ne"
	}
	return false
}
