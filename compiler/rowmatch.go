package compiler

import (
	"math"
	"strings"

	"github.com/cohortd/cohortd/dsl"
)

// A rowMatcher evaluates one cohort for one user natively, from the user's
// values by slot, without building an attribute map or running the
// expr-lang VM (whose map lookups go through reflection). It is a direct
// rendering of the same checked tree the expr-lang program is generated
// from (exprGen.node), node for node and in the same evaluation order, so
// the two agree; TestRowMatcherMatchesProgram checks it on random
// expressions. When a value has a type the program would reject (or a
// case the matcher does not cover), ok is false and the caller runs the
// expr-lang program instead, which gives the same answer or error as
// before.
type rowMatcher func(e *userEnv) (in, ok bool)

// userEnv is one user's values for the row matchers: vals[slot] is the
// value of the attribute with that slot (nil: NULL), in bitmaps.Row form,
// the key attribute included.
type userEnv struct {
	vals   []any
	loaded []bool // DiffLookup: the slot was read
	now    int64

	// lookup, when set, reads a slot's value the first time a matcher
	// needs it (DiffLookup), so that attributes behind a false AND term
	// are never read; names maps slots to attribute names.
	lookup    func(attr string) any
	slotNames []string
}

// get returns the value of a slot, reading it first when lazy.
func (e *userEnv) get(s int) any {
	if e.lookup != nil && !e.loaded[s] {
		e.loaded[s] = true
		e.vals[s] = e.lookup(e.slotNames[s])
	}
	return e.vals[s]
}

// matcherBuilder compiles checked trees into row matchers.
type matcherBuilder struct {
	set   *Set
	slots map[string]int
}

func (b *matcherBuilder) slot(attr string) (int, bool) {
	i, ok := b.slots[attr]
	return i, ok
}

func notOK(*userEnv) (bool, bool) { return false, false }

func (b *matcherBuilder) build(n node, depth int) rowMatcher {
	if depth > 64 { // cohort references nest; the checker rejects cycles
		return notOK
	}
	switch n := n.(type) {
	case *constNode:
		v := n.v
		return func(*userEnv) (bool, bool) { return v, true }
	case *andNode:
		terms := b.list(n.terms, depth)
		return func(e *userEnv) (bool, bool) {
			for _, t := range terms {
				v, ok := t(e)
				if !ok || !v {
					return false, ok
				}
			}
			return true, true
		}
	case *orNode:
		terms := b.list(n.terms, depth)
		return func(e *userEnv) (bool, bool) {
			for _, t := range terms {
				v, ok := t(e)
				if !ok || v {
					return v, ok
				}
			}
			return false, true
		}
	case *notNode:
		x := b.build(n.x, depth)
		return func(e *userEnv) (bool, bool) {
			v, ok := x(e)
			return !v, ok
		}
	case *inNode:
		return b.in(n)
	case *rangeNode:
		return b.rng(n)
	case *existsNode:
		s, ok := b.slot(n.attr)
		if !ok {
			return notOK
		}
		list := n.typ == dsl.TypeStringList
		return func(e *userEnv) (bool, bool) {
			v := e.get(s)
			if v == nil {
				return false, true
			}
			if list {
				l, ok := v.([]string)
				return len(l) > 0, ok
			}
			return true, true
		}
	case *listNode:
		s, ok := b.slot(n.attr)
		if !ok {
			return notOK
		}
		vals, all := n.vals, n.all
		return func(e *userEnv) (bool, bool) {
			v := e.get(s)
			if v == nil {
				return false, true
			}
			l, ok := v.([]string)
			if !ok {
				return false, false
			}
			for _, want := range vals {
				has := false
				for _, x := range l {
					if x == want {
						has = true
						break
					}
				}
				if has != all { // any: first hit; all: first miss
					return has, true
				}
			}
			return all, true
		}
	case *strNode:
		return b.str(n)
	case *cmpNode:
		return b.cmp(n)
	case *refNode:
		t, ok := b.set.byName[n.name]
		if !ok {
			return func(*userEnv) (bool, bool) { return false, true }
		}
		return b.build(t.Query.raw, depth+1)
	case *keyNode:
		s, ok := b.slot(n.attr)
		if !ok {
			return notOK
		}
		ids := make(map[string]struct{}, len(n.ids))
		for _, id := range n.ids {
			ids[id] = struct{}{}
		}
		return func(e *userEnv) (bool, bool) {
			v := e.get(s)
			if v == nil {
				return false, true
			}
			u, ok := v.(string)
			if !ok {
				return false, false
			}
			_, in := ids[u]
			return in, true
		}
	}
	return notOK
}

func (b *matcherBuilder) list(ns []node, depth int) []rowMatcher {
	out := make([]rowMatcher, len(ns))
	for i, t := range ns {
		out[i] = b.build(t, depth)
	}
	return out
}

// value reads a leaf's source: the attribute, or days_since of it (an
// int64); present is false for NULL, ok false for a value of a surprising
// type.
func (s src) value(e *userEnv, slot int) (v any, present, ok bool) {
	v = e.get(slot)
	if v == nil {
		return nil, false, true
	}
	if s.days {
		ts, ok := v.(int64)
		if !ok {
			return nil, false, false
		}
		return daysSince(e.now, ts), true, true
	}
	return v, true, true
}

