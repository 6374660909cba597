package gen

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
)

const (
	evPageView = iota
	evSessionEnd
	evProfileUpdate
)

// Event mix: the rest are page views.
const (
	profileUpdateShare = 0.03
	sessionEndShare    = 0.05
	readingWindow      = 90 * 86400 // how far before its last visit a user's reads go
)

// event is one generated event, compact so that millions can be sorted by
// time before they are written.
type event struct {
	ts      int64
	user    int32
	article int32  // page_view
	attrs   uint16 // profile_update: bit a set = attribute a is sent
	kind    uint8
	device  uint8
}

// genEvents draws n events. weight[i] is user i's reading activity (0: no
// events). Slots are shared out in proportion to the weights by systematic
// sampling, so the total is exactly n; each user's page views are articles
// of its latent topics, read before its last visit, the newest exactly at
// last_visit_at (replaying the events reproduces it). profile_update events
// carry the user's current values, so replaying them changes nothing.
func genEvents(seed int64, ug *userGen, weight []float32, ix *articleIndex, n int) []event {
	if n <= 0 || len(ix.arts) == 0 {
		return nil
	}
	var total float64
	for _, w := range weight {
		total += float64(w)
	}
	if total == 0 {
		return nil
	}
	var src rand.PCG
	r := rand.New(&src)
	src.Seed(uint64(seed)^streamEvents, 1<<62)
	step := total / float64(n)
	next := r.Float64() * step // position of the next slot
	out := make([]event, 0, n)
	var cum float64
	for i, w := range weight {
		cum += float64(w)
		slots := 0
		for next < cum && len(out)+slots < n {
			slots++
			next += step
		}
		if slots == 0 {
			continue
		}
		u := ug.gen(i)
		src.Seed(uint64(seed)^streamEvents, uint64(i))
		out = appendUserEvents(out, r, u, int32(i), slots, ix, ug.now)
	}
	// By time; the other fields break ties so that the order (and the
	// file) does not depend on the sort algorithm.
	slices.SortFunc(out, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.user, b.user), cmp.Compare(a.kind, b.kind),
			cmp.Compare(a.article, b.article), cmp.Compare(a.attrs, b.attrs), cmp.Compare(a.device, b.device))
	})
	return out
}

func appendUserEvents(out []event, r *rand.Rand, u *user, i int32, slots int, ix *articleIndex, now int64) []event {
	lo := max(u.lastVisit-readingWindow, u.signup)
	var lastView int64 = -1
	first := true // the first page view is at last_visit_at
	for ; slots > 0; slots-- {
		e := event{user: i, kind: evPageView, device: uint8(r.IntN(len(devices)))}
		if u.presence[aDevice] == present {
			e.device = uint8(slices.Index(devices, u.device))
		}
		switch x := r.Float64(); {
		case x < profileUpdateShare:
			e.kind = evProfileUpdate
			e.ts = lo + r.Int64N(u.lastVisit-lo+1)
			for _, a := range []int{aTier, aEmail, aDevice, aTags, aSeasonal} {
				if r.Float64() < 0.4 {
					e.attrs |= 1 << a
				}
			}
			if e.attrs == 0 {
				e.attrs = 1 << aEmail
			}
		case x < profileUpdateShare+sessionEndShare:
			e.kind = evSessionEnd
		default:
			e.ts = u.lastVisit
			if !first {
				e.ts = lo + r.Int64N(u.lastVisit-lo+1)
			}
			e.article = pickArticle(r, u, ix, e.ts)
			if e.article < 0 {
				e.kind = evSessionEnd // nothing published yet to read
			} else {
				first = false
				lastView = max(lastView, e.ts)
			}
		}
		if e.kind == evSessionEnd {
			at := lastView
			if at < 0 {
				at = u.lastVisit
			}
			e.ts = min(now, at+60+r.Int64N(30*60))
		}
		out = append(out, e)
	}
	return out
}

// pickArticle picks what u reads at ts: an article of one of its latent
// topics, falling back on any article published by then; -1 if none.
func pickArticle(r *rand.Rand, u *user, ix *articleIndex, ts int64) int32 {
	for try := 0; try < 5; try++ {
		if j := ix.pickRead(r, ix.byTopic[u.topic(r)], ts); j >= 0 {
			return j
		}
	}
	return ix.pickRead(r, ix.all, ts)
}

// appendJSON appends the event as one NDJSON line; id is its event_id.
func (e *event) appendJSON(b []byte, id int, u *user, ix *articleIndex) []byte {
	b = append(b, `{"event_id":"e-`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `","type":`...)
	b = appendString(b, [...]string{"page_view", "session_end", "profile_update"}[e.kind])
	b = append(b, `,"user_id":`...)
	b = appendString(b, u.id)
	b = append(b, `,"ts":`...)
	b = appendTime(b, e.ts)
	switch e.kind {
	case evPageView:
		a := &ix.arts[e.article]
		b = append(b, `,"article_id":`...)
		b = appendString(b, a.id)
		b = append(b, `,"topics":`...)
		b = a.appendTopics(b)
		b = append(b, `,"device":`...)
		b = appendString(b, devices[e.device])
	case evProfileUpdate:
		b = append(b, `,"attributes":`...)
		b = u.appendAttrs(b, e.attrs)
	}
	return append(b, '}', '\n')
}
