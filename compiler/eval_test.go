package compiler

import (
	"strings"
	"testing"
	"time"
)

// Explain works without an index (cohortd explain with no --data): cohort
// references are inlined and no estimates are printed.
func TestExplainWithoutIndex(t *testing.T) {
	set, err := CompileData("c.yaml", []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
  n: {type: int}
cohorts:
  g:
    small: "n < 3"
    both: "cohort('small') OR n > 10"
`))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := set.Cohort("both")
	got := NewEvaluator(set, nil).Explain(c.Query, time.Unix(0, 0))
	if !strings.Contains(got, "n <= 2") || !strings.Contains(got, "n >= 11") || strings.Contains(got, "~") {
		t.Errorf("explain without an index:\n%s\nwant the inlined plan without estimates", got)
	}
}
