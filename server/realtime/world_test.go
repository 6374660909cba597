package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/compiler/compilertest"
	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/events"
	"github.com/cohortd/cohortd/store/events/eventstest"
	"github.com/cohortd/cohortd/store/kafka/kafkatest"
)

// testNow is the fixed evaluation instant of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// world is a deterministic test population and event stream, with the
// reference answers computed independently of the pipeline.
type world struct {
	set      *compiler.Set
	initial  map[string]map[string]any // user → attributes (Row form)
	msgs     []eventstest.Message
	model    *eventstest.Model // the final state, by the reference model
	changes  []ChangeRecord    // expected change feed, in stream order
	bad      [][]byte          // malformed values, in stream order
	nInitial int
}

func loadSet(t testing.TB) *compiler.Set {
	t.Helper()
	set, err := compiler.Load("testdata/cohorts.yaml")
	if err != nil {
		t.Fatalf("cannot load the test cohorts: %v", err)
	}
	return set
}

// newWorld builds nUsers initial users and n messages from seed.
func newWorld(t testing.TB, seed uint64, nUsers, n int) *world {
	t.Helper()
	set := loadSet(t)
	schema := set.Schema()
	r := rand.New(rand.NewPCG(seed, 11))
	w := &world{set: set, initial: map[string]map[string]any{}, nInitial: nUsers}
	for i := 0; i < nUsers; i++ {
		u := fmt.Sprintf("u%03d", i)
		attrs := map[string]any{}
		for _, f := range schema {
			v := eventstest.RandomValue(r, f.Kind, testNow)
			if f.Name == "last_visit_at" && v != nil { // spread over 0..60 days ago, as the cohorts need
				v = testNow.Add(-time.Duration(r.IntN(60*24)) * time.Hour).Format(time.RFC3339)
			}
			cv, err := store.ConvertValue(f.Kind, v)
			if err != nil {
				t.Fatal(err)
			}
			if cv != nil {
				attrs[f.Name] = cv
			}
		}
		w.initial[u] = attrs
	}
	pool := make([]string, nUsers+nUsers/3) // a third of the users are new
	for i := range pool {
		pool[i] = fmt.Sprintf("u%03d", i)
	}
	g := &eventstest.Gen{Schema: schema, Users: pool, Start: testNow.Add(-40 * 24 * time.Hour), Span: 40 * 24 * time.Hour,
		ProfileShare: 0.25, SessionShare: 0.05, ArticleShare: 0.03, DeleteShare: 0.02, MalformedShare: 0.03, DuplicateShare: 0.05}
	w.msgs = g.Stream(r, n)
	w.reference(t)
	return w
}

// reference runs the messages through the model and evaluates every
// cohort before and after each event with the spec's reference evaluator.
func (w *world) reference(t testing.TB) {
	dec := events.NewDecoder(w.set.Key(), w.set.Schema())
	w.model = eventstest.NewModel(w.set.Schema(), w.initial)
	ref := compilertest.NewRef(w.set.File(), testNow)
	key := w.set.Key()
	member := func(u string) map[string]bool {
		attrs, ok := w.model.Users[u]
		if !ok {
			return nil
		}
		user := map[string]any{key: u}
		for k, v := range attrs {
			user[k] = v
		}
		out := map[string]bool{}
		for _, co := range w.set.Cohorts() {
			out[co.Name] = ref.Cohort(co.Name, user)
		}
		return out
	}
	for _, m := range w.msgs {
		ev, err := dec.Decode(m.Value)
		if m.Malformed {
			if err == nil {
				t.Fatalf("message %s should be malformed", m.Value)
			}
			w.bad = append(w.bad, m.Value)
			continue
		}
		if err != nil {
			t.Fatalf("message %s: %v", m.Value, err)
		}
		if ev.Type == events.ArticlePublished || ev.Type == events.SessionEnd {
			w.model.Apply(ev)
			continue
		}
		before := member(ev.UserID)
		w.model.Apply(ev)
		after := member(ev.UserID)
		for _, co := range w.set.Cohorts() {
			if before[co.Name] != after[co.Name] {
				c := "exited"
				if after[co.Name] {
					c = "entered"
				}
				w.changes = append(w.changes, ChangeRecord{UserID: ev.UserID, Cohort: co.Name, Change: c,
					TS: ev.TS.Format(time.RFC3339Nano), EventID: ev.ID})
			}
		}
	}
}

