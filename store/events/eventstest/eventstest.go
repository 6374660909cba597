// Package eventstest holds test helpers for anything that consumes events:
// a random generator of mixed event streams (valid, duplicated, out of
// order, malformed) and Model, a naive reference implementation of the
// effects table of spec events.md, written independently of events.Applier.
// It imports events and bitmaps (and the standard library).
package eventstest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/events"
)

// Message is one generated Kafka message or NDJSON line.
type Message struct {
	Key   string
	Value []byte
	// Malformed says the value must be rejected.
	Malformed bool
}

// Gen generates event streams over a catalog. Not safe for concurrent use.
type Gen struct {
	Schema bitmaps.Schema
	Users  []string // user ids to draw from (new ones are created by events)
	Start  time.Time
	Span   time.Duration // event times are in [Start, Start+Span)
	// Shares of the mix (the rest are page views); MalformedShare and
	// DuplicateShare apply on top.
	ProfileShare, SessionShare, ArticleShare, DeleteShare float64
	MalformedShare, DuplicateShare                        float64

	n    int
	sent []Message
}

// Stream returns n messages.
func (g *Gen) Stream(r *rand.Rand, n int) []Message {
	out := make([]Message, 0, n)
	for len(out) < n {
		x := r.Float64()
		switch {
		case x < g.MalformedShare:
			out = append(out, g.malformed(r))
			continue
		case x < g.MalformedShare+g.DuplicateShare && len(g.sent) > 0:
			out = append(out, g.sent[r.IntN(len(g.sent))])
			continue
		}
		m := g.valid(r)
		g.sent = append(g.sent, m)
		out = append(out, m)
	}
	return out
}

func (g *Gen) ts(r *rand.Rand) string {
	d := time.Duration(r.Int64N(int64(g.Span/time.Second))) * time.Second
	return g.Start.Add(d).UTC().Format(time.RFC3339)
}

func (g *Gen) user(r *rand.Rand) string { return g.Users[r.IntN(len(g.Users))] }

