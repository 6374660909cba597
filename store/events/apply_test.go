package events_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/events"
	"github.com/cohortd/cohortd/store/events/eventstest"
)

var schema = bitmaps.Schema{
	{Name: "engagement_tier", Kind: bitmaps.KindString},
	{Name: "engagement_score", Kind: bitmaps.KindFloat},
	{Name: "visits_30d", Kind: bitmaps.KindInt},
	{Name: "last_visit_at", Kind: bitmaps.KindTime},
	{Name: "seasonal_match", Kind: bitmaps.KindBool},
	{Name: "cohort_tags", Kind: bitmaps.KindStringList},
}

func decode(t testing.TB, d *events.Decoder, s string) *events.Event {
	t.Helper()
	ev, err := d.Decode([]byte(s))
	if err != nil {
		t.Fatalf("Decode(%s): %v", s, err)
	}
	return &ev
}

func unix(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

// row returns u's row with only the named values set.
func row(vals map[string]any) bitmaps.Row {
	r := make(bitmaps.Row, len(schema))
	for i, f := range schema {
		r[i] = vals[f.Name]
	}
	return r
}

func TestApplyRules(t *testing.T) {
	type step struct {
		event string
		want  events.Result
	}
	tests := []struct {
		name    string
		steps   []step
		wantRow map[string]bitmaps.Row // user → row; nil row = absent
	}{
		{
			name: "page view creates the user and only moves last_visit_at forward",
			steps: []step{
				{`{"event_id":"1","type":"page_view","user_id":"u","ts":"2026-01-13T08:00:00Z","article_id":"a1"}`, events.Result{Created: true, Fields: []string{"last_visit_at"}}},
				{`{"event_id":"2","type":"page_view","user_id":"u","ts":"2026-01-12T08:00:00Z","article_id":"a2"}`, events.Result{}},
				{`{"event_id":"3","type":"page_view","user_id":"u","ts":"2026-01-13T09:00:00.9Z"}`, events.Result{Fields: []string{"last_visit_at"}}},
				{`{"event_id":"3","type":"page_view","user_id":"u","ts":"2026-01-20T09:00:00Z"}`, events.Result{Duplicate: true}},
			},
			wantRow: map[string]bitmaps.Row{"u": row(map[string]any{"last_visit_at": unix("2026-01-13T09:00:00Z")})},
		},
		{
			name: "profile update sets, clears, and ignores older values per attribute",
			steps: []step{
				{`{"event_id":"1","type":"profile_update","user_id":"u","ts":"2026-01-13T08:00:00Z","attributes":{"engagement_tier":"loyal","visits_30d":3,"cohort_tags":["cyclist"]}}`,
					events.Result{Created: true, Fields: []string{"engagement_tier", "visits_30d", "cohort_tags"}}},
				{`{"event_id":"2","type":"profile_update","user_id":"u","ts":"2026-01-13T07:00:00Z","attributes":{"engagement_tier":"dormant","seasonal_match":true}}`,
					events.Result{Fields: []string{"seasonal_match"}, Stale: []string{"engagement_tier"}}},
				{`{"event_id":"3","type":"profile_update","user_id":"u","ts":"2026-01-13T09:00:00Z","attributes":{"visits_30d":null,"engagement_tier":"loyal"}}`,
					events.Result{Fields: []string{"visits_30d"}}},
				{`{"event_id":"4","type":"profile_update","user_id":"u","ts":"2026-01-13T08:30:00Z","attributes":{"visits_30d":9}}`,
					events.Result{Stale: []string{"visits_30d"}, Ignored: "every attribute holds a newer value"}},
			},
			wantRow: map[string]bitmaps.Row{"u": row(map[string]any{"engagement_tier": "loyal", "seasonal_match": true, "cohort_tags": []string{"cyclist"}})},
		},
		{
			name: "deletion erases the user; older events do not bring it back, newer ones do",
			steps: []step{
				{`{"event_id":"1","type":"profile_update","user_id":"u","ts":"2026-01-13T08:00:00Z","attributes":{"engagement_tier":"loyal"}}`, events.Result{Created: true, Fields: []string{"engagement_tier"}}},
				{`{"event_id":"2","type":"user_deleted","user_id":"u","ts":"2026-01-14T00:00:00Z"}`, events.Result{Deleted: true}},
				{`{"event_id":"3","type":"page_view","user_id":"u","ts":"2026-01-13T09:00:00Z","article_id":"a1"}`, events.Result{Ignored: "the user was deleted after this event"}},
				{`{"event_id":"4","type":"profile_update","user_id":"u","ts":"2026-01-14T00:00:00Z","attributes":{"engagement_tier":"new"}}`, events.Result{Ignored: "the user was deleted after this event"}},
				{`{"event_id":"5","type":"user_deleted","user_id":"u","ts":"2026-01-14T00:00:00Z"}`, events.Result{}},
				{`{"event_id":"6","type":"page_view","user_id":"v","ts":"2026-01-13T09:00:00Z"}`, events.Result{Created: true, Fields: []string{"last_visit_at"}}},
				{`{"event_id":"7","type":"page_view","user_id":"u","ts":"2026-01-15T09:00:00Z"}`, events.Result{Created: true, Fields: []string{"last_visit_at"}}},
			},
			wantRow: map[string]bitmaps.Row{
				"u": row(map[string]any{"last_visit_at": unix("2026-01-15T09:00:00Z")}),
				"v": row(map[string]any{"last_visit_at": unix("2026-01-13T09:00:00Z")}),
			},
		},
		{
			name: "session end and article published do not touch the index",
			steps: []step{
				{`{"event_id":"1","type":"session_end","user_id":"u","ts":"2026-01-13T08:00:00Z"}`, events.Result{}},
				{`{"event_id":"2","type":"article_published","article_id":"a1","ts":"2026-01-13T08:00:00Z","title":"new"}`, events.Result{}},
				{`{"event_id":"3","type":"article_published","article_id":"a1","ts":"2026-01-12T08:00:00Z","title":"old"}`, events.Result{Ignored: "a newer version of the article is held"}},
			},
			wantRow: map[string]bitmaps.Row{"u": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := events.NewDecoder("user_id", schema)
			ix := bitmaps.NewIndex(schema)
			a := events.NewApplier(ix, events.Options{})
			for i, s := range tt.steps {
				ev := decode(t, d, s.event)
				got, err := a.Apply(ev)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got.Created || len(got.Fields) > 0 {
					if id, ok := ix.Lookup(ev.UserID); !ok || got.ID != id {
						t.Errorf("step %d: Result.ID = %d, the index has %d (present %v)", i, got.ID, id, ok)
					}
				}
				got.ID = 0 // checked above; ids are the index's business
				if !reflect.DeepEqual(got, s.want) {
					t.Errorf("step %d: got %+v, want %+v", i, got, s.want)
				}
			}
			for u, want := range tt.wantRow {
				id, ok := ix.Lookup(u)
				if want == nil {
					if ok {
						t.Errorf("user %q exists, want absent", u)
					}
					continue
				}
				got, _ := ix.Row(id)
				if !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("user %q: got %v (exists %v), want %v", u, got, ok, want)
				}
			}
		})
	}
}

