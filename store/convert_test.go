package store

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/gen"
)

func TestConvertValue(t *testing.T) {
	tests := []struct {
		name    string
		kind    bitmaps.Kind
		in      any
		want    any
		wantErr string
	}{
		{name: "nil", kind: bitmaps.KindInt, in: nil, want: nil},
		{name: "string", kind: bitmaps.KindString, in: "a", want: "a"},
		{name: "string from number", kind: bitmaps.KindString, in: json.Number("5"), wantErr: `want string, got number 5`},
		{name: "int from json.Number", kind: bitmaps.KindInt, in: json.Number("-9223372036854775808"), want: int64(math.MinInt64)},
		{name: "int from integral json.Number", kind: bitmaps.KindInt, in: json.Number("5.0"), want: int64(5)},
		{name: "int from fractional json.Number", kind: bitmaps.KindInt, in: json.Number("5.5"), wantErr: `want int, got number 5.5 (not an integer)`},
		{name: "int from big json.Number", kind: bitmaps.KindInt, in: json.Number("1e19"), wantErr: `want int, got number 1e19 (out of int64 range)`},
		{name: "int from bogus json.Number", kind: bitmaps.KindInt, in: json.Number("12abc"), wantErr: `want int, got number 12abc`},
		{name: "int from float64", kind: bitmaps.KindInt, in: 42.0, want: int64(42)},
		{name: "int from fractional float64", kind: bitmaps.KindInt, in: 4.5, wantErr: `want int, got number 4.5 (not an integer)`},
		{name: "int from huge float64", kind: bitmaps.KindInt, in: 1e19, wantErr: `want int, got number 1e+19 (out of int64 range)`},
		{name: "int from Go int", kind: bitmaps.KindInt, in: 7, want: int64(7)},
		{name: "int from string", kind: bitmaps.KindInt, in: "ten", wantErr: `want int, got string "ten"`},
		{name: "float from json.Number", kind: bitmaps.KindFloat, in: json.Number("2.5e-1"), want: 0.25},
		{name: "float from float64", kind: bitmaps.KindFloat, in: 1.5, want: 1.5},
		{name: "float from int64", kind: bitmaps.KindFloat, in: int64(3), want: 3.0},
		{name: "float out of range", kind: bitmaps.KindFloat, in: json.Number("1e999"), wantErr: `want float, got number 1e999 (out of float64 range)`},
		{name: "float NaN", kind: bitmaps.KindFloat, in: math.NaN(), wantErr: `want float, got number NaN (out of float64 range)`},
		{name: "bool", kind: bitmaps.KindBool, in: true, want: true},
		{name: "bool from string", kind: bitmaps.KindBool, in: "true", wantErr: `want bool, got string "true"`},
		{name: "time from string", kind: bitmaps.KindTime, in: "2026-01-10T08:00:00Z", want: int64(1768032000)},
		{name: "time from time.Time", kind: bitmaps.KindTime, in: time.Unix(1768032000, 5e8), want: int64(1768032000)},
		{name: "time from bad string", kind: bitmaps.KindTime, in: "yesterday",
			wantErr: `want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "yesterday"`},
		{name: "list from []any", kind: bitmaps.KindStringList, in: []any{"a", "b"}, want: []string{"a", "b"}},
		{name: "list from []string", kind: bitmaps.KindStringList, in: []string{"a"}, want: []string{"a"}},
		{name: "empty list", kind: bitmaps.KindStringList, in: []any{}, want: nil},
		{name: "empty []string", kind: bitmaps.KindStringList, in: []string{}, want: nil},
		{name: "list with null", kind: bitmaps.KindStringList, in: []any{"a", nil}, wantErr: `want list<string>, got array (null at index 1)`},
		{name: "list from object", kind: bitmaps.KindStringList, in: map[string]any{}, wantErr: `want list<string>, got object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConvertValue(tt.kind, tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ConvertValue(%v, %#v) error %v, want %s", tt.kind, tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ConvertValue(%v, %#v) = %#v, %v; want %#v", tt.kind, tt.in, got, err, tt.want)
			}
		})
	}
}

// ConvertValue on encoding/json's decoding of a line agrees with the line
// decoder on the same line.
func TestConvertValueMatchesDecoder(t *testing.T) {
	lines := []string{
		`{"id":"a","s":"x","i":12,"f":-1.25,"b":false,"t":"2026-01-10T08:00:00.5+01:00","l":["p","q"]}`,
		`{"id":"b","i":1e3,"f":1e-400,"l":[],"extra":[1]}`,
	}
	for _, line := range lines {
		d := newLineDecoder("id", testSchema)
		want := make(bitmaps.Row, len(testSchema))
		wantKey, derr := d.decode([]byte(line), want)
		if derr != nil {
			t.Fatal(derr)
		}
		for _, useNumber := range []bool{true, false} {
			var rec map[string]any
			dec := json.NewDecoder(strings.NewReader(line))
			if useNumber {
				dec.UseNumber()
			}
			if err := dec.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			key, got, _, err := RowFromRecord(rec, "id", testSchema)
			if err != nil || key != wantKey || !reflect.DeepEqual(got, want) {
				t.Errorf("RowFromRecord(%s, UseNumber %v) = %q %#v, %v; decoder gives %q %#v", line, useNumber, key, got, err, wantKey, want)
			}
		}
	}
}

func TestRowFromRecord(t *testing.T) {
	tests := []struct {
		name        string
		rec         map[string]any
		wantKey     string
		wantRow     map[string]any
		wantUnknown []string
		wantErr     string
	}{
		{name: "values and unknowns", rec: map[string]any{"id": "u1", "i": json.Number("3"), "x": 1, "y": nil},
			wantKey: "u1", wantRow: map[string]any{"i": int64(3)}, wantUnknown: []string{"x", "y"}},
		{name: "missing key", rec: map[string]any{"i": 1}, wantErr: `"id": want a non-empty string, got null`},
		{name: "empty key", rec: map[string]any{"id": ""}, wantErr: `"id": want a non-empty string, got string ""`},
		{name: "number key", rec: map[string]any{"id": 5.0}, wantErr: `"id": want a non-empty string, got number 5`},
		{name: "bad value", rec: map[string]any{"id": "u1", "b": "yes"}, wantErr: `"b": want bool, got string "yes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, r, unknown, err := RowFromRecord(tt.rec, "id", testSchema)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			slices.Sort(unknown)
			if err != nil || key != tt.wantKey || !reflect.DeepEqual(r, row(tt.wantRow)) || !slices.Equal(unknown, tt.wantUnknown) {
				t.Errorf("got %q %#v %q %v; want %q %#v %q", key, r, unknown, err, tt.wantKey, row(tt.wantRow), tt.wantUnknown)
			}
		})
	}
}

