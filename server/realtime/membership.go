package realtime

import "github.com/RoaringBitmap/roaring/v2"

// membership is the published membership of the tracker's cohorts, kept
// twice: one roaring bitmap per cohort (snapshots, Published, sweeps diff
// against it) and a flat row of bits per user id, so that the per-event
// question "was this user a member?" costs one memory access for all the
// affected cohorts instead of one bitmap probe each. Both are changed only
// through its methods. Not safe for concurrent use (the pipeline's lock
// guards it).
type membership struct {
	bms   []*roaring.Bitmap // per cohort
	words int               // uint64 words per user
	bits  []uint64          // user id*words + cohort/64
}

func newMembership(bms []*roaring.Bitmap) *membership {
	m := &membership{bms: bms, words: max((len(bms)+63)/64, 1)}
	for _, b := range bms {
		if !b.IsEmpty() {
			m.grow(b.Maximum())
		}
	}
	for i, b := range bms {
		w, bit := i/64, uint64(1)<<(i%64)
		b.Iterate(func(id uint32) bool {
			m.bits[int(id)*m.words+w] |= bit
			return true
		})
	}
	return m
}

// grow makes room for ids up to id.
func (m *membership) grow(id uint32) {
	if n := (int(id) + 1) * m.words; n > len(m.bits) {
		m.bits = append(m.bits, make([]uint64, max(n-len(m.bits), len(m.bits)/4))...)
	}
}

// has says whether id is a published member of cohort i.
func (m *membership) has(i int, id uint32) bool {
	k := int(id)*m.words + i/64
	return k < len(m.bits) && m.bits[k]&(1<<(i%64)) != 0
}

// set records id entering (in) or leaving cohort i.
func (m *membership) set(i int, id uint32, in bool) {
	w, bit := i/64, uint64(1)<<(i%64)
	if in {
		m.grow(id)
		m.bms[i].Add(id)
		m.bits[int(id)*m.words+w] |= bit
		return
	}
	m.bms[i].Remove(id)
	if k := int(id)*m.words + w; k < len(m.bits) {
		m.bits[k] &^= bit
	}
}

// replace makes b the members of cohort i (after a sweep); b is kept.
func (m *membership) replace(i int, b *roaring.Bitmap) {
	old := m.bms[i]
	w, bit := i/64, uint64(1)<<(i%64)
	roaring.AndNot(old, b).Iterate(func(id uint32) bool {
		m.bits[int(id)*m.words+w] &^= bit
		return true
	})
	added := roaring.AndNot(b, old)
	if !added.IsEmpty() {
		m.grow(added.Maximum())
	}
	added.Iterate(func(id uint32) bool {
		m.bits[int(id)*m.words+w] |= bit
		return true
	})
	m.bms[i] = b
}
