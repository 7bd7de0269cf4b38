package cliout

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tableSkipKeys are never shown as columns (knack's _TableOutput.SKIP_KEYS).
var tableSkipKeys = map[string]bool{"id": true, "type": true, "etag": true}

// row is one table row: its column names in order and their values.
type row struct {
	keys []string
	vals map[string]any
}

// tableRow turns one result item into a row, as knack's _auto_table_item:
// objects give their scalar, non-null fields (minus id/type/etag) with the
// first letter of the key capitalized; lists give Column1..N; anything else
// gives a single Result column.
func tableRow(item any, sortKeys bool, order []string) row {
	r := row{vals: map[string]any{}}
	add := func(k string, v any) {
		if _, dup := r.vals[k]; !dup {
			r.keys = append(r.keys, k)
		}
		r.vals[k] = v
	}
	switch x := item.(type) {
	case map[string]any:
		for _, k := range objectKeys(x, sortKeys, order) {
			v := x[k]
			if tableSkipKeys[k] || v == nil {
				continue
			}
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			add(capitalize(k), v)
		}
	case []any:
		for i, v := range x {
			add("Column"+strconv.Itoa(i+1), v)
		}
	default:
		add("Result", x)
	}
	return r
}

// objectKeys is the key order of an object: sorted when az sorts (no
// query, no transformer), else the query's multiselect order; objects that
// did not come from a multiselect hash keep sorted order (Go maps have no
// insertion order to keep).
func objectKeys(m map[string]any, sortKeys bool, order []string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if sortKeys || len(order) == 0 || !sameKeys(keys, order) {
		return keys
	}
	return order
}

func sameKeys(sorted, order []string) bool {
	if len(sorted) != len(order) {
		return false
	}
	o := append([]string(nil), order...)
	sort.Strings(o)
	for i := range o {
		if o[i] != sorted[i] {
			return false
		}
	}
	return true
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// renderTable lays rows out like tabulate's "simple" format as az calls it:
// the header row, a dashed rule, then the rows; every column at least two
// wider than its header, columns separated by two spaces, all cells
// left-aligned (az disables number parsing), trailing blanks trimmed.
func renderTable(v any, sortKeys bool, order []string) ([]byte, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	if len(items) == 0 {
		return []byte("\n"), nil
	}
	var headers []string
	seen := map[string]bool{}
	rows := make([]row, len(items))
	for i, it := range items {
		rows[i] = tableRow(it, sortKeys, order)
		for _, k := range rows[i].keys {
			if !seen[k] {
				seen[k] = true
				headers = append(headers, k)
			}
		}
	}
	if len(headers) == 0 {
		// tabulate renders rows without columns as nothing.
		return []byte("\n"), nil
	}
	widths := make([]int, len(headers))
	cells := make([][]string, len(rows))
	for c, h := range headers {
		widths[c] = utf8.RuneCountInString(h) + 2
	}
	for r, rw := range rows {
		cells[r] = make([]string, len(headers))
		for c, h := range headers {
			v, ok := rw.vals[h]
			if !ok || v == nil {
				continue
			}
			// tabulate strips the blanks around each line of a cell.
			lines := strings.Split(cellText(v), "\n")
			for i := range lines {
				lines[i] = strings.TrimSpace(lines[i])
			}
			s := strings.Join(lines, "\n")
			cells[r][c] = s
			// A multi-line cell is as wide as its widest line.
			for _, l := range strings.Split(s, "\n") {
				widths[c] = max(widths[c], utf8.RuneCountInString(l))
			}
		}
	}
	var b strings.Builder
	// line writes one table row; cells with line breaks make it several
	// lines, the other cells blank below their first line.
	line := func(cols []string) {
		split := make([][]string, len(cols))
		height := 1
		for c, s := range cols {
			split[c] = strings.Split(s, "\n")
			height = max(height, len(split[c]))
		}
		for i := 0; i < height; i++ {
			var l strings.Builder
			for c := range cols {
				s := ""
				if i < len(split[c]) {
					s = split[c][i]
				}
				if c > 0 {
					l.WriteString("  ")
				}
				l.WriteString(s)
				l.WriteString(strings.Repeat(" ", widths[c]-utf8.RuneCountInString(s)))
			}
			b.WriteString(strings.TrimRight(l.String(), " "))
			b.WriteByte('\n')
		}
	}
	line(headers)
	rule := make([]string, len(headers))
	for c := range rule {
		rule[c] = strings.Repeat("-", widths[c])
	}
	line(rule)
	for _, cs := range cells {
		line(cs)
	}
	return []byte(b.String()), nil
}

// cellText is Python's str() of a value, as tabulate prints it.
func cellText(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return pyFloat(x)
	default:
		return pyRepr(x)
	}
}

// pyRepr is Python's repr() of a nested value, which is what a table
// cell holding a list or object shows (keys in sorted order here).
func pyRepr(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		q := "'"
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			q = `"`
		}
		r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`, q, `\`+q)
		return q + r.Replace(x) + q
	default:
		return cellText(x)
	}
}

// pyFloat prints a number as Python prints the int or float JMESPath
// returned: integral values without a fraction.
func pyFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// renderTSV prints values only, one line per item, as knack's _TsvOutput:
// object values in key order, nested lists as their length and nested
// objects as an empty field (so rows keep their column count); a bare
// boolean item is lower-case while booleans inside rows keep Python's
// True/False, and null prints as None.
func renderTSV(v any, order []string) []byte {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var b strings.Builder
	for _, it := range items {
		switch x := it.(type) {
		case map[string]any:
			keys := objectKeys(x, len(order) == 0, order)
			for i, k := range keys {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvField(x[k]))
			}
		case []any:
			for i, e := range x {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvField(e))
			}
		case bool:
			b.WriteString(strconv.FormatBool(x))
		default:
			b.WriteString(tsvField(x))
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func tsvField(v any) string {
	switch x := v.(type) {
	case []any:
		return strconv.Itoa(len(x))
	case map[string]any:
		return ""
	default:
		return cellText(x)
	}
}
