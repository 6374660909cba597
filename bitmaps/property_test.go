package bitmaps

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// setMinBucket lowers the bucket size so that small test data spans many
// buckets, splits and boundary scans.
func setMinBucket(t testing.TB, n uint64) {
	old := minBucket
	minBucket = n
	t.Cleanup(func() { minBucket = old })
}

// setDenseMin lowers the index size from which dense structures are built
// and the dense evaluator runs, so that small test data exercises them.
func setDenseMin(t testing.TB, n int) {
	old := denseMinIDs
	denseMinIDs = n
	t.Cleanup(func() { denseMinIDs = old })
}

// TestPropertyAgainstModel is the backbone: random data, random plans and
// random write sequences, every result compared user by user with the naive
// model.
func TestPropertyAgainstModel(t *testing.T) {
	tests := []struct {
		name      string
		seed      uint64
		users     int
		minBucket uint64
		build     bool
		rounds    int
		denseMin  int // 0: the default (no dense structures at these sizes)
	}{
		{name: "build/small-buckets", seed: 1, users: 300, minBucket: 4, build: true, rounds: 8},
		{name: "build/one-bucket", seed: 2, users: 300, minBucket: 1 << 20, build: true, rounds: 4},
		{name: "upsert-only/small-buckets", seed: 3, users: 300, minBucket: 2, build: false, rounds: 8},
		{name: "build/tiny", seed: 4, users: 5, minBucket: 1, build: true, rounds: 10},
		{name: "empty", seed: 5, users: 0, minBucket: 4, build: true, rounds: 6},
		{name: "build/many-buckets", seed: 6, users: 400, minBucket: 1, build: true, rounds: 6},
		{name: "dense/build/small-buckets", seed: 7, users: 400, minBucket: 2, build: true, rounds: 9, denseMin: 1},
		{name: "dense/upsert-only", seed: 8, users: 300, minBucket: 2, build: false, rounds: 9, denseMin: 1},
		{name: "dense/build/one-bucket", seed: 9, users: 200, minBucket: 1 << 20, build: true, rounds: 6, denseMin: 1},
		{name: "dense/empty", seed: 10, users: 0, minBucket: 2, build: true, rounds: 6, denseMin: 1},
	}
	if testing.Short() {
		tests = tests[:3]
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setMinBucket(t, tc.minBucket)
			if tc.denseMin > 0 {
				setDenseMin(t, tc.denseMin)
			}
			g := gen{rand.New(rand.NewPCG(tc.seed, 99))}
			m := newModel(testSchema)
			var ix *Index
			if tc.build {
				b := NewBuilder(testSchema)
				for range tc.users {
					u, row := g.userID(), g.row(testSchema)
					err := b.Add(u, row)
					if _, dup := m.rows[u]; dup {
						if !errors.Is(err, ErrDuplicateUser) {
							t.Fatalf("Add(%q) again: err = %v, want ErrDuplicateUser", u, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("Add(%q): %v", u, err)
					}
					m.upsert(u, row)
				}
				ix = b.Build()
			} else {
				ix = NewIndex(testSchema)
				for range tc.users {
					u, row := g.userID(), g.row(testSchema)
					if _, err := ix.Upsert(u, row); err != nil {
						t.Fatalf("Upsert(%q): %v", u, err)
					}
					m.upsert(u, row)
				}
			}
			checkAgainstModel(t, ix, m, g, 150)
			for round := range tc.rounds {
				mutate(t, ix, m, g, 1+g.pick(60))
				switch round % 3 {
				case 1: // continue on a reloaded snapshot
					ix = roundTrip(t, ix)
				case 2:
					ix.Optimize()
				}
				checkAgainstModel(t, ix, m, g, 150)
			}
		})
	}
}

func roundTrip(t *testing.T, ix *Index) *Index {
	t.Helper()
	var buf bytes.Buffer
	n, err := ix.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	loaded, err := ReadIndex(&buf)
	if err != nil {
		t.Fatalf("ReadIndex: %v", err)
	}
	if !reflect.DeepEqual(loaded.Schema(), ix.Schema()) {
		t.Fatalf("schema after reload = %v, want %v", loaded.Schema(), ix.Schema())
	}
	return loaded
}

