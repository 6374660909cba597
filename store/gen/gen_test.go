package gen_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/gen"
)

var now = time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)

func generate(t testing.TB, cfg gen.Config) string {
	t.Helper()
	dir := t.TempDir()
	if err := gen.Generate(context.Background(), cfg, dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readJSON decodes every line of an NDJSON file.
func readJSON(t testing.TB, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v in %s", path, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	cfg := gen.Config{Users: 3000, Articles: 300, Events: 5000, Seed: 42, Now: now}
	a, b := generate(t, cfg), generate(t, cfg)
	cfg.Seed = 43
	c := generate(t, cfg)
	for _, name := range []string{"users.ndjson", "articles.ndjson", "events.ndjson"} {
		da, _ := os.ReadFile(filepath.Join(a, name))
		db, _ := os.ReadFile(filepath.Join(b, name))
		dc, _ := os.ReadFile(filepath.Join(c, name))
		if len(da) == 0 || !bytes.Equal(da, db) {
			t.Errorf("%s: two runs with one seed differ (%d and %d bytes)", name, len(da), len(db))
		}
		if bytes.Equal(da, dc) {
			t.Errorf("%s: seeds 42 and 43 give the same file", name)
		}
	}
}

func TestGenerateCounts(t *testing.T) {
	cfg := gen.Config{Users: 2000, Articles: 150, Events: 4000, Seed: 1, Now: now}
	dir := generate(t, cfg)
	for name, want := range map[string]int{"users.ndjson": 2000, "articles.ndjson": 150, "events.ndjson": 4000} {
		if got := len(readJSON(t, filepath.Join(dir, name))); got != want {
			t.Errorf("%s: %d lines, want %d", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("dir holds %d entries, want the 3 files (no temporary leftovers)", len(entries))
	}
}

// Users load with the catalog's schema without a single error or unknown
// attribute, and each value is in its attribute's domain.
func TestUsersFitTheCatalog(t *testing.T) {
	cfg := gen.Config{Users: 20000, Seed: 7, Now: now}
	dir := generate(t, cfg)
	schema := gen.Catalog()
	field := func(name string) int {
		return slices.IndexFunc(schema, func(f bitmaps.Field) bool { return f.Name == name })
	}
	nulls := make([]int, len(schema))
	emptyTags := 0
	ids := map[string]bool{}
	f, err := os.Open(filepath.Join(dir, "users.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	check := func(ok bool, id, attr string, v any) {
		if !ok {
			t.Fatalf("user %s: %s = %#v is out of its domain", id, attr, v)
		}
	}
	oneOf := func(vals ...string) func(string) bool {
		return func(s string) bool { return slices.Contains(vals, s) }
	}
	st, err := store.ReadUsers(context.Background(), f, "users.ndjson", gen.Key, schema, store.Options{},
		func(id string, row bitmaps.Row) error {
			if ids[id] {
				t.Fatalf("user_id %s twice", id)
			}
			ids[id] = true
			for i, v := range row {
				if v == nil {
					nulls[i]++
					continue
				}
				name := schema[i].Name
				switch name {
				case "engagement_tier":
					check(oneOf("champion", "loyal", "casual", "dormant", "new")(v.(string)), id, name, v)
				case "engagement_score":
					x := v.(float64)
					check(x >= 0 && x <= 100 && math.Abs(x*100-math.Round(x*100)) < 1e-6, id, name, v)
				case "visits_30d":
					check(v.(int64) >= 0 && v.(int64) <= 60, id, name, v)
				case "peak_hour":
					check(v.(int64) >= 0 && v.(int64) <= 23, id, name, v)
				case "last_visit_at":
					check(v.(int64) <= now.Unix() && v.(int64) >= now.Unix()-180*86400, id, name, v)
				case "signup_at":
					check(v.(int64) <= now.Unix() && v.(int64) >= now.Unix()-730*86400, id, name, v)
					if lv := row[field("last_visit_at")]; lv != nil {
						check(v.(int64) <= lv.(int64), id, "signup_at <= last_visit_at", v)
					}
				case "email_engagement":
					check(oneOf("highly_engaged", "moderate", "low", "unsubscribed")(v.(string)), id, name, v)
				case "device_preference":
					check(oneOf("app", "mobile", "desktop", "tablet")(v.(string)), id, name, v)
				case "interest_breadth":
					check(oneOf("single-sport", "multi-sport", "generalist")(v.(string)), id, name, v)
				case "peak_days":
					l := v.([]string)
					check(len(l) >= 1 && len(l) <= 3 && distinct(l), id, name, v)
					for _, d := range l {
						check(oneOf("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")(d), id, name, v)
					}
				case "top_topics":
					l := v.([]string)
					check(len(l) >= 1 && len(l) <= 4 && distinct(l), id, name, v)
				case "cohort_tags":
					check(distinct(v.([]string)), id, name, v)
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != int64(cfg.Users) || len(st.UnknownAttributes) != 0 {
		t.Fatalf("stats %+v", st)
	}
	// About 5% NULL per attribute (cohort_tags also has empty lists).
	for i, n := range nulls {
		ratio := float64(n) / float64(cfg.Users)
		lo, hi := 0.04, 0.06
		if schema[i].Name == "cohort_tags" {
			hi = 0.25
		}
		if ratio < lo || ratio > hi {
			t.Errorf("%s: %.1f%% NULL, want about 5%%", schema[i].Name, 100*ratio)
		}
	}
	// Some cohort_tags lists are empty (not null) in the file.
	for _, u := range readJSON(t, filepath.Join(dir, "users.ndjson")) {
		if l, ok := u["cohort_tags"].([]any); ok && len(l) == 0 {
			emptyTags++
		}
	}
	if emptyTags == 0 {
		t.Error("no empty cohort_tags list")
	}
}

// The population is skewed the way the cohorts expect: tiers, recency by
// tier, the spec's tags, unicode tags in the long tail.
func TestUsersShape(t *testing.T) {
	tiers := map[string]int{}
	tags := map[string]int{}
	recent := map[string]int{} // users per tier who visited within 7 days
	n := 0
	err := gen.Users(gen.Config{Users: 20000, Seed: 3, Now: now}, func(rec map[string]any) error {
		n++
		tier, _ := rec["engagement_tier"].(string)
		tiers[tier]++
		if lv, ok := rec["last_visit_at"].(time.Time); ok && now.Sub(lv) < 7*24*time.Hour {
			recent[tier]++
		}
		if l, ok := rec["cohort_tags"].([]string); ok {
			for _, tag := range l {
				tags[tag]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 20000 {
		t.Fatalf("%d users, want 20000", n)
	}
	if !(tiers["casual"] > tiers["loyal"] && tiers["loyal"] > tiers["champion"] && tiers["champion"] > 500) {
		t.Errorf("tiers %v are not skewed", tiers)
	}
	if float64(recent["champion"])/float64(tiers["champion"]) < 0.9 || recent["dormant"] != 0 {
		t.Errorf("recent visitors per tier %v of %v: champions should be recent, dormant users never", recent, tiers)
	}
	for _, tag := range []string{"cyclist", "runner", "gear-enthusiast", "triathlete", "hiker", "swimmer", "ski-touring", "climber", "ciclista-ñ"} {
		if tags[tag] == 0 {
			t.Errorf("no user has tag %q", tag)
		}
	}
	if tags["cyclist"] < tags["swimmer"] || tags["commuter"] > tags["cyclist"]/5 {
		t.Errorf("tag counts not skewed: %v", tags)
	}
}

// Users gives the same population as users.ndjson, value for value.
func TestUsersMatchesGenerate(t *testing.T) {
	cfg := gen.Config{Users: 500, Seed: 9, Now: now}
	dir := generate(t, cfg)
	lines := readJSON(t, filepath.Join(dir, "users.ndjson"))
	k := 0
	err := gen.Users(cfg, func(rec map[string]any) error {
		want := lines[k]
		k++
		if len(rec) != len(want) {
			t.Fatalf("user %d: %d attributes, file has %d", k, len(rec), len(want))
		}
		for name, v := range rec {
			w, ok := want[name]
			if !ok {
				t.Fatalf("user %d: %s missing from the file", k, name)
			}
			if got := normalize(v); !reflect.DeepEqual(got, normalize(w)) {
				t.Fatalf("user %d: %s = %#v, file has %#v", k, name, v, w)
			}
		}
		return nil
	})
	if err != nil || k != cfg.Users {
		t.Fatalf("%d users, %v", k, err)
	}
}

// normalize maps a Users value and a decoded JSON value to one form.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case float64:
		return x
	case int64:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}

func TestArticles(t *testing.T) {
	cfg := gen.Config{Articles: 4000, Seed: 5, Now: now}
	arts := readJSON(t, filepath.Join(generate(t, cfg), "articles.ndjson"))
	ids := map[any]bool{}
	winterSki, summerSki, winter, summer := 0, 0, 0, 0
	for _, a := range arts {
		if ids[a["article_id"]] {
			t.Fatalf("article_id %v twice", a["article_id"])
		}
		ids[a["article_id"]] = true
		title, _ := a["title"].(string)
		if title == "" || strings.Contains(title, "{") {
			t.Fatalf("bad title %q", title)
		}
		topics, _ := a["topics"].([]any)
		if len(topics) == 0 || len(topics) > 3 {
			t.Fatalf("article %v: topics %v", a["article_id"], topics)
		}
		pub, err := time.Parse(time.RFC3339, a["published_at"].(string))
		if err != nil || pub.After(now) || now.Sub(pub) > 731*24*time.Hour {
			t.Fatalf("article %v: published_at %v, %v", a["article_id"], a["published_at"], err)
		}
		ski := topics[0] == "ski-touring" || topics[0] == "alpine-skiing"
		switch pub.Month() {
		case time.December, time.January, time.February:
			winter++
			if ski {
				winterSki++
			}
		case time.June, time.July, time.August:
			summer++
			if ski {
				summerSki++
			}
		}
	}
	if float64(winterSki)/float64(winter) < 3*float64(summerSki)/float64(summer) {
		t.Errorf("ski articles: %d of %d in winter, %d of %d in summer; want ski to be seasonal", winterSki, winter, summerSki, summer)
	}
}

// Events are time-ordered; page views read existing articles, carry their
// topics, end exactly at each reader's last_visit_at, and follow the
// readers' interests (their top_topics) far more than chance.
func TestEvents(t *testing.T) {
	cfg := gen.Config{Users: 3000, Articles: 1500, Events: 30000, Seed: 11, Now: now}
	dir := generate(t, cfg)
	users := map[string]map[string]any{}
	var userIDs []string
	for _, u := range readJSON(t, filepath.Join(dir, "users.ndjson")) {
		id := u["user_id"].(string)
		users[id] = u
		userIDs = append(userIDs, id)
	}
	articles := map[string][]any{}
	published := map[string]string{}
	for _, a := range readJSON(t, filepath.Join(dir, "articles.ndjson")) {
		articles[a["article_id"].(string)] = a["topics"].([]any)
		published[a["article_id"].(string)] = a["published_at"].(string)
	}
	types := map[string]int{}
	lastView := map[string]string{}
	prevTS := ""
	ids := map[any]bool{}
	matches, shuffledMatches, views := 0, 0, 0
	for k, e := range readJSON(t, filepath.Join(dir, "events.ndjson")) {
		types[e["type"].(string)]++
		if ids[e["event_id"]] {
			t.Fatalf("event_id %v twice", e["event_id"])
		}
		ids[e["event_id"]] = true
		ts := e["ts"].(string)
		if ts < prevTS || ts > now.Format(time.RFC3339) {
			t.Fatalf("event %v at %s after %s or after now", e["event_id"], ts, prevTS)
		}
		prevTS = ts
		uid := e["user_id"].(string)
		u, ok := users[uid]
		if !ok {
			t.Fatalf("event %v: unknown user %s", e["event_id"], uid)
		}
		switch e["type"] {
		case "page_view":
			aid := e["article_id"].(string)
			topics, ok := articles[aid]
			if !ok || !reflect.DeepEqual(topics, e["topics"]) || published[aid] > ts {
				t.Fatalf("event %v reads %s (topics %v, published %s)", e["event_id"], aid, topics, published[aid])
			}
			if e["device"] == nil {
				t.Fatalf("event %v has no device", e["event_id"])
			}
			lastView[uid] = max(lastView[uid], ts)
			views++
			if shares(u["top_topics"], topics) {
				matches++
			}
			other := users[userIDs[(k*7919)%len(userIDs)]]
			if shares(other["top_topics"], topics) {
				shuffledMatches++
			}
		case "profile_update":
			attrs, ok := e["attributes"].(map[string]any)
			if !ok || len(attrs) == 0 {
				t.Fatalf("event %v: attributes %v", e["event_id"], e["attributes"])
			}
			for name, v := range attrs { // the user's current value (null when NULL)
				if !reflect.DeepEqual(v, u[name]) {
					t.Fatalf("event %v: %s = %v, user has %v", e["event_id"], name, v, u[name])
				}
			}
		case "session_end":
		default:
			t.Fatalf("event %v: type %v", e["event_id"], e["type"])
		}
	}
	for uid, ts := range lastView {
		if lv := users[uid]["last_visit_at"]; lv != ts {
			t.Fatalf("user %s: last page view at %s, last_visit_at %v", uid, ts, lv)
		}
	}
	if types["page_view"] < 25000 || types["session_end"] == 0 || types["profile_update"] == 0 {
		t.Errorf("event types %v", types)
	}
	if float64(matches) < 2.5*float64(shuffledMatches) || float64(matches)/float64(views) < 0.4 {
		t.Errorf("%d of %d page views match the reader's top_topics, %d a random user's: reads do not follow interests",
			matches, views, shuffledMatches)
	}
}

func shares(list any, topics []any) bool {
	l, _ := list.([]any)
	for _, x := range l {
		if slices.Contains(topics, x) {
			return true
		}
	}
	return false
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  gen.Config
		want string
	}{
		{name: "no now", cfg: gen.Config{Users: 1}, want: "cannot generate a population: Config.Now is not set"},
		{name: "negative", cfg: gen.Config{Users: -1, Now: now}, want: "cannot generate a population: negative count"},
		{name: "events without articles", cfg: gen.Config{Users: 5, Events: 3, Now: now},
			want: "cannot generate a population: cannot generate 3 events without users and articles to read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gen.Generate(context.Background(), tt.cfg, t.TempDir(), nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v, want %s", err, tt.want)
			}
		})
	}
}

func TestGenerateCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	err := gen.Generate(ctx, gen.Config{Users: 100000, Now: now}, dir, func(done, total int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}

func TestGenerateProgress(t *testing.T) {
	var last, calls int64
	cfg := gen.Config{Users: 10000, Articles: 100, Events: 9000, Now: now}
	err := gen.Generate(context.Background(), cfg, t.TempDir(), func(done, total int64) {
		if done < last || total != 19100 {
			t.Fatalf("progress %d/%d after %d", done, total, last)
		}
		last = done
		calls++
	})
	if err != nil || last != 19100 || calls < 3 {
		t.Errorf("last progress %d after %d calls, %v; want 19100", last, calls, err)
	}
}

func TestUsersStopsOnError(t *testing.T) {
	n := 0
	stop := errors.New("stop")
	err := gen.Users(gen.Config{Users: 100, Now: now}, func(map[string]any) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("got %v after %d users; want stop after 3", err, n)
	}
}

func distinct(l []string) bool {
	s := slices.Clone(l)
	slices.Sort(s)
	return len(slices.Compact(s)) == len(l)
}
