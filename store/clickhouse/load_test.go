package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/events"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/clickhouse"
)

const loadYAML = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier:    {type: string}
  visits:  {type: int}
  seen:    {type: timestamp}
  tags:    {type: "list<string>"}
cohorts:
  c: "visits > 3"
`

func writeFile(t testing.TB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoad covers the three IfExists modes, and that a failed load leaves
// the previous table as it was.
func TestLoad(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	set := compileYAML(t, loadYAML)
	read := func() map[string]any {
		t.Helper()
		tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
		if err != nil {
			t.Fatal(err)
		}
		ix, _, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		ix.Iterate(ix.Universe(), "", func(id uint32, user string) bool {
			out[user] = ix.Value(id, "visits")
			return true
		})
		return out
	}
	first := writeFile(t,
		`{"user_id": "a", "tier": "x", "visits": 1, "seen": "2026-01-01T10:00:00Z", "tags": ["p", "q"]}`,
		`{"user_id": "b", "visits": null, "tags": [], "extra": 1}`)
	st, err := c.Load(ctx, first, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || st.UnknownAttributes["extra"] != 1 {
		t.Errorf("stats %+v, want 2 rows and extra ignored once", st)
	}
	if got := read(); len(got) != 2 || got["a"] != int64(1) || got["b"] != nil {
		t.Errorf("after the first load: %v", got)
	}

	_, err = c.Load(ctx, first, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("loading over an existing table: error %v, want 'already exists'", err)
	}

	second := writeFile(t, `{"user_id": "c", "visits": 3}`, `{"user_id": "a", "visits": 2}`)
	if _, err := c.Load(ctx, second, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{IfExists: clickhouse.IfExistsAppend}); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != 3 || got["a"] != int64(2) || got["c"] != int64(3) {
		t.Errorf("after appending: %v, want a=2 (replaced), b, c=3", got)
	}

	bad := writeFile(t, `{"user_id": "z", "visits": 9}`, `{"user_id": "y", "visits": "nine"}`)
	if _, err := c.Load(ctx, bad, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{IfExists: clickhouse.IfExistsReplace}); err == nil {
		t.Fatal("a bad line did not fail the load")
	}
	if got := read(); len(got) != 3 {
		t.Errorf("a failed replace changed the table: %v", got)
	}

	if _, err := c.Load(ctx, second, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{IfExists: clickhouse.IfExistsReplace}); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != 2 || got["a"] != int64(2) || got["c"] != int64(3) {
		t.Errorf("after replacing: %v, want only a=2 and c=3", got)
	}
	if n := countTables(t, c); n != 1 {
		t.Errorf("%d tables in the database after the loads, want 1 (no staging table left)", n)
	}
}

func countTables(t testing.TB, c *clickhouse.Client) int {
	t.Helper()
	names, err := c.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

// TestLoadBadLines: a repeated user id and a timestamp DateTime cannot
// hold are errors naming the line; SkipBadRows skips repeated ids.
func TestLoadBadLines(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	set := compileYAML(t, loadYAML)
	dup := writeFile(t, `{"user_id": "a"}`, `{"user_id": "b"}`, `{"user_id": "a", "visits": 2}`)
	_, err := c.Load(ctx, dup, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{BatchRows: 1})
	var re *store.RowError
	if !errors.As(err, &re) || re.Line != 3 || !strings.Contains(err.Error(), `duplicate "a"`) {
		t.Errorf("duplicate id: error %v, want a *store.RowError on line 3", err)
	}
	if n := countTables(t, c); n != 0 {
		t.Errorf("a failed load left %d tables", n)
	}
	st, err := c.Load(ctx, dup, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{SkipBadRows: true})
	if err != nil || st.Rows != 2 || st.Skipped != 1 {
		t.Errorf("with SkipBadRows: %+v, %v; want 2 rows, 1 skipped", st, err)
	}

	old := writeFile(t, `{"user_id": "x", "seen": "1969-12-31T23:59:59Z"}`)
	_, err = c.Load(ctx, old, "users2", set.Key(), set.Schema(), clickhouse.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), ":1:") || !strings.Contains(err.Error(), `"seen"`) {
		t.Errorf("timestamp before 1970: error %v, want one naming line 1 and \"seen\"", err)
	}
}

// TestLoadAppliesDirectoryEvents: a data directory's events.ndjson is
// applied before the users reach ClickHouse, so the table holds what
// query --data DIR sees (store.LoadUsers, then events.ApplyFile).
func TestLoadAppliesDirectoryEvents(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	set := compileYAML(t, loadYAML)
	dir := t.TempDir()
	files := map[string]string{
		"users.ndjson": `{"user_id": "a", "tier": "x", "visits": 1}` + "\n" + `{"user_id": "b", "tier": "x"}` + "\n" +
			`{"user_id": "c", "visits": 7, "tags": ["p"]}` + "\n" + `{"user_id": "e", "tier": "z"}` + "\n",
		"events.ndjson": `{"event_id": "2", "type": "profile_update", "user_id": "a", "ts": "2026-01-02T00:00:00Z", "attributes": {"tier": "y", "tags": ["q"]}}` + "\n" +
			`{"event_id": "1", "type": "profile_update", "user_id": "a", "ts": "2026-01-01T00:00:00Z", "attributes": {"tier": "old"}}` + "\n" +
			`{"event_id": "3", "type": "user_deleted", "user_id": "b", "ts": "2026-01-01T00:00:00Z"}` + "\n" +
			`{"event_id": "4", "type": "page_view", "user_id": "d", "article_id": "x", "ts": "2026-01-01T00:00:00Z"}` + "\n" +
			`{"event_id": "5", "type": "profile_update", "user_id": "c", "ts": "2026-01-01T00:00:00Z", "attributes": {"visits": null}}` + "\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Load(ctx, dir, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 4 || st.Events.Events != 5 {
		t.Errorf("load stats %+v, want 4 rows (a, c, d, e) and 5 events", st)
	}
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := store.LoadUsers(ctx, dir, set.Key(), set.Schema(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.ApplyFile(ctx, filepath.Join(dir, "events.ndjson"), events.NewDecoder(set.Key(), set.Schema()), want, events.Options{}); err != nil {
		t.Fatal(err)
	}
	dump := func(ix *bitmaps.Index) string {
		var b strings.Builder
		ix.Iterate(ix.Universe(), "", func(id uint32, u string) bool {
			row, _ := ix.Row(id)
			fmt.Fprintf(&b, "%s %v\n", u, row)
			return true
		})
		return b.String()
	}
	if g, w := dump(got), dump(want); g != w {
		t.Errorf("the table holds\n%s\nquery --data sees\n%s", g, w)
	}
	if !strings.Contains(dump(got), "a [y 1 <nil> [q]]") {
		t.Errorf("a's later update is not the one kept:\n%s", dump(got))
	}
}

// TestLoadAppendKeepsOtherUsers: appending a data directory whose events
// name users of the table that the file lacks leaves those users' rows as
// they are (their events are left out and counted), while the file's users
// take theirs.
func TestLoadAppendKeepsOtherUsers(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	set := compileYAML(t, loadYAML)
	if _, err := c.Load(ctx, writeFile(t, `{"user_id": "old", "tier": "x", "visits": 5}`), "users", set.Key(), set.Schema(), clickhouse.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string]string{
		"users.ndjson": `{"user_id": "new", "tier": "y"}` + "\n",
		"events.ndjson": `{"event_id": "1", "type": "page_view", "user_id": "old", "article_id": "a", "ts": "2026-01-01T00:00:00Z"}` + "\n" +
			`{"event_id": "2", "type": "profile_update", "user_id": "new", "ts": "2026-01-01T00:00:00Z", "attributes": {"visits": 2}}` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Load(ctx, dir, "users", set.Key(), set.Schema(), clickhouse.LoadOptions{IfExists: clickhouse.IfExistsAppend})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events.Dropped != 1 || st.Events.Applied != 1 {
		t.Errorf("events %+v, want 1 dropped (old's) and 1 applied", st.Events)
	}
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		t.Fatal(err)
	}
	ix, _, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]any{"old": int64(5), "new": int64(2)} {
		id, ok := ix.Lookup(u)
		if !ok || ix.Value(id, "visits") != want {
			t.Errorf("%s: found %v, visits %v, want %v", u, ok, ix.Value(id, "visits"), want)
		}
	}
}
