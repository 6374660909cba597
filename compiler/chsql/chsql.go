// Package chsql quotes identifiers and string literals for ClickHouse SQL.
// It is the one quoting shared by the compiler's SQL backend and the
// ClickHouse store, and depends on nothing of ours.
package chsql

import (
	"fmt"
	"strings"
)

var identEscaper = strings.NewReplacer("\\", "\\\\", "`", "\\`")

// Ident quotes an identifier (column, table, database) with backquotes.
func Ident(name string) string {
	return "`" + identEscaper.Replace(name) + "`"
}

// String quotes a string literal: \ and ' escaped, control bytes as \xHH.
func String(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
