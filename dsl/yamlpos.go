package dsl

import (
	"sort"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// This file maps byte offsets inside a decoded YAML scalar back to the file,
// so an expression's errors point into cohorts.yaml (like cel-go's policy
// package). yaml.v3 gives each node's line and column (counted in runes); the
// decoded value differs from the raw text by quoting, escapes, folding and
// block indentation, so each style is re-decoded here while recording, for
// every output byte, the source offset it came from. The re-decoding is
// checked against yaml.v3's value; if they ever disagree a coarser
// alignment is used instead, so positions degrade but never break.

// srcIndex answers position questions about a source file. Columns are
// 1-based and count characters (runes), as editors and yaml.v3 do; an
// invalid UTF-8 byte counts as one character.
type srcIndex struct {
	src        []byte
	lineStarts []int // byte offset of each line's first byte
	// Multi-byte characters, so a byte offset becomes a column in
	// O(log n) without rescanning the line: mbStarts holds the offset of
	// each one (ascending) and mbExtra the bytes beyond the first of it
	// and of all those before it. Both are empty for ASCII text.
	mbStarts []int
	mbExtra  []int
}

func newSrcIndex(src []byte) *srcIndex {
	ix := &srcIndex{src: src, lineStarts: []int{0}}
	extra := 0
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if c == '\n' {
				ix.lineStarts = append(ix.lineStarts, i+1)
			}
			i++
			continue
		}
		_, n := utf8.DecodeRune(src[i:])
		if n > 1 {
			extra += n - 1
			ix.mbStarts = append(ix.mbStarts, i)
			ix.mbExtra = append(ix.mbExtra, extra)
		}
		i += n
	}
	return ix
}

// extraBefore is the number of bytes beyond the first of the multi-byte
// characters that start before offset off.
func (ix *srcIndex) extraBefore(off int) int {
	i := sort.SearchInts(ix.mbStarts, off) // characters starting before off
	if i == 0 {
		return 0
	}
	return ix.mbExtra[i-1]
}

// runeStart moves an offset inside a multi-byte character back to its
// first byte. (A stray continuation byte is a character of its own.)
func (ix *srcIndex) runeStart(off int) int {
	i := sort.SearchInts(ix.mbStarts, off) - 1 // the last one starting before off
	if i < 0 {
		return off
	}
	size := ix.mbExtra[i] + 1
	if i > 0 {
		size -= ix.mbExtra[i-1]
	}
	if ix.mbStarts[i]+size > off {
		return ix.mbStarts[i]
	}
	return off
}

// offsetOf converts a yaml.v3 position (1-based line, 1-based column counted
// in runes) to a byte offset.
func (ix *srcIndex) offsetOf(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(ix.lineStarts) {
		return len(ix.src)
	}
	off := ix.lineStarts[line-1]
	end := len(ix.src)
	if line < len(ix.lineStarts) {
		end = ix.lineStarts[line] - 1
	}
	if ix.extraBefore(end) == ix.extraBefore(off) {
		// An ASCII line: the column is the byte offset.
		return min(off+max(col, 1)-1, end)
	}
	for c := 1; c < col && off < len(ix.src) && ix.src[off] != '\n'; c++ {
		_, n := utf8.DecodeRune(ix.src[off:])
		off += n
	}
	return off
}

// pos converts a byte offset to a file position whose column counts
// characters; an offset inside a multi-byte character is that character's.
func (ix *srcIndex) pos(file string, off int) Pos {
	off = ix.runeStart(max(0, min(off, len(ix.src))))
	line := sort.Search(len(ix.lineStarts), func(i int) bool { return ix.lineStarts[i] > off })
	start := ix.lineStarts[line-1]
	col := off - start - (ix.extraBefore(off) - ix.extraBefore(start)) + 1
	return Pos{File: file, Line: line, Column: col}
}

// nodePos is the file position of a yaml node.
func (ix *srcIndex) nodePos(file string, n *yaml.Node) Pos {
	return ix.pos(file, ix.offsetOf(n.Line, n.Column))
}

// line returns the text of a 1-based line without its line break.
func (ix *srcIndex) line(n int) string {
	if n < 1 || n > len(ix.lineStarts) {
		return ""
	}
	start := ix.lineStarts[n-1]
	end := len(ix.src)
	if n < len(ix.lineStarts) {
		end = ix.lineStarts[n] - 1
	}
	if end > start && ix.src[end-1] == '\r' {
		end--
	}
	if end < start {
		return ""
	}
	return string(ix.src[start:end])
}

