package bitmaps

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func TestBuilderAddErrors(t *testing.T) {
	schema := Schema{{"s", KindString}, {"i", KindInt}, {"f", KindFloat}, {"b", KindBool}, {"t", KindTime}, {"l", KindStringList}}
	ok := Row{"x", int64(1), 1.5, true, int64(0), []string{"a"}}
	with := func(i int, v any) Row {
		r := slices.Clone(ok)
		r[i] = v
		return r
	}
	tests := []struct {
		name      string
		user      string
		row       Row
		wantErr   error
		wantField string
	}{
		{name: "ok", user: "u1", row: ok},
		{name: "all NULL", user: "u2", row: make(Row, 6)},
		{name: "accepted conversions", user: "u3", row: Row{"x", 7, int32(3), true, time.Unix(5, 0), []string{}}},
		{name: "duplicate", user: "u1", row: ok, wantErr: ErrDuplicateUser},
		{name: "empty user id", user: "", row: ok, wantErr: ErrEmptyUserID},
		{name: "short row", user: "u4", row: ok[:5], wantErr: ErrRowLength},
		{name: "int in string field", user: "u5", row: with(0, int64(1)), wantErr: ErrWrongType, wantField: "s"},
		{name: "string in int field", user: "u5", row: with(1, "ten"), wantErr: ErrWrongType, wantField: "i"},
		{name: "float in int field", user: "u5", row: with(1, 1.0), wantErr: ErrWrongType, wantField: "i"},
		{name: "NaN", user: "u5", row: with(2, math.NaN()), wantErr: ErrNotFinite, wantField: "f"},
		{name: "+Inf", user: "u5", row: with(2, math.Inf(1)), wantErr: ErrNotFinite, wantField: "f"},
		{name: "-Inf", user: "u5", row: with(2, math.Inf(-1)), wantErr: ErrNotFinite, wantField: "f"},
		{name: "string in bool field", user: "u5", row: with(3, "true"), wantErr: ErrWrongType, wantField: "b"},
		{name: "time.Time in int field", user: "u5", row: with(1, time.Unix(0, 0)), wantErr: ErrWrongType, wantField: "i"},
		{name: "[]any in list field", user: "u5", row: with(5, []any{"a"}), wantErr: ErrWrongType, wantField: "l"},
		{name: "string in list field", user: "u5", row: with(5, "a"), wantErr: ErrWrongType, wantField: "l"},
	}
	b := NewBuilder(schema)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := b.Len()
			err := b.Add(tc.user, tc.row)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Add: err = %v, want %v", err, tc.wantErr)
			}
			var fe *FieldError
			if tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField) {
				t.Fatalf("Add: err = %v, want a FieldError naming %q", err, tc.wantField)
			}
			if err != nil && b.Len() != n {
				t.Fatalf("a failed Add changed the builder")
			}
		})
	}
	ix := b.Build()
	if ix.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ix.Len())
	}
	id, _ := ix.Lookup("u3")
	row, _ := ix.Row(id)
	want := Row{"x", int64(7), 3.0, true, int64(5), nil}
	if !slices.EqualFunc(row, want, func(a, b any) bool { return a == b }) {
		t.Fatalf("converted row = %#v, want %#v", row, want)
	}
}

