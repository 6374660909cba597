package recommend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/cohortd/cohortd/store"
)

// Event is the part of an event (events.md) the recommender uses.
type Event struct {
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	UserID    string    `json:"user_id"`
	TS        time.Time `json:"ts"`
	ArticleID string    `json:"article_id"`
	Title     string    `json:"title"`
	Topics    []string  `json:"topics"`
	Embedding []float32 `json:"embedding"`
}

// Apply applies one event: page_view → AddRead, article_published →
// AddArticle (published at the event's ts), session_end → SessionEnd,
// user_deleted → DeleteUser; other types are ignored. Applying an event
// twice changes nothing more.
func (r *Recommender) Apply(ctx context.Context, e Event) error {
	switch e.Type {
	case "page_view":
		return r.AddRead(e.UserID, e.ArticleID, e.TS)
	case "article_published":
		if e.ArticleID == "" {
			return ErrNoArticleID
		}
		return r.AddArticle(ctx, Article{ID: e.ArticleID, Title: e.Title, Topics: e.Topics, PublishedAt: e.TS, Embedding: e.Embedding})
	case "session_end":
		if e.UserID == "" {
			return ErrNoUserID
		}
		return r.SessionEnd(ctx, e.UserID)
	case "user_deleted":
		if e.UserID == "" {
			return ErrNoUserID
		}
		return r.DeleteUser(ctx, e.UserID)
	}
	return nil
}

// LoadStats counts what Load read.
type LoadStats struct {
	Articles, Reads, Deleted, Skipped int
}

// Load builds a Recommender from a data directory: articles.ndjson (or
// .gz), then events.ndjson (page views, articles published, users deleted,
// applied in ts order whatever the file order), then the user vectors.
// Either file may be missing.
func Load(ctx context.Context, dir string, opts Options) (*Recommender, LoadStats, error) {
	var st LoadStats
	r, err := New(opts)
	if err != nil {
		return nil, st, err
	}
	files, err := store.ResolveData(dir)
	if err != nil {
		return nil, st, fmt.Errorf("cannot load recommendations data from %q: %w", dir, err)
	}
	var arts []Article
	if files.Articles != "" {
		arts, err = readArticles(files.Articles)
		if err != nil {
			return nil, st, err
		}
	}
	var events []Event
	if files.Events != "" {
		events, st.Skipped, err = readEvents(ctx, files.Events)
		if err != nil {
			return nil, st, err
		}
	}
	// Articles published by events join the file's (the latest wins).
	latest := map[string]int{}
	for i, a := range arts {
		latest[a.ID] = i
	}
	published := map[string]time.Time{}
	for _, e := range events {
		if e.Type != "article_published" || e.ArticleID == "" {
			continue
		}
		if t, ok := published[e.ArticleID]; ok && t.After(e.TS) {
			continue
		}
		published[e.ArticleID] = e.TS
		a := Article{ID: e.ArticleID, Title: e.Title, Topics: e.Topics, PublishedAt: e.TS, Embedding: e.Embedding}
		if i, ok := latest[a.ID]; ok {
			arts[i] = a
		} else {
			latest[a.ID] = len(arts)
			arts = append(arts, a)
		}
	}
	// The default embedder's idf is fitted on the whole catalog.
	r.embedderFor(arts)
	// In publication order, so that the exact index's time blocks are tight.
	slices.SortStableFunc(arts, func(a, b Article) int { return a.PublishedAt.Compare(b.PublishedAt) })
	const batch = 4096
	for from := 0; from < len(arts); from += batch {
		if err := r.AddArticles(ctx, arts[from:min(from+batch, len(arts))]); err != nil {
			return nil, st, fmt.Errorf("cannot load articles from %q: %w", files.Articles, err)
		}
	}
	st.Articles = len(arts)
	// A deletion erases the reads before it; reads after it start anew.
	deleted := map[string]time.Time{}
	for _, e := range events {
		if e.Type == "user_deleted" && e.UserID != "" && e.TS.After(deleted[e.UserID]) {
			deleted[e.UserID] = e.TS
		}
	}
	st.Deleted = len(deleted)
	r.mu.Lock()
	for _, e := range events {
		if e.Type != "page_view" || e.UserID == "" || e.ArticleID == "" {
			continue
		}
		if t, ok := deleted[e.UserID]; ok && !e.TS.After(t) {
			continue
		}
		r.addReadLocked(e.UserID, e.ArticleID, e.TS.Unix())
		st.Reads++
	}
	r.mu.Unlock()
	r.popCache.reset()
	if err := r.RebuildUsers(ctx); err != nil {
		return nil, st, err
	}
	return r, st, nil
}

func readArticles(path string) ([]Article, error) {
	f, err := store.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load articles from %q: %w", path, err)
	}
	defer f.Close()
	var out []Article
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), store.MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var a Article
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", filepath.Base(path), line, err)
		}
		if a.ID == "" {
			return nil, fmt.Errorf("%s:%d: %w", filepath.Base(path), line, ErrNoArticleID)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot load articles from %q: %w", path, err)
	}
	return out, nil
}

// readEvents reads the events the recommender uses; lines that are not
// JSON objects are skipped and counted (the event pipeline's dead-letter
// rule), other types are dropped.
func readEvents(ctx context.Context, path string) ([]Event, int, error) {
	f, err := store.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot load events from %q: %w", path, err)
	}
	defer f.Close()
	return decodeEvents(ctx, f, path)
}

func decodeEvents(ctx context.Context, rd io.Reader, name string) ([]Event, int, error) {
	var out []Event
	skipped := 0
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), store.MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			skipped++
			continue
		}
		switch e.Type {
		case "page_view", "article_published", "user_deleted":
			e.Embedding = nonEmpty(e.Embedding)
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("cannot load events from %q: %w", name, err)
	}
	return out, skipped, nil
}

func nonEmpty(v []float32) []float32 {
	if len(v) == 0 {
		return nil
	}
	return v
}

// EventSink is what the event pipeline feeds; *Recommender implements it
// (Apply maps an Event onto it).
type EventSink interface {
	AddArticle(ctx context.Context, a Article) error
	AddRead(userID, articleID string, ts time.Time) error
	SessionEnd(ctx context.Context, userID string) error
	DeleteUser(ctx context.Context, userID string) error
}

var _ EventSink = (*Recommender)(nil)

// RefreshUsersEvery runs RebuildUsers every interval (the scheduled batch
// that keeps the user index fresh for users who never end a session) until
// ctx ends; failures are logged and retried at the next tick.
func (r *Recommender) RefreshUsersEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			start := time.Now()
			if err := r.RebuildUsers(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("cannot refresh user vectors", "err", err)
				continue
			}
			r.log.Debug("user vectors refreshed", "took", time.Since(start))
		}
	}
}
