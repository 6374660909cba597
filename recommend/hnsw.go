package recommend

import (
	"context"
	"fmt"
	"math/rand"
	"sync"

	"github.com/coder/hnsw"
	"github.com/viterin/vek/vek32"
)

// HNSWOptions tune an HNSWIndex. Zero values take the defaults.
type HNSWOptions struct {
	M              int   // neighbours per node (default 16)
	EfConstruction int   // candidate list while inserting (default 100)
	EfSearch       int   // candidate list while searching (default 128)
	Seed           int64 // level generation (default 1: reproducible graphs)
}

// HNSWIndex is an approximate index over github.com/coder/hnsw, for catalogs
// too large to scan. Filters are applied to a widened result list, widened
// again until k items pass or the graph is exhausted. It is safe for
// concurrent use (searches share a read lock, writes are exclusive).
type HNSWIndex struct {
	dim  int
	opts HNSWOptions

	mu        sync.RWMutex
	g         *hnsw.Graph[string]
	published map[string]int64
}

// NewHNSWIndex returns an empty HNSW index of dim dimensions.
func NewHNSWIndex(dim int, opts HNSWOptions) *HNSWIndex {
	if opts.M <= 0 {
		opts.M = 16
	}
	if opts.EfConstruction <= 0 {
		opts.EfConstruction = 100
	}
	if opts.EfSearch <= 0 {
		opts.EfSearch = 128
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	g := hnsw.NewGraph[string]()
	g.M = opts.M
	g.Ml = 0.25
	g.Distance = dotDistance
	g.Rng = rand.New(rand.NewSource(opts.Seed))
	return &HNSWIndex{dim: dim, opts: opts, g: g, published: map[string]int64{}}
}

// dotDistance is the cosine distance of L2-normalised vectors.
func dotDistance(a, b []float32) float32 { return 1 - vek32.Dot(a, b) }

// Len is the number of vectors held.
func (h *HNSWIndex) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.g.Len()
}

// Upsert adds items or replaces those with the same id.
func (h *HNSWIndex) Upsert(_ context.Context, items ...Item) (err error) {
	for _, it := range items {
		if err := checkDim(h.dim, it.Vector); err != nil {
			return fmt.Errorf("cannot index %q: %w", it.ID, err)
		}
		if err := checkFinite(it.Vector); err != nil {
			return fmt.Errorf("cannot index %q: %w", it.ID, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cannot index: hnsw: %v", p)
		}
	}()
	h.g.EfSearch = h.opts.EfConstruction // coder/hnsw uses EfSearch while inserting
	for _, it := range items {
		h.g.Add(hnsw.MakeNode(it.ID, it.Vector))
		h.published[it.ID] = minUnix
		if !it.PublishedAt.IsZero() {
			h.published[it.ID] = it.PublishedAt.Unix()
		}
	}
	h.g.EfSearch = h.opts.EfSearch
	return nil
}

// Delete removes the vectors with these ids.
func (h *HNSWIndex) Delete(_ context.Context, ids ...string) (err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cannot delete: hnsw: %v", p)
		}
	}()
	for _, id := range ids {
		h.g.Delete(id)
		delete(h.published, id)
	}
	return nil
}

// Search returns up to k approximate nearest vectors passing f, best first.
func (h *HNSWIndex) Search(ctx context.Context, query []float32, k int, f Filter) (hits []Hit, err error) {
	if err := checkDim(h.dim, query); err != nil {
		return nil, fmt.Errorf("cannot search: %w", err)
	}
	if err := checkFinite(query); err != nil {
		return nil, fmt.Errorf("cannot search: %w", err)
	}
	if k <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	defer func() {
		if p := recover(); p != nil {
			hits, err = nil, fmt.Errorf("cannot search: hnsw: %v", p)
		}
	}()
	n := h.g.Len()
	if n == 0 {
		return nil, nil
	}
	excluded := make(map[string]struct{}, len(f.Exclude))
	for _, id := range f.Exclude {
		excluded[id] = struct{}{}
	}
	lo, hi := f.timeBounds()
	want := k + len(excluded)
	if lo != minUnix || hi != maxUnix {
		want *= 4
	}
	for {
		want = min(want, n)
		nodes := h.g.Search(query, want)
		hits = hits[:0]
		for _, nd := range nodes {
			if _, ok := excluded[nd.Key]; ok {
				continue
			}
			if p := h.published[nd.Key]; p < lo || p > hi {
				continue
			}
			hits = append(hits, Hit{ID: nd.Key, Score: vek32.Dot(nd.Value, query)})
		}
		if len(hits) >= k || want >= n {
			break
		}
		want *= 2
	}
	sortHits(hits)
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits, nil
}
