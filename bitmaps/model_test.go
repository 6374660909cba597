package bitmaps

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// The naive model: a map of user_id to row, evaluated user by user with the
// spec's semantics, written independently of the index (numbers compare
// exactly through math/big).

type model struct {
	schema Schema
	rows   map[string]Row // stored form: nil, string, int64, float64, bool, []string (non-empty)
}

func newModel(s Schema) *model { return &model{schema: s, rows: map[string]Row{}} }

func (m *model) fieldIndex(name string) int {
	for i, f := range m.schema {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// stored converts a value as the index stores it (the model's own rules).
func modelStored(f Field, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		if len(x) == 0 {
			return nil
		}
		return slices.Clone(x)
	case float64:
		if x == 0 {
			return 0.0
		}
	}
	return v
}

func (m *model) upsert(user string, row Row) {
	r := make(Row, len(row))
	for i, v := range row {
		r[i] = modelStored(m.schema[i], v)
	}
	m.rows[user] = r
}

func (m *model) set(user, field string, v any) {
	r, ok := m.rows[user]
	if !ok {
		r = make(Row, len(m.schema))
		m.rows[user] = r
	}
	i := m.fieldIndex(field)
	r[i] = modelStored(m.schema[i], v)
}

func (m *model) sortedUsers() []string {
	us := make([]string, 0, len(m.rows))
	for u := range m.rows {
		us = append(us, u)
	}
	slices.Sort(us)
	return us
}

// bigOf returns an exact big.Float for an int64 or float64 (nil otherwise).
func bigOf(v any) *big.Float {
	switch x := v.(type) {
	case int64:
		return new(big.Float).SetInt64(x)
	case int:
		return new(big.Float).SetInt64(int64(x))
	case float64:
		if math.IsNaN(x) {
			return nil
		}
		return new(big.Float).SetFloat64(x)
	}
	return nil
}

// match evaluates a plan for one user; ids maps users to their index ids for
// Const nodes.
func (m *model) match(n Node, user string, id uint32) bool {
	row := m.rows[user]
	val := func(field string) (Field, any, bool) {
		i := m.fieldIndex(field)
		if i < 0 {
			return Field{}, nil, false
		}
		return m.schema[i], row[i], row[i] != nil
	}
	eqOne := func(f Field, x, want any) bool {
		switch f.Kind {
		case KindString:
			s, ok := want.(string)
			return ok && x.(string) == s
		case KindStringList:
			s, ok := want.(string)
			return ok && slices.Contains(x.([]string), s)
		case KindBool:
			b, ok := want.(bool)
			return ok && x.(bool) == b
		default:
			a, b := bigOf(x), bigOf(want)
			return a != nil && b != nil && a.Cmp(b) == 0
		}
	}
	switch n := n.(type) {
	case All:
		return true
	case None:
		return false
	case *Eq:
		f, x, ok := val(n.Field)
		return ok && eqOne(f, x, n.Value)
	case *In:
		f, x, ok := val(n.Field)
		if !ok {
			return false
		}
		for _, v := range n.Values {
			if eqOne(f, x, v) {
				return true
			}
		}
		return false
	case *Range:
		f, x, ok := val(n.Field)
		if !ok || !f.Kind.numeric() {
			return false
		}
		a := bigOf(x)
		if n.Lo != nil {
			lo := bigOf(n.Lo)
			if lo == nil {
				return false
			}
			if c := a.Cmp(lo); c < 0 || (c == 0 && !n.LoIncl) {
				return false
			}
		}
		if n.Hi != nil {
			hi := bigOf(n.Hi)
			if hi == nil {
				return false
			}
			if c := a.Cmp(hi); c > 0 || (c == 0 && !n.HiIncl) {
				return false
			}
		}
		return true
	case *Exists:
		_, _, ok := val(n.Field)
		return ok
	case *ListHas:
		f, x, ok := val(n.Field)
		if !ok || f.Kind != KindStringList {
			return false
		}
		l := x.([]string)
		for _, v := range n.Values {
			has := slices.Contains(l, v)
			if has && !n.All {
				return true
			}
			if !has && n.All {
				return false
			}
		}
		return n.All
	case *StrPred:
		f, x, ok := val(n.Field)
		return ok && f.Kind == KindString && n.Fn(x.(string))
	case *Scan:
		vals := make([]any, len(n.Fields))
		for i, name := range n.Fields {
			_, vals[i], _ = val(name)
		}
		return n.Fn(vals)
	case *And:
		for _, t := range n.Terms {
			if !m.match(t, user, id) {
				return false
			}
		}
		return true
	case *Or:
		for _, t := range n.Terms {
			if m.match(t, user, id) {
				return true
			}
		}
		return false
	case *Not:
		return !m.match(n.X, user, id)
	case *Const:
		return n.B.Contains(id)
	}
	panic(fmt.Sprintf("model: unknown node %T", n))
}

// ---- random data and plans ----

var testSchema = Schema{
	{"tier", KindString},
	{"name", KindString},
	{"visits", KindInt},
	{"score", KindFloat},
	{"vip", KindBool},
	{"seen", KindTime},
	{"tags", KindStringList},
	{"days", KindStringList},
}

var (
	tierPool  = []string{"champion", "loyal", "casual", "dormant", "new", "", "Loyal", "ünïcødé", "日本語", "a\x00b"}
	namePool  = []string{"alice", "bob", "carol", "dave", "eve", "frank", "alicia", "al", "Bob", "ébène", "zoë", "x"}
	tagPool   = []string{"cyclist", "runner", "swimmer", "reader", "gamer", "", "ß", "🚲"}
	dayPool   = []string{"Monday", "Tuesday", "Saturday", "Sunday"}
	intPool   = []int64{math.MinInt64, math.MinInt64 + 1, -1 << 53, -1000, -2, -1, 0, 1, 2, 3, 7, 42, 1000, 1 << 53, 1<<53 + 1, math.MaxInt64 - 1, math.MaxInt64}
	floatPool = []float64{math.Copysign(0, -1), 0, 5e-324, -5e-324, 1e-300, 0.1, 0.5, 1, 1.5, 2, 2.5, -1, -0.5, -1.5, 1e300, -1e300, math.MaxFloat64, -math.MaxFloat64, 9007199254740993, 9.223372036854776e18, 3.14159}
	timePool  = []int64{0, -86400, 1700000000, 1700000001, 1700086400, 1767225600, 1767225601, 253402300799, math.MinInt64, math.MaxInt64}
)

type gen struct{ r *rand.Rand }

func (g gen) pick(n int) int { return g.r.IntN(n) }

func pickOf[T any](g gen, pool []T) T { return pool[g.pick(len(pool))] }

func (g gen) intVal() int64 {
	if g.pick(4) == 0 {
		return g.r.Int64N(200) - 100
	}
	return pickOf(g, intPool)
}

func (g gen) floatVal() float64 {
	if g.pick(4) == 0 {
		return float64(g.r.IntN(40)-20) / 4
	}
	return pickOf(g, floatPool)
}

func (g gen) timeVal() int64 {
	if g.pick(3) == 0 {
		return 1700000000 + g.r.Int64N(1000)
	}
	return pickOf(g, timePool)
}

func (g gen) list(pool []string) []string {
	n := g.pick(4)
	if n == 0 && g.pick(2) == 0 {
		return []string{} // empty list: NULL
	}
	l := make([]string, n)
	for i := range l {
		l[i] = pickOf(g, pool)
	}
	return l
}

// value returns a random value (or nil) for f.
func (g gen) value(f Field) any {
	if g.pick(5) == 0 {
		return nil
	}
	switch f.Name {
	case "tier":
		return pickOf(g, tierPool)
	case "name":
		return pickOf(g, namePool)
	case "visits":
		return g.intVal()
	case "score":
		return g.floatVal()
	case "vip":
		return g.pick(2) == 0
	case "seen":
		return g.timeVal()
	case "tags":
		return g.list(tagPool)
	case "days":
		return g.list(dayPool)
	}
	panic(f.Name)
}

func (g gen) row(s Schema) Row {
	r := make(Row, len(s))
	for i, f := range s {
		r[i] = g.value(f)
	}
	return r
}

func (g gen) userID() string {
	prefixes := []string{"u", "user-", "U", "ü", "u1", ""}
	return fmt.Sprintf("%s%d", pickOf(g, prefixes), g.r.IntN(400))
}

// eqValue returns a comparison value for a field: usually from its pool,
// sometimes of the other numeric type or of a wrong type.
func (g gen) eqValue(f Field) any {
	if g.pick(15) == 0 {
		return pickOf(g, []any{"x", true, int64(1), 1.5, nil})
	}
	switch f.Kind {
	case KindInt:
		v := g.intVal()
		if g.pick(3) == 0 {
			return float64(v) // exact or rounded
		}
		if g.pick(8) == 0 {
			return float64(v) + 0.5
		}
		return v
	case KindTime:
		return g.timeVal()
	case KindFloat:
		v := g.floatVal()
		if g.pick(4) == 0 && v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v)
		}
		if g.pick(10) == 0 {
			return pickOf(g, intPool)
		}
		return v
	case KindBool:
		return g.pick(2) == 0
	}
	v := g.value(f)
	switch x := v.(type) {
	case string:
		return x
	case []string:
		if len(x) > 0 {
			return x[0]
		}
	}
	if f.Kind == KindStringList && f.Name == "days" {
		return pickOf(g, dayPool)
	}
	if f.Kind == KindStringList {
		return pickOf(g, tagPool)
	}
	return pickOf(g, tierPool)
}

