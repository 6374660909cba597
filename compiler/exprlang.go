package compiler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/cohortd/cohortd/dsl"
)

// The expr-lang backend evaluates a query on one user at a time (streaming
// updates, explain). It is generated from the checked tree — before the
// normaliser runs — so the differential tests compare the normaliser and the
// bitmap plan against an independent rendering of the same semantics.
//
// The program sees:
//
//	u          the user's attributes (name → value, nil = NULL)
//	now        the evaluation instant in Unix seconds
//	idsN       sets of ids (static cohorts) as map[string]struct{}
//	daysSince(ts, now)       floor((now - ts) / 86400), exact
//	cmpShift(ts, now, off)   sign of ts - (now + off), exact
//	cmpNum(a, b)             sign of a - b for int/float, exact

// Program is a compiled expr-lang program of a query. It is safe for
// concurrent use.
type Program struct {
	src   string
	prog  *vm.Program
	sets  map[string]map[string]struct{}
	attrs map[string]attrType // attributes read, for input checking
}

type attrType struct {
	typ dsl.Type
	key bool
}

// Source returns the expr-lang source of the program.
func (p *Program) Source() string { return p.src }

var exprKeywords = map[string]bool{
	"in": true, "not": true, "and": true, "or": true, "matches": true, "contains": true,
	"startsWith": true, "endsWith": true, "nil": true, "true": true, "false": true,
	"let": true, "if": true, "else": true,
}

// Program compiles q for expr-lang.
func (q *Query) Program() (*Program, error) {
	g := &exprGen{set: q.set, sets: map[string]map[string]struct{}{}, attrs: map[string]attrType{}}
	src := g.node(q.raw)
	env := map[string]any{"u": map[string]any{}, "now": int64(0)}
	for k, v := range g.sets {
		env[k] = v
	}
	prog, err := expr.Compile(src,
		expr.Env(env),
		expr.AsBool(),
		expr.Function("daysSince", exprDaysSince, new(func(any, int64) int64)),
		expr.Function("cmpShift", exprCmpShift, new(func(any, int64, int64) int)),
		expr.Function("cmpNum", exprCmpNum, new(func(any, any) int)),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot compile expr program %q: %w", src, err)
	}
	return &Program{src: src, prog: prog, sets: g.sets, attrs: g.attrs}, nil
}

// Match evaluates the program on one user at now. user maps attribute names
// to values as in bitmaps.Row (string, int64, float64, bool, int64 Unix
// seconds or time.Time for timestamps, []string); nil or missing is NULL. It
// includes the key attribute (static cohorts test it).
func (p *Program) Match(user map[string]any, now time.Time) (bool, error) {
	u := make(map[string]any, len(p.attrs))
	for name, t := range p.attrs {
		v, err := normValue(t.typ, user[name])
		if err != nil {
			return false, fmt.Errorf("attribute %q: %w", name, err)
		}
		if v != nil {
			u[name] = v
		}
	}
	env := make(map[string]any, len(p.sets)+2)
	env["u"] = u
	env["now"] = nowSec(now)
	for k, v := range p.sets {
		env[k] = v
	}
	out, err := expr.Run(p.prog, env)
	if err != nil {
		return false, fmt.Errorf("cannot evaluate %q: %w", p.src, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// normValue checks and converts one input value to the program's types.
func normValue(t dsl.Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case dsl.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case dsl.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case dsl.TypeInt, dsl.TypeTimestamp:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case time.Time:
			if t == dsl.TypeTimestamp {
				return x.Unix(), nil
			}
		}
	case dsl.TypeFloat:
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) {
				return nil, fmt.Errorf("NaN is not a value")
			}
			return x, nil
		case float32:
			return float64(x), nil
		}
	case dsl.TypeStringList:
		switch x := v.(type) {
		case []string:
			if len(x) == 0 {
				return nil, nil
			}
			return x, nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("list element %v (%T) is not a string", e, e)
				}
				out = append(out, s)
			}
			if len(out) == 0 {
				return nil, nil
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("want %s, got %T", typeName(t), v)
}

func exprDaysSince(params ...any) (any, error) {
	ts, ok1 := params[0].(int64)
	now, ok2 := params[1].(int64)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("daysSince(%T, %T): want int64", params[0], params[1])
	}
	return daysSince(now, ts), nil
}

func exprCmpShift(params ...any) (any, error) {
	ts, ok1 := params[0].(int64)
	now, ok2 := params[1].(int64)
	off, ok3 := toInt64(params[2])
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("cmpShift(%T, %T, %T): want int64", params[0], params[1], params[2])
	}
	return cmpShift(ts, now, off), nil
}

func exprCmpNum(params ...any) (any, error) {
	a, _ := toNum(params[0])
	b, _ := toNum(params[1])
	c, ok := cmpNum(a, b)
	if !ok {
		return nil, fmt.Errorf("cmpNum(%T, %T): want numbers", params[0], params[1])
	}
	return c, nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

func toNum(v any) (any, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64, float64:
		return x, true
	}
	return v, false
}

