package dsl

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that the parser never panics, that errors are
// positioned inside the input, and that parse → print → parse → print is
// stable.
func FuzzParse(f *testing.F) {
	for _, tt := range printTests {
		f.Add(tt.src)
	}
	for _, tt := range errorTests {
		f.Add(tt.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			lines := strings.Count(src, "\n") + 1
			for _, pe := range list {
				if pe.Line < 1 || pe.Line > lines || pe.Column < 1 || pe.Column > len(src)+1 {
					t.Fatalf("error %v outside the input (%d lines, %d bytes)", pe, lines, len(src))
				}
				// Columns count characters: at most one past the line.
				if pe.SourceLine != "" && pe.Column > utf8.RuneCountInString(pe.SourceLine)+1 {
					t.Fatalf("error %v past the end of its line %q", pe, pe.SourceLine)
				}
			}
			return
		}
		printed := Print(e)
		e2, err := ParseExpr(printed)
		if err != nil {
			t.Fatalf("printed form %q of %q does not parse: %v", printed, src, err)
		}
		if again := Print(e2); again != printed {
			t.Fatalf("print not stable for %q:\n%q\n%q", src, printed, again)
		}
	})
}

// FuzzParseData checks that loading any bytes never panics and that every
// error is positioned in the file with its source line.
func FuzzParseData(f *testing.F) {
	f.Add([]byte(validFile))
	f.Add([]byte(multiErrorFile))
	f.Add([]byte(header + "    c: >\n      tier == 'a'\n      AND AND x\n"))
	f.Add([]byte(header + "    c: \"tier\\t== \\\"a\\\" AND AND x\"\n"))
	f.Add([]byte("version: 1\nattributes: [a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseData("f.yaml", data)
		if file == nil {
			t.Fatal("nil File")
		}
		if err == nil {
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range list {
			if e.File != "f.yaml" || e.Line < 1 || e.Line > lines || e.Column < 1 {
				t.Fatalf("error %v outside the file (%d lines)", e, lines)
			}
			if !strings.Contains(string(data), "\r") && e.SourceLine != "" && e.Column > utf8.RuneCountInString(e.SourceLine)+1 {
				t.Fatalf("error %v past the end of its line %q (columns count characters)", e, e.SourceLine)
			}
		}
	})
}
