package compiler_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
	"github.com/cohortd/cohortd/dsl"
)

// TestClickHouseSQL runs the SQL backend in a real ClickHouse and compares
// the members of random expressions with the reference evaluator, user by
// user. It needs a server's HTTP interface:
//
//	COHORTD_TEST_CLICKHOUSE_HTTP=http://127.0.0.1:8123 go test ./compiler -run ClickHouse
//
// It works in its own database (cohortd_compiler_test) and drops its table.
var chN = flag.Int("ch.n", 400, "expressions in TestClickHouseSQL")

func TestClickHouseSQL(t *testing.T) {
	base := os.Getenv("COHORTD_TEST_CLICKHOUSE_HTTP")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but COHORTD_TEST_CLICKHOUSE_HTTP is not: run the suite with bash .ci/test")
		}
		t.Skip("set COHORTD_TEST_CLICKHOUSE_HTTP=http://HOST:8123 to run against ClickHouse")
	}
	ch := &chHTTP{base: strings.TrimSuffix(base, "/"), client: &http.Client{Timeout: 60 * time.Second}}
	now := time.Date(2026, 1, 15, 12, 34, 56, 0, time.UTC)
	d := newDiffEnv(t, 3, 160, now)
	table := fmt.Sprintf("cohortd_compiler_test.users_%d", time.Now().UnixNano())
	if _, err := ch.exec("CREATE DATABASE IF NOT EXISTS cohortd_compiler_test", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.exec(createTable(table, d.set), ""); err != nil {
		t.Fatal(err)
	}
	defer ch.exec("DROP TABLE IF EXISTS "+table, "")
	var rows strings.Builder
	for _, u := range d.users {
		rows.Write(chRow(u, d.file.Attributes))
		rows.WriteByte('\n')
	}
	if _, err := ch.exec("INSERT INTO "+table+" FORMAT JSONEachRow", rows.String()); err != nil {
		t.Fatal(err)
	}
	gen := &compilertest.Gen{Attrs: d.file.Attributes, Derived: d.file.Derived,
		Cohorts: []string{"c_sport", "c_ref", "vip", "c_deep"}, Now: now}
	r := rand.New(rand.NewPCG(3, 5))
	n, fails := *chN, 0
	if testing.Short() {
		n = 80
	}
	for i := 0; i < n && fails < 5; i++ {
		src := gen.Expr(r)
		q, err := d.set.CompileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		e, _ := dsl.ParseExpr(src)
		sql, err := q.SQL(now)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		out, err := ch.exec("SELECT user_id FROM "+table+" WHERE "+sql+" ORDER BY user_id FORMAT TabSeparated", "")
		if err != nil {
			fails++
			t.Errorf("%s\n  sql: %s\n  %v", src, sql, err)
			continue
		}
		got := strings.Fields(out)
		ref := compilertest.NewRef(d.file, now)
		ref.Prepare(e)
		var want []string
		for _, u := range d.users {
			if ref.Eval(e, u) {
				want = append(want, u["user_id"].(string))
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			fails++
			t.Errorf("%s\n  sql: %s\n  clickhouse %d users, reference %d\n  only in clickhouse: %v\n  only in reference: %v",
				src, sql, len(got), len(want), minus(got, want), minus(want, got))
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

type chHTTP struct {
	base   string
	client *http.Client
}

func (c *chHTTP) exec(query, body string) (string, error) {
	u := c.base + "/?query=" + url.QueryEscape(query)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(http.MethodPost, u, rd)
	if err != nil {
		return "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse: %s", strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// createTable is the table layout the SQL backend documents.
func createTable(table string, s *compiler.Set) string {
	var cols []string
	for _, a := range s.Attributes() {
		var typ string
		switch {
		case a.Key:
			typ = "String"
		case a.Type == dsl.TypeString:
			typ = "Nullable(String)"
		case a.Type == dsl.TypeInt, a.Type == dsl.TypeTimestamp:
			typ = "Nullable(Int64)"
		case a.Type == dsl.TypeFloat:
			typ = "Nullable(Float64)"
		case a.Type == dsl.TypeBool:
			typ = "Nullable(UInt8)"
		case a.Type == dsl.TypeStringList:
			typ = "Array(String)"
		}
		cols = append(cols, compiler.SQLIdent(a.Name)+" "+typ)
	}
	return "CREATE TABLE " + table + " (" + strings.Join(cols, ", ") + ") ENGINE = Memory"
}

// chRow encodes a user for JSONEachRow (bools as 0/1, lists never NULL).
// ClickHouse 18.16's text float parser reads subnormal numbers as 0, so they
// are replaced by the smallest normal float (a loader limitation, not one of
// the SQL).
func chRow(u map[string]any, attrs []*dsl.Attribute) []byte {
	m := map[string]any{}
	for _, a := range attrs {
		v := u[a.Name]
		switch x := v.(type) {
		case float64:
			if x != 0 && math.Abs(x) < 0x1p-1022 {
				u[a.Name] = math.Copysign(0x1p-1022, x)
				v = u[a.Name]
			}
		case bool:
			if x {
				v = 1
			} else {
				v = 0
			}
		case nil:
			if a.Type == dsl.TypeStringList {
				v = []string{}
			}
		}
		m[a.Name] = v
	}
	b, _ := json.Marshal(m)
	return b
}
