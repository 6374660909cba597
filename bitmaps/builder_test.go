package bitmaps

import (
	"errors"
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
