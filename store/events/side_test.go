package events_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/events"
)

// hookLog records what the hooks saw of the history when they ran.
type hookLog struct {
	mu  sync.Mutex
	h   *events.MemHistory
	log []string
}

func (l *hookLog) hooks() events.Hooks {
	return events.Hooks{
		SessionEnd: func(u string, ts time.Time) {
			l.add(fmt.Sprintf("session_end %s %s reads=%d", u, ts.Format(time.RFC3339), len(l.h.Reads(u, 0))))
		},
		UserDeleted: func(u string) { l.add(fmt.Sprintf("deleted %s reads=%d", u, len(l.h.Reads(u, 0)))) },
	}
}

func (l *hookLog) add(s string) {
	l.mu.Lock()
	l.log = append(l.log, s)
	l.mu.Unlock()
}

// TestBackgroundMatchesSynchronous applies the same stream of page views,
// session ends and erasures with the side effects run synchronously and on
// the background goroutine: the states written at checkpoints, the
// histories and what each hook saw of the history must be identical (so
// an erasure runs after the reads before it, and a session end sees them).
func TestBackgroundMatchesSynchronous(t *testing.T) {
	d := events.NewDecoder("user_id", schema)
	r := rand.New(rand.NewPCG(3, 4))
	var stream []string
	base := time.Date(2026, 1, 13, 8, 0, 0, 0, time.UTC)
	for i := range 3000 {
		u := fmt.Sprintf("u%d", r.IntN(20))
		ts := base.Add(time.Duration(r.IntN(4000)) * time.Second).Format(time.RFC3339)
		switch k := r.IntN(20); {
		case k == 0:
			stream = append(stream, fmt.Sprintf(`{"event_id":"e%d","type":"user_deleted","user_id":%q,"ts":%q}`, i, u, ts))
		case k < 3:
			stream = append(stream, fmt.Sprintf(`{"event_id":"e%d","type":"session_end","user_id":%q,"ts":%q}`, i, u, ts))
		default:
			stream = append(stream, fmt.Sprintf(`{"event_id":"e%d","type":"page_view","user_id":%q,"ts":%q,"article_id":"a%d"}`, i, u, ts, r.IntN(300)))
		}
	}
	type run struct {
		ix    *bitmaps.Index
		a     *events.Applier
		hist  *events.MemHistory
		log   *hookLog
		state [][]byte
	}
	newRun := func() *run {
		h := events.NewMemHistory(5)
		l := &hookLog{h: h}
		ix := bitmaps.NewIndex(schema)
		return &run{ix: ix, hist: h, log: l, a: events.NewApplier(ix, events.Options{History: h, Hooks: l.hooks(), DedupeWindow: 100})}
	}
	inline, bg := newRun(), newRun()
	stop := bg.a.Background()
	for i, s := range stream {
		for _, x := range []*run{inline, bg} {
			if _, err := x.a.Apply(decode(t, d, s)); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				x.a.Publish()
			}
			if i%500 == 499 {
				var buf bytes.Buffer
				if err := x.a.WriteState(&buf); err != nil {
					t.Fatal(err)
				}
				x.state = append(x.state, buf.Bytes())
			}
		}
	}
	stop()
	for i := range inline.state {
		if !bytes.Equal(inline.state[i], bg.state[i]) {
			t.Fatalf("state at checkpoint %d differs", i)
		}
	}
	if !reflect.DeepEqual(inline.log.log, bg.log.log) {
		t.Fatalf("the hooks saw different histories:\n%q\n%q", inline.log.log[:min(10, len(inline.log.log))], bg.log.log[:min(10, len(bg.log.log))])
	}
	if len(inline.log.log) < 100 {
		t.Fatalf("only %d hook calls", len(inline.log.log))
	}
	for i := range 20 {
		u := fmt.Sprintf("u%d", i)
		if got, want := bg.hist.Reads(u, 0), inline.hist.Reads(u, 0); !reflect.DeepEqual(got, want) {
			t.Errorf("history of %s: %v, want %v", u, got, want)
		}
	}
	// After stop, effects run synchronously again.
	if _, err := bg.a.Apply(decode(t, d, `{"type":"page_view","user_id":"late","ts":"2026-01-14T00:00:00Z","article_id":"a1"}`)); err != nil {
		t.Fatal(err)
	}
	if !bg.hist.HasRead("late", "a1") {
		t.Errorf("a read after stop was not recorded at once")
	}
}
