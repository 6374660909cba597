package compilertest

import (
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cohortd/cohortd/dsl"
)

// Ref is a naive reference evaluator written directly from the spec text
// (cohort-language.md §4), over the dsl AST, one user at a time. It is slow
// on purpose: every number and instant is an exact big.Rat, so it gives a
// third opinion independent of the compiler's bounds arithmetic. It assumes
// the expression type-checks. Ref is safe for concurrent use once built.
//
// now is truncated to the second (timestamps have second resolution), as in
// the compiler.
type Ref struct {
	File *dsl.File
	Now  time.Time

	res map[string]*regexp.Regexp
}

// NewRef returns a reference evaluator over f's catalog, derived names and
// cohorts at now.
func NewRef(f *dsl.File, now time.Time) *Ref {
	r := &Ref{File: f, Now: now, res: map[string]*regexp.Regexp{}}
	// Compile every pattern up front so Eval never writes the map.
	var visit func(e dsl.Expr)
	visit = func(e dsl.Expr) {
		dsl.Inspect(e, func(n dsl.Node) bool {
			if m, ok := n.(*dsl.Match); ok && m.Op == dsl.OpMatches && m.Pattern != nil {
				if re, err := regexp.Compile(m.Pattern.Str); err == nil {
					r.res[m.Pattern.Str] = re
				}
			}
			return true
		})
	}
	for _, d := range f.Derived {
		if d.Expr != nil {
			visit(d.Expr)
		}
	}
	for _, c := range f.Cohorts {
		if c.Expr != nil {
			visit(c.Expr)
		}
	}
	return r
}

// Prepare compiles the regular expressions of an ad-hoc expression (call it
// before using Eval on e from several goroutines).
func (r *Ref) Prepare(e dsl.Expr) {
	dsl.Inspect(e, func(n dsl.Node) bool {
		if m, ok := n.(*dsl.Match); ok && m.Op == dsl.OpMatches && m.Pattern != nil {
			if re, err := regexp.Compile(m.Pattern.Str); err == nil {
				r.res[m.Pattern.Str] = re
			}
		}
		return true
	})
}

// Cohort says whether user is a member of cohort name.
func (r *Ref) Cohort(name string, user map[string]any) bool {
	c := r.File.Cohort(name)
	if c == nil {
		return false
	}
	if c.Static {
		k := r.File.KeyAttribute()
		if k == nil {
			return false
		}
		id, ok := user[k.Name].(string)
		return ok && slices.Contains(c.Members, id)
	}
	return c.Expr != nil && r.Eval(c.Expr, user)
}

// kinds of reference values
const (
	kNull = iota
	kStr
	kNum
	kBool
	kTime
	kList
)

type rv struct {
	kind int
	s    string
	r    *big.Rat // kNum, kTime (seconds)
	b    bool
	l    []string
	lit  bool // a string literal (may be read as a timestamp)
}

func (r *Ref) nowRat() *big.Rat { return new(big.Rat).SetInt64(r.Now.Unix()) }

// value evaluates an operand for user.
func (r *Ref) value(v dsl.Value, user map[string]any) rv {
	switch v := v.(type) {
	case *dsl.Literal:
		switch v.Kind {
		case dsl.LitString:
			return rv{kind: kStr, s: v.Str, lit: true}
		case dsl.LitBool:
			return rv{kind: kBool, b: v.Bool}
		case dsl.LitNumber:
			if v.IsInt {
				return rv{kind: kNum, r: new(big.Rat).SetInt64(v.Int)}
			}
			return rv{kind: kNum, r: new(big.Rat).SetFloat64(v.Num)}
		}
		return rv{kind: kNull}
	case *dsl.Call:
		if v.Kind == dsl.CallNow {
			off := new(big.Rat).SetInt64(int64(v.Offset / time.Second))
			return rv{kind: kTime, r: off.Add(off, r.nowRat())}
		}
		ts := r.value(v.Arg, user)
		if ts.kind != kTime {
			return rv{kind: kNull}
		}
		// floor((now - ts) / 86400)
		d := new(big.Rat).Sub(r.nowRat(), ts.r)
		d.Quo(d, new(big.Rat).SetInt64(86400))
		q := new(big.Int).Div(d.Num(), d.Denom()) // Euclidean; denominator > 0 → floor
		return rv{kind: kNum, r: new(big.Rat).SetInt(q)}
	case *dsl.Ident:
		if a := r.File.Attribute(v.Name); a != nil {
			return attrValue(a, user[v.Name])
		}
		if d := r.File.DerivedNamed(v.Name); d != nil {
			if t, ok := dsl.Unparen(d.Expr).(*dsl.Truthy); ok {
				return r.value(t.Value, user)
			}
		}
	}
	return rv{kind: kNull}
}

func attrValue(a *dsl.Attribute, v any) rv {
	if v == nil {
		return rv{kind: kNull}
	}
	switch a.Type {
	case dsl.TypeString:
		if s, ok := v.(string); ok {
			return rv{kind: kStr, s: s}
		}
	case dsl.TypeBool:
		if b, ok := v.(bool); ok {
			return rv{kind: kBool, b: b}
		}
	case dsl.TypeInt:
		if i, ok := v.(int64); ok {
			return rv{kind: kNum, r: new(big.Rat).SetInt64(i)}
		}
	case dsl.TypeFloat:
		if f, ok := v.(float64); ok {
			return rv{kind: kNum, r: new(big.Rat).SetFloat64(f)}
		}
	case dsl.TypeTimestamp:
		switch t := v.(type) {
		case int64:
			return rv{kind: kTime, r: new(big.Rat).SetInt64(t)}
		case time.Time:
			return rv{kind: kTime, r: timeRat(t)}
		}
	case dsl.TypeStringList:
		if l, ok := v.([]string); ok && len(l) > 0 {
			return rv{kind: kList, l: l}
		}
	}
	return rv{kind: kNull}
}

