package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/dsl"
)

// PlanEnv is what a bitmap plan is built against.
type PlanEnv struct {
	// Index estimates cardinalities (AND ordering, printing) and resolves
	// static cohort ids; may be nil (then no ordering and no static ids).
	Index *bitmaps.Index
	// Cohort returns a cached bitmap of a cohort's members at the plan's now;
	// nil (or false) means the referenced cohort's plan is inlined.
	Cohort func(name string) (*roaring.Bitmap, bool)
}

// Plan is a bitmap plan of a query at one instant. Safe for concurrent use.
type Plan struct {
	Root bitmaps.Node
	ix   *bitmaps.Index
	set  *Set
	now  time.Time
}

// Plan builds the bitmap plan of q at now: relative times resolved to Unix
// seconds, cohort references taken from env.Cohort or inlined, AND terms
// ordered by estimated cardinality (smallest first).
func (q *Query) Plan(now time.Time, env PlanEnv) *Plan {
	pb := &planBuilder{set: q.set, now: nowSec(now), env: env}
	root := pb.build(q.norm)
	return &Plan{Root: root, ix: env.Index, set: q.set, now: time.Unix(nowSec(now), 0).UTC()}
}

type planBuilder struct {
	set *Set
	now int64
	env PlanEnv
}

// logic plans an n-ary AND (and) or OR: constants fold away (All is AND's
// identity and OR's absorbing element, None the reverse), a single term
// stands alone, and AND terms are ordered by estimated cardinality.
func (pb *planBuilder) logic(nodes []node, and bool) bitmaps.Node {
	identity, absorbing := bitmaps.Node(bitmaps.All{}), bitmaps.Node(bitmaps.None{})
	if !and {
		identity, absorbing = absorbing, identity
	}
	terms := make([]bitmaps.Node, 0, len(nodes))
	for _, t := range nodes {
		p := pb.build(t)
		switch p {
		case absorbing:
			return absorbing
		case identity:
			continue
		}
		terms = append(terms, p)
	}
	switch len(terms) {
	case 0:
		return identity
	case 1:
		return terms[0]
	}
	if !and {
		return &bitmaps.Or{Terms: terms}
	}
	pb.order(terms)
	return &bitmaps.And{Terms: terms}
}

func (pb *planBuilder) build(n node) bitmaps.Node {
	switch n := n.(type) {
	case *constNode:
		if n.v {
			return bitmaps.All{}
		}
		return bitmaps.None{}
	case *andNode:
		return pb.logic(n.terms, true)
	case *orNode:
		return pb.logic(n.terms, false)
	case *notNode:
		switch x := pb.build(n.x).(type) {
		case bitmaps.All:
			return bitmaps.None{}
		case bitmaps.None:
			return bitmaps.All{}
		default:
			return &bitmaps.Not{X: x}
		}
	case *inNode:
		if n.s.days {
			terms := make([]bitmaps.Node, 0, len(n.vals))
			for _, v := range n.vals {
				k := v.(int64)
				p := pb.intRange(&rangeNode{s: n.s, lo: &bound{i: k, incl: true}, hi: &bound{i: k, incl: true}})
				if _, ok := p.(bitmaps.None); !ok {
					terms = append(terms, p)
				}
			}
			switch len(terms) {
			case 0:
				return bitmaps.None{}
			case 1:
				return terms[0]
			}
			return &bitmaps.Or{Terms: terms}
		}
		if len(n.vals) == 1 {
			return &bitmaps.Eq{Field: n.s.attr, Value: n.vals[0]}
		}
		return &bitmaps.In{Field: n.s.attr, Values: slices.Clone(n.vals)}
	case *rangeNode:
		if n.s.valueType() == dsl.TypeFloat {
			r := &bitmaps.Range{Field: n.s.attr}
			if n.lo != nil {
				r.Lo, r.LoIncl = n.lo.f, n.lo.incl
			}
			if n.hi != nil {
				r.Hi, r.HiIncl = n.hi.f, n.hi.incl
			}
			if n.lo == nil && n.hi == nil {
				return &bitmaps.Exists{Field: n.s.attr}
			}
			return r
		}
		return pb.intRange(n)
	case *existsNode:
		return &bitmaps.Exists{Field: n.attr}
	case *listNode:
		if len(n.vals) == 1 {
			return &bitmaps.Eq{Field: n.attr, Value: n.vals[0]}
		}
		return &bitmaps.ListHas{Field: n.attr, Values: slices.Clone(n.vals), All: n.all}
	case *strNode:
		return &bitmaps.StrPred{Field: n.attr, Desc: printNode(n), Fn: strFunc(n)}
	case *cmpNode:
		return pb.scan(n)
	case *refNode:
		if pb.env.Cohort != nil {
			if b, ok := pb.env.Cohort(n.name); ok {
				return &bitmaps.Const{Name: "cohort(" + dsl.Quote(n.name) + ")", B: b}
			}
		}
		t, ok := pb.set.byName[n.name]
		if !ok {
			return bitmaps.None{}
		}
		return pb.build(t.Query.norm)
	case *keyNode:
		b := roaring.New()
		if pb.env.Index != nil {
			for _, id := range n.ids {
				if u, ok := pb.env.Index.Lookup(id); ok {
					b.Add(u)
				}
			}
		}
		name := fmt.Sprintf("%s IN (%d ids)", n.attr, len(n.ids))
		if n.cohort != "" {
			name = fmt.Sprintf("static cohort %s (%d ids)", n.cohort, len(n.ids))
		}
		return &bitmaps.Const{Name: name, B: b}
	}
	return bitmaps.None{}
}

