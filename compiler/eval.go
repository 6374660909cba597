package compiler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cohortd/cohortd/bitmaps"
)

// ErrUnknownUser is returned (wrapped) for a user id the index does not know.
var ErrUnknownUser = errors.New("unknown user")

// ErrUnknownCohort is returned (wrapped) for a cohort name the set does not
// define.
var ErrUnknownCohort = errors.New("unknown cohort")

// Evaluator evaluates queries of one Set over one Index, caching cohort
// bitmaps per index version (and per second of now for time-dependent
// cohorts). It is safe for concurrent use.
type Evaluator struct {
	set *Set
	ix  *bitmaps.Index

	mu      sync.Mutex
	cache   map[string]cached // cohort name → latest bitmap
	unknown map[string]unknownCount
}

type cached struct {
	version uint64
	now     int64
	b       *roaring.Bitmap
}

type unknownCount struct {
	version uint64
	n       int
}

// NewEvaluator returns an evaluator of s's cohorts over ix.
func NewEvaluator(s *Set, ix *bitmaps.Index) *Evaluator {
	return &Evaluator{set: s, ix: ix, cache: map[string]cached{}, unknown: map[string]unknownCount{}}
}

// Set returns the evaluator's cohort set.
func (e *Evaluator) Set() *Set { return e.set }

// Index returns the evaluator's index.
func (e *Evaluator) Index() *bitmaps.Index { return e.ix }

// env is the plan environment with cached cohort bitmaps at now.
func (e *Evaluator) env(ctx context.Context, now time.Time) PlanEnv {
	return PlanEnv{
		Index: e.ix,
		Cohort: func(name string) (*roaring.Bitmap, bool) {
			b, err := e.CohortMembers(ctx, name, now)
			return b, err == nil
		},
	}
}

// Members returns the users matching q at now, as a new bitmap owned by the
// caller.
func (e *Evaluator) Members(ctx context.Context, q *Query, now time.Time) (*roaring.Bitmap, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := q.Plan(now, e.env(ctx, now))
	b := e.ix.Eval(p.Root)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b, nil
}

// Count returns the number of users matching q at now.
func (e *Evaluator) Count(ctx context.Context, q *Query, now time.Time) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := q.Plan(now, e.env(ctx, now))
	n := e.ix.Count(p.Root)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return n, nil
}

// CohortMembers returns the members of cohort name at now. The bitmap is
// cached and shared: the caller must not modify it.
func (e *Evaluator) CohortMembers(ctx context.Context, name string, now time.Time) (*roaring.Bitmap, error) {
	c, ok := e.set.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownCohort, name)
	}
	sec := nowSec(now)
	version := e.ix.Version()
	e.mu.Lock()
	hit, ok := e.cache[name]
	e.mu.Unlock()
	if ok && hit.version == version && (!c.TimeDependent || hit.now == sec) {
		return hit.b, nil
	}
	b, err := e.Members(ctx, c.Query, now)
	if err != nil {
		return nil, err
	}
	b.RunOptimize()
	e.mu.Lock()
	e.cache[name] = cached{version: version, now: sec, b: b}
	e.mu.Unlock()
	return b, nil
}

// UserCohorts returns the sorted names of the cohorts userID belongs to at
// now; ErrUnknownUser (wrapped) when the index does not know the user.
func (e *Evaluator) UserCohorts(ctx context.Context, userID string, now time.Time) ([]string, error) {
	id, ok := e.ix.Lookup(userID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownUser, userID)
	}
	var out []string
	for _, c := range e.set.cohorts {
		b, err := e.CohortMembers(ctx, c.Name, now)
		if err != nil {
			return nil, err
		}
		if b.Contains(id) {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Explain returns the plan of q at now with estimated cardinalities. An
// evaluator without an index (NewEvaluator(set, nil)) explains the plan
// alone: cohort references inlined, no estimates.
func (e *Evaluator) Explain(q *Query, now time.Time) string {
	if e.ix == nil {
		return q.Plan(now, PlanEnv{}).String()
	}
	return q.Plan(now, e.env(context.Background(), now)).String()
}

// StaticUnknown returns how many ids of static cohort name the index does
// not know (they are ignored, never an error); 0 for other cohorts.
func (e *Evaluator) StaticUnknown(name string) int {
	c, ok := e.set.byName[name]
	if !ok || !c.Static {
		return 0
	}
	version := e.ix.Version()
	e.mu.Lock()
	hit, ok := e.unknown[name]
	e.mu.Unlock()
	if ok && hit.version == version {
		return hit.n
	}
	n := 0
	for _, id := range c.Members {
		if _, ok := e.ix.Lookup(id); !ok {
			n++
		}
	}
	e.mu.Lock()
	e.unknown[name] = unknownCount{version: version, n: n}
	e.mu.Unlock()
	return n
}
