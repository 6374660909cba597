package compiler_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestLargeLists: IN lists of many values compile to one node quickly (the
// normaliser merges with maps, not pairwise).
func TestLargeLists(t *testing.T) {
	s := diffSet(t)
	for _, attr := range []string{"user_id", "s1", "i1"} {
		vals := make([]string, 5000)
		for i := range vals {
			if attr == "i1" {
				vals[i] = fmt.Sprint(i % 4000)
			} else {
				vals[i] = fmt.Sprintf("'v%d'", i%4000)
			}
		}
		src := attr + " IN (" + strings.Join(vals, ", ") + ") AND " + attr + " NOT IN (" + strings.Join(vals[:100], ", ") + ")"
		q, err := s.CompileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", attr, err)
		}
		if n := strings.Count(q.String(), ","); n != 4000-100-1 {
			t.Errorf("%s: %d values in the normal form, want %d", attr, n+1, 4000-100)
		}
	}
}
