package odata

import (
	"errors"
	"strings"
	"testing"
)

// spSchema mirrors the service principal properties Coffer serves.
var spSchema = &Schema{Resource: "ServicePrincipal", Type: "microsoft.graph.servicePrincipal", Props: []Prop{
	{Name: "id", Type: String, Ops: []string{"eq", "in"}},
	{Name: "appId", Type: String, Ops: []string{"eq", "in"}},
	{Name: "displayName", Type: String, Ops: []string{"eq", "in", "startswith", "ge", "le"}},
	{Name: "accountEnabled", Type: Bool, Ops: []string{"eq", "in"}},
	{Name: "appOwnerOrganizationId", Type: GUID, Ops: []string{"eq", "in"}},
	{Name: "servicePrincipalNames", Type: StringCollection, Ops: []string{"eq", "startswith", "ge", "le"}},
	{Name: "tags", Type: StringCollection, Ops: []string{"eq", "startswith", "ge", "le"}},
	{Name: "description", Type: String},
	{Name: "passwordCredentials", Type: Complex},
}}

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

var objects = []map[string]any{
	{"id": "a1", "appId": "11111111-1111-1111-1111-111111111111", "displayName": "ci-pipeline", "accountEnabled": true,
		"appOwnerOrganizationId": tenant, "servicePrincipalNames": []any{"11111111-1111-1111-1111-111111111111", "api://ci"}, "tags": []any{"WindowsAzureActiveDirectoryIntegratedApp"}},
	{"id": "b2", "appId": "22222222-2222-2222-2222-222222222222", "displayName": "O'Brien web", "accountEnabled": false,
		"appOwnerOrganizationId": nil, "servicePrincipalNames": []string{"22222222-2222-2222-2222-222222222222"}, "tags": []any{}},
	{"id": "c3", "appId": "33333333-3333-3333-3333-333333333333", "displayName": "CI-Deploy", "accountEnabled": true,
		"appOwnerOrganizationId": tenant, "servicePrincipalNames": []any{"33333333-3333-3333-3333-333333333333", "https://deploy.example.com"}, "tags": []any{}},
}

func matches(t *testing.T, filter string, advanced bool) string {
	t.Helper()
	n, err := Parse(filter)
	if err != nil {
		t.Fatalf("Parse(%q): %v", filter, err)
	}
	n, err = spSchema.Check(n, advanced)
	if err != nil {
		t.Fatalf("Check(%q): %v", filter, err)
	}
	var ids []string
	for _, o := range objects {
		if Eval(n, o) {
			ids = append(ids, o["id"].(string))
		}
	}
	return strings.Join(ids, ",")
}

