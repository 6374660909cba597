package recommend

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/viterin/vek/vek32"
)

// HNSWOptions tune an HNSWIndex. Zero values take the defaults.
type HNSWOptions struct {
	M              int    // links per node above layer 0, 2·M on layer 0 (default 16)
	EfConstruction int    // candidate list while inserting (default 200)
	EfSearch       int    // candidate list while searching (default 128)
	Seed           uint64 // level generation (default 1: reproducible graphs)
}

// HNSWIndex is an approximate index: a Hierarchical Navigable Small World
// graph (Malkov & Yashunin 2018) over dot-product similarity, with the
// paper's neighbour-selection heuristic (algorithm 4) and 2·M links on
// layer 0. It is for catalogs too large to scan; its tests hold recall@10 ≥
// 0.95 against ExactIndex.
//
// It is written here rather than taken from github.com/coder/hnsw, the
// maintained pure-Go library on the module proxy: on 768-dimension data of
// low intrinsic rank that library measured recall@10 between 0.2 and 0.7
// whatever its parameters (it keeps the M nearest as neighbours, without the
// diversity heuristic, and its search stops as soon as the best result stops
// improving).
//
// Deleted or replaced items stay in the graph as routing nodes and are
// never returned; the graph is rebuilt from the live items once they are
// fewer than half. Filters are applied to a widened candidate list, widened
// again until k items pass. Upsert keeps a reference to each vector. It is
// safe for concurrent use: searches share a read lock, writes are exclusive.
type HNSWIndex struct {
	dim  int
	opts HNSWOptions

	mu        sync.RWMutex
	rng       *rand.Rand
	vecs      [][]float32
	ids       []string
	published []int64
	links     [][][]int32 // node → layer → neighbours
	dead      []bool
	live      int
	pos       map[string]int32
	entry     int32
	top       int // layer of entry
}

// NewHNSWIndex returns an empty HNSW index of dim dimensions.
func NewHNSWIndex(dim int, opts HNSWOptions) *HNSWIndex {
	if opts.M <= 0 {
		opts.M = 16
	}
	if opts.EfConstruction <= 0 {
		opts.EfConstruction = 200
	}
	if opts.EfSearch <= 0 {
		opts.EfSearch = 128
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	h := &HNSWIndex{dim: dim, opts: opts}
	h.reset()
	return h
}

func (h *HNSWIndex) reset() {
	h.rng = rand.New(rand.NewPCG(h.opts.Seed, 0x4e5357))
	h.vecs, h.ids, h.published, h.links, h.dead = nil, nil, nil, nil, nil
	h.live, h.entry, h.top = 0, -1, -1
	h.pos = map[string]int32{}
}

// Len is the number of live vectors.
func (h *HNSWIndex) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.live
}

// Upsert adds items or replaces those with the same id.
func (h *HNSWIndex) Upsert(_ context.Context, items ...Item) error {
	if err := checkItems(h.dim, items); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range items {
		if old, ok := h.pos[it.ID]; ok {
			h.dead[old] = true
			h.live--
		}
		pub := int64(minUnix)
		if !it.PublishedAt.IsZero() {
			pub = it.PublishedAt.Unix()
		}
		h.insert(it.ID, it.Vector, pub)
	}
	h.maybeCompact()
	return nil
}

// Delete removes the vectors with these ids.
func (h *HNSWIndex) Delete(_ context.Context, ids ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if n, ok := h.pos[id]; ok {
			h.dead[n] = true
			h.live--
			delete(h.pos, id)
		}
	}
	h.maybeCompact()
	return nil
}

// maybeCompact rebuilds the graph from the live nodes once dead ones are
// the majority.
func (h *HNSWIndex) maybeCompact() {
	if len(h.ids) < 64 || h.live*2 > len(h.ids) {
		return
	}
	type node struct {
		id  string
		vec []float32
		pub int64
	}
	var keep []node
	for n := range h.ids {
		if !h.dead[n] {
			keep = append(keep, node{h.ids[n], h.vecs[n], h.published[n]})
		}
	}
	h.reset()
	for _, k := range keep {
		h.insert(k.id, k.vec, k.pub)
	}
}

func (h *HNSWIndex) maxLinks(layer int) int {
	if layer == 0 {
		return 2 * h.opts.M
	}
	return h.opts.M
}

// insert adds a node (the caller holds the write lock).
func (h *HNSWIndex) insert(id string, vec []float32, pub int64) {
	n := int32(len(h.ids))
	ml := 1 / math.Log(float64(h.opts.M))
	level := int(-math.Log(1-h.rng.Float64()) * ml)
	h.ids = append(h.ids, id)
	h.vecs = append(h.vecs, vec)
	h.published = append(h.published, pub)
	h.links = append(h.links, make([][]int32, level+1))
	h.dead = append(h.dead, false)
	h.pos[id] = n
	h.live++
	if h.entry < 0 {
		h.entry, h.top = n, level
		return
	}
	ep := h.entry
	for l := h.top; l > level; l-- {
		ep = h.greedy(vec, ep, l)
	}
	visited := newVisited(len(h.ids))
	eps := []scored{{score: vek32.Dot(vec, h.vecs[ep]), row: ep}}
	for l := min(level, h.top); l >= 0; l-- {
		cands := h.searchLayer(vec, eps, h.opts.EfConstruction, l, visited)
		nb := h.selectNeighbours(vec, cands, h.maxLinks(l))
		h.links[n][l] = nb
		for _, e := range nb {
			h.links[e][l] = append(h.links[e][l], n)
			// Lists may overflow by half before being trimmed: trimming
			// costs m² dot products, so doing it less often pays.
			if m := h.maxLinks(l); len(h.links[e][l]) > m+m/2 {
				h.shrink(e, l)
			}
		}
		eps = cands
	}
	if level > h.top {
		h.entry, h.top = n, level
	}
}

