package bitmaps

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

var negZero = math.Copysign(0, -1)

// fixture: users chosen to hit the edges (NULLs, empty lists, unicode,
// extreme ints, -0, subnormals, huge floats, timestamps at the limits).
var fixture = []struct {
	user string
	row  Row
}{
	//        tier         name      visits                score      vip   seen                    tags                                  days
	{"a", Row{"champion", "alice", int64(0), 0.0, true, int64(1700000000), []string{"cyclist", "runner"}, []string{"Saturday"}}},
	{"b", Row{"loyal", "bob", int64(-1), negZero, false, int64(1700000001), []string{}, nil}},
	{"c", Row{"", "ébène", int64(math.MinInt64), 5e-324, nil, nil, []string{"cyclist"}, []string{"Sunday", "Saturday"}}},
	{"d", Row{"日本語", nil, int64(math.MaxInt64), 1e300, true, int64(-86400), []string{"🚲", "cyclist", "cyclist"}, nil}},
	{"e", Row{nil, "Bob", int64(1<<53 + 1), 1.5, false, int64(0), []string{"runner"}, []string{"Monday"}}},
	{"f", Row{"champion", "al", int64(42), 1.5, nil, int64(math.MaxInt64), nil, nil}},
	{"g", Row{nil, nil, nil, nil, nil, nil, nil, nil}},
	{"ü1", Row{"Champion", "alicia", int64(2), -1e300, true, int64(math.MinInt64), []string{"ß"}, []string{"Sunday"}}},
}

func fixtureIndex(t testing.TB, bulk bool) *Index {
	t.Helper()
	if bulk {
		b := NewBuilder(testSchema)
		for _, u := range fixture {
			if err := b.Add(u.user, u.row); err != nil {
				t.Fatalf("Add(%q): %v", u.user, err)
			}
		}
		return b.Build()
	}
	ix := NewIndex(testSchema)
	for i := len(fixture) - 1; i >= 0; i-- { // reverse order: ids not in user_id order
		if _, err := ix.Upsert(fixture[i].user, fixture[i].row); err != nil {
			t.Fatalf("Upsert(%q): %v", fixture[i].user, err)
		}
	}
	return ix
}

