package compiler

import (
	"math"
	"slices"

	"github.com/cohortd/cohortd/dsl"
)

// The normaliser rewrites the checked IR into an equivalent, simpler tree.
// Every rule is exact under the bitmap semantics (two-valued logic, NULL
// fails every leaf, NOT is the complement): in particular a negated leaf stays
// a negated leaf — `x != 'a'` is NOT(x == 'a'), never "x is another value".
// Nodes are never modified in place (checked trees are shared between
// queries through derived names and cohort references).

// passes run in order, repeatedly, until the printed tree stops changing.
var passes = []func(node) node{
	pushNot,
	simplify,
}

// normalize returns the normal form of n.
func normalize(n node) node {
	prev := printNode(n)
	for range 8 {
		for _, p := range passes {
			n = p(n)
		}
		cur := printNode(n)
		if cur == prev {
			break
		}
		prev = cur
	}
	return n
}

// pushNot moves NOT down to the leaves (De Morgan; exact for complements)
// and removes double negation.
func pushNot(n node) node { return nnf(n, false) }

func nnf(n node, neg bool) node {
	switch n := n.(type) {
	case *constNode:
		return constOf(n.v != neg)
	case *notNode:
		return nnf(n.x, !neg)
	case *andNode:
		terms := make([]node, len(n.terms))
		for i, t := range n.terms {
			terms[i] = nnf(t, neg)
		}
		if neg {
			return &orNode{terms: terms}
		}
		return &andNode{terms: terms}
	case *orNode:
		terms := make([]node, len(n.terms))
		for i, t := range n.terms {
			terms[i] = nnf(t, neg)
		}
		if neg {
			return &andNode{terms: terms}
		}
		return &orNode{terms: terms}
	}
	if neg {
		return &notNode{x: n}
	}
	return n
}

// simplify folds constants, flattens nested AND/OR, removes duplicate terms
// and merges leaves on the same attribute (see mergeAnd / mergeOr).
func simplify(n node) node {
	switch n := n.(type) {
	case *andNode:
		return simplifyLogic(n.terms, true)
	case *orNode:
		return simplifyLogic(n.terms, false)
	case *notNode:
		x := simplify(n.x)
		if c, ok := x.(*constNode); ok {
			return constOf(!c.v)
		}
		if nx, ok := x.(*notNode); ok {
			return nx.x
		}
		return &notNode{x: x}
	case *rangeNode:
		return simplifyRange(n)
	case *inNode:
		if len(n.vals) == 0 {
			return falseNode
		}
	case *listNode:
		if len(n.vals) == 0 {
			return falseNode // not produced by the language
		}
	case *keyNode:
		if len(n.ids) == 0 {
			return falseNode
		}
	}
	return n
}

func simplifyLogic(in []node, and bool) node {
	var terms []node
	seen := map[string]bool{}
	for _, t := range in {
		t = simplify(t)
		var sub []node
		switch t := t.(type) {
		case *constNode:
			if t.v != and { // false in AND, true in OR: absorbing
				return constOf(!and)
			}
			continue // neutral
		case *andNode:
			if and {
				sub = t.terms
			}
		case *orNode:
			if !and {
				sub = t.terms
			}
		}
		if sub == nil {
			sub = []node{t}
		}
		for _, s := range sub {
			k := printNode(s)
			if !seen[k] {
				seen[k] = true
				terms = append(terms, s)
			}
		}
	}
	if and {
		terms = mergeAnd(terms)
	} else {
		terms = mergeOr(terms)
	}
	// Merging may produce constants again.
	out := terms[:0]
	for _, t := range terms {
		if c, ok := t.(*constNode); ok {
			if c.v != and {
				return constOf(!and)
			}
			continue
		}
		out = append(out, t)
	}
	switch len(out) {
	case 0:
		return constOf(and)
	case 1:
		return out[0]
	}
	if and {
		return &andNode{terms: out}
	}
	return &orNode{terms: out}
}

