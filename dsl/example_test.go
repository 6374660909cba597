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
