package compiler_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
	"github.com/cohortd/cohortd/dsl"
)

func trackerNames(tr *compiler.Tracker, ids []int) []string {
	var out []string
	for _, i := range ids {
		out = append(out, tr.Cohort(i).Name)
	}
	return out
}

func TestTrackerDependencies(t *testing.T) {
	env := newDiffEnv(t, 1, 1, time.Now())
	tr, err := compiler.NewTracker(env.set)
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string][]string{}
	for i := 0; i < tr.Len(); i++ {
		deps[tr.Cohort(i).Name] = tr.DependsOn(i)
	}
	wantDeps := map[string][]string{
		"c_sport": {"s1", "t1"},             // ds1 is days_since(t1)
		"c_ref":   {"s1", "t1"},             // through cohort('c_sport'); vip adds only the key
		"vip":     nil,                      // static: no attribute
		"c_deep":  {"f1", "l1", "s1", "t1"}, // through c_ref, transitively
	}
	if !reflect.DeepEqual(deps, wantDeps) {
		t.Errorf("DependsOn = %v, want %v", deps, wantDeps)
	}
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{name: "nothing", changed: nil, want: nil},
		{name: "unread attribute", changed: []string{"i2"}, want: nil},
		{name: "leaf of a deep reference", changed: []string{"f1"}, want: []string{"c_deep"}},
		{name: "through derived and references", changed: []string{"t1"}, want: []string{"c_sport", "c_ref", "c_deep"}},
		{name: "several, deduplicated, in file order", changed: []string{"l1", "s1", "f1"}, want: []string{"c_sport", "c_ref", "c_deep"}},
		{name: "the key is no dependency", changed: []string{"user_id"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trackerNames(tr, tr.Affected(tt.changed)); !slices.Equal(got, tt.want) {
				t.Errorf("Affected(%v) = %v, want %v", tt.changed, got, tt.want)
			}
		})
	}
	if got := trackerNames(tr, tr.TimeDependent()); !slices.Equal(got, []string{"c_sport", "c_ref", "c_deep"}) {
		t.Errorf("TimeDependent = %v", got)
	}
	if got := trackerNames(tr, tr.All()); !slices.Equal(got, []string{"c_sport", "c_ref", "vip", "c_deep"}) {
		t.Errorf("All = %v", got)
	}
}

// refChanges is the naive answer: every cohort evaluated by the reference
// before and after.
func refChanges(ref *compilertest.Ref, tr *compiler.Tracker, before, after map[string]any) []compiler.Change {
	var out []compiler.Change
	for i := 0; i < tr.Len(); i++ {
		name := tr.Cohort(i).Name
		was := before != nil && ref.Cohort(name, before)
		is := after != nil && ref.Cohort(name, after)
		if was != is {
			out = append(out, compiler.Change{Cohort: name, Entered: is})
		}
	}
	return out
}

func TestTrackerDiffMatchesReference(t *testing.T) {
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			env := newDiffEnv(t, seed, 300, now)
			tr, err := compiler.NewTracker(env.set)
			if err != nil {
				t.Fatal(err)
			}
			ref := compilertest.NewRef(env.file, now)
			r := rand.New(rand.NewPCG(seed, 99))
			attrs := env.file.Attributes
			changes := 0
			for k, before := range env.users {
				var after map[string]any
				var changed []string
				switch k % 10 {
				case 0: // created
					after, before = before, nil
				case 1: // deleted
				default: // one or two attributes take another user's values
					after = map[string]any{}
					for a, v := range before {
						after[a] = v
					}
					for n := 1 + r.IntN(2); n > 0; n-- {
						a := attrs[1+r.IntN(len(attrs)-1)].Name
						after[a] = env.users[r.IntN(len(env.users))][a]
						changed = append(changed, a)
					}
				}
				got, err := tr.DiffUsers(before, after, changed, now)
				if err != nil {
					t.Fatal(err)
				}
				want := refChanges(ref, tr, before, after)
				changes += len(want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("user %d changed %v:\nbefore %s\nafter  %s\ngot  %v\nwant %v", k, changed,
						compilertest.FormatUser(before, attrs), compilertest.FormatUser(after, attrs), got, want)
				}
			}
			if changes == 0 {
				t.Fatal("no membership changed: the test checks nothing")
			}
		})
	}
}

