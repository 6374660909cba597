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
	terms = mergeTerms(terms, and)
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

// srcKey groups leaves by source.
func srcKey(s src) string {
	if s.days {
		return "d:" + s.attr
	}
	return "a:" + s.attr
}

// mergeKey is the group a term merges with inside an AND (and) or an OR;
// "" when it merges with nothing. The rules, inside one AND:
//   - IN on the same source: intersection of the value sets;
//   - ranges on the same source: intersection of the bounds;
//   - IN with a range on the same source: the values inside the range;
//   - NOT IN on the same source: NOT IN of the union (De Morgan);
//   - NOT 'x' IN list / NOT HAS ANY on the same list: NOT HAS ANY of the union;
//   - HAS ALL / 'x' IN list on the same list: HAS ALL of the union;
//   - key IN lists: intersection; NOT key IN lists: NOT IN of the union;
//
// and inside one OR:
//   - IN on the same source: one IN of the union;
//   - 'x' IN list / HAS ANY on the same list: HAS ANY of the union;
//   - NOT IN on the same source: NOT IN of the intersection (De Morgan);
//   - NOT range on the same source: NOT of the intersected range;
//   - NOT HAS ALL / NOT 'x' IN list on the same list: NOT HAS ALL of the union;
//   - key IN lists: union; NOT key IN lists: NOT IN of the intersection.
func mergeKey(t node, and bool) string {
	switch t := t.(type) {
	case *keyNode:
		return "k"
	case *inNode:
		return "v" + srcKey(t.s)
	case *rangeNode:
		if and {
			return "v" + srcKey(t.s)
		}
	case *listNode:
		if len(t.vals) == 1 || t.all == and {
			return "l" + t.attr
		}
	case *notNode:
		switch x := t.x.(type) {
		case *keyNode:
			return "nk"
		case *inNode:
			return "n" + srcKey(x.s)
		case *rangeNode:
			if !and {
				return "nr" + srcKey(x.s)
			}
		case *listNode:
			if len(x.vals) == 1 || x.all != and {
				return "nl" + x.attr
			}
		}
	}
	return ""
}

// mergeTerms merges the terms of one AND (and) or OR by mergeKey; a merged
// group takes the place of its first member.
func mergeTerms(terms []node, and bool) []node {
	keys := make([]string, 0, len(terms))
	out := make([]node, 0, len(terms))
	groups := map[string][]node{}
	for _, t := range terms {
		k := mergeKey(t, and)
		if k != "" {
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
				out = append(out, nil)
			}
			groups[k] = append(groups[k], t)
			continue
		}
		keys = append(keys, "")
		out = append(out, t)
	}
	final := make([]node, 0, len(out))
	for i, t := range out {
		if t != nil {
			final = append(final, t)
			continue
		}
		final = append(final, combine(groups[keys[i]], and)...)
	}
	if and {
		final = existence(subtract(final))
	}
	return final
}

// subtract folds `x IN A AND NOT x IN B` into `x IN A \ B` (likewise for
// key lists) inside an AND: a member of A is not NULL, so the negation only
// removes B's values.
func subtract(terms []node) []node {
	idx := map[string]int{}
	for i, t := range terms {
		switch t := t.(type) {
		case *inNode:
			idx["v"+srcKey(t.s)] = i
		case *keyNode:
			idx["k"] = i
		}
	}
	if len(idx) == 0 {
		return terms
	}
	out := slices.Clone(terms)
	drop := make([]bool, len(out))
	for i, t := range out {
		n, ok := t.(*notNode)
		if !ok {
			continue
		}
		switch x := n.x.(type) {
		case *inNode:
			j, ok := idx["v"+srcKey(x.s)]
			if !ok {
				continue
			}
			gone := make(map[any]bool, len(x.vals))
			for _, v := range x.vals {
				gone[v] = true
			}
			in := out[j].(*inNode)
			out[j] = &inNode{s: in.s, vals: slices.DeleteFunc(slices.Clone(in.vals), func(v any) bool { return gone[v] })}
			drop[i] = true
		case *keyNode:
			j, ok := idx["k"]
			if !ok {
				continue
			}
			gone := make(map[string]bool, len(x.ids))
			for _, v := range x.ids {
				gone[v] = true
			}
			k := out[j].(*keyNode)
			out[j] = &keyNode{attr: k.attr, ids: slices.DeleteFunc(slices.Clone(k.ids), func(v string) bool { return gone[v] })}
			drop[i] = true
		}
	}
	final := out[:0]
	for i, t := range out {
		if !drop[i] {
			final = append(final, t)
		}
	}
	return final
}

