package compiler

import (
	"context"
	"errors"
	"fmt"
	mathbits "math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
// bitmaps per stamp of the fields they read (bitmaps.Index.Stamp: a write
// to one field invalidates only the cohorts that depend on it, an insert
// or delete of a user all of them) and per second of now for
// time-dependent cohorts. It is safe for concurrent use.
type Evaluator struct {
	set *Set
	ix  *bitmaps.Index

	mu      sync.Mutex
	cache   map[string]cached // cohort name → latest bitmap
	unknown map[string]unknownCount

	// UserCohorts reads every cohort's bitmap from one immutable snapshot
	// (no lock, no map lookup per cohort); the snapshot is rebuilt by one
	// caller at a time when the index or, for time-dependent cohorts, the
	// second of now changed. When now follows the wall clock, the snapshot
	// of the next second is computed ahead in the background, so the
	// clock ticking over does not stall requests.
	byName   []*Cohort // set's cohorts sorted by name
	timeDep  bool      // some cohort depends on now
	snap     atomic.Pointer[memberSnap]
	next     atomic.Pointer[memberSnap] // prefetched snapshot of a later second
	snapMu   sync.Mutex
	fetching atomic.Bool
}

// memberSnap holds every cohort's members at one index version and second,
// aligned with Evaluator.byName. Immutable.
type memberSnap struct {
	version uint64
	now     int64
	bms     []*roaring.Bitmap
	ms      []bitmaps.Membership // the same sets, for one-access Contains
}

func (s *memberSnap) valid(version uint64, now int64, timeDep bool) bool {
	return s != nil && s.version == version && (!timeDep || s.now == now)
}

type cached struct {
	stamp uint64 // Index.Stamp of the cohort's Deps
	now   int64
	b     *roaring.Bitmap
}

type unknownCount struct {
	version uint64
	n       int
}

// NewEvaluator returns an evaluator of s's cohorts over ix.
func NewEvaluator(s *Set, ix *bitmaps.Index) *Evaluator {
	e := &Evaluator{set: s, ix: ix, cache: map[string]cached{}, unknown: map[string]unknownCount{}}
	if s != nil {
		e.byName = slices.Clone(s.cohorts)
		slices.SortFunc(e.byName, func(a, b *Cohort) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range e.byName {
			e.timeDep = e.timeDep || c.TimeDependent
		}
	}
	return e
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

// countEnv is the plan environment of counts: a referenced cohort comes
// from the cache when its bitmap is there, a static one is computed and
// cached, and any other is inlined, so that a count materialises no
// member bitmap the evaluator does not already hold.
func (e *Evaluator) countEnv(ctx context.Context, now time.Time) PlanEnv {
	return PlanEnv{
		Index: e.ix,
		Cohort: func(name string) (*roaring.Bitmap, bool) {
			if b, ok := e.cached(name, now); ok {
				return b, true
			}
			if c, ok := e.set.byName[name]; ok && c.Static {
				b, err := e.CohortMembers(ctx, name, now)
				return b, err == nil
			}
			return nil, false
		},
	}
}

// cached returns cohort name's bitmap at now if the cache holds it.
func (e *Evaluator) cached(name string, now time.Time) (*roaring.Bitmap, bool) {
	c, ok := e.set.byName[name]
	if !ok {
		return nil, false
	}
	stamp := e.ix.Stamp(c.Deps)
	e.mu.Lock()
	hit, ok := e.cache[name]
	e.mu.Unlock()
	if ok && hit.stamp == stamp && (!c.TimeDependent || hit.now == nowSec(now)) {
		return hit.b, true
	}
	return nil, false
}

// Count returns the number of users matching q at now.
func (e *Evaluator) Count(ctx context.Context, q *Query, now time.Time) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := q.Plan(now, e.countEnv(ctx, now))
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
	stamp := e.ix.Stamp(c.Deps)
	if b, ok := e.cached(name, now); ok {
		return b, nil
	}
	b, err := e.Members(ctx, c.Query, now)
	if err != nil {
		return nil, err
	}
	b.RunOptimize()
	e.mu.Lock()
	e.cache[name] = cached{stamp: stamp, now: sec, b: b}
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
	snap, err := e.memberships(ctx, now)
	if err != nil {
		return nil, err
	}
	// First every set's bit into a mask (no branch on the answers, so the
	// memory loads overlap), then the names.
	var small [4]uint64
	mask := small[:]
	if n := (len(snap.ms) + 63) / 64; n > len(small) {
		mask = make([]uint64, n)
	}
	for i, m := range snap.ms {
		mask[i>>6] |= m.Bit(id) << (i & 63)
	}
	n := 0
	for _, bits := range mask {
		n += mathbits.OnesCount64(bits)
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]string, 0, n)
	for w, bits := range mask {
		for bits != 0 {
			i := w*64 + mathbits.TrailingZeros64(bits)
			bits &= bits - 1
			out = append(out, e.byName[i].Name)
		}
	}
	return out, nil
}

// memberships returns the snapshot of every cohort's members at now.
func (e *Evaluator) memberships(ctx context.Context, now time.Time) (*memberSnap, error) {
	sec, version := nowSec(now), e.ix.Version()
	if s := e.snap.Load(); s.valid(version, sec, e.timeDep) {
		e.prefetch(s, sec)
		return s, nil
	}
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	if s := e.snap.Load(); s.valid(version, sec, e.timeDep) {
		return s, nil
	}
	if s := e.next.Load(); s.valid(version, sec, e.timeDep) {
		e.snap.Store(s)
		return s, nil
	}
	s, err := e.buildSnap(ctx, now, version, true)
	if err != nil {
		return nil, err
	}
	e.snap.Store(s)
	return s, nil
}

// prefetch starts computing the snapshot of the next second in the
// background when cur is the snapshot of the wall clock's current second,
// so that the first requests of the next second find it ready.
func (e *Evaluator) prefetch(cur *memberSnap, sec int64) {
	if !e.timeDep || sec != time.Now().Unix() {
		return // a pinned or past instant: nothing to anticipate
	}
	if n := e.next.Load(); n != nil && n.version == cur.version && n.now > sec {
		return
	}
	if !e.fetching.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer e.fetching.Store(false)
		s, err := e.buildSnap(context.Background(), time.Unix(sec+1, 0), cur.version, false)
		if err == nil {
			e.next.Store(s)
		}
	}()
}

