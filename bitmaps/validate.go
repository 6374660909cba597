package bitmaps

import (
	"errors"
	"fmt"
)

// Validate reports every plan node the index cannot answer as written: an
// unknown field, a test the field's kind does not support, a value of the
// wrong type, a nil Fn or bitmap. Eval treats such a leaf as matching
// nothing; Validate lets the compiler and tests catch the mistake. The
// errors wrap ErrInvalidPlan (and ErrUnknownField where it applies).
func (ix *Index) Validate(n Node) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var errs []error
	ix.validate(n, &errs)
	return errors.Join(errs...)
}

func (ix *Index) validate(n Node, errs *[]error) {
	bad := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidPlan}, args...)...))
	}
	field := func(name string) (Field, bool) {
		f, ok := ix.field(name)
		if !ok {
			*errs = append(*errs, fmt.Errorf("%w: field %q: %w", ErrInvalidPlan, name, ErrUnknownField))
		}
		return f, ok
	}
	checkValue := func(f Field, v any, what string) {
		if !valueFits(f.Kind, v) {
			bad("%s on %q (%s): value %#v of type %T", what, f.Name, f.Kind, v, v)
		}
	}
	switch n := n.(type) {
	case nil:
		bad("nil node")
	case All, None:
	case *Eq:
		if f, ok := field(n.Field); ok {
			checkValue(f, n.Value, "Eq")
		}
	case *In:
		if f, ok := field(n.Field); ok {
			for _, v := range n.Values {
				checkValue(f, v, "In")
			}
		}
	case *Range:
		if f, ok := field(n.Field); ok {
			if !f.Kind.numeric() {
				bad("Range on %q (%s)", f.Name, f.Kind)
				break
			}
			for _, v := range []any{n.Lo, n.Hi} {
				if v != nil && !valueFits(KindFloat, v) {
					bad("Range bound on %q (%s): %#v of type %T", f.Name, f.Kind, v, v)
				}
			}
		}
	case *Exists:
		field(n.Field)
	case *ListHas:
		if f, ok := field(n.Field); ok && f.Kind != KindStringList {
			bad("ListHas on %q (%s)", f.Name, f.Kind)
		}
	case *StrPred:
		if f, ok := field(n.Field); ok && f.Kind != KindString {
			bad("StrPred on %q (%s)", f.Name, f.Kind)
		}
		if n.Fn == nil {
			bad("StrPred %q has no Fn", n.Desc)
		}
	case *Scan:
		for _, name := range n.Fields {
			field(name)
		}
		if n.Fn == nil {
			bad("Scan %q has no Fn", n.Desc)
		}
	case *And:
		for _, t := range n.Terms {
			ix.validate(t, errs)
		}
	case *Or:
		for _, t := range n.Terms {
			ix.validate(t, errs)
		}
	case *Not:
		ix.validate(n.X, errs)
	case *Const:
		if n.B == nil {
			bad("Const %q has no bitmap", n.Name)
		}
	default:
		bad("unknown node %T", n)
	}
}

// valueFits reports whether an Eq/In value can be compared with a field of
// kind k (numbers of either Go type are accepted for numeric kinds).
func valueFits(k Kind, v any) bool {
	switch v.(type) {
	case string:
		return k == KindString || k == KindStringList
	case bool:
		return k == KindBool
	case int64, int, int32, float64, float32:
		return k.numeric()
	}
	return false
}
