package recommend

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/viterin/vek/vek32"
)

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

// Recommend answers one request. Articles the user read, exclude_ids and
// the current article are never returned; a user without history gets a
// cold-start answer (popular in the user's cohorts when a CohortLookup is
// configured, else globally), never an error. Errors are *InputError for a
// bad request, otherwise failures of the vector index or embedder.
func (r *Recommender) Recommend(ctx context.Context, req Request) (*Response, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = r.opts.Now()
	}
	resp := &Response{EmbeddingVersion: r.EmbeddingVersion(), Recommendations: []Recommendation{}}
	strategy := req.Config.Strategy
	diversity := r.defaultDiversity()
	blend := r.blend
	if strategy == "" {
		if exp, v := r.exps.assign(req.UserID); v != nil {
			resp.Experiment, resp.Variant = exp.Name, v.Name
			strategy = v.Strategy
			if v.DiversityFactor != nil {
				diversity = *v.DiversityFactor
			}
			if v.Blend != nil {
				blend = *v.Blend
			}
		}
	}
	if strategy == "" {
		strategy = StrategyBlended
	}
	if req.Config.DiversityFactor != nil {
		diversity = *req.Config.DiversityFactor
	}
	count := req.Config.Count
	if count == 0 {
		count = 10
	}

	// Session topics are embedded before taking the lock (a remote embedder
	// may be slow).
	sessionVec, err := r.sessionVector(ctx, req.Context.SessionTopics)
	if err != nil {
		return nil, err
	}
	// The cohorts of a user without history are looked up before the lock
	// too (the lookup may call back into the server).
	var cohortPop *popSnapshot
	var cohortName string
	r.mu.RLock()
	uvec := r.userVectorLocked(req.UserID, now.Unix())
	cold := uvec == nil
	r.mu.RUnlock()
	if cold && r.opts.Cohorts != nil {
		cohortName, cohortPop, err = r.coldStartCohort(ctx, req.UserID, now.Unix())
		if err != nil {
			r.log.Warn("cannot look up the cohorts of a new user; answering with global popularity", "user_id", req.UserID, "err", err)
		}
	}

	r.mu.RLock()
	defer r.mu.RUnlock()
	j := &job{
		r: r, ctx: ctx, req: &req, strategy: strategy, count: count, now: now.Unix(),
		user: r.readers[req.UserID], current: -1, exclude: map[int32]bool{}, session: map[string]bool{},
		cands: map[int32]*candidate{},
	}
	j.weights = r.weightsFor(strategy, blend)
	j.pop = r.popCache.snapshot(r.pop, r.counts, dayOf(j.now), r.publishedLocked, time.Now())
	if j.user != nil {
		for _, rd := range j.user.reads {
			j.exclude[rd.art] = true
		}
		j.topics = r.userTopicsLocked(j.user, j.now)
	}
	for _, id := range req.Context.ExcludeIDs {
		if a, ok := r.byID[id]; ok {
			j.exclude[a] = true
		}
	}
	if a, ok := r.byID[req.Context.CurrentArticleID]; ok && req.Context.CurrentArticleID != "" {
		j.current = a
		j.exclude[a] = true
	}
	j.excludes = make([]string, 0, len(j.exclude))
	for a := range j.exclude {
		j.excludes = append(j.excludes, r.arts[a].id)
	}
	for _, t := range req.Context.SessionTopics {
		j.session[strings.ToLower(strings.TrimSpace(t))] = true
	}
	j.uvec = uvec
	j.query = r.queryLocked(j, sessionVec)

	if cold {
		resp.ColdStart = true
		if cohortPop != nil && len(cohortPop.top) > 0 {
			j.pop = cohortPop
			j.cohort = cohortName
		}
	}
	var k = max(100, 10*count)
	switch {
	case cold && j.query == nil:
		// Nothing to go on but popularity.
		strategy = StrategyPopular
		j.weights = r.weightsFor(StrategyPopular, blend)
		j.addPopular(k)
	case cold:
		// "More like this" or session topics for a reader we do not know.
		strategy = StrategyContent
		j.weights = BlendWeights{Similarity: 1, Freshness: 0.15, Popularity: 0.1, Session: blend.Session}
		if err := j.searchSimilar(k, true); err != nil {
			return nil, err
		}
		j.addPopular(count)
	default:
		switch strategy {
		case StrategyContent:
			err = j.searchSimilar(k, true)
		case StrategyCollaborative:
			err = j.collaborative()
		case StrategySeasonal:
			j.seasonal()
		case StrategySerendipity:
			err = j.searchSimilar(k, false)
			j.addPopular(k)
			if err == nil {
				j.serendipity(serendipitySeed(&req, j.now))
			}
		case StrategyPopular:
			j.addPopular(k)
		case StrategyBlended:
			if err = j.searchSimilar(k, false); err == nil {
				err = j.collaborative()
			}
			j.seasonal()
			j.addPopular(max(50, 2*count))
		}
		if err != nil {
			return nil, err
		}
	}
	if sessionVec != nil && strategy != StrategyPopular {
		if err := j.searchSession(sessionVec, max(20, 2*count)); err != nil {
			return nil, err
		}
	}
	j.signals()
	ranked := j.ranked()
	if len(ranked) < count {
		// Top up so that the answer has count items when the catalog
		// allows it: popular articles, then the freshest.
		before := len(j.cands)
		j.topUp(count)
		if len(j.cands) > before {
			j.signals()
			ranked = j.ranked()
		}
	}
	picked := mmr(ranked, count, diversity, func(c *candidate) []float32 { return r.arts[c.art].vec })
	resp.StrategyUsed = strategy
	if cold && j.query == nil && j.cohort != "" {
		resp.StrategyUsed = "cohort_popular"
	}
	for _, c := range picked {
		rec := &r.arts[c.art]
		resp.Recommendations = append(resp.Recommendations, Recommendation{
			ArticleID: rec.id, Title: rec.title, Topics: rec.topics,
			Score: math.Round(c.score*10000) / 10000, Reason: j.reason(c),
		})
	}
	return resp, nil
}

