package realtime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/kafka"
)

// SnapshotFile is the name of the snapshot in the state directory.
const SnapshotFile = "snapshot.cohortd"

const snapMagic = "cohortd-realtime-snapshot-1\n"

// ErrBadSnapshot is wrapped when the state directory's snapshot is torn,
// corrupt or of another format.
var ErrBadSnapshot = errors.New("bad state snapshot")

// snapHeader is the JSON head of a snapshot.
type snapHeader struct {
	CreatedAt time.Time        `json:"created_at"`
	Key       string           `json:"key"`
	Schema    []snapField      `json:"schema"`
	Offsets   []kafka.Position `json:"offsets"`
	Cohorts   []string         `json:"cohorts"` // published bitmaps, in this order
	Users     int              `json:"users"`
}

type snapField struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

func schemaOf(s bitmaps.Schema) []snapField {
	out := make([]snapField, len(s))
	for i, f := range s {
		out[i] = snapField{Name: f.Name, Kind: f.Kind.String()}
	}
	return out
}

// snapshotState is what one snapshot holds.
type snapshotState struct {
	header    snapHeader
	ix        *bitmaps.Index
	applier   []byte // events.Applier state (restored by the caller)
	published map[string]*roaring.Bitmap
}

// A snapshot file is:
//
//	magic | u64 len | header JSON | u64 len | index | u64 len | applier |
//	u64 count | (u64 len | name | u64 len | roaring bitmap)* | u32 CRC-32C
//
// The CRC covers every byte before it.
type sectionWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	err error
}

func (s *sectionWriter) write(p []byte) {
	if s.err != nil {
		return
	}
	if _, err := s.w.Write(p); err != nil {
		s.err = err
		return
	}
	s.crc.Write(p)
}

func (s *sectionWriter) u64(x uint64) { s.write(binary.LittleEndian.AppendUint64(nil, x)) }

func (s *sectionWriter) section(p []byte) {
	s.u64(uint64(len(p)))
	s.write(p)
}

// captured is a snapshot serialised in memory (under the pipeline's lock,
// so its parts describe one instant); write puts it in a file later.
type captured struct {
	header  snapHeader
	index   []byte
	applier []byte
	bitmaps [][]byte // aligned with header.Cohorts
}

// capture serialises the parts of a snapshot.
func capture(h snapHeader, ix *bitmaps.Index, applier func(io.Writer) error, published []*roaring.Bitmap) (*captured, error) {
	c := &captured{header: h}
	var buf bytes.Buffer
	buf.Grow(64 << 10)
	if _, err := ix.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("cannot serialise the index: %w", err)
	}
	c.index = buf.Bytes()
	var ab bytes.Buffer
	if err := applier(&ab); err != nil {
		return nil, err
	}
	c.applier = ab.Bytes()
	for i, b := range published {
		var bb bytes.Buffer
		if _, err := b.WriteTo(&bb); err != nil {
			return nil, fmt.Errorf("cannot serialise cohort %q: %w", h.Cohorts[i], err)
		}
		c.bitmaps = append(c.bitmaps, bb.Bytes())
	}
	return c, nil
}

// encode writes the snapshot's bytes to w.
func (c *captured) encode(w io.Writer) error {
	sw := &sectionWriter{w: bufio.NewWriterSize(w, 1<<20), crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	sw.write([]byte(snapMagic))
	head, err := json.Marshal(c.header)
	if err != nil {
		return err
	}
	sw.section(head)
	sw.section(c.index)
	sw.section(c.applier)
	sw.u64(uint64(len(c.bitmaps)))
	for i, b := range c.bitmaps {
		sw.section([]byte(c.header.Cohorts[i]))
		sw.section(b)
	}
	sw.write(binary.LittleEndian.AppendUint32(nil, sw.crc.Sum32()))
	if sw.err != nil {
		return sw.err
	}
	return sw.w.Flush()
}

// writeSnapshotFile writes atomically into dir: a temporary file, fsync,
// rename over SnapshotFile, fsync of the directory.
func writeSnapshotFile(dir string, encode func(io.Writer) error) error {
	tmp, err := os.CreateTemp(dir, SnapshotFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot create a snapshot in %q: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := encode(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write snapshot %q: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot sync snapshot %q: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot close snapshot %q: %w", tmp.Name(), err)
	}
	final := filepath.Join(dir, SnapshotFile)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("cannot move the snapshot into place: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// removeTemporaries deletes snapshots a crash left half-written.
func removeTemporaries(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, SnapshotFile+".tmp-*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

// readSnapshotFile reads dir's snapshot; (nil, nil) when there is none.
func readSnapshotFile(dir string) (*snapshotState, error) {
	data, err := os.ReadFile(filepath.Join(dir, SnapshotFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the state snapshot: %w", err)
	}
	st, err := decodeSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("cannot read the state snapshot %q: %w", filepath.Join(dir, SnapshotFile), err)
	}
	return st, nil
}

func decodeSnapshot(data []byte) (*snapshotState, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	if len(data) < len(snapMagic)+4 || !strings.HasPrefix(string(data), snapMagic) {
		return nil, bad("not a cohortd snapshot")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return nil, bad("checksum mismatch (torn or corrupt file)")
	}
	rest := body[len(snapMagic):]
	next := func() ([]byte, error) {
		if len(rest) < 8 {
			return nil, bad("truncated")
		}
		n := binary.LittleEndian.Uint64(rest)
		rest = rest[8:]
		if n > uint64(len(rest)) {
			return nil, bad("section of %d bytes beyond the end", n)
		}
		sec := rest[:n]
		rest = rest[n:]
		return sec, nil
	}
	st := &snapshotState{published: map[string]*roaring.Bitmap{}}
	head, err := next()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(head, &st.header); err != nil {
		return nil, bad("header: %v", err)
	}
	ixData, err := next()
	if err != nil {
		return nil, err
	}
	if st.ix, err = bitmaps.ReadIndex(bytes.NewReader(ixData)); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrBadSnapshot, err)
	}
	if st.applier, err = next(); err != nil {
		return nil, err
	}
	if len(rest) < 8 {
		return nil, bad("truncated")
	}
	n := binary.LittleEndian.Uint64(rest)
	rest = rest[8:]
	if n != uint64(len(st.header.Cohorts)) {
		return nil, bad("%d cohort bitmaps for %d cohorts", n, len(st.header.Cohorts))
	}
	for i := uint64(0); i < n; i++ {
		name, err := next()
		if err != nil {
			return nil, err
		}
		bm, err := next()
		if err != nil {
			return nil, err
		}
		b := roaring.New()
		if _, err := b.ReadFrom(bytes.NewReader(bm)); err != nil {
			return nil, bad("cohort %q: %v", name, err)
		}
		st.published[string(name)] = b
	}
	if len(rest) != 0 {
		return nil, bad("%d bytes after the last section", len(rest))
	}
	return st, nil
}

// sameSchema says whether a snapshot was taken for this catalog.
func (h *snapHeader) sameSchema(key string, s bitmaps.Schema) bool {
	return h.Key == key && slices.Equal(h.Schema, schemaOf(s))
}
