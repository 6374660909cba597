package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// CohortLookup is what the recommender needs of the cohort engine: the
// server implements it over its compiled cohorts (CohortFuncs adapts two
// functions). Implementations must be safe for concurrent use.
type CohortLookup interface {
	// CohortsOf names the cohorts userID belongs to (none for an unknown
	// user; that is not an error).
	CohortsOf(ctx context.Context, userID string) ([]string, error)
	// Members calls fn with each member of cohort until fn returns false.
	// An unknown cohort is an error wrapping ErrUnknownCohort.
	Members(ctx context.Context, cohort string, fn func(userID string) bool) error
}

// CohortFuncs adapts two functions to a CohortLookup.
type CohortFuncs struct {
	Of   func(ctx context.Context, userID string) ([]string, error)
	Each func(ctx context.Context, cohort string, fn func(userID string) bool) error
}

// CohortsOf calls f.Of.
func (f CohortFuncs) CohortsOf(ctx context.Context, userID string) ([]string, error) {
	return f.Of(ctx, userID)
}

// Members calls f.Each.
func (f CohortFuncs) Members(ctx context.Context, cohort string, fn func(string) bool) error {
	return f.Each(ctx, cohort, fn)
}

// MaxCohortSample bounds the members a cohort profile is computed from (a
// seeded uniform sample beyond it).
const MaxCohortSample = 20_000

// cohortTTL is how long a cohort profile is reused.
const cohortTTL = 5 * time.Minute

// cohortProfile is what a cohort reads: its members' centroid, the
// popularity of articles among them and their top topics.
type cohortProfile struct {
	built    time.Time
	day      int32
	members  int // all members
	readers  int // sampled members with a vector
	centroid []float32
	pop      *popSnapshot
	topics   []string
}

type cohortCache struct {
	mu    sync.Mutex
	profs map[string]*cohortProfile
}

func (c *cohortCache) get(name string, d int32) *cohortProfile {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.profs[name]; p != nil && p.day == d && time.Since(p.built) < cohortTTL {
		return p
	}
	return nil
}

func (c *cohortCache) put(name string, p *cohortProfile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.profs == nil || len(c.profs) > 1024 {
		c.profs = map[string]*cohortProfile{}
	}
	c.profs[name] = p
}

func (c *cohortCache) reset() {
	c.mu.Lock()
	c.profs = nil
	c.mu.Unlock()
}

