package recommend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Item is one vector of an index: an article (PublishedAt set) or a user
// (PublishedAt zero).
type Item struct {
	ID          string
	Vector      []float32
	PublishedAt time.Time
}

// Filter narrows a search. The zero Filter matches everything.
type Filter struct {
	// Exclude lists ids that are never returned (read articles, exclude_ids,
	// the user itself in a user search).
	Exclude []string
	// PublishedAfter and PublishedBefore bound PublishedAt (inclusive);
	// a zero time is no bound.
	PublishedAfter, PublishedBefore time.Time
}

func (f *Filter) timeBounds() (lo, hi int64) {
	lo, hi = minUnix, maxUnix
	if !f.PublishedAfter.IsZero() {
		lo = f.PublishedAfter.Unix()
	}
	if !f.PublishedBefore.IsZero() {
		hi = f.PublishedBefore.Unix()
	}
	return lo, hi
}

const (
	minUnix = -1 << 62
	maxUnix = 1 << 62
)

// Hit is one search result: the item's id and its cosine similarity to the
// query (the dot product, vectors being L2-normalised).
type Hit struct {
	ID    string
	Score float32
}

// VectorIndex finds the items nearest a query by cosine similarity. The
// embedded implementations are ExactIndex and HNSWIndex; recommend/milvus
// implements it over a Milvus collection. Implementations are safe for
// concurrent use.
type VectorIndex interface {
	// Upsert adds items or replaces those with the same ID. Every vector
	// must have the index's dimension.
	Upsert(ctx context.Context, items ...Item) error
	// Delete removes the items with these ids; unknown ids are ignored.
	Delete(ctx context.Context, ids ...string) error
	// Search returns up to k items passing f, best first.
	Search(ctx context.Context, query []float32, k int, f Filter) ([]Hit, error)
	// Len is the number of items.
	Len() int
}

// ErrDimension is returned (wrapped) when a vector's length differs from the
// index's dimension.
var ErrDimension = errors.New("vector dimension mismatch")

// checkItems checks every item's vector (dimension, finite values) before an
// index changes anything, so a bad batch is refused whole.
func checkItems(dim int, items []Item) error {
	for _, it := range items {
		if err := checkDim(dim, it.Vector); err != nil {
			return fmt.Errorf("cannot index %q: %w", it.ID, err)
		}
		if err := checkFinite(it.Vector); err != nil {
			return fmt.Errorf("cannot index %q: %w", it.ID, err)
		}
	}
	return nil
}

func checkDim(want int, v []float32) error {
	if len(v) != want {
		return fmt.Errorf("%w: got %d values, want %d", ErrDimension, len(v), want)
	}
	return nil
}

// IndexOptions configure NewEmbeddedIndex.
type IndexOptions struct {
	// HNSWAbove switches to an HNSW graph (approximate) once the expected
	// number of items exceeds it; 0 means DefaultHNSWAbove, a negative value
	// never switches.
	HNSWAbove int
	// Expected is the number of items the caller will load.
	Expected int
	// HNSW tunes the graph when it is used.
	HNSW HNSWOptions
}

// DefaultHNSWAbove is the catalog size from which NewEmbeddedIndex builds an
// HNSW graph. The exact index answers 100k × 768 in a few milliseconds, so the
// graph (whose build costs minutes at that size) only pays off beyond a
// million items.
const DefaultHNSWAbove = 2_000_000

// NewEmbeddedIndex returns the embedded index fitting opts.Expected items of
// dim dimensions: an ExactIndex, or an HNSWIndex above opts.HNSWAbove.
func NewEmbeddedIndex(dim int, opts IndexOptions) VectorIndex {
	above := opts.HNSWAbove
	if above == 0 {
		above = DefaultHNSWAbove
	}
	if above > 0 && opts.Expected > above {
		return NewHNSWIndex(dim, opts.HNSW)
	}
	return NewExactIndex(dim)
}