func TestFilterValid(t *testing.T) {
	tests := []struct {
		filter   string
		advanced bool
		want     string
	}{
		// What az 2.45 sends.
		{"servicePrincipalNames/any(c:c eq '11111111-1111-1111-1111-111111111111')", false, "a1"},
		{"servicePrincipalNames/any(c:c eq 'API://CI')", false, "a1"},
		{"startswith(displayName,'ci')", false, "a1,c3"},
		{"displayName eq 'o''brien web'", false, "b2"},
		{"appId eq '33333333-3333-3333-3333-333333333333'", false, "c3"},
		{"servicePrincipalNames/any(c:c eq 'x') and startswith(displayName,'ci')", false, ""},
		// Operators and grouping.
		{"displayName eq 'ci-pipeline' or displayName eq 'CI-Deploy'", false, "a1,c3"},
		{"(displayName eq 'ci-pipeline' or accountEnabled eq false) and appId in ('11111111-1111-1111-1111-111111111111')", false, "a1"},
		{"id in ('a1', 'c3', 'zz')", false, "a1,c3"},
		{"accountEnabled eq true", false, "a1,c3"},
		{"AccountEnabled EQ FALSE", false, "b2"},
		{"appOwnerOrganizationId eq " + tenant, false, "a1,c3"},
		{"appOwnerOrganizationId eq null", false, "b2"},
		{"displayName ge 'd'", false, "b2"},
		{"servicePrincipalNames/any(s:startswith(s,'https://'))", false, "c3"},
		{"servicePrincipalNames/any(x:x eq 'api://ci' or x eq 'https://deploy.example.com')", false, "a1,c3"},
		{"tags/any(t:t eq 'WindowsAzureActiveDirectoryIntegratedApp')", false, "a1"},
		{"tags/any()", false, "a1"},
		{"  displayName   eq   'CI-Deploy'  ", false, "c3"},
		{strings.Repeat("(", 20) + "id eq 'b2'" + strings.Repeat(")", 20) + strings.Repeat(" or id eq 'zz'", 100), false, "b2"},
		// Advanced queries.
		{"displayName ne 'ci-pipeline'", true, "b2,c3"},
		{"not(startswith(displayName,'ci'))", true, "b2"},
		{"not servicePrincipalNames/any(c:c eq 'api://ci')", true, "b2,c3"},
		{"endswith(displayName,'web')", true, "b2"},
		{"not accountEnabled eq true and displayName ne 'x'", true, "b2"},
	}
	for _, tt := range tests {
		t.Run(short(tt.filter), func(t *testing.T) {
			if got := matches(t, tt.filter, tt.advanced); got != tt.want {
				t.Errorf("matched %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFilterPrecedence: and binds tighter than or, not tighter than both.
func TestFilterPrecedence(t *testing.T) {
	n, err := Parse("a eq 'x' or b eq 'y' and not c eq 'z'")
	if err != nil {
		t.Fatal(err)
	}
	or, ok := n.(*Logical)
	if !ok || or.Op != "or" {
		t.Fatalf("top = %#v, want or", n)
	}
	and, ok := or.R.(*Logical)
	if !ok || and.Op != "and" {
		t.Fatalf("right of or = %#v, want and", or.R)
	}
	if _, ok := and.R.(*Not); !ok {
		t.Fatalf("right of and = %#v, want not", and.R)
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		filter   string
		advanced bool
		kind     Kind
		msg      string // substring of the message
	}{
		// Malformed.
		{"", false, Syntax, "Invalid filter clause"},
		{"displayName eq", false, Syntax, "Syntax error at position 14"},
		{"displayName eq 'x", false, Syntax, "unterminated string literal at position 15"},
		{"displayName eqq 'x'", false, Syntax, "Syntax error at position 12"},
		{"displayName eq 'x' and", false, Syntax, "Invalid filter clause"},
		{"(displayName eq 'x'", false, Syntax, "Invalid filter clause"},
		{"displayName eq 'x')", false, Syntax, "position 18"},
		{"displayName eq 'x' displayName eq 'y'", false, Syntax, "Invalid filter clause"},
		{"startswith(displayName 'x')", false, Syntax, "Invalid filter clause"},
		{"servicePrincipalNames/any(c c eq 'x')", false, Syntax, "Invalid filter clause"},
		{"appId in ()", false, Syntax, "Invalid filter clause"},
		{"displayName eq \"x\"", false, Syntax, "character '\"' is not valid"},
		{"display-name eq 'x'", false, Syntax, "character '-' is not valid"},
		{"tags/all()", false, Syntax, "Invalid filter clause"},
		{"'x' eq displayName", false, Syntax, "Invalid filter clause"},
		// Unknown property, mistyped operands.
		{"nosuch eq 'x'", false, Invalid, "Could not find a property named 'nosuch' on type 'microsoft.graph.servicePrincipal'."},
		{"nosuch/any(c:c eq 'x')", false, Invalid, "Could not find a property named 'nosuch'"},
		{"displayName eq true", false, Invalid, "Found operand types 'Edm.String' and 'Edm.Boolean' for operator kind 'Equal'"},
		{"accountEnabled eq 'true'", false, Invalid, "'Edm.Boolean' and 'Edm.String'"},
		{"appOwnerOrganizationId eq '" + tenant + "'", false, Invalid, "'Edm.Guid' and 'Edm.String'"},
		{"startswith(displayName,1)", false, Invalid, "No function signature for the function with name 'startswith'"},
		// Served by Graph for other properties or only in advanced queries.
		{"description eq 'x'", false, Unsupported, "Unsupported or invalid query filter clause specified for property 'description' of resource 'ServicePrincipal'."},
		{"startswith(appId,'1')", false, Unsupported, "property 'appId'"},
		{"displayName gt 'a'", false, Unsupported, "property 'displayName'"},
		{"servicePrincipalNames eq 'x'", false, Unsupported, "property 'servicePrincipalNames'"},
		{"servicePrincipalNames/all(c:c eq 'x')", false, Unsupported, "property 'servicePrincipalNames'"},
		{"servicePrincipalNames/any(c:displayName eq 'x')", false, Unsupported, "lambda variable 'c'"},
		{"servicePrincipalNames/any(c:c ne 'x')", true, Unsupported, "property 'servicePrincipalNames'"},
		{"passwordCredentials/any(c:c eq 'x')", false, Unsupported, "Complex query on property passwordCredentials is not supported."},
		{"passwordCredentials/keyId eq 'x'", false, Unsupported, "Complex query on property passwordCredentials"},
		{"displayName ne 'x'", false, Unsupported, "Operator 'ne' is not supported because the required parameters might be missing."},
		{"not(displayName eq 'x')", false, Unsupported, "Operator 'not' is not supported"},
		{"endswith(displayName,'x')", false, Unsupported, "Operator 'endsWith' is not supported"},
		// Hostile sizes.
		{strings.Repeat("(", 40) + "displayName eq 'x'" + strings.Repeat(")", 40), false, Unsupported, "too complex"},
		{strings.Repeat("not ", 40) + "displayName eq 'x'", true, Unsupported, "too complex"},
		{"id in ('a'" + strings.Repeat(",'a'", 600) + ")", false, Unsupported, "too complex"},
		{"id eq 'a'" + strings.Repeat(" or id eq 'a'", 600), false, Unsupported, "too complex"},
	}
	for _, tt := range tests {
		t.Run(short(tt.filter), func(t *testing.T) {
			n, err := Parse(tt.filter)
			if err == nil {
				_, err = spSchema.Check(n, tt.advanced)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want an *Error", err)
			}
			if fe.Kind != tt.kind || !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("error = kind %d %q, want kind %d containing %q", fe.Kind, fe.Message, tt.kind, tt.msg)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	tests := []struct {
		search string
		want   string
	}{
		{`"displayName:ci"`, "a1,c3"},
		{`"displayName:pipe"`, "a1"},
		{`"displayName:brien"`, "b2"},
		{`"DISPLAYNAME:Web"`, "b2"},
		{`"displayName:ci dep"`, "c3"},
		{`"displayName:web" OR "displayName:deploy"`, "b2,c3"},
		{`"displayName:ci" AND "displayName:deploy"`, "c3"},
		{`"displayName:nothing"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.search, func(t *testing.T) {
			s, err := ParseSearch(tt.search)
			if err != nil {
				t.Fatal(err)
			}
			if err := spSchema.CheckSearch(s, "displayName", "description"); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range objects {
				if s.Match(o) {
					ids = append(ids, o["id"].(string))
				}
			}
			if got := strings.Join(ids, ","); got != tt.want {
				t.Errorf("matched %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []struct {
		search string
		kind   Kind
	}{
		{`displayName:ci`, Syntax},
		{`"displayName:ci`, Syntax},
		{`"ci"`, Syntax},
		{`"displayName:ci" XOR "displayName:x"`, Syntax},
		{`"displayName:ci" OR`, Syntax},
		{``, Syntax},
		{`"nosuch:x"`, Invalid},
		{`"appId:x"`, Unsupported},
	} {
		s, err := ParseSearch(bad.search)
		if err == nil {
			err = spSchema.CheckSearch(s, "displayName", "description")
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.Kind != bad.kind {
			t.Errorf("search %q: error %v, want kind %d", bad.search, err, bad.kind)
		}
	}
}

// short keeps subtest names readable for the long generated filters.
func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
