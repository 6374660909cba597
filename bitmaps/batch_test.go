package bitmaps

import (
	"reflect"
	"testing"
)

func TestValuesOfMatchesValue(t *testing.T) {
	schema := Schema{{Name: "s", Kind: KindString}, {Name: "i", Kind: KindInt}, {Name: "f", Kind: KindFloat},
		{Name: "b", Kind: KindBool}, {Name: "t", Kind: KindTime}, {Name: "l", Kind: KindStringList}}
	ix := NewIndex(schema)
	if _, err := ix.Upsert("u1", Row{"x", int64(3), 1.5, true, int64(1700000000), []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Upsert("u2", Row{nil, int64(-1), nil, false, nil, nil}); err != nil {
		t.Fatal(err)
	}
	fields := []string{"l", "t", "missing", "s", "i", "f", "b"}
	for _, u := range []string{"u1", "u2"} {
		id, _ := ix.Lookup(u)
		got := make([]any, len(fields))
		if !ix.ValuesOf(id, fields, got) {
			t.Fatalf("%s: ValuesOf says not live", u)
		}
		want := make([]any, len(fields))
		for k, f := range fields {
			want[k] = ix.Value(id, f)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ValuesOf = %v, Value gives %v", u, got, want)
		}
	}
	id, _ := ix.Lookup("u1")
	ix.Delete("u1")
	dst := []any{"keep"}
	if ix.ValuesOf(id, []string{"s"}, dst) || dst[0] != "keep" {
		t.Errorf("ValuesOf of a deleted user = true or wrote %v", dst)
	}
}
