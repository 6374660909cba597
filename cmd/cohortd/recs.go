package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/pflag"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/recommend"
	"github.com/cohortd/cohortd/recommend/milvus"
	"github.com/cohortd/cohortd/server"
	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/events"
)

// recsFlags configure the recommender of `serve`.
type recsFlags struct {
	milvus         string
	embedderURL    string
	embedderModel  string
	refreshVectors time.Duration
}

func (f *recsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.milvus, "milvus", "", "Milvus HOST:PORT for article and user vectors (default: the embedded index); credentials from COHORTD_MILVUS_USER / COHORTD_MILVUS_PASSWORD")
	fs.StringVar(&f.embedderURL, "embedder-url", "", "OpenAI-compatible embeddings API (e.g. http://localhost:11434/v1); key from COHORTD_EMBEDDER_KEY; default: the built-in lexical embedding")
	fs.StringVar(&f.embedderModel, "embedder-model", "", "model name sent to --embedder-url")
	fs.DurationVar(&f.refreshVectors, "user-vectors-refresh", 10*time.Minute, "how often every user vector is recomputed (session_end recomputes one at once)")
}

// recsRun is the recommender of `serve`, loaded in the background: its
// routes answer 503 until it is ready.
type recsRun struct {
	rec      atomic.Pointer[recommend.Recommender]
	handlers atomic.Pointer[recsHandlers]
	log      *slog.Logger
}

type recsHandlers struct {
	recommend, cohort, feedback, experiment fiber.Handler
}

// start loads the recommender in the background from dataDir
// (articles.ndjson, events.ndjson), from the demo population's files (demo),
// or empty (dataDir "": articles come from events), and mounts its routes on
// srv.
func (f *recsFlags) start(ctx context.Context, srv *server.Server, dataDir string, demo bool,
	clock func() time.Time, experiments []byte, log *slog.Logger) (*recsRun, error) {
	opts := recommend.Options{Now: clock, Logger: log, Cohorts: cohortLookup(srv)}
	if experiments != nil {
		exps, err := recommend.ParseExperiments(experiments)
		if err != nil {
			return nil, fmt.Errorf("cannot load experiments: %w", err)
		}
		opts.Experiments = exps
	}
	if f.embedderURL != "" {
		emb, err := recommend.NewHTTPEmbedder(recommend.HTTPEmbedderConfig{URL: f.embedderURL,
			Model: f.embedderModel, APIKey: os.Getenv("COHORTD_EMBEDDER_KEY"), Logger: log})
		if err != nil {
			return nil, usageError{err}
		}
		opts.Embedder = emb
	}
	r := &recsRun{log: log}
	for path, h := range map[string]func(*recsHandlers) fiber.Handler{
		server.RouteRecommendations:       func(h *recsHandlers) fiber.Handler { return h.recommend },
		server.RouteCohortRecommendations: func(h *recsHandlers) fiber.Handler { return h.cohort },
		server.RouteFeedback:              func(h *recsHandlers) fiber.Handler { return h.feedback },
		server.RouteExperiment:            func(h *recsHandlers) fiber.Handler { return h.experiment },
	} {
		if err := srv.Mount(path, r.whenReady(h)); err != nil {
			return nil, err
		}
	}
	go func() {
		start := time.Now()
		dir := dataDir
		if demo {
			var err error
			if dir, err = store.DemoData(ctx, store.DemoOptions{}, 2_000, 300_000); err != nil {
				log.Error("recommendations are off: cannot make the demo articles and reads", "err", err)
				return
			}
		}
		if f.milvus != "" {
			// The dimension is the embedder's; the lexical default has 768.
			dim := 768
			if opts.Embedder != nil {
				dim = opts.Embedder.Dim()
			}
			arts, users, err := milvus.OpenPair(ctx, milvus.Config{Address: f.milvus, Dim: dim,
				Username: os.Getenv("COHORTD_MILVUS_USER"), Password: os.Getenv("COHORTD_MILVUS_PASSWORD")}, "")
			if err != nil {
				log.Error("recommendations are off: cannot open the Milvus collections", "milvus", f.milvus, "err", err)
				return
			}
			opts.ArticleIndex, opts.UserIndex = arts, users
		}
		var (
			rec   *recommend.Recommender
			stats recommend.LoadStats
			err   error
		)
		if dir == "" {
			rec, err = recommend.New(opts)
		} else {
			rec, stats, err = recommend.Load(ctx, dir, opts)
		}
		if err != nil {
			log.Error("recommendations are off: cannot load articles and reads", "dir", dir, "err", err)
			return
		}
		r.handlers.Store(&recsHandlers{
			recommend:  recommend.Handler(rec),
			cohort:     recommend.CohortHandler(rec),
			feedback:   recommend.FeedbackHandler(rec),
			experiment: recommend.ExperimentHandler(rec),
		})
		r.rec.Store(rec)
		arts, users := rec.Len()
		log.Info("recommender ready", "articles", arts, "users", users, "stats", fmt.Sprintf("%+v", stats),
			"embedding_version", rec.EmbeddingVersion(), "took", time.Since(start).Round(time.Millisecond))
		rec.RefreshUsersEvery(ctx, f.refreshVectors)
	}()
	return r, nil
}

