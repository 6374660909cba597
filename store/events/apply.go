package events

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
)

// DefaultLastVisitField is the timestamp attribute page views move forward.
const DefaultLastVisitField = "last_visit_at"

// DefaultDedupeWindow is how many recent event_ids an Applier remembers.
const DefaultDedupeWindow = 1 << 20

// Hooks are called after the event's effect on the index and the history:
// by Apply, or with Applier.Background by its goroutine, in event order.
// They must be quick (hand work off to a goroutine) and must not call the
// Applier. A nil hook is skipped.
type Hooks struct {
	// SessionEnd: the recommender recomputes the user's short-term
	// embedding from the read history.
	SessionEnd func(userID string, ts time.Time)
	// ArticlePublished: the article was added to (or replaced in) the
	// catalog; the recommender indexes it (and computes a missing embedding).
	ArticlePublished func(a Article)
	// UserDeleted: the user was erased from the index and the history; the
	// vector store must forget it too.
	UserDeleted func(userID string)
}

// Options configures an Applier. The zero value is usable.
type Options struct {
	// LastVisitField is the timestamp attribute page views set to
	// max(current, ts); DefaultLastVisitField when "". When the index has no
	// such field, a page view only creates the user and records the read.
	LastVisitField string
	// DedupeWindow is how many recent event_ids are remembered
	// (DefaultDedupeWindow when 0; negative: none).
	DedupeWindow int
	// History receives page views' reads; a NewMemHistory(0) when nil.
	History History
	// Articles receives article_published events; a NewArticles() when nil.
	Articles *Articles
	Hooks    Hooks
}

// Result says what applying one event did.
type Result struct {
	// Duplicate: the event_id was seen within the window; nothing was done.
	Duplicate bool
	// Ignored is why the event changed nothing by the rules ("" otherwise):
	// it is older than the user's deletion, or than every value it sets.
	Ignored string
	// Created: the user did not exist and was created.
	Created bool
	// Deleted: the user existed and was removed.
	Deleted bool
	// Fields are the index fields whose value changed (may be shared: do
	// not modify).
	Fields []string
	// ID is the user's id in the index when the event created the user or
	// changed Fields (saves the caller a lookup).
	ID uint32
	// Stale lists the attributes of a profile_update that were not applied
	// because the value held is newer.
	Stale []string
}

// Changed says whether the event changed the user's row or existence.
func (r Result) Changed() bool { return r.Created || r.Deleted || len(r.Fields) > 0 }

// ErrSchema is wrapped when an event's attribute does not fit the index
// (the catalog changed under a decoded event).
var ErrSchema = errors.New("event does not fit the index")

// Applier applies decoded events to an index and its side stores (read
// history, article catalog, per-attribute update times, deletion tombstones,
// recent event_ids). It is not safe for concurrent use: one goroutine (the
// real-time pipeline, under its lock) applies events; the index, History and
// Articles it writes to are safe to read meanwhile.
type Applier struct {
	ix        *bitmaps.Index
	schema    bitmaps.Schema
	fields    map[string]int
	lastVisit int // schema position of LastVisitField; -1 when absent
	lvName    string
	lvFields  []string // {lvName}: Result.Fields of a page view (shared, read-only)

	history  History
	articles *Articles
	hooks    Hooks

	held  map[string][]heldTS // user → per-attribute time of the value held
	tombs map[uint64]int64    // hash of a deleted user_id → deletion time (Unix ns)
	seen  *seenIDs

	side *sideWorker // non-nil while Background runs
}

// heldTS is the time (Unix ns) of the profile_update that set a field.
type heldTS struct {
	field string
	ts    int64
}

// NewApplier returns an Applier writing to ix.
func NewApplier(ix *bitmaps.Index, opts Options) *Applier {
	if opts.LastVisitField == "" {
		opts.LastVisitField = DefaultLastVisitField
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = DefaultDedupeWindow
	}
	if opts.History == nil {
		opts.History = NewMemHistory(0)
	}
	if opts.Articles == nil {
		opts.Articles = NewArticles()
	}
	a := &Applier{
		lvName:   opts.LastVisitField,
		lvFields: []string{opts.LastVisitField},
		history:  opts.History,
		articles: opts.Articles,
		hooks:    opts.Hooks,
		held:     map[string][]heldTS{},
		tombs:    map[uint64]int64{},
		seen:     newSeenIDs(opts.DedupeWindow),
	}
	a.SetIndex(ix)
	return a
}

// SetIndex makes the Applier write to ix from now on (after a reload or a
// restore); the side stores are kept.
func (a *Applier) SetIndex(ix *bitmaps.Index) {
	a.ix = ix
	a.schema = ix.Schema()
	a.fields = make(map[string]int, len(a.schema))
	for i, f := range a.schema {
		if _, dup := a.fields[f.Name]; !dup {
			a.fields[f.Name] = i
		}
	}
	a.lastVisit = -1
	if i, ok := a.fields[a.lvName]; ok && a.schema[i].Kind == bitmaps.KindTime {
		a.lastVisit = i
	}
}

