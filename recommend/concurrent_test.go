package recommend

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse runs requests beside the event pipeline's writes (run
// it with -race).
func TestConcurrentUse(t *testing.T) {
	w := newWorld(9, 600, 60, 15)
	r := w.recommender(t, Options{Cohorts: fakeCohorts{"all": w.users[:30]}, Experiments: testExperiments})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := range 40 {
				u := w.users[(g*40+i)%len(w.users)]
				if _, err := r.Recommend(ctx, Request{UserID: u, Context: RequestContext{SessionTopics: []string{"gravel"}}}); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if _, err := r.RecommendForCohort(ctx, CohortRequest{Cohort: "all"}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 40 {
			u := w.users[i%len(w.users)]
			_ = r.AddRead(u, w.arts[i].ID, fixtureNow.Add(-time.Duration(i)*time.Minute))
			_ = r.AddArticle(ctx, Article{ID: fmt.Sprintf("new-%d", i), Title: "Gravel Routes", Topics: []string{"gravel"}, PublishedAt: fixtureNow.Add(-time.Hour)})
			if i%8 == 0 {
				_ = r.SessionEnd(ctx, u)
				_ = r.DeleteUser(ctx, w.users[len(w.users)-1-i/8])
			}
			_ = r.RecordFeedback([]Feedback{{UserID: u, ArticleID: "a", Type: "impression"}})
		}
	})
	wg.Wait()
	if _, err := r.Results("recs-2026-01"); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshUsersEvery(t *testing.T) {
	r := smallWorld(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.RefreshUsersEvery(ctx, 10*time.Millisecond); close(done) }()
	// A new reader enters the user index without a session_end.
	if err := r.AddRead("late-reader", "cycling-7", fixtureNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	idx := r.usrIndex.(*ExactIndex)
	if _, ok := idx.Vector("late-reader"); ok {
		t.Fatal("the new reader is indexed before any batch")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := idx.Vector("late-reader"); ok {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if _, ok := idx.Vector("late-reader"); !ok {
		t.Fatal("the batch did not add the new reader to the user index")
	}
}