// whenReady serves the recommender's handler once it is loaded, 503 before.
func (r *recsRun) whenReady(pick func(*recsHandlers) fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := r.handlers.Load()
		if h == nil {
			return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"error": fiber.Map{
				"code": "not_ready", "message": "the recommender is loading articles and reads", "details": fiber.Map{}}})
		}
		return pick(h)(c)
	}
}

// cohortLookup gives the recommender the server's cohorts (cold starts and
// cohort recommendations).
func cohortLookup(srv *server.Server) recommend.CohortLookup {
	return recommend.CohortFuncs{
		Of: srv.UserCohorts,
		Each: func(ctx context.Context, cohort string, fn func(string) bool) error {
			err := srv.EachMember(ctx, cohort, fn)
			if errors.Is(err, compiler.ErrUnknownCohort) {
				return fmt.Errorf("%w: %w", recommend.ErrUnknownCohort, err)
			}
			return err
		},
	}
}

// eventOptions routes the event pipeline's reads, sessions, articles and
// erasures to the recommender (once it is loaded; the files it loads from
// hold what came before).
func (r *recsRun) eventOptions(o *events.Options) {
	o.History = recsHistory{History: events.NewMemHistory(0), r: r}
	o.Hooks = events.Hooks{
		SessionEnd: func(userID string, _ time.Time) {
			if rec := r.rec.Load(); rec != nil {
				go r.warn(rec.SessionEnd(context.Background(), userID), "session_end", userID)
			}
		},
		ArticlePublished: func(a events.Article) {
			if rec := r.rec.Load(); rec != nil {
				art := recommend.Article{ID: a.ID, Title: a.Title, Topics: a.Topics, PublishedAt: a.PublishedAt, Embedding: a.Embedding}
				go r.warn(rec.AddArticle(context.Background(), art), "article_published", a.ID)
			}
		},
		UserDeleted: func(userID string) {
			if rec := r.rec.Load(); rec != nil {
				r.warn(rec.DeleteUser(context.Background(), userID), "user_deleted", userID)
			}
		},
	}
}

func (r *recsRun) warn(err error, what, id string) {
	if err != nil {
		r.log.Warn("the recommender could not take an event", "type", what, "id", id, "err", err)
	}
}

// recsHistory keeps the pipeline's read history and feeds each read to the
// recommender.
type recsHistory struct {
	events.History
	r *recsRun
}

func (h recsHistory) Add(userID, articleID string, ts time.Time) {
	h.History.Add(userID, articleID, ts)
	if rec := h.r.rec.Load(); rec != nil {
		h.r.warn(rec.AddRead(userID, articleID, ts), "page_view", userID)
	}
}
