package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cohortd/cohortd/bitmaps"
)

// testSchema has one field of each kind; the key attribute is "id".
var testSchema = bitmaps.Schema{
	{Name: "s", Kind: bitmaps.KindString},
	{Name: "i", Kind: bitmaps.KindInt},
	{Name: "f", Kind: bitmaps.KindFloat},
	{Name: "b", Kind: bitmaps.KindBool},
	{Name: "t", Kind: bitmaps.KindTime},
	{Name: "l", Kind: bitmaps.KindStringList},
}

type readRow struct {
	ID  string
	Row bitmaps.Row
}

// readAll runs ReadUsers over input and returns copies of the rows it got.
func readAll(t testing.TB, input string, opts Options) ([]readRow, Stats, error) {
	t.Helper()
	var rows []readRow
	st, err := ReadUsers(context.Background(), strings.NewReader(input), "users.ndjson", "id", testSchema, opts,
		func(id string, row bitmaps.Row) error {
			rows = append(rows, readRow{id, copyRow(row)})
			return nil
		})
	return rows, st, err
}

func copyRow(row bitmaps.Row) bitmaps.Row {
	out := make(bitmaps.Row, len(row))
	for i, v := range row {
		if l, ok := v.([]string); ok {
			v = slices.Clone(l)
		}
		out[i] = v
	}
	return out
}

// row builds an expected row from field name → value.
func row(vals map[string]any) bitmaps.Row {
	r := make(bitmaps.Row, len(testSchema))
	for i, f := range testSchema {
		r[i] = vals[f.Name]
	}
	return r
}

