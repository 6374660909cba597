package compiler

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cohortd/cohortd/dsl"
)

// The checker turns the dsl AST into the IR: it resolves names (attributes,
// derived names, cohorts), checks types (spec §3) and turns every comparison
// into an exact leaf. Errors are collected, never thrown: a failing subtree
// returns nil and the caller keeps checking its siblings.

// catalog is what the checker knows of a cohort set.
type catalog struct {
	attrs   map[string]*dsl.Attribute
	list    []*dsl.Attribute
	key     *dsl.Attribute
	derived map[string]*derivedInfo
	cohorts map[string]bool // name → static
}

// names returns attribute and derived names, for "did you mean".
func (c *catalog) names() []string {
	var out []string
	for _, a := range c.list {
		out = append(out, a.Name)
	}
	for n := range c.derived {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (c *catalog) cohortNames() []string {
	var out []string
	for n := range c.cohorts {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// derivedInfo is a derived name, checked once on first use.
type derivedInfo struct {
	d       *dsl.Derived
	state   int // 0 unchecked, 1 being checked, 2 done
	ok      bool
	isValue bool
	val     operand
	pred    node
	refs    []string // cohorts referenced by pred
}

// opKind says what an operand is.
type opKind int

const (
	opAttr opKind = iota // an attribute (src)
	opDays               // days_since(attribute) (src with days)
	opLit                // a literal
	opNow                // now() ± offset
	opKey                // the key attribute
)

type operand struct {
	kind opKind
	s    src
	lit  *dsl.Literal
	off  int64 // now() offset in seconds
	pos  dsl.Pos
	name string // the derived name it came through, for messages
}

func (o operand) subject() bool { return o.kind == opAttr || o.kind == opDays || o.kind == opKey }

// describe is how messages name the operand and its type.
func (o operand) describe() string {
	if o.name != "" && o.kind != opLit && o.kind != opNow {
		return fmt.Sprintf("%s is %s", o.name, typeName(o.s.valueType()))
	}
	switch o.kind {
	case opAttr, opDays:
		return fmt.Sprintf("%s is %s", o.s, typeName(o.s.valueType()))
	case opKey:
		return fmt.Sprintf("%s is the key (string)", o.s.attr)
	case opNow:
		return "now() is a timestamp"
	}
	return fmt.Sprintf("%s is %s", o.lit.Raw, litTypeName(o.lit))
}

func typeName(t dsl.Type) string {
	switch t {
	case dsl.TypeString:
		return "string"
	case dsl.TypeInt:
		return "int"
	case dsl.TypeFloat:
		return "float"
	case dsl.TypeBool:
		return "bool"
	case dsl.TypeTimestamp:
		return "timestamp"
	case dsl.TypeStringList:
		return "list<string>"
	}
	return "unknown"
}

func litTypeName(l *dsl.Literal) string {
	switch l.Kind {
	case dsl.LitString:
		return "a string"
	case dsl.LitNumber:
		return "a number"
	case dsl.LitBool:
		return "a bool"
	}
	return "a duration"
}

type refUse struct {
	name string
	pos  dsl.Pos
}

type checker struct {
	cat   *catalog
	errs  []*dsl.Error
	refs  []refUse // cohort references of the expression being checked
	stack []string // derived names being checked (cycle detection)
}

func (c *checker) errorf(pos dsl.Pos, format string, args ...any) {
	c.errs = append(c.errs, dsl.Errorf(pos, format, args...))
}

// didYouMean formats the " (did you mean %q?)" suffix.
func didYouMean(name string, candidates []string) string {
	if s := dsl.Suggest(name, candidates); s != "" && s != name {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// pred checks a boolean expression; nil means an error was reported.
func (c *checker) pred(e dsl.Expr) node {
	switch e := e.(type) {
	case *dsl.Logic:
		terms := make([]node, 0, len(e.Terms))
		bad := false
		for _, t := range e.Terms {
			n := c.pred(t)
			bad = bad || n == nil
			terms = append(terms, n)
		}
		if bad {
			return nil
		}
		if e.Op == dsl.OpAnd {
			return &andNode{terms: terms}
		}
		return &orNode{terms: terms}
	case *dsl.Not:
		x := c.pred(e.X)
		if x == nil {
			return nil
		}
		return &notNode{x: x}
	case *dsl.Paren:
		return c.pred(e.X)
	case *dsl.BoolConst:
		return constOf(e.Value)
	case *dsl.CohortRef:
		if _, ok := c.cat.cohorts[e.Name]; !ok {
			pos := e.NamePos
			if pos.Line == 0 {
				pos = e.Pos
			}
			c.errorf(pos, "unknown cohort %q%s", e.Name, didYouMean(e.Name, c.cat.cohortNames()))
			return nil
		}
		c.refs = append(c.refs, refUse{name: e.Name, pos: e.Pos})
		return &refNode{name: e.Name}
	case *dsl.Compare:
		return c.compare(e)
	case *dsl.In:
		return c.in(e)
	case *dsl.Member:
		return c.member(e)
	case *dsl.Has:
		return c.has(e)
	case *dsl.Between:
		return c.between(e)
	case *dsl.IsNull:
		return c.isNull(e)
	case *dsl.Match:
		return c.match(e)
	case *dsl.Truthy:
		return c.truthy(e)
	case nil:
		return nil
	}
	c.errorf(e.Position(), "unsupported expression %s", e)
	return nil
}

// ident resolves an attribute or a derived value name.
func (c *checker) ident(id *dsl.Ident) (operand, bool) {
	if a, ok := c.cat.attrs[id.Name]; ok {
		if a.Key {
			return operand{kind: opKey, s: src{attr: a.Name, typ: a.Type}, pos: id.Pos}, true
		}
		return operand{kind: opAttr, s: src{attr: a.Name, typ: a.Type}, pos: id.Pos}, true
	}
	if d, ok := c.cat.derived[id.Name]; ok {
		if !c.resolveDerived(d, id.Pos) {
			return operand{}, false
		}
		if !d.isValue {
			c.errorf(id.Pos, "%s is a condition (derived), not a value", id.Name)
			return operand{}, false
		}
		o := d.val
		o.pos, o.name = id.Pos, id.Name
		return o, true
	}
	c.errorf(id.Pos, "unknown attribute %q%s", id.Name, didYouMean(id.Name, c.cat.names()))
	return operand{}, false
}

// value checks an operand.
func (c *checker) value(v dsl.Value) (operand, bool) {
	switch v := v.(type) {
	case *dsl.Ident:
		return c.ident(v)
	case *dsl.Literal:
		return operand{kind: opLit, lit: v, pos: v.Pos}, true
	case *dsl.Call:
		switch v.Kind {
		case dsl.CallNow:
			return operand{kind: opNow, off: int64(v.Offset / time.Second), pos: v.Pos}, true
		case dsl.CallDaysSince:
			if v.Arg == nil {
				c.errorf(v.Pos, "days_since needs a timestamp attribute")
				return operand{}, false
			}
			o, ok := c.ident(v.Arg)
			if !ok {
				return operand{}, false
			}
			if o.kind != opAttr || o.s.typ != dsl.TypeTimestamp {
				c.errorf(v.Arg.Pos, "days_since needs a timestamp attribute; %s", o.describe())
				return operand{}, false
			}
			return operand{kind: opDays, s: src{attr: o.s.attr, typ: dsl.TypeTimestamp, days: true}, pos: v.Pos}, true
		}
	case nil:
		return operand{}, false
	}
	c.errorf(v.Position(), "unsupported value %s", v)
	return operand{}, false
}

// resolveDerived checks a derived definition once; false if it is broken
// (its errors were reported at its definition) or part of a cycle.
func (c *checker) resolveDerived(d *derivedInfo, use dsl.Pos) bool {
	switch d.state {
	case 2:
		c.addRefs(d.refs, use)
		return d.ok
	case 1:
		i := slices.Index(c.stack, d.d.Name)
		path := append(slices.Clone(c.stack[i:]), d.d.Name)
		c.errorf(use, "derived cycle: %s", strings.Join(path, " → "))
		return false
	}
	d.state = 1
	c.stack = append(c.stack, d.d.Name)
	outer := c.refs
	c.refs = nil
	d.ok = c.checkDerived(d)
	for _, r := range c.refs {
		d.refs = append(d.refs, r.name)
	}
	c.refs = outer
	c.stack = c.stack[:len(c.stack)-1]
	d.state = 2
	c.addRefs(d.refs, use)
	return d.ok
}

func (c *checker) addRefs(names []string, pos dsl.Pos) {
	for _, n := range names {
		c.refs = append(c.refs, refUse{name: n, pos: pos})
	}
}

func (c *checker) checkDerived(d *derivedInfo) bool {
	if d.d.Expr == nil {
		return false // a syntax error, reported by the loader
	}
	e := dsl.Unparen(d.d.Expr)
	if t, ok := e.(*dsl.Truthy); ok {
		if id, ok := t.Value.(*dsl.Ident); ok {
			if other, ok := c.cat.derived[id.Name]; ok {
				if !c.resolveDerived(other, id.Pos) {
					return false
				}
				d.isValue, d.val, d.pred = other.isValue, other.val, other.pred
				return true
			}
		}
		o, ok := c.value(t.Value)
		if !ok {
			return false
		}
		d.isValue, d.val = true, o
		return true
	}
	n := c.pred(e)
	if n == nil {
		return false
	}
	d.pred = n
	return true
}

func (c *checker) truthy(e *dsl.Truthy) node {
	if id, ok := e.Value.(*dsl.Ident); ok {
		if d, ok := c.cat.derived[id.Name]; ok {
			if !c.resolveDerived(d, id.Pos) {
				return nil
			}
			if !d.isValue {
				return d.pred
			}
		}
	}
	o, ok := c.value(e.Value)
	if !ok {
		return nil
	}
	switch {
	case o.kind == opAttr && o.s.typ == dsl.TypeBool:
		return &inNode{s: o.s, vals: []any{true}}
	case o.kind == opLit && o.lit.Kind == dsl.LitBool:
		return constOf(o.lit.Bool)
	}
	c.errorf(e.Pos, "%s, not a condition (compare it with a value)", o.describe())
	return nil
}

func (c *checker) compare(e *dsl.Compare) node {
	l, okl := c.value(e.Left)
	r, okr := c.value(e.Right)
	if !okl || !okr {
		return nil
	}
	op := e.Op
	if r.subject() && !l.subject() {
		l, r, op = r, l, flipOp(op)
	}
	switch {
	case l.kind == opLit && r.kind == opLit:
		return c.foldCompare(e.Pos, op, l.lit, r.lit)
	case l.kind == opNow && r.kind == opNow:
		return constOf(cmpSatisfies(op, cmpInt64(l.off, r.off)))
	case l.kind == opNow || l.kind == opLit:
		c.errorf(e.Pos, "comparison needs an attribute on one side")
		return nil
	case r.kind == opNow:
		if l.kind != opAttr || l.s.typ != dsl.TypeTimestamp {
			c.errorf(e.Pos, "type mismatch: %s, now() is a timestamp", l.describe())
			return nil
		}
		return relLeaf(op, l.s, r.off)
	case r.kind == opLit:
		return c.litLeaf(e.Pos, op, l, r.lit)
	}
	return c.cmpAttrs(e.Pos, op, l, r)
}

// cmpSatisfies says whether a three-way comparison result c satisfies op.
func cmpSatisfies(op dsl.CmpOp, c int) bool {
	switch op {
	case dsl.OpEq:
		return c == 0
	case dsl.OpNe:
		return c != 0
	case dsl.OpLt:
		return c < 0
	case dsl.OpLe:
		return c <= 0
	case dsl.OpGt:
		return c > 0
	}
	return c >= 0
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// foldCompare folds literal OP literal to a constant.
func (c *checker) foldCompare(pos dsl.Pos, op dsl.CmpOp, a, b *dsl.Literal) node {
	if a.Kind == dsl.LitDuration || b.Kind == dsl.LitDuration {
		c.errorf(pos, "a duration is only allowed after now() + or -")
		return nil
	}
	if a.Kind != b.Kind {
		c.errorf(pos, "type mismatch: %s is %s, %s is %s", a.Raw, litTypeName(a), b.Raw, litTypeName(b))
		return nil
	}
	switch a.Kind {
	case dsl.LitNumber:
		return constOf(cmpSatisfies(op, litNum(a).Cmp(litNum(b))))
	case dsl.LitString:
		if op != dsl.OpEq && op != dsl.OpNe {
			c.errorf(pos, "operator %s is not defined on strings", cmpOpName(op))
			return nil
		}
		return constOf(cmpSatisfies(op, strings.Compare(a.Str, b.Str)))
	default:
		if op != dsl.OpEq && op != dsl.OpNe {
			c.errorf(pos, "operator %s is not defined on bools", cmpOpName(op))
			return nil
		}
		eq := 1
		if a.Bool == b.Bool {
			eq = 0
		}
		return constOf(cmpSatisfies(op, eq))
	}
}

// litNum is a number literal's exact value.
func litNum(l *dsl.Literal) *big.Float {
	if l.IsInt {
		return new(big.Float).SetInt64(l.Int)
	}
	return new(big.Float).SetFloat64(l.Num)
}

// litLeaf builds the leaf for `o OP lit` (o a subject).
func (c *checker) litLeaf(pos dsl.Pos, op dsl.CmpOp, o operand, lit *dsl.Literal) node {
	if lit.Kind == dsl.LitDuration {
		c.errorf(lit.Pos, "a duration is only allowed after now() + or -")
		return nil
	}
	mismatch := func() node {
		c.errorf(lit.Pos, "type mismatch: %s, %s is %s", o.describe(), lit.Raw, litTypeName(lit))
		return nil
	}
	eqOnly := func() bool {
		if op != dsl.OpEq && op != dsl.OpNe {
			c.errorf(pos, "operator %s is not defined on %s (%s)", cmpOpName(op), o.s, typeName(o.s.valueType()))
			return false
		}
		return true
	}
	neg := func(n node) node {
		if op == dsl.OpNe {
			return &notNode{x: n}
		}
		return n
	}
	if o.kind == opKey {
		if lit.Kind != dsl.LitString {
			return mismatch()
		}
		if !eqOnly() {
			return nil
		}
		return neg(&keyNode{attr: o.s.attr, ids: []string{lit.Str}})
	}
	switch o.s.valueType() {
	case dsl.TypeString:
		if lit.Kind != dsl.LitString {
			return mismatch()
		}
		if !eqOnly() || !c.checkValue(o.s.attr, lit) {
			return nil
		}
		return neg(&inNode{s: o.s, vals: []any{lit.Str}})
	case dsl.TypeBool:
		if lit.Kind != dsl.LitBool {
			return mismatch()
		}
		if !eqOnly() {
			return nil
		}
		return neg(&inNode{s: o.s, vals: []any{lit.Bool}})
	case dsl.TypeInt:
		if lit.Kind != dsl.LitNumber {
			return mismatch()
		}
		return intLeaf(op, o.s, cutOfLit(lit))
	case dsl.TypeFloat:
		if lit.Kind != dsl.LitNumber {
			return mismatch()
		}
		return floatLeaf(op, o.s, lit)
	case dsl.TypeTimestamp:
		if lit.Kind != dsl.LitString {
			return mismatch()
		}
		t, ok := c.parseTime(lit)
		if !ok {
			return nil
		}
		return intLeaf(op, o.s, cutOfTime(t))
	case dsl.TypeStringList:
		c.errorf(pos, "%s is list<string>: test it with 'x' IN %s, HAS ANY or HAS ALL", o.s.attr, o.s.attr)
		return nil
	}
	return mismatch()
}

// parseTime reads an RFC 3339 timestamp literal. Timestamps have one-second
// resolution everywhere: a fraction of a second is dropped (rounded down),
// as it is from data values, now and as_of, so that a literal equal to a
// value of the data matches it.
func (c *checker) parseTime(lit *dsl.Literal) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, lit.Str)
	if err != nil {
		c.errorf(lit.Pos, "invalid timestamp %q (want RFC 3339, e.g. 2026-01-02T15:04:05Z)", lit.Str)
		return time.Time{}, false
	}
	return time.Unix(t.Unix(), 0).UTC(), true
}

// checkValue checks a string literal against the attribute's `values:`.
func (c *checker) checkValue(attr string, lit *dsl.Literal) bool {
	a := c.cat.attrs[attr]
	if a == nil || len(a.Values) == 0 || slices.Contains(a.Values, lit.Str) {
		return true
	}
	c.errorf(lit.Pos, "%q is not a value of %s%s", lit.Str, attr, didYouMean(lit.Str, a.Values))
	return false
}

// cut is an exact real number seen from the integers: its floor and ceiling,
// or under/over when it lies beyond the int64 range.
type cut struct {
	under, over bool
	fl, ce      int64
}

func cutOfLit(l *dsl.Literal) cut {
	if l.IsInt {
		return cut{fl: l.Int, ce: l.Int}
	}
	return cutOfFloat(l.Num)
}

func cutOfFloat(f float64) cut {
	switch {
	case math.IsNaN(f):
		return cut{over: true} // not produced by the language; matches nothing
	case f >= 0x1p63:
		return cut{over: true}
	case f < -0x1p63:
		return cut{under: true}
	}
	return cut{fl: int64(math.Floor(f)), ce: int64(math.Ceil(f))}
}

func cutOfTime(t time.Time) cut {
	sec := t.Unix() // whole seconds (parseTime)
	return cut{fl: sec, ce: sec}
}

// allOf is "the source is not NULL" (a range without bounds).
func allOf(s src) node { return &rangeNode{s: s} }

// intLeaf builds `s OP x` for an integer-valued source and an exact real x.
func intLeaf(op dsl.CmpOp, s src, x cut) node {
	lo := func(v int64) node { return &rangeNode{s: s, lo: &bound{i: v, incl: true}} }
	hi := func(v int64) node { return &rangeNode{s: s, hi: &bound{i: v, incl: true}} }
	switch op {
	case dsl.OpLt:
		switch {
		case x.over:
			return allOf(s)
		case x.under, x.ce == math.MinInt64:
			return falseNode
		}
		return hi(x.ce - 1)
	case dsl.OpLe:
		switch {
		case x.over:
			return allOf(s)
		case x.under:
			return falseNode
		}
		return hi(x.fl)
	case dsl.OpGt:
		switch {
		case x.under:
			return allOf(s)
		case x.over, x.fl == math.MaxInt64:
			return falseNode
		}
		return lo(x.fl + 1)
	case dsl.OpGe:
		switch {
		case x.under:
			return allOf(s)
		case x.over:
			return falseNode
		}
		return lo(x.ce)
	case dsl.OpEq:
		if x.under || x.over || x.fl != x.ce {
			return falseNode
		}
		return &inNode{s: s, vals: []any{x.fl}}
	}
	return &notNode{x: intLeaf(dsl.OpEq, s, x)}
}

// floatLeaf builds `s OP lit` for a float attribute, exactly: an integer
// literal a float64 cannot hold is compared by its true value.
func floatLeaf(op dsl.CmpOp, s src, lit *dsl.Literal) node {
	if !lit.IsInt {
		return floatCmp(op, s, lit.Num)
	}
	k := lit.Int
	f := float64(k)
	if f != 0x1p63 && int64(f) == k {
		return floatCmp(op, s, f)
	}
	// k lies strictly between two adjacent floats a < k < b.
	var a, b float64
	if f == 0x1p63 || int64(f) > k {
		a, b = math.Nextafter(f, math.Inf(-1)), f
	} else {
		a, b = f, math.Nextafter(f, math.Inf(1))
	}
	switch op {
	case dsl.OpLt, dsl.OpLe:
		return &rangeNode{s: s, hi: &bound{f: a, incl: true}}
	case dsl.OpGt, dsl.OpGe:
		return &rangeNode{s: s, lo: &bound{f: b, incl: true}}
	case dsl.OpEq:
		return falseNode
	}
	return &notNode{x: falseNode}
}

func floatCmp(op dsl.CmpOp, s src, f float64) node {
	if f == 0 {
		f = 0 // -0 == 0
	}
	switch op {
	case dsl.OpEq:
		if math.IsInf(f, 0) {
			return falseNode
		}
		return &inNode{s: s, vals: []any{f}}
	case dsl.OpNe:
		return &notNode{x: floatCmp(dsl.OpEq, s, f)}
	case dsl.OpLt, dsl.OpLe:
		switch {
		case math.IsInf(f, 1):
			return allOf(s)
		case math.IsInf(f, -1):
			return falseNode
		}
		return &rangeNode{s: s, hi: &bound{f: f, incl: op == dsl.OpLe}}
	default:
		switch {
		case math.IsInf(f, -1):
			return allOf(s)
		case math.IsInf(f, 1):
			return falseNode
		}
		return &rangeNode{s: s, lo: &bound{f: f, incl: op == dsl.OpGe}}
	}
}

// relLeaf builds `ts OP now() + off`.
func relLeaf(op dsl.CmpOp, s src, off int64) node {
	switch op {
	case dsl.OpLt, dsl.OpLe:
		return &rangeNode{s: s, hi: &bound{i: off, rel: true, incl: op == dsl.OpLe}}
	case dsl.OpGt, dsl.OpGe:
		return &rangeNode{s: s, lo: &bound{i: off, rel: true, incl: op == dsl.OpGe}}
	case dsl.OpEq:
		return &rangeNode{s: s, lo: &bound{i: off, rel: true, incl: true}, hi: &bound{i: off, rel: true, incl: true}}
	}
	return &notNode{x: relLeaf(dsl.OpEq, s, off)}
}

// cmpAttrs builds attribute OP attribute.
func (c *checker) cmpAttrs(pos dsl.Pos, op dsl.CmpOp, l, r operand) node {
	if l.kind == opKey || r.kind == opKey {
		c.errorf(pos, "the key attribute can only be compared with string literals")
		return nil
	}
	lt, rt := l.s.valueType(), r.s.valueType()
	numeric := func(t dsl.Type) bool { return t == dsl.TypeInt || t == dsl.TypeFloat }
	switch {
	case numeric(lt) && numeric(rt), lt == dsl.TypeTimestamp && rt == dsl.TypeTimestamp:
	case lt == rt && (lt == dsl.TypeString || lt == dsl.TypeBool):
		if op != dsl.OpEq && op != dsl.OpNe {
			c.errorf(pos, "operator %s is not defined on %s", cmpOpName(op), typeName(lt))
			return nil
		}
	case lt == rt:
		c.errorf(pos, "cannot compare %s values; %s", typeName(lt), l.describe())
		return nil
	default:
		c.errorf(pos, "type mismatch: %s, %s", l.describe(), r.describe())
		return nil
	}
	if op == dsl.OpNe {
		return &notNode{x: &cmpNode{op: dsl.OpEq, l: l.s, r: r.s}}
	}
	return &cmpNode{op: op, l: l.s, r: r.s}
}

func (c *checker) in(e *dsl.In) node {
	o, ok := c.value(e.Value)
	if !ok {
		return nil
	}
	var out node
	switch o.kind {
	case opNow:
		c.errorf(e.Pos, "now() cannot be tested with IN; compare it with an attribute")
		return nil
	case opLit:
		any := false
		for _, l := range e.List {
			n := c.foldCompare(e.Pos, dsl.OpEq, o.lit, l)
			if n == nil {
				return nil
			}
			any = any || n.(*constNode).v
		}
		out = constOf(any)
	default:
		if o.kind == opAttr && o.s.typ == dsl.TypeStringList {
			c.errorf(e.Pos, "%s is list<string>: test it with 'x' IN %s, HAS ANY or HAS ALL", o.s.attr, o.s.attr)
			return nil
		}
		terms := make([]node, 0, len(e.List))
		bad := false
		for _, l := range e.List {
			n := c.litLeaf(e.Pos, dsl.OpEq, o, l)
			bad = bad || n == nil
			terms = append(terms, n)
		}
		if bad {
			return nil
		}
		if len(terms) == 1 {
			out = terms[0]
		} else {
			out = &orNode{terms: terms}
		}
	}
	if e.Not {
		return &notNode{x: out}
	}
	return out
}

// listAttr resolves the list<string> attribute of Member / Has.
func (c *checker) listAttr(id *dsl.Ident, what string) (string, bool) {
	if id == nil {
		return "", false
	}
	o, ok := c.ident(id)
	if !ok {
		return "", false
	}
	if o.kind != opAttr || o.s.typ != dsl.TypeStringList {
		c.errorf(id.Pos, "%s needs a list<string> attribute; %s", what, o.describe())
		return "", false
	}
	return o.s.attr, true
}

func (c *checker) stringLit(l *dsl.Literal) bool {
	if l == nil {
		return false
	}
	if l.Kind != dsl.LitString {
		c.errorf(l.Pos, "want a string, %s is %s", l.Raw, litTypeName(l))
		return false
	}
	return true
}

func (c *checker) member(e *dsl.Member) node {
	attr, ok := c.listAttr(e.Attr, "'x' IN attribute")
	okl := c.stringLit(e.Elem)
	if !ok || !okl || !c.checkValue(attr, e.Elem) {
		return nil
	}
	var n node = &listNode{attr: attr, vals: []string{e.Elem.Str}}
	if e.Not {
		n = &notNode{x: n}
	}
	return n
}

func (c *checker) has(e *dsl.Has) node {
	attr, ok := c.listAttr(e.Attr, "HAS ANY / HAS ALL")
	var vals []string
	for _, l := range e.Values {
		if !c.stringLit(l) || !c.checkValue(attr, l) {
			ok = false
			continue
		}
		if !slices.Contains(vals, l.Str) {
			vals = append(vals, l.Str)
		}
	}
	if !ok || len(vals) == 0 {
		return nil
	}
	return &listNode{attr: attr, vals: vals, all: e.All}
}

func (c *checker) between(e *dsl.Between) node {
	o, ok := c.value(e.Value)
	if !ok || e.Lo == nil || e.Hi == nil {
		return nil
	}
	var out node
	switch o.kind {
	case opNow:
		c.errorf(e.Pos, "now() cannot be tested with BETWEEN; compare it with an attribute")
		return nil
	case opLit:
		lo := c.foldCompare(e.Pos, dsl.OpGe, o.lit, e.Lo)
		hi := c.foldCompare(e.Pos, dsl.OpLe, o.lit, e.Hi)
		if lo == nil || hi == nil {
			return nil
		}
		out = constOf(lo.(*constNode).v && hi.(*constNode).v)
	default:
		if o.kind == opKey || (o.s.valueType() != dsl.TypeInt && o.s.valueType() != dsl.TypeFloat && o.s.valueType() != dsl.TypeTimestamp) {
			c.errorf(e.Pos, "BETWEEN needs a number or a timestamp; %s", o.describe())
			return nil
		}
		lo := c.litLeaf(e.Pos, dsl.OpGe, o, e.Lo)
		hi := c.litLeaf(e.Pos, dsl.OpLe, o, e.Hi)
		if lo == nil || hi == nil {
			return nil
		}
		out = &andNode{terms: []node{lo, hi}}
	}
	if e.Not {
		return &notNode{x: out}
	}
	return out
}

func (c *checker) isNull(e *dsl.IsNull) node {
	if e.Attr == nil {
		return nil
	}
	o, ok := c.ident(e.Attr)
	if !ok {
		return nil
	}
	var exists node
	switch o.kind {
	case opKey:
		exists = trueNode // every user has a key
	case opAttr, opDays:
		exists = &existsNode{attr: o.s.attr, typ: o.s.typ}
	case opNow:
		exists = trueNode
	default:
		exists = trueNode // a literal is never NULL
	}
	if e.Not {
		return exists
	}
	return &notNode{x: exists}
}

func (c *checker) match(e *dsl.Match) node {
	if e.Attr == nil {
		return nil
	}
	o, ok := c.ident(e.Attr)
	okp := c.stringLit(e.Pattern)
	if !ok || !okp {
		return nil
	}
	if o.kind != opAttr || o.s.typ != dsl.TypeString {
		c.errorf(e.Attr.Pos, "%s needs a string attribute; %s", matchOpName(e.Op), o.describe())
		return nil
	}
	n := &strNode{attr: o.s.attr, op: e.Op, pat: e.Pattern.Str}
	if e.Op == dsl.OpMatches {
		re, err := regexp.Compile(e.Pattern.Str)
		if err != nil {
			c.errorf(e.Pattern.Pos, "invalid regular expression %s: %v", e.Pattern.Raw, unwrapRegexpErr(err))
			return nil
		}
		n.re = re
	}
	if e.Not {
		return &notNode{x: n}
	}
	return n
}

// unwrapRegexpErr keeps the useful part of a regexp/syntax error.
func unwrapRegexpErr(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "error parsing regexp: ")
}
