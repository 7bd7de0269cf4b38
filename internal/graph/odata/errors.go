package odata

// Kind says which Graph error a filter problem maps to.
type Kind int

const (
	// Syntax: the text is not a filter (Graph: 400 BadRequest,
	// "Invalid filter clause: ...").
	Syntax Kind = iota + 1
	// Invalid: well-formed but meaningless for the entity, e.g. an unknown
	// property or mismatched operand types (Graph: 400 BadRequest).
	Invalid
	// Unsupported: valid OData that Graph does not serve for this property
	// or operator (Graph: 400 Request_UnsupportedQuery).
	Unsupported
)

// Error is a filter that cannot be served.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

func syntaxErr(msg string) error  { return &Error{Syntax, "Invalid filter clause: " + msg} }
func invalidErr(msg string) error { return &Error{Invalid, msg} }
func unsupportedErr(msg string) error {
	return &Error{Unsupported, msg}
}
