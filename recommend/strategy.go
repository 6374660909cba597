package recommend

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/viterin/vek/vek32"
)

// BlendWeights weigh the signals of the blended strategy. Each signal is in
// [0, 1] (similarity in [−1, 1]); an article's score is their weighted sum.
type BlendWeights struct {
	Similarity    float64 `yaml:"similarity" json:"similarity"`       // cosine(user vector, article)
	Freshness     float64 `yaml:"freshness" json:"freshness"`         // 2^(−age/FreshHalfLife)
	Popularity    float64 `yaml:"popularity" json:"popularity"`       // decayed reads, relative to the most read
	Collaborative float64 `yaml:"collaborative" json:"collaborative"` // similar readers' reads, relative
	Seasonal      float64 `yaml:"seasonal" json:"seasonal"`           // popularity in this season of past years
	Session       float64 `yaml:"session" json:"session"`             // the article has a session topic
}

// DefaultBlend are the blended strategy's weights.
func DefaultBlend() BlendWeights {
	return BlendWeights{Similarity: 0.55, Freshness: 0.25, Popularity: 0.1, Collaborative: 0.2, Seasonal: 0.05, Session: 0.3}
}

func (w BlendWeights) validate() error {
	for _, v := range []float64{w.Similarity, w.Freshness, w.Popularity, w.Collaborative, w.Seasonal, w.Session} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("blend weights must be finite and not negative (got %+v)", w)
		}
	}
	return nil
}

// weightsFor are the weights each strategy ranks its candidates with.
func (r *Recommender) weightsFor(s Strategy, blend BlendWeights) BlendWeights {
	switch s {
	case StrategyContent:
		return BlendWeights{Similarity: 1, Freshness: 0.25, Session: blend.Session}
	case StrategyCollaborative:
		return BlendWeights{Collaborative: 1, Freshness: 0.1, Session: blend.Session}
	case StrategySeasonal:
		return BlendWeights{Seasonal: 0.7, Similarity: 0.3, Session: blend.Session}
	case StrategyPopular:
		return BlendWeights{Popularity: 1, Freshness: 0.05, Session: blend.Session}
	}
	return blend
}

// candidate is one article under consideration, with its signals.
type candidate struct {
	art                                       int32
	sim, fresh, pop, collab, season, serendip float64
	session                                   bool
	score                                     float64
}

// job is one request being answered.
type job struct {
	r        *Recommender
	ctx      context.Context
	req      *Request
	strategy Strategy
	weights  BlendWeights
	count    int
	now      int64
	user     *userData
	query    []float32 // user vector, current article and session topics mixed
	uvec     []float32 // the user's own vector (nil: none)
	hasUser  bool      // query holds the user's own vector
	current  int32     // current article, −1 if none
	exclude  map[int32]bool
	excludes []string // the same, as ids, for index filters
	session  map[string]bool
	topics   []string // the user's top topics, best first
	cands    map[int32]*candidate
	pop      *popSnapshot
	cohort   string // cohort whose popularity answers a cold start
}

func (j *job) candidate(a int32) *candidate {
	c := j.cands[a]
	if c == nil {
		c = &candidate{art: a}
		j.cands[a] = c
	}
	return c
}

// eligible reports whether article a may be returned.
func (j *job) eligible(a int32) bool {
	if a < 0 || int(a) >= len(j.r.arts) || j.exclude[a] {
		return false
	}
	rec := &j.r.arts[a]
	return rec.vec != nil && rec.published <= j.now
}

// addHits adds index hits as candidates.
func (j *job) addHits(hits []Hit) {
	for _, h := range hits {
		if a, ok := j.r.byID[h.ID]; ok && j.eligible(a) {
			j.candidate(a)
		}
	}
}

// searchSimilar adds the articles nearest the query within the fresh
// window, and over the whole past when allTime is set or the window holds
// too few. Blended and serendipity rank with freshness, so an old article
// rarely makes their lists: they skip the whole-catalog scan, which is most
// of a request's cost on a large catalog.
func (j *job) searchSimilar(k int, allTime bool) error {
	if j.query == nil || j.r.artIndex == nil {
		return nil
	}
	now := unixTime(j.now)
	f := Filter{Exclude: j.excludes, PublishedBefore: now, PublishedAfter: now.Add(-j.r.opts.FreshWindow)}
	hits, err := j.r.artIndex.Search(j.ctx, j.query, k, f)
	if err != nil {
		return fmt.Errorf("cannot search similar articles: %w", err)
	}
	j.addHits(hits)
	if !allTime && len(hits) >= max(j.count, k/4) {
		return nil
	}
	f.PublishedAfter = time.Time{}
	hits, err = j.r.artIndex.Search(j.ctx, j.query, k, f)
	if err != nil {
		return fmt.Errorf("cannot search similar articles: %w", err)
	}
	j.addHits(hits)
	return nil
}

// addPopular adds the most popular articles as candidates.
func (j *job) addPopular(n int) {
	for i, a := range j.pop.top {
		if i >= n {
			break
		}
		if j.eligible(a) {
			j.candidate(a)
		}
	}
}

