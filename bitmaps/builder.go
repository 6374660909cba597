package bitmaps

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// Builder bulk-loads users into a new Index: Add stores values in compact
// staging columns, Build sorts users by user_id, assigns dense ids in that
// order and builds every bitmap at once (much faster than Upsert per user).
// A Builder is not safe for concurrent use.
type Builder struct {
	schema Schema
	users  userDict // staging ids: insertion order
	stages []stage
	sorted bool // user_ids arrived in ascending order so far
	vals   []any
}

// NewBuilder returns a Builder for schema.
func NewBuilder(schema Schema) *Builder {
	b := &Builder{schema: append(Schema(nil), schema...)}
	b.reset()
	return b
}

func (b *Builder) reset() {
	b.users = newUserDict()
	b.sorted = true
	b.stages = make([]stage, len(b.schema))
	for i, f := range b.schema {
		b.stages[i] = newStage(f)
	}
}

// Len returns the number of users added so far.
func (b *Builder) Len() int { return b.users.n() }

// Add stages one user. It returns an error wrapping ErrDuplicateUser for a
// user_id already added, ErrEmptyUserID, ErrRowLength, or a *FieldError
// naming the field whose value does not fit its kind; on error nothing is
// added.
func (b *Builder) Add(userID string, row Row) error {
	if userID == "" {
		return ErrEmptyUserID
	}
	if len(row) != len(b.schema) {
		return fmt.Errorf("user %q: %w: got %d values, want %d", userID, ErrRowLength, len(row), len(b.schema))
	}
	vals := b.vals[:0]
	for i, v := range row {
		nv, err := normalize(b.schema[i], v)
		if err != nil {
			return fmt.Errorf("user %q: %w", userID, err)
		}
		vals = append(vals, nv)
	}
	n := b.users.n()
	_, added, err := b.users.lookupOrAdd(userID)
	switch {
	case err != nil:
		return fmt.Errorf("cannot add user %q: %w", userID, err)
	case !added:
		return fmt.Errorf("user %q: %w", userID, ErrDuplicateUser)
	}
	if n > 0 && b.sorted && b.users.str(uint32(n-1)) > userID {
		b.sorted = false
	}
	for i, v := range vals {
		b.stages[i].add(v)
	}
	clear(vals)
	b.vals = vals
	return nil
}

// Build returns the index of every added user, with ids assigned in
// ascending user_id byte order and all bitmaps run-optimised. The Builder is
// left empty and may be reused.
func (b *Builder) Build() *Index {
	n := b.users.n()
	perm := make([]uint32, n) // perm[newID] = staging id
	for i := range perm {
		perm[i] = uint32(i)
	}
	if !b.sorted {
		sortByUserID(&b.users, perm)
	}
	ix := NewIndex(b.schema)
	// Re-lay the user_id arena in id order.
	users := userDict{seed: b.users.seed, offs: make([]uint32, 1, n+1), arena: make([]byte, 0, len(b.users.arena))}
	for _, old := range perm {
		users.arena = append(users.arena, b.users.bytesOf(old)...)
		users.offs = append(users.offs, uint32(len(users.arena)))
	}
	// The hash table stays valid (hashes depend on the strings only): map
	// its staging ids to the new ids.
	inv := make([]uint32, n)
	for id, old := range perm {
		inv[old] = uint32(id)
	}
	users.ctrl, users.table, users.used, users.live = b.users.ctrl, b.users.table, b.users.used, b.users.live
	for i, c := range users.ctrl {
		if c >= 0x80 {
			users.table[i] = inv[users.table[i]]
		}
	}
	b.users = userDict{}
	ix.users = users
	ix.live = roaring.New()
	ix.live.AddRange(0, uint64(n))
	ix.baseN = uint32(n)
	// Fields build independently: one goroutine per CPU.
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(b.stages)) {
		wg.Go(func() {
			for i := range next {
				ix.cols[i] = b.stages[i].build(perm)
				ix.cols[i].optimize()
				ix.cols[i].buildDense(n)
				b.stages[i] = nil
			}
		})
	}
	for i := range b.stages {
		next <- i
	}
	close(next)
	wg.Wait()
	ix.live.RunOptimize()
	ix.denseOn = wantDense(n)
	b.reset()
	ix.version.Add(1)
	return ix
}

// sortByUserID sorts staging ids by their user_id bytes, comparing a 16-byte
// big-endian prefix first (most user_ids differ within it).
func sortByUserID(d *userDict, ids []uint32) {
	type ent struct {
		hi, lo uint64
		id     uint32
	}
	ents := make([]ent, len(ids))
	for i, id := range ids {
		var p [16]byte
		copy(p[:], d.bytesOf(id))
		ents[i] = ent{binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:]), id}
	}
	slices.SortFunc(ents, func(a, b ent) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return bytes.Compare(d.bytesOf(a.id), d.bytesOf(b.id))
	})
	for i, e := range ents {
		ids[i] = e.id
	}
}

// A stage holds one field's values in staging order.
type stage interface {
	add(v any)
	build(perm []uint32) column
}

func newStage(f Field) stage {
	switch f.Kind {
	case KindString:
		return &strStage{dict: make(map[string]uint32)}
	case KindInt, KindFloat, KindTime:
		return &numStage{kind: f.Kind}
	case KindBool:
		return &boolStage{}
	case KindStringList:
		return &listStage{dict: make(map[string]uint32)}
	}
	return nullStage{}
}

