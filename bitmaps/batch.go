package bitmaps

import (
	"errors"
	"fmt"
)

// ValuesOf reads several fields of one live user under one read lock (the
// real-time path reads the handful of attributes the affected cohorts
// need after each event): dst[k] receives the value of fields[k] as Value
// returns it (nil for NULL or an unknown field). It reports false, leaving
// dst untouched, when id is not a live user. dst must be at least as long
// as fields.
func (ix *Index) ValuesOf(id uint32, fields []string, dst []any) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.live.Contains(id) {
		return false
	}
	for k, name := range fields {
		if i, ok := ix.byName[name]; ok {
			dst[k] = ix.cols[i].get(id)
		} else {
			dst[k] = nil
		}
	}
	return true
}

// ErrNoSuchID is returned by SetByID for an id that is not a live user.
var ErrNoSuchID = errors.New("no live user has this id")

// SetByID is Set for a user known by id (the real-time path has just looked
// it up): it skips the user_id dictionary. The id must be live.
func (ix *Index) SetByID(id uint32, field string, v any) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.byName[field]
	if !ok {
		return fmt.Errorf("field %q: %w", field, ErrUnknownField)
	}
	if !ix.live.Contains(id) {
		return fmt.Errorf("id %d: %w", id, ErrNoSuchID)
	}
	nv, err := normalize(ix.schema[i], v)
	if err != nil {
		return fmt.Errorf("id %d: %w", id, err)
	}
	ix.cols[i].set(id, nv)
	ix.version.Add(1)
	return nil
}
