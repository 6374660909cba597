package bitmaps

import "fmt"

// Advance stores v in an int or time field (time as Unix seconds) of a
// live user when the field is NULL or holds less than v, and says whether
// it did: a timestamp that only moves forward, such as a last visit. It is
// one write-lock acquisition and no boxing, for the real-time path, which
// has just looked the id up.
func (ix *Index) Advance(id uint32, field string, v int64) (bool, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.byName[field]
	if !ok {
		return false, fmt.Errorf("field %q: %w", field, ErrUnknownField)
	}
	c, ok := ix.cols[i].(*numCol)
	if !ok || c.kind == KindFloat {
		return false, &FieldError{Field: field, Kind: ix.schema[i].Kind, Value: v, Err: ErrWrongType}
	}
	if !ix.live.Contains(id) {
		return false, fmt.Errorf("id %d: %w", id, ErrNoSuchID)
	}
	k := intKey(v)
	if c.ex.Contains(id) {
		if c.keys.get(int(id)) >= k {
			return false, nil
		}
		c.replace(id, k)
	} else {
		c.add(id, k)
	}
	ix.fieldVer[i]++
	ix.version.Add(1)
	return true, nil
}
