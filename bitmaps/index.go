package bitmaps

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
)

// Index is the in-memory user index: a user_id ↔ dense uint32 dictionary,
// one column per schema field (raw values plus bitmaps), and the set of live
// ids. Ids are never reused: a deleted user's id stays dead, and a user
// inserted after Build gets a new id at the end.
//
// An Index is safe for concurrent use: reads share a lock and writes are
// serialised, so each Eval, Count or Row sees one consistent state. Scan and
// StrPred callbacks run under the read lock and must not call the Index.
type Index struct {
	mu      sync.RWMutex
	schema  Schema
	byName  map[string]int
	cols    []column
	users   userDict
	live    *roaring.Bitmap
	baseN   uint32    // ids < baseN were assigned by Build in user_id order
	side    sortedIDs // live ids >= baseN in user_id order
	version atomic.Uint64
	// Per-field write counters and a counter of changes to the set of users
	// (guarded by mu), for Stamp.
	fieldVer []uint64
	liveVer  uint64
	// denseOn says the columns hold dense structures (mirrors,
	// checkpoints: an index of denseMinIDs ids or more when last built or
	// optimised), so big plans run in the dense evaluator.
	denseOn bool
}

// NewIndex returns an empty index over schema. Field names should be unique
// (see Schema.Validate); a repeated name refers to its first field.
func NewIndex(schema Schema) *Index {
	ix := &Index{
		schema:   append(Schema(nil), schema...),
		byName:   make(map[string]int, len(schema)),
		cols:     make([]column, len(schema)),
		users:    newUserDict(),
		live:     roaring.New(),
		fieldVer: make([]uint64, len(schema)),
	}
	for i, f := range schema {
		if _, dup := ix.byName[f.Name]; !dup {
			ix.byName[f.Name] = i
		}
		ix.cols[i] = newColumn(f)
	}
	return ix
}

// Schema returns a copy of the index's schema.
func (ix *Index) Schema() Schema {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return append(Schema(nil), ix.schema...)
}

// Field returns the schema field called name.
func (ix *Index) Field(name string) (Field, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.field(name)
}

func (ix *Index) field(name string) (Field, bool) {
	i, ok := ix.byName[name]
	if !ok {
		return Field{}, false
	}
	return ix.schema[i], true
}

// Len returns the number of live users.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(ix.live.GetCardinality())
}

// Version increments on every write (Upsert, Set, Delete, ReadFrom).
func (ix *Index) Version() uint64 { return ix.version.Load() }

// Stamp returns a number that changes (increases) whenever a write may
// change the answer of a plan reading only the given fields: a write to one
// of them, or a change to the set of users (an insert, a Delete,
// ReadFrom), which every plan depends on through NOT and the universe.
// Unknown names are ignored. Caches of cohort results key on it so that a
// write to one field invalidates only the cohorts that read that field.
func (ix *Index) Stamp(fields []string) uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.liveVer
	for _, f := range fields {
		if i, ok := ix.byName[f]; ok {
			st += ix.fieldVer[i]
		}
	}
	return st
}

// Lookup returns the id of a live user.
func (ix *Index) Lookup(userID string) (uint32, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.users.lookup(userID)
}

// UserID returns the user_id of a live id.
func (ix *Index) UserID(id uint32) (string, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.live.Contains(id) {
		return "", false
	}
	return string(ix.users.bytesOf(id)), true
}

// Row returns a copy of a live user's values aligned with the schema (nil is
// NULL, KindTime as int64 Unix seconds, an empty list as nil).
func (ix *Index) Row(id uint32) (Row, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.live.Contains(id) {
		return nil, false
	}
	row := make(Row, len(ix.cols))
	for i, c := range ix.cols {
		row[i] = c.get(id)
	}
	return row, true
}

// Value returns one field of a live user (nil for NULL, an unknown field or
// a dead id).
func (ix *Index) Value(id uint32, field string) any {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	i, ok := ix.byName[field]
	if !ok || !ix.live.Contains(id) {
		return nil
	}
	return ix.cols[i].get(id)
}

// Universe returns a copy of the live ids.
func (ix *Index) Universe() *roaring.Bitmap {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live.Clone()
}

func (ix *Index) normalizeRow(userID string, row Row) ([]any, error) {
	if userID == "" {
		return nil, ErrEmptyUserID
	}
	if len(row) != len(ix.schema) {
		return nil, fmt.Errorf("user %q: %w: got %d values, want %d", userID, ErrRowLength, len(row), len(ix.schema))
	}
	vals := make([]any, len(row))
	for i, v := range row {
		nv, err := normalize(ix.schema[i], v)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", userID, err)
		}
		vals[i] = nv
	}
	return vals, nil
}

// Upsert inserts the user or replaces all of its values. The row is checked
// first: on error nothing changes.
func (ix *Index) Upsert(userID string, row Row) (uint32, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vals, err := ix.normalizeRow(userID, row)
	if err != nil {
		return 0, err
	}
	id, err := ix.idFor(userID)
	if err != nil {
		return 0, err
	}
	for i, c := range ix.cols {
		c.set(id, vals[i])
		ix.fieldVer[i]++
	}
	ix.version.Add(1)
	return id, nil
}

// Set stores one field of a user (nil clears it), creating the user with
// every other field NULL if it is unknown.
func (ix *Index) Set(userID, field string, v any) (uint32, error) {
	if userID == "" {
		return 0, ErrEmptyUserID
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.byName[field]
	if !ok {
		return 0, fmt.Errorf("field %q: %w", field, ErrUnknownField)
	}
	nv, err := normalize(ix.schema[i], v)
	if err != nil {
		return 0, fmt.Errorf("user %q: %w", userID, err)
	}
	id, err := ix.idFor(userID)
	if err != nil {
		return 0, err
	}
	ix.cols[i].set(id, nv)
	ix.fieldVer[i]++
	ix.version.Add(1)
	return id, nil
}

// idFor returns the id of userID, assigning a new one if needed. Caller
// holds the write lock.
func (ix *Index) idFor(userID string) (uint32, error) {
	id, added, err := ix.users.lookupOrAdd(userID)
	if err != nil {
		return 0, fmt.Errorf("cannot add user %q: %w", userID, err)
	}
	if !added {
		return id, nil
	}
	for _, c := range ix.cols {
		c.grow(int(id) + 1)
	}
	ix.live.Add(id)
	ix.side.insert(&ix.users, id)
	ix.liveVer++
	return id, nil
}

// Delete removes a user from every bitmap and column and erases its user_id
// from memory; its id is not reused. It reports whether the user existed.
func (ix *Index) Delete(userID string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	id, ok := ix.users.lookup(userID)
	if !ok {
		return false
	}
	for _, c := range ix.cols {
		c.set(id, nil)
	}
	if id >= ix.baseN {
		ix.side.remove(&ix.users, id, userID)
	}
	ix.users.remove(id)
	ix.live.Remove(id)
	ix.liveVer++
	ix.version.Add(1)
	return true
}

// Optimize run-compresses every bitmap (Build does it; call it after many
// writes).
func (ix *Index) Optimize() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.live.RunOptimize()
	for _, c := range ix.cols {
		c.optimize()
	}
	ix.buildDense()
}

// buildDense (re)builds every column's dense structures. Caller holds the
// write lock (or owns the index).
func (ix *Index) buildDense() {
	n := ix.users.n()
	for _, c := range ix.cols {
		c.buildDense(n)
	}
	ix.denseOn = wantDense(n)
}
