package compiler

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cohortd/cohortd/dsl"
)

// The compiler's intermediate representation: a typed boolean tree whose
// leaves are single tests on one attribute (or on days_since of one). The
// checker builds it from the dsl AST (derived names expanded, every comparison
// turned into exact integer / float bounds), the normaliser rewrites it, and
// the three backends (bitmap plan, expr-lang program, SQL) print it.
//
// Every leaf is false on NULL; notNode is the complement in the universe.

// src is what a leaf tests: an attribute, or days_since(attribute).
type src struct {
	attr string
	typ  dsl.Type // the attribute's type
	days bool     // days_since(attr): an int
}

// valueType is the type of the tested value (int for days_since).
func (s src) valueType() dsl.Type {
	if s.days {
		return dsl.TypeInt
	}
	return s.typ
}

// intLike says the values are integers (int, timestamp seconds, days).
func (s src) intLike() bool {
	t := s.valueType()
	return t == dsl.TypeInt || t == dsl.TypeTimestamp
}

func (s src) String() string {
	if s.days {
		return "days_since(" + s.attr + ")"
	}
	return s.attr
}

type node interface{ isNode() }

// constNode is true or false.
type constNode struct{ v bool }

// andNode / orNode are n-ary.
type andNode struct{ terms []node }
type orNode struct{ terms []node }

// notNode is the complement of x in the universe (NULL users included).
type notNode struct{ x node }

// inNode: the value is one of vals. Values are string (string), bool (bool),
// int64 (int, days, timestamp Unix seconds) or float64 (float).
type inNode struct {
	s    src
	vals []any
}

// bound is one side of a range. For int-like sources without rel, i is the
// inclusive integer bound (incl is always true). For timestamps relative to
// now, i is the offset in seconds from now (truncated to the second) and incl
// says whether the bound is included. For floats, f and incl.
type bound struct {
	i    int64
	f    float64
	rel  bool
	incl bool
}

// rangeNode: lo <(=) value <(=) hi; a nil side is open. Both nil means "not
// NULL" (the normaliser turns it into an existsNode).
type rangeNode struct {
	s      src
	lo, hi *bound
}

// existsNode: attr is not NULL (lists: non-empty).
type existsNode struct {
	attr string
	typ  dsl.Type
}

// listNode: a list<string> attribute contains any (or all) of vals.
type listNode struct {
	attr string
	vals []string
	all  bool
}

// strNode: a string attribute passes a substring or regular-expression test.
type strNode struct {
	attr string
	op   dsl.MatchOp
	pat  string
	re   *regexp.Regexp // OpMatches
}

// cmpNode compares two attributes (or days_since of them) of compatible types.
type cmpNode struct {
	op   dsl.CmpOp
	l, r src
}

// refNode is cohort('name').
type refNode struct{ name string }

// keyNode: the key attribute is one of ids (static cohorts, `user_id IN (...)`).
type keyNode struct {
	attr string
	ids  []string // sorted, unique
	// cohort names the static cohort this came from ("" for an ad-hoc list).
	cohort string
}

func (*constNode) isNode()  {}
func (*andNode) isNode()    {}
func (*orNode) isNode()     {}
func (*notNode) isNode()    {}
func (*inNode) isNode()     {}
func (*rangeNode) isNode()  {}
func (*existsNode) isNode() {}
func (*listNode) isNode()   {}
func (*strNode) isNode()    {}
func (*cmpNode) isNode()    {}
func (*refNode) isNode()    {}
func (*keyNode) isNode()    {}

var (
	trueNode  = &constNode{v: true}
	falseNode = &constNode{v: false}
)

func constOf(v bool) node {
	if v {
		return trueNode
	}
	return falseNode
}

// leafAttr returns the attribute a leaf tests ("" for non-leaves and cmpNode).
func leafAttr(n node) string {
	switch n := n.(type) {
	case *inNode:
		return n.s.attr
	case *rangeNode:
		return n.s.attr
	case *existsNode:
		return n.attr
	case *listNode:
		return n.attr
	case *strNode:
		return n.attr
	}
	return ""
}

// walk calls fn for n and every node below it.
func walk(n node, fn func(node)) {
	fn(n)
	switch n := n.(type) {
	case *andNode:
		for _, t := range n.terms {
			walk(t, fn)
		}
	case *orNode:
		for _, t := range n.terms {
			walk(t, fn)
		}
	case *notNode:
		walk(n.x, fn)
	}
}

// ---- printing in cohort-language syntax ----

const (
	precOr = iota + 1
	precAnd
	precUnary
)

func printNode(n node) string {
	var b strings.Builder
	printTo(&b, n, 0)
	return b.String()
}

