package events

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
)

var testSchema = bitmaps.Schema{
	{Name: "engagement_tier", Kind: bitmaps.KindString},
	{Name: "engagement_score", Kind: bitmaps.KindFloat},
	{Name: "visits_30d", Kind: bitmaps.KindInt},
	{Name: "last_visit_at", Kind: bitmaps.KindTime},
	{Name: "seasonal_match", Kind: bitmaps.KindBool},
	{Name: "cohort_tags", Kind: bitmaps.KindStringList},
	{Name: "email_engagement", Kind: bitmaps.KindString},
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestDecode(t *testing.T) {
	d := NewDecoder("user_id", testSchema)
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "page view",
			in:   `{"event_id": "e-1", "type": "page_view", "user_id": "u-42", "ts": "2026-01-13T08:02:11Z", "article_id": "a-77", "topics": ["cycling", "gear"], "device": "app"}`,
			want: Event{ID: "e-1", Type: PageView, UserID: "u-42", TS: ts("2026-01-13T08:02:11Z"), ArticleID: "a-77", Topics: []string{"cycling", "gear"}, Device: "app"},
		},
		{
			name: "profile update with null, list, unknown attribute and integral float",
			in:   `{"event_id": "e-2", "type": "profile_update", "user_id": "u-42", "ts": "2026-01-13T08:03:00.5+01:00", "attributes": {"engagement_tier": "loyal", "cohort_tags": ["cyclist"], "email_engagement": null, "shoe_size": 44, "visits_30d": 5.0, "engagement_score": 7}}`,
			want: Event{ID: "e-2", Type: ProfileUpdate, UserID: "u-42", TS: ts("2026-01-13T07:03:00.5Z"),
				Attributes: []Attr{{"engagement_tier", "loyal"}, {"cohort_tags", []string{"cyclist"}}, {"email_engagement", nil}, {"visits_30d", int64(5)}, {"engagement_score", 7.0}},
				Ignored:    []string{"shoe_size"}},
		},
		{
			name: "session end without event_id, unknown fields ignored",
			in:   `{"type": "session_end", "user_id": "u-42", "ts": "2026-01-13T08:30:00Z", "extra": {"x": 1}}`,
			want: Event{Type: SessionEnd, UserID: "u-42", TS: ts("2026-01-13T08:30:00Z")},
		},
		{
			name: "article published",
			in:   `{"event_id": "e-4", "type": "article_published", "article_id": "a-78", "ts": "2026-01-13T09:00:00Z", "title": "Best Winter Cycling Gear 2025", "topics": ["cycling"], "embedding": [0.1, -2, 3e2]}`,
			want: Event{ID: "e-4", Type: ArticlePublished, ArticleID: "a-78", TS: ts("2026-01-13T09:00:00Z"), Title: "Best Winter Cycling Gear 2025", Topics: []string{"cycling"}, Embedding: []float32{0.1, -2, 300}},
		},
		{
			name: "user deleted, space between date and time",
			in:   `{"event_id": "e-5", "type": "user_deleted", "user_id": "u-42", "ts": "2026-01-14 00:00:00Z"}`,
			want: Event{ID: "e-5", Type: UserDeleted, UserID: "u-42", TS: ts("2026-01-14T00:00:00Z")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if slow, err := d.decodeSlow([]byte(tt.in)); err != nil || !reflect.DeepEqual(slow, got) {
				t.Errorf("the field-by-field path disagrees: %+v, %v", slow, err)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	d := NewDecoder("user_id", testSchema)
	tests := []struct {
		name      string
		in        string
		wantField string
		wantMsg   string
	}{
		{name: "not JSON", in: `page_view u-42`, wantField: "", wantMsg: "not a JSON object"},
		{name: "truncated", in: `{"type": "page_view", "user_id": "u`, wantField: "", wantMsg: "not a JSON object"},
		{name: "array", in: `[1, 2]`, wantField: "", wantMsg: "not a JSON object"},
		{name: "empty", in: ``, wantField: "", wantMsg: "not a JSON object"},
		{name: "missing type", in: `{"user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, wantField: "type", wantMsg: "missing"},
		{name: "unknown type", in: `{"type": "click", "user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, wantField: "type", wantMsg: `unknown event type "click"`},
		{name: "type not a string", in: `{"type": 3, "user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, wantField: "type", wantMsg: "want a string, got number 3"},
		{name: "missing user_id", in: `{"type": "page_view", "ts": "2026-01-13T08:00:00Z"}`, wantField: "user_id", wantMsg: "missing"},
		{name: "empty user_id", in: `{"type": "page_view", "user_id": "", "ts": "2026-01-13T08:00:00Z"}`, wantField: "user_id", wantMsg: "must not be empty"},
		{name: "numeric user_id", in: `{"type": "session_end", "user_id": 42, "ts": "2026-01-13T08:00:00Z"}`, wantField: "user_id", wantMsg: "want a string"},
		{name: "missing ts", in: `{"type": "page_view", "user_id": "u"}`, wantField: "ts", wantMsg: "missing"},
		{name: "bad ts", in: `{"type": "page_view", "user_id": "u", "ts": "yesterday"}`, wantField: "ts", wantMsg: "RFC 3339"},
		{name: "event_id number", in: `{"event_id": 7, "type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, wantField: "event_id", wantMsg: "want a string"},
		{name: "topics element", in: `{"type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "topics": ["a", 1]}`, wantField: "topics[1]", wantMsg: "want a string, got number 1"},
		{name: "missing attributes", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, wantField: "attributes", wantMsg: "missing"},
		{name: "attributes not object", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": [1]}`, wantField: "attributes", wantMsg: "want an object"},
		{name: "wrong attribute type", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"visits_30d": "ten"}}`, wantField: "attributes.visits_30d", wantMsg: `want int, got string "ten"`},
		{name: "fractional int", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"visits_30d": 5.5}}`, wantField: "attributes.visits_30d", wantMsg: "want int"},
		{name: "bad list element", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"cohort_tags": ["a", null]}}`, wantField: "attributes.cohort_tags", wantMsg: "want list<string>"},
		{name: "bool as string", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"seasonal_match": "yes"}}`, wantField: "attributes.seasonal_match", wantMsg: "want bool"},
		{name: "bad timestamp attribute", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"last_visit_at": "2026-02-30T00:00:00Z"}}`, wantField: "attributes.last_visit_at", wantMsg: "want timestamp"},
		{name: "key attribute", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"user_id": "v"}}`, wantField: "attributes.user_id", wantMsg: "cannot be changed"},
		{name: "attribute twice", in: `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"visits_30d": 1, "visits_30d": 2}}`, wantField: "attributes.visits_30d", wantMsg: "given twice"},
		{name: "article without id", in: `{"type": "article_published", "ts": "2026-01-13T08:00:00Z", "title": "x"}`, wantField: "article_id", wantMsg: "missing"},
		{name: "embedding not numbers", in: `{"type": "article_published", "article_id": "a", "ts": "2026-01-13T08:00:00Z", "embedding": [0.1, "x"]}`, wantField: "embedding[1]", wantMsg: "want a number"},
		{name: "embedding beyond float32", in: `{"type": "article_published", "article_id": "a", "ts": "2026-01-13T08:00:00Z", "embedding": [1e300]}`, wantField: "embedding[0]", wantMsg: "float32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Decode([]byte(tt.in))
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("Decode(%s) = %v, want a *MalformedError", tt.in, err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(err, ErrMalformed) is false")
			}
			if me.Field != tt.wantField || !strings.Contains(me.Msg, tt.wantMsg) {
				t.Errorf("got field %q msg %q, want field %q msg containing %q", me.Field, me.Msg, tt.wantField, tt.wantMsg)
			}
		})
	}
}

func TestMalformedErrorLocation(t *testing.T) {
	e := &MalformedError{Field: "attributes.visits_30d", Msg: `want int, got string "ten"`}
	tests := []struct {
		name string
		err  *MalformedError
		want string
	}{
		{name: "bare", err: e, want: `malformed event: "attributes.visits_30d": want int, got string "ten"`},
		{name: "kafka", err: e.At("events", 2, 1234), want: `malformed event at events/2@1234: "attributes.visits_30d": want int, got string "ten"`},
		{name: "line", err: e.OnLine(3), want: `malformed event on line 3: "attributes.visits_30d": want int, got string "ten"`},
		{name: "whole message", err: (&MalformedError{Msg: "not a JSON object"}).At("events", 0, 7), want: `malformed event at events/0@7: not a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if e.Topic != "" || e.Line != 0 {
		t.Errorf("At/OnLine changed the receiver: %+v", e)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event_id": "e-1", "type": "page_view", "user_id": "u-42", "ts": "2026-01-13T08:02:11Z", "article_id": "a-77"}`,
		`{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {"visits_30d": 1, "cohort_tags": ["a"]}}`,
		`{"type": "article_published", "article_id": "a", "ts": "2026-01-13T08:00:00Z", "embedding": [1]}`,
		`nope`, `{}`, `{"type": null}`,
		`{"event_id":"pv-1","type":"page_view","user_id":"u-1","ts":"2026-01-13T00:00:00.001Z","article_id":"a-1","topics":["cycling","gear"],"device":"app"}`,
		` { "Type" : "session_end", "user_id": "ü-2", "ts": "2026-01-13T08:00:00+01:00", "x": ["a"], "type": "user_deleted" } `,
		`{"type": "article_published", "article_id": "a", "ts": "2026-01-13T08:00:00Z", "topics": [], "title": "t\u00e9"}`,
	} {
		f.Add([]byte(s))
	}
	d := NewDecoder("user_id", testSchema)
	f.Fuzz(func(t *testing.T, data []byte) {
		if fast, ok := d.decodeFast(data); ok {
			slow, err := d.decodeSlow(data)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast path %+v, slow path %+v, %v", fast, slow, err)
			}
		}
		if flat, ok := d.decodeFlat(data); ok {
			slow, err := d.decodeSlow(data)
			if err != nil || !reflect.DeepEqual(flat, slow) {
				t.Fatalf("flat path %+v, slow path %+v, %v", flat, slow, err)
			}
		}
		ev, err := d.Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if ev.Type == 0 || ev.TS.IsZero() && !strings.Contains(string(data), "0001") {
			t.Fatalf("decoded event without type or ts: %+v", ev)
		}
		if ev.Type != ArticlePublished && ev.UserID == "" {
			t.Fatalf("decoded %s without user_id", ev.Type)
		}
	})
}

// TestDecodeFlat checks which inputs the reflection-free path takes (the
// common events) and which it leaves to the general decoders, and that
// what it takes decodes as they would.
func TestDecodeFlat(t *testing.T) {
	d := NewDecoder("user_id", testSchema)
	tests := []struct {
		name string
		in   string
		flat bool
	}{
		{"page view", `{"event_id":"pv-1","type":"page_view","user_id":"u-1","ts":"2026-01-13T00:00:00.001Z","article_id":"a-1","topics":["cycling","gear"],"device":"app"}`, true},
		{"spaces, unicode, unknown string fields", " {\n\"type\" : \"session_end\",\t\"user_id\": \"ü-2\", \"ts\": \"2026-01-13T08:00:00+01:00\", \"x\": [\"a\"], \"y\": \"z\" } ", true},
		{"repeated field: the last wins", `{"type": "page_view", "user_id": "u-1", "ts": "2026-01-13T08:00:00Z", "user_id": "u-2", "topics": ["a"], "topics": []}`, true},
		{"article without embedding", `{"type": "article_published", "article_id": "a", "ts": "2026-01-13T08:00:00Z", "title": "T", "topics": ["x"]}`, true},
		{"user deleted", `{"event_id": "e", "type": "user_deleted", "user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, true},
		{"escape", `{"type": "page_view", "user_id": "u\u00e9", "ts": "2026-01-13T08:00:00Z"}`, false},
		{"field name in another case", `{"Type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z"}`, false},
		{"null", `{"type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "device": null}`, false},
		{"number", `{"type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "n": 1}`, false},
		{"profile update", `{"type": "profile_update", "user_id": "u", "ts": "2026-01-13T08:00:00Z", "attributes": {}}`, false},
		{"embedding", `{"type": "article_published", "article_id": "a", "ts": "2026-01-13T08:00:00Z", "embedding": [1]}`, false},
		{"empty user_id", `{"type": "page_view", "user_id": "", "ts": "2026-01-13T08:00:00Z"}`, false},
		{"bad ts", `{"type": "page_view", "user_id": "u", "ts": "soon"}`, false},
		{"invalid UTF-8", "{\"type\": \"page_view\", \"user_id\": \"u\xff\", \"ts\": \"2026-01-13T08:00:00Z\"}", false},
		{"trailing data", `{"type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z"} x`, false},
		{"truncated", `{"type": "page_view", "user_id": "u", "ts": "2026-01-13T08:00:00Z"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flat, ok := d.decodeFlat([]byte(tt.in))
			if ok != tt.flat {
				t.Fatalf("decodeFlat ok = %v, want %v", ok, tt.flat)
			}
			if !ok {
				return
			}
			slow, err := d.decodeSlow([]byte(tt.in))
			if err != nil || !reflect.DeepEqual(flat, slow) {
				t.Fatalf("flat path %+v, slow path %+v, %v", flat, slow, err)
			}
		})
	}
}

func BenchmarkDecodePageView(b *testing.B) {
	d := NewDecoder("user_id", testSchema)
	in := []byte(`{"event_id":"pv-12345","type":"page_view","user_id":"8c4f0b7e-2f1d-4c1b-9a0e-3f5d6c7b8a90","ts":"2026-01-13T00:00:12.345Z","article_id":"a-77","topics":["cycling","gear"],"device":"app"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}
