package compiler_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store"
)

// TestDenseEvaluatorAtScale runs the root file's cohorts and some harder
// expressions over 300,000 generated users, enough for the index's dense
// structures and evaluator (bitmaps, from 2^18 ids), and checks members and
// counts against the expr-lang program on a sample of users and against
// each other.
func TestDenseEvaluatorAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300,000-user index")
	}
	set, err := compiler.Load(filepath.Join("..", "cohorts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	ix, _, err := store.LoadDemo(context.Background(), set.Key(), set.Schema(), store.DemoOptions{Users: 300_000, Seed: 3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]*compiler.Query{}
	for _, c := range set.Cohorts() {
		queries[c.Name] = c.Query
	}
	for _, src := range []string{
		"NOT (engagement_tier IN ('dormant', 'new') OR (device_preference == 'desktop' AND NOT seasonal_match)) AND visits_30d >= 5",
		"cohort_tags HAS ANY ('runner', 'triathlete', 'swimmer', 'hiker') AND email_engagement != 'unsubscribed'",
		"engagement_score BETWEEN 40 AND 75 AND peak_hour BETWEEN 6 AND 9",
		"(cohort('champion') OR cohort('at_risk')) AND NOT cohort('newsletter_engaged')",
		"days_since(signup_at) BETWEEN 30 AND 365 AND days_since_last_visit <= 3",
		"engagement_score > 20.5 AND engagement_score < 80 AND NOT (visits_30d BETWEEN 3 AND 9) AND last_visit_at < now() - 2d",
		"peak_hour IN (7, 8, 19) OR days_since_signup > 600 OR 'Monday' IN peak_days",
	} {
		q, err := set.CompileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		queries[src] = q
	}
	ctx := context.Background()
	schema := set.Schema()
	r := rand.New(rand.NewPCG(7, 8))
	ids := make([]uint32, 3000)
	for i := range ids {
		ids[i] = uint32(r.IntN(ix.Len()))
	}
	for name, q := range queries {
		ev := compiler.NewEvaluator(set, ix)
		members, err := ev.Members(ctx, q, now)
		if err != nil {
			t.Fatal(err)
		}
		n, err := compiler.NewEvaluator(set, ix).Count(ctx, q, now)
		if err != nil {
			t.Fatal(err)
		}
		if n != members.GetCardinality() {
			t.Errorf("%s: Count = %d, Members has %d", name, n, members.GetCardinality())
		}
		prog, err := q.Program()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			user, _ := ix.UserID(id)
			row, _ := ix.Row(id)
			want, err := prog.Match(compiler.UserMap(set.Key(), user, schema, row), now)
			if err != nil {
				t.Fatal(err)
			}
			if got := members.Contains(id); got != want {
				t.Fatalf("%s: user %s: member = %v, the expr program says %v", name, user, got, want)
			}
		}
	}
}
