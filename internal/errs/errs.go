// Package errs defines Coffer's error values: a Kind that says what went wrong
// in terms every transport can map to a status, an Op that says where, and an
// optional machine code and safe message that an API may show to its caller.
//
// Packages return errs.E(op, kind, ...); transports map Kind to a status in
// one place (internal/httpx) and render the error in their own wire shape.
// Test errors with errors.Is / KindOf, never with ==.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error. The list is append-only.
type Kind int

// Kinds of errors.
const (
	Other            Kind = iota // unclassified; maps to 500
	Invalid                      // bad input; 400
	Unauthenticated              // no or bad credential; 401
	Permission                   // authenticated but not allowed; 403
	NotExist                     // 404
	Exist                        // already exists; 409
	Conflict                     // state conflict (e.g. deleted but recoverable); 409
	Unavailable                  // try again later; 503
	Internal                     // a bug or broken invariant; 500
	TooLarge                     // request too large; 413
	TooMany                      // rate limited; 429
	MethodNotAllowed             // 405
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthenticated:
		return "unauthenticated"
	case Permission:
		return "permission denied"
	case NotExist:
		return "not found"
	case Exist:
		return "already exists"
	case Conflict:
		return "conflict"
	case Unavailable:
		return "unavailable"
	case Internal:
		return "internal error"
	case TooLarge:
		return "too large"
	case TooMany:
		return "too many requests"
	case MethodNotAllowed:
		return "method not allowed"
	}
	return "error"
}

// Op names the operation that failed, e.g. "vaults.GetSecret".
type Op string

// Code is a wire error code such as "SecretNotFound" or "BadParameter".
type Code string

// Inner is a wire inner error code such as "SecretDisabled".
type Inner string

// Msg is a message that is safe to show to the caller verbatim. It must never
// contain a secret value or a credential.
type Msg string

// Error is the error type of Coffer.
type Error struct {
	Op    Op
	Kind  Kind
	Code  Code  // wire code, if the producer knows the exact one
	Inner Inner // wire inner error code, optional
	Msg   Msg   // safe, caller-facing message
	Err   error // underlying error; logged, never shown
}

// E builds an *Error from its arguments, typed by argument type: Op, Kind,
// Code, Inner, Msg, error, or string (a safe message, like Msg).
// A nil error argument is ignored. If no Kind is given and the wrapped error
// is an *Error, its Kind (and Code/Inner/Msg when unset) are inherited.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case Op:
			e.Op = a
		case Kind:
			e.Kind = a
		case Code:
			e.Code = a
		case Inner:
			e.Inner = a
		case Msg:
			e.Msg = a
		case string:
			e.Msg = Msg(a)
		case error:
			e.Err = a
		case nil:
		default:
			panic(fmt.Sprintf("errs.E: bad argument type %T", a))
		}
	}
	var inner *Error
	if errors.As(e.Err, &inner) {
		if e.Kind == Other {
			e.Kind = inner.Kind
		}
		if e.Code == "" {
			e.Code = inner.Code
		}
		if e.Inner == "" {
			e.Inner = inner.Inner
		}
		if e.Msg == "" {
			e.Msg = inner.Msg
		}
	}
	return e
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(string(e.Op))
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(string(e.Msg))
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Kind (when target sets a
// Kind) and Code (when target sets a Code); it lets errors.Is(err, errs.E(errs.NotExist)) work.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Kind != Other && t.Kind != e.Kind {
		return false
	}
	if t.Code != "" && t.Code != e.Code {
		return false
	}
	return t.Kind != Other || t.Code != ""
}

// KindOf returns the Kind of the outermost *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// Details returns the wire code, inner code and safe message of err, taken from
// the first *Error in the chain that sets them.
func Details(err error) (Code, Inner, Msg) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Inner, e.Msg
	}
	return "", "", ""
}