// topUp adds candidates until there are count: the globally popular, then
// the freshest articles.
func (j *job) topUp(count int) {
	global := j.r.popCache.snapshot(j.r.pop, j.r.counts, dayOf(j.now), j.r.publishedLocked, time.Now())
	for _, a := range global.top {
		if len(j.cands) >= count {
			return
		}
		if j.eligible(a) {
			j.candidate(a)
		}
	}
	var rest []int32
	for a := range j.r.arts {
		if j.cands[int32(a)] == nil && j.eligible(int32(a)) {
			rest = append(rest, int32(a))
		}
	}
	slices.SortFunc(rest, func(a, b int32) int { return compareInt64(j.r.arts[b].published, j.r.arts[a].published) })
	for _, a := range rest[:min(len(rest), count-len(j.cands))] {
		j.candidate(a)
	}
}

// searchSession adds the fresh articles nearest the session topics.
func (j *job) searchSession(vec []float32, k int) error {
	if j.r.artIndex == nil || len(vec) != j.r.dim {
		return nil
	}
	now := unixTime(j.now)
	hits, err := j.r.artIndex.Search(j.ctx, vec, k, Filter{Exclude: j.excludes, PublishedBefore: now, PublishedAfter: now.Add(-j.r.opts.FreshWindow)})
	if err != nil {
		return fmt.Errorf("cannot search session topics: %w", err)
	}
	j.addHits(hits)
	return nil
}

func (r *Recommender) defaultDiversity() float64 {
	if r.opts.DiversityFactor != nil {
		return *r.opts.DiversityFactor
	}
	return 0.2
}

func (r *Recommender) publishedLocked(a int32) (int64, bool) {
	if a < 0 || int(a) >= len(r.arts) || r.arts[a].vec == nil {
		return 0, false
	}
	return r.arts[a].published, true
}

// queryLocked mixes the user's vector with the current article (more like
// this) and the session topics; nil when there is nothing to go on.
func (r *Recommender) queryLocked(j *job, sessionVec []float32) []float32 {
	if r.dim == 0 {
		return nil
	}
	acc := make([]float64, r.dim)
	var any bool
	mix := func(v []float32, w float64) {
		if len(v) != r.dim {
			return
		}
		any = true
		for i, x := range v {
			acc[i] += w * float64(x)
		}
	}
	if uv := j.uvec; uv != nil {
		j.hasUser = true
		w := 1.0
		if j.current >= 0 {
			w = 0.4
		}
		mix(uv, w)
	}
	if j.current >= 0 {
		mix(r.arts[j.current].vec, 0.6)
	}
	mix(sessionVec, 0.5)
	if !any {
		return nil
	}
	return unit(acc)
}

// sessionVector embeds the session topics (nil when there are none).
func (r *Recommender) sessionVector(ctx context.Context, topics []string) ([]float32, error) {
	var clean []string
	for _, t := range topics {
		if t = strings.TrimSpace(t); t != "" {
			clean = append(clean, t)
		}
	}
	if len(clean) == 0 {
		return nil, nil
	}
	r.embedMu.Lock()
	e := r.embedder
	r.embedMu.Unlock()
	if e == nil {
		return nil, nil
	}
	vecs, err := e.Embed(ctx, []Document{{Topics: clean}})
	if err != nil {
		return nil, fmt.Errorf("cannot embed session topics: %w", err)
	}
	return vecs[0], nil
}

