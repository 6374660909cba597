package compilertest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/cohortd/cohortd/dsl"
)

// Gen generates random, type-correct cohort expressions over a catalog. The
// zero MaxDepth means 3. Gen is not safe for concurrent use (it holds no
// state, but the *rand.Rand passed to it is not).
type Gen struct {
	Attrs    []*dsl.Attribute // the catalog
	Derived  []*dsl.Derived   // optional: derived names, used like attributes / predicates
	Cohorts  []string         // optional: names for cohort('x')
	Now      time.Time        // instants cluster around it
	MaxDepth int
}

// RandomExpr returns a random valid expression over attrs (timestamps
// around now).
func RandomExpr(r *rand.Rand, attrs []*dsl.Attribute, now time.Time) string {
	g := &Gen{Attrs: attrs, Now: now}
	return g.Expr(r)
}

// subject is something a predicate can test.
type subject struct {
	text   string
	typ    dsl.Type
	ident  bool // a bare identifier (IS NULL, CONTAINS, ... allowed)
	key    bool
	values []string // allowed values (string attributes with values:)
}

func (g *Gen) subjects() []subject {
	var out []subject
	byName := map[string]*dsl.Attribute{}
	for _, a := range g.Attrs {
		byName[a.Name] = a
		out = append(out, subject{text: a.Name, typ: a.Type, ident: true, key: a.Key, values: a.Values})
		if a.Type == dsl.TypeTimestamp {
			out = append(out, subject{text: "days_since(" + a.Name + ")", typ: dsl.TypeInt})
		}
	}
	for _, d := range g.Derived {
		if d.Expr == nil {
			continue
		}
		t, ok := dsl.Unparen(d.Expr).(*dsl.Truthy)
		if !ok {
			continue
		}
		switch v := t.Value.(type) {
		case *dsl.Call:
			if v.Kind == dsl.CallDaysSince {
				out = append(out, subject{text: d.Name, typ: dsl.TypeInt, ident: true})
			}
		case *dsl.Ident:
			if a := byName[v.Name]; a != nil && !a.Key {
				out = append(out, subject{text: d.Name, typ: a.Type, ident: true, values: a.Values})
			}
		}
	}
	return out
}

func (g *Gen) predicates() []string {
	var out []string
	for _, d := range g.Derived {
		if d.Expr == nil {
			continue
		}
		if _, ok := dsl.Unparen(d.Expr).(*dsl.Truthy); !ok {
			out = append(out, d.Name)
		}
	}
	return out
}

// Expr returns one random expression.
func (g *Gen) Expr(r *rand.Rand) string {
	depth := g.MaxDepth
	if depth == 0 {
		depth = 3
	}
	return g.expr(r, g.subjects(), depth)
}

func (g *Gen) expr(r *rand.Rand, subs []subject, depth int) string {
	if depth > 0 && r.IntN(3) > 0 {
		switch r.IntN(6) {
		case 0, 1:
			return g.logic(r, subs, depth, []string{" AND ", " and ", " && "})
		case 2, 3:
			return g.logic(r, subs, depth, []string{" OR ", " or ", " || "})
		case 4:
			return pick(r, "NOT ", "not ", "!") + g.unary(r, subs, depth-1)
		default:
			return "(" + g.expr(r, subs, depth-1) + ")"
		}
	}
	return g.leaf(r, subs)
}

func (g *Gen) unary(r *rand.Rand, subs []subject, depth int) string {
	e := g.expr(r, subs, depth)
	return "(" + e + ")"
}

func (g *Gen) logic(r *rand.Rand, subs []subject, depth int, ops []string) string {
	n := 2 + r.IntN(2)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.unary(r, subs, depth-1)
	}
	return strings.Join(parts, ops[r.IntN(len(ops))])
}

func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }

var cmpOps = []string{"==", "=", "!=", "<>", "<", "<=", ">", ">="}

func (g *Gen) leaf(r *rand.Rand, subs []subject) string {
	switch r.IntN(40) {
	case 0:
		return pick(r, "true", "false", "TRUE", "False")
	case 1:
		if len(g.Cohorts) > 0 {
			return "cohort(" + dsl.Quote(g.Cohorts[r.IntN(len(g.Cohorts))]) + ")"
		}
	case 2:
		// literal against literal (folds to a constant)
		return pick(r, "1 < 2.5", "'a' == 'a'", "'a' != 'b'", "3 >= 3", "-0.0 == 0", "true == false",
			"2 IN (1, 2)", "7.5 BETWEEN 7 AND 8", "now() > now() - 1d")
	case 3:
		if p := g.predicates(); len(p) > 0 {
			return p[r.IntN(len(p))]
		}
	}
	s := subs[r.IntN(len(subs))]
	switch s.typ {
	case dsl.TypeString:
		return g.stringLeaf(r, s, subs)
	case dsl.TypeInt, dsl.TypeFloat:
		return g.numLeaf(r, s, subs)
	case dsl.TypeBool:
		return g.boolLeaf(r, s, subs)
	case dsl.TypeTimestamp:
		return g.timeLeaf(r, s, subs)
	case dsl.TypeStringList:
		return g.listLeaf(r, s)
	}
	return "true"
}

