package chsql_test

import (
	"testing"

	"github.com/cohortd/cohortd/compiler/chsql"
)

func TestQuoting(t *testing.T) {
	for _, tc := range []struct{ in, ident, str string }{
		{"plain", "`plain`", "'plain'"},
		{"it's", "`it's`", `'it\'s'`},
		{"back`tick", "`back\\`tick`", "'back`tick'"},
		{`a\b`, "`a\\\\b`", `'a\\b'`},
		{"tab\there\x7f", "`tab\there\x7f`", `'tab\x09here\x7F'`},
		{"日本", "`日本`", "'日本'"},
	} {
		if got := chsql.Ident(tc.in); got != tc.ident {
			t.Errorf("Ident(%q) = %s, want %s", tc.in, got, tc.ident)
		}
		if got := chsql.String(tc.in); got != tc.str {
			t.Errorf("String(%q) = %s, want %s", tc.in, got, tc.str)
		}
	}
}
