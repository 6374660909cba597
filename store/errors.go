package store

import (
	"strconv"
	"strings"
)

// RowError is a bad line of a data file: not a JSON object, a value of the
// wrong type, a missing or duplicate key. It names the file, the 1-based line
// and, when the problem is one attribute's value, that attribute.
type RowError struct {
	File  string
	Line  int
	Field string // attribute at fault; "" when the whole line is
	Msg   string
	// FirstLine is, for a duplicate key, the line where the key was first
	// seen (0 when unknown).
	FirstLine int
	// Hint says how to go on; ReadUsers sets it on the error that stops a
	// load ("fix the value or pass --skip-bad-rows").
	Hint string
	// Err is the underlying cause when there is one (e.g.
	// bitmaps.ErrDuplicateUser); nil otherwise.
	Err error

	dupKey string // the duplicate key, for LoadUsers to find FirstLine
}

// Error formats the error as
// `users.ndjson:12: "visits_30d": want int, got string "ten" (fix the value or pass --skip-bad-rows)`.
func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(strconv.Quote(e.Field))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.FirstLine > 0 {
		b.WriteString(", first on line ")
		b.WriteString(strconv.Itoa(e.FirstLine))
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *RowError) Unwrap() error { return e.Err }

// hint is the advice for an error that stops a load.
func (e *RowError) hint() string {
	if e.Field != "" {
		return "fix the value or pass --skip-bad-rows"
	}
	return "fix the line or pass --skip-bad-rows"
}
