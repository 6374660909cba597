package bitmaps

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// Builder bulk-loads users into a new Index: Add (or a RowWriter, which
// takes typed values without boxing them) stores values in compact staging
// columns, Build sorts users by user_id, assigns dense ids in that order and
// builds every bitmap at once (much faster than Upsert per user).
//
// While user_ids arrive in ascending order (a table read in key order),
// duplicates are found by comparing with the previous user_id and the hash
// table of user_ids is built once, in Build, beside the columns.
// A Builder is not safe for concurrent use.
type Builder struct {
	schema Schema
	users  userDict // staging ids: insertion order
	stages []stage
	sorted bool // user_ids arrived in ascending order so far (users has no table yet)
	hint   int  // users expected (Grow): sizes the hash table if the input turns unsorted
	w      RowWriter
}

// NewBuilder returns a Builder for schema.
func NewBuilder(schema Schema) *Builder {
	b := &Builder{schema: append(Schema(nil), schema...)}
	b.w = RowWriter{b: b, vals: make([]pending, len(b.schema))}
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
	b.hint = 0
}

// Grow tells the Builder that about n more users will be added, so that it
// sizes its staging columns once instead of growing them step by step.
func (b *Builder) Grow(n int) {
	if n <= 0 {
		return
	}
	n = min(n, 1<<28)
	b.hint = b.users.n() + n
	b.users.offs = slices.Grow(b.users.offs, n)
	b.users.arena = slices.Grow(b.users.arena, 12*n)
	for _, st := range b.stages {
		st.grow(n)
	}
}

// Len returns the number of users added so far.
func (b *Builder) Len() int { return b.users.n() }

// Add stages one user. It returns an error wrapping ErrDuplicateUser for a
// user_id already added, ErrEmptyUserID, ErrRowLength, or a *FieldError
// naming the field whose value does not fit its kind; on error nothing is
// added.
func (b *Builder) Add(userID string, row Row) error {
	if len(row) != len(b.schema) {
		if userID == "" {
			return ErrEmptyUserID
		}
		return fmt.Errorf("user %q: %w: got %d values, want %d", userID, ErrRowLength, len(row), len(b.schema))
	}
	w := &b.w
	for i, v := range row {
		w.Value(i, v)
	}
	return w.Commit(userID)
}

// addUser stages userID as a new user, checking it is not empty and not a
// duplicate.
func (b *Builder) addUser(userID string) error {
	if userID == "" {
		return ErrEmptyUserID
	}
	n := b.users.n()
	if b.sorted {
		if n > 0 {
			switch prev := b.users.str(uint32(n - 1)); {
			case userID == prev:
				return fmt.Errorf("user %q: %w", userID, ErrDuplicateUser)
			case userID < prev:
				// Out of order: from now on duplicates are found by hash.
				b.sorted = false
				b.users.buildTable(b.hint)
			}
		}
		if b.sorted {
			if err := b.users.appendID(userID); err != nil {
				return fmt.Errorf("cannot add user %q: %w", userID, err)
			}
			return nil
		}
	}
	_, added, err := b.users.lookupOrAdd(userID)
	switch {
	case err != nil:
		return fmt.Errorf("cannot add user %q: %w", userID, err)
	case !added:
		return fmt.Errorf("user %q: %w", userID, ErrDuplicateUser)
	}
	return nil
}

// A RowWriter stages one user at a time into its Builder from typed values
// (no boxing into a Row): set the fields by schema position, then Commit
// the user_id. Fields not set are NULL. Strings and lists need only stay
// valid until Commit returns (new dictionary values are copied). Get it
// from Builder.Writer; it is reused, and not safe for concurrent use.
type RowWriter struct {
	b    *Builder
	vals []pending
	err  error // the first bad value of the row
}

// pending is one field's value in a RowWriter.
type pending struct {
	set  bool
	s    string
	k    uint64 // int/timestamp/float key (see intKey, floatKey)
	t    bool
	list []string
}

// Writer returns the Builder's RowWriter.
func (b *Builder) Writer() *RowWriter { return &b.w }

func (w *RowWriter) kind(i int) Kind { return w.b.schema[i].Kind }

// Value sets field i from a Row value (normalised as Add does).
func (w *RowWriter) Value(i int, v any) {
	f := w.b.schema[i]
	nv, err := normalize(f, v)
	if err != nil {
		w.fail(err)
		return
	}
	switch x := nv.(type) {
	case nil:
		w.vals[i] = pending{}
	case string:
		w.vals[i] = pending{set: true, s: x}
	case int64:
		w.vals[i] = pending{set: true, k: intKey(x)}
	case float64:
		w.vals[i] = pending{set: true, k: floatKey(x)}
	case bool:
		w.vals[i] = pending{set: true, t: x}
	case []string:
		w.vals[i] = pending{set: true, list: x}
	}
}

