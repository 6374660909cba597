package bitmaps

import (
	"cmp"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// ValueCount is one value of a field and how many users have it.
type ValueCount struct {
	Value string `json:"value"`
	Count uint64 `json:"count"`
}

// Values returns the distinct values that live users hold in a string or
// list field, sorted by bytes ("false"/"true" for a bool field; nil for
// other kinds and unknown fields).
func (ix *Index) Values(field string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c, _ := ix.column(field)
	switch c := c.(type) {
	case *strCol:
		return c.sortedValues()
	case *listCol:
		return c.sortedValues()
	case *boolCol:
		var out []string
		if !c.f.IsEmpty() {
			out = append(out, "false")
		}
		if !c.t.IsEmpty() {
			out = append(out, "true")
		}
		return out
	}
	return nil
}

// TopValues returns the k most frequent values of a string, list or bool
// field among the users of within (nil = every live user), most frequent
// first, ties by value; values no user of within has are left out. k <= 0
// returns them all.
func (ix *Index) TopValues(field string, within *roaring.Bitmap, k int) []ValueCount {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	card := func(b *roaring.Bitmap) uint64 {
		if within == nil {
			return b.GetCardinality()
		}
		return b.AndCardinality(within)
	}
	var out []ValueCount
	addDict := func(d *dict) {
		for i, b := range d.bms {
			if n := card(b); n > 0 {
				out = append(out, ValueCount{d.vals[i], n})
			}
		}
	}
	c, _ := ix.column(field)
	switch c := c.(type) {
	case *strCol:
		addDict(&c.dict)
	case *listCol:
		addDict(&c.dict)
	case *boolCol:
		for _, v := range []struct {
			s string
			b *roaring.Bitmap
		}{{"false", c.f}, {"true", c.t}} {
			if n := card(v.b); n > 0 {
				out = append(out, ValueCount{v.s, n})
			}
		}
	default:
		return nil
	}
	slices.SortFunc(out, func(a, b ValueCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	if k > 0 && len(out) > k {
		out = out[:k:k]
	}
	return out
}

// Sum adds up a numeric field over the users of within (nil = every live
// user) that have a value, and returns how many did. Times sum as Unix
// seconds.
func (ix *Index) Sum(field string, within *roaring.Bitmap) (sum float64, n uint64) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c, ok := ix.numeric(field)
	if !ok {
		return 0, 0
	}
	set := c.ex
	if within != nil {
		set = roaring.And(within, c.ex)
	}
	var buf [256]uint32
	it := set.ManyIterator()
	for k := it.NextMany(buf[:]); k > 0; k = it.NextMany(buf[:]) {
		for _, id := range buf[:k] {
			sum += c.number(c.keys.get(int(id)))
		}
		n += uint64(k)
	}
	return sum, n
}

// IndexStats describes the index's size, for bytes-per-user reports and
// metrics.
type IndexStats struct {
	Users        int     `json:"users"`          // live users
	IDs          int     `json:"ids"`            // ids ever assigned (live + deleted)
	Fields       int     `json:"fields"`         // schema fields
	BitmapBytes  int     `json:"bitmap_bytes"`   // value, bucket, existence and live bitmaps
	ColumnBytes  int     `json:"column_bytes"`   // raw columns and value dictionaries
	UserIDBytes  int     `json:"user_id_bytes"`  // user_id arena, offsets and hash table
	TotalBytes   int     `json:"total_bytes"`    // sum of the above
	BytesPerUser float64 `json:"bytes_per_user"` // TotalBytes / Users
}

// Stats reports the index's size (estimated from capacities and roaring's
// GetSizeInBytes; Go object headers are not counted).
func (ix *Index) Stats() IndexStats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := IndexStats{
		Users:       int(ix.live.GetCardinality()),
		IDs:         ix.users.n(),
		Fields:      len(ix.schema),
		BitmapBytes: int(ix.live.GetSizeInBytes()),
		UserIDBytes: ix.users.bytes() + ix.side.bytes(),
	}
	for _, c := range ix.cols {
		bm, col := c.size()
		s.BitmapBytes += bm
		s.ColumnBytes += col
	}
	s.TotalBytes = s.BitmapBytes + s.ColumnBytes + s.UserIDBytes
	if s.Users > 0 {
		s.BytesPerUser = float64(s.TotalBytes) / float64(s.Users)
	}
	return s
}
