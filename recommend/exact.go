package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/cohortd/cohortd/recommend/internal/kernel"
	"github.com/viterin/vek/vek32"
)

// ExactIndex is the embedded exact vector index: every search returns the
// true top k by dot product (cosine for the L2-normalised vectors cohortd
// stores), never an approximation.
//
// A brute-force scan of 100k × 768 float32 values reads 300 MB per query,
// which on two cores is bound by memory bandwidth at 20–100 ms. ExactIndex
// therefore scans a contiguous int8 copy of the matrix (a quarter of the
// bytes, AVX2 dot products) and keeps, per row, the norm of its
// quantisation error. Each row's int8 score then comes with a guaranteed
// interval around the true score; rows whose upper bound reaches the k-th
// best lower bound are rescored in float32, so the answer is exact.
//
// Upsert keeps a reference to each vector (no copy): callers must not
// modify a vector after handing it over. ExactIndex is safe for concurrent
// use; searches run in parallel with each other and use up to GOMAXPROCS
// goroutines each on large indexes.
type ExactIndex struct {
	dim, stride int

	mu        sync.RWMutex
	ids       []string
	pos       map[string]int32
	vecs      [][]float32
	q8        []int8 // len(ids)·stride, contiguous
	scale     []float32
	errNorm   []float32 // ‖x − scale·q8‖
	qNorm     []float32 // ‖scale·q8‖
	published []int64   // Unix seconds; minUnix when unset
	// blockLo and blockHi bound the published times of each block of rows
	// (conservatively: they only widen until the index is compacted), so
	// that a search over a time window skips whole blocks. Loading articles
	// in publication order keeps them tight.
	blockLo, blockHi []int64
}

// NewExactIndex returns an empty exact index of dim dimensions.
func NewExactIndex(dim int) *ExactIndex {
	return &ExactIndex{dim: dim, stride: kernel.Stride(max(dim, 1)), pos: map[string]int32{}}
}

// ErrInvalidVector is returned (wrapped) for a vector holding NaN or ±Inf.
var ErrInvalidVector = errors.New("vector holds NaN or infinite values")

func checkFinite(v []float32) error {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return ErrInvalidVector
		}
	}
	return nil
}

// Len is the number of vectors held.
func (x *ExactIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// Upsert adds items or replaces those with the same id.
func (x *ExactIndex) Upsert(_ context.Context, items ...Item) error {
	if err := checkItems(x.dim, items); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, it := range items {
		r, ok := x.pos[it.ID]
		if !ok {
			r = int32(len(x.ids))
			x.pos[it.ID] = r
			x.ids = append(x.ids, it.ID)
			x.vecs = append(x.vecs, nil)
			x.q8 = append(x.q8, make([]int8, x.stride)...)
			x.scale = append(x.scale, 0)
			x.errNorm = append(x.errNorm, 0)
			x.qNorm = append(x.qNorm, 0)
			x.published = append(x.published, 0)
		}
		x.vecs[r] = it.Vector
		x.scale[r], x.errNorm[r], x.qNorm[r] = kernel.Quantize(x.q8[int(r)*x.stride:int(r+1)*x.stride], it.Vector)
		x.published[r] = minUnix
		if !it.PublishedAt.IsZero() {
			x.published[r] = it.PublishedAt.Unix()
		}
		x.widen(r)
	}
	return nil
}

// widen makes row r's block bounds cover its published time.
func (x *ExactIndex) widen(r int32) {
	b := int(r) / block
	for len(x.blockLo) <= b {
		x.blockLo = append(x.blockLo, maxUnix)
		x.blockHi = append(x.blockHi, minUnix)
	}
	x.blockLo[b] = min(x.blockLo[b], x.published[r])
	x.blockHi[b] = max(x.blockHi[b], x.published[r])
}

// Delete removes the vectors with these ids (the last row moves into the
// freed slot).
func (x *ExactIndex) Delete(_ context.Context, ids ...string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		r, ok := x.pos[id]
		if !ok {
			continue
		}
		last := int32(len(x.ids) - 1)
		if r != last {
			x.ids[r] = x.ids[last]
			x.pos[x.ids[r]] = r
			x.vecs[r] = x.vecs[last]
			copy(x.q8[int(r)*x.stride:int(r+1)*x.stride], x.q8[int(last)*x.stride:])
			x.scale[r], x.errNorm[r], x.qNorm[r] = x.scale[last], x.errNorm[last], x.qNorm[last]
			x.published[r] = x.published[last]
			x.widen(r)
		}
		delete(x.pos, id)
		x.ids = x.ids[:last]
		x.vecs[last] = nil
		x.vecs = x.vecs[:last]
		x.q8 = x.q8[:int(last)*x.stride]
		x.scale, x.errNorm, x.qNorm = x.scale[:last], x.errNorm[:last], x.qNorm[:last]
		x.published = x.published[:last]
	}
	return nil
}

