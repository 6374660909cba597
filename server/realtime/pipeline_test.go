package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store/kafka"
)

// memSink collects records.
type memSink struct {
	mu   sync.Mutex
	recs []kafka.Record
}

func (s *memSink) Send(recs ...kafka.Record) {
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	s.mu.Unlock()
}

func (s *memSink) Flush(context.Context) error { return nil }

func (s *memSink) changes(t testing.TB) []ChangeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ChangeRecord, len(s.recs))
	for i, r := range s.recs {
		if err := json.Unmarshal(r.Value, &out[i]); err != nil {
			t.Fatal(err)
		}
		for _, h := range r.Headers {
			if h.Key == EventIDHeader {
				out[i].EventID = string(h.Value)
			}
		}
	}
	return out
}

func (s *memSink) reset() {
	s.mu.Lock()
	s.recs = nil
	s.mu.Unlock()
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// oneUser is a data source with one user.
func oneUser(attrs map[string]any) func(context.Context, *compiler.Set) (*bitmaps.Index, error) {
	return func(_ context.Context, set *compiler.Set) (*bitmaps.Index, error) {
		b := bitmaps.NewBuilder(set.Schema())
		row := make(bitmaps.Row, len(set.Schema()))
		for i, f := range set.Schema() {
			row[i] = attrs[f.Name]
		}
		if err := b.Add("u000", row); err != nil {
			return nil, err
		}
		return b.Build(), nil
	}
}

func post(t *testing.T, app *fiber.App, body string) (int, map[string]any) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(body)), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("answer %s: %v", data, err)
	}
	return resp.StatusCode, out
}

func TestEventsHandler(t *testing.T) {
	set := loadSet(t)
	sink := &memSink{}
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), Changes: sink})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Post("/api/v1/events", EventsHandler(p))

	if status, body := post(t, app, `{"type":"session_end","user_id":"u","ts":"2026-01-01T00:00:00Z"}`); status != 503 {
		t.Errorf("before the index: %d %v, want 503", status, body)
	}
	if _, err := p.LoadIndex(context.Background(), set, oneUser(map[string]any{"engagement_tier": "loyal"})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		want       map[string]any
	}{
		{
			name:       "empty body",
			body:       " \n",
			wantStatus: 400,
			want:       map[string]any{"error": map[string]any{"code": "empty_body", "message": "the request body is empty; send NDJSON events, one JSON object a line", "details": map[string]any{}}},
		},
		{
			name: "mixed lines: the good ones apply, the bad one is named by line and field",
			body: `{"event_id":"h1","type":"profile_update","user_id":"u000","ts":"2026-02-28T00:00:00Z","attributes":{"email_engagement":"moderate"}}` + "\n\n" +
				`{"event_id":"h2","type":"profile_update","user_id":"u000","ts":"2026-02-28T00:00:00Z","attributes":{"visits_30d":"ten"}}` + "\r\n" +
				`{"event_id":"h3","type":"page_view","user_id":"u002","ts":"2026-02-28T10:00:00Z","article_id":"a1"}`,
			wantStatus: 200,
			want: map[string]any{"accepted": 2.0, "duplicates": 0.0, "rejected": 1.0, "changes": 5.0,
				"errors": []any{map[string]any{"line": 3.0, "field": "attributes.visits_30d", "code": "malformed_event", "message": `want int, got string "ten"`}}},
		},
		{
			name:       "a replay is counted as duplicates",
			body:       `{"event_id":"h1","type":"profile_update","user_id":"u000","ts":"2026-02-28T00:00:00Z","attributes":{"email_engagement":"moderate"}}`,
			wantStatus: 200,
			want:       map[string]any{"accepted": 0.0, "duplicates": 1.0, "rejected": 0.0, "changes": 0.0, "errors": []any{}},
		},
		{
			name:       "nothing valid",
			body:       "not json\n{\"type\":\"click\",\"user_id\":\"u\",\"ts\":\"2026-01-01T00:00:00Z\"}",
			wantStatus: 400,
			want: map[string]any{"error": map[string]any{"code": "invalid_events", "message": "no valid event in the body (2 lines rejected)",
				"details": map[string]any{"accepted": 0.0, "duplicates": 0.0, "rejected": 2.0, "errors": []any{
					map[string]any{"line": 1.0, "code": "malformed_event", "message": "not a JSON object"},
					map[string]any{"line": 2.0, "field": "type", "code": "malformed_event", "message": `unknown event type "click" (want one of page_view, profile_update, session_end, article_published, user_deleted)`},
				}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, app, tt.body)
			if status != tt.wantStatus || !reflect.DeepEqual(body, tt.want) {
				t.Errorf("got %d %v\nwant %d %v", status, body, tt.wantStatus, tt.want)
			}
		})
	}
	// The changes of the mixed batch: u000 joined newsletter_engaged and
	// left no_email; u002 was created (recent visit, no email).
	got := map[string]bool{}
	for _, c := range sink.changes(t) {
		got[c.UserID+" "+c.Cohort+" "+c.Change+" "+c.EventID] = true
	}
	for _, want := range []string{"u000 newsletter_engaged entered h1", "u000 no_email exited h1",
		"u002 everyone entered h3", "u002 no_email entered h3", "u002 not_vip_active entered h3"} {
		if !got[want] {
			t.Errorf("change %q not published; got %v", want, got)
		}
	}
}

