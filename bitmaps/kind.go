package bitmaps

import (
	"fmt"
	"math"
	"time"
)

// String returns the kind's name as the cohort language spells the type.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindTime:
		return "timestamp"
	case KindStringList:
		return "list<string>"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) valid() bool { return k >= KindString && k <= KindStringList }

// numeric reports whether the kind is stored as an ordered number.
func (k Kind) numeric() bool { return k == KindInt || k == KindFloat || k == KindTime }

// Validate reports an empty or duplicate field name or an unknown kind.
func (s Schema) Validate() error {
	seen := make(map[string]bool, len(s))
	for i, f := range s {
		switch {
		case f.Name == "":
			return fmt.Errorf("field %d: %w", i, ErrEmptyFieldName)
		case seen[f.Name]:
			return fmt.Errorf("field %q: %w", f.Name, ErrDuplicateField)
		case !f.Kind.valid():
			return &FieldError{Field: f.Name, Kind: f.Kind, Err: ErrUnknownKind}
		}
		seen[f.Name] = true
	}
	return nil
}

// normalize checks v against the field's kind and returns the stored form:
// nil (NULL), string, int64, float64, bool or a non-empty []string (the
// caller's slice: columns intern its values and do not keep it).
// Besides the Row types it accepts int and int32 for numbers, float32 for
// KindFloat, ints for KindFloat, and time.Time for KindTime. An empty list is
// NULL. NaN and ±Inf are rejected.
func normalize(f Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func(err error) (any, error) {
		return nil, &FieldError{Field: f.Name, Kind: f.Kind, Value: v, Err: err}
	}
	switch f.Kind {
	case KindString:
		if _, ok := v.(string); ok {
			return v, nil // already canonical: no re-boxing
		}
	case KindInt, KindTime:
		switch x := v.(type) {
		case int64:
			return v, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case time.Time:
			if f.Kind == KindTime {
				return x.Unix(), nil
			}
		}
	case KindFloat:
		var x float64
		switch y := v.(type) {
		case float64:
			if y != 0 && !math.IsNaN(y) && !math.IsInf(y, 0) {
				return v, nil
			}
			x = y
		case float32:
			x = float64(y)
		case int64:
			x = float64(y)
		case int:
			x = float64(y)
		case int32:
			x = float64(y)
		default:
			return bad(ErrWrongType)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return bad(ErrNotFinite)
		}
		if x == 0 {
			x = 0 // -0 is stored as +0
		}
		return x, nil
	case KindBool:
		if _, ok := v.(bool); ok {
			return v, nil
		}
	case KindStringList:
		if l, ok := v.([]string); ok {
			if len(l) == 0 {
				return nil, nil
			}
			if len(l) > maxListLen {
				return bad(ErrListTooLong)
			}
			return l, nil // interned at once, never retained
		}
	default:
		return bad(ErrUnknownKind)
	}
	return bad(ErrWrongType)
}
