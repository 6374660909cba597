package bitmaps

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
