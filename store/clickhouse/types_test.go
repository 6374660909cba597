package clickhouse

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cohortd/cohortd/bitmaps"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		in      string
		name    string
		args    []string
		wantErr bool
	}{
		{in: "String", name: "String"},
		{in: "Nullable(String)", name: "Nullable", args: []string{"String"}},
		{in: "DateTime('Europe/Paris')", name: "DateTime", args: []string{"'Europe/Paris'"}},
		{in: "DateTime64(3, 'UTC')", name: "DateTime64", args: []string{"3", "'UTC'"}},
		{in: "Enum8('a, b' = 1, 'it\\'s)' = 2)", name: "Enum8", args: []string{"'a, b' = 1", "'it\\'s)' = 2"}},
		{in: "Array(LowCardinality(Nullable(String)))", name: "Array", args: []string{"LowCardinality(Nullable(String))"}},
		{in: "Decimal(9, 2)", name: "Decimal", args: []string{"9", "2"}},
		{in: "Nullable(String", wantErr: true},
		{in: "Array(String))", wantErr: true},
		{in: "", wantErr: true},
		{in: "Enum8('a = 1)", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseType(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseType(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got.name != tc.name || !slices.Equal(got.args, tc.args) {
				t.Errorf("parseType(%q) = %q %q, want %q %q", tc.in, got.name, got.args, tc.name, tc.args)
			}
		})
	}
}

// TestMapColumn pins how each ClickHouse type is read for each attribute
// kind: the select expression, the pushdown view ("" = raw column), and
// the types refused.
func TestMapColumn(t *testing.T) {
	for _, tc := range []struct {
		typ      string
		kind     bitmaps.Kind
		key      bool
		sel      string
		view     string
		nullable bool
		scan     scanKind
		bad      bool
	}{
		{typ: "String", key: true, sel: "`c`", scan: scanString},
		{typ: "LowCardinality(String)", key: true, sel: "`c`", scan: scanString},
		{typ: "UInt64", key: true, sel: "toString(`c`)", view: "toString(`c`)", scan: scanString},
		{typ: "UUID", key: true, sel: "toString(`c`)", view: "toString(`c`)", scan: scanString},
		{typ: "Nullable(String)", key: true, bad: true},
		{typ: "Float64", key: true, bad: true},

		{typ: "String", kind: bitmaps.KindString, sel: "`c`", scan: scanString},
		{typ: "Nullable(String)", kind: bitmaps.KindString, sel: "`c`", nullable: true, scan: scanString},
		{typ: "LowCardinality(Nullable(String))", kind: bitmaps.KindString, sel: "`c`", nullable: true, scan: scanString},
		{typ: "FixedString(2)", kind: bitmaps.KindString, sel: `replaceRegexpOne(toString(` + "`c`" + `), '\\x00+$', '')`,
			view: `replaceRegexpOne(toString(` + "`c`" + `), '\\x00+$', '')`, scan: scanString},
		{typ: "Enum8('a' = 1, 'b' = 2)", kind: bitmaps.KindString, sel: "toString(`c`)", view: "toString(`c`)", scan: scanString},
		{typ: "Nullable(Enum16('a' = -1, 'b\\'c' = 1000))", kind: bitmaps.KindString, nullable: true, scan: scanString,
			sel:  "transform(CAST(`c` AS Nullable(Int16)), [-1, 1000], ['a', 'b\\'c'], '')",
			view: "transform(CAST(`c` AS Nullable(Int16)), [-1, 1000], ['a', 'b\\'c'], '')"},
		{typ: "Int64", kind: bitmaps.KindString, bad: true},

		{typ: "Int64", kind: bitmaps.KindInt, sel: "`c`", scan: scanInt64},
		{typ: "Nullable(Int8)", kind: bitmaps.KindInt, sel: "toInt64(`c`)", view: "toInt64(`c`)", nullable: true, scan: scanInt64},
		{typ: "UInt32", kind: bitmaps.KindInt, sel: "toInt64(`c`)", view: "toInt64(`c`)", scan: scanInt64},
		{typ: "UInt64", kind: bitmaps.KindInt, sel: "`c`", view: "toInt64(`c`)", scan: scanUInt64},
		{typ: "Float64", kind: bitmaps.KindInt, bad: true},
		{typ: "Int128", kind: bitmaps.KindInt, bad: true},

		{typ: "Float64", kind: bitmaps.KindFloat, sel: "`c`", scan: scanFloat64},
		{typ: "Float32", kind: bitmaps.KindFloat, sel: "toFloat64(`c`)", view: "toFloat64(`c`)", scan: scanFloat64},
		{typ: "Nullable(Decimal(9, 2))", kind: bitmaps.KindFloat, sel: "toFloat64(`c`)", view: "toFloat64(`c`)", nullable: true, scan: scanFloat64},
		{typ: "Int64", kind: bitmaps.KindFloat, bad: true},

		{typ: "UInt8", kind: bitmaps.KindBool, sel: "`c`", scan: scanBool},
		{typ: "Nullable(UInt8)", kind: bitmaps.KindBool, sel: "`c`", nullable: true, scan: scanBool},
		{typ: "Bool", kind: bitmaps.KindBool, sel: "toUInt8(`c`)", view: "toUInt8(`c`)", scan: scanBool},
		{typ: "Int8", kind: bitmaps.KindBool, bad: true},

		{typ: "DateTime", kind: bitmaps.KindTime, sel: "toInt64(`c`)", scan: scanInt64},
		{typ: "Nullable(DateTime('UTC'))", kind: bitmaps.KindTime, sel: "toInt64(`c`)", nullable: true, scan: scanInt64},
		{typ: "Date", kind: bitmaps.KindTime, sel: "(toInt64(`c`) * 86400)", view: "(toInt64(`c`) * 86400)", scan: scanInt64},
		{typ: "DateTime64(3, 'UTC')", kind: bitmaps.KindTime, scan: scanInt64,
			sel:  "(intDiv(toUnixTimestamp64Milli(`c`), 1000) - if(toUnixTimestamp64Milli(`c`) % 1000 < 0, 1, 0))",
			view: "(intDiv(toUnixTimestamp64Milli(`c`), 1000) - if(toUnixTimestamp64Milli(`c`) % 1000 < 0, 1, 0))"},
		{typ: "Int64", kind: bitmaps.KindTime, sel: "`c`", scan: scanInt64},
		{typ: "UInt32", kind: bitmaps.KindTime, sel: "toInt64(`c`)", view: "toInt64(`c`)", scan: scanInt64},
		{typ: "UInt64", kind: bitmaps.KindTime, bad: true},
		{typ: "String", kind: bitmaps.KindTime, bad: true},

		{typ: "Array(String)", kind: bitmaps.KindStringList, sel: listSel("`c`"), scan: scanList},
		{typ: "Array(LowCardinality(String))", kind: bitmaps.KindStringList, sel: listSel("CAST(`c` AS Array(String))"), scan: scanList},
		{typ: "Array(Nullable(String))", kind: bitmaps.KindStringList, bad: true},
		{typ: "Array(Int64)", kind: bitmaps.KindStringList, bad: true},
		{typ: "String", kind: bitmaps.KindStringList, bad: true},
	} {
		t.Run(fmt.Sprintf("%s/%s/key=%v", tc.typ, tc.kind, tc.key), func(t *testing.T) {
			got, msg := mapColumn("c", tc.kind, tc.key, tc.typ)
			if tc.bad {
				if msg == "" {
					t.Fatalf("accepted: %+v", got)
				}
				if !strings.Contains(msg, "`c`") || !strings.Contains(msg, tc.typ) {
					t.Errorf("message %q does not name the column and its type", msg)
				}
				return
			}
			if msg != "" {
				t.Fatalf("refused: %s", msg)
			}
			if got.sel != tc.sel || got.view != tc.view || got.nullable != tc.nullable || got.scan != tc.scan {
				t.Errorf("got sel %s view %q nullable %v scan %d\nwant sel %s view %q nullable %v scan %d",
					got.sel, got.view, got.nullable, got.scan, tc.sel, tc.view, tc.nullable, tc.scan)
			}
		})
	}
}

