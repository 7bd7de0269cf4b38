package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"

	"github.com/coffer-dev/coffer/internal/errs"
)

// decodedGetter is a kv.Store that keeps decoded values with the bytes it
// caches (kvcache.Cache), so a record read again is not decoded again.
// The value it returns is shared: getJSON hands out deep copies.
type decodedGetter interface {
	GetDecoded(ctx context.Context, key string, kind any, decode func([]byte) (any, error)) (any, error)
}

// decodeError tells a JSON error of the decode callback from the store's
// own errors.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }

// getMemo is getJSON through a decodedGetter: v, a pointer to a zero
// value, receives a deep copy of the shared decoded value, so callers may
// change what they get as they always could.
func getMemo(ctx context.Context, dg decodedGetter, op errs.Op, key string, v any) error {
	return getMemoWith(ctx, dg, op, key, v, decoderOf(reflect.TypeOf(v)))
}

// getMemoWith is getMemo with the decoder given: it must return a value
// of v's type (a pointer) and wrap its errors in a decodeError. v's type
// names the memo's kind, so one type must have one decoder.
func getMemoWith(ctx context.Context, dg decodedGetter, op errs.Op, key string, v any, decode func([]byte) (any, error)) error {
	d, err := dg.GetDecoded(ctx, key, reflect.TypeOf(v), decode)
	if err != nil {
		if de, ok := errors.AsType[*decodeError](err); ok {
			return errs.E(op, errs.Internal, de.err)
		}
		return mapErr(op, err)
	}
	deepCopy(reflect.ValueOf(v).Elem(), reflect.ValueOf(d).Elem())
	return nil
}

var decoders sync.Map // reflect.Type (a pointer type) → its decode func

// decoderOf returns the JSON decoder into a new *T for pointer type pt,
// made once per type so that a cache hit allocates no closure.
func decoderOf(pt reflect.Type) func([]byte) (any, error) {
	if f, ok := decoders.Load(pt); ok {
		return f.(func([]byte) (any, error))
	}
	f := func(b []byte) (any, error) {
		p := reflect.New(pt.Elem())
		if err := json.Unmarshal(b, p.Interface()); err != nil {
			return nil, &decodeError{err}
		}
		return p.Interface(), nil
	}
	decoders.Store(pt, f)
	return f
}

// memoizable reports whether getJSON may use the memo for v: a non-nil
// pointer to a zero value (json.Unmarshal into a non-zero value merges,
// which a copy would not).
func memoizable(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().IsZero()
}

// deepCopy sets dst, which must be settable, to a copy of src that shares
// no memory reachable through exported fields (promoted ones included),
// pointers, slices, maps and interfaces. Unexported fields are copied shallowly: JSON never sets
// them, and those of the standard library's types (time.Time's location)
// are immutable.
func deepCopy(dst, src reflect.Value) {
	t := src.Type()
	if !needsDeep(t) {
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		p := reflect.New(t.Elem())
		deepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		s := reflect.MakeSlice(t, src.Len(), src.Len())
		if needsDeep(t.Elem()) {
			for i := range src.Len() {
				deepCopy(s.Index(i), src.Index(i))
			}
		} else {
			reflect.Copy(s, src)
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		m := reflect.MakeMapWithSize(t, src.Len())
		it := src.MapRange()
		for it.Next() {
			nv := reflect.New(t.Elem()).Elem()
			deepCopy(nv, it.Value())
			m.SetMapIndex(it.Key(), nv)
		}
		dst.Set(m)
	case reflect.Interface:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		e := src.Elem()
		n := reflect.New(e.Type()).Elem()
		deepCopy(n, e)
		dst.Set(n)
	case reflect.Struct:
		dst.Set(src)
		deepFields(dst, src)
	case reflect.Array:
		dst.Set(src)
		for i := range src.Len() {
			deepCopy(dst.Index(i), src.Index(i))
		}
	}
}

// deepFields deep-copies the fields of struct src that need it into dst,
// which already holds a shallow copy. An unexported embedded struct (the
// store's keyHead embeds headMeta) is entered: JSON sets its exported
// fields, promoted, and reflect lets them be set through it too.
func deepFields(dst, src reflect.Value) {
	t := src.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case !needsDeep(f.Type):
		case f.IsExported():
			deepCopy(dst.Field(i), src.Field(i))
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			deepFields(dst.Field(i), src.Field(i))
		}
	}
}

var deepTypes sync.Map // reflect.Type → bool

// needsDeep reports whether a value of type t can reach shared memory
// through what deepCopy copies.
func needsDeep(t reflect.Type) bool {
	if v, ok := deepTypes.Load(t); ok {
		return v.(bool)
	}
	deep := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		deep = true
	case reflect.Array:
		deep = needsDeep(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			reach := f.IsExported() || (f.Anonymous && f.Type.Kind() == reflect.Struct)
			if reach && needsDeep(f.Type) {
				deep = true
				break
			}
		}
	}
	deepTypes.Store(t, deep)
	return deep
}
