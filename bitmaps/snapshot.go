package bitmaps

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Snapshot format (little endian), version 1:
//
//	magic "COHORTIX" | uvarint version
//	schema: uvarint n, then n × (string name, uvarint kind)
//	users:  uvarint ids, uvarint baseN, bytes arena, ids+1 × u32 offsets
//	bitmap live
//	per field, by kind:
//	  string: uvarint nvals, nvals × string, ids × u64 code, nvals × bitmap, bitmap present
//	  int/float/time: ids × u64 key, bitmap present, uvarint nb, nb × u64 low, nb × bitmap
//	  bool:   bitmap true, bitmap false
//	  list:   uvarint nvals, nvals × string, ids × u64 length, uvarint n, n × u32 code (the lists in id order), nvals × bitmap, bitmap present
//	u32 CRC-32C of everything before it
//
// A string or bytes is a uvarint length and the bytes; a bitmap is a uvarint
// length and roaring's portable serialisation. Deleted users' ids keep their
// slots with erased user_ids.

const (
	snapMagic   = "COHORTIX"
	snapVersion = 1
	snapChunk   = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type snapWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   int64
	err error
	buf []byte
}

func (s *snapWriter) write(p []byte) {
	if s.err != nil {
		return
	}
	s.crc.Write(p)
	var n int
	n, s.err = s.w.Write(p)
	s.n += int64(n)
}

func (s *snapWriter) uvarint(x uint64) { s.write(binary.AppendUvarint(s.buf[:0], x)) }

func (s *snapWriter) bytes(b []byte) {
	s.uvarint(uint64(len(b)))
	s.write(b)
}

func (s *snapWriter) u32s(xs []uint32) {
	for len(xs) > 0 {
		k := min(len(xs), snapChunk)
		b := s.buf[:0]
		for _, x := range xs[:k] {
			b = binary.LittleEndian.AppendUint32(b, x)
		}
		s.write(b)
		s.buf = b[:0]
		xs = xs[k:]
	}
}

func (s *snapWriter) u64s(xs []uint64) {
	for len(xs) > 0 {
		k := min(len(xs), snapChunk)
		b := s.buf[:0]
		for _, x := range xs[:k] {
			b = binary.LittleEndian.AppendUint64(b, x)
		}
		s.write(b)
		s.buf = b[:0]
		xs = xs[k:]
	}
}

// packed writes the first n values of p as u64s.
func (s *snapWriter) packed(p *packed, n int) {
	for i := 0; i < n; {
		k := min(n-i, snapChunk)
		b := s.buf[:0]
		for j := i; j < i+k; j++ {
			var v uint64
			if j < p.len() {
				v = p.get(j)
			}
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		s.write(b)
		s.buf = b[:0]
		i += k
	}
}

func (s *snapWriter) bitmap(b *roaring.Bitmap) {
	if s.err != nil {
		return
	}
	data, err := b.ToBytes()
	if err != nil {
		s.err = err
		return
	}
	s.bytes(data)
}

func (s *snapWriter) strs(vals []string) {
	s.uvarint(uint64(len(vals)))
	for _, v := range vals {
		s.bytes([]byte(v))
	}
}

// WriteTo writes a snapshot of the index (see ReadFrom). It holds the read
// lock while writing, so the snapshot is one consistent state.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := &snapWriter{w: bufio.NewWriterSize(w, 1<<16), crc: crc32.New(castagnoli), buf: make([]byte, 0, 8*snapChunk)}
	s.write([]byte(snapMagic))
	s.uvarint(snapVersion)
	s.uvarint(uint64(len(ix.schema)))
	for _, f := range ix.schema {
		s.bytes([]byte(f.Name))
		s.uvarint(uint64(f.Kind))
	}
	n := ix.users.n()
	s.uvarint(uint64(n))
	s.uvarint(uint64(ix.baseN))
	s.bytes(ix.users.arena)
	s.u32s(ix.users.offs)
	s.bitmap(ix.live)
	for _, c := range ix.cols {
		switch c := c.(type) {
		case *strCol:
			s.strs(c.vals)
			s.packed(&c.codes, n)
			for _, b := range c.bms {
				s.bitmap(b)
			}
			s.bitmap(c.ex)
		case *numCol:
			s.packed(&c.keys, n)
			s.bitmap(c.ex)
			s.uvarint(uint64(len(c.lows)))
			s.u64s(c.lows)
			for _, b := range c.bms {
				s.bitmap(b)
			}
		case *boolCol:
			s.bitmap(c.t)
			s.bitmap(c.f)
		case *listCol:
			s.strs(c.vals)
			// The lists, compacted: lengths, then all codes in id order.
			s.packed(&c.lens, n)
			var all, buf []uint32
			for id := range n {
				buf = c.codesOf(uint32(id), buf[:0])
				all = append(all, buf...)
			}
			s.uvarint(uint64(len(all)))
			s.u32s(all)
			for _, b := range c.bms {
				s.bitmap(b)
			}
			s.bitmap(c.ex)
		}
	}
	if s.err == nil {
		sum := s.crc.Sum32()
		s.write(binary.LittleEndian.AppendUint32(nil, sum))
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return s.n, fmt.Errorf("cannot write index snapshot: %w", s.err)
	}
	return s.n, nil
}

type snapReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	n   int64
	err error
}

func (s *snapReader) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: "+format, append([]any{ErrBadSnapshot}, args...)...)
	}
}

func (s *snapReader) read(p []byte) {
	if s.err != nil {
		return
	}
	n, err := io.ReadFull(s.r, p)
	s.n += int64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			s.fail("truncated")
			return
		}
		s.err = err
		return
	}
	s.crc.Write(p)
}

func (s *snapReader) uvarint() uint64 {
	var b [binary.MaxVarintLen64]byte
	for i := range b {
		s.read(b[i : i+1])
		if s.err != nil {
			return 0
		}
		if b[i] < 0x80 {
			x, _ := binary.Uvarint(b[:i+1])
			return x
		}
	}
	s.fail("bad varint")
	return 0
}

// count reads a length and checks it against limit.
func (s *snapReader) count(limit uint64, what string) int {
	x := s.uvarint()
	if x > limit {
		s.fail("%s %d exceeds %d", what, x, limit)
		return 0
	}
	return int(x)
}

// bytes reads a length-prefixed byte string, growing the buffer as data
// arrives so a corrupt length cannot allocate much more than the input.
func (s *snapReader) bytes(limit uint64) []byte {
	n := s.count(limit, "length")
	var out []byte
	for n > 0 && s.err == nil {
		k := min(n, 1<<20)
		out = slices.Grow(out, k)
		p := out[len(out) : len(out)+k]
		s.read(p)
		out = out[:len(out)+k]
		n -= k
	}
	return out
}

func (s *snapReader) u32s(n int) []uint32 {
	var out []uint32
	buf := make([]byte, 4*min(n, snapChunk))
	for n > 0 && s.err == nil {
		k := min(n, snapChunk)
		s.read(buf[:4*k])
		for i := range k {
			out = append(out, binary.LittleEndian.Uint32(buf[4*i:]))
		}
		n -= k
	}
	return out
}

func (s *snapReader) u64s(n int) []uint64 {
	var out []uint64
	buf := make([]byte, 8*min(n, snapChunk))
	for n > 0 && s.err == nil {
		k := min(n, snapChunk)
		s.read(buf[:8*k])
		for i := range k {
			out = append(out, binary.LittleEndian.Uint64(buf[8*i:]))
		}
		n -= k
	}
	return out
}