func TestApplyHooksHistoryAndCatalog(t *testing.T) {
	d := events.NewDecoder("user_id", schema)
	var sessions, deleted []string
	var published []events.Article
	a := events.NewApplier(bitmaps.NewIndex(schema), events.Options{Hooks: events.Hooks{
		SessionEnd:       func(u string, ts time.Time) { sessions = append(sessions, u+"@"+ts.Format(time.RFC3339)) },
		ArticlePublished: func(art events.Article) { published = append(published, art) },
		UserDeleted:      func(u string) { deleted = append(deleted, u) },
	}})
	for _, s := range []string{
		`{"event_id":"1","type":"page_view","user_id":"u","ts":"2026-01-13T08:00:00Z","article_id":"a1"}`,
		`{"event_id":"2","type":"page_view","user_id":"u","ts":"2026-01-13T09:00:00Z","article_id":"a2"}`,
		`{"event_id":"3","type":"page_view","user_id":"u","ts":"2026-01-13T09:00:00Z","article_id":"a2"}`,
		`{"event_id":"4","type":"session_end","user_id":"u","ts":"2026-01-13T09:30:00Z"}`,
		`{"event_id":"5","type":"article_published","article_id":"a3","ts":"2026-01-13T10:00:00Z","title":"T","topics":["cycling"],"embedding":[0.5]}`,
		`{"event_id":"6","type":"page_view","user_id":"w","ts":"2026-01-13T09:00:00Z","article_id":"a1"}`,
		`{"event_id":"7","type":"user_deleted","user_id":"w","ts":"2026-01-14T00:00:00Z"}`,
		`{"event_id":"8","type":"session_end","user_id":"w","ts":"2026-01-13T09:30:00Z"}`,
	} {
		if _, err := a.Apply(decode(t, d, s)); err != nil {
			t.Fatal(err)
		}
	}
	reads := a.History().Reads("u", 0)
	want := []events.Read{{ArticleID: "a2", TS: time.Unix(unix("2026-01-13T09:00:00Z"), 0).UTC()}, {ArticleID: "a1", TS: time.Unix(unix("2026-01-13T08:00:00Z"), 0).UTC()}}
	if !reflect.DeepEqual(reads, want) {
		t.Errorf("history of u = %v, want %v", reads, want)
	}
	if !a.History().HasRead("u", "a1") || a.History().HasRead("u", "a3") || a.History().HasRead("w", "a1") {
		t.Errorf("HasRead wrong: u/a1 %v u/a3 %v w/a1 %v", a.History().HasRead("u", "a1"), a.History().HasRead("u", "a3"), a.History().HasRead("w", "a1"))
	}
	if !slices.Equal(sessions, []string{"u@2026-01-13T09:30:00Z"}) {
		t.Errorf("session hooks %v", sessions)
	}
	if !slices.Equal(deleted, []string{"w"}) {
		t.Errorf("deleted hooks %v", deleted)
	}
	if len(published) != 1 || published[0].ID != "a3" || published[0].Embedding[0] != 0.5 {
		t.Errorf("published hooks %+v", published)
	}
	if art, ok := a.Articles().Get("a3"); !ok || art.Title != "T" || !slices.Equal(art.Topics, []string{"cycling"}) {
		t.Errorf("catalog a3 = %+v, %v", art, ok)
	}
}