func isNull(r *rand.Rand, s subject) string {
	return s.text + pick(r, " IS NULL", " IS NOT NULL", " is null", " is not null")
}

// other returns another subject of a compatible type, if any.
func other(r *rand.Rand, subs []subject, ok func(subject) bool) (subject, bool) {
	var c []subject
	for _, s := range subs {
		if ok(s) && !s.key {
			c = append(c, s)
		}
	}
	if len(c) == 0 {
		return subject{}, false
	}
	return c[r.IntN(len(c))], true
}

// Strings exercise quoting, unicode, prefixes and bytes order.
var Strings = []string{"", "a", "A", "ab", "abc", "b", "ba", "é", "日本", "a'b", `back\slash`, "x y", "-", "mob", "mobile", "Saturday", "a\"b", "ü-ber", "a\nb", "tab\tx"}

// Patterns are regular expressions (RE2) for MATCHES.
var Patterns = []string{"^a", "b$", "(?i)^A", "é", "^$", ".", "^.$", "a|b", "[0-9]", "^mob", "(?i)SAT", `\\`, "日",
	"a.b", "^a.*b$", `\Qa.b`, "(?s)a.b", "(?i)sat|^x", `\bmob`, `^\p{L}+$`}

func (g *Gen) strLit(r *rand.Rand, s subject) string {
	if len(s.values) > 0 {
		return dsl.Quote(s.values[r.IntN(len(s.values))])
	}
	return dsl.Quote(Strings[r.IntN(len(Strings))])
}

func (g *Gen) stringLeaf(r *rand.Rand, s subject, subs []subject) string {
	if s.key {
		switch r.IntN(3) {
		case 0:
			return s.text + " == " + dsl.Quote(fmt.Sprintf("u%03d", r.IntN(40)))
		case 1:
			return s.text + " IN (" + dsl.Quote(fmt.Sprintf("u%03d", r.IntN(40))) + ", " + dsl.Quote(fmt.Sprintf("u%03d", r.IntN(40))) + ")"
		}
		return s.text + " != " + dsl.Quote(fmt.Sprintf("u%03d", r.IntN(40)))
	}
	switch r.IntN(12) {
	case 0:
		return s.text + " " + pick(r, "==", "=", "!=", "<>") + " " + g.strLit(r, s)
	case 1:
		return g.strLit(r, s) + " " + pick(r, "==", "!=") + " " + s.text
	case 2, 3:
		n := 1 + r.IntN(4)
		lits := make([]string, n)
		for i := range lits {
			lits[i] = g.strLit(r, s)
		}
		return s.text + pick(r, " IN (", " NOT IN (", " not in (") + strings.Join(lits, ", ") + ")"
	case 4:
		if !s.ident {
			break
		}
		return s.text + pick(r, " CONTAINS ", " NOT CONTAINS ") + dsl.Quote(Strings[r.IntN(len(Strings))])
	case 5:
		if !s.ident {
			break
		}
		return s.text + pick(r, " STARTS WITH ", " NOT STARTS WITH ", " ENDS WITH ", " NOT ENDS WITH ") + dsl.Quote(Strings[r.IntN(len(Strings))])
	case 6:
		if !s.ident {
			break
		}
		return s.text + pick(r, " MATCHES ", " NOT MATCHES ") + dsl.Quote(Patterns[r.IntN(len(Patterns))])
	case 7:
		if o, ok := other(r, subs, func(o subject) bool { return o.typ == dsl.TypeString }); ok {
			return s.text + " " + pick(r, "==", "!=") + " " + o.text
		}
	case 8:
		if s.ident {
			return isNull(r, s)
		}
	}
	return s.text + " == " + g.strLit(r, s)
}

// Ints are integer edge cases.
var Ints = []int64{0, 1, -1, 2, 3, 7, 10, 15, 30, 100, -100, math.MaxInt64, math.MinInt64,
	math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 53, 1<<53 + 1, -(1 << 53) - 1}