// bitmap reads a bitmap whose ids must be below ids. The checksum comes at
// the end, so each bitmap is validated (and a roaring panic on malformed
// containers recovered) before anything uses it.
func (s *snapReader) bitmap(ids int) (b *roaring.Bitmap) {
	data := s.bytes(1 << 40)
	b = roaring.New()
	if s.err != nil {
		return b
	}
	defer func() {
		if r := recover(); r != nil {
			s.fail("bitmap: %v", r)
			b = roaring.New()
		}
	}()
	if err := b.UnmarshalBinary(data); err != nil {
		s.fail("bitmap: %v", err)
		return roaring.New()
	}
	if err := b.Validate(); err != nil {
		s.fail("bitmap: %v", err)
		return roaring.New()
	}
	if !b.IsEmpty() && uint64(b.Maximum()) >= uint64(ids) {
		s.fail("bitmap holds id %d of %d", b.Maximum(), ids)
		return roaring.New()
	}
	return b
}

func (s *snapReader) strs() []string {
	n := s.count(1<<32, "values")
	var out []string
	for range n {
		if s.err != nil {
			break
		}
		out = append(out, string(s.bytes(1<<32)))
	}
	return out
}

// ReadFrom replaces the index's contents with a snapshot written by WriteTo
// (schema included). On error the index is unchanged. It implements
// io.ReaderFrom; the reader is read through a buffer, so bytes after the
// snapshot may be consumed.
func (ix *Index) ReadFrom(r io.Reader) (int64, error) {
	s := &snapReader{r: bufio.NewReaderSize(r, 1<<16), crc: crc32.New(castagnoli)}
	nx := readSnapshot(s)
	if s.err == nil {
		want := s.crc.Sum32()
		var b [4]byte
		s.read(b[:])
		if s.err == nil && binary.LittleEndian.Uint32(b[:]) != want {
			s.fail("checksum mismatch")
		}
	}
	if s.err != nil {
		return s.n, fmt.Errorf("cannot read index snapshot: %w", s.err)
	}
	nx.buildDense()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.schema, ix.byName, ix.cols = nx.schema, nx.byName, nx.cols
	ix.users, ix.live, ix.baseN, ix.side = nx.users, nx.live, nx.baseN, nx.side
	ix.denseOn = nx.denseOn
	// Every stamp from now on exceeds every earlier one (see Stamp).
	for _, v := range ix.fieldVer {
		ix.liveVer += v
	}
	ix.liveVer++
	ix.fieldVer = make([]uint64, len(ix.schema))
	ix.version.Add(1)
	return s.n, nil
}

// ReadIndex reads a snapshot written by Index.WriteTo into a new Index.
func ReadIndex(r io.Reader) (*Index, error) {
	ix := NewIndex(nil)
	if _, err := ix.ReadFrom(r); err != nil {
		return nil, err
	}
	return ix, nil
}