// intRange resolves an int-like range at now.
func (pb *planBuilder) intRange(n *rangeNode) bitmaps.Node {
	b, ok := resolveInt(n, pb.now)
	if !ok {
		return bitmaps.None{}
	}
	if !b.hasLo && !b.hasHi {
		return &bitmaps.Exists{Field: n.s.attr}
	}
	if b.hasLo && b.hasHi && b.lo == b.hi {
		return &bitmaps.Eq{Field: n.s.attr, Value: b.lo}
	}
	r := &bitmaps.Range{Field: n.s.attr}
	if b.hasLo {
		r.Lo, r.LoIncl = b.lo, true
	}
	if b.hasHi {
		r.Hi, r.HiIncl = b.hi, true
	}
	if n.s.typ == dsl.TypeTimestamp {
		// Same set, easier to read: ts >= 12:00:01 prints as ts > 12:00:00.
		if b.hasLo && b.lo%60 != 0 && (b.lo-1)%60 == 0 {
			r.Lo, r.LoIncl = b.lo-1, false
		}
		if b.hasHi && b.hi%60 != 0 && (b.hi+1)%60 == 0 {
			r.Hi, r.HiIncl = b.hi+1, false
		}
	}
	return r
}

// strFunc is the per-value test of a string leaf.
func strFunc(n *strNode) func(string) bool {
	pat := n.pat
	switch n.op {
	case dsl.OpContains:
		return func(s string) bool { return strings.Contains(s, pat) }
	case dsl.OpStartsWith:
		return func(s string) bool { return strings.HasPrefix(s, pat) }
	case dsl.OpEndsWith:
		return func(s string) bool { return strings.HasSuffix(s, pat) }
	}
	return n.re.MatchString
}

// scan builds the per-user test of attribute OP attribute.
func (pb *planBuilder) scan(n *cmpNode) bitmaps.Node {
	now := pb.now
	l, r, op := n.l, n.r, n.op
	return &bitmaps.Scan{
		Fields: []string{l.attr, r.attr},
		Desc:   printNode(n),
		Fn: func(vals []any) bool {
			return compareValues(op, l, r, vals[0], vals[1], now)
		},
	}
}

// compareValues evaluates `l OP r` on one user's values (nil = NULL).
func compareValues(op dsl.CmpOp, l, r src, a, b any, now int64) bool {
	if a == nil || b == nil {
		return false
	}
	if l.days {
		a = daysSince(now, a.(int64))
	}
	if r.days {
		b = daysSince(now, b.(int64))
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && cmpSatisfies(op, strings.Compare(x, y))
	case bool:
		y, ok := b.(bool)
		if !ok {
			return false
		}
		c := 1
		if x == y {
			c = 0
		}
		return cmpSatisfies(op, c)
	}
	c, ok := cmpNum(a, b)
	return ok && cmpSatisfies(op, c)
}

// order sorts AND terms by estimated cardinality, smallest first.
func (pb *planBuilder) order(terms []bitmaps.Node) {
	ix := pb.env.Index
	if ix == nil {
		return
	}
	est := make(map[bitmaps.Node]uint64, len(terms))
	for _, t := range terms {
		est[t] = ix.Estimate(t)
	}
	slices.SortStableFunc(terms, func(a, b bitmaps.Node) int { return cmp.Compare(est[a], est[b]) })
}