// mmr picks count candidates from ranked (best first) by maximal marginal
// relevance: each step takes the candidate maximising
// λ·relevance − (1−λ)·(its largest similarity to those already taken), with
// λ = 1 − diversity and relevance the score rescaled to [0, 1] over the
// pool. diversity 0 keeps the ranking.
func mmr(ranked []*candidate, count int, diversity float64, vec func(*candidate) []float32) []*candidate {
	if diversity <= 0 || len(ranked) <= 1 {
		return ranked[:min(count, len(ranked))]
	}
	pool := ranked[:min(len(ranked), max(50, 5*count))]
	hi, lo := pool[0].score, pool[len(pool)-1].score
	rel := func(c *candidate) float64 {
		if hi == lo {
			return 1
		}
		return (c.score - lo) / (hi - lo)
	}
	lambda := 1 - diversity
	maxSim := make([]float64, len(pool))
	for i := range maxSim {
		maxSim[i] = math.Inf(-1)
	}
	taken := make([]bool, len(pool))
	out := make([]*candidate, 0, min(count, len(pool)))
	for len(out) < count && len(out) < len(pool) {
		best, bestVal := -1, math.Inf(-1)
		for i, c := range pool {
			if taken[i] {
				continue
			}
			sim := maxSim[i]
			if len(out) == 0 {
				sim = 0
			}
			if v := lambda*rel(c) - (1-lambda)*sim; v > bestVal {
				best, bestVal = i, v
			}
		}
		taken[best] = true
		out = append(out, pool[best])
		bv := vec(pool[best])
		for i, c := range pool {
			if !taken[i] {
				maxSim[i] = max(maxSim[i], float64(vek32.Dot(vec(c), bv)))
			}
		}
	}
	return out
}

// reason says in a sentence why c is recommended, from its largest
// contribution to the score.
func (j *job) reason(c *candidate) string {
	rec := &j.r.arts[c.art]
	w := j.weights
	type part struct {
		v    float64
		kind string
	}
	parts := []part{
		{w.Similarity * c.sim, "sim"}, {w.Collaborative * c.collab, "collab"}, {w.Seasonal * c.season, "season"},
		{w.Popularity * c.pop, "pop"}, {c.serendip, "serendip"}, {w.Freshness * c.fresh * 0.5, "fresh"},
	}
	if c.session {
		parts = append(parts, part{w.Session, "session"})
	}
	best := parts[0]
	for _, p := range parts[1:] {
		if p.v > best.v {
			best = p
		}
	}
	switch best.kind {
	case "session":
		return "Matches this session's interest in " + joinTopics(sharedTopics(rec.topics, j.session, nil), rec.topics)
	case "collab":
		return "Readers with tastes like yours read this"
	case "season":
		return "Popular around this time of year with readers of " + joinTopics(j.shared(rec.topics), rec.topics)
	case "serendip":
		return "Something different for you: " + joinTopics(nil, rec.topics)
	case "pop":
		if j.cohort != "" {
			return fmt.Sprintf("Popular with readers in the %q cohort", j.cohort)
		}
		return "Popular with readers right now"
	case "fresh":
		return "New on " + joinTopics(j.shared(rec.topics), rec.topics)
	}
	if j.current >= 0 && (!j.hasUser || c.sim > 0) {
		return fmt.Sprintf("More like %q", j.r.arts[j.current].title)
	}
	if shared := j.shared(rec.topics); len(shared) > 0 {
		return "Based on your interest in " + joinTopics(shared, nil)
	}
	return "Similar to articles you read"
}

// shared lists the article's topics among the user's top five.
func (j *job) shared(topics []string) []string {
	top := map[string]bool{}
	for i, t := range j.topics {
		if i == 5 {
			break
		}
		top[t] = true
	}
	return sharedTopics(topics, top, nil)
}

func sharedTopics(topics []string, set map[string]bool, out []string) []string {
	for _, t := range topics {
		if set[strings.ToLower(t)] {
			out = append(out, t)
		}
	}
	return out
}

// joinTopics names up to two topics ("cycling and gear reviews"), falling
// back on the first of fallback.
func joinTopics(topics, fallback []string) string {
	if len(topics) == 0 {
		if len(fallback) == 0 {
			return "new topics"
		}
		topics = fallback[:1]
	}
	if len(topics) > 2 {
		topics = topics[:2]
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = topicName(t)
	}
	return strings.Join(names, " and ")
}
