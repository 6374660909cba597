package bitmaps

import (
	"errors"
	"reflect"
	"testing"
)

func TestSetByIDIsSet(t *testing.T) {
	schema := Schema{{Name: "i", Kind: KindInt}, {Name: "s", Kind: KindString}}
	a, b := NewIndex(schema), NewIndex(schema)
	for _, ix := range []*Index{a, b} {
		for _, u := range []string{"u1", "u2", "u3"} {
			if _, err := ix.Upsert(u, Row{int64(len(u)), u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		user  string
		field string
		v     any
	}{{"u2", "i", int64(7)}, {"u1", "s", "x"}, {"u2", "i", nil}, {"u3", "i", int64(-3)}}
	for _, s := range steps {
		if _, err := a.Set(s.user, s.field, s.v); err != nil {
			t.Fatal(err)
		}
		id, _ := b.Lookup(s.user)
		if err := b.SetByID(id, s.field, s.v); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		ia, _ := a.Lookup(u)
		ib, _ := b.Lookup(u)
		ra, _ := a.Row(ia)
		rb, _ := b.Row(ib)
		if !reflect.DeepEqual(ra, rb) {
			t.Errorf("%s: Set gives %v, SetByID %v", u, ra, rb)
		}
	}
	if got := b.Eval(&Eq{Field: "i", Value: int64(7)}); !got.IsEmpty() {
		t.Errorf("bitmap of the cleared value still holds %v", got.ToArray())
	}
	id, _ := b.Lookup("u1")
	b.Delete("u1")
	if err := b.SetByID(id, "i", int64(1)); !errors.Is(err, ErrNoSuchID) {
		t.Errorf("SetByID on a deleted user: %v", err)
	}
	if err := b.SetByID(0, "nope", int64(1)); !errors.Is(err, ErrUnknownField) {
		t.Errorf("SetByID of an unknown field: %v", err)
	}
	if err := b.SetByID(1, "i", "text"); !errors.Is(err, ErrWrongType) {
		t.Errorf("SetByID of a wrong type: %v", err)
	}
}
