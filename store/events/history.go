package events

import (
	"slices"
	"sync"
	"time"
)

// HistoryReader is what the recommender reads of users' read histories
// (articles to exclude, input of the short-term embedding).
type HistoryReader interface {
	// Reads returns up to n of the user's most recent reads, newest first
	// (n <= 0: all that are kept).
	Reads(userID string, n int) []Read
	// HasRead says whether the article is among the user's kept reads.
	HasRead(userID, articleID string) bool
}

// History is the read-history store the Applier writes to.
type History interface {
	HistoryReader
	// Add records that userID read articleID at ts. Adding the same
	// (article, ts) twice keeps one entry.
	Add(userID, articleID string, ts time.Time)
	// Delete forgets the user's history.
	Delete(userID string)
}

// DefaultHistoryLen is how many reads MemHistory keeps per user.
const DefaultHistoryLen = 50

// MemHistory keeps, per user, the newest reads by time (DefaultHistoryLen
// unless set by NewMemHistory). Article ids are interned, so an entry costs
// 12 bytes. The kept set does not depend on the order reads arrive in.
// MemHistory is safe for concurrent use.
type MemHistory struct {
	mu  sync.RWMutex
	max int
	// users maps a user to its list in lists (sorted by (ts, art)
	// ascending): adding to a known user's list is one map lookup, not a
	// lookup and an assignment. Lists of deleted users are free for reuse.
	users   map[string]int32
	lists   [][]readEntry
	free    []int32
	arts    map[string]uint32
	artName []string
}

type readEntry struct {
	ts  int64 // Unix seconds
	art uint32
}

// NewMemHistory returns an empty history keeping perUser reads per user
// (DefaultHistoryLen when perUser <= 0).
func NewMemHistory(perUser int) *MemHistory {
	if perUser <= 0 {
		perUser = DefaultHistoryLen
	}
	return &MemHistory{max: perUser, users: map[string]int32{}, arts: map[string]uint32{}}
}

func (h *MemHistory) intern(articleID string) uint32 {
	if id, ok := h.arts[articleID]; ok {
		return id
	}
	id := uint32(len(h.artName))
	h.arts[articleID] = id
	h.artName = append(h.artName, articleID)
	return id
}

func cmpEntry(a, b readEntry) int {
	if a.ts != b.ts {
		if a.ts < b.ts {
			return -1
		}
		return 1
	}
	if a.art != b.art {
		if a.art < b.art {
			return -1
		}
		return 1
	}
	return 0
}

// Add records a read (see History).
func (h *MemHistory) Add(userID, articleID string, ts time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.add(userID, readEntry{ts: ts.Unix(), art: h.intern(articleID)})
}

// addReads is Add for several reads under one lock.
func (h *MemHistory) addReads(ops []sideOp) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range ops {
		h.add(ops[i].user, readEntry{ts: ops[i].ts.Unix(), art: h.intern(ops[i].art)})
	}
}

// list returns the user's reads (nil when none).
func (h *MemHistory) list(userID string) []readEntry {
	if k, ok := h.users[userID]; ok {
		return h.lists[k]
	}
	return nil
}

// setList stores the user's reads.
func (h *MemHistory) setList(userID string, list []readEntry) {
	if k, ok := h.users[userID]; ok {
		h.lists[k] = list
		return
	}
	var k int32
	if n := len(h.free); n > 0 {
		k, h.free = h.free[n-1], h.free[:n-1]
		h.lists[k] = list
	} else {
		k = int32(len(h.lists))
		h.lists = append(h.lists, list)
	}
	h.users[userID] = k
}

func (h *MemHistory) add(userID string, e readEntry) {
	k, known := h.users[userID]
	var list []readEntry
	if known {
		list = h.lists[k]
	}
	i, found := slices.BinarySearchFunc(list, e, cmpEntry)
	if found {
		return
	}
	if len(list) >= h.max {
		if i == 0 {
			return // older than every kept read
		}
		// Drop the oldest and insert: shift list[1:i] left by one.
		copy(list[0:i-1], list[1:i])
		list[i-1] = e
		return
	}
	if list == nil {
		list = make([]readEntry, 0, 4)
	}
	list = slices.Insert(list, i, e)
	if known {
		h.lists[k] = list
	} else {
		h.setList(userID, list)
	}
}

// Reads returns the newest reads first (see HistoryReader).
func (h *MemHistory) Reads(userID string, n int) []Read {
	h.mu.RLock()
	defer h.mu.RUnlock()
	list := h.list(userID)
	if n <= 0 || n > len(list) {
		n = len(list)
	}
	out := make([]Read, 0, n)
	for i := len(list) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, Read{ArticleID: h.artName[list[i].art], TS: time.Unix(list[i].ts, 0).UTC()})
	}
	return out
}

// HasRead says whether the user's kept reads include the article.
func (h *MemHistory) HasRead(userID, articleID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	id, ok := h.arts[articleID]
	if !ok {
		return false
	}
	for _, e := range h.list(userID) {
		if e.art == id {
			return true
		}
	}
	return false
}

// Delete forgets the user's history.
func (h *MemHistory) Delete(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.users[userID]; ok {
		delete(h.users, userID)
		h.lists[k] = nil
		h.free = append(h.free, k)
	}
}

// Users returns how many users have a history.
func (h *MemHistory) Users() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users)
}
