package dsl

import (
	"fmt"
	"strings"
	"unicode"
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
//	   |                 ^
//
// Column counts characters; a tab in the line is printed as one space (it
// is one column), and the caret is padded by the display width of the
// characters before it (two cells for East Asian wide characters, none for
// combining marks), so it sits under the offending character in a
// terminal.
func (e *Error) Pretty() string {
	var b strings.Builder
	b.WriteString(e.Error())
	if e.SourceLine != "" && e.Column >= 1 {
		line := strings.ReplaceAll(e.SourceLine, "\t", " ")
		b.WriteString("\n   | ")
		b.WriteString(line)
		b.WriteString("\n   | ")
		width, col := 0, 1
		for _, r := range line {
			if col >= e.Column {
				break
			}
			width += runeWidth(r)
			col++
		}
		b.WriteString(strings.Repeat(" ", width))
		b.WriteString("^")
	}
	return b.String()
}

// runeWidth is the number of terminal cells r takes: 0 for combining marks
// and zero-width characters, 2 for East Asian wide and fullwidth characters
// (the main blocks of Unicode's EastAsianWidth W and F), 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me) || r == 0x200B || r == 0x200C || r == 0x200D || r == 0x2060 || r == 0xFEFF:
		return 0
	case r >= 0x1100 && r <= 0x115F, // Hangul Jamo initials
		r >= 0x2E80 && r <= 0x303E, // CJK radicals, punctuation
		r >= 0x3041 && r <= 0x33FF, // kana, CJK compatibility
		r >= 0x3400 && r <= 0x4DBF, // CJK extension A
		r >= 0x4E00 && r <= 0x9FFF, // CJK unified ideographs
		r >= 0xA000 && r <= 0xA4CF, // Yi
		r >= 0xAC00 && r <= 0xD7A3, // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF, // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F, // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60, // fullwidth forms
		r >= 0xFFE0 && r <= 0xFFE6,
		r >= 0x1F300 && r <= 0x1F64F, // pictographs, emoticons
		r >= 0x1F900 && r <= 0x1F9FF,
		r >= 0x20000 && r <= 0x3FFFD: // CJK extensions B and later
		return 2
	}
	return 1
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
