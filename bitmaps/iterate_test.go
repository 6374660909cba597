package bitmaps

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// iterAll collects Iterate's output.
func iterAll(ix *Index, b *roaring.Bitmap, after string) []string {
	var out []string
	ix.Iterate(b, after, func(_ uint32, u string) bool {
		out = append(out, u)
		return true
	})
	return out
}

// TestIterateAfterWrites builds an index, then inserts (many, so the side
// list splits into chunks), deletes and re-inserts users, and checks the
// order, resumption and filtering against a sorted list.
func TestIterateAfterWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	schema := Schema{{"n", KindInt}}
	b := NewBuilder(schema)
	live := map[string]bool{}
	for i := range 3000 {
		u := fmt.Sprintf("u%05d", r.IntN(100000))
		if b.Add(u, Row{int64(i)}) == nil {
			live[u] = true
		}
	}
	ix := b.Build()
	for i := range 4000 {
		u := fmt.Sprintf("u%05d", r.IntN(100000))
		if r.IntN(3) == 0 {
			u = fmt.Sprintf("v%d", r.IntN(5000)) // after every built id
		}
		switch r.IntN(4) {
		case 0:
			ix.Delete(u)
			delete(live, u)
		default:
			if _, err := ix.Upsert(u, Row{int64(i)}); err != nil {
				t.Fatal(err)
			}
			live[u] = true
		}
	}
	want := make([]string, 0, len(live))
	for u := range live {
		want = append(want, u)
	}
	slices.Sort(want)
	if got := iterAll(ix, ix.Universe(), ""); !slices.Equal(got, want) {
		t.Fatalf("Iterate: got %d users, want %d (first diff at %d)", len(got), len(want), firstDiff(got, want))
	}
	// Resume from every 97th user and from ids that are not users.
	for i := 0; i < len(want); i += 97 {
		for _, after := range []string{want[i], want[i] + "\x00", want[i][:len(want[i])-1]} {
			var exp []string
			for _, u := range want {
				if u > after {
					exp = append(exp, u)
				}
			}
			if got := iterAll(ix, ix.Universe(), after); !slices.Equal(got, exp) {
				t.Fatalf("Iterate after %q: got %d users, want %d", after, len(got), len(exp))
			}
		}
	}
	// A bitmap with dead and unknown ids: only live members come out.
	odd := ix.Eval(&Scan{Fields: []string{"n"}, Fn: func(v []any) bool { return v[0].(int64)%2 == 1 }})
	odd.AddRange(uint64(ix.Stats().IDs), uint64(ix.Stats().IDs)+10)
	for id := range uint32(ix.Stats().IDs) {
		if _, ok := ix.UserID(id); !ok {
			odd.Add(id) // a deleted id
		}
	}
	var exp []string
	for _, u := range want {
		id, _ := ix.Lookup(u)
		if ix.Value(id, "n").(int64)%2 == 1 {
			exp = append(exp, u)
		}
	}
	if got := iterAll(ix, odd, ""); !slices.Equal(got, exp) {
		t.Fatalf("Iterate(odd): got %d users, want %d", len(got), len(exp))
	}
	// Stopping early.
	n := 0
	ix.Iterate(ix.Universe(), "", func(uint32, string) bool { n++; return n < 300 })
	if n != 300 {
		t.Fatalf("Iterate did not stop: %d calls", n)
	}
	if got := iterAll(ix, nil, ""); got != nil {
		t.Fatalf("Iterate(nil) = %q", got)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestIterateWhileWriting: fn itself deletes and inserts users. The output
// stays strictly ascending, never repeats, holds every user that lived
// throughout, and no deleted user after its deletion.
func TestIterateWhileWriting(t *testing.T) {
	b := NewBuilder(Schema{{"n", KindInt}})
	for i := range 2000 {
		if err := b.Add(fmt.Sprintf("u%04d", i*2), Row{int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ix := b.Build()
	var got []string
	deleted := map[string]bool{}
	ix.Iterate(ix.Universe(), "", func(_ uint32, u string) bool {
		if deleted[u] {
			t.Fatalf("Iterate delivered %q after it was deleted", u)
		}
		got = append(got, u)
		var i int
		fmt.Sscanf(u, "u%d", &i)
		victim := fmt.Sprintf("u%04d", i+300)
		if ix.Delete(victim) {
			deleted[victim] = true
		}
		if _, err := ix.Upsert(fmt.Sprintf("u%04d", i+1), Row{nil}); err != nil { // odd: inserted ahead
			t.Fatal(err)
		}
		return true
	})
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatal("Iterate output is not strictly ascending")
	}
	for i := range 2000 {
		u := fmt.Sprintf("u%04d", i*2)
		if !deleted[u] && !slices.Contains(got, u) {
			t.Fatalf("Iterate skipped %q, live throughout", u)
		}
	}
}

// TestDeleteErasesUserID: a deleted user's id is not reused, is no longer
// resolvable, and its user_id bytes are gone from memory (and snapshots).
func TestDeleteErasesUserID(t *testing.T) {
	ix := fixtureIndex(t, true)
	id, _ := ix.Lookup("ü1")
	secret := "user-with-a-secret-name"
	sid, _ := ix.Upsert(secret, Row{"loyal", nil, nil, nil, nil, nil, []string{"cyclist"}, nil})
	v := ix.Version()
	if !ix.Delete("ü1") || !ix.Delete(secret) || ix.Delete(secret) {
		t.Fatal("Delete results wrong")
	}
	if ix.Version() != v+2 {
		t.Fatalf("Version = %d, want %d", ix.Version(), v+2)
	}
	for _, dead := range []uint32{id, sid} {
		if _, ok := ix.UserID(dead); ok {
			t.Fatalf("UserID(%d) still resolves", dead)
		}
		if _, ok := ix.Row(dead); ok {
			t.Fatalf("Row(%d) still exists", dead)
		}
		if ix.Value(dead, "tier") != nil {
			t.Fatalf("Value(%d) still set", dead)
		}
	}
	if c := ix.Count(&Eq{Field: "tags", Value: "cyclist"}); c != 3 {
		t.Fatalf("deleted user still in a value bitmap: count = %d", c)
	}
	if bytes.Contains(ix.users.arena, []byte(secret)) || bytes.Contains(ix.users.arena, []byte("ü1")) {
		t.Fatal("a deleted user_id is still in the arena")
	}
	var snap bytes.Buffer
	if _, err := ix.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap.Bytes(), []byte(secret)) {
		t.Fatal("a deleted user_id is in the snapshot")
	}
	nid, _ := ix.Upsert(secret, Row{nil, nil, nil, nil, nil, nil, nil, nil})
	if nid == sid || nid == id {
		t.Fatalf("id %d reused", nid)
	}
}

// TestListGarbageCompaction rewrites lists until the code arena compacts.
func TestListGarbageCompaction(t *testing.T) {
	ix := NewIndex(Schema{{"l", KindStringList}})
	tags := []string{"a", "b", "c", "d", "e"}
	for i := range 30000 {
		u := fmt.Sprintf("u%d", i%500)
		l := []string{tags[i%5], tags[(i/5)%5], tags[(i/25)%5]}
		if _, err := ix.Set(u, "l", l); err != nil {
			t.Fatal(err)
		}
	}
	lc := ix.cols[0].(*listCol)
	if lc.arena.len() > 4*1<<16 {
		t.Fatalf("arena never compacted: %d codes for 500 users", lc.arena.len())
	}
	for i := 29500; i < 30000; i++ {
		id, _ := ix.Lookup(fmt.Sprintf("u%d", i%500))
		want := []string{tags[i%5], tags[(i/5)%5], tags[(i/25)%5]}
		if got := ix.Value(id, "l"); !slices.Equal(got.([]string), want) {
			t.Fatalf("after compaction u%d = %q, want %q", i%500, got, want)
		}
	}
	if c := ix.Count(&Eq{Field: "l", Value: "a"}); c == 0 || c > 500 {
		t.Fatalf("count = %d", c)
	}
}