// buildSnap evaluates every cohort at now. shared says whether the results
// go to the per-cohort cache; a prefetch of a later second keeps its
// time-dependent bitmaps to itself, so that callers still at the current
// second keep their cached ones.
func (e *Evaluator) buildSnap(ctx context.Context, now time.Time, version uint64, shared bool) (*memberSnap, error) {
	s := &memberSnap{version: version, now: nowSec(now), bms: make([]*roaring.Bitmap, len(e.byName))}
	if shared {
		for i, c := range e.byName {
			b, err := e.CohortMembers(ctx, c.Name, now)
			if err != nil {
				return nil, err
			}
			s.bms[i] = b
		}
		s.memberships(e.ix, e.snap.Load())
		return s, nil
	}
	local := map[string]*roaring.Bitmap{}
	var at func(name string) (*roaring.Bitmap, error)
	at = func(name string) (*roaring.Bitmap, error) {
		c := e.set.byName[name]
		if !c.TimeDependent {
			return e.CohortMembers(ctx, name, now)
		}
		if b, ok := local[name]; ok {
			return b, nil
		}
		env := PlanEnv{Index: e.ix, Cohort: func(ref string) (*roaring.Bitmap, bool) {
			b, err := at(ref)
			return b, err == nil
		}}
		b := e.ix.Eval(c.Query.Plan(now, env).Root)
		b.RunOptimize()
		local[name] = b
		return b, ctx.Err()
	}
	for i, c := range e.byName {
		b, err := at(c.Name)
		if err != nil {
			return nil, err
		}
		s.bms[i] = b
	}
	s.memberships(e.ix, e.snap.Load())
	return s, nil
}

// memberships fills s.ms from s.bms, reusing those of prev (an earlier
// snapshot) whose bitmap is the same: from one second to the next only
// the time-dependent cohorts change.
func (s *memberSnap) memberships(ix *bitmaps.Index, prev *memberSnap) {
	s.ms = make([]bitmaps.Membership, len(s.bms))
	for i, b := range s.bms {
		if prev != nil && i < len(prev.bms) && prev.bms[i] == b {
			s.ms[i] = prev.ms[i]
		} else {
			s.ms[i] = ix.Membership(b)
		}
	}
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
