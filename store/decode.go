package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/cohortd/cohortd/bitmaps"
)

const (
	maxDepth        = 10000 // nesting limit for ignored values, as encoding/json
	maxInterned     = 4096  // distinct strings interned per field
	maxShownValue   = 40    // bytes of a bad value quoted in an error
	timestampFormat = `RFC 3339 like "2026-01-10T08:00:00Z"`
)

// lineDecoder turns one NDJSON line into a user id and a Row of the schema.
// It is a hand-written JSON scanner: it reads the object once, converts each
// known attribute straight to its Row value (exact int64s, no intermediate
// map) and interns repeated strings so that a low-cardinality attribute
// costs no allocation per row. Not safe for concurrent use.
type lineDecoder struct {
	key    string
	schema bitmaps.Schema
	index  map[string]int // attribute name → position in schema

	// Per-line state.
	b     []byte
	i     int
	stamp []uint32 // stamp[f] == gen: field f already seen on this line
	gen   uint32

	// after[prev+2] is the field that followed field prev (or fieldKey,
	// fieldUnknown, or fieldStart) on the last line: lines usually list
	// attributes in the same order, so its quoted name, quoted[f+1], is
	// matched before anything else (nil when the name needs escapes).
	after  []int
	quoted [][]byte

	// Outputs besides the row: list elements are appended to arena (each
	// list a full slice expression of it), names of attributes not in the
	// schema to unknown.
	arena   []string
	unknown []string

	scratch      []byte           // unescaped string bytes
	interns      []interner       // per field: repeated strings and list elements
	lists        []map[string]any // per list field: boxed lists by JSON text
	unknownNames interner         // interned unknown attribute names
}

func newLineDecoder(key string, schema bitmaps.Schema) *lineDecoder {
	d := &lineDecoder{
		key:     key,
		schema:  schema,
		index:   make(map[string]int, len(schema)),
		stamp:   make([]uint32, len(schema)),
		interns: make([]interner, len(schema)),
		lists:   make([]map[string]any, len(schema)),
		after:   make([]int, len(schema)+2),
	}
	for i := range d.after {
		d.after[i] = fieldUnknown // no guess yet (0 would guess field 0, which may not exist)
	}
	d.quoted = make([][]byte, len(schema)+1)
	for i, name := range append([]string{key}, names(schema)...) {
		if name != "" && plainPrefix([]byte(name)) == len(name) {
			d.quoted[i] = []byte(`"` + name + `"`)
		}
	}
	for i, f := range schema {
		if f.Name == key {
			continue // the key wins; a schema never lists it
		}
		if _, dup := d.index[f.Name]; !dup {
			d.index[f.Name] = i
		}
		d.interns[i].box = f.Kind == bitmaps.KindString
	}
	return d
}

func names(schema bitmaps.Schema) []string {
	out := make([]string, len(schema))
	for i, f := range schema {
		out[i] = f.Name
	}
	return out
}

