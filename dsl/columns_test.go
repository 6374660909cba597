package dsl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Columns count characters (runes), not bytes: these tests put non-ASCII
// text before the error on the same line, in expressions, in every YAML
// scalar style and in the YAML structure, and check both the number and
// that the character at that column is the offending one.

// textAt returns the text of line from 1-based character column col.
func textAt(line string, col int) string {
	r := []rune(line)
	if col < 1 || col > len(r)+1 {
		return fmt.Sprintf("<column %d outside a line of %d characters>", col, len(r))
	}
	return string(r[col-1:])
}

func TestExpressionErrorColumnsCountCharacters(t *testing.T) {
	tests := []struct {
		name string
		yaml string // appended to header (the cohort is on line 7)
		line int
		col  int
		at   string // the source line from the column on starts with this
	}{
		{name: "plain after two-byte letters", yaml: "    c: tier == 'Ünïcode' AND AND x\n", line: 7, col: 30, at: "AND x"},
		{name: "plain after three-byte CJK", yaml: "    c: tier == '日本語' AND AND x\n", line: 7, col: 26, at: "AND x"},
		{name: "plain after a four-byte emoji", yaml: "    c: tier == '😀' AND AND x\n", line: 7, col: 24, at: "AND x"},
		{name: "plain with a tab and CJK", yaml: "    c: tier ==\t'日本' AND AND x\n", line: 7, col: 25, at: "AND x"},
		{name: "plain after a combining mark", yaml: "    c: tier == 'e\u0301te' AND AND x\n", line: 7, col: 27, at: "AND x"},
		{name: "plain error at the non-ASCII character", yaml: "    c: tier == 'Ü' AND 日本\n", line: 7, col: 24, at: "日本"},
		{name: "plain end of expression", yaml: "    c: tier == 'Ünïcode' AND\n", line: 7, col: 29, at: ""},
		{name: "single quoted", yaml: "    c: 'tier == ''Ünïcode'' AND AND x'\n", line: 7, col: 33, at: "AND x"},
		{name: "single quoted second line", yaml: "    c: 'tier == ''日本''\n      AND AND x'\n", line: 8, col: 11, at: "AND x"},
		{name: "double quoted with escapes", yaml: "    c: \"tier == \\\"Ü\\u00efcode\\\" AND AND x\"\n", line: 7, col: 37, at: "AND x"},
		{name: "double quoted tab escape and CJK", yaml: "    c: \"tier\\t== '日本語' AND AND x\"\n", line: 7, col: 28, at: "AND x"},
		{name: "double quoted escape is the error", yaml: "    c: \"tier == 'Ü' OR tier == \\u00e9\"\n", line: 7, col: 32, at: "\\u00e9"},
		{name: "double quoted unterminated string", yaml: "    c: \"tier == 'Ü' OR tier == 'abc\"\n", line: 7, col: 32, at: "'abc"},
		{name: "literal block", yaml: "    c: |\n      tier == 'Ünïcode'\n        AND '日本' AND AND x\n", line: 9, col: 22, at: "AND x"},
		{name: "literal block non-ASCII on the line before", yaml: "    c: |\n      tier == '日本語'\n        AND AND x\n", line: 9, col: 13, at: "AND x"},
		{name: "folded block", yaml: "    c: >\n      tier == 'Ünïcode'\n      AND tier == '日本語' AND AND x\n", line: 9, col: 29, at: "AND x"},
		{name: "folded block end of expression", yaml: "    c: >-\n      tier == '日本語' AND\n", line: 8, col: 24, at: ""},
		{name: "expr key after a non-ASCII description", yaml: "    c:\n      description: Zürich 日本\n      expr: tier == 'ß' AND AND x\n", line: 9, col: 29, at: "AND x"},
		{name: "flow mapping after a CJK description", yaml: "    c: {description: \"日本語の説明\", expr: \"tier == AND\"}\n", line: 7, col: 47, at: "AND\"}"},
		{name: "flow mapping plain value after non-ASCII", yaml: "    c: {description: Ü, expr: tier == 'Ü' OR OR x}\n", line: 7, col: 46, at: "OR x}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := header + tt.yaml
			_, err := ParseData("cohorts.yaml", []byte(src))
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("want exactly one error, got %v", err)
			}
			e := list[0]
			if e.Line != tt.line || e.Column != tt.col {
				t.Errorf("error at %d:%d, want %d:%d\n%s", e.Line, e.Column, tt.line, tt.col, list.Pretty())
			}
			line := strings.Split(src, "\n")[tt.line-1]
			if got := textAt(line, e.Column); !strings.HasPrefix(got, tt.at) || (tt.at == "" && got != "") {
				t.Errorf("column %d of %q starts %q, want %q", e.Column, line, got, tt.at)
			}
		})
	}
}

