package compiler

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cohortd/cohortd/compiler/chsql"
	"github.com/cohortd/cohortd/dsl"
)

// The SQL backend prints a query as a ClickHouse WHERE clause over a users
// table with one column per attribute, named like the attribute:
//
//	string   Nullable(String)        int    Nullable(Int64)
//	float    Nullable(Float64)       bool   Nullable(UInt8)
//	timestamp Nullable(DateTime) or Nullable(Int64) Unix seconds (read with toInt64)
//	list<string> Array(String) (empty = NULL)
//	key      String
//
// Every leaf is NULL-free (a comparison on NULL is wrapped in ifNull(..., 0)),
// so NOT is the complement exactly as in the bitmap semantics. It uses only
// functions ClickHouse 18.16 has (position, substring, match, has, hasAny,
// hasAll, notEmpty, ifNull, intDiv). Regular expressions run in ClickHouse's
// RE2 (unanchored, like Go's); `.` matching a byte rather than a UTF-8
// character on non-ASCII text is a known ClickHouse difference.

// SQL returns a ClickHouse WHERE clause selecting the users matching q at now
// (relative times resolved to Unix seconds, cohort references inlined).
func (q *Query) SQL(now time.Time) (string, error) {
	g := &sqlGen{set: q.set, now: nowSec(now)}
	s := g.node(q.norm, 0)
	if g.err != nil {
		return "", g.err
	}
	return s, nil
}

type sqlGen struct {
	set   *Set
	now   int64
	err   error
	depth int
}

// SQLIdent quotes a column name for ClickHouse.
func SQLIdent(name string) string { return chsql.Ident(name) }

// SQLString quotes a string literal for ClickHouse: \ and ' escaped, control
// bytes as \xHH.
func SQLString(s string) string { return chsql.String(s) }

func sqlValue(v any) string {
	switch v := v.(type) {
	case string:
		return SQLString(v)
	case bool:
		if v {
			return "1"
		}
		return "0"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return sqlFloat(v)
	}
	return "NULL"
}

// col is the column expression of an attribute (timestamps as Unix seconds).
func (g *sqlGen) col(attr string, t dsl.Type) string {
	if t == dsl.TypeTimestamp {
		return "toInt64(" + SQLIdent(attr) + ")"
	}
	return SQLIdent(attr)
}

func nullFree(cond string) string { return "ifNull(" + cond + ", 0)" }

func (g *sqlGen) join(terms []node, op string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = g.node(t, 0)
	}
	return "(" + strings.Join(parts, op) + ")"
}

