package server

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/dsl"
)

// Member export limits (GET /api/v1/cohorts/{name}/members).
const (
	DefaultMembersLimit = 1000
	MaxMembersLimit     = 100000
	// flushEvery is how many streamed rows go out per flush.
	flushEvery = 1024
)

// HeaderNextCursor carries the next page's cursor for paginated CSV/NDJSON
// (JSON pages carry it in the body as next_cursor).
const HeaderNextCursor = "X-Next-Cursor"

const cursorPrefix = "c1:"

// encodeCursor makes the opaque cursor that resumes after userID.
func encodeCursor(userID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + userID))
}

// decodeCursor returns the user id a cursor resumes after ("" for none).
func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) || len(raw) == len(cursorPrefix) {
		return "", newError(http.StatusBadRequest, "invalid_cursor",
			"the cursor is not one this server gave out; start again without a cursor").with("cursor", c)
	}
	return string(raw[len(cursorPrefix):]), nil
}

// exporter formats member rows: the user id then the chosen fields.
// It is built per request and used by one goroutine.
type exporter struct {
	ix     *bitmaps.Index
	fields []bitmaps.Field
	rec    []string // reused CSV record
}

// exportFields resolves fields= (or the cohort's export: list when absent).
func exportFields(snap *snapshot, param string, present bool, defaults []string) ([]bitmaps.Field, error) {
	names := defaults
	if present {
		names = strings.Split(param, ",")
	}
	schema := snap.set.Schema()
	var out []bitmaps.Field
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || n == snap.set.Key() || n == "user_id" || seen[n] {
			continue
		}
		seen[n] = true
		f, ok := fieldByName(schema, n)
		if !ok {
			all := make([]string, len(schema))
			for i, f := range schema {
				all[i] = f.Name
			}
			e := newError(http.StatusBadRequest, "unknown_field", "unknown field %q", n).with("field", n)
			if sug := dsl.Suggest(n, all); sug != "" {
				e.Message += fmt.Sprintf(" (did you mean %q?)", sug)
				e.with("did_you_mean", sug)
			}
			return nil, e
		}
		out = append(out, f)
	}
	return out, nil
}

func fieldByName(schema bitmaps.Schema, name string) (bitmaps.Field, bool) {
	for _, f := range schema {
		if f.Name == name {
			return f, true
		}
	}
	return bitmaps.Field{}, false
}

func (s *Server) members(c *fiber.Ctx) error {
	snap, co, now, err := s.cohortAt(c)
	if err != nil {
		return err
	}
	format := c.Query("format", "json")
	if format != "json" && format != "csv" && format != "ndjson" {
		return newError(http.StatusBadRequest, "invalid_format", "format must be json, csv or ndjson").with("format", format)
	}
	limit, hasLimit := DefaultMembersLimit, c.Query("limit") != ""
	if hasLimit {
		limit, err = strconv.Atoi(c.Query("limit"))
		if err != nil || limit < 1 || limit > MaxMembersLimit {
			return newError(http.StatusBadRequest, "invalid_limit", "limit must be an integer between 1 and %d", MaxMembersLimit).
				with("limit", c.Query("limit"))
		}
	}
	after, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	fields, err := exportFields(snap, c.Query("fields"), c.Context().QueryArgs().Has("fields"), co.Export)
	if err != nil {
		return err
	}
	ctx, cancel := s.work(c)
	defer cancel()
	b, err := snap.ev.CohortMembers(ctx, co.Name, now)
	if err != nil {
		return err
	}
	ex := &exporter{ix: snap.ix, fields: fields}

	if format != "json" && !hasLimit {
		s.stream(c, ex, b, co.Name, format == "csv", after)
		return nil
	}
	page, next := pageOf(snap.ix, b, after, limit)
	switch format {
	case "csv":
		var sb strings.Builder
		cw := csv.NewWriter(&sb)
		_ = cw.Write(ex.csvHeader())
		for _, m := range page {
			_ = cw.Write(ex.csvRecord(m.id, m.userID))
		}
		cw.Flush()
		setNextCursor(c, next)
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		return c.SendString(sb.String())
	case "ndjson":
		var buf []byte
		for _, m := range page {
			buf = ex.appendJSON(buf, m.id, m.userID)
			buf = append(buf, '\n')
		}
		setNextCursor(c, next)
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
		return c.Send(buf)
	}
	buf := append([]byte(`{"cohort":`), appendJSONString(nil, co.Name)...)
	buf = append(buf, `,"members":[`...)
	for i, m := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = ex.appendJSON(buf, m.id, m.userID)
	}
	buf = append(buf, `],"next_cursor":`...)
	if next == "" {
		buf = append(buf, "null"...)
	} else {
		buf = appendJSONString(buf, next)
	}
	buf = append(buf, '}')
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(buf)
}

func setNextCursor(c *fiber.Ctx, next string) {
	if next != "" {
		c.Set(HeaderNextCursor, next)
	}
}

