// Package odata parses and evaluates the OData v4 $filter subset that
// Microsoft Graph accepts on directory objects (applications, service
// principals), and checks a parsed filter against an entity's schema the
// way Graph does.
//
// Grammar (keywords and property names are case-insensitive, as in Graph):
//
//	filter     = or
//	or         = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | primary
//	primary    = "(" or ")"
//	           | ("startswith" | "endswith") "(" path "," literal ")"
//	           | path "/" ("any" | "all") "(" [ ident ":" or ] ")"
//	           | path ("eq"|"ne"|"gt"|"ge"|"lt"|"le") literal
//	           | path "in" "(" literal { "," literal } ")"
//	path       = ident { "/" ident }
//	literal    = string | guid | "true" | "false" | "null" | number
//	string     = "'" { char | "''" } "'"
//
// Parse produces an AST without knowing the entity; Schema.Check resolves
// property names, checks operand types and which operators Graph allows
// on each property (some only in "advanced queries", with the
// ConsistencyLevel: eventual header and $count=true), and Eval runs the
// checked tree against an object rendered as a JSON map.
//
// Errors are *Error values whose Kind says which Graph error code applies;
// messages follow Graph's wording.
package odata
