package events

import "hash/maphash"

// seenIDs remembers the last n event_ids (a FIFO window): Has answers for
// those, older ones are forgotten. Not safe for concurrent use.
//
// It holds no pointers, so a full window (a million ids) costs the garbage
// collector nothing and a lookup about one cache miss: the ids' bytes are
// kept in a circular byte buffer in arrival order (eviction is FIFO too),
// the ring holds each id's offset there and its hash, and an open-addressing
// table (linear probing, deletion by backward shift) maps a hash to a ring
// position. Ids are compared byte for byte, so a hash collision never makes
// a new event look like a duplicate.
type seenIDs struct {
	max  int
	seed maphash.Seed

	ring []seenEntry // FIFO: the id added n-th is at ring[n % max]
	head uint64      // ids added so far

	buf          []byte // len a power of two; logical byte b is at buf[b & (len-1)]
	btail, bhead uint64 // logical bytes [btail, bhead) hold the ids in the ring

	// slots[i] is 0 (empty) or the low 32 bits of the id's hash << 32 |
	// its ring position + 1; an id's home slot is hash & (len-1).
	slots []uint64
	n     int // ids in the table
}

type seenEntry struct {
	off uint64 // logical offset of the id in buf; it ends where the next one starts
	h   uint64
}

func newSeenIDs(max int) *seenIDs {
	s := &seenIDs{max: max, seed: maphash.MakeSeed()}
	if max > 0 {
		s.buf = make([]byte, 4096)
		s.slots = make([]uint64, 1024)
	}
	return s
}

func (s *seenIDs) hash(id string) uint64 { return maphash.String(s.seed, id) }

// Has says whether id is in the window.
func (s *seenIDs) Has(id string) bool {
	if s.n == 0 {
		return false
	}
	return s.has(id, s.hash(id))
}

// has is Has with id's hash.
func (s *seenIDs) has(id string, h uint64) bool {
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return false
		}
		if uint32(v>>32) == uint32(h) {
			if p := int(uint32(v)) - 1; s.ring[p].h == h && s.equal(p, id) {
				return true
			}
		}
	}
}

// Add adds id (no-op when it is in the window already).
func (s *seenIDs) Add(id string) {
	if s.max <= 0 || s.Has(id) {
		return
	}
	s.addNew(id)
}

// addNew is Add for an id known to be absent (one lookup less).
func (s *seenIDs) addNew(id string) {
	if s.max > 0 {
		s.addNewHashed(id, s.hash(id))
	}
}

// addNewHashed is addNew with id's hash.
func (s *seenIDs) addNewHashed(id string, h uint64) {
	if s.max <= 0 {
		return
	}
	if (s.n+1)*2 > len(s.slots) { // only while the window fills up
		s.rehash(2 * len(s.slots))
	}
	pos := int(s.head % uint64(s.max))
	if len(s.ring) == s.max {
		s.evict(pos)
	}
	e := seenEntry{off: s.bhead, h: h}
	s.write(id)
	if len(s.ring) < s.max {
		s.ring = append(s.ring, e)
	} else {
		s.ring[pos] = e
	}
	s.head++
	s.insert(e.h, pos)
}

// evict forgets the oldest id, at ring position pos.
func (s *seenIDs) evict(pos int) {
	e := s.ring[pos]
	mask := uint64(len(s.slots) - 1)
	i := e.h & mask
	for uint32(s.slots[i]) != uint32(pos+1) {
		i = (i + 1) & mask
	}
	// Backward shift: move later entries of the probe run into the hole
	// when their home slot allows it.
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		home := (s.slots[j] >> 32) & mask
		if (i-home)&mask < (j-home)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = 0
	s.n--
	s.btail = s.end(pos)
}

func (s *seenIDs) insert(h uint64, pos int) {
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = uint64(uint32(h))<<32 | uint64(pos+1)
	s.n++
}

func (s *seenIDs) rehash(size int) {
	s.slots = make([]uint64, size)
	s.n = 0
	for p, e := range s.ring {
		s.insert(e.h, p)
	}
}

// end returns the logical offset where the id at ring position p ends.
func (s *seenIDs) end(p int) uint64 {
	if uint64(p) == (s.head-1)%uint64(s.max) {
		return s.bhead // the newest
	}
	return s.ring[(p+1)%s.max].off
}

// write appends id's bytes to buf, growing it when the window's ids do not
// fit.
func (s *seenIDs) write(id string) {
	if need := s.bhead - s.btail + uint64(len(id)); need > uint64(len(s.buf)) {
		size := len(s.buf)
		for uint64(size) < need {
			size *= 2
		}
		buf := make([]byte, size)
		for b := s.btail; b < s.bhead; b++ {
			buf[b&uint64(size-1)] = s.buf[b&uint64(len(s.buf)-1)]
		}
		s.buf = buf
	}
	mask := uint64(len(s.buf) - 1)
	at := s.bhead & mask
	n := copy(s.buf[at:], id)
	copy(s.buf, id[n:])
	s.bhead += uint64(len(id))
}

// equal says whether the id at ring position p is id.
func (s *seenIDs) equal(p int, id string) bool {
	off, end := s.ring[p].off, s.end(p)
	if end-off != uint64(len(id)) {
		return false
	}
	mask := uint64(len(s.buf) - 1)
	at := off & mask
	first := min(uint64(len(id)), uint64(len(s.buf))-at)
	return string(s.buf[at:at+first]) == id[:first] && string(s.buf[:uint64(len(id))-first]) == id[first:]
}

func (s *seenIDs) Len() int { return s.n }

// ordered returns the ids oldest first.
func (s *seenIDs) ordered() []string {
	out := make([]string, 0, len(s.ring))
	first := uint64(0)
	if len(s.ring) == s.max {
		first = s.head - uint64(s.max)
	}
	for k := first; k < s.head; k++ {
		p := int(k % uint64(s.max))
		off, end := s.ring[p].off, s.end(p)
		b := make([]byte, end-off)
		for j := range b {
			b[j] = s.buf[(off+uint64(j))&uint64(len(s.buf)-1)]
		}
		out = append(out, string(b))
	}
	return out
}
