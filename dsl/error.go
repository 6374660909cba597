package dsl

import (
	"fmt"
	"strings"
)

// Error is a positioned error in a cohorts file or an expression. Every stage
// (parser, loader, compiler) reports errors of this type, so the CLI prints
// carets and the server maps them to a 400 with line and column.
type Error struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	// SourceLine is the text of the line the error points into (without the
	// newline), used to print a caret; may be empty.
	SourceLine string `json:"-"`
}

// Errorf builds an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{File: pos.File, Line: pos.Line, Column: pos.Column, Message: fmt.Sprintf(format, args...)}
}

// Error returns "FILE:LINE:COL: message" (FILE omitted when empty).
func (e *Error) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// Pretty returns Error() followed by the source line and a caret under the
// column:
//
//	cohorts.yaml:24:19: unknown attribute "engagment_tier" (did you mean "engagement_tier"?)
//	   |     champion: "engagment_tier == 'champion'"
//	   |                ^
func (e *Error) Pretty() string {
	var b strings.Builder
	b.WriteString(e.Error())
	if e.SourceLine != "" && e.Column >= 1 {
		line := strings.ReplaceAll(e.SourceLine, "\t", " ")
		b.WriteString("\n   | ")
		b.WriteString(line)
		b.WriteString("\n   | ")
		col := e.Column - 1
		if col > len(line) {
			col = len(line)
		}
		// Pad by display width so the caret lines up under multi-byte text.
		b.WriteString(strings.Repeat(" ", len([]rune(line[:col]))))
		b.WriteString("^")
	}
	return b.String()
}

// ErrorList is every error found in one file or expression, in position order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}

// Pretty prints each error with its caret, one after another, then "N errors".
func (l ErrorList) Pretty() string {
	var b strings.Builder
	for _, e := range l {
		b.WriteString(e.Pretty())
		b.WriteString("\n")
	}
	if len(l) == 1 {
		b.WriteString("1 error")
	} else {
		fmt.Fprintf(&b, "%d errors", len(l))
	}
	return b.String()
}

// Unwrap lets errors.As find the first *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}