// decode parses line into row (len(schema) values, all overwritten) and
// returns the user's key. File and Line of a returned error are left for the
// caller.
func (d *lineDecoder) decode(line []byte, row bitmaps.Row) (string, *RowError) {
	d.b, d.i = line, 0
	d.gen++
	if d.gen == 0 { // wrapped: old stamps could collide
		clear(d.stamp)
		d.gen = 1
	}
	clear(row)
	d.ws()
	if d.i >= len(d.b) {
		return "", &RowError{Msg: "empty line"}
	}
	if c := d.b[d.i]; c != '{' {
		if desc, err := d.describe(); err != nil {
			return "", err
		} else {
			return "", &RowError{Msg: "want a JSON object, got " + desc}
		}
	}
	d.i++
	var (
		key    string
		hasKey bool
	)
	d.ws()
	if d.peek() == '}' {
		d.i++
	} else {
		prev := fieldStart
		for {
			f, name, err := d.attrName(prev)
			if err != nil {
				return "", err
			}
			d.ws()
			if d.peek() != ':' {
				return "", d.syntax("want ':'")
			}
			d.i++
			d.ws()
			prev = f
			if f == fieldKey {
				if hasKey {
					return "", &RowError{Field: d.key, Msg: "appears twice in the object"}
				}
				hasKey = true
				if key, err = d.keyValue(); err != nil {
					return "", err
				}
			} else if f >= 0 {
				if d.stamp[f] == d.gen {
					return "", &RowError{Field: d.schema[f].Name, Msg: "appears twice in the object"}
				}
				d.stamp[f] = d.gen
				if row[f], err = d.value(f); err != nil {
					return "", err
				}
			} else {
				d.countUnknown(name)
				if err := d.skip(0); err != nil {
					return "", err
				}
			}
			d.ws()
			switch d.peek() {
			case ',':
				d.i++
				d.ws()
				continue
			case '}':
				d.i++
			default:
				return "", d.syntax("want ',' or '}'")
			}
			break
		}
	}
	d.ws()
	if d.i < len(d.b) {
		return "", d.syntax("want the end of the line after the object")
	}
	if !hasKey {
		return "", &RowError{Msg: fmt.Sprintf("missing key attribute %q", d.key)}
	}
	return key, nil
}

const (
	fieldKey     = -1
	fieldUnknown = -2
	fieldStart   = -2 // as prev: no attribute yet (shares a slot with unknown)
)

// attrName reads an attribute name and returns its field (a schema index,
// fieldKey or fieldUnknown) and, unless its quoted form was matched as a
// whole, its bytes; prev is the field of the attribute before it.
func (d *lineDecoder) attrName(prev int) (int, []byte, *RowError) {
	if d.peek() != '"' {
		return 0, nil, d.syntax("want an attribute name")
	}
	if f := d.after[prev+2]; f != fieldUnknown {
		if q := d.quoted[f+1]; len(q) > 0 && bytes.HasPrefix(d.b[d.i:], q) {
			d.i += len(q)
			return f, nil, nil
		}
	}
	name, err := d.str()
	if err != nil {
		return 0, nil, err
	}
	f := fieldUnknown
	if string(name) == d.key {
		f = fieldKey
	} else if i, ok := d.index[string(name)]; ok {
		f = i
	}
	d.after[prev+2] = f
	return f, name, nil
}

// maxUnknownNames bounds the distinct unknown attribute names remembered;
// further ones are counted together.
const maxUnknownNames = 1000

func (d *lineDecoder) countUnknown(name []byte) {
	if k := d.unknownNames.find(name); k >= 0 {
		d.unknown = append(d.unknown, d.unknownNames.vals[k])
	} else if len(d.unknownNames.vals) < maxUnknownNames {
		d.unknown = append(d.unknown, d.unknownNames.str(name))
	} else {
		d.unknown = append(d.unknown, otherUnknown)
	}
}

// otherUnknown counts the unknown attribute names past maxUnknownNames.
const otherUnknown = "(other attributes)"