// Index returns the index the Applier writes to.
func (a *Applier) Index() *bitmaps.Index { return a.ix }

// History returns the read-history store.
func (a *Applier) History() History { return a.history }

// Articles returns the article catalog.
func (a *Applier) Articles() *Articles { return a.articles }

// Seen says whether an event_id is within the dedupe window.
func (a *Applier) Seen(eventID string) bool { return eventID != "" && a.seen.Has(eventID) }

// Apply applies one event and says what it did. An error (wrapping
// ErrSchema, or an index error such as bitmaps.ErrIndexFull) means nothing
// was applied and the event_id is not remembered.
func (a *Applier) Apply(ev *Event) (Result, error) {
	var idHash uint64
	if ev.ID != "" {
		if idHash = a.seen.hash(ev.ID); a.seen.has(ev.ID, idHash) {
			return Result{Duplicate: true}, nil
		}
	}
	var (
		res Result
		err error
	)
	switch ev.Type {
	case PageView:
		res, err = a.pageView(ev)
	case ProfileUpdate:
		res, err = a.profileUpdate(ev)
	case SessionEnd:
		if why := a.tombstoned(ev); why != "" {
			res.Ignored = why
		} else if a.hooks.SessionEnd != nil {
			a.sideEffect(sideOp{kind: sideSessionEnd, user: ev.UserID, ts: ev.TS})
		}
	case ArticlePublished:
		art := Article{ID: ev.ArticleID, Title: ev.Title, Topics: ev.Topics, PublishedAt: ev.TS, Embedding: ev.Embedding}
		if !a.articles.Put(art) {
			res.Ignored = "a newer version of the article is held"
		} else if a.hooks.ArticlePublished != nil {
			a.hooks.ArticlePublished(art)
		}
	case UserDeleted:
		res = a.userDeleted(ev)
	default:
		return Result{}, fmt.Errorf("event type %d: %w", ev.Type, ErrSchema)
	}
	if err != nil {
		return Result{}, err
	}
	if ev.ID != "" {
		a.seen.addNewHashed(ev.ID, idHash) // has said no above, and nothing added it since
	}
	return res, nil
}

func userHash(userID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(userID))
	return h.Sum64()
}

// tombstoned says why an event of a deleted user is ignored ("" if not).
func (a *Applier) tombstoned(ev *Event) string {
	if len(a.tombs) == 0 {
		return ""
	}
	if t, ok := a.tombs[userHash(ev.UserID)]; ok && ev.TS.UnixNano() <= t {
		return "the user was deleted after this event"
	}
	return ""
}

func (a *Applier) pageView(ev *Event) (Result, error) {
	var res Result
	if why := a.tombstoned(ev); why != "" {
		res.Ignored = why
		return res, nil
	}
	id, existed, moved, err := a.visit(ev)
	if err != nil {
		return Result{}, fmt.Errorf("cannot apply page_view of %q: %w", ev.UserID, err)
	}
	res.ID, res.Created = id, !existed
	if moved {
		res.Fields = a.lvFields
	}
	if ev.ArticleID != "" {
		a.sideEffect(sideOp{kind: sideRead, user: ev.UserID, art: ev.ArticleID, ts: ev.TS})
	}
	return res, nil
}

// visit writes a page view to the index: an unknown user is created, and
// LastVisitField moves forward to the event's time (moved says it did).
func (a *Applier) visit(ev *Event) (id uint32, existed, moved bool, err error) {
	sec := ev.TS.Unix()
	id, existed = a.ix.Lookup(ev.UserID)
	switch {
	case a.lastVisit < 0 && existed:
		return id, true, false, nil
	case a.lastVisit < 0:
		id, err = a.ix.Upsert(ev.UserID, make(bitmaps.Row, len(a.schema)))
		return id, false, false, err
	case existed: // known id: skip the dictionary; read and write under one lock
		moved, err = a.ix.Advance(id, a.lvName, sec)
		return id, true, moved, err
	default:
		id, err = a.ix.Set(ev.UserID, a.lvName, sec)
		return id, false, err == nil, err
	}
}

func (a *Applier) heldAt(userID, field string) (int64, bool) {
	for _, h := range a.held[userID] {
		if h.field == field {
			return h.ts, true
		}
	}
	return 0, false
}

func (a *Applier) setHeld(userID, field string, ts int64) {
	list := a.held[userID]
	for i := range list {
		if list[i].field == field {
			list[i].ts = ts
			return
		}
	}
	a.held[userID] = append(list, heldTS{field: field, ts: ts})
}