func TestParseExprColumnsCountCharacters(t *testing.T) {
	tests := []struct {
		src  string
		line int
		col  int
		at   string
	}{
		{src: "name == 'Ünïcode' AND AND x", line: 1, col: 23, at: "AND x"},
		{src: "name == '日本語' AND AND x", line: 1, col: 19, at: "AND x"},
		{src: "name == '😀😀' OR ; x", line: 1, col: 17, at: "; x"},
		{src: "name ==\t'日本' ; b", line: 1, col: 14, at: "; b"},
		{src: "name == 'Ü' AND\n  '日本' AND AND", line: 2, col: 12, at: "AND"},
		{src: "name == 'Ü' AND", line: 1, col: 16, at: ""},
		// An invalid byte is one column ([]rune shows it as U+FFFD).
		{src: "x == 'Ü\xff'", line: 1, col: 8, at: "\ufffd'"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := ParseExpr(tt.src)
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			e := list[0]
			if e.Line != tt.line || e.Column != tt.col {
				t.Errorf("error at %d:%d, want %d:%d\n%s", e.Line, e.Column, tt.line, tt.col, list.Pretty())
			}
			if got := textAt(e.SourceLine, e.Column); !strings.HasPrefix(got, tt.at) || (tt.at == "" && got != "") {
				t.Errorf("column %d of %q starts %q, want %q", e.Column, e.SourceLine, got, tt.at)
			}
		})
	}

	// Node positions count characters too (the compiler positions its
	// errors from them).
	e, err := ParseExpr("'日本' IN tags AND x == 'Ünï' AND bogus")
	if err != nil {
		t.Fatal(err)
	}
	bogus := e.(*Logic).Terms[2].(*Truthy).Value.(*Ident)
	if bogus.Pos.Line != 1 || bogus.Pos.Column != 33 || bogus.Pos.Offset != 38 {
		t.Errorf("bogus at %+v, want line 1 column 33 (byte offset 38)", bogus.Pos)
	}
}

func TestYAMLStructureColumnsCountCharacters(t *testing.T) {
	const attrs = "version: 1\nattributes:\n  user_id: {type: string, key: true}\n"
	tests := []struct {
		name string
		src  string
		want string // first error, "LINE:COL: message"
		at   string
	}{
		{name: "unknown cohort key after a non-ASCII description",
			src:  attrs + "cohorts:\n  g:\n    c: {description: \"Ünïcode 日本\", exprr: \"user_id == 'x'\"}\n",
			want: `6:36: unknown key "exprr" in cohort "c" (did you mean "expr"?)`, at: "exprr"},
		{name: "unknown attribute key after non-ASCII values",
			src:  attrs + "  a: {type: string, values: [日本, Ünï], tpye: x}\n",
			want: `4:40: unknown key "tpye" in attribute "a" (did you mean "type"?)`, at: "tpye"},
		{name: "duplicate key after a non-ASCII value",
			src:  attrs + "cohorts:\n  c: {description: 日本語, description: x, expr: \"user_id == 'x'\"}\n",
			want: `5:25: duplicate key "description" in cohort "c" (first at line 5)`, at: "description: x"},
		{name: "invalid cohort name after a non-ASCII description",
			src:  attrs + "cohorts:\n  g: {ok: {description: Ünï, expr: \"user_id == 'x'\"}, Bad: \"user_id == 'y'\"}\n",
			want: `5:55: invalid cohort name "Bad": use lower-case letters, digits and _, starting with a letter`, at: "Bad"},
		{name: "wrong type after a non-ASCII value",
			src:  attrs + "cohorts:\n  g: {c: {description: 日本, expr: [x]}}\n",
			want: `5:34: expr in cohort "c" must be a string, not a list`, at: "[x]"},
		// Group names are free-form (spec §1), so they may be non-ASCII too.
		{name: "invalid cohort name after a non-ASCII group key",
			src:  attrs + "cohorts:\n  Ümlaut: {Bad: \"user_id == 'x'\"}\n",
			want: `5:12: invalid cohort name "Bad": use lower-case letters, digits and _, starting with a letter`, at: "Bad"},
		{name: "wrong type after a non-ASCII group key",
			src:  attrs + "cohorts:\n  日本: {c: {expr: [x]}}\n",
			want: `5:18: expr in cohort "c" must be a string, not a list`, at: "[x]"},
		{name: "yaml colon in a plain value after non-ASCII",
			src:  attrs + "cohorts:\n  a: Zürich: x\n",
			want: `5:12: YAML: mapping values are not allowed in this context (quote a value that contains ": ")`, at: ": x"},
		{name: "yaml unclosed quote after a non-ASCII key",
			src:  attrs + "cohorts:\n  日本: \"x == 1\n",
			want: `5:7: YAML: found unexpected end of stream (a quoted string that is not closed?)`, at: `"x == 1`},
		{name: "yaml unclosed list after non-ASCII",
			src:  "version: 1\nattributes: {ü: [日本, a\ncohorts: {}\n",
			want: `2:17: YAML: did not find expected ',' or ']' (the list opened here is not closed)`, at: "[日本"},
		{name: "yaml unknown anchor after a non-ASCII key",
			src:  attrs + "  ü_日本: *nope\n",
			want: `4:9: YAML: unknown anchor 'nope' referenced`, at: "*nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseData("c.yaml", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("want errors, got %v", err)
			}
			e := list[0]
			if got := fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message); got != tt.want {
				t.Errorf("first error\n got %s\nwant %s\nall:\n%s", got, tt.want, list.Pretty())
			}
			if got := textAt(e.SourceLine, e.Column); !strings.HasPrefix(got, tt.at) {
				t.Errorf("column %d of %q starts %q, want %q", e.Column, e.SourceLine, got, tt.at)
			}
		})
	}
}