// timeRat is an instant as Unix seconds. The language has one-second
// resolution (cohort-language.md leaves it open; README fixes it): a
// fraction of a second is dropped from data values, literals and now alike.
func timeRat(t time.Time) *big.Rat {
	return new(big.Rat).SetInt64(t.Unix())
}

// asTime reads a string literal as an RFC 3339 instant when compared with a
// timestamp.
func asTime(a, other rv) rv {
	if a.kind == kStr && a.lit && other.kind == kTime {
		t, err := time.Parse(time.RFC3339Nano, a.s)
		if err != nil {
			return rv{kind: kNull}
		}
		return rv{kind: kTime, r: timeRat(t)}
	}
	return a
}

// cmp returns the three-way comparison of a and b; ok is false when either
// is NULL (or the kinds do not compare).
func cmp(a, b rv) (int, bool) {
	a, b = asTime(a, b), asTime(b, a)
	if a.kind == kNull || b.kind == kNull {
		return 0, false
	}
	switch {
	case (a.kind == kNum && b.kind == kNum) || (a.kind == kTime && b.kind == kTime):
		return a.r.Cmp(b.r), true
	case a.kind == kStr && b.kind == kStr:
		return strings.Compare(a.s, b.s), true
	case a.kind == kBool && b.kind == kBool:
		if a.b == b.b {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

func satisfies(op dsl.CmpOp, c int) bool {
	switch op {
	case dsl.OpEq:
		return c == 0
	case dsl.OpLt:
		return c < 0
	case dsl.OpLe:
		return c <= 0
	case dsl.OpGt:
		return c > 0
	case dsl.OpGe:
		return c >= 0
	}
	return c != 0
}

// compare is `a OP b`; `!=` is NOT (a == b), so it holds on NULL.
func compare(op dsl.CmpOp, a, b rv) bool {
	if op == dsl.OpNe {
		return !compare(dsl.OpEq, a, b)
	}
	c, ok := cmp(a, b)
	return ok && satisfies(op, c)
}

// Eval says whether user satisfies e.
func (r *Ref) Eval(e dsl.Expr, user map[string]any) bool {
	switch e := e.(type) {
	case *dsl.Logic:
		for _, t := range e.Terms {
			v := r.Eval(t, user)
			if e.Op == dsl.OpAnd && !v {
				return false
			}
			if e.Op == dsl.OpOr && v {
				return true
			}
		}
		return e.Op == dsl.OpAnd
	case *dsl.Not:
		return !r.Eval(e.X, user)
	case *dsl.Paren:
		return r.Eval(e.X, user)
	case *dsl.BoolConst:
		return e.Value
	case *dsl.CohortRef:
		return r.Cohort(e.Name, user)
	case *dsl.Compare:
		return compare(e.Op, r.value(e.Left, user), r.value(e.Right, user))
	case *dsl.In:
		v := r.value(e.Value, user)
		found := false
		for _, l := range e.List {
			if compare(dsl.OpEq, v, r.value(l, user)) {
				found = true
				break
			}
		}
		return found != e.Not
	case *dsl.Member:
		l := r.value(e.Attr, user)
		in := l.kind == kList && slices.Contains(l.l, e.Elem.Str)
		return in != e.Not
	case *dsl.Has:
		l := r.value(e.Attr, user)
		if l.kind != kList {
			return false
		}
		for _, v := range e.Values {
			has := slices.Contains(l.l, v.Str)
			if e.All && !has {
				return false
			}
			if !e.All && has {
				return true
			}
		}
		return e.All
	case *dsl.Between:
		v := r.value(e.Value, user)
		in := compare(dsl.OpGe, v, r.value(e.Lo, user)) && compare(dsl.OpLe, v, r.value(e.Hi, user))
		return in != e.Not
	case *dsl.IsNull:
		null := r.value(e.Attr, user).kind == kNull
		return null != e.Not
	case *dsl.Match:
		v := r.value(e.Attr, user)
		ok := false
		if v.kind == kStr {
			p := e.Pattern.Str
			switch e.Op {
			case dsl.OpContains:
				ok = strings.Contains(v.s, p)
			case dsl.OpStartsWith:
				ok = strings.HasPrefix(v.s, p)
			case dsl.OpEndsWith:
				ok = strings.HasSuffix(v.s, p)
			case dsl.OpMatches:
				re := r.res[p]
				if re == nil {
					re, _ = regexp.Compile(p) // Prepare was not called
				}
				ok = re != nil && re.MatchString(v.s)
			}
		}
		return ok != e.Not
	case *dsl.Truthy:
		if id, ok := e.Value.(*dsl.Ident); ok {
			if d := r.File.DerivedNamed(id.Name); d != nil {
				return d.Expr != nil && r.Eval(d.Expr, user)
			}
		}
		v := r.value(e.Value, user)
		return v.kind == kBool && v.b
	}
	return false
}