func TestTrackerDiffAgainstCachedBitmaps(t *testing.T) {
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	env := newDiffEnv(t, 4, 300, now)
	tr, err := compiler.NewTracker(env.set)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	members := func(name string) map[string]bool {
		b, err := env.ev.CohortMembers(ctx, name, now)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		it := b.Iterator()
		for it.HasNext() {
			u, _ := env.ix.UserID(it.Next())
			out[u] = true
		}
		return out
	}
	r := rand.New(rand.NewPCG(4, 5))
	schema := env.set.Schema()
	total := 0
	for step := 0; step < 200; step++ {
		u := env.users[r.IntN(len(env.users))][env.set.Key()].(string)
		f := schema[r.IntN(len(schema))]
		v := env.users[r.IntN(len(env.users))][f.Name]
		before := map[string]map[string]bool{}
		for i := 0; i < tr.Len(); i++ {
			before[tr.Cohort(i).Name] = members(tr.Cohort(i).Name)
		}
		id, _ := env.ix.Set(u, f.Name, v)
		row, _ := env.ix.Row(id)
		was := func(i int) bool { return before[tr.Cohort(i).Name][u] }
		var got []compiler.Change
		var err error
		switch step % 3 {
		case 0:
			got, err = tr.Diff(tr.Affected([]string{f.Name}), was, compiler.UserMap(env.set.Key(), u, schema, row), now)
		case 1:
			got, err = tr.DiffRow(tr.Affected([]string{f.Name}), was, u, schema, row, now)
		default:
			got, err = tr.DiffLookup(tr.Affected([]string{f.Name}), was, u, func(a string) any { return env.ix.Value(id, a) }, now)
		}
		if err != nil {
			t.Fatal(err)
		}
		var want []compiler.Change
		for i := 0; i < tr.Len(); i++ {
			name := tr.Cohort(i).Name
			if is := members(name)[u]; is != before[name][u] {
				want = append(want, compiler.Change{Cohort: name, Entered: is})
			}
		}
		total += len(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: %s.%s = %v: got %v, want %v", step, u, f.Name, v, got, want)
		}
	}
	if total == 0 {
		t.Fatal("no membership changed: the test checks nothing")
	}
}

func TestTrackerMatchRejectsBadInput(t *testing.T) {
	env := newDiffEnv(t, 1, 1, time.Now())
	tr, err := compiler.NewTracker(env.set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Match(tr.All(), map[string]any{"i1": "ten"}, time.Now()); err == nil {
		t.Error("Match accepted a string for an int attribute")
	}
	if got, want := (compiler.Change{Cohort: "x", Entered: true}).Kind(), "entered"; got != want {
		t.Errorf("Kind = %q", got)
	}
}

func BenchmarkTrackerDiff(b *testing.B) {
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	env := newDiffEnv(b, 1, 1000, now)
	tr, err := compiler.NewTracker(env.set)
	if err != nil {
		b.Fatal(err)
	}
	affected := tr.Affected([]string{"t1"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := env.users[i%len(env.users)]
		if _, err := tr.Diff(affected, func(int) bool { return false }, u, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(affected)), "cohorts/op")
}

// TestDiffLookupReadsLazily: DiffLookup reads an attribute at most once,
// and not at all when a false AND term before it decides.
func TestDiffLookupReadsLazily(t *testing.T) {
	f, err := dsl.ParseData("lazy.yaml", []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
  tier:    {type: string}
  score:   {type: float}
cohorts:
  c:
    gold: "tier == 'gold'"
    gold_high: "tier == 'gold' AND score > 10"
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := compiler.Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := compiler.NewTracker(set)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		tier      string
		wantReads map[string]int
		want      []compiler.Change
	}{
		{name: "false first term", tier: "silver", wantReads: map[string]int{"tier": 1}},
		{name: "true first term", tier: "gold", wantReads: map[string]int{"tier": 1, "score": 1},
			want: []compiler.Change{{Cohort: "gold", Entered: true}, {Cohort: "gold_high", Entered: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads := map[string]int{}
			got, err := tr.DiffLookup(tr.All(), func(int) bool { return false }, "u1", func(a string) any {
				reads[a]++
				switch a {
				case "tier":
					return tt.tier
				case "score":
					return 12.5
				}
				return nil
			}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(reads, tt.wantReads) {
				t.Errorf("reads %v, want %v", reads, tt.wantReads)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changes %v, want %v", got, tt.want)
			}
		})
	}
}
