package bitmaps

import (
	"hash/maphash"
	"math"
	"slices"
	"strings"
)

// userDict maps user_id strings to dense uint32 ids and back without a Go
// map: the strings live in one byte arena (no per-user allocation, nothing
// for the garbage collector to scan) and an open-addressing table of ids
// finds them by hash, with a control byte per slot (7 bits of the hash) so
// that probing rarely touches the arena. About 4 (offset) + 5-10 (table)
// bytes per user plus the id's bytes. Not safe for concurrent use; the Index
// guards it.
type userDict struct {
	arena []byte
	offs  []uint32 // len = ids+1; id i is arena[offs[i]:offs[i+1]]
	ctrl  []uint8  // per slot: ctrlEmpty, ctrlDeleted or 0x80|7 hash bits
	table []uint32 // per slot: id
	used  int      // non-empty slots (live + deleted)
	live  int
	seed  maphash.Seed
}

const (
	ctrlEmpty   = 0
	ctrlDeleted = 1
	maxArena    = math.MaxUint32
)

func newUserDict() userDict {
	return userDict{offs: []uint32{0}, seed: maphash.MakeSeed()}
}

// n is the number of ids ever assigned.
func (d *userDict) n() int { return len(d.offs) - 1 }

func (d *userDict) bytesOf(id uint32) []byte { return d.arena[d.offs[id]:d.offs[id+1]] }

// str returns the user_id of id without copying; valid until the next write.
func (d *userDict) str(id uint32) string {
	b := d.bytesOf(id)
	if len(b) == 0 {
		return ""
	}
	return unsafeString(b)
}

func (d *userDict) hash(s string) (h uint64, tag uint8) {
	h = maphash.String(d.seed, s)
	return h, 0x80 | uint8(h>>57)
}