func prec(n node) int {
	switch n := n.(type) {
	case *orNode:
		return precOr
	case *andNode:
		return precAnd
	case *rangeNode:
		if n.lo != nil && n.hi != nil && !betweenForm(n) {
			return precAnd
		}
	case *notNode:
		if r, ok := n.x.(*rangeNode); ok && r.lo != nil && r.hi != nil && !betweenForm(r) {
			return precUnary
		}
	}
	return precUnary
}

func printTo(b *strings.Builder, n node, minPrec int) {
	if p := prec(n); p < minPrec {
		b.WriteByte('(')
		printTo(b, n, 0)
		b.WriteByte(')')
		return
	}
	switch n := n.(type) {
	case *constNode:
		if n.v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *andNode:
		for i, t := range n.terms {
			if i > 0 {
				b.WriteString(" AND ")
			}
			printTo(b, t, precAnd+1)
		}
	case *orNode:
		for i, t := range n.terms {
			if i > 0 {
				b.WriteString(" OR ")
			}
			printTo(b, t, precOr+1)
		}
	case *notNode:
		printNot(b, n)
	case *inNode:
		if len(n.vals) == 1 {
			b.WriteString(n.s.String())
			b.WriteString(" == ")
			b.WriteString(printValue(n.s, n.vals[0]))
			return
		}
		b.WriteString(n.s.String())
		b.WriteString(" IN ")
		printValues(b, n.s, n.vals)
	case *rangeNode:
		printRange(b, n)
	case *existsNode:
		b.WriteString(n.attr)
		b.WriteString(" IS NOT NULL")
	case *listNode:
		if len(n.vals) == 1 {
			b.WriteString(quote(n.vals[0]))
			b.WriteString(" IN ")
			b.WriteString(n.attr)
			return
		}
		b.WriteString(n.attr)
		if n.all {
			b.WriteString(" HAS ALL (")
		} else {
			b.WriteString(" HAS ANY (")
		}
		for i, v := range n.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(v))
		}
		b.WriteByte(')')
	case *strNode:
		b.WriteString(n.attr)
		b.WriteString(" ")
		b.WriteString(matchOpName(n.op))
		b.WriteString(" ")
		b.WriteString(quote(n.pat))
	case *cmpNode:
		b.WriteString(n.l.String())
		b.WriteString(" ")
		b.WriteString(cmpOpName(n.op))
		b.WriteString(" ")
		b.WriteString(n.r.String())
	case *refNode:
		b.WriteString("cohort(")
		b.WriteString(quote(n.name))
		b.WriteString(")")
	case *keyNode:
		printKey(b, n, false)
	}
}

func printKey(b *strings.Builder, n *keyNode, not bool) {
	if len(n.ids) == 0 {
		// `key IN ()` is not in the grammar: the empty list is false (the key
		// is never NULL), its negation true.
		if not {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
		return
	}
	b.WriteString(n.attr)
	switch {
	case len(n.ids) == 1 && !not:
		b.WriteString(" == ")
	case len(n.ids) == 1:
		b.WriteString(" != ")
	case not:
		b.WriteString(" NOT IN (")
	default:
		b.WriteString(" IN (")
	}
	for i, id := range n.ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(id))
	}
	if len(n.ids) > 1 {
		b.WriteByte(')')
	}
}

func printNot(b *strings.Builder, n *notNode) {
	switch x := n.x.(type) {
	case *inNode:
		b.WriteString(x.s.String())
		if len(x.vals) == 1 {
			b.WriteString(" != ")
			b.WriteString(printValue(x.s, x.vals[0]))
			return
		}
		b.WriteString(" NOT IN ")
		printValues(b, x.s, x.vals)
		return
	case *existsNode:
		b.WriteString(x.attr)
		b.WriteString(" IS NULL")
		return
	case *listNode:
		if len(x.vals) == 1 {
			b.WriteString(quote(x.vals[0]))
			b.WriteString(" NOT IN ")
			b.WriteString(x.attr)
			return
		}
	case *strNode:
		b.WriteString(x.attr)
		b.WriteString(" NOT ")
		b.WriteString(matchOpName(x.op))
		b.WriteString(" ")
		b.WriteString(quote(x.pat))
		return
	case *rangeNode:
		if x.lo != nil && x.hi != nil && betweenForm(x) {
			b.WriteString(x.s.String())
			b.WriteString(" NOT BETWEEN ")
			b.WriteString(printBound(x.s, x.lo))
			b.WriteString(" AND ")
			b.WriteString(printBound(x.s, x.hi))
			return
		}
	case *cmpNode:
		if x.op == dsl.OpEq {
			b.WriteString(x.l.String())
			b.WriteString(" != ")
			b.WriteString(x.r.String())
			return
		}
	case *keyNode:
		printKey(b, x, true)
		return
	}
	b.WriteString("NOT ")
	if _, leaf := n.x.(*constNode); leaf {
		printTo(b, n.x, precUnary)
		return
	}
	if _, ok := n.x.(*refNode); ok {
		printTo(b, n.x, precUnary)
		return
	}
	b.WriteByte('(')
	printTo(b, n.x, 0)
	b.WriteByte(')')
}

