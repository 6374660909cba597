package recommend

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cohortd/cohortd/store"
	"github.com/viterin/vek/vek32"
)

// EvalConfig configures an offline evaluation.
type EvalConfig struct {
	// HoldOut is how many of each user's last page views are hidden and
	// predicted (default 1).
	HoldOut int
	// MinHistory is the fewest training reads a user needs to be evaluated
	// (default 3).
	MinHistory int
	// Users caps the evaluated users (a seeded sample; 0: all).
	Users int
	// Seed drives the sample.
	Seed uint64
	// K is the list length scored (default 10).
	K int
	// Strategies to evaluate (default: popular first, then the five of the
	// contract).
	Strategies []Strategy
	// DiversityFactor for every request (nil: the recommender's default).
	DiversityFactor *float64
	// Options build the recommender (Now defaults to the last event).
	Options Options
}

// EvalResult is one strategy's scores.
type EvalResult struct {
	Strategy Strategy `json:"strategy"`
	Users    int      `json:"users"`
	// HitRate is the share of users with a held-out article in the top K.
	HitRate float64 `json:"hit_rate"`
	// NDCG is the mean normalised discounted cumulative gain at K (binary
	// relevance: the held-out articles).
	NDCG float64 `json:"ndcg"`
	// Coverage is the share of the catalog recommended to someone.
	Coverage float64 `json:"coverage"`
	// Diversity is the mean intra-list diversity: the mean of 1 − cosine
	// over the pairs of each list.
	Diversity float64 `json:"diversity"`
	// P50 and P99 are request latencies.
	P50, P99 time.Duration `json:"-"`
}

// EvalSummary describes the evaluated data.
type EvalSummary struct {
	Articles, Reads, Users, Evaluated int
	Results                           []EvalResult
}