func (d *lineDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *lineDecoder) ws() {
	for d.i < len(d.b) && d.b[d.i] <= ' ' { // one test for most bytes
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// syntax reports invalid JSON at the current position.
func (d *lineDecoder) syntax(want string) *RowError {
	var got string
	if d.i >= len(d.b) {
		got = "the end of the line"
	} else if r, size := utf8.DecodeRune(d.b[d.i:]); r == utf8.RuneError && size <= 1 {
		got = fmt.Sprintf("byte 0x%02x", d.b[d.i])
	} else {
		got = strconv.QuoteRune(r)
	}
	return &RowError{Msg: fmt.Sprintf("not valid JSON at column %d: %s, got %s", d.i+1, want, got)}
}

// keyValue reads the key attribute's value: a non-empty string.
func (d *lineDecoder) keyValue() (string, *RowError) {
	if d.peek() == '"' {
		s, err := d.str()
		if err != nil {
			return "", err
		}
		if len(s) > 0 {
			return string(s), nil
		}
		return "", &RowError{Field: d.key, Msg: `want a non-empty string, got ""`}
	}
	desc, err := d.describe()
	if err != nil {
		return "", err
	}
	return "", &RowError{Field: d.key, Msg: "want a non-empty string, got " + desc}
}

// value reads the value of schema field f.
func (d *lineDecoder) value(f int) (any, *RowError) {
	c := d.peek()
	if c == 'n' {
		if err := d.literal("null"); err != nil {
			return nil, err
		}
		return nil, nil
	}
	kind := d.schema[f].Kind
	switch kind {
	case bitmaps.KindString:
		if c == '"' {
			s, err := d.str()
			if err != nil {
				return nil, err
			}
			return d.interns[f].boxed(s), nil
		}
	case bitmaps.KindInt, bitmaps.KindFloat:
		if c == '-' || (c >= '0' && c <= '9') {
			tok, err := d.number()
			if err != nil {
				return nil, err
			}
			if kind == bitmaps.KindInt {
				n, why := exactInt(tok)
				if why != "" {
					return nil, d.wrongType(f, "number "+string(tok)+" ("+why+")")
				}
				return n, nil
			}
			x, ok := parseFloat(tok)
			if !ok {
				return nil, d.wrongType(f, "number "+shorten(tok)+" (out of float64 range)")
			}
			return x, nil
		}
	case bitmaps.KindBool:
		switch c {
		case 't':
			if err := d.literal("true"); err != nil {
				return nil, err
			}
			return true, nil
		case 'f':
			if err := d.literal("false"); err != nil {
				return nil, err
			}
			return false, nil
		}
	case bitmaps.KindTime:
		if c == '"' {
			s, err := d.str()
			if err != nil {
				return nil, err
			}
			if t, ok := parseTimestamp(s); ok {
				return t, nil
			}
			return nil, d.wrongType(f, "string "+quote(s))
		}
	case bitmaps.KindStringList:
		if c == '[' {
			return d.list(f)
		}
	default:
		return nil, &RowError{Field: d.schema[f].Name, Msg: fmt.Sprintf("unsupported attribute kind %d", kind)}
	}
	desc, err := d.describe()
	if err != nil {
		return nil, err
	}
	return nil, d.wrongType(f, desc)
}

func (d *lineDecoder) wrongType(f int, got string) *RowError {
	return &RowError{Field: d.schema[f].Name, Msg: "want " + kindName(d.schema[f].Kind) + ", got " + got}
}

// list reads a JSON array of strings; an empty array is NULL.
func (d *lineDecoder) list(f int) (any, *RowError) {
	text := d.i
	if n, err := d.listPass(f, false); err != nil || n == 0 {
		return nil, err // [] is NULL
	}
	// Most lists repeat (peak_days, common tag sets): one boxed list is
	// shared by every row with the same JSON text, which saves interning
	// each element, a copy and a boxing allocation per row.
	m := d.lists[f]
	if v, ok := m[string(d.b[text:d.i])]; ok {
		return v, nil
	}
	end := d.i
	d.i = text
	start := len(d.arena)
	if _, err := d.listPass(f, true); err != nil {
		return nil, err // cannot happen: the first pass accepted it
	}
	l := d.arena[start:len(d.arena):len(d.arena)]
	if m == nil {
		m = make(map[string]any)
		d.lists[f] = m
	}
	if len(m) >= maxInterned { // past that many distinct lists, no sharing
		return l, nil
	}
	var v any = slices.Clone(l)
	d.arena = d.arena[:start]
	m[string(d.b[text:end])] = v
	return v, nil
}

// listPass reads a JSON array of strings at the cursor and returns its
// length, appending its (interned) elements to arena when keep is set.
func (d *lineDecoder) listPass(f int, keep bool) (int, *RowError) {
	d.i++ // '['
	d.ws()
	if d.peek() == ']' {
		d.i++
		return 0, nil
	}
	for n := 0; ; n++ {
		if d.peek() != '"' {
			desc, err := d.describe()
			if err != nil {
				return 0, err
			}
			return 0, d.wrongType(f, fmt.Sprintf("%s at index %d", desc, n))
		}
		s, err := d.str()
		if err != nil {
			return 0, err
		}
		if keep {
			d.arena = append(d.arena, d.interns[f].str(s))
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
			continue
		case ']':
			d.i++
			return n + 1, nil
		}
		return 0, d.syntax("want ',' or ']'")
	}
}

// describe reads the value at the cursor and says what it is, for a type
// error: `string "ten"`, `number 5.5`, `bool true`, `null`, `array`,
// `object`. A value that is not valid JSON is a syntax error.
func (d *lineDecoder) describe() (string, *RowError) {
	switch c := d.peek(); {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return "", err
		}
		return "string " + quote(s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		tok, err := d.number()
		if err != nil {
			return "", err
		}
		return "number " + shorten(tok), nil
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		switch c {
		case 't':
			lit = "true"
		case 'f':
			lit = "false"
		}
		if err := d.literal(lit); err != nil {
			return "", err
		}
		if c == 'n' {
			return "null", nil
		}
		return "bool " + lit, nil
	case c == '[':
		return "array", d.skip(0)
	case c == '{':
		return "object", d.skip(0)
	}
	return "", d.syntax("want a value")
}

// skip reads one JSON value of any kind without converting it.
func (d *lineDecoder) skip(depth int) *RowError {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '[' || c == '{':
		if depth >= maxDepth {
			return d.syntax("nesting too deep")
		}
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		d.i++
		d.ws()
		if d.peek() == closing {
			d.i++
			return nil
		}
		for {
			if c == '{' {
				if d.peek() != '"' {
					return d.syntax("want an attribute name")
				}
				if _, err := d.str(); err != nil {
					return err
				}
				d.ws()
				if d.peek() != ':' {
					return d.syntax("want ':'")
				}
				d.i++
				d.ws()
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			switch d.peek() {
			case ',':
				d.i++
				d.ws()
				continue
			case closing:
				d.i++
				return nil
			}
			return d.syntax("want ',' or '" + string(closing) + "'")
		}
	}
	return d.syntax("want a value")
}

func (d *lineDecoder) literal(lit string) *RowError {
	for j := 0; j < len(lit); j++ {
		if d.i >= len(d.b) || d.b[d.i] != lit[j] {
			return d.syntax("want " + lit)
		}
		d.i++
	}
	return nil
}

// number reads a JSON number and returns its text.
func (d *lineDecoder) number() ([]byte, *RowError) {
	start := d.i
	if d.peek() == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.i++
		d.digitRun()
	default:
		return nil, d.syntax("want a digit")
	}
	if d.peek() == '.' {
		d.i++
		if d.digitRun() == 0 {
			return nil, d.syntax("want a digit")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if d.digitRun() == 0 {
			return nil, d.syntax("want a digit")
		}
	}
	return d.b[start:d.i], nil
}

func (d *lineDecoder) digitRun() int {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// str reads a JSON string at the cursor ('"') and returns its unescaped
// bytes, which stay valid until the next call.
func (d *lineDecoder) str() ([]byte, *RowError) {
	d.i++ // opening quote
	start := d.i
	d.i += plainPrefix(d.b[start:])
	if d.i < len(d.b) && d.b[d.i] == '"' {
		d.i++
		return d.b[start : d.i-1], nil
	}
	ascii := true // so far: the plain prefix is
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			if !ascii && !utf8.Valid(s) {
				return nil, d.badUTF8(start)
			}
			d.i++
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return nil, d.syntax("want a string character (control characters must be escaped)")
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	return nil, d.syntax("want '\"'")
}

// plainPrefix returns the length of s's longest prefix of printable ASCII
// other than '"' and '\\': a string body that needs no unescaping nor UTF-8
// check. It tests 8 bytes at a time.
func plainPrefix(s []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		q := x ^ (ones * '"')  // zero bytes where s has a quote
		b := x ^ (ones * '\\') // zero bytes where s has a backslash
		// The high bit of a byte is set when it is ≥ 0x80, < 0x20 (borrow),
		// a quote or a backslash (zero); a borrow can only set bits above
		// the first such byte, so the lowest set bit finds it.
		if m := (x | (x - ones*0x20) | ((q - ones) &^ q) | ((b - ones) &^ b)) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			break
		}
	}
	return i
}

// strEscaped continues str from the first backslash, decoding into scratch.
func (d *lineDecoder) strEscaped(start int) ([]byte, *RowError) {
	out := append(d.scratch[:0], d.b[start:d.i]...)
	rawFrom := start
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.scratch = out
			if !utf8.Valid(out) {
				return nil, d.badUTF8(rawFrom)
			}
			d.i++
			return out, nil
		case c < 0x20:
			return nil, d.syntax("want a string character (control characters must be escaped)")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++ // backslash
		if d.i >= len(d.b) {
			return nil, d.syntax("want an escape sequence")
		}
		e := d.b[d.i]
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4(d.i + 1)
			if !ok {
				return nil, d.syntax(`want 4 hex digits after \u`)
			}
			d.i += 4
			if r >= 0xD800 && r < 0xDC00 { // high surrogate: a low one may follow
				if lo, ok := d.hex4(d.i + 3); ok && d.i+2 < len(d.b) &&
					d.b[d.i+1] == '\\' && d.b[d.i+2] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					d.i += 6
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, d.syntax("want an escape sequence")
		}
		d.i++
	}
	d.scratch = out
	return nil, d.syntax("want '\"'")
}