func TestDecodeList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{in: "", want: nil, ok: true},
		{in: "1:a", want: []string{"a"}, ok: true},
		{in: "0:3:a:b2:日", ok: false},
		{in: "0:3:a:b3:日", want: []string{"", "a:b", "日"}, ok: true},
		{in: "3:ab", ok: false},
		{in: "x:ab", ok: false},
		{in: ":ab", ok: false},
		{in: "-1:", ok: false},
	} {
		got, ok := decodeList(nil, tc.in)
		if ok != tc.ok || ok && !slices.Equal(got, tc.want) {
			t.Errorf("decodeList(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestCreateTableSQL compares the DDL with testdata/create_table.golden
// (go test -update rewrites it).
func TestCreateTableSQL(t *testing.T) {
	schema := bitmaps.Schema{
		{Name: "tier", Kind: bitmaps.KindString}, {Name: "visits", Kind: bitmaps.KindInt},
		{Name: "score", Kind: bitmaps.KindFloat}, {Name: "vip", Kind: bitmaps.KindBool},
		{Name: "last_visit_at", Kind: bitmaps.KindTime}, {Name: "tags", Kind: bitmaps.KindStringList},
		{Name: "odd`name", Kind: bitmaps.KindString},
	}
	got := CreateTableSQL("`db`.`users`", "user_id", schema) + "\n\n" +
		CreateTableSQL("`db`.`users`", "user_id", bitmaps.Schema{{Name: "updated_at", Kind: bitmaps.KindTime}}) + "\n"
	path := filepath.Join("testdata", "create_table.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("CreateTableSQL:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

func TestFromClause(t *testing.T) {
	key, _ := mapColumn("user_id", bitmaps.KindString, true, "String")
	tier, _ := mapColumn("tier", bitmaps.KindString, false, "Nullable(String)")
	plan, _ := mapColumn("plan", bitmaps.KindString, false, "Enum8('a' = 1)")
	for _, tc := range []struct {
		name  string
		cols  []column
		final bool
		want  string
	}{
		{name: "canonical", cols: []column{tier}, want: "`db`.`t`"},
		{name: "needs a view", cols: []column{tier, plan}, want: "(SELECT `user_id`, `tier`, toString(`plan`) AS `plan` FROM `db`.`t`)"},
		{name: "versions", cols: []column{tier}, final: true, want: "(SELECT `user_id`, `tier` FROM `db`.`t` FINAL)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := &Table{qname: "`db`.`t`", key: key, cols: tc.cols, final: tc.final}
			if got := tb.fromClause(); got != tc.want {
				t.Errorf("fromClause() = %s, want %s", got, tc.want)
			}
			tb.from = tb.fromClause()
			// Without FINAL a user may have several rows: each counts once.
			count, members := "SELECT uniqExact(`user_id`) FROM ", "SELECT DISTINCT `user_id` FROM "
			if tc.final {
				count, members = "SELECT count() FROM ", "SELECT `user_id` FROM "
			}
			if got, want := tb.CountSQL("1"), count+tc.want+" WHERE 1"; got != want {
				t.Errorf("CountSQL = %s, want %s", got, want)
			}
			if got, want := tb.MembersSQL("1"), members+tc.want+" WHERE 1 ORDER BY `user_id`"; got != want {
				t.Errorf("MembersSQL = %s, want %s", got, want)
			}
		})
	}
}

func TestNeedsFinal(t *testing.T) {
	for engine, want := range map[string]bool{
		"ReplacingMergeTree": true, "ReplicatedReplacingMergeTree": true, "CollapsingMergeTree": true,
		"MergeTree": false, "Memory": false, "Distributed": false, "Log": false,
	} {
		if got := needsFinal(engine); got != want {
			t.Errorf("needsFinal(%q) = %v, want %v", engine, got, want)
		}
	}
}

func TestKeySet(t *testing.T) {
	s := newKeySet()
	for i := range 200_000 {
		if s.add(fmt.Sprintf("u%d", i)) {
			t.Fatalf("u%d reported as seen before", i)
		}
	}
	for _, i := range []int{0, 1, 65535, 199_999} {
		if !s.add(fmt.Sprintf("u%d", i)) {
			t.Errorf("u%d not reported as seen", i)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{name: "connection refused", err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}, want: true},
		{name: "eof", err: fmt.Errorf("read: %w", io.EOF), want: true},
		{name: "memory limit", err: &ch.Exception{Code: 241, Message: "Memory limit exceeded"}, want: true},
		{name: "unknown table", err: fmt.Errorf("x: %w", &ch.Exception{Code: 60}), want: false},
		{name: "wrong password", err: &ch.Exception{Code: 516}, want: false},
		{name: "schema", err: &SchemaError{Table: "t", Problems: []string{"p"}}, want: false},
		{name: "bad row", err: &RowError{Table: "t", Msg: "m"}, want: false},
		{name: "canceled", err: context.Canceled, want: false},
		{name: "nil", err: nil, want: false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestQuoting(t *testing.T) {
	if got, want := Ident("a`b\\c"), "`a\\`b\\\\c`"; got != want {
		t.Errorf("Ident = %s, want %s", got, want)
	}
	if got, want := String("it's\\\n"), `'it\'s\\\x0A'`; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

func TestOpenChecksAddress(t *testing.T) {
	for _, addr := range []string{"", "localhost", "http://x:9000"} {
		if _, err := Open(Config{Addr: addr}); err == nil {
			t.Errorf("Open(%q) accepted the address", addr)
		}
	}
	c, err := Open(Config{Addr: "127.0.0.1:9000"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Database() != DefaultDatabase || c.QualifiedName("users") != "`default`.`users`" {
		t.Errorf("defaults: database %q, name %s", c.Database(), c.QualifiedName("users"))
	}
}

func TestDistributedTarget(t *testing.T) {
	for _, tc := range []struct {
		in        string
		db, table string
		ok        bool
	}{
		{in: "Distributed(test_shard_localhost, cohortd, users, cityHash64(user_id))", db: "cohortd", table: "users", ok: true},
		{in: "Distributed('c', 'my db', `users`)", db: "my db", table: "users", ok: true},
		{in: "MergeTree() ORDER BY x", ok: false},
		{in: "Distributed(c, db)", ok: false},
	} {
		db, table, ok := distributedTarget(tc.in)
		if db != tc.db || table != tc.table || ok != tc.ok {
			t.Errorf("distributedTarget(%q) = %q, %q, %v; want %q, %q, %v", tc.in, db, table, ok, tc.db, tc.table, tc.ok)
		}
	}
}