type exprGen struct {
	set   *Set
	sets  map[string]map[string]struct{}
	attrs map[string]attrType
}

// acc is the expression reading attribute name.
func (g *exprGen) acc(name string, t dsl.Type, key bool) string {
	g.attrs[name] = attrType{typ: t, key: key}
	if exprKeywords[name] {
		return "u[" + strconv.Quote(name) + "]"
	}
	return "u." + name
}

func (g *exprGen) src(s src) (guard, val string) {
	v := g.acc(s.attr, s.typ, false)
	if s.days {
		return v, "daysSince(" + v + ", now)"
	}
	return v, v
}

func exprValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return exprInt(v)
	case float64:
		return exprFloat(v)
	}
	return "nil"
}

func exprInt(v int64) string {
	if v == math.MinInt64 {
		return "(-9223372036854775807 - 1)"
	}
	return strconv.FormatInt(v, 10)
}

func exprFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

func (g *exprGen) join(terms []node, op string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = g.node(t)
	}
	return "(" + strings.Join(parts, op) + ")"
}

func (g *exprGen) node(n node) string {
	switch n := n.(type) {
	case *constNode:
		return strconv.FormatBool(n.v)
	case *andNode:
		return g.join(n.terms, " && ")
	case *orNode:
		return g.join(n.terms, " || ")
	case *notNode:
		return "!" + g.paren(n.x)
	case *inNode:
		guard, val := g.src(n.s)
		if len(n.vals) == 1 {
			return "(" + guard + " != nil && " + val + " == " + exprValue(n.vals[0]) + ")"
		}
		vals := make([]string, len(n.vals))
		for i, v := range n.vals {
			vals[i] = exprValue(v)
		}
		return "(" + guard + " != nil && " + val + " in [" + strings.Join(vals, ", ") + "])"
	case *rangeNode:
		guard, val := g.src(n.s)
		conds := []string{guard + " != nil"}
		side := func(b *bound, lower bool) string {
			op := "<"
			if lower {
				op = ">"
			}
			if b.incl {
				op += "="
			}
			switch {
			case b.rel:
				return fmt.Sprintf("cmpShift(%s, now, %s) %s 0", guard, exprInt(b.i), op)
			case n.s.valueType() == dsl.TypeFloat:
				return val + " " + op + " " + exprFloat(b.f)
			}
			return val + " " + op + " " + exprInt(b.i)
		}
		if n.lo != nil {
			conds = append(conds, side(n.lo, true))
		}
		if n.hi != nil {
			conds = append(conds, side(n.hi, false))
		}
		return "(" + strings.Join(conds, " && ") + ")"
	case *existsNode:
		v := g.acc(n.attr, n.typ, false)
		if n.typ == dsl.TypeStringList {
			return "(" + v + " != nil && len(" + v + ") > 0)"
		}
		return "(" + v + " != nil)"
	case *listNode:
		v := g.acc(n.attr, dsl.TypeStringList, false)
		parts := make([]string, len(n.vals))
		for i, s := range n.vals {
			parts[i] = strconv.Quote(s) + " in " + v
		}
		op := " || "
		if n.all {
			op = " && "
		}
		return "(" + v + " != nil && (" + strings.Join(parts, op) + "))"
	case *strNode:
		v := g.acc(n.attr, dsl.TypeString, false)
		op := map[dsl.MatchOp]string{dsl.OpContains: "contains", dsl.OpStartsWith: "startsWith",
			dsl.OpEndsWith: "endsWith", dsl.OpMatches: "matches"}[n.op]
		return "(" + v + " != nil && " + v + " " + op + " " + strconv.Quote(n.pat) + ")"
	case *cmpNode:
		lg, lv := g.src(n.l)
		rg, rv := g.src(n.r)
		guard := "(" + lg + " != nil && " + rg + " != nil && "
		switch n.l.valueType() {
		case dsl.TypeString, dsl.TypeBool:
			return guard + lv + " " + exprCmpOp(n.op) + " " + rv + ")"
		}
		return guard + "cmpNum(" + lv + ", " + rv + ") " + exprCmpOp(n.op) + " 0)"
	case *refNode:
		t, ok := g.set.byName[n.name]
		if !ok {
			return "false"
		}
		return g.paren(t.Query.raw)
	case *keyNode:
		name := fmt.Sprintf("ids%d", len(g.sets))
		set := make(map[string]struct{}, len(n.ids))
		for _, id := range n.ids {
			set[id] = struct{}{}
		}
		g.sets[name] = set
		v := g.acc(n.attr, dsl.TypeString, true)
		return "(" + v + " != nil && " + v + " in " + name + ")"
	}
	return "false"
}

func (g *exprGen) paren(n node) string {
	return "(" + g.node(n) + ")"
}

func exprCmpOp(op dsl.CmpOp) string {
	if op == dsl.OpEq {
		return "=="
	}
	return cmpOpName(op)
}
