package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
)

// ConvertValue applies the NDJSON value rules (see the package doc) to a
// value already decoded by encoding/json — with or without UseNumber — or
// built in Go, and returns its Row form: nil (NULL), string, int64, float64,
// bool, int64 Unix seconds (KindTime) or a non-empty []string. Besides the
// JSON types it accepts Go ints for int and float, time.Time for timestamps
// and []string for lists. An empty list is NULL. The error message reads
// like a data file's: `want int, got string "ten"`.
func ConvertValue(k bitmaps.Kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func(why string) (any, error) {
		return nil, fmt.Errorf("want %s, got %s%s", kindName(k), describeGo(v), why)
	}
	switch k {
	case bitmaps.KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case bitmaps.KindInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case json.Number:
			if !isJSONNumber(string(x)) {
				return bad("")
			}
			n, why := exactInt([]byte(x))
			if why != "" {
				return bad(" (" + why + ")")
			}
			return n, nil
		case float64:
			switch {
			case x != math.Trunc(x):
				return bad(" (not an integer)")
			case x < -(1<<63) || x >= 1<<63 || math.IsNaN(x):
				return bad(" (out of int64 range)")
			}
			return int64(x), nil
		}
	case bitmaps.KindFloat:
		var x float64
		switch y := v.(type) {
		case float64:
			x = y
		case int64:
			x = float64(y)
		case int:
			x = float64(y)
		case json.Number:
			if !isJSONNumber(string(y)) {
				return bad("")
			}
			x, _ = strconv.ParseFloat(string(y), 64)
		default:
			return bad("")
		}
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return bad(" (out of float64 range)")
		}
		return x, nil
	case bitmaps.KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case bitmaps.KindTime:
		switch x := v.(type) {
		case string:
			if t, ok := parseTimestamp([]byte(x)); ok {
				return t, nil
			}
		case time.Time:
			return x.Unix(), nil
		}
	case bitmaps.KindStringList:
		switch x := v.(type) {
		case []string:
			if len(x) == 0 {
				return nil, nil
			}
			return x, nil
		case []any:
			if len(x) == 0 {
				return nil, nil
			}
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return bad(fmt.Sprintf(" (%s at index %d)", describeGo(e), i))
				}
				out[i] = s
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("unsupported attribute kind %d", k)
	}
	return bad("")
}

// isJSONNumber checks a json.Number's text (which Go code can set freely).
func isJSONNumber(s string) bool {
	d := lineDecoder{b: []byte(s)}
	_, err := d.number()
	return err == nil && d.i == len(s)
}

// describeGo says what a decoded value is, as a type error shows it.
func describeGo(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quote([]byte(x))
	case json.Number:
		return "number " + shorten([]byte(x))
	case float64:
		return "number " + strconv.FormatFloat(x, 'g', -1, 64)
	case int, int32, int64:
		return fmt.Sprintf("number %d", x)
	case bool:
		return "bool " + strconv.FormatBool(x)
	case []any, []string:
		return "array"
	case map[string]any:
		return "object"
	case time.Time:
		return "time " + x.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%T", v)
}

// RowFromRecord converts a decoded JSON object (or a gen record) into a
// user's key and Row with ConvertValue, under the same rules as a data
// file's line. It also returns the names of rec's attributes that are not in
// the schema (ignored). The error names the attribute at fault.
func RowFromRecord(rec map[string]any, key string, schema bitmaps.Schema) (string, bitmaps.Row, []string, error) {
	k, ok := rec[key].(string)
	if !ok || k == "" {
		return "", nil, nil, fmt.Errorf("%q: want a non-empty string, got %s", key, describeGo(rec[key]))
	}
	row := make(bitmaps.Row, len(schema))
	known := 1
	for i, f := range schema {
		v, present := rec[f.Name]
		if !present {
			continue
		}
		known++
		cv, err := ConvertValue(f.Kind, v)
		if err != nil {
			return "", nil, nil, fmt.Errorf("%q: %w", f.Name, err)
		}
		row[i] = cv
	}
	var unknown []string
	if known < len(rec) {
		for name := range rec {
			if name != key && !hasField(schema, name) {
				unknown = append(unknown, name)
			}
		}
	}
	return k, row, unknown, nil
}

func hasField(schema bitmaps.Schema, name string) bool {
	for _, f := range schema {
		if f.Name == name {
			return true
		}
	}
	return false
}
