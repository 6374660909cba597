package compiler_test

import (
	"fmt"
	"time"

	"github.com/cohortd/cohortd/compiler"
)

func ExampleTracker() {
	set, err := compiler.CompileData("cohorts.yaml", []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
  engagement_tier: {type: string}
  last_visit_at: {type: timestamp}
  email_engagement: {type: string}
derived:
  days_since_last_visit: days_since(last_visit_at)
cohorts:
  champion: "engagement_tier == 'champion' AND days_since_last_visit < 7"
  reachable: "email_engagement == 'moderate'"
  champion_to_mail: "cohort('champion') AND cohort('reachable')"
`))
	if err != nil {
		panic(err)
	}
	tr, err := compiler.NewTracker(set)
	if err != nil {
		panic(err)
	}
	var names []string
	for _, i := range tr.Affected([]string{"last_visit_at"}) {
		names = append(names, tr.Cohort(i).Name)
	}
	fmt.Println("a visit can change:", names)

	now := time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC)
	before := map[string]any{"user_id": "u-42", "engagement_tier": "champion", "email_engagement": "moderate",
		"last_visit_at": now.AddDate(0, 0, -30).Unix()}
	after := map[string]any{"user_id": "u-42", "engagement_tier": "champion", "email_engagement": "moderate",
		"last_visit_at": now.Add(-time.Hour).Unix()}
	changes, err := tr.DiffUsers(before, after, []string{"last_visit_at"}, now)
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c.Cohort, c.Kind())
	}
	// Output:
	// a visit can change: [champion champion_to_mail]
	// champion entered
	// champion_to_mail entered
}
