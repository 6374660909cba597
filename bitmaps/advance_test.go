package bitmaps

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestAdvance moves int and time fields forward (and sometimes not) on
// built indexes, with and without dense structures, and checks every value
// and many plans against the model: Advance is max(current, v), and the
// buckets, checkpoints and caches it updates stay consistent.
func TestAdvance(t *testing.T) {
	tests := []struct {
		name      string
		seed      uint64
		minBucket uint64
		denseMin  int
	}{
		{name: "small-buckets", seed: 1, minBucket: 2},
		{name: "dense/small-buckets", seed: 2, minBucket: 2, denseMin: 1},
		{name: "dense/one-bucket", seed: 3, minBucket: 1 << 20, denseMin: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setMinBucket(t, tc.minBucket)
			if tc.denseMin > 0 {
				setDenseMin(t, tc.denseMin)
			}
			g := gen{rand.New(rand.NewPCG(tc.seed, 7))}
			m := newModel(testSchema)
			b := NewBuilder(testSchema)
			for range 300 {
				u, row := g.userID(), g.row(testSchema)
				if _, dup := m.rows[u]; dup {
					continue
				}
				if err := b.Add(u, row); err != nil {
					t.Fatal(err)
				}
				m.upsert(u, row)
			}
			ix := b.Build()
			users := m.sortedUsers()
			for round := range 6 {
				for range 80 {
					u := users[g.pick(len(users))]
					id, _ := ix.Lookup(u)
					f := g.field(KindInt, KindTime)
					v := g.intVal()
					if f.Kind == KindTime {
						v = g.timeVal()
					}
					i := m.fieldIndex(f.Name)
					cur, had := m.rows[u][i].(int64)
					want := !had || v > cur
					v0 := ix.Version()
					got, err := ix.Advance(id, f.Name, v)
					if err != nil || got != want {
						t.Fatalf("Advance(%q, %q, %d) over %v = %v, %v; want %v", u, f.Name, v, m.rows[u][i], got, err, want)
					}
					if want {
						m.set(u, f.Name, v)
						if ix.Version() <= v0 {
							t.Fatalf("Advance wrote but the version did not increase")
						}
					} else if ix.Version() != v0 {
						t.Fatalf("Advance did not write but the version changed")
					}
				}
				if round == 3 {
					ix = roundTrip(t, ix)
				}
				checkAgainstModel(t, ix, m, g, 100)
			}
		})
	}
}

func TestAdvanceErrors(t *testing.T) {
	ix := NewIndex(testSchema)
	id, err := ix.Upsert("u-1", make(Row, len(testSchema)))
	if err != nil {
		t.Fatal(err)
	}
	var fe *FieldError
	for _, tc := range []struct {
		field string
		id    uint32
		check func(error) bool
	}{
		{"nope", id, func(err error) bool { return errors.Is(err, ErrUnknownField) }},
		{"score", id, func(err error) bool { return errors.As(err, &fe) && errors.Is(err, ErrWrongType) }},
		{"tier", id, func(err error) bool { return errors.As(err, &fe) && errors.Is(err, ErrWrongType) }},
		{"visits", id + 1, func(err error) bool { return errors.Is(err, ErrNoSuchID) }},
	} {
		ok, err := ix.Advance(tc.id, tc.field, 5)
		if ok || !tc.check(err) {
			t.Errorf("Advance(%d, %q) = %v, %v", tc.id, tc.field, ok, err)
		}
	}
	if got := ix.Value(id, "visits"); got != nil {
		t.Fatalf("a failed Advance wrote %v", got)
	}
	if ok, err := ix.Advance(id, "visits", 5); !ok || err != nil || ix.Value(id, "visits") != int64(5) {
		t.Fatalf("Advance of a NULL value = %v, %v; value %v", ok, err, ix.Value(id, "visits"))
	}
}