// shrink trims node e's links on layer l with the selection heuristic.
func (h *HNSWIndex) shrink(e int32, l int) {
	v := h.vecs[e]
	cands := make([]scored, len(h.links[e][l]))
	for i, o := range h.links[e][l] {
		cands[i] = scored{score: vek32.Dot(v, h.vecs[o]), row: o}
	}
	sortScored(cands)
	h.links[e][l] = h.selectNeighbours(v, cands, h.maxLinks(l))
}

// selectNeighbours keeps up to m of cands (best first): a candidate is kept
// when it is nearer the new node than any already kept (so links spread
// over directions rather than pile into one cluster); the rest fill the
// remaining places.
func (h *HNSWIndex) selectNeighbours(_ []float32, cands []scored, m int) []int32 {
	out := make([]int32, 0, m)
	var pruned []int32
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		good := true
		for _, o := range out {
			if vek32.Dot(h.vecs[c.row], h.vecs[o]) > c.score {
				good = false
				break
			}
		}
		if good {
			out = append(out, c.row)
		} else {
			pruned = append(pruned, c.row)
		}
	}
	for _, p := range pruned {
		if len(out) >= m {
			break
		}
		out = append(out, p)
	}
	return out
}

// greedy walks layer l from ep to the node most similar to q.
func (h *HNSWIndex) greedy(q []float32, ep int32, l int) int32 {
	best := vek32.Dot(q, h.vecs[ep])
	for changed := true; changed; {
		changed = false
		for _, o := range h.links[ep][l] {
			if s := vek32.Dot(q, h.vecs[o]); s > best {
				best, ep, changed = s, o, true
			}
		}
	}
	return ep
}

// searchLayer is the paper's algorithm 2: the ef nodes of layer l most
// similar to q reachable from eps, best first.
func (h *HNSWIndex) searchLayer(q []float32, eps []scored, ef, l int, visited *visitedSet) []scored {
	visited.clear()
	cand := &maxHeap{}   // to explore, most similar first
	found := newTopK(ef) // results, least similar on top
	for _, e := range eps {
		if visited.add(e.row) {
			cand.push(e)
			found.push(e.score, e.row)
		}
	}
	for cand.len() > 0 {
		c := cand.pop()
		if c.score < found.threshold() {
			break
		}
		for _, o := range h.links[c.row][l] {
			if !visited.add(o) {
				continue
			}
			s := vek32.Dot(q, h.vecs[o])
			if s > found.threshold() || len(found.items) < ef {
				cand.push(scored{score: s, row: o})
				found.push(s, o)
			}
		}
	}
	out := slices.Clone(found.items)
	sortScored(out)
	return out
}

// Search returns up to k approximate nearest vectors passing f, best first.
func (h *HNSWIndex) Search(ctx context.Context, query []float32, k int, f Filter) ([]Hit, error) {
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
	if h.live == 0 {
		return nil, nil
	}
	excluded := make(map[int32]bool, len(f.Exclude))
	for _, id := range f.Exclude {
		if n, ok := h.pos[id]; ok {
			excluded[n] = true
		}
	}
	lo, hi := f.timeBounds()
	ep := h.entry
	for l := h.top; l > 0; l-- {
		ep = h.greedy(query, ep, l)
	}
	visited := newVisited(len(h.ids))
	ef := max(h.opts.EfSearch, k+len(excluded))
	var hits []Hit
	for {
		ef = min(ef, len(h.ids))
		found := h.searchLayer(query, []scored{{score: vek32.Dot(query, h.vecs[ep]), row: ep}}, ef, 0, visited)
		hits = hits[:0]
		for _, c := range found {
			if h.dead[c.row] || excluded[c.row] || h.published[c.row] < lo || h.published[c.row] > hi {
				continue
			}
			hits = append(hits, Hit{ID: h.ids[c.row], Score: c.score})
			if len(hits) == k {
				break
			}
		}
		if len(hits) >= k || ef >= len(h.ids) {
			break
		}
		ef *= 2
	}
	sortHits(hits)
	return hits, nil
}

func sortScored(s []scored) {
	slices.SortFunc(s, func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return int(a.row - b.row)
	})
}

// maxHeap pops the most similar first.
type maxHeap struct{ items []scored }

func (m *maxHeap) len() int { return len(m.items) }

func (m *maxHeap) push(s scored) {
	m.items = append(m.items, s)
	i := len(m.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if m.items[p].score >= m.items[i].score {
			break
		}
		m.items[p], m.items[i] = m.items[i], m.items[p]
		i = p
	}
}

func (m *maxHeap) pop() scored {
	top := m.items[0]
	last := len(m.items) - 1
	m.items[0] = m.items[last]
	m.items = m.items[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		c := l
		if r := l + 1; r < last && m.items[r].score > m.items[l].score {
			c = r
		}
		if m.items[i].score >= m.items[c].score {
			break
		}
		m.items[i], m.items[c] = m.items[c], m.items[i]
		i = c
	}
	return top
}

// visitedSet marks nodes seen by one search.
type visitedSet struct{ bits []uint64 }

func newVisited(n int) *visitedSet { return &visitedSet{bits: make([]uint64, (n+63)/64)} }

func (v *visitedSet) clear() { clear(v.bits) }

// add marks n and reports whether it was new.
func (v *visitedSet) add(n int32) bool {
	w, b := n/64, uint64(1)<<(n%64)
	if v.bits[w]&b != 0 {
		return false
	}
	v.bits[w] |= b
	return true
}