func TestMemHistoryKeepsNewest(t *testing.T) {
	h := events.NewMemHistory(3)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Arrival order must not matter: insert a permutation.
	for _, i := range []int{4, 0, 6, 2, 5, 1, 3, 6} {
		h.Add("u", fmt.Sprintf("a%d", i), base.Add(time.Duration(i)*time.Hour))
	}
	got := h.Reads("u", 0)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ArticleID)
	}
	if !slices.Equal(ids, []string{"a6", "a5", "a4"}) {
		t.Errorf("kept %v, want [a6 a5 a4]", ids)
	}
	if got := h.Reads("u", 1); len(got) != 1 || got[0].ArticleID != "a6" {
		t.Errorf("Reads(1) = %v", got)
	}
	if h.Reads("nobody", 0) == nil || len(h.Reads("nobody", 0)) != 0 {
		t.Errorf("unknown user should have an empty history")
	}
}

// generated runs a random mixed stream through an Applier and the
// reference model.
func generated(t *testing.T, seed uint64, n int, applyTwice bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	users := make([]string, 40)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	g := &eventstest.Gen{Schema: schema, Users: users, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Span: 30 * 24 * time.Hour,
		ProfileShare: 0.3, SessionShare: 0.05, ArticleShare: 0.05, DeleteShare: 0.03, MalformedShare: 0.05, DuplicateShare: 0.1}
	msgs := g.Stream(r, n)
	d := events.NewDecoder("user_id", schema)
	ix := bitmaps.NewIndex(schema)
	a := events.NewApplier(ix, events.Options{})
	model := eventstest.NewModel(schema, nil)
	passes := 1
	if applyTwice {
		passes = 2
	}
	for pass := 0; pass < passes; pass++ {
		for i, m := range msgs {
			ev, err := d.Decode(m.Value)
			if (err != nil) != m.Malformed {
				t.Fatalf("message %d (%s): malformed %v, decode error %v", i, m.Value, m.Malformed, err)
			}
			if err != nil {
				continue
			}
			if applyTwice {
				ev.ID = "" // only the rules deduplicate
			}
			if pass == 0 {
				model.Apply(ev)
			}
			if _, err := a.Apply(&ev); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
	}
	want, err := model.Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameIndex(t, ix, want)
	for _, u := range model.UserIDs() {
		wantReads := model.History(u, 1000)
		got := a.History().Reads(u, 0)
		if len(wantReads) <= events.DefaultHistoryLen && !sameReads(got, wantReads) {
			t.Errorf("history of %s: got %v, want %v", u, got, wantReads)
		}
	}
	for id, art := range model.Articles {
		got, ok := a.Articles().Get(id)
		if !ok || got.PublishedAt != art.PublishedAt || got.Title != art.Title {
			t.Errorf("article %s: got %+v, want %+v", id, got, art)
		}
	}
}

func sameReads(a, b []events.Read) bool {
	key := func(rs []events.Read) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ArticleID+"@"+r.TS.String())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// assertSameIndex compares two indexes user by user (ids may differ).
func assertSameIndex(t *testing.T, got, want *bitmaps.Index) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Errorf("index has %d users, want %d", got.Len(), want.Len())
	}
	want.Iterate(want.Universe(), "", func(id uint32, u string) bool {
		wr, _ := want.Row(id)
		gid, ok := got.Lookup(u)
		if !ok {
			t.Errorf("user %q missing", u)
			return true
		}
		gr, _ := got.Row(gid)
		if !reflect.DeepEqual(gr, wr) {
			t.Errorf("user %q: got %v, want %v", u, gr, wr)
		}
		return true
	})
	got.Iterate(got.Universe(), "", func(_ uint32, u string) bool {
		if _, ok := want.Lookup(u); !ok {
			t.Errorf("unexpected user %q", u)
		}
		return true
	})
}

func TestApplyMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { generated(t, seed, 3000, false) })
	}
}

func TestApplyTwiceChangesNothingMore(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { generated(t, seed, 2000, true) })
	}
}

func TestStateRoundTrip(t *testing.T) {
	d := events.NewDecoder("user_id", schema)
	ix := bitmaps.NewIndex(schema)
	a := events.NewApplier(ix, events.Options{DedupeWindow: 4})
	for _, s := range []string{
		`{"event_id":"1","type":"page_view","user_id":"u","ts":"2026-01-13T08:00:00Z","article_id":"a1"}`,
		`{"event_id":"2","type":"profile_update","user_id":"u","ts":"2026-01-13T08:00:00Z","attributes":{"visits_30d":3}}`,
		`{"event_id":"3","type":"user_deleted","user_id":"gone","ts":"2026-01-14T00:00:00Z"}`,
		`{"event_id":"4","type":"article_published","article_id":"a3","ts":"2026-01-13T10:00:00Z","title":"T","embedding":[0.5,-1]}`,
		`{"event_id":"5","type":"page_view","user_id":"v","ts":"2026-01-13T08:00:00Z","article_id":"a3"}`,
	} {
		if _, err := a.Apply(decode(t, d, s)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := a.WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	state := buf.Bytes()
	b := events.NewApplier(ix, events.Options{DedupeWindow: 4})
	if err := b.ReadState(bytes.NewReader(state)); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := b.WriteState(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state, again.Bytes()) {
		t.Errorf("state differs after a round trip")
	}
	if !b.Seen("2") || b.Seen("1") {
		t.Errorf("dedupe window after restore: seen(2)=%v seen(1)=%v", b.Seen("2"), b.Seen("1"))
	}
	// The restored applier behaves like the original: the window forgot
	// event 1 (4 ids kept), remembers 2..5, and still holds the tombstone
	// and the per-attribute times.
	checks := []struct {
		event string
		want  events.Result
	}{
		{`{"event_id":"5","type":"page_view","user_id":"v","ts":"2026-01-13T08:00:00Z"}`, events.Result{Duplicate: true}},
		{`{"event_id":"9","type":"page_view","user_id":"gone","ts":"2026-01-13T08:00:00Z"}`, events.Result{Ignored: "the user was deleted after this event"}},
		{`{"event_id":"10","type":"profile_update","user_id":"u","ts":"2026-01-13T07:00:00Z","attributes":{"visits_30d":1}}`, events.Result{Stale: []string{"visits_30d"}, Ignored: "every attribute holds a newer value"}},
	}
	for _, c := range checks {
		got, err := b.Apply(decode(t, d, c.event))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("after restore, %s: got %+v, %v; want %+v", c.event, got, err, c.want)
		}
	}
	if got := b.History().Reads("v", 0); len(got) != 1 || got[0].ArticleID != "a3" {
		t.Errorf("history after restore: %v", got)
	}
	if art, ok := b.Articles().Get("a3"); !ok || !slices.Equal(art.Embedding, []float32{0.5, -1}) {
		t.Errorf("article after restore: %+v", art)
	}

	// Every truncation is an error, never a panic, and leaves b unchanged.
	for n := 0; n < len(state); n += 1 + n/8 {
		c := events.NewApplier(bitmaps.NewIndex(schema), events.Options{})
		err := c.ReadState(bytes.NewReader(state[:n]))
		if err == nil {
			t.Fatalf("ReadState of %d of %d bytes succeeded", n, len(state))
		}
		if !strings.Contains(err.Error(), "applier state") {
			t.Fatalf("error %v does not say what failed", err)
		}
	}
}

func TestCarryKeepsStreamedUpdatesNewerThanTheSource(t *testing.T) {
	d := events.NewDecoder("user_id", schema)
	old := bitmaps.NewIndex(schema)
	a := events.NewApplier(old, events.Options{})
	for _, s := range []string{
		`{"event_id":"1","type":"profile_update","user_id":"u","ts":"2026-01-10T00:00:00Z","attributes":{"engagement_tier":"loyal","visits_30d":3}}`,
		`{"event_id":"2","type":"profile_update","user_id":"u","ts":"2026-01-13T00:00:00Z","attributes":{"visits_30d":9}}`,
		`{"event_id":"3","type":"page_view","user_id":"u","ts":"2026-01-13T10:00:00Z"}`,
		`{"event_id":"4","type":"page_view","user_id":"new","ts":"2026-01-13T11:00:00Z"}`,
		`{"event_id":"5","type":"page_view","user_id":"old-only","ts":"2026-01-09T11:00:00Z"}`,
		`{"event_id":"6","type":"user_deleted","user_id":"gone","ts":"2026-01-13T12:00:00Z"}`,
	} {
		if _, err := a.Apply(decode(t, d, s)); err != nil {
			t.Fatal(err)
		}
	}
	// The source as of Jan 12: it knows u (older values), gone, and a
	// later visit of another user; it lacks "new".
	b := bitmaps.NewBuilder(schema)
	b.Add("u", row(map[string]any{"engagement_tier": "casual", "visits_30d": int64(5), "last_visit_at": unix("2026-01-11T00:00:00Z")}))
	b.Add("gone", row(map[string]any{"engagement_tier": "loyal"}))
	b.Add("other", row(map[string]any{"visits_30d": int64(1)}))
	to := b.Build()
	st, err := a.Carry(old, to, time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := (events.CarryStats{Values: 2, Users: 1, Deleted: 1}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	want := map[string]bitmaps.Row{
		// engagement_tier was streamed before asOf: the source's value wins.
		"u":     row(map[string]any{"engagement_tier": "casual", "visits_30d": int64(9), "last_visit_at": unix("2026-01-13T10:00:00Z")}),
		"new":   row(map[string]any{"last_visit_at": unix("2026-01-13T11:00:00Z")}),
		"other": row(map[string]any{"visits_30d": int64(1)}),
	}
	if to.Len() != len(want) {
		t.Errorf("%d users, want %d", to.Len(), len(want))
	}
	for u, w := range want {
		id, ok := to.Lookup(u)
		got, _ := to.Row(id)
		if !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %v (present %v), want %v", u, got, ok, w)
		}
	}
}
