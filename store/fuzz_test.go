package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cohortd/cohortd/bitmaps"
)

// FuzzReadUsers checks that ReadUsers never panics and agrees, line by line,
// with a reference decoder built on encoding/json: a line the store accepts
// is valid JSON with the same values; a valid UTF-8 line that the reference
// accepts is accepted too; and a line reported as not valid JSON is indeed
// not valid JSON.
func FuzzReadUsers(f *testing.F) {
	for _, seed := range []string{
		`{"id":"u1","s":"a","i":1,"f":1.5,"b":true,"t":"2026-01-10T08:00:00Z","l":["x"]}`,
		`{"id":"u1","i":5.0e0,"f":-0,"t":"2026-01-10 08:00:00.5+01:00","l":[]}`,
		`{"id":"u1","s":"\u00e9\ud83d\ude00\ud800","x":{"y":[1,2,{"z":null}]}}`,
		`{"id":"u1","i":9223372036854775807}` + "\n" + `{"id":"u2","i":-9223372036854775808}`,
		`{"id":"u1","i":1e400,"f":1e400}`,
		`{"id":"u1","s":"a","s":"b"}`,
		`{"id":1}`, `[]`, `{"id":"a"} x`, "\xef\xbb\xbf{\"id\":\"a\"}\r\n\n",
		`{"id":"u1","l":["a",null]}`, `{"id":"u1","t":"2024-02-29T23:59:60Z"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Line by line against the reference.
		lines := bytes.Split(data, []byte("\n"))
		for n, line := range lines {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if n == 0 {
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			if IsBlank(line) || len(line) > MaxLineBytes {
				continue
			}
			// A key-only catalog never panics either.
			newLineDecoder("id", nil).decode(line, nil)
			d := newLineDecoder("id", testSchema)
			got := make(bitmaps.Row, len(testSchema))
			key, err := d.decode(line, got)
			refKey, want, refErr := refDecode(line)
			switch {
			case err == nil && refErr != nil:
				t.Fatalf("line %q: accepted, but the reference says %v", line, refErr)
			case err == nil:
				if key != refKey || !reflect.DeepEqual(got, want) {
					t.Fatalf("line %q:\n got %q %#v\nwant %q %#v", line, key, got, refKey, want)
				}
				checkTypes(t, got)
			case refErr == nil && utf8.Valid(line) && !strings.Contains(err.Msg, "appears twice"):
				t.Fatalf("line %q: rejected (%v), but the reference accepts %q %#v", line, err, refKey, want)
			case strings.HasPrefix(err.Msg, "not valid JSON") && json.Valid(line):
				t.Fatalf("line %q: %v, but encoding/json says it is valid", line, err)
			}
		}

		// The whole input: every non-blank line is a row or a skipped row.
		var rows int64
		st, err := ReadUsers(context.Background(), bytes.NewReader(data), "f", "id", testSchema,
			Options{SkipBadRows: true}, func(_ string, row bitmaps.Row) error {
				rows++
				checkTypes(t, row)
				return nil
			})
		if err != nil {
			t.Fatalf("ReadUsers with SkipBadRows: %v", err)
		}
		nonBlank := int64(0)
		for n, line := range lines {
			if n == 0 {
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			if !IsBlank(line) {
				nonBlank++
			}
		}
		if st.Rows != rows || st.Rows+st.Skipped != nonBlank {
			t.Fatalf("stats %+v, %d rows seen, %d non-blank lines", st, rows, nonBlank)
		}
		_, err = ReadUsers(context.Background(), bytes.NewReader(data), "f", "id", testSchema, Options{},
			func(string, bitmaps.Row) error { return nil })
		var rerr *RowError
		if (st.Skipped > 0) != errors.As(err, &rerr) {
			t.Fatalf("skipped %d rows, but without SkipBadRows the error is %v", st.Skipped, err)
		}
	})
}

// checkTypes checks that each value has its kind's Go type.
func checkTypes(t *testing.T, row bitmaps.Row) {
	t.Helper()
	for i, v := range row {
		if v == nil {
			continue
		}
		ok := false
		switch testSchema[i].Kind {
		case bitmaps.KindString:
			_, ok = v.(string)
		case bitmaps.KindInt, bitmaps.KindTime:
			_, ok = v.(int64)
		case bitmaps.KindFloat:
			var x float64
			x, ok = v.(float64)
			ok = ok && !math.IsInf(x, 0) && !math.IsNaN(x)
		case bitmaps.KindBool:
			_, ok = v.(bool)
		case bitmaps.KindStringList:
			var l []string
			l, ok = v.([]string)
			ok = ok && len(l) > 0
		}
		if !ok {
			t.Fatalf("field %s: value %#v does not fit %v", testSchema[i].Name, v, testSchema[i].Kind)
		}
	}
}

// refDecode is the reference: encoding/json (UseNumber) for the syntax, the
// package's value rules restated with big.Rat and time.Parse.
func refDecode(line []byte) (string, bitmaps.Row, error) {
	if !json.Valid(line) {
		return "", nil, errors.New("not valid JSON")
	}
	// Walk the object's attributes to catch duplicates (a map keeps the last).
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", nil, errors.New("not an object")
	}
	obj := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, err
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", nil, err
		}
		if _, dup := obj[name]; dup && (name == "id" || slices.ContainsFunc(testSchema, func(f bitmaps.Field) bool { return f.Name == name })) {
			return "", nil, errors.New("duplicate attribute " + name)
		}
		obj[name] = raw
	}
	value := func(raw json.RawMessage) (any, error) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	var key string
	raw, ok := obj["id"]
	if !ok {
		return "", nil, errors.New("missing key")
	}
	v, err := value(raw)
	if s, isStr := v.(string); err != nil || !isStr || s == "" {
		return "", nil, errors.New("bad key")
	}
	key = v.(string)
	row := make(bitmaps.Row, len(testSchema))
	for i, f := range testSchema {
		raw, ok := obj[f.Name]
		if !ok {
			continue
		}
		v, err := value(raw)
		if err != nil {
			return "", nil, err
		}
		if v == nil {
			continue
		}
		bad := errors.New("wrong type for " + f.Name)
		switch f.Kind {
		case bitmaps.KindString:
			s, ok := v.(string)
			if !ok {
				return "", nil, bad
			}
			row[i] = s
		case bitmaps.KindInt:
			n, ok := v.(json.Number)
			if !ok {
				return "", nil, bad
			}
			r, ok := new(big.Rat).SetString(string(n))
			if !ok || !r.IsInt() || !r.Num().IsInt64() {
				return "", nil, bad
			}
			row[i] = r.Num().Int64()
		case bitmaps.KindFloat:
			n, ok := v.(json.Number)
			if !ok {
				return "", nil, bad
			}
			x, err := strconv.ParseFloat(string(n), 64)
			if err != nil && (math.IsInf(x, 0) || math.IsNaN(x)) {
				return "", nil, bad
			}
			row[i] = x
		case bitmaps.KindBool:
			b, ok := v.(bool)
			if !ok {
				return "", nil, bad
			}
			row[i] = b
		case bitmaps.KindTime:
			s, ok := v.(string)
			if !ok {
				return "", nil, bad
			}
			ts, ok := refTimestamp(s)
			if !ok {
				return "", nil, bad
			}
			row[i] = ts
		case bitmaps.KindStringList:
			l, ok := v.([]any)
			if !ok {
				return "", nil, bad
			}
			var out []string
			for _, e := range l {
				s, ok := e.(string)
				if !ok {
					return "", nil, bad
				}
				out = append(out, s)
			}
			if len(out) > 0 {
				row[i] = out
			}
		}
	}
	return key, row, nil
}

// refTimestamp parses an RFC 3339 timestamp with time.Parse, after mapping
// the separators the package also accepts ('t', ' ', 'z') to 'T' and 'Z'.
func refTimestamp(s string) (int64, bool) {
	b := []byte(s)
	if len(b) > 10 && (b[10] == 't' || b[10] == ' ') {
		b[10] = 'T'
	}
	if len(b) > 0 && b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	// time.Parse's general path is laxer than RFC 3339 (one-digit hours,
	// a comma before the fraction, offsets up to +24:00): check the shape.
	if !rfc3339Shape.Match(b) {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

var rfc3339Shape = regexp.MustCompile(`^\d{4}-\d\d-\d\dT([01]\d|2[0-3]):\d\d:\d\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2026-01-10T08:00:00Z", "2026-01-10T08:00:00.123456789+05:30", "1969-12-31T23:59:59.5-00:00",
		"2024-02-29t00:00:00z", "2026-01-10 08:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
		"2026-13-01T00:00:00Z", "2026-01-10T08:00:60Z", "2026-01-10T08:00:00+24:00", "2026-01-10T08:00:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTimestamp([]byte(s))
		want, wantOK := refTimestamp(s)
		if ok != wantOK || got != want {
			t.Fatalf("parseTimestamp(%q) = %d, %v; time.Parse gives %d, %v", s, got, ok, want, wantOK)
		}
	})
}
