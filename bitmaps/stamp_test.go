package bitmaps

import (
	"bytes"
	"testing"
)

// TestStamp: a field's stamp moves with writes to that field and with
// changes to the set of users, and only then.
func TestStamp(t *testing.T) {
	schema := Schema{{Name: "a", Kind: KindInt}, {Name: "b", Kind: KindString}}
	ix := NewIndex(schema)
	if _, err := ix.Upsert("u1", Row{int64(1), "x"}); err != nil {
		t.Fatal(err)
	}
	type stamps struct{ a, b, ab, none uint64 }
	read := func() stamps {
		return stamps{ix.Stamp([]string{"a"}), ix.Stamp([]string{"b"}), ix.Stamp([]string{"a", "b", "nope"}), ix.Stamp(nil)}
	}
	tests := []struct {
		name                 string
		write                func() error
		a, b, ab, none, same bool // which stamps must change
	}{
		{name: "Set a", write: func() error { _, err := ix.Set("u1", "a", int64(2)); return err }, a: true, ab: true},
		{name: "Set b", write: func() error { _, err := ix.Set("u1", "b", "y"); return err }, b: true, ab: true},
		{name: "SetByID a", write: func() error { id, _ := ix.Lookup("u1"); return ix.SetByID(id, "a", nil) }, a: true, ab: true},
		{name: "Upsert an existing user", write: func() error { _, err := ix.Upsert("u1", Row{int64(3), "z"}); return err }, a: true, b: true, ab: true},
		{name: "Set on a new user", write: func() error { _, err := ix.Set("u2", "a", int64(1)); return err }, a: true, b: true, ab: true, none: true},
		{name: "Delete", write: func() error { ix.Delete("u2"); return nil }, a: true, b: true, ab: true, none: true},
		{name: "a failed write", write: func() error { ix.Set("u1", "a", "ten"); return nil }},
		{name: "ReadFrom", write: func() error {
			var buf bytes.Buffer
			if _, err := ix.WriteTo(&buf); err != nil {
				return err
			}
			_, err := ix.ReadFrom(&buf)
			return err
		}, a: true, b: true, ab: true, none: true},
	}
	for _, tt := range tests {
		before := read()
		if err := tt.write(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		after := read()
		for _, c := range []struct {
			what          string
			before, after uint64
			change        bool
		}{
			{"a", before.a, after.a, tt.a}, {"b", before.b, after.b, tt.b},
			{"a,b", before.ab, after.ab, tt.ab}, {"no field", before.none, after.none, tt.none},
		} {
			switch {
			case c.after < c.before:
				t.Errorf("%s: Stamp(%s) went down: %d -> %d", tt.name, c.what, c.before, c.after)
			case (c.after != c.before) != c.change:
				t.Errorf("%s: Stamp(%s) %d -> %d, want changed = %v", tt.name, c.what, c.before, c.after, c.change)
			}
		}
	}
}
