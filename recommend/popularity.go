package recommend

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// PopularityConfig says how "popular now" is measured. Zero fields take the
// defaults given.
type PopularityConfig struct {
	// Window is how many days of reads count (default 30).
	Window int
	// HalfLife is the decay of a day's reads (default 7 days).
	HalfLife time.Duration
	// TTL is how long a computed ranking is reused before reads that arrived
	// since are taken in (default 30 s).
	TTL time.Duration
	// Top is how many of the most popular articles a ranking keeps as
	// candidates (default 500).
	Top int
}

func (c PopularityConfig) withDefaults() PopularityConfig {
	if c.Window <= 0 {
		c.Window = 30
	}
	if c.HalfLife <= 0 {
		c.HalfLife = 7 * day
	}
	if c.TTL <= 0 {
		c.TTL = 30 * time.Second
	}
	if c.Top <= 0 {
		c.Top = 500
	}
	return c
}

// dayCounts counts reads per article per UTC day.
type dayCounts map[int32]map[int32]int32

func dayOf(ts int64) int32 { return int32(math.Floor(float64(ts) / 86400)) }

func (d dayCounts) add(art int32, ts int64, n int32) {
	dd := dayOf(ts)
	m := d[dd]
	if m == nil {
		m = map[int32]int32{}
		d[dd] = m
	}
	m[art] += n
	if m[art] <= 0 {
		delete(m, art)
	}
}

// popSnapshot is the popularity of every article as of one day.
type popSnapshot struct {
	day   int32
	built time.Time
	score map[int32]float64 // decayed read count
	max   float64
	top   []int32 // most popular first
}

// norm is an article's popularity in [0, 1].
func (s *popSnapshot) norm(art int32) float64 {
	if s == nil || s.max == 0 {
		return 0
	}
	return s.score[art] / s.max
}

// maxSnapshots bounds the days a popCache holds (an evaluation asks for a
// few months of days; a server for one).
const maxSnapshots = 400

// popCache keeps recent snapshots by day (evaluations ask for many days).
type popCache struct {
	mu      sync.Mutex
	snaps   map[int32]*popSnapshot
	seasons map[int32]*popSnapshot
}

// snapshot returns the popularity as of day, computing it from counts when
// absent or older than the TTL. The caller holds the recommender's read lock
// (counts does not change meanwhile).
func (c *popCache) snapshot(cfg PopularityConfig, counts dayCounts, day int32, published func(int32) (int64, bool), wall time.Time) *popSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.snaps[day]; ok && wall.Sub(s.built) < cfg.TTL {
		return s
	}
	s := &popSnapshot{day: day, built: wall, score: map[int32]float64{}}
	hl := cfg.HalfLife.Hours() / 24
	dayEnd := (int64(day) + 1) * 86400
	for d := day - int32(cfg.Window) + 1; d <= day; d++ {
		w := math.Exp2(-float64(day-d) / hl)
		for art, n := range counts[d] {
			s.score[art] += w * float64(n)
		}
	}
	for art, v := range s.score {
		if p, ok := published(art); !ok || p >= dayEnd {
			delete(s.score, art) // not recommendable, or from the future
			continue
		}
		s.max = max(s.max, v)
		s.top = append(s.top, art)
	}
	slices.SortFunc(s.top, func(a, b int32) int {
		return cmp.Or(cmp.Compare(s.score[b], s.score[a]), cmp.Compare(a, b))
	})
	if len(s.top) > cfg.Top {
		s.top = s.top[:cfg.Top]
	}
	if c.snaps == nil {
		c.snaps = map[int32]*popSnapshot{}
	}
	if len(c.snaps) >= maxSnapshots {
		clear(c.snaps)
	}
	c.snaps[day] = s
	return s
}

func (c *popCache) reset() {
	c.mu.Lock()
	clear(c.snaps)
	clear(c.seasons)
	c.mu.Unlock()
}

// seasonSnapshotLocked is what was popular around this day of the past
// three years: reads within Users.SeasonalSpan of each anniversary,
// weighted down with the distance to it. Without such reads (a history
// shorter than a year) it falls back on the articles published in those
// weeks, which is when seasonal content is written. The caller holds r.mu
// for reading.
func (r *Recommender) seasonSnapshotLocked(now int64) *popSnapshot {
	d := dayOf(now)
	c := &r.popCache
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := time.Now() // the TTL is wall time, whatever the recommender's clock
	if s, ok := c.seasons[d]; ok && wall.Sub(s.built) < r.pop.TTL {
		return s
	}
	s := &popSnapshot{day: d, built: wall, score: map[int32]float64{}}
	span := int32(r.users.SeasonalSpan / day)
	for k := 1; k <= 3; k++ {
		center := d - int32(math.Round(float64(k)*year/86400))
		for dd := center - span; dd <= center+span; dd++ {
			w := 1 - 0.5*math.Abs(float64(dd-center))/float64(span+1)
			for art, n := range r.counts[dd] {
				s.score[art] += w * float64(n)
			}
		}
	}
	if len(s.score) == 0 {
		for a := range r.arts {
			p := r.arts[a].published
			if r.arts[a].vec == nil || p == minUnix || p > now {
				continue
			}
			age := float64(now - p)
			if age < year-float64(span)*86400 || age > 3*year+float64(span+1)*86400 {
				continue
			}
			off := math.Mod(age, year)
			if off > year/2 {
				off = year - off
			}
			if off <= float64(span)*86400 {
				s.score[int32(a)] = 1 - 0.5*off/(float64(span+1)*86400)
			}
		}
	}
	for art, v := range s.score {
		if r.arts[art].vec == nil || r.arts[art].published > now {
			delete(s.score, art)
			continue
		}
		s.max = max(s.max, v)
		s.top = append(s.top, art)
	}
	slices.SortFunc(s.top, func(a, b int32) int {
		return cmp.Or(cmp.Compare(s.score[b], s.score[a]), cmp.Compare(a, b))
	})
	if len(s.top) > r.pop.Top {
		s.top = s.top[:r.pop.Top]
	}
	if c.seasons == nil {
		c.seasons = map[int32]*popSnapshot{}
	}
	if len(c.seasons) >= maxSnapshots {
		clear(c.seasons)
	}
	c.seasons[d] = s
	return s
}