func (w *RowWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *RowWriter) wrongType(i int, v any) {
	w.fail(&FieldError{Field: w.b.schema[i].Name, Kind: w.kind(i), Value: v, Err: ErrWrongType})
}

// String sets string field i.
func (w *RowWriter) String(i int, s string) {
	if w.kind(i) != KindString {
		w.Value(i, s)
		return
	}
	w.vals[i] = pending{set: true, s: s}
}

// Int sets int or timestamp field i (Unix seconds); a float field takes it
// as a float.
func (w *RowWriter) Int(i int, x int64) {
	switch w.kind(i) {
	case KindInt, KindTime:
		w.vals[i] = pending{set: true, k: intKey(x)}
	default:
		w.Value(i, x)
	}
}

// Float sets float field i; NaN and infinities are a *FieldError at Commit.
func (w *RowWriter) Float(i int, x float64) {
	if w.kind(i) != KindFloat || x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		w.Value(i, x)
		return
	}
	w.vals[i] = pending{set: true, k: floatKey(x)}
}

// Bool sets bool field i.
func (w *RowWriter) Bool(i int, v bool) {
	if w.kind(i) != KindBool {
		w.Value(i, v)
		return
	}
	w.vals[i] = pending{set: true, t: v}
}

// List sets list<string> field i (an empty list is NULL).
func (w *RowWriter) List(i int, l []string) {
	if w.kind(i) != KindStringList || len(l) > maxListLen {
		w.Value(i, l)
		return
	}
	w.vals[i] = pending{set: len(l) > 0, list: l}
}

// Null sets field i to NULL.
func (w *RowWriter) Null(i int) { w.vals[i] = pending{} }

// Discard forgets the values set since the last Commit.
func (w *RowWriter) Discard() {
	clear(w.vals)
	w.err = nil
}

// Commit stages the user userID with the values set, and clears them. It
// returns the errors of Add; on error nothing is added.
func (w *RowWriter) Commit(userID string) error {
	defer w.Discard()
	if w.err != nil {
		if userID == "" {
			return ErrEmptyUserID
		}
		return fmt.Errorf("user %q: %w", userID, w.err)
	}
	b := w.b
	if err := b.addUser(userID); err != nil {
		return err
	}
	for i, st := range b.stages {
		st.add(&w.vals[i])
	}
	return nil
}

