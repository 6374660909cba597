package events

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestMemHistoryAgainstModel adds reads and deletes users at random
// (deleted users' lists are reused by others) and compares every user's
// reads with a plain model: the newest max (ts, article) pairs.
func TestMemHistoryAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const max = 4
	h := NewMemHistory(max)
	model := map[string][]Read{}
	base := time.Date(2026, 1, 13, 0, 0, 0, 0, time.UTC)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	for step := range 3000 {
		u := users[r.IntN(len(users))]
		if r.IntN(15) == 0 {
			h.Delete(u)
			delete(model, u)
		} else {
			rd := Read{ArticleID: fmt.Sprintf("a%d", r.IntN(8)), TS: base.Add(time.Duration(r.IntN(30)) * time.Second)}
			if r.IntN(2) == 0 {
				h.Add(u, rd.ArticleID, rd.TS)
			} else {
				h.addReads([]sideOp{{kind: sideRead, user: u, art: rd.ArticleID, ts: rd.TS}})
			}
			if !slices.Contains(model[u], rd) {
				model[u] = append(model[u], rd)
			}
			// Newest first by (ts, article id order of first use); keep max.
			slices.SortFunc(model[u], func(a, b Read) int {
				if c := b.TS.Compare(a.TS); c != 0 {
					return c
				}
				return int(h.arts[b.ArticleID]) - int(h.arts[a.ArticleID])
			})
			model[u] = model[u][:min(len(model[u]), max)]
		}
		for _, u := range users {
			if got, want := h.Reads(u, 0), model[u]; !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
				t.Fatalf("step %d: Reads(%s) = %v, want %v", step, u, got, want)
			}
		}
		if h.Users() != len(model) {
			t.Fatalf("step %d: Users() = %d, want %d", step, h.Users(), len(model))
		}
	}
	if len(h.lists) > len(users) {
		t.Fatalf("%d lists for %d users: deleted users' lists are not reused", len(h.lists), len(users))
	}
}