func (g *Gen) valid(r *rand.Rand) Message {
	g.n++
	ev := map[string]any{"event_id": fmt.Sprintf("e-%d", g.n), "ts": g.ts(r)}
	x := r.Float64()
	key := g.user(r)
	switch {
	case x < g.ProfileShare:
		ev["type"] = "profile_update"
		ev["user_id"] = key
		attrs := map[string]any{}
		for k := 1 + r.IntN(3); k > 0; k-- {
			f := g.Schema[r.IntN(len(g.Schema))]
			attrs[f.Name] = RandomValue(r, f.Kind, g.Start)
		}
		ev["attributes"] = attrs
	case x < g.ProfileShare+g.SessionShare:
		ev["type"] = "session_end"
		ev["user_id"] = key
	case x < g.ProfileShare+g.SessionShare+g.ArticleShare:
		ev["type"] = "article_published"
		key = fmt.Sprintf("a-%d", r.IntN(20))
		ev["article_id"] = key
		ev["title"] = "title of " + key
		ev["topics"] = []string{"cycling"}
		if r.IntN(2) == 0 {
			ev["embedding"] = []float64{r.Float64(), -r.Float64()}
		}
	case x < g.ProfileShare+g.SessionShare+g.ArticleShare+g.DeleteShare:
		ev["type"] = "user_deleted"
		ev["user_id"] = key
	default:
		ev["type"] = "page_view"
		ev["user_id"] = key
		ev["article_id"] = fmt.Sprintf("a-%d", r.IntN(20))
		ev["device"] = "app"
	}
	if r.IntN(20) == 0 {
		delete(ev, "event_id") // deduplicated by the rules only
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return Message{Key: key, Value: b}
}

// RandomValue returns a JSON-able value of kind k (nil one time in six).
func RandomValue(r *rand.Rand, k bitmaps.Kind, around time.Time) any {
	if r.IntN(6) == 0 {
		return nil
	}
	switch k {
	case bitmaps.KindString:
		return []string{"champion", "loyal", "casual", "dormant", "new", "highly_engaged", "moderate", "app", "mobile"}[r.IntN(9)]
	case bitmaps.KindInt:
		return r.IntN(40)
	case bitmaps.KindFloat:
		return float64(r.IntN(1000)) / 10
	case bitmaps.KindBool:
		return r.IntN(2) == 0
	case bitmaps.KindTime:
		return around.Add(-time.Duration(r.IntN(60*24)) * time.Hour).UTC().Format(time.RFC3339)
	case bitmaps.KindStringList:
		tags := []string{"cyclist", "runner", "swimmer", "gear-enthusiast", "triathlete"}
		n := r.IntN(3)
		out := make([]string, 0, n)
		for _, i := range r.Perm(len(tags))[:n] {
			out = append(out, tags[i])
		}
		return out
	}
	return nil
}

func (g *Gen) malformed(r *rand.Rand) Message {
	u := g.user(r)
	ts := g.ts(r)
	var s string
	switch r.IntN(6) {
	case 0:
		s = "not json at all"
	case 1:
		s = fmt.Sprintf(`{"event_id": "bad-%d", "type": "click", "user_id": %q, "ts": %q}`, r.Int(), u, ts)
	case 2:
		s = fmt.Sprintf(`{"event_id": "bad-%d", "type": "page_view", "ts": %q}`, r.Int(), ts)
	case 3:
		// the first attribute of a non-string kind given a string
		name := ""
		for _, f := range g.Schema {
			if f.Kind != bitmaps.KindString {
				name = f.Name
				break
			}
		}
		s = fmt.Sprintf(`{"event_id": "bad-%d", "type": "profile_update", "user_id": %q, "ts": %q, "attributes": {%q: "ten"}}`, r.Int(), u, ts, name)
	case 4:
		s = fmt.Sprintf(`{"event_id": "bad-%d", "type": "page_view", "user_id": %q, "ts": "last tuesday"}`, r.Int(), u)
	default:
		s = fmt.Sprintf(`{"event_id": "bad-%d", "type": "page_view", "user_id": %q`, r.Int(), u)
	}
	return Message{Key: u, Value: []byte(s), Malformed: true}
}

// Model is a naive reference of the effects table: users as maps, every
// rule spelled out. It is not safe for concurrent use.
type Model struct {
	Schema    bitmaps.Schema
	LastVisit string // "last_visit_at"
	Users     map[string]map[string]any
	held      map[string]map[string]time.Time
	deletedAt map[string]time.Time
	seen      map[string]bool
	Reads     map[string]map[events.Read]bool
	Articles  map[string]events.Article
	Sessions  int // session_end hooks that would fire
}

// NewModel returns a model starting with users (values in bitmaps.Row form
// keyed by attribute name).
func NewModel(schema bitmaps.Schema, users map[string]map[string]any) *Model {
	m := &Model{Schema: schema, LastVisit: "last_visit_at", Users: map[string]map[string]any{},
		held: map[string]map[string]time.Time{}, deletedAt: map[string]time.Time{}, seen: map[string]bool{},
		Reads: map[string]map[events.Read]bool{}, Articles: map[string]events.Article{}}
	for u, attrs := range users {
		m.Users[u] = maps(attrs)
	}
	return m
}

func maps(a map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// Clone returns a deep-enough copy (users and their maps are copied).
func (m *Model) Clone() *Model {
	c := *m
	c.Users = map[string]map[string]any{}
	for u, a := range m.Users {
		c.Users[u] = maps(a)
	}
	return &c
}

func (m *Model) hasField(name string) (bitmaps.Kind, bool) {
	for _, f := range m.Schema {
		if f.Name == name {
			return f.Kind, true
		}
	}
	return 0, false
}

// Apply applies one decoded event and reports whether the user's
// attributes or existence changed.
func (m *Model) Apply(ev events.Event) bool {
	if ev.ID != "" {
		if m.seen[ev.ID] {
			return false
		}
		m.seen[ev.ID] = true
	}
	u := ev.UserID
	if d, ok := m.deletedAt[u]; ok && ev.Type != events.UserDeleted && ev.Type != events.ArticlePublished && !ev.TS.After(d) {
		return false
	}
	switch ev.Type {
	case events.PageView:
		attrs, ok := m.Users[u]
		changed := !ok
		if !ok {
			attrs = map[string]any{}
			m.Users[u] = attrs
		}
		if _, has := m.hasField(m.LastVisit); has {
			cur, _ := attrs[m.LastVisit].(int64)
			if _, set := attrs[m.LastVisit]; !set || ev.TS.Unix() > cur {
				attrs[m.LastVisit] = ev.TS.Unix()
				changed = true
			}
		}
		if ev.ArticleID != "" {
			if m.Reads[u] == nil {
				m.Reads[u] = map[events.Read]bool{}
			}
			m.Reads[u][events.Read{ArticleID: ev.ArticleID, TS: time.Unix(ev.TS.Unix(), 0).UTC()}] = true
		}
		return changed
	case events.ProfileUpdate:
		attrs, ok := m.Users[u]
		changed := !ok
		if !ok {
			attrs = map[string]any{}
			m.Users[u] = attrs
		}
		if m.held[u] == nil {
			m.held[u] = map[string]time.Time{}
		}
		for _, a := range ev.Attributes {
			if h, ok := m.held[u][a.Name]; ok && ev.TS.Before(h) {
				continue
			}
			m.held[u][a.Name] = ev.TS
			old, had := attrs[a.Name]
			if a.Value == nil {
				if had {
					delete(attrs, a.Name)
					changed = true
				}
				continue
			}
			if !had || fmt.Sprint(old) != fmt.Sprint(a.Value) {
				changed = true
			}
			attrs[a.Name] = a.Value
		}
		return changed
	case events.SessionEnd:
		m.Sessions++
	case events.ArticlePublished:
		if old, ok := m.Articles[ev.ArticleID]; ok && old.PublishedAt.After(ev.TS) {
			return false
		}
		m.Articles[ev.ArticleID] = events.Article{ID: ev.ArticleID, Title: ev.Title, Topics: ev.Topics, PublishedAt: ev.TS, Embedding: ev.Embedding}
	case events.UserDeleted:
		if d, ok := m.deletedAt[u]; !ok || ev.TS.After(d) {
			m.deletedAt[u] = ev.TS
		}
		_, existed := m.Users[u]
		delete(m.Users, u)
		delete(m.held, u)
		delete(m.Reads, u)
		return existed
	}
	return false
}

// Row returns a user's values aligned with the schema.
func (m *Model) Row(u string) bitmaps.Row {
	attrs, ok := m.Users[u]
	if !ok {
		return nil
	}
	row := make(bitmaps.Row, len(m.Schema))
	for i, f := range m.Schema {
		row[i] = attrs[f.Name]
	}
	return row
}

// UserIDs returns the live users, sorted.
func (m *Model) UserIDs() []string {
	ids := make([]string, 0, len(m.Users))
	for u := range m.Users {
		ids = append(ids, u)
	}
	sort.Strings(ids)
	return ids
}

// History returns a user's newest n reads, newest first (ties by article).
func (m *Model) History(u string, n int) []events.Read {
	var out []events.Read
	for r := range m.Reads[u] {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b events.Read) int {
		if c := b.TS.Compare(a.TS); c != 0 {
			return c
		}
		if a.ArticleID > b.ArticleID {
			return -1
		}
		if a.ArticleID < b.ArticleID {
			return 1
		}
		return 0
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Build returns an index built from the model's final profiles.
func (m *Model) Build() (*bitmaps.Index, error) {
	b := bitmaps.NewBuilder(m.Schema)
	for _, u := range m.UserIDs() {
		if err := b.Add(u, m.Row(u)); err != nil {
			return nil, err
		}
	}
	return b.Build(), nil
}