// idsByCode groups ids (ascending) by a code in [1, ncodes].
func idsByCode(n, ncodes int, code func(id int) uint32) [][]uint32 {
	counts := make([]int, ncodes+1)
	for id := range n {
		counts[code(id)]++
	}
	out := make([][]uint32, ncodes+1)
	for c := 1; c <= ncodes; c++ {
		out[c] = make([]uint32, 0, counts[c])
	}
	for id := range n {
		if c := code(id); c != 0 {
			out[c] = append(out[c], uint32(id))
		}
	}
	return out
}

type strStage struct {
	dict  map[string]uint32
	vals  []string
	codes []uint32
}

func internIn(m map[string]uint32, vals *[]string, s string) uint32 {
	if c, ok := m[s]; ok {
		return c
	}
	*vals = append(*vals, s)
	c := uint32(len(*vals))
	m[s] = c
	return c
}

func (s *strStage) add(v any) {
	var code uint32
	if str, ok := v.(string); ok {
		code = internIn(s.dict, &s.vals, str)
	}
	s.codes = append(s.codes, code)
}

func (s *strStage) build(perm []uint32) column {
	codes := make([]uint32, len(perm))
	for id, old := range perm {
		codes[id] = s.codes[old]
	}
	c := &strCol{dict: dict{index: s.dict, vals: s.vals}, codes: packCodes(codes)}
	byCode := idsByCode(len(codes), len(s.vals), func(id int) uint32 { return codes[id] })
	c.bms = make([]*roaring.Bitmap, len(s.vals))
	c.ex = roaring.New()
	for code := 1; code <= len(s.vals); code++ {
		c.bms[code-1] = roaring.BitmapOf(byCode[code]...)
		c.ex.Or(c.bms[code-1])
		byCode[code] = nil
	}
	return c
}

type numStage struct {
	kind Kind
	keys []uint64
	null []uint64 // bitset of NULL staging ids
}

func (s *numStage) add(v any) {
	i := len(s.keys)
	if i%64 == 0 {
		s.null = append(s.null, 0)
	}
	switch x := v.(type) {
	case nil:
		s.keys = append(s.keys, 0)
		s.null[i/64] |= 1 << (i % 64)
	case float64:
		s.keys = append(s.keys, floatKey(x))
	case int64:
		s.keys = append(s.keys, intKey(x))
	}
}

func (s *numStage) build(perm []uint32) column {
	keys := make([]uint64, len(perm))
	present := make([]uint32, 0, len(perm))
	for id, old := range perm {
		if s.null[old/64]&(1<<(old%64)) == 0 {
			keys[id] = s.keys[old]
			present = append(present, uint32(id))
		}
	}
	s.keys = nil
	c := newNumCol(s.kind)
	c.load(keys, roaring.BitmapOf(present...))
	return c
}

type boolStage struct{ vals []uint8 } // 0 NULL, 1 false, 2 true

func (s *boolStage) add(v any) {
	var x uint8
	if b, ok := v.(bool); ok {
		x = 1
		if b {
			x = 2
		}
	}
	s.vals = append(s.vals, x)
}

func (s *boolStage) build(perm []uint32) column {
	byCode := idsByCode(len(perm), 2, func(id int) uint32 { return uint32(s.vals[perm[id]]) })
	return &boolCol{f: roaring.BitmapOf(byCode[1]...), t: roaring.BitmapOf(byCode[2]...)}
}

// listStage: refs pack offset<<listLenBits | length into arena.
type listStage struct {
	dict  map[string]uint32
	vals  []string
	refs  []uint64
	arena []uint32
}

func (s *listStage) add(v any) {
	l, _ := v.([]string)
	if len(l) == 0 {
		s.refs = append(s.refs, 0)
		return
	}
	off := len(s.arena)
	for _, str := range l {
		s.arena = append(s.arena, internIn(s.dict, &s.vals, str))
	}
	s.refs = append(s.refs, uint64(off)<<listLenBits|uint64(len(l)))
}

func (s *listStage) build(perm []uint32) column {
	c := newListCol()
	c.index, c.vals = s.dict, s.vals
	offs := make([]uint64, len(perm))
	lens := make([]uint32, len(perm))
	counts := make([]int, len(s.vals)+1)
	present := make([]uint32, 0, len(perm))
	for id, old := range perm {
		r := s.refs[old]
		offs[id], lens[id] = r>>listLenBits, uint32(r&maxListLen)
		if lens[id] > 0 {
			present = append(present, uint32(id))
		}
		for _, code := range s.arena[offs[id] : offs[id]+uint64(lens[id])] {
			counts[code]++
		}
	}
	s.refs = nil
	lists := make([][]uint32, len(s.vals)+1)
	for code := 1; code <= len(s.vals); code++ {
		lists[code] = make([]uint32, 0, counts[code])
	}
	for id := range perm {
		for _, code := range s.arena[offs[id] : offs[id]+uint64(lens[id])] {
			if l := lists[code]; len(l) == 0 || l[len(l)-1] != uint32(id) {
				lists[code] = append(l, uint32(id))
			}
		}
	}
	c.bms = make([]*roaring.Bitmap, len(s.vals))
	for code := 1; code <= len(s.vals); code++ {
		c.bms[code-1] = roaring.BitmapOf(lists[code]...)
		lists[code] = nil
	}
	c.ex = roaring.BitmapOf(present...)
	c.offs, c.lens, c.arena = packCodes(offs), packCodes(lens), packCodes(s.arena)
	s.arena = nil
	return c
}

const listLenBits = 24

type nullStage struct{}

func (nullStage) add(any)               {}
func (nullStage) build([]uint32) column { return nullCol{} }
