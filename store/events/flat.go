package events

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The event fields decodeFlat reads; the others are skipped.
const (
	fEventID = iota
	fType
	fUserID
	fTS
	fArticleID
	fDevice
	fTitle
	nFlat
)

var flatNames = [...]string{
	fEventID:   "event_id",
	fType:      "type",
	fUserID:    "user_id",
	fTS:        "ts",
	fArticleID: "article_id",
	fDevice:    "device",
	fTitle:     "title",
}

// every JSON field name the decoders know, for the case-insensitive
// matching of encoding/json that decodeFlat leaves to them.
var knownNames = append(flatNames[:], "topics", "embedding", "attributes")

type span struct{ from, to int }

// maxFlatTopics bounds the topics decodeFlat takes (more: the general path).
const maxFlatTopics = 16

// flatScan is what one pass over a flat event found: where each string is.
type flatScan struct {
	str    [nFlat]span
	has    [nFlat]bool
	topics [maxFlatTopics]span
	nTop   int
	hasTop bool
}

// decodeFlat decodes, without reflection and with three allocations, the
// events that are one flat JSON object of plain strings and arrays of
// strings (no escapes, no nulls, no numbers, no nested objects): page
// views, session ends, deletions, articles without an embedding. ok false
// means "use decodeFast/decodeSlow", which decide every other input, so
// the result is always theirs (FuzzDecode checks it).
func (d *Decoder) decodeFlat(data []byte) (ev Event, ok bool) {
	var s flatScan
	if len(data) > MaxEventBytes || !s.scan(data) || !s.has[fType] || !s.has[fTS] {
		return ev, false
	}
	t, known := ParseType(unsafeString(data, s.str[fType]))
	if !known || t == ProfileUpdate { // a profile_update needs attributes
		return ev, false
	}
	ts, err := parseTS(unsafeString(data, s.str[fTS]))
	if err != nil {
		return ev, false
	}
	ev.Type, ev.TS = t, ts
	// user_id is kept apart: it becomes a map key of the read history (and
	// of the recommender), which must not hold on to the other values.
	want := [nFlat]bool{fEventID: true}
	switch t {
	case PageView:
		want[fArticleID], want[fDevice] = true, true
	case ArticlePublished:
		want[fArticleID], want[fTitle] = true, true
	}
	if t != ArticlePublished && (!s.has[fUserID] || s.str[fUserID].to == s.str[fUserID].from) {
		return ev, false
	}
	if t == ArticlePublished && (!s.has[fArticleID] || s.str[fArticleID].to == s.str[fArticleID].from) {
		return ev, false
	}
	takeTopics := s.hasTop && (t == PageView || t == ArticlePublished)
	// One string holds every value kept; the fields are slices of it.
	n := 0
	for f := range nFlat {
		if want[f] && s.has[f] {
			n += s.str[f].to - s.str[f].from
		}
	}
	if takeTopics {
		for _, sp := range s.topics[:s.nTop] {
			n += sp.to - sp.from
		}
	}
	var b strings.Builder
	b.Grow(n)
	var at [nFlat]span
	for f := range nFlat {
		if want[f] && s.has[f] {
			at[f].from = b.Len()
			b.Write(data[s.str[f].from:s.str[f].to])
			at[f].to = b.Len()
		}
	}
	var topAt [maxFlatTopics]span
	if takeTopics {
		for i, sp := range s.topics[:s.nTop] {
			topAt[i].from = b.Len()
			b.Write(data[sp.from:sp.to])
			topAt[i].to = b.Len()
		}
	}
	all := b.String()
	get := func(f int) string { return all[at[f].from:at[f].to] }
	ev.ID = get(fEventID)
	if t != ArticlePublished {
		ev.UserID = string(data[s.str[fUserID].from:s.str[fUserID].to])
	}
	ev.ArticleID = get(fArticleID)
	ev.Device = get(fDevice)
	ev.Title = get(fTitle)
	if takeTopics {
		ev.Topics = make([]string, s.nTop)
		for i := range ev.Topics {
			ev.Topics[i] = all[topAt[i].from:topAt[i].to]
		}
	}
	return ev, true
}

// unsafeString views data[sp] as a string for a call that does not keep
// it (ParseType, parseTS).
func unsafeString(data []byte, sp span) string {
	if sp.to == sp.from {
		return ""
	}
	return unsafe.String(&data[sp.from], sp.to-sp.from)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// scanStr scans the string starting at data[i] ('"'); ok false for an escape,
// a control character or invalid UTF-8 (encoding/json decodes or replaces
// those: the general path handles them).
func scanStr(data []byte, i int) (sp span, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return sp, 0, false
	}
	i++
	sp.from = i
	ascii := true
	for ; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			sp.to = i
			if !ascii && !utf8.Valid(data[sp.from:sp.to]) {
				return sp, 0, false
			}
			return sp, i + 1, true
		case c == '\\' || c < 0x20:
			return sp, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return sp, 0, false
}

// scan walks one object of string and string-array values, recording the
// known fields (the last of a repeated name wins, as in encoding/json).
func (s *flatScan) scan(data []byte) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		key, next, ok := scanStr(data, i)
		if !ok {
			return false
		}
		name := unsafeString(data, key)
		i = skipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		if i >= len(data) {
			return false
		}
		f := -1
		switch name {
		case "embedding", "attributes":
			return false
		case "topics":
			f = nFlat
		default:
			for j, n := range flatNames {
				if n == name {
					f = j
					break
				}
			}
			if f < 0 {
				for _, n := range knownNames {
					if strings.EqualFold(n, name) {
						return false // encoding/json would match it
					}
				}
			}
		}
		if data[i] == '[' {
			if f >= 0 && f != nFlat {
				return false // a known string field given an array: the general path words the error
			}
			if i, ok = s.array(data, i, f == nFlat); !ok {
				return false
			}
		} else {
			if f == nFlat {
				return false
			}
			sp, next, ok := scanStr(data, i)
			if !ok {
				return false
			}
			if f >= 0 {
				s.str[f], s.has[f] = sp, true
			}
			i = next
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// array scans an array of strings at data[i] ('['), keeping them as the
// topics when keep is set.
func (s *flatScan) array(data []byte, i int, keep bool) (int, bool) {
	if keep {
		s.hasTop, s.nTop = true, 0
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, true
	}
	for {
		sp, next, ok := scanStr(data, i)
		if !ok {
			return 0, false
		}
		if keep {
			if s.nTop == maxFlatTopics {
				return 0, false
			}
			s.topics[s.nTop] = sp
			s.nTop++
		}
		i = skipSpace(data, next)
		if i >= len(data) {
			return 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}
