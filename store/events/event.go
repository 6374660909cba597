package events

import (
	"time"
)

// Type is the kind of an event.
type Type uint8

// The event types of spec events.md.
const (
	PageView Type = iota + 1
	ProfileUpdate
	SessionEnd
	ArticlePublished
	UserDeleted
)

var typeNames = [...]string{
	PageView:         "page_view",
	ProfileUpdate:    "profile_update",
	SessionEnd:       "session_end",
	ArticlePublished: "article_published",
	UserDeleted:      "user_deleted",
}

// String returns the type as the JSON spells it ("page_view").
func (t Type) String() string {
	if t >= PageView && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// ParseType returns the Type called name.
func ParseType(name string) (Type, bool) {
	for t := PageView; int(t) < len(typeNames); t++ {
		if typeNames[t] == name {
			return t, true
		}
	}
	return 0, false
}

// Types returns every event type name, in the order of the constants.
func Types() []string { return append([]string(nil), typeNames[1:]...) }

// Event is one decoded event. Which fields are set depends on Type.
type Event struct {
	ID     string // event_id; "" when absent (then only the rules deduplicate it)
	Type   Type
	UserID string    // every type but article_published
	TS     time.Time // when the event happened (UTC)

	// page_view and article_published
	ArticleID string
	Topics    []string
	// page_view
	Device string
	// article_published
	Title     string
	Embedding []float32
	// profile_update: the attributes in the order given; Value is in
	// bitmaps.Row form (nil clears the attribute).
	Attributes []Attr
	// Ignored lists attributes of a profile_update that are not in the
	// catalog (they are ignored, as in data files).
	Ignored []string
}

// Attr is one attribute of a profile_update.
type Attr struct {
	Name  string
	Value any // bitmaps.Row form; nil = clear
}

// Key is the Kafka message key the event belongs under: the article_id of
// an article event, else the user_id.
func (e *Event) Key() string {
	if e.Type == ArticlePublished {
		return e.ArticleID
	}
	return e.UserID
}

// Article is one article of the catalog.
type Article struct {
	ID          string    `json:"article_id"`
	Title       string    `json:"title"`
	Topics      []string  `json:"topics,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	// Embedding is nil when the event carried none (the recommender
	// computes it).
	Embedding []float32 `json:"embedding,omitempty"`
}

// Read is one entry of a user's read history.
type Read struct {
	ArticleID string
	TS        time.Time
}