// Build returns the index of every added user, with ids assigned in
// ascending user_id byte order and all bitmaps run-optimised. The Builder is
// left empty and may be reused.
func (b *Builder) Build() *Index {
	n := b.users.n()
	ix := NewIndex(b.schema)
	var perm []uint32 // perm[newID] = staging id; nil: the identity
	if b.sorted {
		// Already in id order: the hash table is built below, beside the
		// columns.
		ix.users = b.users
	} else {
		perm = make([]uint32, n)
		for i := range perm {
			perm[i] = uint32(i)
		}
		sortByUserID(&b.users, perm)
		// Re-lay the user_id arena in id order.
		users := userDict{seed: b.users.seed, offs: make([]uint32, 1, n+1), arena: make([]byte, 0, len(b.users.arena))}
		for _, old := range perm {
			users.arena = append(users.arena, b.users.bytesOf(old)...)
			users.offs = append(users.offs, uint32(len(users.arena)))
		}
		// The hash table stays valid (hashes depend on the strings only):
		// map its staging ids to the new ids.
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
		ix.users = users
	}
	b.users = userDict{}
	ix.live = roaring.New()
	ix.live.AddRange(0, uint64(n))
	ix.baseN = uint32(n)
	// Fields (and the user_id table) build independently: one goroutine
	// per CPU.
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(b.stages)+1) {
		wg.Go(func() {
			for i := range next {
				if i < 0 {
					ix.users.buildTable(0)
					continue
				}
				ix.cols[i] = b.stages[i].build(perm)
				ix.cols[i].optimize()
				ix.cols[i].buildDense(n)
				b.stages[i] = nil
			}
		})
	}
	if b.sorted {
		next <- -1
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
	add(p *pending)
	grow(n int)
	// build returns the column with ids in perm order (perm[id] = staging
	// id; nil is the identity).
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

// permute returns s in perm order (s itself when perm is nil).
func permute[T any](s []T, perm []uint32) []T {
	if perm == nil {
		return s
	}
	out := make([]T, len(perm))
	for id, old := range perm {
		out[id] = s[old]
	}
	return out
}

// idsByCode groups ids (ascending) by a code in [1, ncodes].
func idsByCode[T uint8 | uint32](codes []T, ncodes int) [][]uint32 {
	counts := make([]int, ncodes+1)
	for _, c := range codes {
		counts[c]++
	}
	out := make([][]uint32, ncodes+1)
	for c := 1; c <= ncodes; c++ {
		out[c] = make([]uint32, 0, counts[c])
	}
	for id, c := range codes {
		if c != 0 {
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

// internIn returns the code of s in m, adding a copy of s (the caller's
// string may point into a larger buffer) when new.
func internIn(m map[string]uint32, vals *[]string, s string) uint32 {
	if c, ok := m[s]; ok {
		return c
	}
	s = strings.Clone(s)
	*vals = append(*vals, s)
	c := uint32(len(*vals))
	m[s] = c
	return c
}

func (s *strStage) grow(n int) { s.codes = slices.Grow(s.codes, n) }

func (s *strStage) add(p *pending) {
	var code uint32
	if p.set {
		code = internIn(s.dict, &s.vals, p.s)
	}
	s.codes = append(s.codes, code)
}

func (s *strStage) build(perm []uint32) column {
	codes := permute(s.codes, perm)
	s.codes = nil
	c := &strCol{dict: dict{index: s.dict, vals: s.vals}, codes: packCodes(codes)}
	byCode := idsByCode(codes, len(s.vals))
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

func (s *numStage) grow(n int) {
	s.keys = slices.Grow(s.keys, n)
	s.null = slices.Grow(s.null, n/64+1)
}

func (s *numStage) add(p *pending) {
	i := len(s.keys)
	if i%64 == 0 {
		s.null = append(s.null, 0)
	}
	s.keys = append(s.keys, p.k)
	if !p.set {
		s.keys[i] = 0
		s.null[i/64] |= 1 << (i % 64)
	}
}

func (s *numStage) build(perm []uint32) column {
	n := len(s.keys)
	var keys []uint64
	present := make([]uint32, 0, n)
	if perm == nil {
		keys = s.keys
		for w, bits := range s.null {
			for j := range 64 {
				if id := w*64 + j; id < n && bits&(1<<j) == 0 {
					present = append(present, uint32(id))
				}
			}
		}
	} else {
		keys = make([]uint64, n)
		for id, old := range perm {
			if s.null[old/64]&(1<<(old%64)) == 0 {
				keys[id] = s.keys[old]
				present = append(present, uint32(id))
			}
		}
	}
	s.keys = nil
	c := newNumCol(s.kind)
	c.load(keys, roaring.BitmapOf(present...))
	return c
}

type boolStage struct{ vals []uint8 } // 0 NULL, 1 false, 2 true

func (s *boolStage) grow(n int) { s.vals = slices.Grow(s.vals, n) }

func (s *boolStage) add(p *pending) {
	var x uint8
	if p.set {
		x = 1
		if p.t {
			x = 2
		}
	}
	s.vals = append(s.vals, x)
}

func (s *boolStage) build(perm []uint32) column {
	byCode := idsByCode(permute(s.vals, perm), 2)
	s.vals = nil
	return &boolCol{f: roaring.BitmapOf(byCode[1]...), t: roaring.BitmapOf(byCode[2]...)}
}

// listStage: refs pack offset<<listLenBits | length into arena.
type listStage struct {
	dict  map[string]uint32
	vals  []string
	refs  []uint64
	arena []uint32
}

func (s *listStage) grow(n int) { s.refs = slices.Grow(s.refs, n) }

func (s *listStage) add(p *pending) {
	if !p.set || len(p.list) == 0 {
		s.refs = append(s.refs, 0)
		return
	}
	off := len(s.arena)
	for _, str := range p.list {
		s.arena = append(s.arena, internIn(s.dict, &s.vals, str))
	}
	s.refs = append(s.refs, uint64(off)<<listLenBits|uint64(len(p.list)))
}

func (s *listStage) build(perm []uint32) column {
	c := newListCol()
	c.index, c.vals = s.dict, s.vals
	refs := permute(s.refs, perm)
	n := len(refs)
	offs := make([]uint64, n)
	lens := make([]uint32, n)
	counts := make([]int, len(s.vals)+1)
	present := make([]uint32, 0, n)
	for id, r := range refs {
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
	for id := range n {
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

func (nullStage) add(*pending)          {}
func (nullStage) grow(int)              {}
func (nullStage) build([]uint32) column { return nullCol{} }
