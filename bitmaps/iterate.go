package bitmaps

import (
	"github.com/RoaringBitmap/roaring/v2"
)

// iterChunk is how many members Iterate collects per read-lock section.
const iterChunk = 256

// Iterate calls fn for the live members of b in ascending user_id byte
// order, starting strictly after afterUserID ("" starts at the beginning),
// until fn returns false. Ids assigned by Build follow user_id order; users
// inserted later are kept in a small sorted side list and merged in.
//
// Iterate reads in chunks and does not hold the lock while fn runs, so fn
// may call the Index (even write to it) and writers are not blocked by a
// slow consumer. Each chunk resumes after the last user_id of the previous
// one, so the order stays strictly ascending while the index changes: no
// user is delivered twice, a user deleted before its turn is not delivered,
// and a user inserted meanwhile is delivered or not depending on timing
// (always when its user_id sorts after the chunk being delivered).
func (ix *Index) Iterate(b *roaring.Bitmap, afterUserID string, fn func(id uint32, userID string) bool) {
	if b == nil {
		return
	}
	type member struct {
		id   uint32
		user string
	}
	buf := make([]member, 0, iterChunk)
	cursor, started := afterUserID, afterUserID != ""
	for {
		buf = buf[:0]
		// The chunk's user_ids are copied into one fresh arena (not reused:
		// fn may keep the strings), one allocation per chunk instead of one
		// per member.
		var arena []byte
		ix.mu.RLock()
		ix.collect(b, cursor, started, iterChunk, func(id uint32, s string) {
			if arena == nil {
				arena = make([]byte, 0, iterChunk*(len(s)+8))
			}
			if len(arena)+len(s) > cap(arena) {
				arena = make([]byte, 0, max(cap(arena), len(s)*iterChunk))
			}
			start := len(arena)
			arena = append(arena, s...)
			buf = append(buf, member{id, bytesString(arena[start:len(arena):len(arena)])})
		})
		ver := ix.version.Load()
		ix.mu.RUnlock()
		for _, m := range buf {
			if ix.version.Load() != ver && !ix.isLive(m.id) {
				continue // deleted since the chunk was collected
			}
			if !fn(m.id, m.user) {
				return
			}
		}
		if len(buf) < iterChunk {
			return
		}
		last := buf[len(buf)-1].user
		if started && last <= cursor {
			return // cannot happen with a sane index; never loop
		}
		cursor, started = last, true
	}
}

// collect emits up to limit live members of b with user_id > cursor (all
// when !started) in user_id order. s is valid only during the call. Caller
// holds the read lock.
func (ix *Index) collect(b *roaring.Bitmap, cursor string, started bool, limit int, emit func(id uint32, s string)) {
	// Base stream: ids in [start, baseN), already in user_id order.
	var start uint32
	if started {
		start = ix.firstBaseAfter(cursor)
	}
	base := b.Iterator()
	base.AdvanceIfNeeded(start)
	allLive := ix.live.GetCardinality() == uint64(ix.users.n())
	nextBase := func() (uint32, bool) {
		for base.HasNext() {
			id := base.Next()
			if id >= ix.baseN {
				return 0, false
			}
			if allLive || ix.live.Contains(id) {
				return id, true
			}
		}
		return 0, false
	}
	// Side stream: ids inserted after Build, kept sorted by user_id.
	ci, si := 0, 0
	if started {
		ci, si = ix.side.search(&ix.users, cursor, false)
	}
	nextSide := func() (uint32, bool) {
		for ci < len(ix.side.chunks) {
			c := ix.side.chunks[ci]
			if si >= len(c) {
				ci, si = ci+1, 0
				continue
			}
			id := c[si]
			si++
			if b.Contains(id) {
				return id, true
			}
		}
		return 0, false
	}
	bid, bok := nextBase()
	sid, sok := nextSide()
	for n := 0; n < limit && (bok || sok); n++ {
		if bok && (!sok || ix.users.str(bid) < ix.users.str(sid)) {
			emit(bid, ix.users.str(bid))
			bid, bok = nextBase()
		} else {
			emit(sid, ix.users.str(sid))
			sid, sok = nextSide()
		}
	}
}

// firstBaseAfter returns the smallest live id below baseN whose user_id is
// > cursor, or baseN. Dead ids have erased user_ids, so the binary search
// only probes live ids (found with Rank and Select).
func (ix *Index) firstBaseAfter(cursor string) uint32 {
	best := ix.baseN
	lo, hi := uint32(0), ix.baseN
	for lo < hi {
		m := lo + (hi-lo)/2
		n, ok := ix.nextLive(m, hi)
		if !ok {
			hi = m
			continue
		}
		if ix.users.str(n) > cursor {
			best, hi = n, m
		} else {
			lo = n + 1
		}
	}
	return best
}

func (ix *Index) isLive(id uint32) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live.Contains(id)
}

// nextLive returns the smallest live id in [from, to).
func (ix *Index) nextLive(from, to uint32) (uint32, bool) {
	v := ix.live.NextValue(from)
	if v < 0 || uint32(v) >= to {
		return 0, false
	}
	return uint32(v), true
}