// group is the key leaves are merged by: the same source.
func srcKey(s src) string {
	if s.days {
		return "d:" + s.attr
	}
	return "a:" + s.attr
}

// mergeAnd merges, inside one AND:
//   - IN on the same source: intersection of the value sets;
//   - ranges on the same source: intersection of the bounds;
//   - IN with a range on the same source: the values inside the range;
//   - NOT IN on the same source: NOT IN of the union (De Morgan);
//   - NOT 'x' IN list on the same list: NOT HAS ANY of the union;
//   - list HAS ALL / 'x' IN list on the same list: HAS ALL of the union;
//   - x IS NOT NULL when another positive test on x implies it;
//   - x IS NULL with a positive test on x: false;
//   - key IN lists: intersection; NOT key IN lists: NOT IN of the union.
func mergeAnd(terms []node) []node {
	out := make([]node, 0, len(terms))
	idx := map[string]int{} // merge key → position in out
	put := func(key string, n node, merge func(old node) (node, bool)) {
		if i, ok := idx[key]; ok {
			if m, ok := merge(out[i]); ok {
				out[i] = m
				return
			}
		}
		if _, ok := idx[key]; !ok {
			idx[key] = len(out)
		}
		out = append(out, n)
	}
	for _, t := range terms {
		switch t := t.(type) {
		case *keyNode:
			put("k", t, func(old node) (node, bool) {
				o := old.(*keyNode)
				return &keyNode{attr: t.attr, ids: intersectSorted(o.ids, t.ids)}, true
			})
		case *inNode:
			put("v"+srcKey(t.s), t, func(old node) (node, bool) {
				switch o := old.(type) {
				case *inNode:
					return &inNode{s: t.s, vals: intersectVals(o.vals, t.vals)}, true
				case *rangeNode:
					return filterIn(t, o)
				}
				return nil, false
			})
		case *rangeNode:
			put("v"+srcKey(t.s), t, func(old node) (node, bool) {
				switch o := old.(type) {
				case *inNode:
					return filterIn(o, t)
				case *rangeNode:
					return intersectRanges(o, t)
				}
				return nil, false
			})
		case *listNode:
			if !t.all && len(t.vals) > 1 {
				out = append(out, t)
				continue
			}
			put("l"+t.attr, t, func(old node) (node, bool) {
				o := old.(*listNode)
				return &listNode{attr: t.attr, vals: unionStrings(o.vals, t.vals), all: true}, true
			})
		case *notNode:
			switch x := t.x.(type) {
			case *keyNode:
				put("nk", t, func(old node) (node, bool) {
					o := old.(*notNode).x.(*keyNode)
					return &notNode{x: &keyNode{attr: x.attr, ids: sortedUnique(append(slices.Clone(o.ids), x.ids...))}}, true
				})
				continue
			case *inNode:
				put("n"+srcKey(x.s), t, func(old node) (node, bool) {
					o := old.(*notNode).x.(*inNode)
					return &notNode{x: &inNode{s: x.s, vals: unionVals(o.vals, x.vals)}}, true
				})
				continue
			case *listNode:
				if !x.all || len(x.vals) == 1 {
					put("nl"+x.attr, t, func(old node) (node, bool) {
						o := old.(*notNode).x.(*listNode)
						return &notNode{x: &listNode{attr: x.attr, vals: unionStrings(o.vals, x.vals)}}, true
					})
					continue
				}
			}
			out = append(out, t)
		default:
			out = append(out, t)
		}
	}
	// Existence: implied by a positive leaf, contradicted by IS NULL.
	positive := map[string]bool{}
	for _, t := range out {
		switch t := t.(type) {
		case *existsNode:
		case *cmpNode:
			positive[t.l.attr] = true
			positive[t.r.attr] = true
		default:
			if a := leafAttr(t); a != "" {
				positive[a] = true
			}
		}
	}
	final := out[:0]
	for _, t := range out {
		switch t := t.(type) {
		case *existsNode:
			if positive[t.attr] {
				continue
			}
		case *notNode:
			if e, ok := t.x.(*existsNode); ok && positive[e.attr] {
				return []node{falseNode}
			}
		}
		final = append(final, t)
	}
	return final
}

