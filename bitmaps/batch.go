package bitmaps

import (
	"errors"
	"fmt"
)

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
	ix.fieldVer[i]++
	ix.version.Add(1)
	return nil
}
