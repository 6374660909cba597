package recommend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// smallWorld is a hand-made catalog where each strategy has one right
// answer:
//   - 4 topics × 12 articles, article i of a topic published i days ago;
//   - "cyclist" read cycling 1–3, "cyclist2" cycling 1–5 (so collaborative
//     filtering should offer cycling 4 and 5 to cyclist);
//   - "climber", "climber2" read climbing; 30 "crowd-N" users read running-0
//     (the popular one);
//   - ski articles published 370 days ago were read by "skier-N" users a year
//     ago, around today's date (the seasonal content).
func smallWorld(t testing.TB, opts Options) *Recommender {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixtureNow }
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var arts []Article
	things := []string{"Shoes", "Jackets", "Helmets", "Watches", "Packs", "Routes", "Races", "Gloves", "Lights", "Plans", "Socks", "Tyres"}
	for _, tp := range []string{"cycling", "climbing", "running", "swimming"} {
		for i := range 12 {
			arts = append(arts, Article{ID: fmt.Sprintf("%s-%d", tp, i), Title: fmt.Sprintf("%s %s Review", topicTitle(tp), things[i]),
				Topics: []string{tp}, PublishedAt: fixtureNow.Add(-time.Duration(i)*day - time.Hour)})
		}
	}
	for i := range 5 {
		arts = append(arts, Article{ID: fmt.Sprintf("ski-%d", i), Title: fmt.Sprintf("Ski Touring %s", things[i]),
			Topics: []string{"ski-touring"}, PublishedAt: fixtureNow.Add(-370 * day)})
	}
	// An article from the future (as of fixtureNow).
	arts = append(arts, Article{ID: "cycling-future", Title: "Cycling Future Review", Topics: []string{"cycling"}, PublishedAt: fixtureNow.Add(2 * day)})
	if err := r.AddArticles(ctx, arts); err != nil {
		t.Fatal(err)
	}
	read := func(user, art string, ago time.Duration) {
		t.Helper()
		if err := r.AddRead(user, art, fixtureNow.Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		read("cyclist", fmt.Sprintf("cycling-%d", i), time.Duration(i)*time.Hour)
	}
	for i := 1; i <= 5; i++ {
		read("cyclist2", fmt.Sprintf("cycling-%d", i), time.Duration(i)*time.Hour)
	}
	for _, u := range []string{"climber", "climber2"} {
		for i := 1; i <= 3; i++ {
			read(u, fmt.Sprintf("climbing-%d", i), time.Duration(i)*time.Hour)
		}
	}
	read("climber2", "climbing-6", time.Hour)
	for i := range 30 {
		read(fmt.Sprintf("crowd-%d", i), "running-0", time.Duration(i+1)*time.Minute)
	}
	for i := range 10 {
		read(fmt.Sprintf("skier-%d", i), fmt.Sprintf("ski-%d", i%3), 365*day+time.Duration(i)*day)
	}
	if err := r.RebuildUsers(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func topicsOf(recs []Recommendation) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Topics[0])
	}
	return out
}

func TestStrategies(t *testing.T) {
	r := smallWorld(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		req      Request
		check    func(t *testing.T, resp *Response)
		strategy Strategy
	}{
		{
			name: "content: the reader's topic, freshest first", strategy: StrategyContent,
			req: Request{UserID: "cyclist", Config: RequestConfig{Count: 5, Strategy: StrategyContent, DiversityFactor: ptr(0.0)}},
			check: func(t *testing.T, resp *Response) {
				if got := ids(resp.Recommendations)[:3]; !slices.Equal(got, []string{"cycling-0", "cycling-4", "cycling-5"}) {
					t.Errorf("top 3 = %v", got)
				}
				if !strings.Contains(resp.Recommendations[0].Reason, "cycling") {
					t.Errorf("reason %q does not name the topic", resp.Recommendations[0].Reason)
				}
			},
		},
		{
			name: "collaborative: what the similar reader read", strategy: StrategyCollaborative,
			req: Request{UserID: "cyclist", Config: RequestConfig{Count: 2, Strategy: StrategyCollaborative, DiversityFactor: ptr(0.0)}},
			check: func(t *testing.T, resp *Response) {
				got := ids(resp.Recommendations)
				slices.Sort(got)
				if !slices.Equal(got, []string{"cycling-4", "cycling-5"}) {
					t.Errorf("got %v, want cycling-4 and cycling-5 (read by cyclist2)", got)
				}
				if r := resp.Recommendations[0].Reason; r != "Readers with tastes like yours read this" {
					t.Errorf("reason %q", r)
				}
			},
		},
		{
			name: "seasonal: what was read in these weeks last year", strategy: StrategySeasonal,
			req: Request{UserID: "cyclist", Config: RequestConfig{Count: 3, Strategy: StrategySeasonal}},
			check: func(t *testing.T, resp *Response) {
				for _, rec := range resp.Recommendations {
					if !strings.HasPrefix(rec.ArticleID, "ski-") || !strings.Contains(rec.Reason, "this time of year") {
						t.Errorf("%s (%q) is not the seasonal content", rec.ArticleID, rec.Reason)
					}
				}
			},
		},
		{
			name: "serendipity: outside the reader's topics", strategy: StrategySerendipity,
			req: Request{UserID: "cyclist", Config: RequestConfig{Count: 5, Strategy: StrategySerendipity, Seed: ptr(uint64(7))}},
			check: func(t *testing.T, resp *Response) {
				for _, rec := range resp.Recommendations {
					if rec.Topics[0] == "cycling" || !strings.HasPrefix(rec.Reason, "Something different") && !strings.HasPrefix(rec.Reason, "Popular") {
						t.Errorf("%s (%q) is not serendipitous", rec.ArticleID, rec.Reason)
					}
				}
			},
		},
		{
			name: "popular: the most read first", strategy: StrategyPopular,
			req: Request{UserID: "cyclist", Config: RequestConfig{Count: 3, Strategy: StrategyPopular}},
			check: func(t *testing.T, resp *Response) {
				if resp.Recommendations[0].ArticleID != "running-0" {
					t.Errorf("first = %s, want running-0", resp.Recommendations[0].ArticleID)
				}
			},
		},
		{
			name: "blended (the default): the reader's topic on top", strategy: StrategyBlended,
			req: Request{UserID: "cyclist", Config: RequestConfig{Count: 10}},
			check: func(t *testing.T, resp *Response) {
				if got := topicsOf(resp.Recommendations)[:3]; !slices.Equal(got, []string{"cycling", "cycling", "cycling"}) {
					t.Errorf("top 3 topics = %v", got)
				}
				if len(resp.Recommendations) != 10 {
					t.Errorf("%d recommendations, want 10", len(resp.Recommendations))
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := r.Recommend(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StrategyUsed != tc.strategy || resp.ColdStart {
				t.Fatalf("strategy_used %q (cold %v), want %q", resp.StrategyUsed, resp.ColdStart, tc.strategy)
			}
			if !strings.HasPrefix(resp.EmbeddingVersion, "lexical-v1-768d-n") || !strings.Contains(resp.EmbeddingVersion, "+user-v1(0.4,0.5,0.1)") {
				t.Errorf("embedding_version %q", resp.EmbeddingVersion)
			}
			for _, rec := range resp.Recommendations {
				if rec.Reason == "" || rec.Title == "" {
					t.Errorf("%s has no reason or title", rec.ArticleID)
				}
				if strings.HasPrefix(rec.ArticleID, "cycling-") && slices.Contains([]string{"cycling-1", "cycling-2", "cycling-3", "cycling-future"}, rec.ArticleID) {
					t.Errorf("%s was read or is not yet published", rec.ArticleID)
				}
			}
			tc.check(t, resp)
		})
	}
}

func TestSerendipityIsSeeded(t *testing.T) {
	w := newWorld(3, 800, 50, 20)
	r := w.recommender(t, Options{})
	ctx := context.Background()
	ask := func(seed *uint64) []string {
		resp, err := r.Recommend(ctx, Request{UserID: w.users[0], Config: RequestConfig{Strategy: StrategySerendipity, Seed: seed}})
		if err != nil {
			t.Fatal(err)
		}
		return ids(resp.Recommendations)
	}
	a, b := ask(ptr(uint64(1))), ask(ptr(uint64(1)))
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different answers:\n%v\n%v", a, b)
	}
	if c := ask(ptr(uint64(2))); slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same list %v", a)
	}
	if d, e := ask(nil), ask(nil); !slices.Equal(d, e) {
		t.Errorf("the default seed (user and day) is not stable")
	}
}

type fakeCohorts map[string][]string // cohort → members

func (f fakeCohorts) CohortsOf(_ context.Context, user string) ([]string, error) {
	var out []string
	for c, ms := range f {
		if slices.Contains(ms, user) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f fakeCohorts) Members(_ context.Context, cohort string, fn func(string) bool) error {
	ms, ok := f[cohort]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownCohort, cohort)
	}
	for _, m := range ms {
		if !fn(m) {
			break
		}
	}
	return nil
}

func TestColdStart(t *testing.T) {
	ctx := context.Background()
	cohorts := fakeCohorts{"climbers": {"climber", "climber2", "newbie"}, "everyone": {"climber", "cyclist", "newbie", "crowd-1"}}
	for _, tc := range []struct {
		name         string
		opts         Options
		req          Request
		wantStrategy Strategy
		wantFirst    string
		wantReason   string
	}{
		{
			name: "unknown user: global popularity", req: Request{UserID: "stranger"},
			wantStrategy: StrategyPopular, wantFirst: "running-0", wantReason: "Popular with readers right now",
		},
		{
			name: "unknown user in cohorts: popular among their members", opts: Options{Cohorts: cohorts},
			req: Request{UserID: "newbie", Config: RequestConfig{DiversityFactor: ptr(0.0)}}, wantStrategy: "cohort_popular",
			wantFirst: "climbing-1", wantReason: `Popular with readers in the "climbers" cohort`,
		},
		{
			name:         "unknown user reading an article: more like this",
			req:          Request{UserID: "stranger", Context: RequestContext{CurrentArticleID: "swimming-3"}},
			wantStrategy: StrategyContent, wantReason: `More like "Swimming Watches Review"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := smallWorld(t, tc.opts)
			resp, err := r.Recommend(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if !resp.ColdStart || resp.StrategyUsed != tc.wantStrategy || len(resp.Recommendations) != 10 {
				t.Fatalf("cold %v, strategy %q, %d items", resp.ColdStart, resp.StrategyUsed, len(resp.Recommendations))
			}
			first := resp.Recommendations[0]
			if tc.wantFirst != "" && first.ArticleID != tc.wantFirst {
				t.Errorf("first = %s, want %s (%v)", first.ArticleID, tc.wantFirst, ids(resp.Recommendations))
			}
			if first.Reason != tc.wantReason {
				t.Errorf("reason = %q, want %q", first.Reason, tc.wantReason)
			}
			if tc.req.Context.CurrentArticleID != "" {
				for _, rec := range resp.Recommendations[:5] {
					if rec.ArticleID == tc.req.Context.CurrentArticleID || rec.Topics[0] != "swimming" {
						t.Errorf("more like swimming-3 gave %s", rec.ArticleID)
					}
				}
			}
		})
	}
}

func TestSessionTopicsBoost(t *testing.T) {
	r := smallWorld(t, Options{})
	resp, err := r.Recommend(context.Background(), Request{UserID: "cyclist",
		Context: RequestContext{SessionTopics: []string{"Swimming"}}, Config: RequestConfig{Count: 5, DiversityFactor: ptr(0.0)}})
	if err != nil {
		t.Fatal(err)
	}
	var swim int
	for _, rec := range resp.Recommendations {
		if rec.Topics[0] == "swimming" {
			swim++
			if rec.Reason != "Matches this session's interest in swimming" {
				t.Errorf("reason %q", rec.Reason)
			}
		}
	}
	if swim < 2 {
		t.Errorf("only %d swimming articles in %v for a swimming session", swim, ids(resp.Recommendations))
	}
}

// TestExclusionsAlwaysHold asks every strategy for random users with random
// exclusions and a current article: nothing read, excluded or current ever
// comes back, nothing twice, and the count is honoured.
func TestExclusionsAlwaysHold(t *testing.T) {
	w := newWorld(5, 1500, 120, 25)
	r := w.recommender(t, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		user := w.users[rng.IntN(len(w.users))]
		if i%10 == 9 {
			user = "nobody-" + fmt.Sprint(i)
		}
		var exclude []string
		for range rng.IntN(30) {
			exclude = append(exclude, w.arts[rng.IntN(len(w.arts))].ID)
		}
		current := w.arts[rng.IntN(len(w.arts))].ID
		banned := map[string]bool{current: true}
		for _, id := range exclude {
			banned[id] = true
		}
		for _, id := range r.History(user) {
			banned[id] = true
		}
		for _, s := range Strategies {
			count := 1 + rng.IntN(30)
			resp, err := r.Recommend(ctx, Request{UserID: user,
				Context: RequestContext{CurrentArticleID: current, ExcludeIDs: exclude, SessionTopics: []string{fxTopics[i%len(fxTopics)]}},
				Config:  RequestConfig{Count: count, Strategy: s, DiversityFactor: ptr(rng.Float64())}})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Recommendations) != count {
				t.Errorf("%s for %s: %d items, asked %d", s, user, len(resp.Recommendations), count)
			}
			seen := map[string]bool{}
			for _, rec := range resp.Recommendations {
				if banned[rec.ArticleID] || seen[rec.ArticleID] {
					t.Fatalf("%s for %s returned %s: read, excluded, current or repeated", s, user, rec.ArticleID)
				}
				seen[rec.ArticleID] = true
			}
		}
	}
}

func TestRankingOrderWithoutDiversity(t *testing.T) {
	w := newWorld(6, 1000, 40, 20)
	r := w.recommender(t, Options{})
	for _, s := range []Strategy{StrategyContent, StrategyBlended, StrategyPopular, StrategyCollaborative} {
		for _, u := range w.users[:10] {
			resp, err := r.Recommend(context.Background(), Request{UserID: u, Config: RequestConfig{Count: 20, Strategy: s, DiversityFactor: ptr(0.0)}})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(resp.Recommendations); i++ {
				if resp.Recommendations[i].Score > resp.Recommendations[i-1].Score {
					t.Fatalf("%s for %s: score rises at %d: %v", s, u, i, resp.Recommendations)
				}
			}
		}
	}
}

// TestDiversityIsMonotonic: raising diversity_factor never lowers the mean
// intra-list diversity, and at 1 lists are more diverse than at 0 for
// every user.
func TestDiversityIsMonotonic(t *testing.T) {
	w := newWorld(8, 1500, 40, 25)
	r := w.recommender(t, Options{})
	ctx := context.Background()
	factors := []float64{0, 0.2, 0.4, 0.6, 0.8, 1}
	means := make([]float64, len(factors))
	for _, u := range w.users[:30] {
		var per []float64
		for i, d := range factors {
			resp, err := r.Recommend(ctx, Request{UserID: u, Config: RequestConfig{Count: 10, Strategy: StrategyContent, DiversityFactor: ptr(d)}})
			if err != nil {
				t.Fatal(err)
			}
			div := r.intraListDiversity(ids(resp.Recommendations))
			per = append(per, div)
			means[i] += div / 30
		}
		if per[len(per)-1] <= per[0] {
			t.Errorf("%s: diversity %.3f at factor 1 vs %.3f at 0", u, per[len(per)-1], per[0])
		}
	}
	for i := 1; i < len(means); i++ {
		if means[i] < means[i-1]-1e-9 {
			t.Errorf("mean intra-list diversity falls from %.4f to %.4f between factors %v and %v", means[i-1], means[i], factors[i-1], factors[i])
		}
	}
	t.Logf("mean intra-list diversity by factor %v: %.3f", factors, means)
}

func TestRequestValidation(t *testing.T) {
	r := smallWorld(t, Options{})
	for _, tc := range []struct {
		name string
		req  Request
		code string
	}{
		{"no user", Request{}, "missing_user_id"},
		{"negative count", Request{UserID: "u", Config: RequestConfig{Count: -1}}, "invalid_count"},
		{"count too large", Request{UserID: "u", Config: RequestConfig{Count: MaxCount + 1}}, "invalid_count"},
		{"unknown strategy", Request{UserID: "u", Config: RequestConfig{Strategy: "magic"}}, "invalid_strategy"},
		{"diversity above 1", Request{UserID: "u", Config: RequestConfig{DiversityFactor: ptr(1.5)}}, "invalid_diversity_factor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Recommend(context.Background(), tc.req)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Code != tc.code {
				t.Fatalf("err = %v, want an InputError %q", err, tc.code)
			}
		})
	}
}

func TestEventsUpdateHistoryAndPrivacy(t *testing.T) {
	r := smallWorld(t, Options{})
	ctx := context.Background()
	// A repeated event changes nothing.
	before := len(r.History("cyclist"))
	if err := r.AddRead("cyclist", "cycling-1", fixtureNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := len(r.History("cyclist")); got != before {
		t.Fatalf("a repeated page view added a read (%d → %d)", before, got)
	}
	// A read of an article not yet published to us is kept, and the
	// article becomes recommendable when it arrives.
	if err := r.AddRead("cyclist", "late-1", fixtureNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, Event{Type: "article_published", ArticleID: "late-2", Title: "Cycling Helmets Review", Topics: []string{"cycling"}, TS: fixtureNow.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	resp, err := r.Recommend(ctx, Request{UserID: "cyclist2", Config: RequestConfig{Strategy: StrategyContent, Count: 3, DiversityFactor: ptr(0.0)}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids(resp.Recommendations), "late-2") {
		t.Errorf("a freshly published cycling article is not offered: %v", ids(resp.Recommendations))
	}
	if err := r.AddRead("", "x", fixtureNow); !errors.Is(err, ErrNoUserID) {
		t.Errorf("AddRead without user: %v", err)
	}
	// Deleting a user erases its history, its vector and its reads from
	// popularity.
	for i := range 30 {
		if err := r.Apply(ctx, Event{Type: "user_deleted", UserID: fmt.Sprintf("crowd-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if h := r.History("crowd-3"); h != nil {
		t.Errorf("a deleted user keeps history %v", h)
	}
	if _, ok := r.UserVector("crowd-3"); ok {
		t.Error("a deleted user keeps a vector")
	}
	resp, err = r.Recommend(ctx, Request{UserID: "stranger", Config: RequestConfig{Count: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Recommendations[0].ArticleID == "running-0" {
		t.Error("running-0 is still the most popular after its readers were erased")
	}
	if err := r.Apply(ctx, Event{Type: "session_end", UserID: "cyclist"}); err != nil {
		t.Fatal(err)
	}
}

func TestRecommendForCohort(t *testing.T) {
	cohorts := fakeCohorts{"climbers": {"climber", "climber2"}}
	r := smallWorld(t, Options{Cohorts: cohorts})
	ctx := context.Background()
	resp, err := r.RecommendForCohort(ctx, CohortRequest{Cohort: "climbers", Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	if resp.MemberCount != 2 || len(resp.Recommendations) != 5 {
		t.Fatalf("member_count %d, %d items", resp.MemberCount, len(resp.Recommendations))
	}
	for _, rec := range resp.Recommendations[:3] {
		if rec.Topics[0] != "climbing" || rec.Reason == "" {
			t.Errorf("%s (%q) does not fit climbers", rec.ArticleID, rec.Reason)
		}
	}
	if _, err := r.RecommendForCohort(ctx, CohortRequest{Cohort: "nope"}); !errors.Is(err, ErrUnknownCohort) {
		t.Errorf("unknown cohort: err = %v", err)
	}
	bare := smallWorld(t, Options{})
	if _, err := bare.RecommendForCohort(ctx, CohortRequest{Cohort: "climbers"}); !errors.Is(err, ErrNoCohorts) {
		t.Errorf("without a lookup: err = %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Users: UserEmbeddingConfig{ShortWeight: -1}},
		{Blend: &BlendWeights{Similarity: -1}},
		{DiversityFactor: ptr(2.0)},
		{Experiments: []Experiment{{Name: "x"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}