// load builds the initial index (the "data source").
func (w *world) load(_ context.Context, set *compiler.Set) (*bitmaps.Index, error) {
	b := bitmaps.NewBuilder(set.Schema())
	ids := make([]string, 0, len(w.initial))
	for u := range w.initial {
		ids = append(ids, u)
	}
	sort.Strings(ids)
	for _, u := range ids {
		row := make(bitmaps.Row, len(set.Schema()))
		for i, f := range set.Schema() {
			row[i] = w.initial[u][f.Name]
		}
		if err := b.Add(u, row); err != nil {
			return nil, err
		}
	}
	return b.Build(), nil
}

func (w *world) records() []kafkatest.Record {
	out := make([]kafkatest.Record, len(w.msgs))
	for i, m := range w.msgs {
		out[i] = kafkatest.Record{Key: m.Key, Value: m.Value}
	}
	return out
}

// assertSameIndex compares two indexes user by user (ids may differ).
func assertSameIndex(t *testing.T, got, want *bitmaps.Index) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Errorf("index has %d users, want %d", got.Len(), want.Len())
	}
	bad := 0
	want.Iterate(want.Universe(), "", func(id uint32, u string) bool {
		wr, _ := want.Row(id)
		gid, ok := got.Lookup(u)
		gr, _ := got.Row(gid)
		if !ok || !reflect.DeepEqual(gr, wr) {
			if bad++; bad <= 5 {
				t.Errorf("user %q: got %v (present %v), want %v", u, gr, ok, wr)
			}
		}
		return true
	})
	got.Iterate(got.Universe(), "", func(_ uint32, u string) bool {
		if _, ok := want.Lookup(u); !ok {
			if bad++; bad <= 5 {
				t.Errorf("unexpected user %q", u)
			}
		}
		return true
	})
	if bad > 5 {
		t.Errorf("... %d differences in all", bad)
	}
}

// perUser groups change records by user, keeping their order.
func perUser(recs []ChangeRecord) map[string][]string {
	out := map[string][]string{}
	for _, r := range recs {
		out[r.UserID] = append(out[r.UserID], r.Cohort+":"+r.Change+"@"+r.TS+"#"+r.EventID)
	}
	return out
}

func decodeChanges(t testing.TB, recs []kafkatest.Record) []ChangeRecord {
	t.Helper()
	out := make([]ChangeRecord, 0, len(recs))
	for _, r := range recs {
		var c ChangeRecord
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("change record %s: %v", r.Value, err)
		}
		if r.Key != c.UserID {
			t.Fatalf("change record keyed %q for user %q", r.Key, c.UserID)
		}
		c.EventID = r.Headers[EventIDHeader]
		out = append(out, c)
	}
	return out
}

// assertChanges compares the change feed with the expected one, per user
// in order (Kafka keeps the order per key only).
func assertChanges(t *testing.T, got, want []ChangeRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d change records, want %d", len(got), len(want))
	}
	g, w := perUser(got), perUser(want)
	bad := 0
	for u, wl := range w {
		if !slices.Equal(g[u], wl) {
			if bad++; bad <= 5 {
				t.Errorf("changes of %s:\ngot  %v\nwant %v", u, g[u], wl)
			}
		}
	}
	for u := range g {
		if _, ok := w[u]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("unexpected changes of %s: %v", u, g[u])
			}
		}
	}
}
