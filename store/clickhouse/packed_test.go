package clickhouse

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cohortd/cohortd/bitmaps"
)

// packedTable is a table with every scan kind, nullable and not.
func packedTable() *Table {
	return &Table{qname: "`db`.`t`", key: column{attr: "id", scan: scanString, key: true}, cols: []column{
		{attr: "s", scan: scanString},
		{attr: "ns", scan: scanString, nullable: true},
		{attr: "i", scan: scanInt64, nullable: true},
		{attr: "u", scan: scanUInt64},
		{attr: "f", scan: scanFloat64, nullable: true},
		{attr: "b", scan: scanBool, nullable: true},
		{attr: "l", scan: scanList},
	}}
}

// packRow encodes a row as packedSel's expression does in ClickHouse (nil
// is NULL; lists are []string).
func packRow(t *Table, key string, vals []any) string {
	var b strings.Builder
	for j, c := range t.cols {
		if !c.packed() && c.nullable {
			b.WriteString(map[bool]string{true: "1", false: "0"}[vals[j] == nil])
		}
	}
	lp := func(s string) { b.WriteString(strconv.Itoa(len(s)) + ":" + s) }
	lp(key)
	for j, c := range t.cols {
		switch {
		case !c.packed():
		case c.nullable && vals[j] == nil:
			b.WriteString("~")
		case c.scan == scanList:
			var enc strings.Builder
			l, _ := vals[j].([]string)
			for _, e := range l {
				enc.WriteString(strconv.Itoa(len(e)) + ":" + e)
			}
			lp(enc.String())
		default:
			lp(vals[j].(string))
		}
	}
	return b.String()
}

func TestDecodeRowRoundTrip(t *testing.T) {
	tb := packedTable()
	var nullable []int
	for j, c := range tb.cols {
		if !c.packed() && c.nullable {
			nullable = append(nullable, j)
		}
	}
	tests := []struct {
		name    string
		key     string
		vals    []any // s, ns, i, u, f, b, l
		wantRow bitmaps.Row
		wantErr string // column named by the *RowError
	}{
		{"all set", "u1", []any{"a", "b:c~", int64(-5), uint64(7), 2.5, uint8(1), []string{"x", "", "1:2"}},
			bitmaps.Row{"a", "b:c~", int64(-5), int64(7), 2.5, true, []string{"x", "", "1:2"}}, ""},
		{"NULLs", "u2", []any{"", nil, nil, uint64(0), nil, nil, []string{}},
			bitmaps.Row{"", nil, nil, int64(0), nil, nil, nil}, ""},
		{"unicode and separators in the key", "ü:~12:", []any{"~", "~", int64(0), uint64(0), 0.0, uint8(0), nil},
			bitmaps.Row{"~", "~", int64(0), int64(0), 0.0, false, nil}, ""},
		{"uint64 beyond int64", "u3", []any{"a", nil, nil, uint64(math.MaxUint64), nil, nil, nil}, nil, "u"},
		{"bool 2", "u4", []any{"a", nil, nil, uint64(1), nil, uint8(2), nil}, nil, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nums := newNumCells(len(tb.cols) + 1)
			for j, c := range tb.cols {
				if c.packed() || tc.vals[j] == nil {
					continue
				}
				switch p := nums.dest(c.scan, j).(type) {
				case *int64:
					*p = tc.vals[j].(int64)
				case *uint64:
					*p = tc.vals[j].(uint64)
				case *float64:
					*p = tc.vals[j].(float64)
				case *uint8:
					*p = tc.vals[j].(uint8)
				}
			}
			b := &rowBatch{width: len(tb.cols), vals: make([]val, len(tb.cols)), keys: make([]string, 1), upds: make([]int64, 1)}
			key, rerr := tb.decodeRow(packRow(tb, tc.key, tc.vals), nums, nullable, b.vals, &b.arena)
			if key != tc.key {
				t.Fatalf("key = %q, want %q", key, tc.key)
			}
			if tc.wantErr != "" {
				if rerr == nil || rerr.Column != tc.wantErr || rerr.UserID != tc.key {
					t.Fatalf("err = %v, want one naming column %q and user %q", rerr, tc.wantErr, tc.key)
				}
				return
			}
			if rerr != nil {
				t.Fatal(rerr)
			}
			got := (&scanned{t: tb, b: b}).row(nil)
			if fmt.Sprint(got) != fmt.Sprint(tc.wantRow) {
				t.Fatalf("row = %#v, want %#v", got, tc.wantRow)
			}
			// The same through a RowWriter.
			bl := bitmaps.NewBuilder(bitmaps.Schema{{Name: "s", Kind: bitmaps.KindString}, {Name: "ns", Kind: bitmaps.KindString}, {Name: "i", Kind: bitmaps.KindInt},
				{Name: "u", Kind: bitmaps.KindInt}, {Name: "f", Kind: bitmaps.KindFloat}, {Name: "b", Kind: bitmaps.KindBool}, {Name: "l", Kind: bitmaps.KindStringList}})
			w := bl.Writer()
			(&scanned{t: tb, b: b}).write(w)
			if err := w.Commit(key); err != nil {
				t.Fatal(err)
			}
			ix := bl.Build()
			row, _ := ix.Row(0)
			if fmt.Sprint(row) != fmt.Sprint(tc.wantRow) {
				t.Fatalf("indexed row = %#v, want %#v", row, tc.wantRow)
			}
		})
	}
}