// mergeOr merges, inside one OR:
//   - IN on the same source: one IN of the union;
//   - 'x' IN list / HAS ANY on the same list: HAS ANY of the union;
//   - NOT IN on the same source: NOT IN of the intersection (De Morgan);
//   - NOT range on the same source: NOT of the intersected range;
//   - NOT HAS ALL on the same list: NOT HAS ALL of the union;
//   - key IN lists: union; NOT key IN lists: NOT IN of the intersection.
func mergeOr(terms []node) []node {
	out := make([]node, 0, len(terms))
	idx := map[string]int{}
	put := func(key string, n node, merge func(old node) (node, bool)) {
		if i, ok := idx[key]; ok {
			if m, ok := merge(out[i]); ok {
				out[i] = m
				return
			}
			out = append(out, n)
			return
		}
		idx[key] = len(out)
		out = append(out, n)
	}
	for _, t := range terms {
		switch t := t.(type) {
		case *keyNode:
			put("k", t, func(old node) (node, bool) {
				o := old.(*keyNode)
				return &keyNode{attr: t.attr, ids: sortedUnique(append(slices.Clone(o.ids), t.ids...))}, true
			})
		case *inNode:
			put("v"+srcKey(t.s), t, func(old node) (node, bool) {
				o := old.(*inNode)
				return &inNode{s: t.s, vals: unionVals(o.vals, t.vals)}, true
			})
		case *listNode:
			if t.all && len(t.vals) > 1 {
				out = append(out, t)
				continue
			}
			put("l"+t.attr, t, func(old node) (node, bool) {
				o := old.(*listNode)
				return &listNode{attr: t.attr, vals: unionStrings(o.vals, t.vals)}, true
			})
		case *notNode:
			switch x := t.x.(type) {
			case *keyNode:
				put("nk", t, func(old node) (node, bool) {
					o := old.(*notNode).x.(*keyNode)
					return &notNode{x: &keyNode{attr: x.attr, ids: intersectSorted(o.ids, x.ids)}}, true
				})
				continue
			case *inNode:
				put("n"+srcKey(x.s), t, func(old node) (node, bool) {
					o := old.(*notNode).x.(*inNode)
					return &notNode{x: &inNode{s: x.s, vals: intersectVals(o.vals, x.vals)}}, true
				})
				continue
			case *rangeNode:
				put("r"+srcKey(x.s), t, func(old node) (node, bool) {
					o := old.(*notNode).x.(*rangeNode)
					m, ok := intersectRanges(o, x)
					if !ok {
						return nil, false
					}
					return &notNode{x: m}, true
				})
				continue
			case *listNode:
				if x.all || len(x.vals) == 1 {
					put("nl"+x.attr, t, func(old node) (node, bool) {
						o := old.(*notNode).x.(*listNode)
						return &notNode{x: &listNode{attr: x.attr, vals: unionStrings(o.vals, x.vals), all: true}}, true
					})
					continue
				}
			}
			out = append(out, t)
		default:
			out = append(out, t)
		}
	}
	return out
}