func (a *Applier) profileUpdate(ev *Event) (Result, error) {
	var res Result
	if why := a.tombstoned(ev); why != "" {
		res.Ignored = why
		return res, nil
	}
	ts := ev.TS.UnixNano()
	id, exists := a.ix.Lookup(ev.UserID)
	var row bitmaps.Row
	if exists {
		row, _ = a.ix.Row(id)
	} else {
		row = make(bitmaps.Row, len(a.schema))
	}
	apply := make([]int, 0, len(ev.Attributes)) // positions in ev.Attributes that are applied
	for j, at := range ev.Attributes {
		i, ok := a.fields[at.Name]
		if !ok {
			return Result{}, fmt.Errorf("attribute %q is not in the index: %w", at.Name, ErrSchema)
		}
		if held, ok := a.heldAt(ev.UserID, at.Name); ok && ts < held {
			res.Stale = append(res.Stale, at.Name)
			continue
		}
		apply = append(apply, j)
		if !sameValue(row[i], at.Value) {
			row[i] = at.Value
			res.Fields = append(res.Fields, at.Name)
		}
	}
	if !exists || len(res.Fields) > 0 {
		var err error
		if id, err = a.ix.Upsert(ev.UserID, row); err != nil {
			return Result{}, fmt.Errorf("cannot apply profile_update of %q: %w: %w", ev.UserID, ErrSchema, err)
		}
	}
	res.ID = id
	for _, j := range apply {
		a.setHeld(ev.UserID, ev.Attributes[j].Name, ts)
	}
	res.Created = !exists
	if len(apply) == 0 && len(ev.Attributes) > 0 && exists {
		res.Ignored = "every attribute holds a newer value"
	}
	return res, nil
}

func (a *Applier) userDeleted(ev *Event) Result {
	var res Result
	h := userHash(ev.UserID)
	if t, ok := a.tombs[h]; !ok || ev.TS.UnixNano() > t {
		a.tombs[h] = ev.TS.UnixNano()
	}
	res.Deleted = a.ix.Delete(ev.UserID)
	delete(a.held, ev.UserID)
	a.sideEffect(sideOp{kind: sideForget, user: ev.UserID, runHookToo: a.hooks.UserDeleted != nil})
	return res
}

// sameValue compares two values in bitmaps.Row form.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	case string, int64, float64, bool:
		return a == b
	}
	return false
}

// CarryStats says what Carry kept from the stream.
type CarryStats struct {
	Values  int // attribute values carried over (profile updates, later visits)
	Users   int // users created by the stream that the new index lacked
	Deleted int // users of the new index removed by a later user_deleted
}

// Carry keeps what the stream applied after asOf when the index is rebuilt
// from a source that is only up to date as of asOf (a ClickHouse refresh):
// every attribute a profile_update set after asOf keeps the streamed value,
// last_visit_at keeps the later of the two, a user the stream created or
// updated after asOf that the source lacks is copied, and a user deleted by
// an event after asOf is removed from to. from is the index events were
// applied to until now; to is the new one. Call SetIndex(to) afterwards.
// A zero asOf carries everything the stream applied (a source that never
// changes, such as a data file read again for a new catalog).
func (a *Applier) Carry(from, to *bitmaps.Index, asOf time.Time) (CarryStats, error) {
	var st CarryStats
	cut := int64(math.MinInt64)
	if !asOf.IsZero() {
		cut = asOf.UnixNano()
	}
	toSchema := to.Schema()
	toField := make(map[string]int, len(toSchema))
	for i, f := range toSchema {
		toField[f.Name] = i
	}
	var firstErr error
	from.Iterate(from.Universe(), "", func(id uint32, u string) bool {
		row, ok := from.Row(id)
		if !ok {
			return true
		}
		// What the stream set after asOf, as field → value.
		carried := map[string]any{}
		for _, h := range a.held[u] {
			if h.ts > cut {
				if i, ok := a.fields[h.field]; ok {
					carried[h.field] = row[i]
				}
			}
		}
		if a.lastVisit >= 0 {
			if lv, ok := row[a.lastVisit].(int64); ok && lv*int64(time.Second) > cut {
				carried[a.lvName] = lv
			}
		}
		if len(carried) == 0 {
			return true
		}
		tid, exists := to.Lookup(u)
		if !exists {
			full := make(bitmaps.Row, len(toSchema))
			for i, f := range a.schema {
				if j, ok := toField[f.Name]; ok {
					full[j] = row[i]
				}
			}
			if _, err := to.Upsert(u, full); err != nil && firstErr == nil {
				firstErr = err
			}
			st.Users++
			return true
		}
		for name, v := range carried {
			if _, ok := toField[name]; !ok {
				continue
			}
			if name == a.lvName {
				if cur, ok := to.Value(tid, name).(int64); ok && cur >= v.(int64) {
					continue
				}
			}
			if _, err := to.Set(u, name, v); err != nil && firstErr == nil {
				firstErr = err
			}
			st.Values++
		}
		return true
	})
	if len(a.tombs) > 0 {
		var gone []string
		to.Iterate(to.Universe(), "", func(_ uint32, u string) bool {
			if t, ok := a.tombs[userHash(u)]; ok && t > cut {
				gone = append(gone, u)
			}
			return true
		})
		for _, u := range gone {
			if to.Delete(u) {
				st.Deleted++
			}
		}
	}
	if firstErr != nil {
		return st, fmt.Errorf("cannot carry streamed updates over: %w", firstErr)
	}
	return st, nil
}