// FuzzDecodeRow: any packed string decodes to a row or a *RowError, never
// a panic, and a decoded row re-encodes to the same string.
func FuzzDecodeRow(f *testing.F) {
	tb := packedTable()
	f.Add(packRow(tb, "u1", []any{"a", "b", int64(1), uint64(2), 1.5, uint8(1), []string{"x", "y"}}))
	f.Add(packRow(tb, "u2", []any{"", nil, nil, uint64(0), nil, nil, nil}))
	f.Add("0003:abc")
	f.Add("111")
	f.Add("")
	f.Add("0009:abc")
	f.Add("0001:a1:a~2:x:")
	f.Fuzz(func(t *testing.T, packed string) {
		nullable := []int{2, 4, 5}
		vals := make([]val, len(tb.cols))
		var arena []string
		key, rerr := tb.decodeRow(packed, newNumCells(len(tb.cols)+1), nullable, vals, &arena)
		if rerr != nil {
			if rerr.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		re := make([]any, len(tb.cols))
		for j, c := range tb.cols {
			v := vals[j]
			switch {
			case v.null && (c.nullable || c.scan == scanList):
				re[j] = nil
			case c.scan == scanString:
				re[j] = v.s
			case c.scan == scanList:
				re[j] = slices.Clone(arena[v.lo:v.hi])
			case c.scan == scanUInt64:
				re[j] = uint64(0)
			default:
				re[j] = "num"
			}
		}
		if got := packRow(tb, key, re); got != packed {
			t.Fatalf("decoded %q re-encodes as %q", packed, got)
		}
	})
}

// TestCutLenPrefixedLengths: lengths of every digit count parse, and
// lengths that overflow or outrun the input do not.
func TestCutLenPrefixedLengths(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 1 << 20} {
		v := strings.Repeat("x", n)
		got, rest, ok := cutLenPrefixed(strconv.Itoa(n) + ":" + v + "tail")
		if !ok || got != v || rest != "tail" {
			t.Errorf("length %d: ok %v, value of %d bytes, rest %q", n, ok, len(got), rest)
		}
	}
	for _, bad := range []string{"", ":", "1:", "01:x", "+1:x", "-1:x", "2:x", "99999999999999999999999:x", "1x", "1"} {
		if _, _, ok := cutLenPrefixed(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