// betweenForm says a two-sided range prints as BETWEEN (inclusive literal
// bounds on both sides).
func betweenForm(r *rangeNode) bool {
	return r.lo != nil && r.hi != nil && r.lo.incl && r.hi.incl && !r.lo.rel && !r.hi.rel
}

func printRange(b *strings.Builder, r *rangeNode) {
	switch {
	case r.lo == nil && r.hi == nil:
		b.WriteString(r.s.attr)
		b.WriteString(" IS NOT NULL")
	case betweenForm(r):
		b.WriteString(r.s.String())
		b.WriteString(" BETWEEN ")
		b.WriteString(printBound(r.s, r.lo))
		b.WriteString(" AND ")
		b.WriteString(printBound(r.s, r.hi))
	default:
		if r.lo != nil {
			b.WriteString(r.s.String())
			if r.lo.incl {
				b.WriteString(" >= ")
			} else {
				b.WriteString(" > ")
			}
			b.WriteString(printBound(r.s, r.lo))
		}
		if r.hi != nil {
			if r.lo != nil {
				b.WriteString(" AND ")
			}
			b.WriteString(r.s.String())
			if r.hi.incl {
				b.WriteString(" <= ")
			} else {
				b.WriteString(" < ")
			}
			b.WriteString(printBound(r.s, r.hi))
		}
	}
}

func printBound(s src, bd *bound) string {
	switch {
	case bd.rel:
		return printNow(bd.i)
	case s.valueType() == dsl.TypeFloat:
		return formatFloat(bd.f)
	default:
		return printValue(s, bd.i)
	}
}

// printNow prints now() shifted by off seconds.
func printNow(off int64) string {
	if off == 0 {
		return "now()"
	}
	sign := " + "
	if off < 0 {
		sign = " - "
	}
	a := uint64(off)
	if off < 0 {
		a = uint64(-off)
	}
	switch {
	case a%86400 == 0:
		return "now()" + sign + strconv.FormatUint(a/86400, 10) + "d"
	case a%3600 == 0:
		return "now()" + sign + strconv.FormatUint(a/3600, 10) + "h"
	}
	// Not reachable from the language (durations are whole hours); print
	// something readable anyway.
	return "now()" + sign + strconv.FormatUint(a, 10) + "s"
}

func printValues(b *strings.Builder, s src, vals []any) {
	b.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(printValue(s, v))
	}
	b.WriteByte(')')
}

// printValue prints a leaf value as a cohort-language literal.
func printValue(s src, v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case bool:
		if v {
			return "true"
		}
		return "false"
	case float64:
		return formatFloat(v)
	case int64:
		if s.valueType() == dsl.TypeTimestamp {
			return quote(formatTime(v))
		}
		if s.valueType() == dsl.TypeFloat {
			return formatFloat(float64(v))
		}
		return strconv.FormatInt(v, 10)
	}
	return "?"
}

// formatTime prints Unix seconds as RFC 3339 UTC.
func formatTime(sec int64) string {
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

// formatFloat prints a float in the language's number syntax (no exponent):
// the shortest decimal that reads back as the same float64.
func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// quote prints a string literal: single quotes, \' and \\ escaped.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('\'')
	return b.String()
}

func matchOpName(op dsl.MatchOp) string {
	switch op {
	case dsl.OpContains:
		return "CONTAINS"
	case dsl.OpStartsWith:
		return "STARTS WITH"
	case dsl.OpEndsWith:
		return "ENDS WITH"
	}
	return "MATCHES"
}

func cmpOpName(op dsl.CmpOp) string {
	switch op {
	case dsl.OpEq:
		return "=="
	case dsl.OpNe:
		return "!="
	case dsl.OpLt:
		return "<"
	case dsl.OpLe:
		return "<="
	case dsl.OpGt:
		return ">"
	}
	return ">="
}

// flipOp mirrors a comparison: a < b ⟺ b > a.
func flipOp(op dsl.CmpOp) dsl.CmpOp {
	switch op {
	case dsl.OpLt:
		return dsl.OpGt
	case dsl.OpLe:
		return dsl.OpGe
	case dsl.OpGt:
		return dsl.OpLt
	case dsl.OpGe:
		return dsl.OpLe
	}
	return op
}

// sortedUnique returns the sorted distinct strings of ss (a new slice).
func sortedUnique(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}
