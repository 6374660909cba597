package bitmaps

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestSnapshotRoundTripFixture(t *testing.T) {
	ix := fixtureIndex(t, true)
	if _, err := ix.Upsert("zz-late", Row{"loyal", nil, int64(5), nil, nil, nil, []string{"x"}, nil}); err != nil {
		t.Fatal(err)
	}
	ix.Delete("c")
	loaded := roundTrip(t, ix)
	if loaded.Len() != ix.Len() {
		t.Fatalf("Len = %d, want %d", loaded.Len(), ix.Len())
	}
	for _, u := range []string{"a", "b", "d", "e", "f", "g", "ü1", "zz-late"} {
		id, ok := ix.Lookup(u)
		lid, lok := loaded.Lookup(u)
		if !ok || !lok || id != lid {
			t.Fatalf("Lookup(%q): %d,%v vs %d,%v", u, id, ok, lid, lok)
		}
		r1, _ := ix.Row(id)
		r2, _ := loaded.Row(lid)
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("row of %q: %#v vs %#v", u, r1, r2)
		}
	}
	if _, ok := loaded.Lookup("c"); ok {
		t.Fatal("deleted user came back")
	}
	if got, want := iterAll(loaded, loaded.Universe(), ""), iterAll(ix, ix.Universe(), ""); !slices.Equal(got, want) {
		t.Fatalf("Iterate after reload = %q", got)
	}
	// New users after a reload still get fresh ids and sort correctly.
	if _, err := loaded.Upsert("c", Row{nil, nil, nil, nil, nil, nil, nil, nil}); err != nil {
		t.Fatal(err)
	}
	if got := iterAll(loaded, loaded.Universe(), "b"); len(got) < 2 || got[0] != "c" || got[1] != "d" {
		t.Fatalf("Iterate after b = %q", got)
	}
}

// TestSnapshotCorrupt: every truncation and a flipped byte anywhere fail
// with ErrBadSnapshot (never a panic) and leave the target index unchanged.
func TestSnapshotCorrupt(t *testing.T) {
	ix := fixtureIndex(t, true)
	var buf bytes.Buffer
	if _, err := ix.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	target := fixtureIndex(t, false)
	v := target.Version()
	for n := range len(data) {
		if _, err := target.ReadFrom(bytes.NewReader(data[:n])); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("truncated at %d: err = %v", n, err)
		}
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x5a
		if _, err := target.ReadFrom(bytes.NewReader(bad)); err == nil {
			t.Fatalf("flipped byte %d: no error", i)
		}
	}
	if target.Version() != v || target.Len() != len(fixture) {
		t.Fatal("a failed ReadFrom changed the index")
	}
	if _, err := ReadIndex(bytes.NewReader([]byte("not a snapshot at all"))); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("garbage: err = %v", err)
	}
	if _, err := target.ReadFrom(bytes.NewReader(data)); err != nil || target.Version() != v+1 {
		t.Fatalf("good snapshot: err = %v, version %d", err, target.Version())
	}
}

func TestValidate(t *testing.T) {
	ix := fixtureIndex(t, true)
	tests := []struct {
		name    string
		plan    Node
		wantErr bool
	}{
		{name: "fine", plan: &And{Terms: []Node{&Eq{Field: "tier", Value: "x"}, &Range{Field: "seen", Lo: int64(0)}, &Not{X: &ListHas{Field: "tags"}}}}},
		{name: "int value on float field", plan: &Eq{Field: "score", Value: int64(1)}},
		{name: "unknown field", plan: &Exists{Field: "nope"}, wantErr: true},
		{name: "string on int field", plan: &Eq{Field: "visits", Value: "1"}, wantErr: true},
		{name: "bool on string field", plan: &In{Field: "tier", Values: []any{true}}, wantErr: true},
		{name: "range on list", plan: &Range{Field: "tags", Lo: int64(1)}, wantErr: true},
		{name: "range string bound", plan: &Range{Field: "visits", Lo: "1"}, wantErr: true},
		{name: "listhas on string", plan: &ListHas{Field: "tier", Values: []string{"x"}}, wantErr: true},
		{name: "strpred on list", plan: &StrPred{Field: "tags", Fn: func(string) bool { return true }}, wantErr: true},
		{name: "strpred nil fn", plan: &StrPred{Field: "tier"}, wantErr: true},
		{name: "scan unknown field", plan: &Scan{Fields: []string{"nope"}, Fn: func([]any) bool { return true }}, wantErr: true},
		{name: "nil const", plan: &Or{Terms: []Node{&Const{Name: "x"}}}, wantErr: true},
		{name: "nil node", plan: &Not{}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ix.Validate(tc.plan)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrInvalidPlan)) {
				t.Fatalf("Validate = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	ix := fixtureIndex(t, true)
	exact := []Node{
		&Eq{Field: "tier", Value: "champion"},
		&In{Field: "tier", Values: []any{"champion", "loyal"}},
		&Exists{Field: "tags"},
		&ListHas{Field: "tags", Values: []string{"cyclist"}},
		&Eq{Field: "vip", Value: true},
		All{}, None{},
		&StrPred{Field: "name", Fn: func(s string) bool { return len(s) > 3 }},
	}
	for _, p := range exact {
		if e, c := ix.Estimate(p), ix.Count(p); e != c {
			t.Errorf("Estimate(%s) = %d, want exact %d", planString(p), e, c)
		}
	}
	n := uint64(ix.Len())
	a, b := &Eq{Field: "tier", Value: "champion"}, &Eq{Field: "vip", Value: true}
	if e := ix.Estimate(&And{Terms: []Node{a, b}}); e > ix.Count(a) {
		t.Errorf("Estimate(AND) = %d exceeds a term's %d", e, ix.Count(a))
	}
	if e := ix.Estimate(&Or{Terms: []Node{a, b}}); e < ix.Count(b) || e > n {
		t.Errorf("Estimate(OR) = %d", e)
	}
	if e := ix.Estimate(&Not{X: a}); e != n-ix.Count(a) {
		t.Errorf("Estimate(NOT) = %d", e)
	}
}

func TestStats(t *testing.T) {
	ix := fixtureIndex(t, true)
	s := ix.Stats()
	if s.Users != len(fixture) || s.IDs != len(fixture) || s.Fields != len(testSchema) {
		t.Fatalf("Stats = %+v", s)
	}
	if s.BitmapBytes <= 0 || s.ColumnBytes <= 0 || s.UserIDBytes <= 0 || s.TotalBytes != s.BitmapBytes+s.ColumnBytes+s.UserIDBytes {
		t.Fatalf("Stats sizes = %+v", s)
	}
	if s.BytesPerUser != float64(s.TotalBytes)/float64(s.Users) {
		t.Fatalf("BytesPerUser = %v", s.BytesPerUser)
	}
	if got := NewIndex(testSchema).Stats(); got.Users != 0 || got.BytesPerUser != 0 {
		t.Fatalf("empty Stats = %+v", got)
	}
}

// FuzzReadFrom: any input either loads into an index that answers queries
// or fails with an error; it never panics.
func FuzzReadFrom(f *testing.F) {
	var buf bytes.Buffer
	if _, err := fixtureIndex(f, true).WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ReadIndex(bytes.NewReader(data))
		if err != nil {
			return
		}
		ix.Count(&Or{Terms: []Node{&Exists{Field: "tier"}, &Range{Field: "visits", Lo: int64(0)}}})
		iterAll(ix, ix.Universe(), "")
	})
}