// Vector returns the vector stored for id.
func (x *ExactIndex) Vector(id string) ([]float32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r, ok := x.pos[id]
	if !ok {
		return nil, false
	}
	return x.vecs[r], true
}

// rowsPerWorker is the least work worth a goroutine (a variable for tests).
var rowsPerWorker = 8192

// block is how many rows one kernel call scores.
const block = 256

// Search returns the k vectors with the largest dot product with query
// among those passing f, best first (ties by id).
func (x *ExactIndex) Search(ctx context.Context, query []float32, k int, f Filter) ([]Hit, error) {
	if err := checkDim(x.dim, query); err != nil {
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
	q8 := make([]int8, x.stride)
	qScale, qErr, _ := kernel.Quantize(q8, query)
	qNorm := float32(norm(query))

	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	if n == 0 {
		return nil, nil
	}
	excluded := make([]uint64, (n+63)/64)
	for _, id := range f.Exclude {
		if r, ok := x.pos[id]; ok {
			excluded[r/64] |= 1 << (r % 64)
		}
	}
	lo, hi := f.timeBounds()
	timed := lo != minUnix || hi != maxUnix

	workers := min(runtime.GOMAXPROCS(0), max(1, n/rowsPerWorker))
	blocks := (n + block - 1) / block
	parts := make([]scanPart, workers)
	var wg sync.WaitGroup
	for w := range workers {
		// Whole blocks per worker, so that block bounds apply.
		from, to := min(n, blocks*w/workers*block), min(n, blocks*(w+1)/workers*block)
		wg.Go(func() {
			p := &parts[w]
			p.bounds = newTopK(k)
			out := make([]int32, block)
			for b := from; b < to; b += block {
				e := min(b+block, to)
				if bl := b / block; timed && (x.blockHi[bl] < lo || x.blockLo[bl] > hi) {
					continue
				}
				kernel.Dots(out[:e-b], q8, x.q8[b*x.stride:e*x.stride], x.stride)
				for r := b; r < e; r++ {
					if excluded[r/64]&(1<<(r%64)) != 0 {
						continue
					}
					if timed && (x.published[r] < lo || x.published[r] > hi) {
						continue
					}
					approx := qScale * x.scale[r] * float32(out[r-b])
					slack := qNorm*x.errNorm[r] + qErr*x.qNorm[r] + 1e-5 + 1e-6*abs32(approx)
					p.bounds.push(approx-slack, int32(r))
					if upper := approx + slack; upper >= p.bounds.threshold() {
						p.cands = append(p.cands, cand{row: int32(r), upper: upper})
					}
				}
			}
		})
	}
	wg.Wait()

	// The k-th best lower bound over all rows: no row whose upper bound is
	// below it can be in the top k.
	all := newTopK(k)
	for i := range parts {
		for _, e := range parts[i].bounds.items {
			all.push(e.score, e.row)
		}
	}
	floor := all.threshold()
	best := newTopK(k)
	for i := range parts {
		for _, c := range parts[i].cands {
			if c.upper >= floor {
				best.push(vek32.Dot(x.vecs[c.row], query), c.row)
			}
		}
	}
	hits := make([]Hit, len(best.items))
	for i, e := range best.items {
		hits[i] = Hit{ID: x.ids[e.row], Score: e.score}
	}
	sortHits(hits)
	return hits, nil
}

type scanPart struct {
	bounds *topK
	cands  []cand
}

type cand struct {
	row   int32
	upper float32
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// sortHits orders hits best first, ties by id.
func sortHits(hits []Hit) {
	slices.SortFunc(hits, func(a, b Hit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID))
	})
}

// topK keeps the k largest scores seen (a min-heap on score).
type topK struct {
	k     int
	items []scored
}

type scored struct {
	score float32
	row   int32
}

func newTopK(k int) *topK { return &topK{k: k, items: make([]scored, 0, k)} }

// threshold is the score a new item must reach to enter: −Inf until full.
func (t *topK) threshold() float32 {
	if len(t.items) < t.k {
		return float32(math.Inf(-1))
	}
	return t.items[0].score
}

func (t *topK) push(score float32, row int32) {
	if len(t.items) < t.k {
		t.items = append(t.items, scored{score, row})
		// sift up
		i := len(t.items) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !t.less(i, p) {
				break
			}
			t.items[i], t.items[p] = t.items[p], t.items[i]
			i = p
		}
		return
	}
	if score <= t.items[0].score {
		return
	}
	t.items[0] = scored{score, row}
	// sift down
	i, n := 0, len(t.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			break
		}
		t.items[i], t.items[m] = t.items[m], t.items[i]
		i = m
	}
}

func (t *topK) less(i, j int) bool { return t.items[i].score < t.items[j].score }