func TestSweepPublishesTimeDrivenChanges(t *testing.T) {
	set := loadSet(t)
	sink := &memSink{}
	clk := &clock{t: testNow}
	p, err := New(Config{Clock: clk.now, Logger: quietLog(), Changes: sink})
	if err != nil {
		t.Fatal(err)
	}
	lastVisit := testNow.Add(-31*24*time.Hour + time.Hour).Unix() // dormant (31 days) in an hour
	if _, err := p.LoadIndex(context.Background(), set, oneUser(map[string]any{"last_visit_at": lastVisit})); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := p.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep at the same instant: %d changes, %v", n, err)
	}
	later := testNow.Add(2 * time.Hour)
	clk.set(later)
	n, err := p.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ChangeRecord{
		{UserID: "u000", Cohort: "dormant", Change: "entered", TS: later.Format(time.RFC3339)},
		{UserID: "u000", Cohort: "not_vip_active", Change: "exited", TS: later.Format(time.RFC3339)},
	}
	if got := sink.changes(t); n != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("sweep: %d changes %+v, want %+v", n, got, want)
	}
	if n, _ := p.Sweep(ctx); n != 0 {
		t.Errorf("a second sweep at the same instant published %d changes", n)
	}
	// A visit brings the user back: the event path publishes the exit, and
	// the next sweep has nothing more to say.
	sink.reset()
	if res := p.ApplyNDJSON([]byte(`{"event_id":"v","type":"page_view","user_id":"u000","ts":"`+later.Format(time.RFC3339)+`"}`), time.Now()); res.Accepted != 1 {
		t.Fatalf("page view not accepted: %+v", res)
	}
	want = []ChangeRecord{
		{UserID: "u000", Cohort: "dormant", Change: "exited", TS: later.Format(time.RFC3339), EventID: "v"},
		{UserID: "u000", Cohort: "not_vip_active", Change: "entered", TS: later.Format(time.RFC3339), EventID: "v"},
	}
	if got := sink.changes(t); !reflect.DeepEqual(got, want) {
		t.Errorf("after the visit: %+v, want %+v", got, want)
	}
	if n, _ := p.Sweep(ctx); n != 0 {
		t.Errorf("sweep after the visit published %d changes", n)
	}
}

func TestSnapshotRestoreAndCorruption(t *testing.T) {
	set := loadSet(t)
	w := newWorld(t, 3, 100, 800)
	dir := t.TempDir()
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.LoadIndex(ctx, set, w.load); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for _, m := range w.msgs {
		body.Write(m.Value)
		body.WriteByte('\n')
	}
	p.ApplyNDJSON([]byte(body.String()), time.Now())
	if err := p.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	notCalled := func(context.Context, *compiler.Set) (*bitmaps.Index, error) {
		return nil, errors.New("the data source must not be read")
	}
	q, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.LoadIndex(ctx, set, notCalled); err != nil {
		t.Fatal(err)
	}
	want, _ := w.model.Build()
	assertSameIndex(t, q.Index(), want)
	assertPublishedIsCurrent(t, q)
	// The restored dedupe window still knows the events.
	if res := q.ApplyNDJSON(w.msgs[0].Value, time.Now()); !w.msgs[0].Malformed && res.Duplicates != 1 {
		t.Errorf("replaying the first event after a restore: %+v", res)
	}

	// A half-written temporary file from a crash is removed; a corrupt
	// snapshot stops the start rather than losing data silently.
	path := filepath.Join(dir, SnapshotFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp-123", good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Logger: quietLog(), StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp-123"); !os.IsNotExist(err) {
		t.Errorf("temporary snapshot left in place: %v", err)
	}
	if _, err := r.LoadIndex(ctx, set, notCalled); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("corrupt snapshot: %v, want ErrBadSnapshot", err)
	}

	// A snapshot of another catalog is ignored: the data source is loaded.
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := compiler.CompileData("other.yaml", []byte("version: 1\nattributes:\n  user_id: {type: string, key: true}\n  x: {type: int}\ncohorts:\n  c: \"x > 1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Logger: quietLog(), StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	loaded := false
	ix, err := s.LoadIndex(ctx, other, func(context.Context, *compiler.Set) (*bitmaps.Index, error) {
		loaded = true
		return bitmaps.NewIndex(other.Schema()), nil
	})
	if err != nil || !loaded || ix.Len() != 0 {
		t.Errorf("snapshot of another catalog: loaded %v, %v", loaded, err)
	}
}

func TestRebaseKeepsNewerStreamedValues(t *testing.T) {
	set := loadSet(t)
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.LoadIndex(ctx, set, oneUser(map[string]any{"engagement_tier": "loyal"})); err != nil {
		t.Fatal(err)
	}
	p.ApplyNDJSON([]byte(`{"event_id":"a","type":"profile_update","user_id":"u000","ts":"2026-02-27T00:00:00Z","attributes":{"email_engagement":"low"}}
{"event_id":"b","type":"profile_update","user_id":"u000","ts":"2026-02-28T12:00:00Z","attributes":{"engagement_tier":"champion"}}`), time.Now())
	// The refreshed source as of Feb 28 00:00 has its own values.
	fresh, _ := oneUser(map[string]any{"engagement_tier": "dormant", "email_engagement": "moderate"})(ctx, set)
	if err := p.Rebase(set, fresh, time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if p.Index() != fresh {
		t.Fatal("the pipeline does not apply to the new index")
	}
	id, _ := fresh.Lookup("u000")
	if got := fresh.Value(id, "engagement_tier"); got != "champion" {
		t.Errorf("engagement_tier = %v, want the streamed champion (newer than the source)", got)
	}
	if got := fresh.Value(id, "email_engagement"); got != "moderate" {
		t.Errorf("email_engagement = %v, want the source's moderate (the stream's is older)", got)
	}
	assertPublishedIsCurrent(t, p)
}
