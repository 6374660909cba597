package events

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// ErrBadState is wrapped when ReadState gets data that WriteState did not
// write.
var ErrBadState = errors.New("bad applier state")

const stateMagic = "cohortd-events-state-1\n"

// WriteState writes everything the Applier holds besides the index: recent
// event_ids, deletion tombstones, per-attribute update times, the read
// history (when it is a *MemHistory) and the article catalog. Call it while
// no event is being applied, together with the index's WriteTo, so that the
// two describe the same instant.
func (a *Applier) WriteState(w io.Writer) error {
	a.Flush()
	e := &enc{w: bufio.NewWriterSize(w, 1<<16)}
	e.raw([]byte(stateMagic))

	ids := a.seen.ordered()
	e.uv(uint64(len(ids)))
	for _, id := range ids {
		e.str(id)
	}

	tombs := make([]uint64, 0, len(a.tombs))
	for h := range a.tombs {
		tombs = append(tombs, h)
	}
	slices.Sort(tombs)
	e.uv(uint64(len(tombs)))
	for _, h := range tombs {
		e.u64(h)
		e.v(a.tombs[h])
	}

	users := sortedKeys(a.held)
	e.uv(uint64(len(users)))
	for _, u := range users {
		e.str(u)
		list := a.held[u]
		e.uv(uint64(len(list)))
		for _, h := range list {
			e.str(h.field)
			e.v(h.ts)
		}
	}

	if mh, ok := a.history.(*MemHistory); ok {
		e.uv(1)
		mh.writeTo(e)
	} else {
		e.uv(0)
	}

	arts := a.articles.All()
	e.uv(uint64(len(arts)))
	for _, art := range arts {
		e.str(art.ID)
		e.str(art.Title)
		e.strs(art.Topics)
		e.v(art.PublishedAt.UnixNano())
		e.uv(uint64(len(art.Embedding)))
		for _, f := range art.Embedding {
			e.u32(math.Float32bits(f))
		}
	}
	if e.err != nil {
		return fmt.Errorf("cannot write the applier state: %w", e.err)
	}
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("cannot write the applier state: %w", err)
	}
	return nil
}

func (h *MemHistory) writeTo(e *enc) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	e.uv(uint64(h.max))
	e.strs(h.artName)
	users := sortedKeys(h.users)
	e.uv(uint64(len(users)))
	for _, u := range users {
		e.str(u)
		list := h.list(u)
		e.uv(uint64(len(list)))
		for _, r := range list {
			e.uv(uint64(r.art))
			e.v(r.ts)
		}
	}
}

// ReadState replaces the Applier's side stores with a state written by
// WriteState. The history is restored into the Applier's *MemHistory (a
// history of another type is left alone). On error the Applier is unchanged.
func (a *Applier) ReadState(r io.Reader) error {
	a.Flush()
	d := &dec{r: bufio.NewReaderSize(r, 1<<16)}
	magic := make([]byte, len(stateMagic))
	d.full(magic)
	if d.err == nil && string(magic) != stateMagic {
		d.fail("not an applier state")
	}
	seen := newSeenIDs(a.seen.max)
	for n := d.count(); n > 0 && d.err == nil; n-- {
		seen.Add(d.str())
	}
	tombs := map[uint64]int64{}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		h := d.u64()
		tombs[h] = d.v()
	}
	held := map[string][]heldTS{}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		u := d.str()
		m := d.count()
		list := make([]heldTS, 0, min(m, 64))
		for ; m > 0 && d.err == nil; m-- {
			f := d.str()
			list = append(list, heldTS{field: a.internField(f), ts: d.v()})
		}
		held[u] = list
	}
	var hist *MemHistory
	if d.uv() == 1 {
		hist = readHistory(d)
	}
	arts := NewArticles()
	for n := d.count(); n > 0 && d.err == nil; n-- {
		art := Article{ID: d.str(), Title: d.str(), Topics: d.strs()}
		art.PublishedAt = time.Unix(0, d.v()).UTC()
		if m := d.count(); m > 0 {
			art.Embedding = make([]float32, 0, min(m, 4096))
			for ; m > 0 && d.err == nil; m-- {
				art.Embedding = append(art.Embedding, math.Float32frombits(d.u32()))
			}
		}
		arts.Put(art)
	}
	if d.err != nil {
		return fmt.Errorf("cannot read the applier state: %w", d.err)
	}
	a.seen, a.tombs, a.held = seen, tombs, held
	if mh, ok := a.history.(*MemHistory); ok && hist != nil {
		mh.mu.Lock()
		mh.users, mh.lists, mh.free, mh.arts, mh.artName = hist.users, hist.lists, hist.free, hist.arts, hist.artName
		mh.mu.Unlock()
	}
	a.articles.mu.Lock()
	a.articles.byID = arts.byID
	a.articles.mu.Unlock()
	return nil
}