// Evaluate runs a leave-last-n-out evaluation on a data directory: for each
// sampled user with enough history, the last HoldOut page views (by ts) are
// removed from the data; the recommender built from the rest recommends K
// articles as of the first removed view, and is scored on finding the
// removed articles. Held-out articles the user had already read before are
// not counted (they can never be recommended). progress, when set, is
// called now and then.
func Evaluate(ctx context.Context, dir string, cfg EvalConfig, progress func(done, total int)) (*EvalSummary, error) {
	if cfg.HoldOut <= 0 {
		cfg.HoldOut = 1
	}
	if cfg.MinHistory <= 0 {
		cfg.MinHistory = 3
	}
	if cfg.K <= 0 {
		cfg.K = 10
	}
	if len(cfg.Strategies) == 0 {
		cfg.Strategies = []Strategy{StrategyPopular, StrategyContent, StrategyCollaborative, StrategySeasonal, StrategySerendipity, StrategyBlended}
	}
	files, err := store.ResolveData(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot evaluate on %q: %w", dir, err)
	}
	if files.Articles == "" || files.Events == "" {
		return nil, fmt.Errorf("cannot evaluate on %q: it needs articles.ndjson and events.ndjson", dir)
	}
	arts, err := readArticles(files.Articles)
	if err != nil {
		return nil, err
	}
	events, _, err := readEvents(ctx, files.Events)
	if err != nil {
		return nil, err
	}
	// Page views per user, by time.
	type view struct {
		art string
		ts  int64
	}
	byUser := map[string][]view{}
	var last int64
	for _, e := range events {
		if e.Type == "page_view" && e.UserID != "" && e.ArticleID != "" {
			byUser[e.UserID] = append(byUser[e.UserID], view{e.ArticleID, e.TS.Unix()})
			last = max(last, e.TS.Unix())
		}
	}
	known := map[string]bool{}
	for _, a := range arts {
		known[a.ID] = true
	}
	// Eligible users, sampled.
	type test struct {
		user string
		now  int64
		want map[string]bool
	}
	var tests []test
	ids := make([]string, 0, len(byUser))
	for id := range byUser {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xe7a1))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	held := map[string]int{} // user → views kept for training
	for _, id := range ids {
		if cfg.Users > 0 && len(tests) >= cfg.Users {
			break
		}
		vs := byUser[id]
		slices.SortStableFunc(vs, func(a, b view) int { return cmp.Compare(a.ts, b.ts) })
		keep := len(vs) - cfg.HoldOut
		if keep < cfg.MinHistory {
			continue
		}
		seen := map[string]bool{}
		for _, v := range vs[:keep] {
			seen[v.art] = true
		}
		want := map[string]bool{}
		for _, v := range vs[keep:] {
			if !seen[v.art] && known[v.art] {
				want[v.art] = true
			}
		}
		if len(want) == 0 {
			continue
		}
		held[id] = keep
		tests = append(tests, test{user: id, now: vs[keep].ts, want: want})
	}

	opts := cfg.Options
	if opts.Now == nil {
		t := time.Unix(last, 0).UTC()
		opts.Now = func() time.Time { return t }
	}
	r, err := New(opts)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(arts, func(a, b Article) int { return a.PublishedAt.Compare(b.PublishedAt) })
	if err := r.AddArticles(ctx, arts); err != nil {
		return nil, err
	}
	reads := 0
	r.mu.Lock()
	for id, vs := range byUser {
		n := len(vs)
		if k, ok := held[id]; ok {
			n = k
		}
		for _, v := range vs[:n] {
			r.addReadLocked(id, v.art, v.ts)
			reads++
		}
	}
	r.mu.Unlock()
	r.popCache.reset()
	if err := r.RebuildUsers(ctx); err != nil {
		return nil, err
	}
	// Users by day, so that popularity snapshots are reused.
	slices.SortFunc(tests, func(a, b test) int { return cmp.Or(cmp.Compare(a.now, b.now), cmp.Compare(a.user, b.user)) })

	sum := &EvalSummary{Articles: len(arts), Reads: reads, Users: len(byUser), Evaluated: len(tests)}
	catalog, _ := r.Len()
	total := len(tests) * len(cfg.Strategies)
	done := 0
	for _, s := range cfg.Strategies {
		res := EvalResult{Strategy: s, Users: len(tests)}
		type score struct {
			hit, ndcg, div float64
			items          []string
			took           time.Duration
		}
		scores := make([]score, len(tests))
		var next int
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for {
					mu.Lock()
					i := next
					next++
					stop := firstErr != nil
					mu.Unlock()
					if i >= len(tests) || stop {
						return
					}
					t := tests[i]
					start := time.Now()
					resp, err := r.Recommend(ctx, Request{UserID: t.user, Now: time.Unix(t.now, 0).UTC(),
						Config: RequestConfig{Count: cfg.K, Strategy: s, DiversityFactor: cfg.DiversityFactor}})
					took := time.Since(start)
					if err != nil {
						mu.Lock()
						firstErr = cmp.Or(firstErr, err)
						mu.Unlock()
						return
					}
					var sc score
					sc.took = took
					var dcg float64
					for rank, rec := range resp.Recommendations {
						sc.items = append(sc.items, rec.ArticleID)
						if t.want[rec.ArticleID] {
							sc.hit = 1
							dcg += 1 / math.Log2(float64(rank+2))
						}
					}
					var idcg float64
					for rank := range min(len(t.want), cfg.K) {
						idcg += 1 / math.Log2(float64(rank+2))
					}
					sc.ndcg = dcg / idcg
					sc.div = r.intraListDiversity(sc.items)
					scores[i] = sc
					mu.Lock()
					done++
					if progress != nil && done%500 == 0 {
						progress(done, total)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return nil, fmt.Errorf("cannot evaluate %s: %w", s, firstErr)
		}
		seen := map[string]bool{}
		lat := make([]time.Duration, len(scores))
		for i, sc := range scores {
			res.HitRate += sc.hit
			res.NDCG += sc.ndcg
			res.Diversity += sc.div
			for _, id := range sc.items {
				seen[id] = true
			}
			lat[i] = sc.took
		}
		if n := float64(len(scores)); n > 0 {
			res.HitRate /= n
			res.NDCG /= n
			res.Diversity /= n
		}
		if catalog > 0 {
			res.Coverage = float64(len(seen)) / float64(catalog)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) > 0 {
			res.P50 = lat[len(lat)/2]
			res.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		}
		sum.Results = append(sum.Results, res)
	}
	return sum, nil
}

// intraListDiversity is the mean of 1 − cosine over the pairs of ids (0 for
// fewer than two).
func (r *Recommender) intraListDiversity(ids []string) float64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var vecs [][]float32
	for _, id := range ids {
		if a, ok := r.byID[id]; ok && r.arts[a].vec != nil {
			vecs = append(vecs, r.arts[a].vec)
		}
	}
	return listDiversity(vecs)
}

func listDiversity(vecs [][]float32) float64 {
	var sum float64
	var pairs int
	for i := range vecs {
		for j := i + 1; j < len(vecs); j++ {
			sum += 1 - float64(vek32.Dot(vecs[i], vecs[j]))
			pairs++
		}
	}
	if pairs == 0 {
		return 0
	}
	return sum / float64(pairs)
}
