package odata

import (
	"errors"
	"testing"
)

// FuzzParse: any Graph $filter either parses into a tree that evaluates on
// an object, or fails with a typed *Error (which the handler maps to
// Graph's 400); never a panic, however deep or long.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"displayName eq 'ci'", "startswith(displayName,'c')", "servicePrincipalNames/any(x:x eq 'api://ci' or x eq 'https://d')",
		"not servicePrincipalNames/any(c:c eq 'api://ci')", "appId in ('a','b')", "tags/any(t:t eq 'x')", "displayName eq 'it''s'",
		"id eq 00000000-0000-0000-0000-000000000000", "(((displayName eq 'a')))", "displayName eq", "eq eq eq", "'unterminated",
		"accountEnabled eq true", "createdDateTime ge 2024-01-01T00:00:00Z",
	} {
		f.Add(s)
	}
	obj := map[string]any{"displayName": "ci", "appId": "a", "servicePrincipalNames": []any{"api://ci"}, "tags": []any{}, "accountEnabled": true}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", src, err, err)
			}
			return
		}
		Eval(n, obj)
	})
}