func mutate(t *testing.T, ix *Index, m *model, g gen, n int) {
	t.Helper()
	existing := func() (string, bool) {
		if len(m.rows) == 0 {
			return "", false
		}
		us := m.sortedUsers()
		return us[g.pick(len(us))], true
	}
	for range n {
		v0 := ix.Version()
		switch op := g.pick(10); {
		case op < 3: // upsert a new or existing user
			u := g.userID()
			if e, ok := existing(); ok && g.pick(2) == 0 {
				u = e
			}
			row := g.row(testSchema)
			if _, err := ix.Upsert(u, row); err != nil {
				t.Fatalf("Upsert(%q): %v", u, err)
			}
			m.upsert(u, row)
		case op < 7: // set one field
			u := g.userID()
			if e, ok := existing(); ok && g.pick(4) != 0 {
				u = e
			}
			f := g.field()
			v := g.value(f)
			if _, err := ix.Set(u, f.Name, v); err != nil {
				t.Fatalf("Set(%q, %q, %v): %v", u, f.Name, v, err)
			}
			m.set(u, f.Name, v)
		case op < 9: // delete
			u := g.userID()
			if e, ok := existing(); ok && g.pick(4) != 0 {
				u = e
			}
			_, want := m.rows[u]
			if got := ix.Delete(u); got != want {
				t.Fatalf("Delete(%q) = %v, want %v", u, got, want)
			}
			delete(m.rows, u)
			if !want {
				continue // no write, version unchanged
			}
		default: // a bad write changes nothing
			u, _ := existing()
			if u == "" {
				u = "nobody"
			}
			if _, err := ix.Set(u, "score", math.NaN()); !errors.Is(err, ErrNotFinite) {
				t.Fatalf("Set NaN: err = %v, want ErrNotFinite", err)
			}
			row := g.row(testSchema)
			row[2] = "ten"
			var fe *FieldError
			if _, err := ix.Upsert(u, row); !errors.As(err, &fe) || fe.Field != "visits" {
				t.Fatalf("Upsert with a string in an int field: err = %v", err)
			}
			if ix.Version() != v0 {
				t.Fatalf("a failed write changed the version")
			}
			continue
		}
		if ix.Version() <= v0 {
			t.Fatalf("version did not increase after a write")
		}
	}
}

func checkAgainstModel(t *testing.T, ix *Index, m *model, g gen, plans int) {
	t.Helper()
	checkInvariants(t, ix)
	if got, want := ix.Len(), len(m.rows); got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	users := m.sortedUsers()
	idOf := make(map[string]uint32, len(users))
	ids := make([]uint32, 0, len(users))
	var maxID uint32
	for _, u := range users {
		id, ok := ix.Lookup(u)
		if !ok {
			t.Fatalf("Lookup(%q) failed", u)
		}
		if got, ok := ix.UserID(id); !ok || got != u {
			t.Fatalf("UserID(%d) = %q, %v; want %q", id, got, ok, u)
		}
		row, ok := ix.Row(id)
		if !ok || !reflect.DeepEqual(row, m.rows[u]) {
			t.Fatalf("Row(%q) = %#v, want %#v", u, row, m.rows[u])
		}
		for i, f := range testSchema {
			if got := ix.Value(id, f.Name); !reflect.DeepEqual(got, m.rows[u][i]) {
				t.Fatalf("Value(%q, %q) = %#v, want %#v", u, f.Name, got, m.rows[u][i])
			}
		}
		idOf[u] = id
		ids = append(ids, id)
		maxID = max(maxID, id)
	}
	if got := ix.Universe(); got.GetCardinality() != uint64(len(users)) {
		t.Fatalf("Universe has %d ids, want %d", got.GetCardinality(), len(users))
	}
	for _, gone := range []string{"nobody", "u-999999"} {
		if _, ok := ix.Lookup(gone); ok {
			t.Fatalf("Lookup(%q) found a user that does not exist", gone)
		}
	}

	for range plans {
		p := g.plan(3, ids, maxID)
		var consts []*Const
		walk(p, func(n Node) {
			if c, ok := n.(*Const); ok {
				consts = append(consts, c)
			}
		})
		before := make([]uint64, len(consts))
		for i, c := range consts {
			before[i] = c.B.GetCardinality()
		}
		var want []string
		for _, u := range users {
			if m.match(p, u, idOf[u]) {
				want = append(want, u)
			}
		}
		got := ix.Eval(p)
		if !roaring.AndNot(got, ix.Universe()).IsEmpty() {
			t.Fatalf("Eval(%s) holds ids of no live user: %v", planString(p), roaring.AndNot(got, ix.Universe()).ToArray())
		}
		gotUsers := usersOf(t, ix, got)
		if !slices.Equal(gotUsers, want) {
			t.Fatalf("Eval(%s):\n got %q\nwant %q", planString(p), gotUsers, want)
		}
		if c := ix.Count(p); c != uint64(len(want)) {
			t.Fatalf("Count(%s) = %d, want %d", planString(p), c, len(want))
		}
		// The dense evaluator on every plan it supports, not only those the
		// index routes to it.
		if ix.denseOn && denseSupported(p) {
			ix.mu.RLock()
			b, c := ix.denseEval(p), ix.denseCount(p)
			ix.mu.RUnlock()
			if extra := roaring.AndNot(b, ix.Universe()); !extra.IsEmpty() {
				t.Fatalf("denseEval(%s) holds ids of no live user: %v", planString(p), extra.ToArray())
			}
			if got := usersOf(t, ix, b); !slices.Equal(got, want) {
				t.Fatalf("denseEval(%s):\n got %q\nwant %q", planString(p), got, want)
			}
			if c != uint64(len(want)) {
				t.Fatalf("denseCount(%s) = %d, want %d", planString(p), c, len(want))
			}
		}
		if e := ix.Estimate(p); e > uint64(len(users)) {
			t.Fatalf("Estimate(%s) = %d > %d users", planString(p), e, len(users))
		}
		if err := ix.Validate(p); err != nil && !hasBadValue(p) {
			t.Fatalf("Validate(%s): %v", planString(p), err)
		}
		for i, c := range consts {
			if c.B.GetCardinality() != before[i] {
				t.Fatalf("Eval modified a Const bitmap")
			}
		}
		// Iterate the result, from the start and from a cursor.
		var it []string
		ix.Iterate(got, "", func(id uint32, u string) bool {
			if idOf[u] != id {
				t.Fatalf("Iterate gave id %d for %q, want %d", id, u, idOf[u])
			}
			it = append(it, u)
			return true
		})
		if !slices.Equal(it, want) {
			t.Fatalf("Iterate(%s):\n got %q\nwant %q", planString(p), it, want)
		}
		cursor := g.userID()
		it = it[:0]
		ix.Iterate(got, cursor, func(_ uint32, u string) bool { it = append(it, u); return true })
		var after []string
		for _, u := range want {
			if u > cursor {
				after = append(after, u)
			}
		}
		if !slices.Equal(it, after) {
			t.Fatalf("Iterate after %q:\n got %q\nwant %q", cursor, it, after)
		}
	}

	// Aggregates.
	for _, f := range testSchema {
		switch f.Kind {
		case KindString, KindStringList:
			checkValues(t, ix, m, f)
		case KindInt, KindFloat, KindTime:
			var sum, abs float64
			var n uint64
			i := m.fieldIndex(f.Name)
			for _, u := range users {
				switch x := m.rows[u][i].(type) {
				case int64:
					sum += float64(x)
					abs += math.Abs(float64(x))
					n++
				case float64:
					sum += x
					abs += math.Abs(x)
					n++
				}
			}
			gs, gn := ix.Sum(f.Name, nil)
			// Summation order differs: allow rounding relative to the magnitudes.
			if gn != n || !(gs == sum || math.Abs(gs-sum) <= 1e-12*abs || math.IsInf(abs, 0)) {
				t.Fatalf("Sum(%q) = %v, %d; want %v, %d", f.Name, gs, gn, sum, n)
			}
		}
	}
}