func TestEvalLeavesAndOperators(t *testing.T) {
	abID := func(ix *Index) *roaring.Bitmap {
		a, _ := ix.Lookup("a")
		b, _ := ix.Lookup("b")
		return roaring.BitmapOf(a, b, 999, 1<<31)
	}
	tests := []struct {
		name string
		plan func(ix *Index) Node
		want string // space-separated users, sorted
	}{
		{name: "eq string", plan: eq("tier", "champion"), want: "a f"},
		{name: "eq empty string", plan: eq("tier", ""), want: "c"},
		{name: "eq is case-sensitive", plan: eq("tier", "Champion"), want: "ü1"},
		{name: "eq unicode", plan: eq("tier", "日本語"), want: "d"},
		{name: "eq unknown value", plan: eq("tier", "nope"), want: ""},
		{name: "eq string with an int", plan: eq("tier", int64(1)), want: ""},
		{name: "eq unknown field", plan: eq("nope", "x"), want: ""},
		{name: "in string, repeated value", plan: in("tier", "champion", "loyal", "champion"), want: "a b f"},
		{name: "in empty list", plan: in("tier"), want: ""},
		{name: "eq int 0", plan: eq("visits", int64(0)), want: "a"},
		{name: "eq int -1", plan: eq("visits", int64(-1)), want: "b"},
		{name: "eq MinInt64", plan: eq("visits", int64(math.MinInt64)), want: "c"},
		{name: "eq MaxInt64", plan: eq("visits", int64(math.MaxInt64)), want: "d"},
		{name: "eq 2^53+1 exactly", plan: eq("visits", int64(1<<53+1)), want: "e"},
		{name: "eq int with rounded float", plan: eq("visits", float64(1<<53)), want: ""},
		{name: "eq int with integral float", plan: eq("visits", 42.0), want: "f"},
		{name: "eq int with fraction", plan: eq("visits", 42.5), want: ""},
		{name: "eq int with string", plan: eq("visits", "42"), want: ""},
		{name: "in int mixed types", plan: in("visits", int64(0), 0.0, 42, 2.5), want: "a f"},
		{name: "eq float 0 matches -0", plan: eq("score", 0.0), want: "a b"},
		{name: "eq float -0 matches 0", plan: eq("score", negZero), want: "a b"},
		{name: "eq float subnormal", plan: eq("score", 5e-324), want: "c"},
		{name: "eq float equal values", plan: eq("score", 1.5), want: "e f"},
		{name: "eq float with int", plan: eq("score", int64(0)), want: "a b"},
		{name: "eq float NaN", plan: eq("score", math.NaN()), want: ""},
		{name: "range int (-1, 2]", plan: rng("visits", int64(-1), int64(2), false, true), want: "a ü1"},
		{name: "range int >= MinInt64", plan: rng("visits", int64(math.MinInt64), nil, true, false), want: "a b c d e f ü1"},
		{name: "range int > MinInt64", plan: rng("visits", int64(math.MinInt64), nil, false, false), want: "a b d e f ü1"},
		{name: "range int < MaxInt64", plan: rng("visits", nil, int64(math.MaxInt64), false, false), want: "a b c e f ü1"},
		{name: "range int <= MaxInt64", plan: rng("visits", nil, int64(math.MaxInt64), false, true), want: "a b c d e f ü1"},
		{name: "range int float bounds", plan: rng("visits", 41.5, 42.5, false, false), want: "f"},
		{name: "range int > 2^53 as float", plan: rng("visits", float64(1<<53), nil, false, false), want: "d e"},
		{name: "range int above int64", plan: rng("visits", 9.3e18, nil, true, false), want: ""},
		{name: "range int below int64", plan: rng("visits", nil, -9.3e18, false, true), want: ""},
		{name: "range int from -1e19", plan: rng("visits", -1e19, nil, true, false), want: "a b c d e f ü1"},
		{name: "range int to +Inf", plan: rng("visits", int64(40), math.Inf(1), true, true), want: "d e f"},
		{name: "range NaN bound", plan: rng("visits", math.NaN(), nil, true, false), want: ""},
		{name: "range empty interval", plan: rng("visits", int64(5), int64(1), true, true), want: ""},
		{name: "range point", plan: rng("visits", int64(42), int64(42), true, true), want: "f"},
		{name: "range open point", plan: rng("visits", int64(42), int64(42), false, true), want: ""},
		{name: "range float [0, 1.5)", plan: rng("score", 0.0, 1.5, true, false), want: "a b c"},
		{name: "range float > -0", plan: rng("score", negZero, nil, false, false), want: "c d e f"},
		{name: "range float < 0", plan: rng("score", nil, 0.0, false, false), want: "ü1"},
		{name: "range float >= int 1", plan: rng("score", int64(1), nil, true, false), want: "d e f"},
		{name: "range float > MaxInt64", plan: rng("score", int64(math.MaxInt64), nil, false, false), want: "d"},
		{name: "range float unbounded", plan: rng("score", nil, nil, false, false), want: "a b c d e f ü1"},
		{name: "range time [t, t+1)", plan: rng("seen", int64(1700000000), int64(1700000001), true, false), want: "a"},
		{name: "range time <= 0", plan: rng("seen", nil, int64(0), false, true), want: "d e ü1"},
		{name: "range on a string field", plan: rng("tier", int64(0), nil, true, false), want: ""},
		{name: "range with a string bound", plan: rng("visits", "0", nil, true, false), want: ""},
		{name: "exists string", plan: exists("tier"), want: "a b c d f ü1"},
		{name: "exists list (empty is NULL)", plan: exists("tags"), want: "a c d e ü1"},
		{name: "exists bool", plan: exists("vip"), want: "a b d e ü1"},
		{name: "exists float (-0 is a value)", plan: exists("score"), want: "a b c d e f ü1"},
		{name: "exists unknown field", plan: exists("nope"), want: ""},
		{name: "list contains", plan: eq("tags", "cyclist"), want: "a c d"},
		{name: "list contains empty string", plan: eq("tags", ""), want: ""},
		{name: "list contains any of", plan: in("tags", "runner", "ß"), want: "a e ü1"},
		{name: "list has all", plan: has("tags", true, "cyclist", "runner"), want: "a"},
		{name: "list has all, duplicate in list", plan: has("tags", true, "cyclist", "cyclist"), want: "a c d"},
		{name: "list has all of nothing", plan: has("tags", true), want: "a c d e ü1"},
		{name: "list has all, unknown value", plan: has("tags", true, "cyclist", "nope"), want: ""},
		{name: "list has any", plan: has("tags", false, "🚲", "ß"), want: "d ü1"},
		{name: "list has any of nothing", plan: has("tags", false), want: ""},
		{name: "list has on a string field", plan: has("tier", false, "loyal"), want: ""},
		{name: "bool true", plan: eq("vip", true), want: "a d ü1"},
		{name: "bool false", plan: eq("vip", false), want: "b e"},
		{name: "bool in both", plan: in("vip", true, false), want: "a b d e ü1"},
		{name: "not bool true includes NULL", plan: not(eq("vip", true)), want: "b c e f g"},
		{name: "not eq includes NULL", plan: not(eq("tier", "champion")), want: "b c d e g ü1"},
		{name: "strpred prefix", plan: pred("name", "al"), want: "a f ü1"},
		{name: "strpred non-ascii", plan: pred("name", "éb"), want: "c"},
		{name: "strpred on a list field", plan: pred("tags", "cy"), want: ""},
		{name: "strpred nil Fn", plan: func(*Index) Node { return &StrPred{Field: "name"} }, want: ""},
		{name: "scan visits > score", plan: scanGreater, want: "e f ü1"},
		{name: "scan nil Fn", plan: func(*Index) Node { return &Scan{Fields: []string{"tier"}} }, want: ""},
		{name: "and of nothing", plan: and(), want: "a b c d e f g ü1"},
		{name: "or of nothing", plan: or(), want: ""},
		{name: "and eq range", plan: and(eq("tier", "champion"), rng("visits", int64(10), nil, true, false)), want: "f"},
		{name: "or two list eq", plan: or(eq("days", "Saturday"), eq("days", "Sunday")), want: "a c ü1"},
		{name: "and with not first", plan: and(not(eq("vip", true)), exists("tags")), want: "c e"},
		{name: "and then scan", plan: and(exists("vip"), scanGreater), want: "e ü1"},
		{name: "and then not scan", plan: and(exists("vip"), not(scanGreater)), want: "a b d"},
		{name: "and then or with scan", plan: and(exists("days"), or(scanGreater, eq("tier", "champion"))), want: "a e ü1"},
		{name: "nested and in and", plan: and(exists("tier"), and(eq("vip", true), not(eq("tier", "日本語")))), want: "a ü1"},
		{name: "const ignores dead and unknown ids", plan: func(ix *Index) Node { return &Const{Name: "c", B: abID(ix)} }, want: "a b"},
		{name: "and with const", plan: func(ix *Index) Node { return &And{Terms: []Node{exists("tags")(ix), &Const{B: abID(ix)}}} }, want: "a"},
		{name: "not const", plan: func(ix *Index) Node { return &Not{X: &Const{B: abID(ix)}} }, want: "c d e f g ü1"},
		{name: "nil const", plan: func(*Index) Node { return &Const{} }, want: ""},
		{name: "all", plan: func(*Index) Node { return All{} }, want: "a b c d e f g ü1"},
		{name: "none", plan: func(*Index) Node { return None{} }, want: ""},
		{name: "nil node", plan: func(*Index) Node { return nil }, want: ""},
		{name: "not nil", plan: func(*Index) Node { return &Not{} }, want: "a b c d e f g ü1"},
	}
	for _, bulk := range []bool{true, false} {
		ix := fixtureIndex(t, bulk)
		for _, tc := range tests {
			name := tc.name + map[bool]string{true: "/build", false: "/upsert"}[bulk]
			t.Run(name, func(t *testing.T) {
				p := tc.plan(ix)
				var want []string
				if tc.want != "" {
					want = strings.Fields(tc.want)
				}
				got := usersOf(t, ix, ix.Eval(p))
				if !slices.Equal(got, want) {
					t.Errorf("Eval = %q, want %q", got, want)
				}
				if c := ix.Count(p); c != uint64(len(want)) {
					t.Errorf("Count = %d, want %d", c, len(want))
				}
				// Every plan also counts the same inside an AND and under NOT NOT.
				if c := ix.Count(&And{Terms: []Node{All{}, p}}); c != uint64(len(want)) {
					t.Errorf("Count(All AND p) = %d, want %d", c, len(want))
				}
				if c := ix.Count(&Not{X: &Not{X: p}}); c != uint64(len(want)) {
					t.Errorf("Count(NOT NOT p) = %d, want %d", c, len(want))
				}
			})
		}
	}
}

