package bitmaps

import (
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// A column stores one field: the raw values per id (for Row, Value, Scan and
// exports) and the bitmaps that answer plan leaves. Columns are not safe for
// concurrent use; the Index guards them.
type column interface {
	// grow makes room for ids < n; new ids are NULL.
	grow(n int)
	// get returns the stored value of id (nil = NULL); lists are fresh copies.
	get(id uint32) any
	// set stores v (already normalised; nil clears) and updates the bitmaps.
	set(id uint32, v any)
	// present is the set of ids with a non-NULL value; owned reports whether
	// the caller may modify it.
	present() (b *roaring.Bitmap, owned bool)
	optimize()
	// buildDense (re)builds the dense structures for an index of ids ids
	// (mirrors, checkpoints; none below denseMinIDs).
	buildDense(ids int)
	// size reports bytes held in bitmaps and in raw columns/dictionaries.
	size() (bitmapBytes, columnBytes int)
}

func newColumn(f Field) column {
	switch f.Kind {
	case KindString:
		return &strCol{dict: newDict(), codes: newCodes(), ex: roaring.New()}
	case KindInt, KindFloat, KindTime:
		return newNumCol(f.Kind)
	case KindBool:
		return &boolCol{t: roaring.New(), f: roaring.New()}
	case KindStringList:
		return newListCol()
	}
	return nullCol{}
}

func extend[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// dict interns the distinct values of a string or list field: code c (>= 1)
// is vals[c-1] and bms[c-1] holds the ids having it. Codes are never reused,
// so a value whose bitmap became empty keeps its code.
type dict struct {
	index map[string]uint32
	vals  []string
	bms   []*roaring.Bitmap
}

func newDict() dict { return dict{index: make(map[string]uint32)} }

func (d *dict) intern(s string) uint32 {
	if c, ok := d.index[s]; ok {
		return c
	}
	d.vals = append(d.vals, s)
	d.bms = append(d.bms, roaring.New())
	c := uint32(len(d.vals))
	d.index[s] = c
	return c
}

// bitmap returns the stored bitmap of value s (nil if unknown); read-only.
func (d *dict) bitmap(s string) *roaring.Bitmap {
	if c, ok := d.index[s]; ok {
		return d.bms[c-1]
	}
	return nil
}

func (d *dict) size() (bm, col int) {
	for i, b := range d.bms {
		bm += int(b.GetSizeInBytes())
		col += len(d.vals[i]) + 16 + 48 // string, slice entry, map entry
	}
	return bm, col
}

// strCol: KindString. codes[id] is 0 for NULL (a byte per user while the
// dictionary has under 256 values).
type strCol struct {
	dict
	codes packed
	ex    *roaring.Bitmap
	mir   mirrors // by code-1
}

func (c *strCol) grow(n int) {
	c.codes.grow(n)
	c.mir.grow(n)
}

func (c *strCol) buildDense(ids int) { c.mir.build(c.bms, ids) }

func (c *strCol) get(id uint32) any {
	if int(id) >= c.codes.len() {
		return nil
	}
	code := c.codes.get(int(id))
	if code == 0 {
		return nil
	}
	return c.vals[code-1]
}

func (c *strCol) set(id uint32, v any) {
	if old := c.codes.get(int(id)); old != 0 {
		c.bms[old-1].Remove(id)
		c.mir.remove(int(old-1), id)
		c.codes.set(int(id), 0)
		c.ex.Remove(id)
	}
	if s, ok := v.(string); ok {
		code := c.intern(s)
		c.bms[code-1].Add(id)
		c.mir.add(int(code-1), id)
		c.codes.set(int(id), uint64(code))
		c.ex.Add(id)
	}
}

func (c *strCol) present() (*roaring.Bitmap, bool) { return c.ex, false }

func (c *strCol) optimize() {
	c.ex.RunOptimize()
	for _, b := range c.bms {
		b.RunOptimize()
	}
}

func (c *strCol) size() (int, int) {
	bm, col := c.dict.size()
	return bm + int(c.ex.GetSizeInBytes()) + c.mir.bytes(), col + c.codes.bytes()
}

// boolCol: KindBool, two bitmaps and nothing else.
type boolCol struct {
	t, f *roaring.Bitmap
	mir  mirrors // [false, true]
}

func (c *boolCol) grow(n int) { c.mir.grow(n) }

func (c *boolCol) buildDense(ids int) { c.mir.build([]*roaring.Bitmap{c.f, c.t}, ids) }

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *boolCol) get(id uint32) any {
	switch {
	case c.t.Contains(id):
		return true
	case c.f.Contains(id):
		return false
	}
	return nil
}

func (c *boolCol) set(id uint32, v any) {
	c.t.Remove(id)
	c.f.Remove(id)
	c.mir.remove(0, id)
	c.mir.remove(1, id)
	if b, ok := v.(bool); ok {
		c.of(b).Add(id)
		c.mir.add(boolIndex(b), id)
	}
}

func (c *boolCol) of(b bool) *roaring.Bitmap {
	if b {
		return c.t
	}
	return c.f
}

func (c *boolCol) present() (*roaring.Bitmap, bool) { return roaring.Or(c.t, c.f), true }

func (c *boolCol) optimize() {
	c.t.RunOptimize()
	c.f.RunOptimize()
}

func (c *boolCol) size() (int, int) {
	return int(c.t.GetSizeInBytes()+c.f.GetSizeInBytes()) + c.mir.bytes(), 0
}

// listCol: KindStringList. A user's list is lens[id] codes starting at
// offs[id] in arena (all three packed); length 0 is NULL (absent or empty).
// Updates append and leave garbage, compacted when it outweighs the live
// codes.
type listCol struct {
	dict
	offs    packed
	lens    packed
	arena   packed
	garbage int
	ex      *roaring.Bitmap
	mir     mirrors // by code-1
}

// maxListLen bounds one list's length (a sanity limit).
const maxListLen = 1<<24 - 1

func newListCol() *listCol {
	return &listCol{dict: newDict(), offs: newCodes(), lens: newCodes(), arena: newCodes(), ex: roaring.New()}
}

func (c *listCol) grow(n int) {
	c.offs.grow(n)
	c.lens.grow(n)
	c.mir.grow(n)
}

func (c *listCol) buildDense(ids int) { c.mir.build(c.bms, ids) }

// codesOf appends the codes of id's list to buf.
func (c *listCol) codesOf(id uint32, buf []uint32) []uint32 {
	if int(id) >= c.lens.len() {
		return buf
	}
	n := int(c.lens.get(int(id)))
	off := int(c.offs.get(int(id)))
	for i := off; i < off+n; i++ {
		buf = append(buf, uint32(c.arena.get(i)))
	}
	return buf
}

func (c *listCol) get(id uint32) any {
	var buf [8]uint32
	codes := c.codesOf(id, buf[:0])
	if len(codes) == 0 {
		return nil
	}
	l := make([]string, len(codes))
	for i, code := range codes {
		l[i] = c.vals[code-1]
	}
	return l
}

func (c *listCol) set(id uint32, v any) {
	var buf [8]uint32
	if old := c.codesOf(id, buf[:0]); len(old) > 0 {
		for _, code := range old {
			c.bms[code-1].Remove(id)
			c.mir.remove(int(code-1), id)
		}
		c.garbage += len(old)
		c.lens.set(int(id), 0)
		c.offs.set(int(id), 0)
		c.ex.Remove(id)
	}
	l, _ := v.([]string)
	if len(l) == 0 {
		return
	}
	if c.garbage > 1<<16 && c.garbage > c.arena.len()/2 {
		c.compact()
	}
	off := c.arena.len()
	c.arena.grow(off + len(l))
	for i, s := range l {
		code := c.intern(s)
		c.arena.set(off+i, uint64(code))
		c.bms[code-1].Add(id)
		c.mir.add(int(code-1), id)
	}
	c.offs.set(int(id), uint64(off))
	c.lens.set(int(id), uint64(len(l)))
	c.ex.Add(id)
}

// compact rewrites the arena without garbage.
func (c *listCol) compact() {
	arena := newCodes()
	var buf []uint32
	for id := range c.lens.len() {
		buf = c.codesOf(uint32(id), buf[:0])
		if len(buf) == 0 {
			continue
		}
		off := arena.len()
		arena.grow(off + len(buf))
		for i, code := range buf {
			arena.set(off+i, uint64(code))
		}
		c.offs.set(id, uint64(off))
	}
	c.arena = arena
	c.garbage = 0
}

func (c *listCol) present() (*roaring.Bitmap, bool) { return c.ex, false }

func (c *listCol) optimize() {
	c.ex.RunOptimize()
	for _, b := range c.bms {
		b.RunOptimize()
	}
}

func (c *listCol) size() (int, int) {
	bm, col := c.dict.size()
	return bm + int(c.ex.GetSizeInBytes()) + c.mir.bytes(), col + c.offs.bytes() + c.lens.bytes() + c.arena.bytes()
}

// nullCol stands for a field of an unknown kind: always NULL.
type nullCol struct{}

func (nullCol) grow(int)                         {}
func (nullCol) get(uint32) any                   { return nil }
func (nullCol) set(uint32, any)                  {}
func (nullCol) present() (*roaring.Bitmap, bool) { return roaring.New(), true }
func (nullCol) optimize()                        {}
func (nullCol) buildDense(int)                   {}
func (nullCol) size() (int, int)                 { return 0, 0 }

// sortedValues returns the values some live user has (non-empty bitmap), sorted.
func (d *dict) sortedValues() []string {
	var out []string
	for i, b := range d.bms {
		if !b.IsEmpty() {
			out = append(out, d.vals[i])
		}
	}
	slices.Sort(out)
	return out
}
