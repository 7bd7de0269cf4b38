// Package cliout renders command results the way the Azure CLI does: the
// global --query (a JMESPath expression) and -o json|jsonc|yaml|yamlc|table|
// tsv|none. The rules are those of az's output layer (knack's output.py and
// azure-cli's AzOutputProducer): sorted JSON keys, table columns from the
// scalar fields with the first letter capitalized, tsv rows of values only,
// colour only on a terminal. The package is pure: a value, a format and a
// query in, bytes or an error out.
package cliout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmespath-community/go-jmespath/pkg/api"
	"github.com/jmespath-community/go-jmespath/pkg/parsing"
)

// Format is an output format of -o/--output.
type Format string

// The formats, in az's order (the order of its "choose from" list).
const (
	JSON      Format = "json"
	JSONColor Format = "jsonc"
	YAML      Format = "yaml"
	YAMLColor Format = "yamlc"
	Table     Format = "table"
	TSV       Format = "tsv"
	None      Format = "none"
)

var formats = []Format{JSON, JSONColor, YAML, YAMLColor, Table, TSV, None}

// ParseFormat accepts a format name case-insensitively, as az does.
func ParseFormat(s string) (Format, error) {
	for _, f := range formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	quoted := make([]string, len(formats))
	for i, f := range formats {
		quoted[i] = "'" + string(f) + "'"
	}
	return "", fmt.Errorf("argument --output/-o: invalid choice: '%s' (choose from %s)", s, strings.Join(quoted, ", "))
}

// Query is a compiled --query expression.
type Query struct {
	expr string
	jp   api.JMESPath
	// keys is the key order of the expression's final multiselect hash
	// ({Name:name, Id:id}); az keeps that order in table and tsv output
	// (knack searches with an OrderedDict), where other objects are sorted.
	keys []string
}

// CompileQuery compiles a JMESPath expression. A syntax error is reported
// as az reports it: as a bad value of the --query argument.
func CompileQuery(expr string) (*Query, error) {
	node, err := parsing.NewParser().Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("argument --query: invalid jmespath_type value: '%s'", expr)
	}
	jp, err := api.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("argument --query: invalid jmespath_type value: '%s'", expr)
	}
	return &Query{expr: expr, jp: jp, keys: finalHashKeys(node)}, nil
}

// String is the expression as given.
func (q *Query) String() string { return q.expr }

// finalHashKeys finds the multiselect hash that shapes each result item.
func finalHashKeys(n parsing.ASTNode) []string {
	switch n.NodeType {
	case parsing.ASTMultiSelectHash:
		keys := make([]string, 0, len(n.Children))
		for _, kv := range n.Children {
			if k, ok := kv.Value.(string); ok {
				keys = append(keys, k)
			}
		}
		return keys
	case parsing.ASTProjection, parsing.ASTValueProjection, parsing.ASTFilterProjection:
		if len(n.Children) > 1 {
			return finalHashKeys(n.Children[1])
		}
	case parsing.ASTSubexpression, parsing.ASTPipe, parsing.ASTIndexExpression:
		if len(n.Children) > 0 {
			return finalHashKeys(n.Children[len(n.Children)-1])
		}
	}
	return nil
}

// Options say how to render one result.
type Options struct {
	Format Format
	Query  *Query // nil: no --query
	// Color turns jsonc/yamlc into coloured output. Like az, callers set it
	// only when stdout and stderr are terminals; otherwise jsonc is json.
	Color bool
	// TableTransform, when set, reshapes the result for -o table unless a
	// query is active (az's per-command table_transformer). It returns
	// the rows and the column order of its objects.
	TableTransform func(any) (rows any, columns []string)
}

// Render formats v. A nil result (JSON null, or a query that selects
// nothing) renders as no output at all, as in az.
func Render(v any, o Options) ([]byte, error) {
	data, err := normalize(v)
	if err != nil {
		return nil, err
	}
	addResourceGroup(data)
	var keys []string
	if o.Query != nil {
		data, err = o.Query.jp.Search(toFloats(data))
		if err != nil {
			return nil, fmt.Errorf("evaluating --query %s: %v", o.Query.expr, err)
		}
		keys = o.Query.keys
	}
	if data == nil {
		return nil, nil
	}
	switch o.Format {
	case JSON, "":
		return renderJSON(data)
	case JSONColor:
		b, err := renderJSON(data)
		if err != nil || !o.Color {
			return b, err
		}
		return colorJSON(b), nil
	case YAML:
		return renderYAML(data, false), nil
	case YAMLColor:
		return renderYAML(data, o.Color), nil
	case Table:
		sortKeys := true
		if o.Query != nil {
			sortKeys = false
		} else if o.TableTransform != nil {
			data, keys = o.TableTransform(data)
			sortKeys = false
			if data, err = normalize(data); err != nil {
				return nil, err
			}
		}
		return renderTable(data, sortKeys, keys)
	case TSV:
		return renderTSV(data, keys), nil
	case None:
		return nil, nil
	}
	_, err = ParseFormat(string(o.Format))
	return nil, err
}

// normalize turns any JSON-marshalable value into the generic shapes
// (map[string]any, []any, string, bool, json.Number, nil).
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// addResourceGroup gives every object with an ARM resource id below a
// resource group a resourceGroup field, as az does to every result before
// --query sees it. Like az, it needs at least nine id segments (a resource,
// not the group itself) and skips the contents of sourceVault.
func addResourceGroup(v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			addResourceGroup(e)
		}
	case map[string]any:
		if _, ok := x["resourceGroup"]; !ok {
			if id, _ := x["id"].(string); id != "" {
				parts := strings.Split(id, "/")
				if len(parts) > 8 && strings.EqualFold(parts[3], "resourceGroups") {
					x["resourceGroup"] = parts[4]
				}
			}
		}
		for k, e := range x {
			if k != "sourceVault" {
				addResourceGroup(e)
			}
		}
	}
}

// toFloats converts json.Number to float64, the number type JMESPath
// comparisons and functions work on.
func toFloats(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = toFloats(e)
		}
	case []any:
		for i, e := range x {
			x[i] = toFloats(e)
		}
	}
	return v
}

func renderJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// az prints with ensure_ascii=False and without HTML escaping.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return pythonEscapes(buf.Bytes()), nil
}

// pythonEscapes rewrites the escapes where Go's encoder and Python's
// json.dumps(ensure_ascii=False) differ: Python writes \b and \f by name
// and leaves U+2028 and U+2029 unescaped.
func pythonEscapes(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "0008":
				out, i = append(out, `\b`...), i+5
				continue
			case "000c":
				out, i = append(out, `\f`...), i+5
				continue
			case "2028":
				out, i = append(out, "\u2028"...), i+5
				continue
			case "2029":
				out, i = append(out, "\u2029"...), i+5
				continue
			}
		}
		out = append(out, b[i], b[i+1]) // any other escape pair stays
		i++
	}
	return out
}
