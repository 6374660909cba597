package events_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/events"
)

// TestApplyFile: a data directory's events are applied in ts order, not
// file order, with the stream's rules; malformed lines are skipped and
// named by line.
func TestApplyFile(t *testing.T) {
	schema := bitmaps.Schema{{Name: "tier", Kind: bitmaps.KindString}, {Name: "last_visit_at", Kind: bitmaps.KindTime}}
	ix := bitmaps.NewIndex(schema)
	for _, u := range []struct {
		id   string
		tier string
	}{{"u1", "loyal"}, {"u2", "casual"}, {"u3", "new"}} {
		if _, err := ix.Upsert(u.id, bitmaps.Row{u.tier, int64(1767000000)}); err != nil {
			t.Fatal(err)
		}
	}
	lines := []string{
		// Later in time, earlier in the file: the older update below must
		// not overwrite it.
		`{"event_id":"e2","type":"profile_update","user_id":"u1","ts":"2026-01-12T00:00:00Z","attributes":{"tier":"champion"}}`,
		`{"event_id":"e1","type":"profile_update","user_id":"u1","ts":"2026-01-11T00:00:00Z","attributes":{"tier":"dormant"}}`,
		`not json`,
		`{"event_id":"e3","type":"page_view","user_id":"u9","ts":"2026-01-10T08:00:00Z","article_id":"a1"}`,
		`{"event_id":"e4","type":"user_deleted","user_id":"u2","ts":"2026-01-10T00:00:00Z"}`,
		`{"event_id":"e5","type":"page_view","user_id":"u3","ts":"2026-01-09T00:00:00Z","article_id":"a1"}`,
		`{"event_id":"e6","type":"page_view","user_id":"u3","ts":"2025-01-01T00:00:00Z","article_id":"a2"}`,
		`{"event_id":"e7","type":"profile_update","user_id":"u3","ts":"2026-01-09T00:00:00Z","attributes":{"tier":5}}`,
		``,
		`{"event_id":"e8","type":"session_end","user_id":"u3","ts":"2026-01-09T00:10:00Z"}`,
	}
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := events.ApplyFile(context.Background(), path, events.NewDecoder("user_id", schema), ix, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 7 || st.Skipped != 2 || st.Created != 1 || st.Deleted != 1 {
		t.Errorf("stats %+v, want 7 events, 2 skipped, 1 created, 1 deleted", st)
	}
	var lineNos []string
	for _, e := range st.FirstErrors {
		lineNos = append(lineNos, strings.SplitN(e.Error(), ": ", 2)[0])
	}
	if want := []string{path + ":3", path + ":8"}; strings.Join(lineNos, ",") != strings.Join(want, ",") {
		t.Errorf("errors at %v, want %v (%v)", lineNos, want, st.FirstErrors)
	}
	value := func(u, field string) any {
		id, ok := ix.Lookup(u)
		if !ok {
			return "absent"
		}
		return ix.Value(id, field)
	}
	for _, c := range []struct {
		user, field string
		want        any
	}{
		{"u1", "tier", "champion"},
		{"u2", "tier", "absent"},
		{"u9", "last_visit_at", int64(1768032000)},
		{"u3", "last_visit_at", int64(1767916800)},
		{"u3", "tier", "new"},
	} {
		if got := value(c.user, c.field); got != c.want {
			t.Errorf("%s.%s = %v, want %v", c.user, c.field, got, c.want)
		}
	}
}
