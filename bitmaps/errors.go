package bitmaps

import (
	"errors"
	"fmt"
)

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrDuplicateUser: Builder.Add saw the same user_id twice.
	ErrDuplicateUser = errors.New("duplicate user")
	// ErrEmptyUserID: a user_id must be a non-empty string.
	ErrEmptyUserID = errors.New("empty user id")
	// ErrUnknownField: a field name that is not in the schema.
	ErrUnknownField = errors.New("unknown field")
	// ErrRowLength: a Row whose length differs from the schema's.
	ErrRowLength = errors.New("row length does not match the schema")
	// ErrWrongType: a value whose Go type does not fit the field's kind.
	ErrWrongType = errors.New("wrong value type")
	// ErrNotFinite: NaN and ±Inf are not stored.
	ErrNotFinite = errors.New("value is not a finite number")
	// ErrListTooLong: a list longer than the index stores (16M elements).
	ErrListTooLong = errors.New("list is too long")
	// ErrUnknownKind: a Field with a Kind outside the defined constants.
	ErrUnknownKind = errors.New("unknown kind")
	// ErrEmptyFieldName and ErrDuplicateField: Schema.Validate.
	ErrEmptyFieldName = errors.New("empty field name")
	ErrDuplicateField = errors.New("duplicate field name")
	// ErrIndexFull: the 32-bit id space or the user_id arena is exhausted.
	ErrIndexFull = errors.New("index is full")
	// ErrBadSnapshot: ReadFrom got data that is not an index snapshot.
	ErrBadSnapshot = errors.New("bad index snapshot")
	// ErrInvalidPlan: Validate found a plan node the index cannot answer.
	ErrInvalidPlan = errors.New("invalid plan")
)

// FieldError reports a value that does not fit its field. It wraps one of
// ErrWrongType, ErrNotFinite, ErrListTooLong or ErrUnknownKind.
type FieldError struct {
	Field string
	Kind  Kind
	Value any
	Err   error
}

func (e *FieldError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("field %q (%s): %v", e.Field, e.Kind, e.Err)
	}
	if s, ok := e.Value.(string); ok {
		return fmt.Sprintf("field %q (%s): cannot store string %q: %v", e.Field, e.Kind, s, e.Err)
	}
	return fmt.Sprintf("field %q (%s): cannot store %T %v: %v", e.Field, e.Kind, e.Value, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }
