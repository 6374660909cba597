package recommend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Article is one recommendable article.
type Article struct {
	ID          string    `json:"article_id"`
	Title       string    `json:"title"`
	Topics      []string  `json:"topics"`
	PublishedAt time.Time `json:"published_at"`
	// Embedding, when present, is used as it is (normalised); otherwise the
	// Embedder computes one from the title and topics.
	Embedding []float32 `json:"embedding,omitempty"`
}

// Options configure a Recommender. The zero value works: a lexical
// embedder fitted on the first articles added, embedded exact indexes,
// the wall clock, no cohorts and no experiments.
type Options struct {
	// Embedder embeds articles without a precomputed embedding and session
	// topics. Default: a LexicalEmbedder fitted on the articles of the first
	// AddArticles call (Load passes the whole articles file).
	Embedder Embedder
	// ArticleIndex and UserIndex hold article and user vectors. Default:
	// NewEmbeddedIndex for the catalog's dimension. recommend/milvus
	// provides both over Milvus.
	ArticleIndex, UserIndex VectorIndex
	// IndexOptions tune the default embedded indexes.
	IndexOptions IndexOptions
	// Users says how user vectors are computed.
	Users UserEmbeddingConfig
	// Popularity says how "popular now" is measured.
	Popularity PopularityConfig
	// Blend weighs the signals of each strategy (zero: DefaultBlend()).
	Blend *BlendWeights
	// DiversityFactor is used when a request gives none (default 0.2).
	DiversityFactor *float64
	// FreshWindow is the publication window of the "fresh" candidate
	// search, and FreshHalfLife the age at which freshness halves (defaults
	// 60 days and 14 days).
	FreshWindow, FreshHalfLife time.Duration
	// Neighbours is how many similar readers collaborative filtering asks
	// (default 50).
	Neighbours int
	// Cohorts, when set, makes cold starts cohort-aware and enables
	// RecommendForCohort.
	Cohorts CohortLookup
	// Experiments are the A/B tests (see Experiment).
	Experiments []Experiment
	// Now is the clock (default time.Now); `cohortd serve --now` pins it.
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Recommender recommends articles to users from their read histories. It is
// fed by Load or by the event pipeline (AddArticle, AddRead, DeleteUser,
// SessionEnd) and is safe for concurrent use: requests share a read lock,
// updates take it exclusively for a moment.
type Recommender struct {
	opts     Options
	blend    BlendWeights
	users    UserEmbeddingConfig
	pop      PopularityConfig
	log      *slog.Logger
	embedMu  sync.Mutex // guards the lazy default embedder
	embedder Embedder

	mu       sync.RWMutex
	dim      int
	arts     []articleRec
	byID     map[string]int32
	readers  map[string]*userData
	counts   dayCounts
	artIndex VectorIndex
	usrIndex VectorIndex
	popCache popCache
	cohorts  cohortCache
	exps     *experiments
}

type articleRec struct {
	id, title string
	topics    []string
	published int64
	vec       []float32 // nil for a stub (read but never published to us)
}

type userData struct {
	reads []read // by time
}

// New returns a Recommender with no articles and no reads.
func New(opts Options) (*Recommender, error) {
	if err := opts.Users.validate(); err != nil {
		return nil, err
	}
	blend := DefaultBlend()
	if opts.Blend != nil {
		blend = *opts.Blend
	}
	if err := blend.validate(); err != nil {
		return nil, err
	}
	if opts.DiversityFactor != nil && (*opts.DiversityFactor < 0 || *opts.DiversityFactor > 1) {
		return nil, fmt.Errorf("diversity factor %v is outside [0, 1]", *opts.DiversityFactor)
	}
	if opts.FreshWindow <= 0 {
		opts.FreshWindow = 60 * day
	}
	if opts.FreshHalfLife <= 0 {
		opts.FreshHalfLife = 14 * day
	}
	if opts.Neighbours <= 0 {
		opts.Neighbours = 50
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	exps, err := newExperiments(opts.Experiments)
	if err != nil {
		return nil, err
	}
	r := &Recommender{
		opts:     opts,
		blend:    blend,
		users:    opts.Users.withDefaults(),
		pop:      opts.Popularity.withDefaults(),
		log:      opts.Logger,
		embedder: opts.Embedder,
		byID:     map[string]int32{},
		readers:  map[string]*userData{},
		counts:   dayCounts{},
		artIndex: opts.ArticleIndex,
		usrIndex: opts.UserIndex,
		exps:     exps,
	}
	if r.embedder != nil {
		r.dim = r.embedder.Dim()
	}
	return r, nil
}

// EmbeddingVersion names the computation behind the vectors: the article
// embedder's version and the user embedding's, e.g.
// "lexical-v1-768d-n5000+user-v1(0.4,0.5,0.1)".
func (r *Recommender) EmbeddingVersion() string {
	r.embedMu.Lock()
	e := r.embedder
	r.embedMu.Unlock()
	v := "none"
	if e != nil {
		v = e.Version()
	}
	return v + "+" + r.users.version()
}

// Len reports the number of recommendable articles and of users with reads.
func (r *Recommender) Len() (articles, users int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := range r.arts {
		if r.arts[i].vec != nil {
			articles++
		}
	}
	return articles, len(r.readers)
}

// AddArticle adds or replaces one article (an article_published event).
func (r *Recommender) AddArticle(ctx context.Context, a Article) error {
	return r.AddArticles(ctx, []Article{a})
}

// AddArticles adds or replaces articles, embedding in batches those without
// an embedding. The first call fits the default lexical embedder on its
// articles when no Embedder was configured.
func (r *Recommender) AddArticles(ctx context.Context, arts []Article) error {
	for i := range arts {
		if strings.TrimSpace(arts[i].ID) == "" {
			return fmt.Errorf("cannot add article %d: %w", i, ErrNoArticleID)
		}
	}
	emb := r.embedderFor(arts)
	var docs []Document
	var need []int
	for i, a := range arts {
		if len(a.Embedding) == 0 {
			docs = append(docs, Document{Title: a.Title, Topics: a.Topics})
			need = append(need, i)
		}
	}
	vecs := make([][]float32, len(arts))
	if len(docs) > 0 {
		out, err := emb.Embed(ctx, docs)
		if err != nil {
			return fmt.Errorf("cannot add articles: %w", err)
		}
		for j, i := range need {
			vecs[i] = out[j]
		}
	}
	for i, a := range arts {
		if vecs[i] == nil {
			if err := checkFinite(a.Embedding); err != nil {
				return fmt.Errorf("cannot add article %q: %w", a.ID, err)
			}
			vecs[i] = normalize(slices.Clone(a.Embedding))
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dim == 0 && len(vecs) > 0 {
		r.dim = len(vecs[0])
	}
	items := make([]Item, 0, len(arts))
	for i, a := range arts {
		if len(vecs[i]) != r.dim {
			return fmt.Errorf("cannot add article %q: %w: got %d values, want %d", a.ID, ErrDimension, len(vecs[i]), r.dim)
		}
		items = append(items, Item{ID: a.ID, Vector: vecs[i], PublishedAt: a.PublishedAt})
	}
	if r.artIndex == nil {
		r.artIndex = NewEmbeddedIndex(r.dim, withExpected(r.opts.IndexOptions, len(arts)))
	}
	// In publication order, so that the exact index's time blocks are
	// tight and fresh-window searches skip the rest.
	slices.SortStableFunc(items, func(a, b Item) int { return a.PublishedAt.Compare(b.PublishedAt) })
	if err := r.artIndex.Upsert(ctx, items...); err != nil {
		return fmt.Errorf("cannot add articles: %w", err)
	}
	for i, a := range arts {
		rec := articleRec{id: a.ID, title: a.Title, topics: slices.Clone(a.Topics), published: a.PublishedAt.Unix(), vec: vecs[i]}
		if a.PublishedAt.IsZero() {
			rec.published = minUnix
		}
		if j, ok := r.byID[a.ID]; ok {
			r.arts[j] = rec
		} else {
			r.byID[a.ID] = int32(len(r.arts))
			r.arts = append(r.arts, rec)
		}
	}
	r.popCache.reset()
	return nil
}

func withExpected(o IndexOptions, n int) IndexOptions {
	o.Expected = max(o.Expected, n)
	return o
}

// embedderFor returns the embedder, fitting the default lexical one on
// arts the first time.
func (r *Recommender) embedderFor(arts []Article) Embedder {
	r.embedMu.Lock()
	defer r.embedMu.Unlock()
	if r.embedder == nil {
		docs := make([]Document, len(arts))
		for i, a := range arts {
			docs[i] = Document{Title: a.Title, Topics: a.Topics}
		}
		r.embedder = NewLexicalEmbedder(LexicalDim, docs)
	}
	return r.embedder
}

// ErrNoArticleID and ErrNoUserID reject events that lack their key.
var (
	ErrNoArticleID = errors.New("article_id is empty")
	ErrNoUserID    = errors.New("user_id is empty")
)

// AddRead records that userID read articleID at ts (a page_view event). An
// article not yet known is remembered and becomes recommendable once it is
// added. Recording the same read twice changes nothing.
func (r *Recommender) AddRead(userID, articleID string, ts time.Time) error {
	if userID == "" {
		return ErrNoUserID
	}
	if articleID == "" {
		return ErrNoArticleID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addReadLocked(userID, articleID, ts.Unix())
	return nil
}

func (r *Recommender) addReadLocked(userID, articleID string, ts int64) {
	art, ok := r.byID[articleID]
	if !ok {
		art = int32(len(r.arts))
		r.byID[articleID] = art
		r.arts = append(r.arts, articleRec{id: articleID, published: minUnix})
	}
	u := r.readers[userID]
	if u == nil {
		u = &userData{}
		r.readers[userID] = u
	}
	rd := read{art: art, ts: ts}
	i, found := slices.BinarySearchFunc(u.reads, rd, func(a, b read) int {
		if a.ts != b.ts {
			return compareInt64(a.ts, b.ts)
		}
		return int(a.art - b.art)
	})
	if found {
		return // at-least-once delivery: a repeated event
	}
	u.reads = slices.Insert(u.reads, i, rd)
	r.counts.add(art, ts, 1)
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DeleteUser erases a user (a user_deleted event): its history, its vector
// in the user index and its share of the popularity counts.
func (r *Recommender) DeleteUser(ctx context.Context, userID string) error {
	r.mu.Lock()
	u := r.readers[userID]
	if u != nil {
		for _, rd := range u.reads {
			r.counts.add(rd.art, rd.ts, -1)
		}
		delete(r.readers, userID)
	}
	idx := r.usrIndex
	r.mu.Unlock()
	r.popCache.reset()
	r.cohorts.reset()
	if idx != nil {
		if err := idx.Delete(ctx, userID); err != nil {
			return fmt.Errorf("cannot delete user %q from the user index: %w", userID, err)
		}
	}
	return nil
}

// SessionEnd recomputes the user's vector in the user index (a session_end
// event). Recommendations for the user itself always use its latest reads;
// the index feeds collaborative filtering and cohort centroids.
func (r *Recommender) SessionEnd(ctx context.Context, userID string) error {
	now := r.opts.Now().Unix()
	r.mu.RLock()
	vec := r.userVectorLocked(userID, now)
	r.mu.RUnlock()
	idx, err := r.userIndex(0)
	if err != nil || idx == nil {
		return err
	}
	if vec == nil {
		return idx.Delete(ctx, userID)
	}
	return idx.Upsert(ctx, Item{ID: userID, Vector: vec})
}

// RebuildUsers recomputes every user's vector into the user index (the
// scheduled batch; Load runs it once).
func (r *Recommender) RebuildUsers(ctx context.Context) error {
	now := r.opts.Now().Unix()
	r.mu.RLock()
	ids := make([]string, 0, len(r.readers))
	for id := range r.readers {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	slices.Sort(ids)
	idx, err := r.userIndex(len(ids))
	if err != nil || idx == nil {
		return err
	}
	const batch = 1024
	for from := 0; from < len(ids); from += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		var items []Item
		var gone []string
		r.mu.RLock()
		for _, id := range ids[from:min(from+batch, len(ids))] {
			if v := r.userVectorLocked(id, now); v != nil {
				items = append(items, Item{ID: id, Vector: v})
			} else {
				gone = append(gone, id)
			}
		}
		r.mu.RUnlock()
		if err := idx.Upsert(ctx, items...); err != nil {
			return fmt.Errorf("cannot rebuild user vectors: %w", err)
		}
		if len(gone) > 0 {
			if err := idx.Delete(ctx, gone...); err != nil {
				return fmt.Errorf("cannot rebuild user vectors: %w", err)
			}
		}
	}
	r.cohorts.reset()
	return nil
}

// userIndex returns the user index, creating the embedded one when the
// dimension is known; nil before any article.
func (r *Recommender) userIndex(expected int) (VectorIndex, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.usrIndex == nil && r.dim > 0 {
		r.usrIndex = NewEmbeddedIndex(r.dim, withExpected(r.opts.IndexOptions, expected))
	}
	return r.usrIndex, nil
}

// userVectorLocked computes a user's combined vector as of now (nil for an
// unknown user or one without reads of known articles).
func (r *Recommender) userVectorLocked(userID string, now int64) []float32 {
	u := r.readers[userID]
	if u == nil || r.dim == 0 {
		return nil
	}
	return r.users.combine(r.userPartsLocked(u, now), r.dim)
}

func (r *Recommender) userPartsLocked(u *userData, now int64) userParts {
	return r.users.computeUser(u.reads, now, r.dim, func(a int32) []float32 { return r.arts[a].vec })
}

// UserVector returns a user's current vector and whether the user has one.
func (r *Recommender) UserVector(userID string) ([]float32, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v := r.userVectorLocked(userID, r.opts.Now().Unix())
	return v, v != nil
}

// History returns the ids of the articles a user read, oldest first.
func (r *Recommender) History(userID string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	u := r.readers[userID]
	if u == nil {
		return nil
	}
	out := make([]string, len(u.reads))
	for i, rd := range u.reads {
		out[i] = r.arts[rd.art].id
	}
	return out
}
