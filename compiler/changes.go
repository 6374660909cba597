package compiler

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/cohortd/cohortd/bitmaps"
)

// Tracker answers, for streaming updates, which cohorts an attribute change
// can affect and how one user's membership changed. Dependencies are the
// cohorts' Deps (transitive through derived names and cohort references)
// without the key attribute: a static cohort depends on no attribute, only on
// the user existing. Re-evaluation runs each cohort's checked tree natively
// on the user's values (rowmatch.go; the expr-lang program is the fallback
// and the reference it is tested against), so one user costs well under a
// microsecond per cohort whatever the population.
//
// A Tracker is immutable after NewTracker and safe for concurrent use.
type Tracker struct {
	set     *Set
	cohorts []*Cohort
	byName  map[string]int
	progs   []*Program
	deps    [][]string       // per cohort: attributes, key excluded, sorted
	byAttr  map[string][]int // attribute → cohorts reading it, ascending
	timeDep []int
	all     []int
	attrs   map[string]attrType // every catalog attribute, for input checks
	key     string
	vms     sync.Pool

	// Native evaluation (rowmatch.go): every catalog attribute has a slot
	// in a userEnv; match[i] evaluates cohort i from one.
	slots    map[string]int
	names    []string // slot → attribute name
	keySlot  int
	match    []rowMatcher
	depSlots [][]int // per cohort: slots of deps
	envs     sync.Pool
}

// Change is one membership change of one user.
type Change struct {
	Cohort  string
	Entered bool // false: exited
}

// Kind returns "entered" or "exited".
func (c Change) Kind() string {
	if c.Entered {
		return "entered"
	}
	return "exited"
}

// NewTracker compiles the programs of every cohort of s.
func NewTracker(s *Set) (*Tracker, error) {
	t := &Tracker{set: s, cohorts: s.Cohorts(), byName: map[string]int{}, byAttr: map[string][]int{},
		attrs: map[string]attrType{}, key: s.Key()}
	t.vms.New = func() any { return new(vm.VM) }
	t.slots = map[string]int{}
	for _, a := range s.Attributes() {
		t.attrs[a.Name] = attrType{typ: a.Type, key: a.Key}
		if _, dup := t.slots[a.Name]; !dup {
			t.slots[a.Name] = len(t.names)
			t.names = append(t.names, a.Name)
		}
	}
	if _, ok := t.slots[t.key]; !ok { // a catalog always has its key; be safe
		t.slots[t.key] = len(t.names)
		t.names = append(t.names, t.key)
	}
	t.keySlot = t.slots[t.key]
	n := len(t.names)
	t.envs.New = func() any { return &userEnv{vals: make([]any, n), loaded: make([]bool, n)} }
	mb := &matcherBuilder{set: s, slots: t.slots}
	for i, co := range t.cohorts {
		t.byName[co.Name] = i
		p, err := co.Query.Program()
		if err != nil {
			return nil, fmt.Errorf("cohort %q: %w", co.Name, err)
		}
		t.progs = append(t.progs, p)
		t.match = append(t.match, mb.build(co.Query.raw, 0))
		var (
			deps  []string
			slots []int
		)
		for _, d := range co.Deps {
			if d != t.key {
				deps = append(deps, d)
				t.byAttr[d] = append(t.byAttr[d], i)
			}
			if sl, ok := t.slots[d]; ok {
				slots = append(slots, sl)
			}
		}
		t.deps = append(t.deps, deps)
		t.depSlots = append(t.depSlots, slots)
		if co.TimeDependent {
			t.timeDep = append(t.timeDep, i)
		}
		t.all = append(t.all, i)
	}
	return t, nil
}

// Set returns the cohort set the tracker was built from.
func (t *Tracker) Set() *Set { return t.set }

// Len returns the number of cohorts; cohorts are numbered 0..Len()-1 in
// file order (as Set.Cohorts).
func (t *Tracker) Len() int { return len(t.cohorts) }