func (g *sqlGen) node(n node, _ int) string {
	switch n := n.(type) {
	case *constNode:
		if n.v {
			return "1"
		}
		return "0"
	case *andNode:
		return g.join(n.terms, " AND ")
	case *orNode:
		return g.join(n.terms, " OR ")
	case *notNode:
		return "NOT (" + g.node(n.x, 0) + ")"
	case *inNode:
		if n.s.days {
			parts := make([]node, len(n.vals))
			for i, v := range n.vals {
				k := v.(int64)
				parts[i] = &rangeNode{s: n.s, lo: &bound{i: k, incl: true}, hi: &bound{i: k, incl: true}}
			}
			if len(parts) == 1 {
				return g.node(parts[0], 0)
			}
			return g.join(parts, " OR ")
		}
		c := g.col(n.s.attr, n.s.typ)
		if n.s.typ == dsl.TypeFloat {
			// Not IN: ClickHouse hashes float IN sets by bits (and rewrites
			// chains of = into IN), so -0 would miss 0. Zero is a range.
			eqs := make([]string, len(n.vals))
			for i, v := range n.vals {
				if v.(float64) == 0 {
					eqs[i] = "(" + c + " >= 0.0 AND " + c + " <= 0.0)"
				} else {
					eqs[i] = c + " = " + sqlValue(v)
				}
			}
			return nullFree(strings.Join(eqs, " OR "))
		}
		if len(n.vals) == 1 {
			return nullFree(c + " = " + sqlValue(n.vals[0]))
		}
		vals := make([]string, len(n.vals))
		for i, v := range n.vals {
			vals[i] = sqlValue(v)
		}
		return nullFree(c + " IN (" + strings.Join(vals, ", ") + ")")
	case *rangeNode:
		c := g.col(n.s.attr, n.s.typ)
		var conds []string
		if n.s.valueType() == dsl.TypeFloat {
			if n.lo != nil {
				op := " > "
				if n.lo.incl {
					op = " >= "
				}
				conds = append(conds, c+op+sqlFloat(n.lo.f))
			}
			if n.hi != nil {
				op := " < "
				if n.hi.incl {
					op = " <= "
				}
				conds = append(conds, c+op+sqlFloat(n.hi.f))
			}
		} else {
			b, ok := resolveInt(n, g.now)
			if !ok {
				return "0"
			}
			switch {
			case b.hasLo && b.hasHi && b.lo == b.hi:
				conds = append(conds, c+" = "+strconv.FormatInt(b.lo, 10))
			default:
				if b.hasLo {
					conds = append(conds, c+" >= "+strconv.FormatInt(b.lo, 10))
				}
				if b.hasHi {
					conds = append(conds, c+" <= "+strconv.FormatInt(b.hi, 10))
				}
			}
		}
		if len(conds) == 0 {
			return "isNotNull(" + SQLIdent(n.s.attr) + ")"
		}
		return nullFree(strings.Join(conds, " AND "))
	case *existsNode:
		if n.typ == dsl.TypeStringList {
			return "notEmpty(" + SQLIdent(n.attr) + ")"
		}
		return "isNotNull(" + SQLIdent(n.attr) + ")"
	case *listNode:
		c := SQLIdent(n.attr)
		if len(n.vals) == 1 {
			return "has(" + c + ", " + SQLString(n.vals[0]) + ")"
		}
		vals := make([]string, len(n.vals))
		for i, v := range n.vals {
			vals[i] = SQLString(v)
		}
		fn := "hasAny("
		if n.all {
			fn = "hasAll("
		}
		return fn + c + ", [" + strings.Join(vals, ", ") + "])"
	case *strNode:
		c := SQLIdent(n.attr)
		p := SQLString(n.pat)
		switch n.op {
		case dsl.OpContains:
			return nullFree("position(" + c + ", " + p + ") > 0")
		case dsl.OpStartsWith:
			return nullFree(fmt.Sprintf("substring(%s, 1, %d) = %s", c, len(n.pat), p))
		case dsl.OpEndsWith:
			if n.pat == "" {
				return "isNotNull(" + c + ")"
			}
			return nullFree(fmt.Sprintf("length(%s) >= %d AND substring(%s, length(%s) - %d) = %s",
				c, len(n.pat), c, c, len(n.pat)-1, p))
		}
		return nullFree("match(" + c + ", " + SQLString(sqlPattern(n.pat)) + ")")
	case *cmpNode:
		l, r := g.cmpSide(n.l), g.cmpSide(n.r)
		op := cmpOpName(n.op)
		if n.op == dsl.OpEq {
			op = "="
		}
		return nullFree(l + " " + op + " " + r)
	case *refNode:
		t, ok := g.set.byName[n.name]
		if !ok {
			g.err = fmt.Errorf("unknown cohort %q", n.name)
			return "0"
		}
		return "(" + g.node(t.Query.norm, 0) + ")"
	case *keyNode:
		if len(n.ids) == 0 {
			return "0"
		}
		vals := make([]string, len(n.ids))
		for i, id := range n.ids {
			vals[i] = SQLString(id)
		}
		return SQLIdent(n.attr) + " IN (" + strings.Join(vals, ", ") + ")"
	}
	g.err = fmt.Errorf("cannot print %T as SQL", n)
	return "0"
}

// cmpSide is one side of attribute OP attribute. days_since is computed
// without overflow as floor(now/d) - floor(ts/d) - (now mod d < ts mod d),
// with floor division built from intDiv and % (both truncate toward zero).
func (g *sqlGen) cmpSide(s src) string {
	c := g.col(s.attr, s.typ)
	if !s.days {
		return c
	}
	qn, rn := floorDivMod(g.now, secondsPerDay)
	neg := fmt.Sprintf("if(%s %% %d < 0, 1, 0)", c, secondsPerDay)
	div := fmt.Sprintf("(intDiv(%s, %d) - %s)", c, secondsPerDay, neg)
	mod := fmt.Sprintf("(%s %% %d + %s * %d)", c, secondsPerDay, neg, secondsPerDay)
	return fmt.Sprintf("(%d - %s - if(%d < %s, 1, 0))", qn, div, rn, mod)
}

// sqlPattern adapts a Go (RE2) pattern for ClickHouse's match(): `.` must
// not match a newline (ClickHouse turns dot_nl on), and the group keeps
// ClickHouse's required-substring prefilter from ignoring flags such as (?i)
// (18.16 finds no match for '(?i)SAT' in 'Saturday').
func sqlPattern(p string) string {
	if i := strings.LastIndex(p, `\Q`); i >= 0 && !strings.Contains(p[i:], `\E`) {
		p += `\E` // close a quote running to the end before our parenthesis
	}
	return "(?-s:" + p + ")"
}

// sqlFloat prints a float literal ClickHouse reads exactly: decimal for
// normal numbers (its parser rounds correctly), the IEEE bits for subnormal
// ones (which its parser rejects).
func sqlFloat(f float64) string {
	if f != 0 && math.Abs(f) < 0x1p-1022 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(f))
		return fmt.Sprintf("reinterpretAsFloat64(unhex('%X'))", b[:])
	}
	return exprFloat(f)
}