// profile returns (computing when needed) a cohort's profile as of now.
// The caller must not hold r.mu.
func (r *Recommender) profile(ctx context.Context, cohort string, now int64) (*cohortProfile, error) {
	if r.opts.Cohorts == nil {
		return nil, ErrNoCohorts
	}
	d := dayOf(now)
	if p := r.cohorts.get(cohort, d); p != nil {
		return p, nil
	}
	// A seeded reservoir sample of the members.
	rng := rand.New(rand.NewPCG(uint64(len(cohort)), 0xc0 /* any fixed seed */))
	var sample []string
	n := 0
	err := r.opts.Cohorts.Members(ctx, cohort, func(id string) bool {
		n++
		if len(sample) < MaxCohortSample {
			sample = append(sample, id)
		} else if k := rng.IntN(n); k < MaxCohortSample {
			sample[k] = id
		}
		return ctx.Err() == nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the members of cohort %q: %w", cohort, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &cohortProfile{built: time.Now(), day: d, members: n}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.dim > 0 {
		acc := make([]float64, r.dim)
		score := map[int32]float64{}
		topicW := map[string]float64{}
		hl := r.pop.HalfLife.Seconds()
		from := now - int64(r.pop.Window)*86400
		for _, id := range sample {
			u := r.readers[id]
			if u == nil {
				continue
			}
			if v := r.userVectorLocked(id, now); v != nil {
				p.readers++
				for i, x := range v {
					acc[i] += float64(x)
				}
			}
			for _, rd := range u.reads {
				if rd.ts > now {
					continue
				}
				w := math.Exp2(-float64(now-rd.ts) / (4 * hl))
				for _, t := range r.arts[rd.art].topics {
					topicW[t] += w
				}
				if rd.ts >= from && r.arts[rd.art].vec != nil && r.arts[rd.art].published <= now {
					score[rd.art] += math.Exp2(-float64(now-rd.ts) / hl)
				}
			}
		}
		p.centroid = unit(acc)
		p.pop = rankSnapshot(d, score, r.pop.Top)
		for t := range topicW {
			p.topics = append(p.topics, t)
		}
		slices.SortFunc(p.topics, func(a, b string) int { return cmp.Or(cmp.Compare(topicW[b], topicW[a]), strings.Compare(a, b)) })
	}
	r.cohorts.put(cohort, p)
	return p, nil
}

// rankSnapshot turns scores into a popSnapshot.
func rankSnapshot(d int32, score map[int32]float64, top int) *popSnapshot {
	s := &popSnapshot{day: d, built: time.Now(), score: score}
	for a, v := range score {
		s.max = max(s.max, v)
		s.top = append(s.top, a)
	}
	slices.SortFunc(s.top, func(a, b int32) int { return cmp.Or(cmp.Compare(score[b], score[a]), cmp.Compare(a, b)) })
	if len(s.top) > top {
		s.top = s.top[:top]
	}
	return s
}

// coldStartCohort returns the popularity among the members of the user's
// cohorts (summed over them) and the name of the smallest one, or nil when
// the user is in no cohort with readers.
func (r *Recommender) coldStartCohort(ctx context.Context, userID string, now int64) (string, *popSnapshot, error) {
	names, err := r.opts.Cohorts.CohortsOf(ctx, userID)
	if err != nil || len(names) == 0 {
		return "", nil, err
	}
	slices.Sort(names)
	score := map[int32]float64{}
	smallest, size := "", math.MaxInt
	for _, name := range names {
		p, err := r.profile(ctx, name, now)
		if errors.Is(err, ErrUnknownCohort) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if p.pop == nil || len(p.pop.top) == 0 {
			continue
		}
		if p.members < size {
			smallest, size = name, p.members
		}
		for _, a := range p.pop.top {
			score[a] += p.pop.norm(a)
		}
	}
	if len(score) == 0 {
		return "", nil, nil
	}
	return smallest, rankSnapshot(dayOf(now), score, r.pop.Top), nil
}

// CohortResponse is the answer of GET /api/v1/cohorts/{name}/recommendations.
type CohortResponse struct {
	Cohort           string           `json:"cohort"`
	MemberCount      int              `json:"member_count"`
	Recommendations  []Recommendation `json:"recommendations"`
	EmbeddingVersion string           `json:"embedding_version"`
}

// CohortRequest asks for the articles that best fit a cohort.
type CohortRequest struct {
	Cohort string
	Count  int // default 10, at most MaxCount
	// DiversityFactor as in RequestConfig (nil: the default).
	DiversityFactor *float64
	ExcludeIDs      []string
	Now             time.Time // zero: the recommender's clock
}

// RecommendForCohort returns the articles that best fit a cohort, for
// campaign content: near its members' centroid and popular among them
// (0.6·similarity + 0.3·popularity among members + 0.1·freshness).
func (r *Recommender) RecommendForCohort(ctx context.Context, req CohortRequest) (*CohortResponse, error) {
	if req.Count < 0 || req.Count > MaxCount {
		return nil, &InputError{Code: "invalid_count", Message: fmt.Sprintf("count must be between 1 and %d (got %d)", MaxCount, req.Count), Field: "count"}
	}
	if d := req.DiversityFactor; d != nil && (math.IsNaN(*d) || *d < 0 || *d > 1) {
		return nil, &InputError{Code: "invalid_diversity_factor", Message: fmt.Sprintf("diversity_factor must be between 0 and 1 (got %v)", *d), Field: "diversity_factor"}
	}
	count := req.Count
	if count == 0 {
		count = 10
	}
	now := req.Now
	if now.IsZero() {
		now = r.opts.Now()
	}
	p, err := r.profile(ctx, req.Cohort, now.Unix())
	if err != nil {
		return nil, err
	}
	resp := &CohortResponse{Cohort: req.Cohort, MemberCount: p.members, EmbeddingVersion: r.EmbeddingVersion(), Recommendations: []Recommendation{}}
	r.mu.RLock()
	defer r.mu.RUnlock()
	j := &job{
		r: r, ctx: ctx, req: &Request{}, count: count, now: now.Unix(), current: -1,
		exclude: map[int32]bool{}, cands: map[int32]*candidate{}, topics: p.topics, query: p.centroid,
		weights: BlendWeights{Similarity: 0.6, Popularity: 0.3, Freshness: 0.1},
	}
	for _, id := range req.ExcludeIDs {
		if a, ok := r.byID[id]; ok {
			j.exclude[a] = true
			j.excludes = append(j.excludes, id)
		}
	}
	j.pop = p.pop
	if j.pop == nil || len(j.pop.top) == 0 {
		j.pop = r.popCache.snapshot(r.pop, r.counts, dayOf(j.now), r.publishedLocked, time.Now())
	}
	k := max(100, 10*count)
	if err := j.searchSimilar(k, true); err != nil {
		return nil, err
	}
	j.addPopular(k)
	j.signals()
	diversity := r.defaultDiversity()
	if req.DiversityFactor != nil {
		diversity = *req.DiversityFactor
	}
	for _, c := range mmr(j.ranked(), count, diversity, func(c *candidate) []float32 { return r.arts[c.art].vec }) {
		rec := &r.arts[c.art]
		reason := "Fits the cohort's interest in " + joinTopics(j.shared(rec.topics), rec.topics)
		if j.weights.Popularity*c.pop > j.weights.Similarity*c.sim && p.pop != nil && p.pop.norm(c.art) > 0 {
			reason = "Popular with members of this cohort"
		}
		resp.Recommendations = append(resp.Recommendations, Recommendation{
			ArticleID: rec.id, Title: rec.title, Topics: rec.topics, Score: math.Round(c.score*10000) / 10000, Reason: reason,
		})
	}
	return resp, nil
}
