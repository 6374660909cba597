package compiler_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

const exampleYAML = `version: 1
attributes:
  user_id:         {type: string, key: true}
  engagement_tier: {type: string, values: [champion, loyal, dormant]}
  last_visit_at:   {type: timestamp}
  cohort_tags:     {type: "list<string>"}
derived:
  days_since_last_visit: days_since(last_visit_at)
cohorts:
  engagement_based:
    champion: "engagement_tier == 'champion' AND days_since_last_visit < 7"
  interest_based:
    cyclists: "'cyclist' IN cohort_tags"
`

func ExampleCompile() {
	f, err := dsl.ParseData("cohorts.yaml", []byte(exampleYAML))
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := compiler.Compile(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.Summary())
	for _, c := range set.Cohorts() {
		fmt.Printf("%s: %s (reads %v)\n", c.Name, c.Query, c.Deps)
	}
	// Output:
	// 2 cohorts in 2 groups, 4 attributes: ok
	// champion: engagement_tier == 'champion' AND days_since(last_visit_at) <= 6 (reads [engagement_tier last_visit_at])
	// cyclists: 'cyclist' IN cohort_tags (reads [cohort_tags])
}

func ExampleCompile_errors() {
	bad := `version: 1
attributes:
  user_id:         {type: string, key: true}
  engagement_tier: {type: string, values: [champion, loyal]}
cohorts:
  champion: "engagment_tier == 'champoin'"
  loyal: "engagement_tier == 'loyall'"
`
	_, err := compiler.CompileData("cohorts.yaml", []byte(bad))
	var list dsl.ErrorList
	if errors.As(err, &list) {
		fmt.Println(list.Pretty())
	}
	// Output:
	// cohorts.yaml:6:14: unknown attribute "engagment_tier" (did you mean "engagement_tier"?)
	//    |   champion: "engagment_tier == 'champoin'"
	//    |              ^
	// cohorts.yaml:7:30: "loyall" is not a value of engagement_tier (did you mean "loyal"?)
	//    |   loyal: "engagement_tier == 'loyall'"
	//    |                              ^
	// 2 errors
}

func ExampleSet_CompileExpr() {
	set, _ := compiler.CompileData("cohorts.yaml", []byte(exampleYAML))
	q, err := set.CompileExpr("NOT (engagement_tier != 'loyal') AND days_since_last_visit > 14")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	sql, _ := q.SQL(now)
	fmt.Println(q)
	fmt.Println(sql)

	_, err = set.CompileExpr("engagement_tier == 'loyal' AND visits > 3")
	fmt.Println(err)
	// Output:
	// engagement_tier == 'loyal' AND days_since(last_visit_at) >= 15
	// (ifNull(`engagement_tier` = 'loyal', 0) AND ifNull(toInt64(`last_visit_at`) <= 1767182400, 0))
	// 1:32: unknown attribute "visits"
}

func ExampleEvaluator() {
	set, _ := compiler.CompileData("cohorts.yaml", []byte(exampleYAML))
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	day := int64(24 * 60 * 60)

	// Rows follow set.Schema(): engagement_tier, last_visit_at, cohort_tags.
	b := bitmaps.NewBuilder(set.Schema())
	_ = b.Add("ana", bitmaps.Row{"champion", now.Unix() - 2*day, []string{"cyclist"}})
	_ = b.Add("ben", bitmaps.Row{"champion", now.Unix() - 9*day, nil})
	_ = b.Add("cy", bitmaps.Row{nil, nil, []string{"cyclist", "runner"}})
	ev := compiler.NewEvaluator(set, b.Build())

	ctx := context.Background()
	q, _ := set.CompileExpr("cohort('champion') OR 'runner' IN cohort_tags")
	n, _ := ev.Count(ctx, q, now)
	fmt.Println("count:", n)
	cohorts, _ := ev.UserCohorts(ctx, "ana", now)
	fmt.Println("ana:", cohorts)
	_, err := ev.UserCohorts(ctx, "zoe", now)
	fmt.Println(errors.Is(err, compiler.ErrUnknownUser))
	fmt.Println(ev.Explain(q, now))
	// Output:
	// count: 2
	// ana: [champion cyclists]
	// true
	// OR ~2
	// ├─ cohort('champion') ~1
	// └─ 'runner' IN cohort_tags ~1
}