// find returns the slot holding s, or -1 and the first free slot to insert
// it into.
func (d *userDict) find(s string) (slot, free int) {
	free = -1
	if len(d.table) == 0 {
		return -1, -1
	}
	h, tag := d.hash(s)
	mask := uint64(len(d.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch c := d.ctrl[i]; {
		case c == ctrlEmpty:
			if free < 0 {
				free = int(i)
			}
			return -1, free
		case c == ctrlDeleted:
			if free < 0 {
				free = int(i)
			}
		case c == tag && d.str(d.table[i]) == s:
			return int(i), free
		}
	}
}

// lookup returns the id of s.
func (d *userDict) lookup(s string) (uint32, bool) {
	slot, _ := d.find(s)
	if slot < 0 {
		return 0, false
	}
	return d.table[slot], true
}

// lookupOrAdd returns the id of s, appending it as a new id if absent.
func (d *userDict) lookupOrAdd(s string) (id uint32, added bool, err error) {
	slot, free := d.find(s)
	if slot >= 0 {
		return d.table[slot], false, nil
	}
	if n := d.n(); n >= math.MaxUint32-2 {
		return 0, false, ErrIndexFull
	}
	if uint64(len(d.arena))+uint64(len(s)) > maxArena {
		return 0, false, ErrIndexFull
	}
	id = uint32(d.n())
	d.arena = append(d.arena, s...)
	d.offs = append(d.offs, uint32(len(d.arena)))
	if free < 0 || (d.used+1)*4 > len(d.table)*3 {
		d.insert(id) // grows the table
	} else {
		if d.ctrl[free] == ctrlEmpty {
			d.used++
		}
		_, d.ctrl[free] = d.hash(s)
		d.table[free] = id
	}
	d.live++
	return id, true, nil
}

// insert puts id (whose string is in the arena and not in the table) into
// the table, growing it when 3/4 full.
func (d *userDict) insert(id uint32) {
	if (d.used+1)*4 > len(d.table)*3 {
		d.rehash(max(16, nextPow2((d.live+1)*3/2+1))) // load <= 2/3 after
	}
	h, tag := d.hash(d.str(id))
	mask := uint64(len(d.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if d.ctrl[i] == ctrlEmpty {
			d.ctrl[i], d.table[i] = tag, id
			d.used++
			return
		}
	}
}

// rehash rebuilds the table with size slots, dropping deleted markers.
func (d *userDict) rehash(size int) {
	oldCtrl, oldTable := d.ctrl, d.table
	d.ctrl, d.table = make([]uint8, size), make([]uint32, size)
	d.used = 0
	mask := uint64(size - 1)
	for j, c := range oldCtrl {
		if c < 0x80 {
			continue
		}
		id := oldTable[j]
		h, _ := d.hash(d.str(id))
		for i := h & mask; ; i = (i + 1) & mask {
			if d.ctrl[i] == ctrlEmpty {
				d.ctrl[i], d.table[i] = c, id
				d.used++
				break
			}
		}
	}
}

// remove forgets id: its slot becomes a deleted marker and its bytes in the
// arena are zeroed (erasure), so str(id) no longer returns the user_id.
func (d *userDict) remove(id uint32) {
	slot, _ := d.find(d.str(id))
	if slot < 0 || d.table[slot] != id {
		return
	}
	d.ctrl[slot] = ctrlDeleted
	clear(d.bytesOf(id))
	d.live--
}

// rebuild recreates the table for the given live ids (after a snapshot
// load). It reports false if two of them share a user_id or one is empty.
func (d *userDict) rebuild(live func(yield func(uint32) bool)) bool {
	var ids []uint32
	for id := range live {
		ids = append(ids, id)
	}
	d.ctrl, d.table, d.used = nil, nil, 0
	d.rehash(max(16, nextPow2(len(ids)*3/2+1)))
	d.live = len(ids)
	for _, id := range ids {
		s := d.str(id)
		if s == "" {
			return false
		}
		if slot, _ := d.find(s); slot >= 0 {
			return false
		}
		d.insert(id)
	}
	return true
}

func (d *userDict) bytes() int { return cap(d.arena) + 4*cap(d.offs) + 5*cap(d.table) }

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// sortedIDs keeps ids ordered by their user_id (the users inserted after
// Build, whose ids do not follow user_id order) in chunks of at most
// chunkMax, so inserting and removing cost O(chunk + chunks) rather than a
// shift of the whole list.
type sortedIDs struct {
	chunks [][]uint32
	n      int
}

const chunkMax = 512

// search returns the position of the first id whose user_id is > s (or >= s
// when orEqual).
func (l *sortedIDs) search(d *userDict, s string, orEqual bool) (ci, i int) {
	after := func(id uint32) bool {
		c := strings.Compare(d.str(id), s)
		return c > 0 || (orEqual && c == 0)
	}
	ci, _ = slices.BinarySearchFunc(l.chunks, 0, func(c []uint32, _ int) int {
		if after(c[len(c)-1]) {
			return 1
		}
		return -1
	})
	if ci == len(l.chunks) {
		return ci, 0
	}
	c := l.chunks[ci]
	i, _ = slices.BinarySearchFunc(c, 0, func(id uint32, _ int) int {
		if after(id) {
			return 1
		}
		return -1
	})
	return ci, i
}

func (l *sortedIDs) insert(d *userDict, id uint32) {
	l.n++
	if len(l.chunks) == 0 {
		l.chunks = [][]uint32{{id}}
		return
	}
	ci, i := l.search(d, d.str(id), false)
	if ci == len(l.chunks) {
		ci = len(l.chunks) - 1
		i = len(l.chunks[ci])
	}
	c := slices.Insert(l.chunks[ci], i, id)
	if len(c) <= chunkMax {
		l.chunks[ci] = c
		return
	}
	half := len(c) / 2
	right := append([]uint32(nil), c[half:]...)
	l.chunks[ci] = c[:half:half]
	l.chunks = slices.Insert(l.chunks, ci+1, right)
}

// remove deletes id, whose user_id is s (read before the arena is zeroed).
func (l *sortedIDs) remove(d *userDict, id uint32, s string) {
	ci, i := l.search(d, s, true)
	for ; ci < len(l.chunks); ci, i = ci+1, 0 {
		c := l.chunks[ci]
		for ; i < len(c); i++ {
			if c[i] == id {
				c = slices.Delete(c, i, i+1)
				l.n--
				if len(c) == 0 {
					l.chunks = slices.Delete(l.chunks, ci, ci+1)
				} else {
					l.chunks[ci] = c
				}
				return
			}
			if d.str(c[i]) != s {
				return
			}
		}
	}
}

func (l *sortedIDs) bytes() int {
	n := 24 * cap(l.chunks)
	for _, c := range l.chunks {
		n += 4 * cap(c)
	}
	return n
}

// appendID appends s as a new id without touching the hash table (the
// Builder's sorted path; buildTable indexes them later).
func (d *userDict) appendID(s string) error {
	if d.n() >= math.MaxUint32-2 || uint64(len(d.arena))+uint64(len(s)) > maxArena {
		return ErrIndexFull
	}
	d.arena = append(d.arena, s...)
	d.offs = append(d.offs, uint32(len(d.arena)))
	d.live++
	return nil
}

// buildTable (re)builds the hash table over every id, all live and
// distinct, sized for at least expect ids.
func (d *userDict) buildTable(expect int) {
	n := d.n()
	d.ctrl, d.table, d.used = nil, nil, 0
	d.rehash(max(16, nextPow2(max(n, expect)*3/2+1)))
	for id := range n {
		d.insert(uint32(id))
	}
	d.live = n
}