func eq(f string, v any) func(*Index) Node {
	return func(*Index) Node { return &Eq{Field: f, Value: v} }
}

func in(f string, vs ...any) func(*Index) Node {
	return func(*Index) Node { return &In{Field: f, Values: vs} }
}

func rng(f string, lo, hi any, loIncl, hiIncl bool) func(*Index) Node {
	return func(*Index) Node { return &Range{Field: f, Lo: lo, Hi: hi, LoIncl: loIncl, HiIncl: hiIncl} }
}

func exists(f string) func(*Index) Node { return func(*Index) Node { return &Exists{Field: f} } }

func has(f string, all bool, vs ...string) func(*Index) Node {
	return func(*Index) Node { return &ListHas{Field: f, Values: vs, All: all} }
}

func pred(f, prefix string) func(*Index) Node {
	return func(*Index) Node {
		return &StrPred{Field: f, Desc: "STARTS WITH " + prefix, Fn: func(s string) bool { return strings.HasPrefix(s, prefix) }}
	}
}

func not(x func(*Index) Node) func(*Index) Node {
	return func(ix *Index) Node { return &Not{X: x(ix)} }
}

func and(ts ...func(*Index) Node) func(*Index) Node {
	return func(ix *Index) Node {
		a := &And{}
		for _, t := range ts {
			a.Terms = append(a.Terms, t(ix))
		}
		return a
	}
}

func or(ts ...func(*Index) Node) func(*Index) Node {
	return func(ix *Index) Node {
		o := &Or{}
		for _, t := range ts {
			o.Terms = append(o.Terms, t(ix))
		}
		return o
	}
}

func scanGreater(*Index) Node {
	return &Scan{Fields: []string{"visits", "score"}, Desc: "visits > score", Fn: func(v []any) bool {
		if v[0] == nil || v[1] == nil {
			return false
		}
		return bigOf(v[0]).Cmp(bigOf(v[1])) > 0
	}}
}