func TestMembersFileColumnsCountCharacters(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ids.csv"), []byte("user_id\nü-1\n日本-2; x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cohorts.yaml")
	yml := "version: 1\nattributes:\n  user_id: {type: string, key: true}\ncohorts:\n  v: {description: Ünï, members_file: ids.csv}\n"
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one error, got %v", err)
	}
	if e := list[0]; e.Line != 3 || e.Column != 5 || textAt(e.SourceLine, e.Column) != "; x" {
		t.Errorf("error at %d:%d of %q, want 3:5 at \"; x\"", e.Line, e.Column, e.SourceLine)
	}
	// A members file that cannot be read is reported at its name in the
	// YAML, after non-ASCII text on the same line.
	if err := os.Remove(filepath.Join(dir, "ids.csv")); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one error, got %v", err)
	}
	if e := list[0]; e.Line != 5 || e.Column != 39 || textAt(e.SourceLine, e.Column) != "ids.csv}" {
		t.Errorf("error at %d:%d of %q, want 5:39 at \"ids.csv}\"", e.Line, e.Column, e.SourceLine)
	}
	_ = f
}

func TestPrettyCaretUnderTheCharacter(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		col   int
		caret string // the caret line after "   | "
	}{
		{name: "ascii", line: "a == AND", col: 6, caret: "     ^"},
		{name: "two-byte letters", line: "name == 'Ünïcode' AND bogus", col: 23, caret: strings.Repeat(" ", 22) + "^"},
		// Wide characters take two cells in a terminal.
		{name: "CJK", line: "name == '日本語' AND bogus", col: 19, caret: strings.Repeat(" ", 21) + "^"},
		{name: "caret on a CJK character", line: "a == 日本", col: 6, caret: "     ^"},
		// A tab is one column and is printed as one space.
		{name: "tab", line: "\tx == AND", col: 7, caret: "      ^"},
		// A combining mark adds a column but no width.
		{name: "combining mark", line: "x == 'e\u0301' AND AND", col: 15, caret: strings.Repeat(" ", 13) + "^"},
		{name: "past the end", line: "a == 'Ü'", col: 20, caret: strings.Repeat(" ", 8) + "^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Error{Line: 1, Column: tt.col, Message: "m", SourceLine: tt.line}
			want := fmt.Sprintf("1:%d: m\n   | %s\n   | %s", tt.col, strings.ReplaceAll(tt.line, "\t", " "), tt.caret)
			if got := e.Pretty(); got != want {
				t.Errorf("Pretty =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestSrcIndexColumns checks the indexed offset → (line, column) mapping
// against counting characters, for every offset of texts mixing ASCII,
// multi-byte characters, invalid bytes and line breaks, and the way back.
func TestSrcIndexColumns(t *testing.T) {
	texts := []string{
		"",
		"plain ascii\nsecond line\n",
		"Ünïcode 日本語 😀\nx\r\nÜ\n\n日",
		"bad \xff\xfe bytes Ü\n\xe6\x97 truncated 本",
		"\te\u0301\t\n",
		"\U000b2a73\x91 a stray continuation byte after a four-byte character",
	}
	for _, src := range texts {
		ix := newSrcIndex([]byte(src))
		line, lineStart := 1, 0
		for off := 0; off <= len(src); off++ {
			if off > 0 && src[off-1] == '\n' {
				line, lineStart = line+1, off
			}
			// Count the characters before off; an offset inside a
			// character is that character's column.
			start, col := lineStart, 1
			for start < off {
				_, n := utf8.DecodeRuneInString(src[start:])
				if start+n > off {
					break
				}
				start, col = start+n, col+1
			}
			want := Pos{File: "f", Line: line, Column: col}
			if got := ix.pos("f", off); got != want {
				t.Errorf("%q offset %d: got %d:%d, want %d:%d", src, off, got.Line, got.Column, want.Line, want.Column)
			}
			if start == off {
				if back := ix.offsetOf(want.Line, want.Column); back != off {
					t.Errorf("%q %d:%d: offsetOf = %d, want %d", src, want.Line, want.Column, back, off)
				}
			}
		}
	}
}