type member struct {
	id     uint32
	userID string
}

// pageOf returns up to limit members of b after the user id `after`, and the
// cursor of the next page ("" at the end). Resuming by user id (not by
// position) keeps pages free of duplicates and skips while users come and go.
func pageOf(ix *bitmaps.Index, b *roaring.Bitmap, after string, limit int) ([]member, string) {
	page := make([]member, 0, min(uint64(limit)+1, b.GetCardinality()))
	ix.Iterate(b, after, func(id uint32, userID string) bool {
		page = append(page, member{id, userID})
		return len(page) <= limit
	})
	if len(page) <= limit {
		return page, ""
	}
	page = page[:limit]
	return page, encodeCursor(page[limit-1].userID)
}

// stream writes every member of b after `after` with Fiber's body stream
// writer: memory stays constant whatever the cohort's size (one batch of ids
// and one buffered writer). It stops when the client goes away.
func (s *Server) stream(c *fiber.Ctx, ex *exporter, b *roaring.Bitmap, name string, isCSV bool, after string) {
	if isCSV {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.csv"`, name))
	} else {
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.ndjson"`, name))
	}
	start := time.Now()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		rows, err := 0, error(nil)
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic while streaming members", "cohort", name, "panic", fmt.Sprint(r))
				return
			}
			s.metrics.exported.Add(float64(rows))
			s.log.Debug("members streamed", "cohort", name, "rows", rows, "err", err, "took", time.Since(start).String())
		}()
		var cw *csv.Writer
		if isCSV {
			cw = csv.NewWriter(w)
			err = cw.Write(ex.csvHeader())
		}
		var buf []byte
		if err == nil {
			// Iterate does not hold the index while fn runs: a slow client
			// never blocks writers.
			ex.ix.Iterate(b, after, func(id uint32, userID string) bool {
				if cw != nil {
					err = cw.Write(ex.csvRecord(id, userID))
				} else {
					buf = append(ex.appendJSON(buf[:0], id, userID), '\n')
					_, err = w.Write(buf)
				}
				if err == nil {
					if rows++; rows%flushEvery == 0 {
						err = flush(cw, w)
					}
				}
				return err == nil
			})
		}
		if err == nil {
			err = flush(cw, w)
		}
	})
}

// flush pushes buffered rows to the client; an error means it went away.
func flush(cw *csv.Writer, w *bufio.Writer) error {
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	return w.Flush()
}

func (ex *exporter) csvHeader() []string {
	h := make([]string, 0, 1+len(ex.fields))
	h = append(h, "user_id")
	for _, f := range ex.fields {
		h = append(h, f.Name)
	}
	return h
}

// csvRecord formats one row for CSV: NULL is an empty cell, a list is its
// values joined by "|", a timestamp is RFC 3339 UTC.
func (ex *exporter) csvRecord(id uint32, userID string) []string {
	ex.rec = append(ex.rec[:0], userID)
	for _, f := range ex.fields {
		ex.rec = append(ex.rec, csvValue(f.Kind, ex.ix.Value(id, f.Name)))
	}
	return ex.rec
}

func csvValue(kind bitmaps.Kind, v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		if kind == bitmaps.KindTime {
			return time.Unix(v, 0).UTC().Format(time.RFC3339)
		}
		return strconv.FormatInt(v, 10)
	case float64:
		return string(appendFloat(nil, v))
	case bool:
		return strconv.FormatBool(v)
	case []string:
		return strings.Join(v, "|")
	}
	return fmt.Sprint(v)
}

// appendJSON appends one member as a JSON object: user_id then the fields
// (NULL as null, timestamps RFC 3339 UTC strings, lists as arrays).
func (ex *exporter) appendJSON(buf []byte, id uint32, userID string) []byte {
	buf = append(buf, `{"user_id":`...)
	buf = appendJSONString(buf, userID)
	for _, f := range ex.fields {
		buf = append(buf, ',')
		buf = appendJSONString(buf, f.Name)
		buf = append(buf, ':')
		buf = appendJSONValue(buf, f.Kind, ex.ix.Value(id, f.Name))
	}
	return append(buf, '}')
}

func appendJSONValue(buf []byte, kind bitmaps.Kind, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendJSONString(buf, v)
	case int64:
		if kind == bitmaps.KindTime {
			buf = append(buf, '"')
			buf = time.Unix(v, 0).UTC().AppendFormat(buf, time.RFC3339)
			return append(buf, '"')
		}
		return strconv.AppendInt(buf, v, 10)
	case float64:
		return appendFloat(buf, v)
	case bool:
		return strconv.AppendBool(buf, v)
	case []string:
		buf = append(buf, '[')
		for i, s := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, s)
		}
		return append(buf, ']')
	}
	return appendJSONString(buf, fmt.Sprint(v))
}

// appendFloat formats like encoding/json: shortest representation, exponent
// only for very small or large magnitudes. NaN and Inf (never stored) are null.
func appendFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(buf, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