func TestReadUsersValues(t *testing.T) {
	tests := []struct {
		name string
		attr string // `"field": value` added to {"id":"u1", ...}
		want map[string]any
	}{
		{name: "nothing but the key", attr: ``, want: nil},
		{name: "null is NULL", attr: `"s":null,"i":null,"f":null,"b":null,"t":null,"l":null`, want: nil},
		{name: "string", attr: `"s":"cyclist"`, want: map[string]any{"s": "cyclist"}},
		{name: "empty string", attr: `"s":""`, want: map[string]any{"s": ""}},
		{name: "unicode string", attr: `"s":"ciclista-ñ 登山者"`, want: map[string]any{"s": "ciclista-ñ 登山者"}},
		{name: "escapes", attr: `"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"`, want: map[string]any{"s": "a\"b\\c/d\b\f\n\r\té😀"}},
		{name: "lone surrogate", attr: `"s":"x\ud800y\udc00"`, want: map[string]any{"s": "x\uFFFDy\uFFFD"}},
		{name: "escaped NUL", attr: `"s":"\u0000"`, want: map[string]any{"s": "\x00"}},
		{name: "int zero", attr: `"i":0`, want: map[string]any{"i": int64(0)}},
		{name: "int negative", attr: `"i":-1`, want: map[string]any{"i": int64(-1)}},
		{name: "int max", attr: `"i":9223372036854775807`, want: map[string]any{"i": int64(math.MaxInt64)}},
		{name: "int min", attr: `"i":-9223372036854775808`, want: map[string]any{"i": int64(math.MinInt64)}},
		{name: "int with zero fraction", attr: `"i":5.000`, want: map[string]any{"i": int64(5)}},
		{name: "int with exponent", attr: `"i":1e3`, want: map[string]any{"i": int64(1000)}},
		{name: "int with signed exponent", attr: `"i":1E+2`, want: map[string]any{"i": int64(100)}},
		{name: "int fraction cancelled by exponent", attr: `"i":1.5e1`, want: map[string]any{"i": int64(15)}},
		{name: "int negative exponent integral", attr: `"i":50e-1`, want: map[string]any{"i": int64(5)}},
		{name: "int negative zero", attr: `"i":-0`, want: map[string]any{"i": int64(0)}},
		{name: "int zero with huge exponent", attr: `"i":0e999999999999999999`, want: map[string]any{"i": int64(0)}},
		{name: "int min via exponent", attr: `"i":-9.223372036854775808e18`, want: map[string]any{"i": int64(math.MinInt64)}},
		{name: "float", attr: `"f":1.5`, want: map[string]any{"f": 1.5}},
		{name: "float from integer", attr: `"f":5`, want: map[string]any{"f": 5.0}},
		{name: "float exponent", attr: `"f":-2.5e-3`, want: map[string]any{"f": -0.0025}},
		{name: "float max", attr: `"f":1.7976931348623157e308`, want: map[string]any{"f": math.MaxFloat64}},
		{name: "float smallest", attr: `"f":5e-324`, want: map[string]any{"f": math.SmallestNonzeroFloat64}},
		{name: "float underflow is zero", attr: `"f":1e-400`, want: map[string]any{"f": 0.0}},
		{name: "float big integer", attr: `"f":12345678901234567890`, want: map[string]any{"f": 12345678901234567890.0}},
		{name: "bool true", attr: `"b":true`, want: map[string]any{"b": true}},
		{name: "bool false", attr: `"b":false`, want: map[string]any{"b": false}},
		{name: "timestamp", attr: `"t":"2026-01-10T08:00:00Z"`, want: map[string]any{"t": int64(1768032000)}},
		{name: "timestamp fraction rounds down", attr: `"t":"2026-01-10T08:00:00.999999999Z"`, want: map[string]any{"t": int64(1768032000)}},
		{name: "timestamp before 1970 rounds down", attr: `"t":"1969-12-31T23:59:59.5Z"`, want: map[string]any{"t": int64(-1)}},
		{name: "timestamp offset", attr: `"t":"2026-01-10T10:00:00+02:00"`, want: map[string]any{"t": int64(1768032000)}},
		{name: "timestamp negative offset", attr: `"t":"2026-01-10T02:30:00-05:30"`, want: map[string]any{"t": int64(1768032000)}},
		{name: "timestamp lower case", attr: `"t":"2026-01-10t08:00:00z"`, want: map[string]any{"t": int64(1768032000)}},
		{name: "timestamp space", attr: `"t":"2026-01-10 08:00:00Z"`, want: map[string]any{"t": int64(1768032000)}},
		{name: "timestamp leap day", attr: `"t":"2024-02-29T00:00:00Z"`, want: map[string]any{"t": int64(1709164800)}},
		{name: "timestamp year 0", attr: `"t":"0000-01-01T00:00:00Z"`, want: map[string]any{"t": int64(-62167219200)}},
		{name: "list", attr: `"l":["cyclist","runner"]`, want: map[string]any{"l": []string{"cyclist", "runner"}}},
		{name: "list with spaces", attr: `"l" : [ "a" , "b" ] `, want: map[string]any{"l": []string{"a", "b"}}},
		{name: "list keeps repeats", attr: `"l":["a","a"]`, want: map[string]any{"l": []string{"a", "a"}}},
		{name: "empty list is NULL", attr: `"l":[]`, want: nil},
		{name: "empty list with space is NULL", attr: `"l":[ ]`, want: nil},
		{name: "unknown attributes ignored", attr: `"x":{"y":[1,{"z":null}],"w":"v"},"s":"k"`, want: map[string]any{"s": "k"}},
		{name: "every field", attr: `"s":"a","i":7,"f":0.5,"b":true,"t":"1970-01-01T00:00:10Z","l":["x"]`,
			want: map[string]any{"s": "a", "i": int64(7), "f": 0.5, "b": true, "t": int64(10), "l": []string{"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := `{"id":"u1"`
			if tt.attr != "" {
				line += "," + tt.attr
			}
			line += "}\n"
			rows, _, err := readAll(t, line, Options{})
			if err != nil {
				t.Fatalf("ReadUsers(%s): %v", line, err)
			}
			want := []readRow{{"u1", row(tt.want)}}
			if !reflect.DeepEqual(rows, want) {
				t.Errorf("ReadUsers(%s)\n got %#v\nwant %#v", line, rows, want)
			}
		})
	}
}

func TestReadUsersErrors(t *testing.T) {
	const hint = " (fix the value or pass --skip-bad-rows)"
	const lineHint = " (fix the line or pass --skip-bad-rows)"
	tests := []struct {
		name  string
		input string // line 2 of the file; line 1 is a good row
		want  string
	}{
		{name: "int from string", input: `{"id":"u2","i":"ten"}`,
			want: `users.ndjson:2: "i": want int, got string "ten"` + hint},
		{name: "int with fraction", input: `{"id":"u2","i":5.5}`,
			want: `users.ndjson:2: "i": want int, got number 5.5 (not an integer)` + hint},
		{name: "int with negative exponent", input: `{"id":"u2","i":1e-3}`,
			want: `users.ndjson:2: "i": want int, got number 1e-3 (not an integer)` + hint},
		{name: "int too big", input: `{"id":"u2","i":9223372036854775808}`,
			want: `users.ndjson:2: "i": want int, got number 9223372036854775808 (out of int64 range)` + hint},
		{name: "int too small", input: `{"id":"u2","i":-9223372036854775809}`,
			want: `users.ndjson:2: "i": want int, got number -9223372036854775809 (out of int64 range)` + hint},
		{name: "int huge exponent", input: `{"id":"u2","i":1e400}`,
			want: `users.ndjson:2: "i": want int, got number 1e400 (out of int64 range)` + hint},
		{name: "int from bool", input: `{"id":"u2","i":true}`,
			want: `users.ndjson:2: "i": want int, got bool true` + hint},
		{name: "float out of range", input: `{"id":"u2","f":1e400}`,
			want: `users.ndjson:2: "f": want float, got number 1e400 (out of float64 range)` + hint},
		{name: "float negative out of range", input: `{"id":"u2","f":-1e400}`,
			want: `users.ndjson:2: "f": want float, got number -1e400 (out of float64 range)` + hint},
		{name: "float from string", input: `{"id":"u2","f":"1.5"}`,
			want: `users.ndjson:2: "f": want float, got string "1.5"` + hint},
		{name: "string from number", input: `{"id":"u2","s":5}`,
			want: `users.ndjson:2: "s": want string, got number 5` + hint},
		{name: "string from array", input: `{"id":"u2","s":["a"]}`,
			want: `users.ndjson:2: "s": want string, got array` + hint},
		{name: "string from object", input: `{"id":"u2","s":{"a":1}}`,
			want: `users.ndjson:2: "s": want string, got object` + hint},
		{name: "bool from string", input: `{"id":"u2","b":"true"}`,
			want: `users.ndjson:2: "b": want bool, got string "true"` + hint},
		{name: "bool from number", input: `{"id":"u2","b":1}`,
			want: `users.ndjson:2: "b": want bool, got number 1` + hint},
		{name: "timestamp date only", input: `{"id":"u2","t":"2026-01-10"}`,
			want: `users.ndjson:2: "t": want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "2026-01-10"` + hint},
		{name: "timestamp without zone", input: `{"id":"u2","t":"2026-01-10T08:00:00"}`,
			want: `users.ndjson:2: "t": want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "2026-01-10T08:00:00"` + hint},
		{name: "timestamp bad day", input: `{"id":"u2","t":"2026-02-29T08:00:00Z"}`,
			want: `users.ndjson:2: "t": want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "2026-02-29T08:00:00Z"` + hint},
		{name: "timestamp hour 24", input: `{"id":"u2","t":"2026-01-10T24:00:00Z"}`,
			want: `users.ndjson:2: "t": want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "2026-01-10T24:00:00Z"` + hint},
		{name: "timestamp empty fraction", input: `{"id":"u2","t":"2026-01-10T08:00:00.Z"}`,
			want: `users.ndjson:2: "t": want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "2026-01-10T08:00:00.Z"` + hint},
		{name: "timestamp as number", input: `{"id":"u2","t":1768032000}`,
			want: `users.ndjson:2: "t": want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got number 1768032000` + hint},
		{name: "list from string", input: `{"id":"u2","l":"cyclist"}`,
			want: `users.ndjson:2: "l": want list<string>, got string "cyclist"` + hint},
		{name: "list with null", input: `{"id":"u2","l":["a",null]}`,
			want: `users.ndjson:2: "l": want list<string>, got null at index 1` + hint},
		{name: "list with number", input: `{"id":"u2","l":[3]}`,
			want: `users.ndjson:2: "l": want list<string>, got number 3 at index 0` + hint},
		{name: "list of lists", input: `{"id":"u2","l":[["a"]]}`,
			want: `users.ndjson:2: "l": want list<string>, got array at index 0` + hint},
		{name: "long value is cut", input: `{"id":"u2","i":"` + strings.Repeat("é", 30) + `"}`,
			want: `users.ndjson:2: "i": want int, got string "` + strings.Repeat("é", 20) + `"…` + hint},
		{name: "missing key", input: `{"s":"a"}`,
			want: `users.ndjson:2: missing key attribute "id"` + lineHint},
		{name: "empty object", input: `{}`,
			want: `users.ndjson:2: missing key attribute "id"` + lineHint},
		{name: "null key", input: `{"id":null}`,
			want: `users.ndjson:2: "id": want a non-empty string, got null` + hint},
		{name: "empty key", input: `{"id":""}`,
			want: `users.ndjson:2: "id": want a non-empty string, got ""` + hint},
		{name: "number key", input: `{"id":42}`,
			want: `users.ndjson:2: "id": want a non-empty string, got number 42` + hint},
		{name: "key twice", input: `{"id":"a","id":"b"}`,
			want: `users.ndjson:2: "id": appears twice in the object` + hint},
		{name: "attribute twice", input: `{"id":"a","s":"x","s":"y"}`,
			want: `users.ndjson:2: "s": appears twice in the object` + hint},
		{name: "not JSON", input: `hello`,
			want: `users.ndjson:2: not valid JSON at column 1: want a value, got 'h'` + lineHint},
		{name: "array line", input: `["id","u2"]`,
			want: `users.ndjson:2: want a JSON object, got array` + lineHint},
		{name: "string line", input: `"u2"`,
			want: `users.ndjson:2: want a JSON object, got string "u2"` + lineHint},
		{name: "unterminated object", input: `{"id":"u2"`,
			want: `users.ndjson:2: not valid JSON at column 11: want ',' or '}', got the end of the line` + lineHint},
		{name: "unterminated string", input: `{"id":"u2`,
			want: `users.ndjson:2: not valid JSON at column 10: want '"', got the end of the line` + lineHint},
		{name: "trailing comma", input: `{"id":"u2",}`,
			want: `users.ndjson:2: not valid JSON at column 12: want an attribute name, got '}'` + lineHint},
		{name: "missing colon", input: `{"id" "u2"}`,
			want: `users.ndjson:2: not valid JSON at column 7: want ':', got '"'` + lineHint},
		{name: "single quotes", input: `{'id':'u2'}`,
			want: `users.ndjson:2: not valid JSON at column 2: want an attribute name, got '\''` + lineHint},
		{name: "trailing garbage", input: `{"id":"u2"} x`,
			want: `users.ndjson:2: not valid JSON at column 13: want the end of the line after the object, got 'x'` + lineHint},
		{name: "two objects", input: `{"id":"u2"}{"id":"u3"}`,
			want: `users.ndjson:2: not valid JSON at column 12: want the end of the line after the object, got '{'` + lineHint},
		{name: "leading zero", input: `{"id":"u2","i":01}`,
			want: `users.ndjson:2: not valid JSON at column 17: want ',' or '}', got '1'` + lineHint},
		{name: "plus sign", input: `{"id":"u2","i":+1}`,
			want: `users.ndjson:2: not valid JSON at column 16: want a value, got '+'` + lineHint},
		{name: "bare fraction", input: `{"id":"u2","f":1.}`,
			want: `users.ndjson:2: not valid JSON at column 18: want a digit, got '}'` + lineHint},
		{name: "bad exponent", input: `{"id":"u2","f":1e}`,
			want: `users.ndjson:2: not valid JSON at column 18: want a digit, got '}'` + lineHint},
		{name: "NaN", input: `{"id":"u2","f":NaN}`,
			want: `users.ndjson:2: not valid JSON at column 16: want a value, got 'N'` + lineHint},
		{name: "bad literal", input: `{"id":"u2","b":tru}`,
			want: `users.ndjson:2: not valid JSON at column 19: want true, got '}'` + lineHint},
		{name: "bad escape", input: `{"id":"u2","s":"a\x"}`,
			want: `users.ndjson:2: not valid JSON at column 19: want an escape sequence, got 'x'` + lineHint},
		{name: "short unicode escape", input: `{"id":"u2","s":"\u12"}`,
			want: `users.ndjson:2: not valid JSON at column 18: want 4 hex digits after \u, got 'u'` + lineHint},
		{name: "control character", input: "{\"id\":\"u2\",\"s\":\"a\tb\"}",
			want: `users.ndjson:2: not valid JSON at column 18: want a string character (control characters must be escaped), got '\t'` + lineHint},
		{name: "invalid UTF-8", input: "{\"id\":\"u2\",\"s\":\"a\xffb\"}",
			want: `users.ndjson:2: not valid UTF-8 at column 18: byte 0xff` + lineHint},
		{name: "invalid UTF-8 after escape", input: "{\"id\":\"u2\",\"s\":\"\\n\xc3\"}",
			want: `users.ndjson:2: not valid UTF-8 at column 19: byte 0xc3` + lineHint},
		{name: "unknown attribute still parsed", input: `{"id":"u2","x":[1,}`,
			want: `users.ndjson:2: not valid JSON at column 19: want a value, got '}'` + lineHint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := `{"id":"u1"}` + "\n" + tt.input + "\n" + `{"id":"u3"}` + "\n"
			rows, st, err := readAll(t, input, Options{})
			if err == nil {
				t.Fatalf("ReadUsers(%s) = nil error, want %s", tt.input, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("ReadUsers(%s) error\n got %s\nwant %s", tt.input, got, tt.want)
			}
			var rerr *RowError
			if !errors.As(err, &rerr) || rerr.Line != 2 || rerr.File != "users.ndjson" {
				t.Errorf("error %#v is not a *RowError at users.ndjson:2", err)
			}
			if len(rows) != 1 || st.Rows != 1 {
				t.Errorf("got %d rows (stats %d) before the error, want 1", len(rows), st.Rows)
			}

			// With SkipBadRows the line is skipped and counted, the rest read.
			rows, st, err = readAll(t, input, Options{SkipBadRows: true})
			if err != nil {
				t.Fatalf("ReadUsers(SkipBadRows): %v", err)
			}
			if len(rows) != 2 || st.Rows != 2 || st.Skipped != 1 || len(st.FirstErrors) != 1 {
				t.Fatalf("SkipBadRows: %d rows, stats %+v; want 2 rows, 1 skipped", len(rows), st)
			}
			if got, want := st.FirstErrors[0].Error(), strings.TrimSuffix(strings.TrimSuffix(tt.want, hint), lineHint); got != want {
				t.Errorf("skipped error\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestReadUsersLines(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantIDs  []string
		wantLine int // line of the bad row in input, 0 when none
	}{
		{name: "blank lines ignored", input: "\n{\"id\":\"a\"}\n\n  \t\n{\"id\":\"b\"}\n\n", wantIDs: []string{"a", "b"}},
		{name: "line numbers count blank lines", input: "\n\n{\"id\":1}\n", wantLine: 3},
		{name: "CRLF", input: "{\"id\":\"a\"}\r\n{\"id\":\"b\"}\r\n", wantIDs: []string{"a", "b"}},
		{name: "no final newline", input: "{\"id\":\"a\"}\n{\"id\":\"b\"}", wantIDs: []string{"a", "b"}},
		{name: "byte order mark", input: "\xef\xbb\xbf{\"id\":\"a\"}\n", wantIDs: []string{"a"}},
		{name: "byte order mark only on line 1", input: "{\"id\":\"a\"}\n\xef\xbb\xbf{\"id\":\"b\"}\n", wantLine: 2},
		{name: "empty input", input: "", wantIDs: nil},
		{name: "spaces around", input: "  { \"id\" : \"a\" , \"s\" : \"x\" }  \n", wantIDs: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, err := readAll(t, tt.input, Options{})
			var rerr *RowError
			switch {
			case tt.wantLine > 0:
				if !errors.As(err, &rerr) || rerr.Line != tt.wantLine {
					t.Fatalf("error %v, want a RowError on line %d", err, tt.wantLine)
				}
			case err != nil:
				t.Fatal(err)
			default:
				var ids []string
				for _, r := range rows {
					ids = append(ids, r.ID)
				}
				if !slices.Equal(ids, tt.wantIDs) {
					t.Errorf("ids %q, want %q", ids, tt.wantIDs)
				}
			}
		})
	}
}

func TestReadUsersLongLine(t *testing.T) {
	long := `{"id":"long","s":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	fits := `{"id":"fits","s":"` + strings.Repeat("y", MaxLineBytes-len(`{"id":"fits","s":""}`)) + `"}`
	input := `{"id":"a"}` + "\n" + long + "\n" + fits + "\n" + `{"id":"b"}` + "\n"
	_, _, err := readAll(t, input, Options{})
	if want := "users.ndjson:2: line longer than 16 MiB (fix the line or pass --skip-bad-rows)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	rows, st, err := readAll(t, input, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || st.Skipped != 1 || rows[1].ID != "fits" || len(rows[1].Row[0].(string)) != MaxLineBytes-len(`{"id":"fits","s":""}`) {
		t.Errorf("got %d rows, %+v; want a, fits, b and one skipped", len(rows), st)
	}
}

func TestReadUsersStats(t *testing.T) {
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, `{"id":"u%d","extra":1,"i":%d}`+"\n", i, i)
		if i%2 == 0 {
			fmt.Fprintf(&b, `{"id":"bad%d","i":"x","other":{}}`+"\n", i)
		}
	}
	_, st, err := readAll(t, b.String(), Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 25 || st.Skipped != 13 || len(st.FirstErrors) != 10 {
		t.Errorf("stats %+v: want 25 rows, 13 skipped, 10 errors kept", st)
	}
	if got := st.FirstErrors[9].Error(); got != `users.ndjson:29: "i": want int, got string "x"` {
		t.Errorf("10th error %s", got)
	}
	// "other" comes after the bad value, so bad rows never reach it.
	if want := map[string]int64{"extra": 25}; !reflect.DeepEqual(st.UnknownAttributes, want) {
		t.Errorf("unknown attributes %v, want %v", st.UnknownAttributes, want)
	}
}

func TestReadUsersUnknownAttributes(t *testing.T) {
	input := `{"id":"a","x":1,"s":"v","y":[1]}` + "\n" + `{"y":null,"id":"b","z":{"x":1}}` + "\n" + `{"id":"c"}` + "\n"
	_, st, err := readAll(t, input, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"x": 1, "y": 2, "z": 1}; !reflect.DeepEqual(st.UnknownAttributes, want) {
		t.Errorf("unknown attributes %v, want %v", st.UnknownAttributes, want)
	}
}

// TestReadUsersKeyOnlyCatalog: a catalog of the key alone (static cohorts
// need nothing else) reads users, counting every other attribute as
// unknown; it used to index past the empty schema.
func TestReadUsersKeyOnlyCatalog(t *testing.T) {
	input := `{"id":"a"}` + "\n" + `{"x":1,"id":"b"}` + "\n" + `{"id":"c","x":2,"y":null}` + "\n"
	var keys []string
	st, err := ReadUsers(context.Background(), strings.NewReader(input), "users.ndjson", "id", nil, Options{},
		func(key string, row bitmaps.Row) error {
			if len(row) != 0 {
				t.Errorf("row %v, want none", row)
			}
			keys = append(keys, key)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a", "b", "c"}) || !reflect.DeepEqual(st.UnknownAttributes, map[string]int64{"x": 2, "y": 1}) {
		t.Errorf("keys %v, unknown attributes %v", keys, st.UnknownAttributes)
	}
}

func TestReadUsersManyUnknownNames(t *testing.T) {
	var b strings.Builder
	for i := range maxUnknownNames + 5 {
		fmt.Fprintf(&b, `{"id":"u%d","attr%d":1}`+"\n", i, i)
	}
	_, st, err := readAll(t, b.String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.UnknownAttributes) != maxUnknownNames+1 || st.UnknownAttributes[otherUnknown] != 5 {
		t.Errorf("%d unknown names, %d others; want %d names and 5 others",
			len(st.UnknownAttributes), st.UnknownAttributes[otherUnknown], maxUnknownNames+1)
	}
}

func TestReadUsersCallback(t *testing.T) {
	input := `{"id":"a"}` + "\n" + `{"id":"b"}` + "\n" + `{"id":"a"}` + "\n" + `{"id":"c"}` + "\n"
	dupAware := func(id string, _ bitmaps.Row) error {
		if id == "a" && seenA {
			return fmt.Errorf("user %q: %w", id, bitmaps.ErrDuplicateUser)
		}
		seenA = seenA || id == "a"
		return nil
	}
	tests := []struct {
		name    string
		fn      func(string, bitmaps.Row) error
		skip    bool
		want    string
		wantErr error
		rows    int64
	}{
		{name: "duplicate is a row error", fn: dupAware,
			want: `users.ndjson:3: "id": duplicate "a" (fix the value or pass --skip-bad-rows)`, wantErr: bitmaps.ErrDuplicateUser, rows: 2},
		{name: "duplicate skipped", fn: dupAware, skip: true, rows: 3},
		{name: "other errors stop the read", fn: func(id string, _ bitmaps.Row) error {
			if id == "b" {
				return errBoom
			}
			return nil
		}, skip: true, want: "users.ndjson:2: boom", wantErr: errBoom, rows: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seenA = false
			st, err := ReadUsers(context.Background(), strings.NewReader(input), "users.ndjson", "id", testSchema,
				Options{SkipBadRows: tt.skip}, tt.fn)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if st.Rows != tt.rows {
				t.Errorf("%d rows, want %d", st.Rows, tt.rows)
			}
		})
	}
}

var (
	seenA   bool
	errBoom = errors.New("boom")
)

func TestReadUsersProgress(t *testing.T) {
	input := strings.Repeat(`{"id":"a"}`+"\n", 2*progressEvery+7)
	type call struct{ rows, bytes int64 }
	var calls []call
	_, st, err := readAll(t, input, Options{Progress: func(rows, bytes int64) { calls = append(calls, call{rows, bytes}) }})
	if err != nil {
		t.Fatal(err)
	}
	lineLen := int64(len(`{"id":"a"}` + "\n"))
	want := []call{{progressEvery, progressEvery * lineLen}, {2 * progressEvery, 2 * progressEvery * lineLen}, {st.Rows, st.Rows * lineLen}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}

func TestReadUsersReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(`{"id":"a"}`+"\n"+`{"id":"b"}`+"\n"), iotest.ErrReader(errBoom))
	st, err := ReadUsers(context.Background(), r, "users.ndjson", "id", testSchema, Options{},
		func(string, bitmaps.Row) error { return nil })
	if !errors.Is(err, errBoom) || err.Error() != "cannot read users.ndjson after line 2: boom" || st.Rows != 2 {
		t.Errorf("got %d rows, error %v; want 2 rows and a read error", st.Rows, err)
	}
}

func TestReadUsersCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	input := strings.Repeat(`{"id":"a"}`+"\n", 50_000)
	n := 0
	_, err := ReadUsers(ctx, strings.NewReader(input), "users.ndjson", "id", testSchema, Options{},
		func(string, bitmaps.Row) error {
			if n++; n == 10 {
				cancel()
			}
			return nil
		})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if n >= 50_000 {
		t.Errorf("read all %d rows after the cancel", n)
	}
}

// A row and its lists are reused, but the strings in them may be kept.
func TestReadUsersKeepStrings(t *testing.T) {
	input := `{"id":"a","s":"one","l":["x","y"]}` + "\n" + `{"id":"b","s":"two","l":["z"]}` + "\n"
	var kept []string
	_, err := ReadUsers(context.Background(), strings.NewReader(input), "users.ndjson", "id", testSchema, Options{},
		func(id string, row bitmaps.Row) error {
			kept = append(kept, id, row[0].(string))
			kept = append(kept, row[5].([]string)...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "one", "x", "y", "b", "two", "z"}; !slices.Equal(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
}

func TestParseFloat(t *testing.T) {
	toks := []string{"0", "-0", "0.0", "1", "-1.5", "0.1", "0.3", "123456789012345", "12345678901234.5",
		"0.000000000000001", "0.0000000000000001", "0.0000000000000000001", "1234567890123456", "9007199254740993",
		"99.99", "-42.30", "1e5", "1.5E-3", "1e308", "1e309", "-1e309", "4.9e-324", "1e-400", "123.456e2"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 { // random short decimals, the fast path's domain
		toks = append(toks, strconv.FormatFloat(r.Float64()*math.Pow(10, float64(r.IntN(12)-4)), 'f', r.IntN(8), 64))
	}
	for _, tok := range toks {
		want, err := strconv.ParseFloat(tok, 64)
		wantOK := err == nil || !math.IsInf(want, 0)
		got, ok := parseFloat([]byte(tok))
		if ok != wantOK || (ok && math.Float64bits(got) != math.Float64bits(want)) {
			t.Errorf("parseFloat(%s) = %v, %v; strconv gives %v, %v", tok, got, ok, want, wantOK)
		}
	}
}

func TestExactInt(t *testing.T) {
	tests := []struct {
		tok  string
		want int64
		why  string
	}{
		{"0", 0, ""}, {"-0.0e5", 0, ""}, {"100", 100, ""}, {"1.0", 1, ""}, {"0.1e1", 1, ""},
		{"123456789e10", 1234567890000000000, ""}, {"922337203685477580.7e1", math.MaxInt64, ""},
		{"9223372036854775807.0", math.MaxInt64, ""}, {"-9223372036854775808.000", math.MinInt64, ""},
		{"0.5", 0, "not an integer"}, {"1e-1", 0, "not an integer"}, {"10000000000000000000", 0, "out of int64 range"},
		{"1e19", 0, "out of int64 range"}, {"99999999999999999999e-1", 0, "not an integer"},
		{"1e999999999999999999999", 0, "out of int64 range"}, {"1e-999999999999999999999", 0, "not an integer"},
		{"18446744073709551616", 0, "out of int64 range"}, {"9.223372036854775808e18", 0, "out of int64 range"},
	}
	for _, tt := range tests {
		got, why := exactInt([]byte(tt.tok))
		if got != tt.want || why != tt.why {
			t.Errorf("exactInt(%s) = %d, %q; want %d, %q", tt.tok, got, why, tt.want, tt.why)
		}
	}
}