func (g gen) bound(f Field) any {
	if g.pick(12) == 0 {
		return math.NaN()
	}
	if g.pick(12) == 0 {
		return pickOf(g, []any{math.Inf(1), math.Inf(-1), 1e19, -1e19})
	}
	v := g.eqValue(f)
	switch v.(type) {
	case int64, float64:
		return v
	}
	return g.intVal()
}

var predFns = []struct {
	desc string
	fn   func(string) bool
}{
	{"CONTAINS 'o'", func(s string) bool { return strings.Contains(s, "o") }},
	{"STARTS WITH 'al'", func(s string) bool { return strings.HasPrefix(s, "al") }},
	{"ENDS WITH 'e'", func(s string) bool { return strings.HasSuffix(s, "e") }},
	{"MATCHES '^$'", func(s string) bool { return s == "" }},
	{"never", func(string) bool { return false }},
}

func (g gen) field(kinds ...Kind) Field {
	var fs []Field
	for _, f := range testSchema {
		if len(kinds) == 0 || slices.Contains(kinds, f.Kind) {
			fs = append(fs, f)
		}
	}
	return pickOf(g, fs)
}

func (g gen) leaf(ids []uint32, maxID uint32) Node {
	switch g.pick(13) {
	case 0:
		if g.pick(2) == 0 {
			return All{}
		}
		return None{}
	case 1, 2:
		f := g.field()
		return &Eq{Field: f.Name, Value: g.eqValue(f)}
	case 3:
		f := g.field()
		vals := make([]any, g.pick(4))
		for i := range vals {
			vals[i] = g.eqValue(f)
		}
		return &In{Field: f.Name, Values: vals}
	case 4, 5, 6:
		f := g.field(KindInt, KindFloat, KindTime)
		r := &Range{Field: f.Name, LoIncl: g.pick(2) == 0, HiIncl: g.pick(2) == 0}
		if g.pick(4) != 0 {
			r.Lo = g.bound(f)
		}
		if g.pick(4) != 0 {
			r.Hi = g.bound(f)
		}
		return r
	case 7:
		return &Exists{Field: g.field().Name}
	case 8:
		f := g.field(KindStringList)
		pool := tagPool
		if f.Name == "days" {
			pool = dayPool
		}
		vals := make([]string, g.pick(4))
		for i := range vals {
			vals[i] = pickOf(g, pool)
		}
		return &ListHas{Field: f.Name, Values: vals, All: g.pick(2) == 0}
	case 9:
		p := pickOf(g, predFns)
		return &StrPred{Field: g.field(KindString).Name, Desc: p.desc, Fn: p.fn}
	case 10:
		// attribute compared with attribute: visits > score (both non-NULL)
		return &Scan{Fields: []string{"visits", "score", "tier"}, Desc: "visits > score", Fn: func(v []any) bool {
			if v[0] == nil || v[1] == nil {
				return false
			}
			return bigOf(v[0]).Cmp(bigOf(v[1])) > 0
		}}
	case 11:
		b := roaring.New()
		for _, id := range ids {
			if g.pick(3) == 0 {
				b.Add(id)
			}
		}
		for range 3 {
			b.Add(uint32(g.pick(int(maxID) + 10))) // dead or unknown ids too
		}
		return &Const{Name: "c", B: b}
	default:
		f := g.field(KindString)
		return &Eq{Field: f.Name, Value: pickOf(g, tierPool)}
	}
}

func (g gen) plan(depth int, ids []uint32, maxID uint32) Node {
	if depth == 0 || g.pick(3) == 0 {
		return g.leaf(ids, maxID)
	}
	switch g.pick(4) {
	case 0:
		return &Not{X: g.plan(depth-1, ids, maxID)}
	case 1:
		terms := make([]Node, g.pick(4))
		for i := range terms {
			terms[i] = g.plan(depth-1, ids, maxID)
		}
		return &Or{Terms: terms}
	default:
		terms := make([]Node, 1+g.pick(4))
		for i := range terms {
			terms[i] = g.plan(depth-1, ids, maxID)
		}
		return &And{Terms: terms}
	}
}
