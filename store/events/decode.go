package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store"
)

// ErrMalformed is wrapped by every *MalformedError, for errors.Is.
var ErrMalformed = errors.New("malformed event")

// MalformedError is an event that cannot be applied: not a JSON object, an
// unknown type, a missing user_id, a value of the wrong type for its
// attribute... Field names the JSON field at fault ("attributes.visits_30d";
// "" when the whole message is). The decoder fills Field and Msg; the caller
// says where the event came from with At (Kafka) or OnLine (NDJSON).
type MalformedError struct {
	Field string
	Msg   string

	// Kafka coordinates (Topic != "" when set).
	Topic     string
	Partition int
	Offset    int64
	// Line is the 1-based NDJSON line (0 when not from a body or file).
	Line int
}

// At returns a copy of e located at a Kafka message.
func (e *MalformedError) At(topic string, partition int, offset int64) *MalformedError {
	c := *e
	c.Topic, c.Partition, c.Offset = topic, partition, offset
	return &c
}

// OnLine returns a copy of e located at an NDJSON line.
func (e *MalformedError) OnLine(line int) *MalformedError {
	c := *e
	c.Line = line
	return &c
}

// Error formats the error as
// `malformed event at events/2@1234: "attributes.visits_30d": want int, got string "ten"`.
func (e *MalformedError) Error() string {
	var b strings.Builder
	b.WriteString("malformed event")
	switch {
	case e.Topic != "":
		fmt.Fprintf(&b, " at %s/%d@%d", e.Topic, e.Partition, e.Offset)
	case e.Line > 0:
		fmt.Fprintf(&b, " on line %d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(strconv.Quote(e.Field))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(field, format string, args ...any) *MalformedError {
	return &MalformedError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// MaxEventBytes is the largest event Decode accepts.
const MaxEventBytes = 1 << 20

// Decoder decodes events against an attribute catalog. It is immutable and
// safe for concurrent use.
type Decoder struct {
	key    string
	schema bitmaps.Schema
	fields map[string]int // attribute name → schema position
}

// NewDecoder returns a decoder for a catalog: key is the key attribute's
// name (user_id), schema the other attributes (compiler.Set.Schema).
func NewDecoder(key string, schema bitmaps.Schema) *Decoder {
	d := &Decoder{key: key, schema: append(bitmaps.Schema(nil), schema...), fields: make(map[string]int, len(schema))}
	for i, f := range d.schema {
		if _, dup := d.fields[f.Name]; !dup {
			d.fields[f.Name] = i
		}
	}
	return d
}

// Schema returns the catalog the decoder checks attributes against.
func (d *Decoder) Schema() bitmaps.Schema { return d.schema }

// Key returns the key attribute's name.
func (d *Decoder) Key() string { return d.key }

// wire is the JSON form of an event. Fields are raw so that each one's type
// error names it.
type wire struct {
	EventID    json.RawMessage `json:"event_id"`
	Type       json.RawMessage `json:"type"`
	UserID     json.RawMessage `json:"user_id"`
	TS         json.RawMessage `json:"ts"`
	ArticleID  json.RawMessage `json:"article_id"`
	Topics     json.RawMessage `json:"topics"`
	Device     json.RawMessage `json:"device"`
	Title      json.RawMessage `json:"title"`
	Embedding  json.RawMessage `json:"embedding"`
	Attributes json.RawMessage `json:"attributes"`
}

// fastWire decodes the common case in one pass; any surprise falls back on
// the field-by-field path, which words the errors.
type fastWire struct {
	EventID    *string         `json:"event_id"`
	Type       *string         `json:"type"`
	UserID     *string         `json:"user_id"`
	TS         *string         `json:"ts"`
	ArticleID  *string         `json:"article_id"`
	Topics     []string        `json:"topics"`
	Device     *string         `json:"device"`
	Title      *string         `json:"title"`
	Embedding  []float32       `json:"embedding"`
	Attributes json.RawMessage `json:"attributes"`
}

var nullBytes = []byte("null")

// Decode decodes one event. Every problem is a *MalformedError naming the
// field; unknown JSON fields are ignored (newer producers may add some).
func (d *Decoder) Decode(data []byte) (Event, error) {
	if ev, ok := d.decodeFlat(data); ok {
		return ev, nil
	}
	if ev, ok := d.decodeFast(data); ok {
		return ev, nil
	}
	return d.decodeSlow(data)
}

// decodeFast handles well-formed events without nulls (a null inside an
// array is not seen by encoding/json); ok false means "use decodeSlow".
func (d *Decoder) decodeFast(data []byte) (ev Event, ok bool) {
	if len(data) > MaxEventBytes || bytes.Contains(data, nullBytes) {
		return ev, false
	}
	var w fastWire
	if json.Unmarshal(data, &w) != nil || w.Type == nil || w.TS == nil {
		return ev, false
	}
	t, known := ParseType(*w.Type)
	if !known {
		return ev, false
	}
	ev.Type = t
	ts, err := parseTS(*w.TS)
	if err != nil {
		return ev, false
	}
	ev.TS = ts
	if w.EventID != nil {
		ev.ID = *w.EventID
	}
	if t != ArticlePublished {
		if w.UserID == nil || *w.UserID == "" {
			return ev, false
		}
		ev.UserID = *w.UserID
	}
	opt := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch t {
	case PageView:
		ev.ArticleID, ev.Device = opt(w.ArticleID), opt(w.Device)
		ev.Topics = w.Topics
	case ProfileUpdate:
		if err := d.attributes(&ev, w.Attributes); err != nil {
			return ev, false
		}
	case ArticlePublished:
		if w.ArticleID == nil || *w.ArticleID == "" {
			return ev, false
		}
		ev.ArticleID, ev.Title = *w.ArticleID, opt(w.Title)
		ev.Topics = w.Topics
		for _, f := range w.Embedding {
			if math.IsInf(float64(f), 0) {
				return ev, false
			}
		}
		ev.Embedding = w.Embedding
	}
	return ev, true
}

// decodeSlow decodes field by field, so that each error names its field.
func (d *Decoder) decodeSlow(data []byte) (Event, error) {
	var ev Event
	if len(data) > MaxEventBytes {
		return ev, malformed("", "event is %d bytes, more than the %d accepted", len(data), MaxEventBytes)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return ev, malformed("", "not a JSON object")
	}
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return ev, malformed("", "not a JSON object: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	typ, err := str(w.Type, "type", true)
	if err != nil {
		return ev, err
	}
	t, ok := ParseType(typ)
	if !ok {
		return ev, malformed("type", "unknown event type %q (want one of %s)", typ, strings.Join(Types(), ", "))
	}
	ev.Type = t
	if ev.ID, err = str(w.EventID, "event_id", false); err != nil {
		return ev, err
	}
	ts, err := str(w.TS, "ts", true)
	if err != nil {
		return ev, err
	}
	if ev.TS, err = parseTS(ts); err != nil {
		return ev, malformed("ts", "%v", err)
	}
	if t != ArticlePublished {
		if ev.UserID, err = str(w.UserID, "user_id", true); err != nil {
			return ev, err
		}
	}
	switch t {
	case PageView:
		if ev.ArticleID, err = str(w.ArticleID, "article_id", false); err != nil {
			return ev, err
		}
		if ev.Device, err = str(w.Device, "device", false); err != nil {
			return ev, err
		}
		if ev.Topics, err = strList(w.Topics, "topics"); err != nil {
			return ev, err
		}
	case ProfileUpdate:
		if err := d.attributes(&ev, w.Attributes); err != nil {
			return ev, err
		}
	case ArticlePublished:
		if ev.ArticleID, err = str(w.ArticleID, "article_id", true); err != nil {
			return ev, err
		}
		if ev.Title, err = str(w.Title, "title", false); err != nil {
			return ev, err
		}
		if ev.Topics, err = strList(w.Topics, "topics"); err != nil {
			return ev, err
		}
		if ev.Embedding, err = floats(w.Embedding, "embedding"); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// str decodes a string field; required fields must be non-empty.
func str(raw json.RawMessage, field string, required bool) (string, error) {
	if isNull(raw) {
		if required {
			return "", malformed(field, "missing")
		}
		return "", nil
	}
	if raw[0] != '"' {
		return "", malformed(field, "want a string, got %s", describeRaw(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if required && s == "" {
		return "", malformed(field, "must not be empty")
	}
	return s, nil
}

func strList(raw json.RawMessage, field string) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, malformed(field, "want an array of strings, got %s", describeRaw(raw))
	}
	var vals []any
	if err := json.Unmarshal(raw, &vals); err != nil {
		return nil, malformed(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	out := make([]string, 0, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, malformed(fmt.Sprintf("%s[%d]", field, i), "want a string, got %s", describeValue(v))
		}
		out = append(out, s)
	}
	return out, nil
}

func floats(raw json.RawMessage, field string) ([]float32, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, malformed(field, "want an array of numbers, got %s", describeRaw(raw))
	}
	if !bytes.Contains(raw, nullBytes) {
		var fs []float32
		if json.Unmarshal(raw, &fs) == nil {
			return fs, nil // parsed as float32 directly, as decodeFast does
		}
	}
	var vals []any
	if err := json.Unmarshal(raw, &vals); err != nil {
		return nil, malformed(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	out := make([]float32, len(vals))
	for i, v := range vals {
		f, ok := v.(float64)
		if !ok || math.IsInf(float64(float32(f)), 0) {
			return nil, malformed(fmt.Sprintf("%s[%d]", field, i), "want a number within float32 range, got %s", describeValue(v))
		}
		out[i] = float32(f)
	}
	return out, nil
}

// attributes decodes a profile_update's attributes object.
func (d *Decoder) attributes(ev *Event, raw json.RawMessage) error {
	if isNull(raw) {
		return malformed("attributes", "missing")
	}
	if raw[0] != '{' {
		return malformed("attributes", "want an object, got %s", describeRaw(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return malformed("attributes", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed("attributes", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		name, _ := tok.(string)
		field := "attributes." + name
		var v any
		if err := dec.Decode(&v); err != nil {
			return malformed(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		if seen[name] {
			return malformed(field, "given twice")
		}
		seen[name] = true
		if name == d.key {
			return malformed(field, "the key attribute cannot be changed by profile_update")
		}
		i, ok := d.fields[name]
		if !ok {
			ev.Ignored = append(ev.Ignored, name)
			continue
		}
		cv, err := store.ConvertValue(d.schema[i].Kind, v)
		if err != nil {
			return malformed(field, "%v", err)
		}
		ev.Attributes = append(ev.Attributes, Attr{Name: d.schema[i].Name, Value: cv})
	}
	return nil
}

// parseTS accepts RFC 3339 with or without fractional seconds, and the
// other spellings data files accept (a space or "t" between date and time).
func parseTS(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if v, err := store.ConvertValue(bitmaps.KindTime, s); err == nil {
		if sec, ok := v.(int64); ok {
			return time.Unix(sec, 0).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time such as 2026-01-13T08:02:11Z, got %q", s)
}

func describeRaw(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid JSON"
	}
	return describeValue(v)
}

func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(shorten(x))
	case float64:
		return "number " + strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return "number " + shorten(string(x))
	case bool:
		return "bool " + strconv.FormatBool(x)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