// internField returns the schema's copy of a field name (so held times
// share their strings).
func (a *Applier) internField(f string) string {
	if i, ok := a.fields[f]; ok {
		return a.schema[i].Name
	}
	return f
}

func readHistory(d *dec) *MemHistory {
	h := NewMemHistory(int(d.uv()))
	h.artName = d.strs()
	for i, name := range h.artName {
		h.arts[name] = uint32(i)
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		u := d.str()
		m := d.count()
		list := make([]readEntry, 0, min(m, h.max))
		for ; m > 0 && d.err == nil; m-- {
			art := d.uv()
			ts := d.v()
			if art >= uint64(len(h.artName)) {
				d.fail("history entry names article %d of %d", art, len(h.artName))
				break
			}
			list = append(list, readEntry{ts: ts, art: uint32(art)})
		}
		if !slices.IsSortedFunc(list, cmpEntry) {
			d.fail("history of a user is not sorted")
		}
		h.setList(u, list)
	}
	return h
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// enc writes varints and strings with a sticky error.
type enc struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
	err error
}

func (e *enc) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}
func (e *enc) uv(x uint64) { e.raw(binary.AppendUvarint(e.buf[:0], x)) }
func (e *enc) v(x int64)   { e.raw(binary.AppendVarint(e.buf[:0], x)) }
func (e *enc) u64(x uint64) {
	e.raw(binary.LittleEndian.AppendUint64(e.buf[:0], x))
}
func (e *enc) u32(x uint32) {
	e.raw(binary.LittleEndian.AppendUint32(e.buf[:0], x))
}
func (e *enc) str(s string) {
	e.uv(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}
func (e *enc) strs(ss []string) {
	e.uv(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// dec reads what enc wrote, with a sticky error and bounded allocations.
type dec struct {
	r   *bufio.Reader
	err error
}

const maxStateString = 1 << 24

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadState, fmt.Sprintf(format, args...))
	}
}

func (d *dec) full(p []byte) {
	if d.err != nil {
		return
	}
	if _, err := io.ReadFull(d.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			d.fail("truncated")
			return
		}
		d.err = err
	}
}

func (d *dec) uv() uint64 {
	if d.err != nil {
		return 0
	}
	x, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.fail("truncated or bad varint")
	}
	return x
}

func (d *dec) v() int64 {
	if d.err != nil {
		return 0
	}
	x, err := binary.ReadVarint(d.r)
	if err != nil {
		d.fail("truncated or bad varint")
	}
	return x
}

// count reads a length; absurd ones fail (the loops stop at the error).
func (d *dec) count() int {
	n := d.uv()
	if n > 1<<32 {
		d.fail("count %d is too large", n)
		return 0
	}
	return int(n)
}

func (d *dec) u64() uint64 {
	var b [8]byte
	d.full(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (d *dec) u32() uint32 {
	var b [4]byte
	d.full(b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func (d *dec) str() string {
	n := d.uv()
	if n > maxStateString {
		d.fail("string of %d bytes is too long", n)
		return ""
	}
	if d.err != nil || n == 0 {
		return ""
	}
	b := make([]byte, n)
	d.full(b)
	return string(b)
}

func (d *dec) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, min(n, 1<<16))
	for ; n > 0 && d.err == nil; n-- {
		out = append(out, d.str())
	}
	return out
}
