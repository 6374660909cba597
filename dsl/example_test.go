package dsl_test

import (
	"fmt"

	"github.com/cohortd/cohortd/dsl"
)

func ExampleParseExpr() {
	e, err := dsl.ParseExpr(`engagement_tier = 'dormant' and seasonal_match == true`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(dsl.Print(e))
	// Output:
	// engagement_tier == 'dormant' AND seasonal_match == true
}

func ExampleParseExpr_error() {
	_, err := dsl.ParseExpr(`visits_30d BETWEEN 2 AND`)
	if list, ok := err.(dsl.ErrorList); ok {
		fmt.Println(list.Pretty())
	}
	// Output:
	// 1:25: unexpected end of expression (expected a literal)
	//    | visits_30d BETWEEN 2 AND
	//    |                         ^
	// 1 error
}

func ExampleInspect() {
	e, _ := dsl.ParseExpr(`cohort('app_users') AND NOT cohort('dormant')`)
	dsl.Inspect(e, func(n dsl.Node) bool {
		if ref, ok := n.(*dsl.CohortRef); ok {
			fmt.Println(ref.Name, ref.Pos.Column)
		}
		return true
	})
	// Output:
	// app_users 1
	// dormant 29
}

func ExampleParseData() {
	src := []byte(`version: 1
attributes:
  user_id:         {type: string, key: true}
  engagement_tier: {type: string}
cohorts:
  engagement_based:
    champion:
      exprr: "engagement_tier == 'champion'"
    at_risk: >
      engagement_tier == 'loyal'
      AND AND days_since_last_visit > 14
`)
	_, err := dsl.ParseData("cohorts.yaml", src)
	if list, ok := err.(dsl.ErrorList); ok {
		fmt.Println(list.Pretty())
	}
	// Output:
	// cohorts.yaml:8:7: unknown key "exprr" in cohort "champion" (did you mean "expr"?)
	//    |       exprr: "engagement_tier == 'champion'"
	//    |       ^
	// cohorts.yaml:11:11: unexpected "AND" (expected a condition)
	//    |       AND AND days_since_last_visit > 14
	//    |           ^
	// 2 errors
}

func ExampleFile_Errorf() {
	src := []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
cohorts:
  champion: "engagment_tier == 'champion'"
`)
	f, _ := dsl.ParseData("cohorts.yaml", src)
	// A later stage (the compiler) reports on a node's position.
	id := f.Cohort("champion").Expr.(*dsl.Compare).Left.(*dsl.Ident)
	hint := dsl.Suggest(id.Name, []string{"engagement_tier", "user_id"})
	fmt.Println(f.Errorf(id.Pos, "unknown attribute %q (did you mean %q?)", id.Name, hint).Pretty())
	// Output:
	// cohorts.yaml:5:14: unknown attribute "engagment_tier" (did you mean "engagement_tier"?)
	//    |   champion: "engagment_tier == 'champion'"
	//    |              ^
}

func ExampleSuggest() {
	fmt.Printf("%q\n", dsl.Suggest("visits_3d", []string{"visits_30d", "peak_hour"}))
	fmt.Printf("%q\n", dsl.Suggest("colour", []string{"visits_30d", "peak_hour"}))
	// Output:
	// "visits_30d"
	// ""
}