func (d *lineDecoder) hex4(at int) (rune, bool) {
	if at+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// badUTF8 reports the first invalid UTF-8 byte at or after from.
func (d *lineDecoder) badUTF8(from int) *RowError {
	for j := from; j < len(d.b); {
		r, size := utf8.DecodeRune(d.b[j:])
		if r == utf8.RuneError && size == 1 {
			return &RowError{Msg: fmt.Sprintf("not valid UTF-8 at column %d: byte 0x%02x", j+1, d.b[j])}
		}
		j += size
	}
	return &RowError{Msg: "not valid UTF-8"}
}

// interner shares the strings of repeated values (and, for a string field,
// their boxed form), so that a low-cardinality attribute costs no allocation
// per row. The first few values are found by a linear scan, more by a map;
// at most maxInterned are kept.
type interner struct {
	box   bool
	vals  []string
	boxes []any
	m     map[string]int32
}

const internScan = 8

func (in *interner) find(s []byte) int {
	if in.m != nil {
		if k, ok := in.m[string(s)]; ok {
			return int(k)
		}
		return -1
	}
	for k, v := range in.vals {
		if string(s) == v {
			return k
		}
	}
	return -1
}

func (in *interner) add(v string) {
	if len(in.vals) >= maxInterned {
		return
	}
	in.vals = append(in.vals, v)
	if in.box {
		in.boxes = append(in.boxes, v)
	}
	if in.m != nil {
		in.m[v] = int32(len(in.vals) - 1)
	} else if len(in.vals) > internScan {
		in.m = make(map[string]int32, 2*internScan)
		for k, v := range in.vals {
			in.m[v] = int32(k)
		}
	}
}

func (in *interner) str(s []byte) string {
	if k := in.find(s); k >= 0 {
		return in.vals[k]
	}
	v := string(s)
	in.add(v)
	return v
}

func (in *interner) boxed(s []byte) any {
	if k := in.find(s); k >= 0 {
		return in.boxes[k]
	}
	v := string(s)
	in.add(v)
	return v
}

// exactInt converts a JSON number to int64 exactly; why says why it cannot.
// 5.0, 50e-1 and 1e3 are integers; 5.5, 1e-3 and 2^63 are not.
func exactInt(tok []byte) (n int64, why string) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	var mant []byte // integer and fraction digits, concatenated
	var exp int64   // value = mant × 10^exp
	i := 0
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	intDigits := tok[:i]
	var fracDigits []byte
	if i < len(tok) && tok[i] == '.' {
		j := i + 1
		for j < len(tok) && tok[j] >= '0' && tok[j] <= '9' {
			j++
		}
		fracDigits = tok[i+1 : j]
		i = j
	}
	if i < len(tok) { // exponent
		i++
		eneg := false
		if tok[i] == '+' || tok[i] == '-' {
			eneg = tok[i] == '-'
			i++
		}
		for ; i < len(tok); i++ {
			if exp < 1e9 { // saturate: far beyond any int64
				exp = exp*10 + int64(tok[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// Fast path: a plain integer.
	if len(fracDigits) == 0 && exp == 0 {
		mant = intDigits
	} else {
		mant = make([]byte, 0, len(intDigits)+len(fracDigits))
		mant = append(append(mant, intDigits...), fracDigits...)
		exp -= int64(len(fracDigits))
	}
	for len(mant) > 0 && mant[0] == '0' {
		mant = mant[1:]
	}
	if len(mant) == 0 {
		return 0, ""
	}
	for len(mant) > 0 && mant[len(mant)-1] == '0' {
		mant = mant[:len(mant)-1]
		exp++
	}
	if exp < 0 {
		return 0, "not an integer"
	}
	if int64(len(mant))+exp > 19 {
		return 0, "out of int64 range"
	}
	var u uint64
	for _, c := range mant {
		u = u*10 + uint64(c-'0') // at most 19 digits: no overflow
	}
	for ; exp > 0; exp-- {
		if u > math.MaxUint64/10 {
			return 0, "out of int64 range"
		}
		u *= 10
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), ""
	case neg && u <= 1<<63:
		return int64(-u), ""
	}
	return 0, "out of int64 range"
}

// parseFloat converts a JSON number as strconv.ParseFloat does; ok is false
// beyond float64's range. Plain decimals of up to 15 significant digits
// (most data) take a fast path that is exact: the digits and the power of
// ten are both exact float64s and one division rounds correctly.
func parseFloat(tok []byte) (float64, bool) {
	if x, ok := fastFloat(tok); ok {
		return x, true
	}
	x, err := strconv.ParseFloat(string(tok), 64)
	return x, err == nil || !(math.IsInf(x, 0) || math.IsNaN(x))
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

func fastFloat(tok []byte) (float64, bool) {
	i, neg := 0, tok[0] == '-'
	if neg {
		i = 1
	}
	var m uint64
	frac := -1 // digits after the point, -1 before it
	for ; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			if m >= 1e15 {
				return 0, false
			}
			if frac >= 0 {
				if frac++; frac >= len(pow10) {
					return 0, false
				}
			}
		case c == '.':
			frac = 0
		default: // an exponent
			return 0, false
		}
	}
	x := float64(m)
	if frac > 0 {
		x /= pow10[frac]
	}
	if neg {
		x = -x
	}
	return x, true
}

// kindName names a kind in errors, with the expected format of timestamps.
func kindName(k bitmaps.Kind) string {
	if k == bitmaps.KindTime {
		return k.String() + " (" + timestampFormat + ")"
	}
	return k.String()
}

// quote quotes a user value for an error, cut to maxShownValue bytes.
func quote(s []byte) string {
	if len(s) <= maxShownValue {
		return strconv.Quote(string(s))
	}
	cut := maxShownValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(string(s[:cut])) + "…"
}

func shorten(tok []byte) string {
	if len(tok) <= maxShownValue {
		return string(tok)
	}
	return string(tok[:maxShownValue]) + "…"
}