// simplifyRange folds a range: no bounds is "not NULL", empty is false.
func simplifyRange(r *rangeNode) node {
	// Bounds at the ends of int64 hold for every value.
	if r.lo != nil && !r.lo.rel && r.s.intLike() && r.lo.i == math.MinInt64 {
		r = &rangeNode{s: r.s, hi: r.hi}
	}
	if r.hi != nil && !r.hi.rel && r.s.intLike() && r.hi.i == math.MaxInt64 {
		r = &rangeNode{s: r.s, lo: r.lo}
	}
	if r.lo == nil && r.hi == nil {
		return &existsNode{attr: r.s.attr, typ: r.s.typ}
	}
	if r.lo == nil || r.hi == nil || r.lo.rel != r.hi.rel {
		return r
	}
	if r.s.valueType() == dsl.TypeFloat {
		if r.lo.f > r.hi.f || (r.lo.f == r.hi.f && !(r.lo.incl && r.hi.incl)) {
			return falseNode
		}
		if r.lo.f == r.hi.f {
			return &inNode{s: r.s, vals: []any{r.lo.f}}
		}
		return r
	}
	if r.lo.i > r.hi.i || (r.lo.i == r.hi.i && !(r.lo.incl && r.hi.incl)) {
		return falseNode
	}
	// An integer range of one value is an equality (not for relative bounds:
	// they stay a range relative to now).
	if !r.lo.rel && r.lo.i == r.hi.i {
		return &inNode{s: r.s, vals: []any{r.lo.i}}
	}
	return r
}

// intersectRanges intersects two ranges on the same source; false when a
// side holds bounds of different kinds (absolute and relative to now).
func intersectRanges(a, b *rangeNode) (node, bool) {
	fl := a.s.valueType() == dsl.TypeFloat
	lo, ok1 := tighter(a.lo, b.lo, fl, true)
	hi, ok2 := tighter(a.hi, b.hi, fl, false)
	if !ok1 || !ok2 {
		return nil, false
	}
	return simplifyRange(&rangeNode{s: a.s, lo: lo, hi: hi}), true
}

// tighter picks the tighter of two bounds of one side.
func tighter(a, b *bound, fl, lower bool) (*bound, bool) {
	switch {
	case a == nil:
		return b, true
	case b == nil:
		return a, true
	case a.rel != b.rel:
		return nil, false
	}
	c := cmpBound(a, b, fl)
	if c == 0 {
		if a.incl && !b.incl {
			return b, true
		}
		return a, true
	}
	if (c > 0) == lower {
		return a, true
	}
	return b, true
}

func cmpBound(a, b *bound, fl bool) int {
	if fl {
		switch {
		case a.f < b.f:
			return -1
		case a.f > b.f:
			return 1
		}
		return 0
	}
	return cmpInt64(a.i, b.i)
}

// filterIn keeps the values of in that lie inside r (absolute bounds only).
func filterIn(in *inNode, r *rangeNode) (node, bool) {
	if (r.lo != nil && r.lo.rel) || (r.hi != nil && r.hi.rel) {
		return nil, false
	}
	var vals []any
	for _, v := range in.vals {
		if inRange(v, r) {
			vals = append(vals, v)
		}
	}
	return &inNode{s: in.s, vals: vals}, true
}

func inRange(v any, r *rangeNode) bool {
	switch v := v.(type) {
	case int64:
		return (r.lo == nil || v >= r.lo.i) && (r.hi == nil || v <= r.hi.i)
	case float64:
		okLo := r.lo == nil || v > r.lo.f || (r.lo.incl && v == r.lo.f)
		okHi := r.hi == nil || v < r.hi.f || (r.hi.incl && v == r.hi.f)
		return okLo && okHi
	}
	return false
}

// valEq compares two leaf values (floats by ==, so -0 equals 0).
func valEq(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && fa == fb && !math.IsNaN(fa)
	}
	return a == b
}

func unionVals(a, b []any) []any {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.ContainsFunc(out, func(x any) bool { return valEq(x, v) }) {
			out = append(out, v)
		}
	}
	return out
}

func intersectVals(a, b []any) []any {
	var out []any
	for _, v := range a {
		if slices.ContainsFunc(b, func(x any) bool { return valEq(x, v) }) &&
			!slices.ContainsFunc(out, func(x any) bool { return valEq(x, v) }) {
			out = append(out, v)
		}
	}
	return out
}

func unionStrings(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// intersectSorted intersects two sorted, unique string lists.
func intersectSorted(a, b []string) []string {
	var out []string
	for _, v := range a {
		if _, ok := slices.BinarySearch(b, v); ok {
			out = append(out, v)
		}
	}
	return out
}
