package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// fixtureNow is the clock of every fixture.
var fixtureNow = time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)

var fxTopics = []string{
	"cycling", "road-cycling", "mountain-biking", "gravel", "running", "trail-running", "marathon",
	"hiking", "camping", "ski-touring", "alpine-skiing", "climbing", "bouldering", "swimming",
	"triathlon", "nutrition", "gear-reviews", "training-plans", "recovery", "injury-prevention",
}

var fxNouns = []string{
	"Shoes", "Jackets", "Helmets", "Watches", "Tents", "Packs", "Plans", "Drills", "Tyres", "Gloves",
	"Lights", "Goggles", "Ropes", "Bottles", "Socks", "Routes", "Races", "Intervals", "Recipes", "Stretches",
}

var fxAdjs = []string{"Best", "Budget", "Tested:", "Essential", "Winter", "Summer", "Pro", "Beginner", "Lightweight", "Top"}

// world is a generated catalog and its readers.
type world struct {
	arts  []Article
	reads map[string][]readEvent // user → reads
	prefs map[string][]string    // user → its two topics
	users []string               // sorted
}

type readEvent struct {
	art string
	ts  time.Time
}

// newWorld generates nArts articles over the two years before fixtureNow
// and nUsers readers of two topics each, with reads of recent articles of
// their topics over the last 90 days.
func newWorld(seed uint64, nArts, nUsers, readsPerUser int) *world {
	rng := rand.New(rand.NewPCG(seed, 42))
	w := &world{reads: map[string][]readEvent{}, prefs: map[string][]string{}}
	byTopic := map[string][]int{}
	for i := range nArts {
		t := fxTopics[rng.IntN(len(fxTopics))]
		topics := []string{t}
		if rng.IntN(3) == 0 {
			if u := fxTopics[rng.IntN(len(fxTopics))]; u != t {
				topics = append(topics, u)
			}
		}
		pub := fixtureNow.Add(-time.Duration(rng.Int64N(int64(730 * day))))
		title := fmt.Sprintf("%s %s %s", fxAdjs[rng.IntN(len(fxAdjs))], topicTitle(t), fxNouns[rng.IntN(len(fxNouns))])
		w.arts = append(w.arts, Article{ID: fmt.Sprintf("a-%06d", i+1), Title: title, Topics: topics, PublishedAt: pub})
		for _, tp := range topics {
			byTopic[tp] = append(byTopic[tp], i)
		}
	}
	for u := range nUsers {
		id := fmt.Sprintf("u-%05d", u+1)
		w.users = append(w.users, id)
		a, b := fxTopics[rng.IntN(len(fxTopics))], fxTopics[rng.IntN(len(fxTopics))]
		w.prefs[id] = []string{a, b}
		for range readsPerUser {
			t := a
			if rng.IntN(3) == 0 {
				t = b
			}
			ts := fixtureNow.Add(-time.Duration(rng.Int64N(int64(90 * day))))
			list := byTopic[t]
			if len(list) == 0 {
				continue
			}
			// Prefer an article published in the 45 days before the read.
			pick := list[rng.IntN(len(list))]
			for try := 0; try < 20; try++ {
				c := list[rng.IntN(len(list))]
				if p := w.arts[c].PublishedAt; !p.After(ts) && ts.Sub(p) < 45*day {
					pick = c
					break
				}
			}
			if w.arts[pick].PublishedAt.After(ts) {
				ts = w.arts[pick].PublishedAt.Add(time.Hour)
				if ts.After(fixtureNow) {
					continue
				}
			}
			w.reads[id] = append(w.reads[id], readEvent{w.arts[pick].ID, ts})
		}
	}
	slices.Sort(w.users)
	return w
}

func topicTitle(slug string) string {
	n := topicName(slug)
	return string(n[0]-'a'+'A') + n[1:]
}

// recommender builds a Recommender over the world.
func (w *world) recommender(t testing.TB, opts Options) *Recommender {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixtureNow }
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.AddArticles(ctx, w.arts); err != nil {
		t.Fatal(err)
	}
	for _, u := range w.users {
		for _, rd := range w.reads[u] {
			if err := r.AddRead(u, rd.art, rd.ts); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.RebuildUsers(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

func ids(recs []Recommendation) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ArticleID
	}
	return out
}