func readSnapshot(s *snapReader) *Index {
	var magic [len(snapMagic)]byte
	s.read(magic[:])
	if s.err == nil && string(magic[:]) != snapMagic {
		s.fail("not an index snapshot")
	}
	if v := s.uvarint(); s.err == nil && v != snapVersion {
		s.fail("unsupported version %d", v)
	}
	nf := s.count(1<<16, "fields")
	var schema Schema
	for range nf {
		name := string(s.bytes(1 << 16))
		kind := Kind(s.count(1<<8, "kind"))
		schema = append(schema, Field{Name: name, Kind: kind})
	}
	if s.err != nil {
		return nil
	}
	if err := schema.Validate(); err != nil {
		s.fail("schema: %v", err)
		return nil
	}
	ix := NewIndex(schema)
	n := s.count(1<<32-3, "ids")
	baseN := s.count(uint64(n), "base ids")
	arena := s.bytes(maxArena)
	offs := s.u32s(n + 1)
	if s.err != nil {
		return nil
	}
	if offs[0] != 0 || int(offs[n]) != len(arena) {
		s.fail("bad user id offsets")
		return nil
	}
	for i := range n {
		if offs[i] > offs[i+1] {
			s.fail("bad user id offsets")
			return nil
		}
	}
	ix.live = s.bitmap(n)
	ix.baseN = uint32(baseN)
	ix.users = userDict{arena: arena, offs: offs}
	ix.users.seed = newUserDict().seed
	for i, f := range schema {
		switch f.Kind {
		case KindString:
			c := &strCol{dict: newDict()}
			c.vals = s.strs()
			codes := s.u64s(n)
			c.bms = make([]*roaring.Bitmap, len(c.vals))
			for j, v := range c.vals {
				c.index[v] = uint32(j + 1)
				c.bms[j] = s.bitmap(n)
			}
			c.ex = s.bitmap(n)
			codes32 := make([]uint32, len(codes))
			for j, code := range codes {
				if code > uint64(len(c.vals)) {
					s.fail("field %q: bad value code", f.Name)
					break
				}
				codes32[j] = uint32(code)
			}
			c.codes = packCodes(codes32)
			ix.cols[i] = c
		case KindInt, KindFloat, KindTime:
			c := newNumCol(f.Kind)
			c.keys = newPacked(s.u64s(n), nil)
			c.ex = s.bitmap(n)
			nb := s.count(1<<32, "buckets")
			c.lows = s.u64s(nb)
			if s.err != nil {
				return nil
			}
			c.bms = make([]*roaring.Bitmap, nb)
			for j := range c.bms {
				c.bms[j] = s.bitmap(n)
			}
			c.nextSplit = make([]uint64, nb)
			c.cards = make([]uint64, nb)
			for j, b := range c.bms {
				c.cards[j] = b.GetCardinality()
			}
			c.n = c.ex.GetCardinality()
			if s.err == nil && (nb == 0 || c.lows[0] != 0 || !slices.IsSorted(c.lows) || len(slices.Compact(slices.Clone(c.lows))) != nb) {
				s.fail("field %q: bad buckets", f.Name)
			}
			ix.cols[i] = c
		case KindBool:
			ix.cols[i] = &boolCol{t: s.bitmap(n), f: s.bitmap(n)}
		case KindStringList:
			c := newListCol()
			c.vals = s.strs()
			lens := s.u64s(n)
			codes := s.u32s(s.count(1<<40, "list codes"))
			c.bms = make([]*roaring.Bitmap, len(c.vals))
			for j, v := range c.vals {
				c.index[v] = uint32(j + 1)
				c.bms[j] = s.bitmap(n)
			}
			c.ex = s.bitmap(n)
			if s.err != nil {
				return nil
			}
			offs := make([]uint64, n)
			var total uint64
			for id, k := range lens {
				if k > maxListLen {
					s.fail("field %q: bad list length", f.Name)
					return nil
				}
				offs[id] = total
				total += k
			}
			if total != uint64(len(codes)) {
				s.fail("field %q: list lengths do not match the codes", f.Name)
				return nil
			}
			for _, code := range codes {
				if code == 0 || int(code) > len(c.vals) {
					s.fail("field %q: bad value code", f.Name)
					return nil
				}
			}
			c.offs, c.lens, c.arena = packCodes(offs), packCodes(lens), packCodes(codes)
			ix.cols[i] = c
		}
		if s.err != nil {
			return nil
		}
	}
	if !ix.users.rebuild(ix.live.Iterate) {
		s.fail("duplicate or empty user id")
		return nil
	}
	// Ids below baseN must be in user_id order (Iterate relies on it).
	prev, first := "", true
	ix.live.Iterate(func(id uint32) bool {
		if id >= ix.baseN {
			return false
		}
		if u := ix.users.str(id); !first && u <= prev {
			s.fail("user ids out of order")
			return false
		} else {
			prev, first = u, false
		}
		return true
	})
	if s.err != nil {
		return nil
	}
	// Users inserted after Build, in user_id order.
	var side []uint32
	ix.live.Iterate(func(id uint32) bool {
		if id >= ix.baseN {
			side = append(side, id)
		}
		return true
	})
	slices.SortFunc(side, func(a, b uint32) int { return strings.Compare(ix.users.str(a), ix.users.str(b)) })
	for len(side) > 0 {
		k := min(len(side), chunkMax/2)
		ix.side.chunks = append(ix.side.chunks, slices.Clone(side[:k]))
		ix.side.n += k
		side = side[k:]
	}
	return ix
}