func TestLoadDemo(t *testing.T) {
	now := time.Date(2026, 1, 13, 0, 0, 0, 0, time.UTC)
	opts := DemoOptions{Users: 2000, Seed: 3, Now: now}
	ix, st, err := LoadDemo(context.Background(), gen.Key, gen.Catalog(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 2000 || st.Rows != 2000 || len(st.UnknownAttributes) != 0 {
		t.Fatalf("len %d, stats %+v", ix.Len(), st)
	}
	// The demo is the generator's population: compare with its users.ndjson.
	dir := t.TempDir()
	if err := gen.Generate(context.Background(), gen.Config{Users: 2000, Seed: 3, Now: now}, dir, nil); err != nil {
		t.Fatal(err)
	}
	fromFile, _, err := LoadUsers(context.Background(), dir, gen.Key, gen.Catalog(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id := range uint32(2000) {
		a, _ := ix.Row(id)
		b, _ := fromFile.Row(id)
		ua, _ := ix.UserID(id)
		ub, _ := fromFile.UserID(id)
		if ua != ub || !reflect.DeepEqual(a, b) {
			t.Fatalf("user %d: demo %s %v, file %s %v", id, ua, a, ub, b)
		}
	}

	// Another key name and a smaller catalog.
	small := bitmaps.Schema{{Name: "engagement_tier", Kind: bitmaps.KindString}, {Name: "missing", Kind: bitmaps.KindInt}}
	ix, st, err = LoadDemo(context.Background(), "customer", small, DemoOptions{Users: 100, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 100 || st.UnknownAttributes["peak_hour"] == 0 || ix.Count(&bitmaps.Exists{Field: "missing"}) != 0 {
		t.Errorf("len %d, stats %+v", ix.Len(), st)
	}

	// A catalog whose types the demo does not fit.
	wrong := bitmaps.Schema{{Name: "engagement_tier", Kind: bitmaps.KindInt}}
	_, _, err = LoadDemo(context.Background(), gen.Key, wrong, DemoOptions{Users: 100, Now: now})
	if err == nil || !strings.HasPrefix(err.Error(), `the demo population does not fit the catalog: "engagement_tier": want int, got string`) {
		t.Errorf("error %v", err)
	}
}