// scalarMapper returns the PosMapper of the value of scalar node n. parentIndent
// is the indentation of the block holding n (the column of its key minus
// one), needed only for block scalars with an explicit indentation indicator.
func (ix *srcIndex) scalarMapper(file string, n *yaml.Node, parentIndent int) PosMapper {
	offs, _ := ix.scalarOffsets(n, parentIndent)
	return func(off int) Pos {
		if off < 0 {
			off = 0
		}
		if off >= len(offs) {
			off = len(offs) - 1
		}
		return ix.pos(file, offs[off])
	}
}

// scalarOffsets returns, for each byte of n.Value and for the end of it, the
// source offset it was decoded from; exact is false when the fallback
// alignment was used.
func (ix *srcIndex) scalarOffsets(n *yaml.Node, parentIndent int) (offs []int, exact bool) {
	start := ix.offsetOf(n.Line, n.Column)
	d := &scalarDecoder{src: ix.src, want: n.Value}
	ok := false
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		ok = d.flow(start+1, '"')
	case n.Style&yaml.SingleQuotedStyle != 0:
		ok = d.flow(start+1, '\'')
	case n.Style&yaml.LiteralStyle != 0:
		ok = d.block(start, parentIndent, false)
	case n.Style&yaml.FoldedStyle != 0:
		ok = d.block(start, parentIndent, true)
	default:
		ok = d.flow(start, 0)
	}
	exact = ok && string(d.out) == n.Value
	if !exact {
		d.align(start)
	}
	return d.finish(start), exact
}

// scalarDecoder re-decodes one scalar, recording source offsets.
type scalarDecoder struct {
	src  []byte
	want string
	out  []byte
	offs []int
}

func (d *scalarDecoder) full() bool { return len(d.out) >= len(d.want) }

func (d *scalarDecoder) emit(b byte, off int) {
	if d.full() {
		return
	}
	d.out = append(d.out, b)
	d.offs = append(d.offs, off)
}

func (d *scalarDecoder) emitString(s string, off int) {
	for i := 0; i < len(s); i++ {
		d.emit(s[i], off)
	}
}

// finish adds the end position: just after the last byte decoded.
func (d *scalarDecoder) finish(start int) []int {
	end := start
	if len(d.offs) > 0 {
		end = d.offs[len(d.offs)-1] + 1
	}
	return append(d.offs, end)
}

func isBreak(c byte) bool { return c == '\n' || c == '\r' }
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// skipBreak skips one line break at i.
func (d *scalarDecoder) skipBreak(i int) int {
	if d.src[i] == '\r' && i+1 < len(d.src) && d.src[i+1] == '\n' {
		return i + 2
	}
	return i + 1
}

// flow decodes a plain (quote == 0), single- or double-quoted scalar from
// offset i, folding line breaks as YAML does: trailing and leading blanks
// around a break vanish, one break becomes a space, n breaks become n-1
// newlines.
func (d *scalarDecoder) flow(i int, quote byte) bool {
	var blanks []int // offsets of pending blanks (kept only if content follows)
	src := d.src
	for i < len(src) && !d.full() {
		c := src[i]
		switch {
		case isBreak(c):
			first := i
			var breaks []int
			for i < len(src) && (isBreak(src[i]) || isBlank(src[i])) {
				if isBreak(src[i]) {
					breaks = append(breaks, i)
					i = d.skipBreak(i)
				} else {
					i++
				}
			}
			blanks = blanks[:0]
			if len(breaks) == 1 {
				d.emit(' ', first)
			} else {
				for _, b := range breaks[1:] {
					d.emit('\n', b)
				}
			}
			continue
		case isBlank(c):
			blanks = append(blanks, i)
			i++
			continue
		}
		for _, b := range blanks {
			d.emit(src[b], b)
		}
		blanks = blanks[:0]
		switch {
		case quote == '\'' && c == '\'':
			if i+1 < len(src) && src[i+1] == '\'' {
				d.emit('\'', i)
				i += 2
				continue
			}
			return true
		case quote == '"' && c == '"':
			return true
		case quote == '"' && c == '\\':
			next, ok := d.escape(i)
			if !ok {
				return false
			}
			i = next
			continue
		}
		d.emit(c, i)
		i++
	}
	return true
}

var simpleEscapes = map[byte]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n",
	'v': "\v", 'f': "\f", 'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"",
	'/': "/", '\\': "\\", 'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
}