// combine merges one group of mergeTerms.
func combine(g []node, and bool) []node {
	if len(g) == 1 {
		return g
	}
	switch first := g[0].(type) {
	case *keyNode:
		lists := make([][]string, len(g))
		for i, t := range g {
			lists[i] = t.(*keyNode).ids
		}
		return []node{&keyNode{attr: first.attr, ids: setOp(lists, and)}}
	case *listNode:
		var vals []string
		for _, t := range g {
			vals = append(vals, t.(*listNode).vals...)
		}
		return []node{&listNode{attr: first.attr, vals: uniqueStrings(vals), all: and}}
	case *inNode, *rangeNode:
		return combineValues(g, and)
	case *notNode:
		switch x := first.x.(type) {
		case *keyNode:
			lists := make([][]string, len(g))
			for i, t := range g {
				lists[i] = t.(*notNode).x.(*keyNode).ids
			}
			return []node{&notNode{x: &keyNode{attr: x.attr, ids: setOp(lists, !and)}}}
		case *inNode:
			lists := make([][]any, len(g))
			for i, t := range g {
				lists[i] = t.(*notNode).x.(*inNode).vals
			}
			return []node{&notNode{x: &inNode{s: x.s, vals: valSetOp(lists, !and)}}}
		case *rangeNode:
			var rs []node
			for _, t := range g {
				rs = append(rs, t.(*notNode).x)
			}
			var out []node
			for _, r := range intersectAll(rs) {
				out = append(out, &notNode{x: r})
			}
			return out
		case *listNode:
			var vals []string
			for _, t := range g {
				vals = append(vals, t.(*notNode).x.(*listNode).vals...)
			}
			return []node{&notNode{x: &listNode{attr: x.attr, vals: uniqueStrings(vals), all: !and}}}
		}
	}
	return g
}

// combineValues merges IN lists (and, in an AND, ranges) on one source.
func combineValues(g []node, and bool) []node {
	var ins [][]any
	var ranges []node
	var s src
	for _, t := range g {
		switch t := t.(type) {
		case *inNode:
			ins = append(ins, t.vals)
			s = t.s
		case *rangeNode:
			ranges = append(ranges, t)
		}
	}
	if !and {
		return []node{&inNode{s: s, vals: valSetOp(ins, false)}}
	}
	ranges = intersectAll(ranges)
	if len(ins) == 0 {
		return ranges
	}
	in := &inNode{s: s, vals: valSetOp(ins, true)}
	out := []node{in}
	for _, r := range ranges {
		rn, ok := r.(*rangeNode)
		if !ok {
			out = append(out, r) // a folded range (false / exists)
			continue
		}
		if f, ok := filterIn(in, rn); ok {
			in = f.(*inNode)
			out[0] = in
			continue
		}
		out = append(out, r)
	}
	return out
}

// intersectAll intersects ranges on one source as far as their bounds are
// comparable (absolute and relative-to-now bounds are kept apart).
func intersectAll(rs []node) []node {
	var out []node
	for _, r := range rs {
		merged := false
		for i, o := range out {
			or, ok1 := o.(*rangeNode)
			rr, ok2 := r.(*rangeNode)
			if !ok1 || !ok2 {
				continue
			}
			if m, ok := intersectRanges(or, rr); ok {
				out[i] = m
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, r)
		}
	}
	return out
}

// existence drops `x IS NOT NULL` implied by another positive test on x in
// an AND, and turns `x IS NULL` with a positive test on x into false.
func existence(terms []node) []node {
	positive := map[string]bool{}
	for _, t := range terms {
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
	out := terms[:0]
	for _, t := range terms {
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
		out = append(out, t)
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

// valSetOp returns the intersection (and) or union of value lists, in
// order of first appearance. Floats compare by == (so -0 equals 0).
func valSetOp(lists [][]any, and bool) []any {
	count := map[any]int{}
	var order []any
	for _, l := range lists {
		seen := map[any]bool{}
		for _, v := range l {
			if seen[v] {
				continue
			}
			seen[v] = true
			if count[v] == 0 {
				order = append(order, v)
			}
			count[v]++
		}
	}
	out := make([]any, 0, len(order))
	for _, v := range order {
		if !and || count[v] == len(lists) {
			out = append(out, v)
		}
	}
	return out
}

// setOp returns the sorted intersection (and) or union of string lists.
func setOp(lists [][]string, and bool) []string {
	count := map[string]int{}
	for _, l := range lists {
		for _, v := range uniqueStrings(l) {
			count[v]++
		}
	}
	out := make([]string, 0, len(count))
	for v, c := range count {
		if !and || c == len(lists) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// uniqueStrings drops repeated strings, keeping the first of each.
func uniqueStrings(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