// collaborative scores what the user's nearest readers read.
func (j *job) collaborative() error {
	idx := j.r.usrIndex
	if j.uvec == nil || idx == nil {
		return nil
	}
	hits, err := idx.Search(j.ctx, j.uvec, j.r.opts.Neighbours, Filter{Exclude: []string{j.req.UserID}})
	if err != nil {
		return fmt.Errorf("cannot find similar readers: %w", err)
	}
	score := map[int32]float64{}
	var best float64
	for _, h := range hits {
		if h.Score <= 0 {
			continue
		}
		nb := j.r.readers[h.ID]
		if nb == nil {
			continue
		}
		seen := map[int32]bool{}
		for _, rd := range nb.reads {
			if rd.ts > j.now || seen[rd.art] || !j.eligible(rd.art) {
				continue
			}
			seen[rd.art] = true
			score[rd.art] += float64(h.Score)
			best = max(best, score[rd.art])
		}
	}
	if best == 0 {
		return nil
	}
	// The best maxCollab: neighbours' long tails would only cost time.
	arts := make([]int32, 0, len(score))
	for a := range score {
		arts = append(arts, a)
	}
	slices.SortFunc(arts, func(a, b int32) int { return cmp.Or(cmp.Compare(score[b], score[a]), cmp.Compare(a, b)) })
	for _, a := range arts[:min(len(arts), maxCollab)] {
		j.candidate(a).collab = score[a] / best
	}
	return nil
}

// maxCollab and maxSeasonal bound the candidates those signals add.
const (
	maxCollab   = 200
	maxSeasonal = 100
)

// seasonal scores content popular in this season of past years.
func (j *job) seasonal() {
	s := j.r.seasonSnapshotLocked(j.now)
	n := 0
	for _, a := range s.top {
		if n == maxSeasonal {
			break
		}
		if j.eligible(a) {
			j.candidate(a).season = s.norm(a)
			n++
		}
	}
}

// signals fills every candidate's signals and score.
func (j *job) signals() {
	hl := j.r.opts.FreshHalfLife.Seconds()
	for a, c := range j.cands {
		rec := &j.r.arts[a]
		if j.query != nil {
			c.sim = float64(vek32.Dot(j.query, rec.vec))
		}
		c.fresh = math.Exp2(-float64(max(0, j.now-rec.published)) / hl)
		c.pop = j.pop.norm(a)
		for _, t := range rec.topics {
			if j.session[strings.ToLower(t)] {
				c.session = true
			}
		}
		w := j.weights
		c.score = w.Similarity*c.sim + w.Freshness*c.fresh + w.Popularity*c.pop +
			w.Collaborative*c.collab + w.Seasonal*c.season + c.serendip
		if c.session {
			c.score += w.Session
		}
	}
}

// ranked returns the candidates best first (ties by article id).
func (j *job) ranked() []*candidate {
	out := make([]*candidate, 0, len(j.cands))
	for _, c := range j.cands {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *candidate) int {
		return cmp.Or(cmp.Compare(b.score, a.score), strings.Compare(j.r.arts[a.art].id, j.r.arts[b.art].id))
	})
	return out
}

// serendipity keeps candidates outside the user's top topics and gives each
// a seeded random share of its score.
func (j *job) serendipity(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5e4e))
	// Some random recent articles beyond the usual suspects.
	n := len(j.r.arts)
	for range min(n, 300) {
		a := int32(rng.IntN(n))
		if j.eligible(a) {
			j.candidate(a)
		}
	}
	top := map[string]bool{}
	for i, t := range j.topics {
		if i >= 3 {
			break
		}
		top[t] = true
	}
	ids := make([]int32, 0, len(j.cands))
	for a := range j.cands {
		ids = append(ids, a)
	}
	slices.Sort(ids) // map order must not reach the random stream
	var outside int
	for _, a := range ids {
		if !anyTopic(j.r.arts[a].topics, top) {
			outside++
		}
	}
	for _, a := range ids {
		if outside >= j.count && anyTopic(j.r.arts[a].topics, top) {
			delete(j.cands, a)
			continue
		}
		j.cands[a].serendip = 0.45 * rng.Float64()
	}
	j.weights = BlendWeights{Similarity: 0.15, Freshness: 0.15, Popularity: 0.25, Session: j.weights.Session}
}

// serendipitySeed is the request's seed, else one per user and day.
func serendipitySeed(req *Request, now int64) uint64 {
	if req.Config.Seed != nil {
		return *req.Config.Seed
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d", req.UserID, dayOf(now))
	return h.Sum64()
}

// userTopics ranks the topics a user reads (recency-weighted), best first.
func (r *Recommender) userTopicsLocked(u *userData, now int64) []string {
	if u == nil {
		return nil
	}
	w := map[string]float64{}
	hl := r.users.LongHalfLife.Seconds()
	for _, rd := range u.reads {
		if rd.ts > now {
			continue
		}
		for _, t := range r.arts[rd.art].topics {
			w[t] += math.Exp2(-float64(now-rd.ts) / hl)
		}
	}
	out := make([]string, 0, len(w))
	for t := range w {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(w[b], w[a]), strings.Compare(a, b)) })
	return out
}

func anyTopic(topics []string, set map[string]bool) bool {
	for _, t := range topics {
		if set[t] {
			return true
		}
	}
	return false
}
