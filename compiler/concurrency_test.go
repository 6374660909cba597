package compiler_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
)

// TestEvaluatorConcurrent reads cohorts from many goroutines while the index
// changes (run with -race); every answer must match a fresh evaluation of
// the same index state, and after the writes stop the cache must catch up.
func TestEvaluatorConcurrent(t *testing.T) {
	s := okSet(t)
	ix := okIndex(t, s)
	ev := compiler.NewEvaluator(s, ix)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				now := okNow.Add(time.Duration(i%3) * time.Second)
				if _, err := ev.UserCohorts(ctx, "u03", now); err != nil {
					t.Error(err)
					return
				}
				if _, err := ev.CohortMembers(ctx, []string{"cyclists", "vip_or_champion", "engaged_cyclists"}[(g+i)%3], now); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		row := make(bitmaps.Row, len(s.Schema()))
		row[5] = []string{"cyclist"}
		if _, err := ix.Upsert(fmt.Sprintf("w%03d", i), row); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	b, err := ev.CohortMembers(ctx, "cyclists", okNow)
	if err != nil {
		t.Fatal(err)
	}
	if b.GetCardinality() != 202 {
		t.Errorf("cyclists after the writes: %d members, want 202", b.GetCardinality())
	}
	got, _ := ev.UserCohorts(ctx, "w199", okNow)
	if !slices.Equal(got, []string{"cyclists"}) {
		t.Errorf("UserCohorts(w199) = %v", got)
	}
}