// Floats are float edge cases (as data).
var Floats = []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1, 2.5, 7, 7.5, 12.5, 99.99, 1e15 + 0.5,
	1e300, -1e300, 5e-324, 1 << 53, 0x1p63, -0x1p63, 0.1}

// numLits are number literals as written (int and float forms).
var numLits = []string{"0", "1", "-1", "2", "3", "7", "7.0", "7.5", "-7.5", "0.5", "-0.5", "0.0", "-0.0",
	"10", "12.5", "15", "30", "99.99", "100", "-100", "0.1", "2.5",
	"9223372036854775807", "-9223372036854775808", "9223372036854775806",
	"9007199254740992", "9007199254740993", "-9007199254740993",
	"9223372036854775808.0", "-9223372036854775808.0", "1000000000000000.5"}

func numLit(r *rand.Rand) string { return numLits[r.IntN(len(numLits))] }

func (g *Gen) numLeaf(r *rand.Rand, s subject, subs []subject) string {
	switch r.IntN(10) {
	case 0, 1, 2:
		return s.text + " " + cmpOps[r.IntN(len(cmpOps))] + " " + numLit(r)
	case 3:
		return numLit(r) + " " + cmpOps[r.IntN(len(cmpOps))] + " " + s.text
	case 4:
		n := 1 + r.IntN(4)
		lits := make([]string, n)
		for i := range lits {
			lits[i] = numLit(r)
		}
		return s.text + pick(r, " IN (", " NOT IN (") + strings.Join(lits, ", ") + ")"
	case 5, 6:
		return s.text + pick(r, " BETWEEN ", " NOT BETWEEN ") + numLit(r) + " AND " + numLit(r)
	case 7:
		if o, ok := other(r, subs, func(o subject) bool { return o.typ == dsl.TypeInt || o.typ == dsl.TypeFloat }); ok {
			return s.text + " " + cmpOps[r.IntN(len(cmpOps))] + " " + o.text
		}
	case 8:
		if s.ident {
			return isNull(r, s)
		}
	}
	return s.text + " " + cmpOps[r.IntN(len(cmpOps))] + " " + numLit(r)
}

func (g *Gen) boolLeaf(r *rand.Rand, s subject, subs []subject) string {
	switch r.IntN(7) {
	case 0:
		return s.text
	case 1:
		return "NOT " + s.text
	case 2:
		return s.text + " " + pick(r, "==", "!=", "=", "<>") + " " + pick(r, "true", "false")
	case 3:
		return pick(r, "true", "false") + " == " + s.text
	case 4:
		if o, ok := other(r, subs, func(o subject) bool { return o.typ == dsl.TypeBool }); ok {
			return s.text + " " + pick(r, "==", "!=") + " " + o.text
		}
	case 5:
		if s.ident {
			return isNull(r, s)
		}
	}
	return s.text + " IN (" + pick(r, "true", "false", "true, false") + ")"
}

// durations as written after now() ±.
var durations = []string{"0h", "1h", "12h", "23h", "24h", "25h", "1d", "6d", "7d", "8d", "14d", "15d", "30d", "2w", "13w", "1000d", "106751d", "2562047h"}

// TimeOffsets are offsets (seconds) from now used for timestamps in data
// and literals: exact day boundaries and one second either side.
var TimeOffsets = func() []int64 {
	var out []int64
	for _, d := range []int64{0, 1, 6, 7, 8, 14, 15, 30, 31, 91} {
		for _, s := range []int64{0, 1, -1, 3600, -3600, 43200} {
			out = append(out, -d*86400+s, d*86400+s)
		}
	}
	return out
}()

func (g *Gen) tsLit(r *rand.Rand) string {
	sec := g.Now.Unix() + TimeOffsets[r.IntN(len(TimeOffsets))]
	t := time.Unix(sec, 0).UTC()
	switch r.IntN(5) {
	case 0:
		return dsl.Quote(t.Add(500 * time.Millisecond).Format(time.RFC3339Nano))
	case 1:
		return dsl.Quote(t.In(time.FixedZone("", 2*3600)).Format(time.RFC3339))
	case 2:
		return dsl.Quote(pick(r, "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"))
	}
	return dsl.Quote(t.Format(time.RFC3339))
}

func nowExpr(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return "now()"
	case 1:
		return "now() - " + durations[r.IntN(len(durations))]
	}
	return "now() + " + durations[r.IntN(len(durations))]
}