func checkValues(t *testing.T, ix *Index, m *model, f Field) {
	t.Helper()
	i := m.fieldIndex(f.Name)
	counts := map[string]uint64{}
	for _, r := range m.rows {
		switch x := r[i].(type) {
		case string:
			counts[x]++
		case []string:
			seen := map[string]bool{}
			for _, s := range x {
				if !seen[s] {
					seen[s] = true
					counts[s]++
				}
			}
		}
	}
	var want []string
	for v := range counts {
		want = append(want, v)
	}
	slices.Sort(want)
	if got := ix.Values(f.Name); !slices.Equal(got, want) {
		t.Fatalf("Values(%q) = %q, want %q", f.Name, got, want)
	}
	top := ix.TopValues(f.Name, nil, 0)
	if len(top) != len(want) {
		t.Fatalf("TopValues(%q) has %d values, want %d", f.Name, len(top), len(want))
	}
	for j, vc := range top {
		if counts[vc.Value] != vc.Count {
			t.Fatalf("TopValues(%q): %q count %d, want %d", f.Name, vc.Value, vc.Count, counts[vc.Value])
		}
		if j > 0 && (top[j-1].Count < vc.Count || top[j-1].Count == vc.Count && top[j-1].Value >= vc.Value) {
			t.Fatalf("TopValues(%q) out of order at %d: %v", f.Name, j, top)
		}
	}
}

func usersOf(t *testing.T, ix *Index, b *roaring.Bitmap) []string {
	t.Helper()
	var us []string
	for _, id := range b.ToArray() {
		u, ok := ix.UserID(id)
		if !ok {
			t.Fatalf("result holds id %d, which is not a live user", id)
		}
		us = append(us, u)
	}
	slices.Sort(us)
	return us
}

func walk(n Node, fn func(Node)) {
	fn(n)
	switch n := n.(type) {
	case *And:
		for _, t := range n.Terms {
			walk(t, fn)
		}
	case *Or:
		for _, t := range n.Terms {
			walk(t, fn)
		}
	case *Not:
		walk(n.X, fn)
	}
}

// hasBadValue reports whether the generator put a deliberately mistyped
// value in the plan (which Validate must report).
func hasBadValue(p Node) bool {
	bad := false
	walk(p, func(n Node) {
		check := func(field string, v any) {
			f, _ := Field{}, false
			for _, x := range testSchema {
				if x.Name == field {
					f = x
				}
			}
			if !valueFits(f.Kind, v) {
				bad = true
			}
		}
		switch n := n.(type) {
		case *Eq:
			check(n.Field, n.Value)
		case *In:
			for _, v := range n.Values {
				check(n.Field, v)
			}
		}
	})
	return bad
}