func TestBuildAssignsIDsInUserIDOrder(t *testing.T) {
	users := []string{"m", "b", "zz", "a", "ä", "B", "a0", "a\x00", "user-10", "user-9", "user-100", "this-id-is-longer-than-sixteen-bytes-2", "this-id-is-longer-than-sixteen-bytes-10"}
	for _, presorted := range []bool{false, true} {
		in := slices.Clone(users)
		if presorted {
			slices.Sort(in)
		}
		b := NewBuilder(Schema{{"n", KindInt}})
		for i, u := range in {
			if err := b.Add(u, Row{int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		ix := b.Build()
		sorted := slices.Clone(users)
		slices.Sort(sorted)
		for id, u := range sorted {
			got, ok := ix.UserID(uint32(id))
			if !ok || got != u {
				t.Fatalf("presorted=%v: UserID(%d) = %q, want %q", presorted, id, got, u)
			}
			if v := ix.Value(uint32(id), "n"); v != int64(slices.Index(in, u)) {
				t.Fatalf("presorted=%v: %q has n = %v, want %d", presorted, u, v, slices.Index(in, u))
			}
		}
		// The builder is reusable and empty after Build.
		if b.Len() != 0 {
			t.Fatalf("Len after Build = %d", b.Len())
		}
		if err := b.Add("m", Row{nil}); err != nil {
			t.Fatalf("Add after Build: %v", err)
		}
		if ix2 := b.Build(); ix2.Len() != 1 || ix.Len() != len(users) {
			t.Fatalf("second Build: %d users, first index now %d", ix2.Len(), ix.Len())
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	tests := []struct {
		name    string
		schema  Schema
		wantErr error
	}{
		{name: "ok", schema: testSchema},
		{name: "empty", schema: nil},
		{name: "empty name", schema: Schema{{"", KindInt}}, wantErr: ErrEmptyFieldName},
		{name: "duplicate", schema: Schema{{"a", KindInt}, {"a", KindString}}, wantErr: ErrDuplicateField},
		{name: "unknown kind", schema: Schema{{"a", Kind(42)}}, wantErr: ErrUnknownKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.schema.Validate(); !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Validate = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestBadSchemaDoesNotPanic: an index over an invalid schema still works;
// the unknown kind is always NULL and rejects values.
func TestBadSchemaDoesNotPanic(t *testing.T) {
	schema := Schema{{"a", KindInt}, {"a", KindString}, {"k", Kind(42)}}
	ix := NewIndex(schema)
	if _, err := ix.Upsert("u", Row{int64(1), "x", nil}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Upsert("u", Row{int64(1), "x", int64(3)}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("value for an unknown kind: err = %v", err)
	}
	if c := ix.Count(&Eq{Field: "a", Value: int64(1)}); c != 1 {
		t.Fatalf("a duplicate field name refers to the first field: count = %d", c)
	}
	if c := ix.Count(&Exists{Field: "k"}); c != 0 {
		t.Fatalf("Exists on an unknown kind = %d", c)
	}
	b := NewBuilder(schema)
	if err := b.Add("u", Row{nil, nil, nil}); err != nil {
		t.Fatal(err)
	}
	if b.Build().Len() != 1 {
		t.Fatal("build over a bad schema lost the user")
	}
}

// TestBuilderDuplicatesSortedAndNot feeds user_ids mostly in ascending
// order (the sorted path compares with the previous user_id) with
// repeats and out-of-order ids mixed in (the hash path): exactly the
// repeats fail, and the index equals one made by Upsert.
func TestBuilderDuplicatesSortedAndNot(t *testing.T) {
	schema := Schema{{"n", KindInt}}
	tests := []struct {
		name string
		ids  []string
	}{
		{"sorted", []string{"a", "b", "c", "d"}},
		{"sorted with a repeat of the previous", []string{"a", "b", "b", "c"}},
		{"repeat of an earlier id after going out of order", []string{"a", "c", "e", "b", "c", "a", "f", "f"}},
		{"out of order at once", []string{"z", "a", "z", "y", "a"}},
		{"repeat of an earlier id while still sorted", []string{"a", "b", "c", "c", "d", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(schema)
			want := NewIndex(schema)
			seen := map[string]bool{}
			for i, u := range tc.ids {
				err := b.Add(u, Row{int64(i)})
				if dup := seen[u]; dup != errors.Is(err, ErrDuplicateUser) || (!dup && err != nil) {
					t.Fatalf("Add(%q) #%d: err = %v, duplicate = %v", u, i, err, dup)
				}
				if !seen[u] {
					seen[u] = true
					if _, err := want.Upsert(u, Row{int64(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			ix := b.Build()
			if ix.Len() != len(seen) {
				t.Fatalf("Len = %d, want %d", ix.Len(), len(seen))
			}
			for u := range seen {
				id, ok := ix.Lookup(u)
				wid, _ := want.Lookup(u)
				if !ok || ix.Value(id, "n") != want.Value(wid, "n") {
					t.Fatalf("%q: found %v, n = %v, want %v", u, ok, ix.Value(id, "n"), want.Value(wid, "n"))
				}
			}
			if _, ok := ix.Lookup("nobody"); ok {
				t.Fatal("Lookup found a user never added")
			}
		})
	}
}

// TestRowWriterMatchesAdd: the typed setters build the same index as Add
// with the same values boxed in a Row, and reject what Add rejects.
func TestRowWriterMatchesAdd(t *testing.T) {
	schema := Schema{{"s", KindString}, {"i", KindInt}, {"f", KindFloat}, {"b", KindBool}, {"t", KindTime}, {"l", KindStringList}}
	type row struct {
		user    string
		set     func(w *RowWriter)
		boxed   Row
		wantErr error
	}
	full := func(w *RowWriter) {
		w.String(0, "x")
		w.Int(1, -3)
		w.Float(2, 2.5)
		w.Bool(3, true)
		w.Int(4, 1700000000)
		w.List(5, []string{"a", "b"})
	}
	rows := []row{
		{"u1", full, Row{"x", int64(-3), 2.5, true, int64(1700000000), []string{"a", "b"}}, nil},
		{"u2", func(w *RowWriter) {}, make(Row, 6), nil},
		{"u3", func(w *RowWriter) { w.Float(2, 0); w.List(5, nil); w.Int(2, 4) }, Row{nil, nil, 4.0, nil, nil, nil}, nil},
		{"u4", func(w *RowWriter) { w.Float(2, math.Copysign(0, -1)) }, Row{nil, nil, 0.0, nil, nil, nil}, nil},
		{"u5", func(w *RowWriter) { full(w); w.Null(0); w.Null(5) }, Row{nil, int64(-3), 2.5, true, int64(1700000000), nil}, nil},
		{"u6", func(w *RowWriter) { w.Float(2, math.NaN()) }, Row{nil, nil, math.NaN(), nil, nil, nil}, ErrNotFinite},
		{"u6", func(w *RowWriter) { w.String(1, "ten") }, Row{nil, "ten", nil, nil, nil, nil}, ErrWrongType},
		{"u6", func(w *RowWriter) { w.Float(1, 1) }, Row{nil, 1.0, nil, nil, nil, nil}, ErrWrongType},
		{"u1", full, Row{"x", int64(-3), 2.5, true, int64(1700000000), []string{"a", "b"}}, ErrDuplicateUser},
		{"", full, Row{"x", int64(-3), 2.5, true, int64(1700000000), []string{"a", "b"}}, ErrEmptyUserID},
	}
	typed, boxed := NewBuilder(schema), NewBuilder(schema)
	w := typed.Writer()
	for _, r := range rows {
		r.set(w)
		errTyped := w.Commit(r.user)
		errBoxed := boxed.Add(r.user, r.boxed)
		if !errors.Is(errTyped, r.wantErr) || !errors.Is(errBoxed, r.wantErr) || (r.wantErr == nil) != (errTyped == nil) {
			t.Fatalf("user %q: Commit err = %v, Add err = %v, want %v", r.user, errTyped, errBoxed, r.wantErr)
		}
		if errTyped != nil && errBoxed != nil && errTyped.Error() != errBoxed.Error() {
			t.Fatalf("user %q: Commit says %q, Add says %q", r.user, errTyped, errBoxed)
		}
	}
	a, b := typed.Build(), boxed.Build()
	if a.Len() != 5 || b.Len() != 5 {
		t.Fatalf("Len = %d and %d, want 5", a.Len(), b.Len())
	}
	for id := range uint32(5) {
		ra, _ := a.Row(id)
		rb, _ := b.Row(id)
		if fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Fatalf("id %d: typed row %v, boxed row %v", id, ra, rb)
		}
	}
}