func (g *Gen) timeLeaf(r *rand.Rand, s subject, subs []subject) string {
	switch r.IntN(9) {
	case 0, 1:
		return s.text + " " + cmpOps[r.IntN(len(cmpOps))] + " " + nowExpr(r)
	case 2:
		return nowExpr(r) + " " + cmpOps[r.IntN(len(cmpOps))] + " " + s.text
	case 3, 4:
		return s.text + " " + cmpOps[r.IntN(len(cmpOps))] + " " + g.tsLit(r)
	case 5:
		return s.text + pick(r, " BETWEEN ", " NOT BETWEEN ") + g.tsLit(r) + " AND " + g.tsLit(r)
	case 6:
		if o, ok := other(r, subs, func(o subject) bool { return o.typ == dsl.TypeTimestamp }); ok {
			return s.text + " " + cmpOps[r.IntN(len(cmpOps))] + " " + o.text
		}
	case 7:
		return isNull(r, s)
	case 8:
		return s.text + pick(r, " IN (", " NOT IN (") + g.tsLit(r) + ", " + g.tsLit(r) + ")"
	}
	return s.text + " < " + nowExpr(r)
}

func (g *Gen) listLeaf(r *rand.Rand, s subject) string {
	lit := func() string { return g.strLit(r, s) }
	switch r.IntN(6) {
	case 0, 1:
		return lit() + pick(r, " IN ", " NOT IN ", " in ") + s.text
	case 2, 3:
		n := 1 + r.IntN(3)
		lits := make([]string, n)
		for i := range lits {
			lits[i] = lit()
		}
		return s.text + pick(r, " HAS ANY (", " HAS ALL (", " has any (") + strings.Join(lits, ", ") + ")"
	case 4:
		return isNull(r, s)
	}
	return lit() + " IN " + s.text
}

// RandomUsers returns n users over attrs: the key is "u000", "u001", ...;
// every other attribute is NULL with probability 10–30 % (a missing key or
// an explicit nil), else an edge-case value (see Strings, Ints, Floats,
// TimeOffsets around now; lists may be empty). Timestamps are int64 Unix
// seconds, as in bitmaps.Row.
func RandomUsers(r *rand.Rand, attrs []*dsl.Attribute, n int, now time.Time) []map[string]any {
	nullP := 0.1 + 0.2*r.Float64()
	out := make([]map[string]any, n)
	for i := range out {
		u := map[string]any{}
		for _, a := range attrs {
			if a.Key {
				u[a.Name] = fmt.Sprintf("u%03d", i)
				continue
			}
			if r.Float64() < nullP {
				if r.IntN(2) == 0 {
					u[a.Name] = nil
				}
				continue
			}
			u[a.Name] = randomValue(r, a, now)
		}
		out[i] = u
	}
	return out
}

func randomValue(r *rand.Rand, a *dsl.Attribute, now time.Time) any {
	str := func() string {
		if len(a.Values) > 0 && r.IntN(4) > 0 {
			return a.Values[r.IntN(len(a.Values))]
		}
		return Strings[r.IntN(len(Strings))]
	}
	switch a.Type {
	case dsl.TypeString:
		return str()
	case dsl.TypeInt:
		if r.IntN(3) == 0 {
			return int64(r.IntN(41) - 20)
		}
		return Ints[r.IntN(len(Ints))]
	case dsl.TypeFloat:
		if r.IntN(3) == 0 {
			return float64(r.IntN(41)-20) / 2
		}
		return Floats[r.IntN(len(Floats))]
	case dsl.TypeBool:
		return r.IntN(2) == 0
	case dsl.TypeTimestamp:
		switch r.IntN(12) {
		case 0:
			return pickInt(r, math.MinInt64, math.MaxInt64, 0, -1, now.Unix()+1<<40, now.Unix()-1<<40)
		case 1:
			return now.Unix() + int64(r.IntN(200*86400)) - 100*86400
		}
		return now.Unix() + TimeOffsets[r.IntN(len(TimeOffsets))]
	case dsl.TypeStringList:
		n := r.IntN(4)
		if n == 0 {
			return []string{}
		}
		l := make([]string, n)
		for i := range l {
			l[i] = str()
		}
		return l
	}
	return nil
}

func pickInt(r *rand.Rand, v ...int64) int64 { return v[r.IntN(len(v))] }

// FormatUser prints a user for failure messages, keys sorted.
func FormatUser(u map[string]any, attrs []*dsl.Attribute) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, a := range attrs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Name)
		b.WriteString(": ")
		switch v := u[a.Name].(type) {
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
			if a.Type == dsl.TypeTimestamp {
				b.WriteString(" (" + time.Unix(v, 0).UTC().Format(time.RFC3339) + ")")
			}
		default:
			fmt.Fprintf(&b, "%#v", v)
		}
	}
	b.WriteByte('}')
	return b.String()
}