// escape decodes the double-quoted escape at i (a backslash) and returns the
// offset after it. Every decoded byte maps to the backslash.
func (d *scalarDecoder) escape(i int) (int, bool) {
	src := d.src
	if i+1 >= len(src) {
		return i, false
	}
	c := src[i+1]
	if s, ok := simpleEscapes[c]; ok {
		d.emitString(s, i)
		return i + 2, true
	}
	if isBreak(c) {
		// An escaped line break: no output, and the next line's leading
		// blanks are dropped.
		j := d.skipBreak(i + 1)
		for j < len(src) && isBlank(src[j]) {
			j++
		}
		return j, true
	}
	width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
	if width == 0 || i+2+width > len(src) {
		return i, false
	}
	v, err := strconv.ParseUint(string(src[i+2:i+2+width]), 16, 32)
	if err != nil {
		return i, false
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], rune(v))
	d.emitString(string(buf[:n]), i)
	return i + 2 + width, true
}

// block decodes a literal (|) or folded (>) block scalar whose indicator is
// at offset i.
func (d *scalarDecoder) block(i int, parentIndent int, folded bool) bool {
	src := d.src
	i++ // the indicator
	explicit := 0
	for i < len(src) && !isBreak(src[i]) && !isBlank(src[i]) && src[i] != '#' {
		if src[i] >= '1' && src[i] <= '9' {
			explicit = int(src[i] - '0')
		}
		i++
	}
	for i < len(src) && !isBreak(src[i]) {
		i++ // blanks and a comment
	}
	if i >= len(src) {
		return true
	}
	i = d.skipBreak(i)

	// Split the rest into lines.
	type line struct{ start, end, brk int } // brk: offset of the line break (or end)
	var lines []line
	for j := i; j < len(src); {
		k := j
		for k < len(src) && !isBreak(src[k]) {
			k++
		}
		lines = append(lines, line{start: j, end: k, brk: k})
		if k >= len(src) {
			break
		}
		j = d.skipBreak(k)
	}
	lead := func(l line) int {
		n := 0
		for l.start+n < l.end && src[l.start+n] == ' ' {
			n++
		}
		return n
	}
	blankLine := func(l line) bool {
		for k := l.start; k < l.end; k++ {
			if !isBlank(src[k]) {
				return false
			}
		}
		return true
	}
	indent := parentIndent + explicit
	if explicit == 0 {
		indent = 0
		for _, l := range lines {
			if !blankLine(l) {
				indent = lead(l)
				break
			}
		}
	}
	// content returns the offset after the indentation, or -1 when the
	// line is empty (only blanks up to the indentation).
	content := func(l line) int {
		if l.end-l.start <= indent && blankLine(l) {
			return -1
		}
		if blankLine(l) && l.end-l.start > indent {
			return l.start + indent
		}
		if lead(l) < indent {
			return -2 // less indented: the scalar has ended
		}
		return l.start + indent
	}

	if !folded {
		for _, l := range lines {
			if d.full() {
				break
			}
			c := content(l)
			if c == -2 {
				break
			}
			if c >= 0 {
				for k := c; k < l.end; k++ {
					d.emit(src[k], k)
				}
			}
			d.emit('\n', l.brk)
		}
		return true
	}

	first, prevMore := true, false
	var empties []int
	lastBreak := i
	for _, l := range lines {
		if d.full() {
			break
		}
		c := content(l)
		if c == -2 {
			break
		}
		if c == -1 {
			empties = append(empties, l.brk)
			continue
		}
		more := c < l.end && isBlank(src[c])
		switch {
		case first:
			for _, e := range empties {
				d.emit('\n', e)
			}
		case !prevMore && !more:
			if len(empties) == 0 {
				d.emit(' ', lastBreak)
			}
			for _, e := range empties {
				d.emit('\n', e)
			}
		default:
			d.emit('\n', lastBreak)
			for _, e := range empties {
				d.emit('\n', e)
			}
		}
		for k := c; k < l.end; k++ {
			d.emit(src[k], k)
		}
		lastBreak, prevMore, first, empties = l.brk, more, false, nil
	}
	if !first {
		d.emit('\n', lastBreak)
	}
	for _, e := range empties {
		d.emit('\n', e)
	}
	return true
}

// align is the fallback when re-decoding disagrees with yaml.v3: it walks the
// value and the source together, matching equal bytes and keeping the last
// matched offset for bytes it cannot find nearby.
func (d *scalarDecoder) align(start int) {
	d.out, d.offs = []byte(d.want), d.offs[:0]
	src := d.src
	j, last := start, start
	for i := 0; i < len(d.want); i++ {
		found := -1
		for k := j; k < len(src) && k < j+64; k++ {
			if src[k] == d.want[i] {
				found = k
				break
			}
		}
		if found >= 0 {
			last, j = found, found+1
		}
		d.offs = append(d.offs, last)
	}
}