func (b *matcherBuilder) in(n *inNode) rowMatcher {
	slot, ok := b.slot(n.s.attr)
	if !ok {
		return notOK
	}
	s, vals := n.s, n.vals
	return func(e *userEnv) (bool, bool) {
		v, present, ok := s.value(e, slot)
		if !present || !ok {
			return false, ok
		}
		for _, w := range vals {
			eq, ok := sameScalar(v, w)
			if !ok {
				return false, false
			}
			if eq {
				return true, true
			}
		}
		return false, true
	}
}

// sameScalar is expr-lang's == on the leaf value types (string, bool,
// int64, float64; numbers compare by value).
func sameScalar(a, b any) (eq, ok bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y, true
	case bool:
		y, ok := b.(bool)
		return ok && x == y, true
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y, true
		case float64:
			return float64(x) == y, true
		}
		return false, true
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y, true
		case int64:
			return x == float64(y), true
		}
		return false, true
	}
	return false, false
}

func (b *matcherBuilder) rng(n *rangeNode) rowMatcher {
	slot, ok := b.slot(n.s.attr)
	if !ok {
		return notOK
	}
	s, lo, hi := n.s, n.lo, n.hi
	float := s.valueType() == dsl.TypeFloat
	// side tests one bound against the value (x for int-like sources, f
	// for floats; ts is the raw timestamp a bound relative to now tests).
	side := func(e *userEnv, ts, x int64, f float64, bd *bound, lower bool) bool {
		var c int
		switch {
		case bd.rel:
			c = cmpShiftFast(ts, e.now, bd.i)
		case float:
			switch {
			case f < bd.f:
				c = -1
			case f > bd.f:
				c = 1
			}
		default:
			c = cmpInt64(x, bd.i)
		}
		if lower {
			return c > 0 || (c == 0 && bd.incl)
		}
		return c < 0 || (c == 0 && bd.incl)
	}
	return func(e *userEnv) (bool, bool) {
		raw := e.get(slot)
		if raw == nil {
			return false, true
		}
		var (
			ts, x int64
			f     float64
			ok    bool
		)
		if float { // never days_since, which is an int
			f, ok = raw.(float64)
		} else {
			ts, ok = raw.(int64)
			x = ts
			if s.days {
				x = daysSince(e.now, ts)
			}
		}
		if !ok {
			return false, false
		}
		if (lo != nil && !side(e, ts, x, f, lo, true)) || (hi != nil && !side(e, ts, x, f, hi, false)) {
			return false, true
		}
		return true, true
	}
}

// cmpShiftFast is cmpShift without big numbers when now+off does not
// overflow.
func cmpShiftFast(a, now, off int64) int {
	if (off > 0 && now > math.MaxInt64-off) || (off < 0 && now < math.MinInt64-off) {
		return cmpShift(a, now, off)
	}
	return cmpInt64(a, now+off)
}

func (b *matcherBuilder) str(n *strNode) rowMatcher {
	slot, ok := b.slot(n.attr)
	if !ok {
		return notOK
	}
	var test func(string) bool
	pat := n.pat
	switch n.op {
	case dsl.OpContains:
		test = func(s string) bool { return strings.Contains(s, pat) }
	case dsl.OpStartsWith:
		test = func(s string) bool { return strings.HasPrefix(s, pat) }
	case dsl.OpEndsWith:
		test = func(s string) bool { return strings.HasSuffix(s, pat) }
	case dsl.OpMatches:
		if n.re == nil {
			return notOK
		}
		test = n.re.MatchString
	default:
		return notOK
	}
	return func(e *userEnv) (bool, bool) {
		v := e.get(slot)
		if v == nil {
			return false, true
		}
		s, ok := v.(string)
		if !ok {
			return false, false
		}
		return test(s), true
	}
}

func (b *matcherBuilder) cmp(n *cmpNode) rowMatcher {
	ls, ok1 := b.slot(n.l.attr)
	rs, ok2 := b.slot(n.r.attr)
	if !ok1 || !ok2 {
		return notOK
	}
	l, r, op := n.l, n.r, n.op
	typ := l.valueType()
	return func(e *userEnv) (bool, bool) {
		a, present, ok := l.value(e, ls)
		if !present || !ok {
			return false, ok
		}
		c, present, ok := r.value(e, rs)
		if !present || !ok {
			return false, ok
		}
		var sign int
		switch typ {
		case dsl.TypeString:
			x, ok1 := a.(string)
			y, ok2 := c.(string)
			if !ok1 || !ok2 {
				return false, false
			}
			sign = strings.Compare(x, y)
		case dsl.TypeBool:
			x, ok1 := a.(bool)
			y, ok2 := c.(bool)
			if !ok1 || !ok2 || (op != dsl.OpEq && op != dsl.OpNe) {
				return false, false // expr-lang orders no bools: let it say so
			}
			if x != y {
				sign = 1
			}
		default:
			if sign, ok = cmpNum(a, c); !ok {
				return false, false
			}
		}
		return cmpSatisfies(op, sign), true
	}
}
