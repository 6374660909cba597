package compiler

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cohortd/cohortd/bitmaps"
)

// A population whose membership of a time-dependent cohort changes second
// by second: user uNN last visited NN seconds after base, and "recent"
// holds those who visited less than 7 days before now.
func secondsFixture(t *testing.T, base int64) (*Set, *bitmaps.Index) {
	t.Helper()
	set, err := CompileData("c.yaml", []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
  last_visit_at: {type: timestamp}
  tier: {type: string}
cohorts:
  g:
    recent: "last_visit_at > now() - 7d"
    gold: "tier == 'gold'"
    gold_recent: "cohort('gold') AND cohort('recent')"
    not_recent: "NOT cohort('recent')"
`))
	if err != nil {
		t.Fatal(err)
	}
	bl := bitmaps.NewBuilder(set.Schema())
	for i := range 40 {
		tier := any(nil)
		if i%2 == 0 {
			tier = "gold"
		}
		if err := bl.Add(fmt.Sprintf("u%02d", i), bitmaps.Row{base + int64(i), tier}); err != nil {
			t.Fatal(err)
		}
	}
	return set, bl.Build()
}

func snapNames(e *Evaluator, s *memberSnap, id uint32) []string {
	var out []string
	for i, b := range s.bms {
		if b.Contains(id) {
			out = append(out, e.byName[i].Name)
		}
	}
	return out
}

// TestUserCohortsSnapshot checks UserCohorts against CohortMembers at
// successive seconds: the snapshot must follow now for time-dependent
// cohorts and the index version for every cohort.
func TestUserCohortsSnapshot(t *testing.T) {
	base := int64(1_700_000_000)
	set, ix := secondsFixture(t, base)
	ev := NewEvaluator(set, ix)
	ctx := context.Background()
	for _, sec := range []int{0, 1, 5, 5, 20, 3} {
		// At base+7d+sec, users visiting at base+i with i > sec are recent.
		now := time.Unix(base+7*86400+int64(sec), 0)
		for i := range 40 {
			user := fmt.Sprintf("u%02d", i)
			got, err := ev.UserCohorts(ctx, user, now)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, name := range []string{"gold", "gold_recent", "not_recent", "recent"} {
				b, err := NewEvaluator(set, ix).CohortMembers(ctx, name, now)
				if err != nil {
					t.Fatal(err)
				}
				id, _ := ix.Lookup(user)
				if b.Contains(id) {
					want = append(want, name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("UserCohorts(%s) at +%ds = %v, want %v", user, sec, got, want)
			}
		}
	}
	// A write invalidates the snapshot.
	now := time.Unix(base+7*86400, 0)
	if _, err := ix.Set("u01", "tier", "gold"); err != nil {
		t.Fatal(err)
	}
	got, err := ev.UserCohorts(ctx, "u01", now)
	if err != nil || !slices.Equal(got, []string{"gold", "gold_recent", "recent"}) {
		t.Errorf("UserCohorts(u01) after the write = %v, %v; want [gold gold_recent recent]", got, err)
	}
}

// TestPrefetchNextSecond: a snapshot built ahead for the next second (what
// UserCohorts does in the background when now follows the wall clock)
// equals a fresh evaluation at that second and leaves the shared cache at
// the current second.
func TestPrefetchNextSecond(t *testing.T) {
	base := int64(1_700_000_000)
	set, ix := secondsFixture(t, base)
	ev := NewEvaluator(set, ix)
	ctx := context.Background()
	now := time.Unix(base+7*86400+10, 0)
	cur, err := ev.memberships(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	next, err := ev.buildSnap(ctx, now.Add(time.Second), cur.version, false)
	if err != nil {
		t.Fatal(err)
	}
	fresh := NewEvaluator(set, ix)
	for i, c := range ev.byName {
		want, err := fresh.CohortMembers(ctx, c.Name, now.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if !next.bms[i].Equals(want) {
			t.Errorf("prefetched %s = %v, want %v", c.Name, next.bms[i].ToArray(), want.ToArray())
		}
	}
	ev.mu.Lock()
	for name, hit := range ev.cache {
		if set.byName[name].TimeDependent && hit.now != now.Unix() {
			t.Errorf("the prefetch replaced the cached %s of second %d with second %d", name, now.Unix(), hit.now)
		}
	}
	ev.mu.Unlock()
	// The prefetched snapshot is promoted when the clock reaches it.
	ev.next.Store(next)
	got, err := ev.memberships(ctx, now.Add(time.Second))
	if err != nil || got != next {
		t.Errorf("memberships at the next second did not use the prefetched snapshot (%v)", err)
	}
	id, _ := ix.Lookup("u10") // visited at base+10: recent until now = base+7d+10
	if names := snapNames(ev, cur, id); !slices.Contains(names, "not_recent") || slices.Contains(names, "recent") {
		t.Errorf("u10 at +10s: %v, want not_recent (its visit is exactly 7 days old)", names)
	}
}

// TestPrefetchWallClock runs the background prefetch with the real clock.
func TestPrefetchWallClock(t *testing.T) {
	set, ix := secondsFixture(t, time.Now().Unix()-7*86400)
	ev := NewEvaluator(set, ix)
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		now := time.Now()
		if _, err := ev.UserCohorts(ctx, "u00", now); err != nil {
			t.Fatal(err)
		}
		if _, err := ev.UserCohorts(ctx, "u00", now); err != nil { // valid snapshot: starts the prefetch
			t.Fatal(err)
		}
		for range 100 {
			if n := ev.next.Load(); n != nil && n.now == now.Unix()+1 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Error("no snapshot of the next second was prefetched")
}

// TestCountInlinesUncachedReferences: a count materialises no referenced
// cohort (they are inlined) unless the cache already holds it, and gives
// the same answer either way.
func TestCountInlinesUncachedReferences(t *testing.T) {
	base := int64(1_700_000_000)
	set, ix := secondsFixture(t, base)
	ctx := context.Background()
	now := time.Unix(base+7*86400+10, 0)
	c, _ := set.Cohort("gold_recent")
	want, err := NewEvaluator(set, ix).Members(ctx, c.Query, now)
	if err != nil {
		t.Fatal(err)
	}
	ev := NewEvaluator(set, ix)
	n, err := ev.Count(ctx, c.Query, now)
	if err != nil || n != want.GetCardinality() {
		t.Fatalf("Count(gold_recent) = %d, %v; want %d", n, err, want.GetCardinality())
	}
	ev.mu.Lock()
	cachedNames := len(ev.cache)
	ev.mu.Unlock()
	if cachedNames != 0 {
		t.Errorf("Count cached %d cohort bitmaps, want none", cachedNames)
	}
	if _, err := ev.CohortMembers(ctx, "recent", now); err != nil {
		t.Fatal(err)
	}
	if n, err := ev.Count(ctx, c.Query, now); err != nil || n != want.GetCardinality() {
		t.Errorf("Count(gold_recent) with recent cached = %d, %v; want %d", n, err, want.GetCardinality())
	}
}

// TestIncrementalInvalidation: a write to one attribute re-evaluates only
// the cohorts that read it (their cached bitmap is replaced, the others
// are kept as they are), and every answer stays right.
func TestIncrementalInvalidation(t *testing.T) {
	base := int64(1_700_000_000)
	set, ix := secondsFixture(t, base)
	ev := NewEvaluator(set, ix)
	ctx := context.Background()
	now := time.Unix(base+7*86400+10, 0)
	before := map[string]*roaring.Bitmap{}
	for _, name := range []string{"gold", "recent", "gold_recent", "not_recent"} {
		b, err := ev.CohortMembers(ctx, name, now)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = b
	}
	if _, err := ix.Set("u03", "tier", "gold"); err != nil { // u03 visited at base+3: not recent
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		kept bool
	}{{"gold", false}, {"gold_recent", false}, {"recent", true}, {"not_recent", true}} {
		b, err := ev.CohortMembers(ctx, tt.name, now)
		if err != nil {
			t.Fatal(err)
		}
		if (b == before[tt.name]) != tt.kept {
			t.Errorf("%s after a tier write: cached bitmap kept = %v, want %v", tt.name, b == before[tt.name], tt.kept)
		}
		c, _ := set.Cohort(tt.name)
		want, err := NewEvaluator(set, ix).Members(ctx, c.Query, now)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Equals(want) {
			t.Errorf("%s after a tier write = %v, want %v", tt.name, b.ToArray(), want.ToArray())
		}
	}
	// A new user changes every cohort's universe.
	if _, err := ix.Set("u99", "tier", "gold"); err != nil {
		t.Fatal(err)
	}
	if b, _ := ev.CohortMembers(ctx, "not_recent", now); b == before["not_recent"] || !b.Contains(mustLookup(t, ix, "u99")) {
		t.Errorf("not_recent after a new user: not re-evaluated or missing u99 (NULL last visit)")
	}
}

func mustLookup(t *testing.T, ix *bitmaps.Index, user string) uint32 {
	t.Helper()
	id, ok := ix.Lookup(user)
	if !ok {
		t.Fatalf("no user %q", user)
	}
	return id
}
