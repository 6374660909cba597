package compiler_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func diffSet(t testing.TB) *compiler.Set {
	t.Helper()
	s, err := compiler.CompileData("diff.yaml", []byte(diffYAML))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func TestNormalForm(t *testing.T) {
	s := diffSet(t)
	tests := []struct {
		name, src, want string
	}{
		{"ne is not eq", "s1 != 'a'", "s1 != 'a'"},
		{"not eq prints as ne", "NOT (s1 == 'a')", "s1 != 'a'"},
		{"double not", "NOT NOT b1", "b1 == true"},
		{"de morgan keeps negated leaves", "NOT (i1 > 3 AND b1)", "NOT (i1 >= 4) OR b1 != true"},
		{"or of eq is one IN", "s1 == 'a' OR s1 == 'b' OR s1 = 'a'", "s1 IN ('a', 'b')"},
		{"and of ne is NOT IN", "s1 != 'a' AND s1 != 'b'", "s1 NOT IN ('a', 'b')"},
		{"or of different ne is everyone", "s1 != 'a' OR s1 != 'b'", "true"},
		{"ranges merge", "i1 > 3 AND i1 < 10", "i1 BETWEEN 4 AND 9"},
		{"one-value range is eq", "i1 >= 3 AND i1 <= 3", "i1 == 3"},
		{"empty range", "i1 > 3 AND i1 < 4", "false"},
		{"int below float", "i1 < 7.5", "i1 <= 7"},
		{"int above float", "i1 > 7.5", "i1 >= 8"},
		{"int eq fraction", "i1 == 7.5", "false"},
		{"int ne fraction includes null", "i1 != 7.5", "true"},
		{"negative fraction floors", "i1 <= -7.5", "i1 <= -8"},
		{"integral float literal", "i1 == 7.0", "i1 == 7"},
		{"below min int", "i1 < -9223372036854775808", "false"},
		{"from min int", "i1 >= -9223372036854775808", "i1 IS NOT NULL"},
		{"above max int", "i1 > 9223372036854775807", "false"},
		{"to max int", "i1 <= 9223372036854775807", "i1 IS NOT NULL"},
		{"below 2^63", "i1 < 9223372036854775808.0", "i1 IS NOT NULL"},
		{"float eq unrepresentable int", "f1 == 9007199254740993", "false"},
		{"float below unrepresentable int", "f1 < 9007199254740993", "f1 <= 9007199254740992.0"},
		{"float above unrepresentable int", "f1 > 9007199254740993", "f1 >= 9007199254740994.0"},
		{"negative zero", "f1 == -0.0", "f1 == 0.0"},
		{"float ranges merge", "f1 > 0.5 AND f1 >= 0.5 AND f1 < 2", "f1 > 0.5 AND f1 < 2.0"},
		{"days below", "ds1 < 7", "days_since(t1) <= 6"},
		{"days above", "ds1 > 14", "days_since(t1) >= 15"},
		{"days below fraction", "ds1 < 7.5", "days_since(t1) <= 7"},
		{"days eq", "ds1 == 3", "days_since(t1) == 3"},
		{"days between", "ds1 BETWEEN 1 AND 7", "days_since(t1) BETWEEN 1 AND 7"},
		{"days not between", "ds1 NOT BETWEEN 1 AND 7", "days_since(t1) NOT BETWEEN 1 AND 7"},
		{"days in dedup", "ds1 IN (1, 2, 2)", "days_since(t1) IN (1, 2)"},
		{"ts after fraction", "t1 > '2026-01-01T00:00:00.5Z'", "t1 >= '2026-01-01T00:00:01Z'"},
		// One-second resolution: a literal's fraction is dropped, as the
		// data's is, so a value read as 00:00:00.5 equals it.
		{"ts from fraction", "t1 >= '2026-01-01T00:00:00.5Z'", "t1 >= '2026-01-01T00:00:00Z'"},
		{"ts before fraction", "t1 < '2026-01-01T00:00:00.5Z'", "t1 <= '2025-12-31T23:59:59Z'"},
		{"ts eq fraction", "t1 == '2026-01-01T00:00:00.5Z'", "t1 == '2026-01-01T00:00:00Z'"},
		{"ts zone", "t1 == '2026-01-01T02:00:00+02:00'", "t1 == '2026-01-01T00:00:00Z'"},
		{"ts relative", "t1 > now() - 7d", "t1 > now() - 7d"},
		{"ts relative both", "t1 >= now() - 7d AND t1 < now()", "t1 >= now() - 7d AND t1 < now()"},
		{"ts relative flipped", "now() - 1d < t1", "t1 > now() - 1d"},
		{"weeks print as days", "t1 >= now() - 13w", "t1 >= now() - 91d"},
		{"list or is has any", "'a' IN l1 OR 'b' IN l1", "l1 HAS ANY ('a', 'b')"},
		{"list and is has all", "'a' IN l1 AND 'b' IN l1", "l1 HAS ALL ('a', 'b')"},
		{"list not in merge", "NOT 'a' IN l1 AND 'b' NOT IN l1", "NOT (l1 HAS ANY ('a', 'b'))"},
		{"has any dedup", "l1 HAS ANY ('a', 'a', 'b')", "l1 HAS ANY ('a', 'b')"},
		{"true is neutral in and", "true AND s1 == 'a'", "s1 == 'a'"},
		{"false is neutral in or", "false OR b1", "b1 == true"},
		{"literal comparison folds", "1 < 2 AND b1", "b1 == true"},
		{"string literals fold", "'a' == 'b' OR b1", "b1 == true"},
		{"null and value contradict", "s1 IS NULL AND s1 == 'a'", "false"},
		{"value implies not null", "s1 IS NOT NULL AND s1 == 'a'", "s1 == 'a'"},
		{"derived predicate", "active", "i1 >= 4 AND b1 == true"},
		{"derived through derived", "hot", "i1 >= 4 AND b1 == true OR days_since(t1) <= 7"},
		{"derived alias", "tier_alias == 'loyal'", "tier == 'loyal'"},
		{"key list", "user_id IN ('u2', 'u1', 'u2')", "user_id IN ('u1', 'u2')"},
		{"key ne", "user_id != 'u1'", "user_id != 'u1'"},
		{"cohort ref", "cohort('vip')", "cohort('vip')"},
		{"attr vs attr", "i1 < i2", "i1 < i2"},
		{"attr ne attr", "i1 != f1", "i1 != f1"},
		{"days vs attr", "ds1 >= i1", "days_since(t1) >= i1"},
		{"not between", "NOT (i1 BETWEEN 1 AND 5)", "i1 NOT BETWEEN 1 AND 5"},
		{"not in merge", "i1 NOT IN (1, 2) AND i1 != 3", "i1 NOT IN (1, 2, 3)"},
		{"in filtered by range", "i1 IN (1, 5, 9) AND i1 > 3", "i1 IN (5, 9)"},
		{"string tests", "s1 NOT STARTS WITH 'x' AND s2 MATCHES '(?i)^a'", "s1 NOT STARTS WITH 'x' AND s2 MATCHES '(?i)^a'"},
		{"quotes", `s1 == "it's" OR s1 == 'back\\slash'`, `s1 IN ('it\'s', 'back\\slash')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := s.CompileExpr(tt.src)
			if err != nil {
				t.Fatalf("CompileExpr(%q): %v", tt.src, err)
			}
			if got := q.String(); got != tt.want {
				t.Errorf("CompileExpr(%q) = %s, want %s", tt.src, got, tt.want)
			}
			// The normal form is itself a valid expression with the same normal form.
			q2, err := s.CompileExpr(q.String())
			if err != nil {
				t.Fatalf("normal form %q does not compile: %v", q.String(), err)
			}
			if q2.String() != q.String() {
				t.Errorf("normal form not stable: %q → %q", q.String(), q2.String())
			}
		})
	}
}

// goldenQueries are printed in every backend by TestGolden.
var goldenQueries = []string{
	"tier == 'champion' AND ds1 < 7",
	"tier == 'loyal' AND days_since(t1) > 14",
	"'a' IN l1 OR 'b' IN l1",
	"s1 IN ('a', 'b', 'a') AND NOT (i1 BETWEEN 1 AND 5)",
	"f1 <= 12.5 OR f1 = 99.99",
	"t1 >= now() - 13w AND t2 < '2026-01-01T00:00:00.5Z'",
	"l1 HAS ALL ('a', 'b') OR l2 IS NULL",
	"s1 STARTS WITH 'mob' OR s2 NOT CONTAINS '-' OR s1 ENDS WITH 'x' OR s2 MATCHES '(?i)^sat'",
	"NOT b1 AND b2 != false",
	"i1 < f1 AND ds1 >= i2",
	"cohort('c_ref') OR user_id IN ('u002', 'u004')",
	"active AND NOT cohort('vip')",
	`s1 == "it's" OR s1 == 'a\'b' OR s2 == 'tab\there' OR s2 == '日本'`,
}

// goldenNow is the instant the golden plans and SQL are printed at.
var goldenNow = time.Date(2026, 1, 15, 12, 34, 56, 0, time.UTC)

func TestGolden(t *testing.T) {
	d := newDiffEnv(t, 1, 60, goldenNow)
	var b strings.Builder
	for _, src := range goldenQueries {
		q, err := d.set.CompileExpr(src)
		if err != nil {
			fmt.Fprintf(&b, "== %s\nerror: %v\n\n", src, err)
			continue
		}
		p, err := q.Program()
		if err != nil {
			t.Fatalf("Program(%q): %v", src, err)
		}
		sql, err := q.SQL(goldenNow)
		if err != nil {
			t.Fatalf("SQL(%q): %v", src, err)
		}
		fmt.Fprintf(&b, "== %s\nnormal: %s\ndeps:   %v refs: %v time-dependent: %v\nexpr:   %s\nsql:    %s\nplan:\n%s\n\n",
			src, q, q.Deps(), q.Refs(), q.TimeDependent(), p.Source(), sql, indent(d.ev.Explain(q, goldenNow)))
	}
	golden(t, "queries.golden", b.String())
}

func TestCompileErrors(t *testing.T) {
	_, err := compiler.Load(filepath.Join("testdata", "errors.yaml"))
	var list dsl.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load: want a dsl.ErrorList, got %v", err)
	}
	golden(t, "errors.golden", list.Pretty()+"\n")
	// Every mistake of the file is reported in the same run, at its place.
	want := []string{
		"12:16: derived cycle: loop_a → loop_b → loop_a",
		`15:16: unknown attribute "engagment_tier" (did you mean "engagement_tier"?)`,
		"16:29: type mismatch: visits_30d is int, 'ten' is a string",
		`17:33: "champoin" is not a value of engagement_tier (did you mean "champion"?)`,
		`18:39: unknown cohort "fanz" (did you mean "fans"?)`,
		"20:18: cohort cycle: first → second → first",
		`21:27: unexpected "AND"`,
		"23:28: invalid regular expression '(['",
		`24:30: invalid timestamp "2026-13-01T00:00:00Z"`,
		`27:28: unknown attribute "emial" in export of cohort exporter (did you mean "email"?)`,
		"28:13: tags is list<string>",
		"29:15: operator < is not defined on email (string)",
		"30:15: days_since_last_visit is int, not a condition",
	}
	got := make([]string, len(list))
	for i, e := range list {
		got[i] = e.Error()
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, "errors.yaml:"+w) }) {
			t.Errorf("missing error %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(list) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(list), len(want), strings.Join(got, "\n"))
	}
	for _, e := range list {
		if e.SourceLine == "" {
			t.Errorf("%v: no source line", e)
		}
	}
}

func TestCompileExprErrors(t *testing.T) {
	s := diffSet(t)
	tests := []struct {
		name, src string
		col       int
		msg       string
	}{
		{"unknown attribute", "tierr == 'loyal'", 1, `unknown attribute "tierr" (did you mean "tier"?)`},
		{"mismatch", "i1 == 'ten'", 7, "type mismatch: i1 is int, 'ten' is a string"},
		{"value outside values", "tier IN ('loyal', 'champoin')", 19, `"champoin" is not a value of tier (did you mean "champion"?)`},
		{"unknown cohort", "b1 AND cohort('vipp')", 15, `unknown cohort "vipp" (did you mean "vip"?)`},
		{"bad regex", "s1 MATCHES 'a('", 12, "invalid regular expression 'a('"},
		{"bad timestamp", "t1 < '2026-01-01'", 6, `invalid timestamp "2026-01-01"`},
		{"list needs member test", "l1 == 'a'", 1, "l1 is list<string>"},
		{"member needs list", "'a' IN s1", 8, "'x' IN attribute needs a list<string> attribute; s1 is string"},
		{"string order", "s1 > 'a'", 1, "operator > is not defined on s1 (string)"},
		{"int not a predicate", "i1", 1, "i1 is int, not a condition"},
		{"duration outside now", "i1 > 7d", 6, "a duration is only allowed after now()"},
		{"now vs number", "now() > 5", 1, "comparison needs an attribute on one side"},
		{"days of non-timestamp", "days_since(i1) > 3", 12, "days_since needs a timestamp attribute; i1 is int"},
		{"timestamp vs number", "t1 > 5", 6, "type mismatch: t1 is timestamp, 5 is a number"},
		{"between strings", "s1 BETWEEN 'a' AND 'b'", 1, "BETWEEN needs a number or a timestamp"},
		{"derived predicate as value", "active == true", 1, "active is a condition (derived), not a value"},
		{"list vs list", "l1 == l2", 1, "cannot compare list<string> values"},
		{"mixed attrs", "s1 == i1", 1, "type mismatch: s1 is string, i1 is int"},
		{"syntax", "i1 >", 5, ""},
		{"second line", "b1 AND\n  i1 == 'x'", 9, "type mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CompileExpr(tt.src)
			var list dsl.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("CompileExpr(%q): want an ErrorList, got %v", tt.src, err)
			}
			e := list[0]
			if e.Column != tt.col || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("CompileExpr(%q) = %d:%d: %s, want column %d and %q", tt.src, e.Line, e.Column, e.Message, tt.col, tt.msg)
			}
			lines := strings.Split(tt.src, "\n")
			if e.Line < 1 || e.Line > len(lines) || e.SourceLine != lines[e.Line-1] {
				t.Errorf("SourceLine = %q at line %d", e.SourceLine, e.Line)
			}
		})
	}
	// Every error of an expression is reported, in position order.
	_, err := s.CompileExpr("tierr == 'x' OR i1 == 'y' OR cohort('nope')")
	var list dsl.ErrorList
	if !errors.As(err, &list) || len(list) != 3 || list[0].Column > list[1].Column || list[1].Column > list[2].Column {
		t.Errorf("want 3 errors in order, got %v", err)
	}
}

func okSet(t *testing.T) *compiler.Set {
	t.Helper()
	s, err := compiler.Load(filepath.Join("testdata", "ok.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func TestSet(t *testing.T) {
	s := okSet(t)
	if got, want := s.Summary(), "7 cohorts in 3 groups, 7 attributes: ok"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if s.Key() != "user_id" {
		t.Errorf("Key = %q", s.Key())
	}
	wantSchema := bitmaps.Schema{
		{Name: "engagement_tier", Kind: bitmaps.KindString}, {Name: "engagement_score", Kind: bitmaps.KindFloat},
		{Name: "visits_30d", Kind: bitmaps.KindInt}, {Name: "last_visit_at", Kind: bitmaps.KindTime},
		{Name: "seasonal_match", Kind: bitmaps.KindBool}, {Name: "cohort_tags", Kind: bitmaps.KindStringList},
	}
	if !slices.Equal(s.Schema(), wantSchema) {
		t.Errorf("Schema = %v, want %v", s.Schema(), wantSchema)
	}
	tests := []struct {
		name    string
		deps    []string
		refs    []string
		timeDep bool
		static  bool
	}{
		{"champion", []string{"engagement_tier", "last_visit_at"}, []string{}, true, false},
		{"cyclists", []string{"cohort_tags"}, []string{}, false, false},
		{"engaged_cyclists", []string{"cohort_tags", "engagement_score", "visits_30d"}, []string{"cyclists"}, false, false},
		{"vip", []string{"user_id"}, []string{}, false, true},
		{"vip_or_champion", []string{"engagement_tier", "last_visit_at", "user_id"}, []string{"champion", "vip"}, true, false},
	}
	for _, tt := range tests {
		c, ok := s.Cohort(tt.name)
		if !ok {
			t.Fatalf("no cohort %s", tt.name)
		}
		if !slices.Equal(c.Deps, tt.deps) || !slices.Equal(c.Refs, tt.refs) || c.TimeDependent != tt.timeDep || c.Static != tt.static {
			t.Errorf("%s: deps %v refs %v time %v static %v, want %v %v %v %v",
				tt.name, c.Deps, c.Refs, c.TimeDependent, c.Static, tt.deps, tt.refs, tt.timeDep, tt.static)
		}
	}
	c, _ := s.Cohort("champion")
	if c.Group != "engagement_based" || c.Description != "Active top-tier readers" || !slices.Equal(c.Export, []string{"engagement_score"}) {
		t.Errorf("champion metadata: %+v", c)
	}
	vip, _ := s.Cohort("vip")
	if !slices.Equal(vip.Members, []string{"ghost", "u01", "u03", "u05"}) {
		t.Errorf("vip members %v", vip.Members)
	}
	if names := cohortNames(s); !slices.Equal(names, []string{"champion", "at_risk", "dormant", "cyclists", "engaged_cyclists", "vip", "vip_or_champion"}) {
		t.Errorf("cohort order %v", names)
	}
}

func cohortNames(s *compiler.Set) []string {
	var out []string
	for _, c := range s.Cohorts() {
		out = append(out, c.Name)
	}
	return out
}

// okUsers is a small population for ok.yaml, around okNow.
var okNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func okIndex(t *testing.T, s *compiler.Set) *bitmaps.Index {
	t.Helper()
	day := int64(86400)
	now := okNow.Unix()
	users := []map[string]any{
		{"user_id": "u01", "engagement_tier": "champion", "last_visit_at": now - 2*day, "visits_30d": int64(9)},
		{"user_id": "u02", "engagement_tier": "champion", "last_visit_at": now - 7*day, "cohort_tags": []string{"cyclist"}, "visits_30d": int64(5)},
		{"user_id": "u03", "engagement_tier": "loyal", "last_visit_at": now - 20*day, "cohort_tags": []string{"cyclist", "runner"}, "engagement_score": 70.0},
		{"user_id": "u04", "engagement_tier": "dormant", "last_visit_at": now - 40*day, "cohort_tags": []string{}},
		{"user_id": "u06"},
	}
	return buildIndex(t, s, users)
}

func TestEvaluator(t *testing.T) {
	s := okSet(t)
	ix := okIndex(t, s)
	ev := compiler.NewEvaluator(s, ix)
	ctx := context.Background()
	members := func(name string, now time.Time) []string {
		b, err := ev.CohortMembers(ctx, name, now)
		if err != nil {
			t.Fatalf("CohortMembers(%s): %v", name, err)
		}
		var out []string
		for _, id := range b.ToArray() {
			u, _ := ix.UserID(id)
			out = append(out, u)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		cohort string
		now    time.Time
		want   []string
	}{
		{"champion", okNow, []string{"u01"}},                          // u02 is exactly 7 days away: days_since = 7
		{"champion", okNow.Add(-time.Second), []string{"u01", "u02"}}, // one second earlier it is 6 days
		{"at_risk", okNow, []string{"u03"}},
		{"dormant", okNow, []string{"u04"}},
		{"cyclists", okNow, []string{"u02", "u03"}},
		{"engaged_cyclists", okNow, []string{"u02", "u03"}},
		{"vip", okNow, []string{"u01", "u03"}},
		{"vip_or_champion", okNow, []string{"u01", "u03"}},
	}
	for _, tt := range tests {
		if got := members(tt.cohort, tt.now); !slices.Equal(got, tt.want) {
			t.Errorf("%s at %s = %v, want %v", tt.cohort, tt.now.Format(time.RFC3339), got, tt.want)
		}
	}
	got, err := ev.UserCohorts(ctx, "u03", okNow)
	if err != nil || !slices.Equal(got, []string{"at_risk", "cyclists", "engaged_cyclists", "vip", "vip_or_champion"}) {
		t.Errorf("UserCohorts(u03) = %v, %v", got, err)
	}
	if _, err := ev.UserCohorts(ctx, "nobody", okNow); !errors.Is(err, compiler.ErrUnknownUser) {
		t.Errorf("UserCohorts(nobody): want ErrUnknownUser, got %v", err)
	}
	if _, err := ev.CohortMembers(ctx, "nope", okNow); !errors.Is(err, compiler.ErrUnknownCohort) {
		t.Errorf("CohortMembers(nope): want ErrUnknownCohort, got %v", err)
	}
	if n := ev.StaticUnknown("vip"); n != 2 {
		t.Errorf("StaticUnknown(vip) = %d, want 2 (u05, ghost)", n)
	}
	if n := ev.StaticUnknown("champion"); n != 0 {
		t.Errorf("StaticUnknown(champion) = %d, want 0", n)
	}
	// The cache follows index writes.
	if _, err := ix.Upsert("u07", bitmaps.Row{nil, nil, nil, nil, nil, []string{"cyclist"}}); err != nil {
		t.Fatal(err)
	}
	if got := members("cyclists", okNow); !slices.Equal(got, []string{"u02", "u03", "u07"}) {
		t.Errorf("cyclists after upsert = %v", got)
	}
	if _, err := ix.Upsert("u05", make(bitmaps.Row, len(s.Schema()))); err != nil {
		t.Fatal(err)
	}
	if n := ev.StaticUnknown("vip"); n != 1 {
		t.Errorf("StaticUnknown(vip) after u05 joined = %d, want 1", n)
	}
	if got := members("vip", okNow); !slices.Equal(got, []string{"u01", "u03", "u05"}) {
		t.Errorf("vip after u05 joined = %v", got)
	}
	// Ad-hoc queries see cached cohorts and count like they list.
	q, err := s.CompileExpr("cohort('cyclists') AND NOT cohort('vip')")
	if err != nil {
		t.Fatal(err)
	}
	n, err := ev.Count(ctx, q, okNow)
	if err != nil || n != 2 {
		t.Errorf("Count = %d, %v, want 2 (u02, u07)", n, err)
	}
	// Members belong to the caller: changing them leaves the cache alone.
	qc, _ := s.CompileExpr("cohort('cyclists')")
	mine, err := ev.Members(ctx, qc, okNow)
	if err != nil {
		t.Fatal(err)
	}
	mine.Clear()
	if got := members("cyclists", okNow); len(got) != 3 {
		t.Errorf("cached cyclists changed through Members: %v", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ev.Members(cctx, q, okNow); !errors.Is(err, context.Canceled) {
		t.Errorf("Members with a cancelled context: %v", err)
	}
	if ex := ev.Explain(q, okNow); !strings.Contains(ex, "cohort('cyclists')") || !strings.Contains(ex, "~") {
		t.Errorf("Explain:\n%s", ex)
	}
}

func TestProgramInputs(t *testing.T) {
	s := okSet(t)
	q, err := s.CompileExpr("visits_30d > 3 AND last_visit_at > now() - 7d AND 'cyclist' IN cohort_tags AND cohort('vip')")
	if err != nil {
		t.Fatal(err)
	}
	p, err := q.Program()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		user    map[string]any
		want    bool
		wantErr bool
	}{
		{"int64", map[string]any{"user_id": "u01", "visits_30d": int64(4), "last_visit_at": okNow.Unix() - 3600, "cohort_tags": []string{"cyclist"}}, true, false},
		{"int and time.Time and []any", map[string]any{"user_id": "u01", "visits_30d": 4, "last_visit_at": okNow.Add(-time.Hour), "cohort_tags": []any{"cyclist"}}, true, false},
		{"not static member", map[string]any{"user_id": "u02", "visits_30d": int64(4), "last_visit_at": okNow.Unix(), "cohort_tags": []string{"cyclist"}}, false, false},
		{"null", map[string]any{"user_id": "u01", "visits_30d": nil, "last_visit_at": okNow.Unix(), "cohort_tags": []string{"cyclist"}}, false, false},
		{"empty list", map[string]any{"user_id": "u01", "visits_30d": int64(4), "last_visit_at": okNow.Unix(), "cohort_tags": []string{}}, false, false},
		{"wrong type", map[string]any{"user_id": "u01", "visits_30d": "four"}, false, true},
		{"wrong list element", map[string]any{"user_id": "u01", "cohort_tags": []any{1}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Match(tt.user, okNow)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Match = %v, %v; want %v (error %v)\n%s", got, err, tt.want, tt.wantErr, p.Source())
			}
		})
	}
}

// TestExamples compiles the root cohorts.yaml and every example, so the
// docs cannot rot.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*", "*.yaml"))
	files = append(files, filepath.Join("..", "cohorts.yaml"))
	for _, f := range files {
		s, err := compiler.Load(f)
		if err != nil {
			var list dsl.ErrorList
			if errors.As(err, &list) {
				err = errors.New(list.Pretty())
			}
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, c := range s.Cohorts() {
			if _, err := c.Query.Program(); err != nil {
				t.Errorf("%s: %s: %v", f, c.Name, err)
			}
			if _, err := c.Query.SQL(okNow); err != nil {
				t.Errorf("%s: %s: %v", f, c.Name, err)
			}
		}
	}
}
