package dsl

import (
	"strconv"
	"strings"
	"time"
)

// Print returns the canonical text of e: keywords upper case, strings single
// quoted, operators in their main spelling (== and !=), and parentheses only
// where precedence needs them or the source had them (Paren). Parsing the
// result gives a tree that prints identically. Print(nil) is "".
func Print(e Expr) string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	printExpr(&b, e, precOr)
	return b.String()
}

// Precedence levels, lowest first.
const (
	precOr = iota
	precAnd
	precNot
)

func exprPrec(e Expr) int {
	if l, ok := e.(*Logic); ok {
		if l.Op == OpOr {
			return precOr
		}
		return precAnd
	}
	return precNot
}

// printExpr writes e, parenthesised when it binds looser than ctx needs.
func printExpr(b *strings.Builder, e Expr, ctx int) {
	if e == nil {
		b.WriteString("<nil>")
		return
	}
	if exprPrec(e) < ctx {
		b.WriteByte('(')
		printExpr(b, e, precOr)
		b.WriteByte(')')
		return
	}
	switch n := e.(type) {
	case *Logic:
		// A term binding no tighter than the node itself (an OR inside an
		// OR, built by hand) is bracketed, so re-parsing keeps the tree.
		sep, sub := " AND ", precNot
		if n.Op == OpOr {
			sep, sub = " OR ", precAnd
		}
		for i, t := range n.Terms {
			if i > 0 {
				b.WriteString(sep)
			}
			printExpr(b, t, sub)
		}
	case *Not:
		b.WriteString("NOT ")
		printExpr(b, n.X, precNot)
	case *Paren:
		b.WriteByte('(')
		printExpr(b, n.X, precOr)
		b.WriteByte(')')
	default:
		b.WriteString(e.String())
	}
}

func (n *Logic) String() string     { return Print(n) }
func (n *Not) String() string       { return Print(n) }
func (n *Paren) String() string     { return Print(n) }
func (n *BoolConst) String() string { return boolText(n.Value) }

func boolText(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

func (n *CohortRef) String() string { return "cohort(" + Quote(n.Name) + ")" }

// String returns the operator's canonical spelling.
func (op CmpOp) String() string {
	switch op {
	case OpEq:
		return "=="
	case OpNe:
		return "!="
	case OpLt:
		return "<"
	case OpLe:
		return "<="
	case OpGt:
		return ">"
	case OpGe:
		return ">="
	}
	return "?"
}

// String returns "AND" or "OR".
func (op LogicOp) String() string {
	if op == OpOr {
		return "OR"
	}
	return "AND"
}

// String returns the operator's keywords, e.g. "STARTS WITH".
func (op MatchOp) String() string {
	switch op {
	case OpContains:
		return "CONTAINS"
	case OpStartsWith:
		return "STARTS WITH"
	case OpEndsWith:
		return "ENDS WITH"
	case OpMatches:
		return "MATCHES"
	}
	return "?"
}

func (n *Compare) String() string {
	return valueText(n.Left) + " " + n.Op.String() + " " + valueText(n.Right)
}

func notText(not bool) string {
	if not {
		return "NOT "
	}
	return ""
}

func (n *In) String() string {
	var b strings.Builder
	b.WriteString(valueText(n.Value))
	b.WriteString(" ")
	b.WriteString(notText(n.Not))
	b.WriteString("IN (")
	writeLits(&b, n.List)
	b.WriteString(")")
	return b.String()
}

func writeLits(b *strings.Builder, lits []*Literal) {
	for i, l := range lits {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(valueText(l))
	}
}

func (n *Member) String() string {
	return valueText(n.Elem) + " " + notText(n.Not) + "IN " + valueText(n.Attr)
}

func (n *Has) String() string {
	var b strings.Builder
	b.WriteString(valueText(n.Attr))
	if n.All {
		b.WriteString(" HAS ALL (")
	} else {
		b.WriteString(" HAS ANY (")
	}
	writeLits(&b, n.Values)
	b.WriteString(")")
	return b.String()
}

func (n *Between) String() string {
	return valueText(n.Value) + " " + notText(n.Not) + "BETWEEN " + valueText(n.Lo) + " AND " + valueText(n.Hi)
}

func (n *IsNull) String() string {
	return valueText(n.Attr) + " IS " + notText(n.Not) + "NULL"
}

func (n *Match) String() string {
	return valueText(n.Attr) + " " + notText(n.Not) + n.Op.String() + " " + valueText(n.Pattern)
}

func (n *Truthy) String() string { return valueText(n.Value) }

// valueText prints a value, tolerating nil (a tree built by hand).
func valueText(v Value) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case *Ident:
		if v == nil {
			return "<nil>"
		}
	case *Literal:
		if v == nil {
			return "<nil>"
		}
	case *Call:
		if v == nil {
			return "<nil>"
		}
	}
	return v.String()
}

func (n *Ident) String() string { return n.Name }

// String prints the literal canonically: strings single-quoted, numbers and
// durations as written, booleans lower case.
func (n *Literal) String() string {
	switch n.Kind {
	case LitString:
		return Quote(n.Str)
	case LitBool:
		return boolText(n.Bool)
	}
	if n.Raw != "" {
		return n.Raw
	}
	// A literal built by hand (no source text).
	switch n.Kind {
	case LitNumber:
		if n.IsInt {
			return strconv.FormatInt(n.Int, 10)
		}
		s := strconv.FormatFloat(n.Num, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case LitDuration:
		return formatDuration(n.Dur)
	}
	return n.Raw
}

func (n *Call) String() string {
	switch n.Kind {
	case CallDaysSince:
		return "days_since(" + valueText(n.Arg) + ")"
	case CallNow:
		if n.OffLit != nil {
			if n.Offset < 0 {
				return "now() - " + n.OffLit.String()
			}
			return "now() + " + n.OffLit.String()
		}
		if n.Offset != 0 {
			return "now() " + durationText(n.Offset)
		}
		return "now()"
	}
	return "?"
}

// durationText prints a signed offset built by hand (no OffLit) in the
// largest whole unit.
func durationText(d time.Duration) string {
	sign := "+ "
	if d < 0 {
		sign, d = "- ", -d
	}
	return sign + formatDuration(d)
}

func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d%(7*day) == 0 && d != 0:
		return strconv.FormatInt(int64(d/(7*day)), 10) + "w"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
}