// Now returns the instant the plan was built for (whole seconds, UTC).
func (p *Plan) Now() time.Time { return p.now }

// String prints the operator tree with estimated cardinalities:
//
//	AND ~10
//	├─ engagement_tier = 'champion' ~120
//	└─ last_visit_at >= 2026-01-06T12:00:01Z ~900
func (p *Plan) String() string {
	var b strings.Builder
	p.print(&b, p.Root, "", "")
	return strings.TrimSuffix(b.String(), "\n")
}

func (p *Plan) print(b *strings.Builder, n bitmaps.Node, first, rest string) {
	b.WriteString(first)
	b.WriteString(p.describe(n))
	if p.ix != nil {
		b.WriteString(" ~")
		b.WriteString(strconv.FormatUint(p.ix.Estimate(n), 10))
	}
	b.WriteByte('\n')
	var kids []bitmaps.Node
	switch n := n.(type) {
	case *bitmaps.And:
		kids = n.Terms
	case *bitmaps.Or:
		kids = n.Terms
	case *bitmaps.Not:
		kids = []bitmaps.Node{n.X}
	}
	for i, k := range kids {
		if i == len(kids)-1 {
			p.print(b, k, rest+"└─ ", rest+"   ")
		} else {
			p.print(b, k, rest+"├─ ", rest+"│  ")
		}
	}
}

func (p *Plan) kind(field string) bitmaps.Kind {
	if p.set != nil {
		for _, f := range p.set.schema {
			if f.Name == field {
				return f.Kind
			}
		}
	}
	return bitmaps.KindString
}

// planValue prints a value of the plan (times as RFC 3339).
func (p *Plan) planValue(field string, v any) string {
	switch v := v.(type) {
	case string:
		return dsl.Quote(v)
	case int64:
		if p.kind(field) == bitmaps.KindTime {
			return formatTime(v)
		}
		return strconv.FormatInt(v, 10)
	case float64:
		return formatFloat(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

const maxPrintedValues = 10

func (p *Plan) describe(n bitmaps.Node) string {
	switch n := n.(type) {
	case bitmaps.All:
		return "ALL"
	case bitmaps.None:
		return "NONE"
	case *bitmaps.And:
		return "AND"
	case *bitmaps.Or:
		return "OR"
	case *bitmaps.Not:
		return "NOT"
	case *bitmaps.Eq:
		if p.kind(n.Field) == bitmaps.KindStringList {
			return p.planValue(n.Field, n.Value) + " IN " + n.Field
		}
		return n.Field + " = " + p.planValue(n.Field, n.Value)
	case *bitmaps.In:
		vals := make([]string, 0, min(len(n.Values), maxPrintedValues))
		for i, v := range n.Values {
			if i == maxPrintedValues {
				vals = append(vals, fmt.Sprintf("… %d values", len(n.Values)))
				break
			}
			vals = append(vals, p.planValue(n.Field, v))
		}
		return n.Field + " IN (" + strings.Join(vals, ", ") + ")"
	case *bitmaps.Range:
		var parts []string
		if n.Lo != nil {
			op := " > "
			if n.LoIncl {
				op = " >= "
			}
			parts = append(parts, n.Field+op+p.planValue(n.Field, n.Lo))
		}
		if n.Hi != nil {
			op := " < "
			if n.HiIncl {
				op = " <= "
			}
			parts = append(parts, n.Field+op+p.planValue(n.Field, n.Hi))
		}
		return strings.Join(parts, " AND ")
	case *bitmaps.Exists:
		return n.Field + " IS NOT NULL"
	case *bitmaps.ListHas:
		vals := make([]string, len(n.Values))
		for i, v := range n.Values {
			vals[i] = dsl.Quote(v)
		}
		if n.All {
			return n.Field + " HAS ALL (" + strings.Join(vals, ", ") + ")"
		}
		return n.Field + " HAS ANY (" + strings.Join(vals, ", ") + ")"
	case *bitmaps.StrPred:
		return n.Desc
	case *bitmaps.Scan:
		return "SCAN " + n.Desc
	case *bitmaps.Const:
		return n.Name
	}
	return fmt.Sprintf("%T", n)
}