// Cohort returns cohort number i.
func (t *Tracker) Cohort(i int) *Cohort { return t.cohorts[i] }

// Lookup returns the number of the cohort called name.
func (t *Tracker) Lookup(name string) (int, bool) {
	i, ok := t.byName[name]
	return i, ok
}

// DependsOn returns the attributes whose change can change cohort i's
// members (empty for a static cohort), sorted.
func (t *Tracker) DependsOn(i int) []string { return t.deps[i] }

// All returns every cohort number (for a user that was created or deleted).
// The slice is shared: do not modify it.
func (t *Tracker) All() []int { return t.all }

// TimeDependent returns the cohorts whose members change with time alone
// (now(), days_since, also through references). Shared: do not modify.
func (t *Tracker) TimeDependent() []int { return t.timeDep }

// Affected returns the cohorts that read any of the attributes, ascending.
func (t *Tracker) Affected(attrs []string) []int {
	switch len(attrs) {
	case 0:
		return nil
	case 1:
		return t.byAttr[attrs[0]]
	}
	var out []int
	for _, a := range attrs {
		out = append(out, t.byAttr[a]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// UserMap returns the attribute map Match and Diff take for one user of
// an index: the key plus every non-NULL value of row (aligned with schema).
func UserMap(key, userID string, schema bitmaps.Schema, row bitmaps.Row) map[string]any {
	u := make(map[string]any, len(row)+1)
	u[key] = userID
	for i, v := range row {
		if v != nil && i < len(schema) {
			u[schema[i].Name] = v
		}
	}
	return u
}

// prepare checks and converts a user map once for several programs.
func (t *Tracker) prepare(user map[string]any) (map[string]any, error) {
	u := make(map[string]any, len(user))
	for name, v := range user {
		at, ok := t.attrs[name]
		if !ok {
			continue
		}
		nv, err := normValue(at.typ, v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		if nv != nil {
			u[name] = nv
		}
	}
	return u, nil
}

// run evaluates cohort i's expr-lang program on a prepared user (the
// fallback of the native matcher).
func (t *Tracker) run(i int, u map[string]any, now int64, m *vm.VM) (bool, error) {
	p := t.progs[i]
	env := make(map[string]any, len(p.sets)+2)
	env["u"] = u
	env["now"] = now
	for k, v := range p.sets {
		env[k] = v
	}
	out, err := m.Run(p.prog, env)
	if err != nil {
		return false, fmt.Errorf("cohort %q: cannot evaluate %q: %w", t.cohorts[i].Name, p.src, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// userEnv pooling: vals and loaded are cleared on the way back.
func (t *Tracker) getEnv(now time.Time) *userEnv {
	e := t.envs.Get().(*userEnv)
	e.now = nowSec(now)
	return e
}

func (t *Tracker) putEnv(e *userEnv) {
	clear(e.vals)
	clear(e.loaded)
	e.lookup = nil
	t.envs.Put(e)
}

// fill loads a prepared user map into e.
func (t *Tracker) fill(e *userEnv, u map[string]any) {
	for name, v := range u {
		if s, ok := t.slots[name]; ok {
			e.vals[s] = v
		}
	}
}

// eval says whether the user of e is a member of cohort i: natively, or
// with the expr-lang program when the matcher cannot decide (a value of an
// unexpected type), so that errors stay the program's.
func (t *Tracker) eval(i int, e *userEnv) (bool, error) {
	if in, ok := t.match[i](e); ok {
		return in, nil
	}
	for _, s := range t.depSlots[i] { // the program reads them all
		e.get(s)
	}
	u := make(map[string]any, len(e.vals))
	for s, v := range e.vals {
		if v != nil {
			u[t.names[s]] = v
		}
	}
	m := t.vms.Get().(*vm.VM)
	defer t.vms.Put(m)
	return t.run(i, u, e.now, m)
}

// Match says whether user (as for Program.Match) is a member of each of
// the cohorts listed, at now. out[k] answers cohorts[k].
func (t *Tracker) Match(cohorts []int, user map[string]any, now time.Time) ([]bool, error) {
	u, err := t.prepare(user)
	if err != nil {
		return nil, err
	}
	e := t.getEnv(now)
	defer t.putEnv(e)
	t.fill(e, u)
	out := make([]bool, len(cohorts))
	for k, i := range cohorts {
		if out[k], err = t.eval(i, e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Diff re-evaluates the listed cohorts for one user and returns the changes
// against before (membership before the event: a cached cohort bitmap's
// Contains, or Match on the row before). after is the user's attributes
// after the event, nil when the user no longer exists (member of nothing).
// Changes come in the order of cohorts.
func (t *Tracker) Diff(cohorts []int, before func(i int) bool, after map[string]any, now time.Time) ([]Change, error) {
	if after == nil {
		return t.diff(cohorts, before, nil)
	}
	u, err := t.prepare(after)
	if err != nil {
		return nil, err
	}
	e := t.getEnv(now)
	defer t.putEnv(e)
	t.fill(e, u)
	return t.diff(cohorts, before, e)
}

// DiffRow is Diff for a user read from an index: row holds the user's
// values aligned with schema, as bitmaps.Index.Row returns them (they are
// trusted, not checked), and userID its key. It saves building and
// checking an attribute map.
func (t *Tracker) DiffRow(cohorts []int, before func(i int) bool, userID string, schema bitmaps.Schema, row bitmaps.Row, now time.Time) ([]Change, error) {
	e := t.getEnv(now)
	defer t.putEnv(e)
	e.vals[t.keySlot] = userID
	for i, v := range row {
		if v == nil || i >= len(schema) {
			continue
		}
		if s, ok := t.slots[schema[i].Name]; ok && s != t.keySlot {
			e.vals[s] = v
		}
	}
	return t.diff(cohorts, before, e)
}

// DiffLookup is Diff for a user whose values are read one attribute at a
// time (value returns a value in bitmaps.Row form, nil for NULL; the
// values are trusted, not checked). value is asked only for attributes
// the listed cohorts read, at most once each, and only when evaluation
// gets to them: an attribute behind a false AND term is never read. It is
// the cheapest form when a cohort reads a few of many attributes.
func (t *Tracker) DiffLookup(cohorts []int, before func(i int) bool, userID string, value func(attr string) any, now time.Time) ([]Change, error) {
	e := t.getEnv(now)
	defer t.putEnv(e)
	e.vals[t.keySlot] = userID
	e.loaded[t.keySlot] = true
	e.lookup, e.slotNames = value, t.names
	return t.diff(cohorts, before, e)
}

// diff evaluates the cohorts on e (nil: the user is gone) against before.
func (t *Tracker) diff(cohorts []int, before func(i int) bool, e *userEnv) ([]Change, error) {
	var out []Change
	for _, i := range cohorts {
		in := false
		if e != nil {
			var err error
			if in, err = t.eval(i, e); err != nil {
				return nil, err
			}
		}
		if was := before(i); was != in {
			out = append(out, Change{Cohort: t.cohorts[i].Name, Entered: in})
		}
	}
	return out, nil
}

// DiffUsers compares a user before and after an event that changed the
// attributes in changed: before nil means the user was created and after
// nil that it was deleted (then every cohort is re-evaluated); otherwise
// only the cohorts affected by changed are. Both maps are as for
// Program.Match, evaluated at the same now.
func (t *Tracker) DiffUsers(before, after map[string]any, changed []string, now time.Time) ([]Change, error) {
	if before == nil && after == nil {
		return nil, nil
	}
	cohorts := t.Affected(changed)
	if before == nil || after == nil {
		cohorts = t.all
	}
	var was []bool
	if before != nil {
		var err error
		if was, err = t.Match(cohorts, before, now); err != nil {
			return nil, err
		}
	}
	pos := make(map[int]int, len(cohorts))
	for k, i := range cohorts {
		pos[i] = k
	}
	return t.Diff(cohorts, func(i int) bool { return was != nil && was[pos[i]] }, after, now)
}
