package bitmaps

import "math"

// packed is an array of uint64 values stored as offsets from a base in 1, 2,
// 4 or 8 bytes each, widened (and rebased) when a value does not fit. It
// keeps numeric keys and dictionary codes small: a count of visits or an
// hour fits a byte, a timestamp 4 bytes, a tier code a byte.
//
// Slots never set (grow) read as the base: 0 for a zeroBase array (codes,
// where 0 is NULL), a placeholder otherwise (keys, whose NULLs are tracked
// elsewhere). The zero value is an empty keys array. Not safe for
// concurrent use.
type packed struct {
	base     uint64
	width    uint8  // bytes per value: 1, 2, 4 or 8 (0 before the first grow)
	hi       uint64 // upper bound of the values set
	hasVal   bool   // a value was set: base and hi mean something
	zeroBase bool   // base stays 0
	b8       []uint8
	b16      []uint16
	b32      []uint32
	b64      []uint64
}

func widthFor(span uint64) uint8 {
	switch {
	case span <= math.MaxUint8:
		return 1
	case span <= math.MaxUint16:
		return 2
	case span <= math.MaxUint32:
		return 4
	}
	return 8
}

func maxFor(width uint8) uint64 {
	if width == 8 {
		return math.MaxUint64
	}
	return 1<<(8*uint(width)) - 1
}

// newPacked packs vals; values at indexes where skip returns true do not
// count towards the range (NULLs) and read back as base.
func newPacked(vals []uint64, skip func(i int) bool) packed {
	lo, hi, any := uint64(math.MaxUint64), uint64(0), false
	for i, v := range vals {
		if skip != nil && skip(i) {
			continue
		}
		lo, hi, any = min(lo, v), max(hi, v), true
	}
	if !any {
		lo, hi = 0, 0
	}
	p := packed{base: lo, hi: hi, hasVal: any}
	p.alloc(widthFor(hi-lo), len(vals))
	for i, v := range vals {
		if skip != nil && skip(i) {
			v = lo
		}
		p.put(i, v-lo)
	}
	return p
}

func (p *packed) alloc(width uint8, n int) {
	p.width = width
	p.b8, p.b16, p.b32, p.b64 = nil, nil, nil, nil
	switch width {
	case 1:
		p.b8 = make([]uint8, n)
	case 2:
		p.b16 = make([]uint16, n)
	case 4:
		p.b32 = make([]uint32, n)
	default:
		p.b64 = make([]uint64, n)
	}
}

func (p *packed) len() int {
	switch p.width {
	case 1:
		return len(p.b8)
	case 2:
		return len(p.b16)
	case 4:
		return len(p.b32)
	case 8:
		return len(p.b64)
	}
	return 0
}

// delta reads the stored offset at i.
func (p *packed) delta(i int) uint64 {
	switch p.width {
	case 1:
		return uint64(p.b8[i])
	case 2:
		return uint64(p.b16[i])
	case 4:
		return uint64(p.b32[i])
	}
	return p.b64[i]
}

func (p *packed) get(i int) uint64 { return p.base + p.delta(i) }

func (p *packed) put(i int, d uint64) {
	switch p.width {
	case 1:
		p.b8[i] = uint8(d)
	case 2:
		p.b16[i] = uint16(d)
	case 4:
		p.b32[i] = uint32(d)
	default:
		p.b64[i] = d
	}
}

// newCodes returns an empty zero-based array (for dictionary codes).
func newCodes() packed {
	p := packed{zeroBase: true, hasVal: true}
	p.alloc(1, 0)
	return p
}

// packCodes packs dictionary codes (0 = NULL), offsets or lengths with
// base 0.
func packCodes[T uint32 | uint64](codes []T) packed {
	var hi T
	for _, c := range codes {
		hi = max(hi, c)
	}
	p := packed{zeroBase: true, hasVal: true, hi: uint64(hi)}
	p.alloc(widthFor(uint64(hi)), len(codes))
	for i, c := range codes {
		p.put(i, uint64(c))
	}
	return p
}

// set stores v at i (< len), widening or rebasing first if v does not fit.
func (p *packed) set(i int, v uint64) {
	if !p.hasVal {
		// Everything so far is a placeholder: start the range at v.
		p.base, p.hi, p.hasVal = v, v, true
		for j := range p.len() {
			p.put(j, 0)
		}
	}
	if v < p.base || v-p.base > maxFor(p.width) {
		p.repack(v)
	}
	p.hi = max(p.hi, v)
	p.put(i, v-p.base)
}

// repack makes room for v: a lower base (with as much headroom again as the
// current span, so repeated lower values rebase O(log) times) and/or a
// wider width.
func (p *packed) repack(v uint64) {
	base, hi := p.base, max(p.hi, v)
	if v < base && !p.zeroBase {
		base = v - min(v, hi-v)
	}
	width := max(p.width, widthFor(hi-base))
	old := *p
	n := old.len()
	p.alloc(width, n)
	p.base, p.hi = base, hi
	for i := range n {
		p.put(i, old.get(i)-base)
	}
}

// grow extends the array to n values (reading back as base).
func (p *packed) grow(n int) {
	if p.width == 0 {
		p.alloc(1, 0)
	}
	switch p.width {
	case 1:
		p.b8 = extend(p.b8, n)
	case 2:
		p.b16 = extend(p.b16, n)
	case 4:
		p.b32 = extend(p.b32, n)
	default:
		p.b64 = extend(p.b64, n)
	}
}

func (p *packed) bytes() int {
	return cap(p.b8) + 2*cap(p.b16) + 4*cap(p.b32) + 8*cap(p.b64)
}
