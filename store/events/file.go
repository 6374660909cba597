package events

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store"
)

// FileStats says what ApplyFile did.
type FileStats struct {
	Events  int // events read (good lines)
	Applied int // events that changed the index
	Skipped int // malformed lines, skipped
	// FirstErrors holds up to 10 skipped lines' errors (*LineError).
	FirstErrors      []error
	Created, Deleted int // users created by page views, erased by user_deleted
	// Dropped counts events left out on purpose (FileEvents.Keep).
	Dropped int
}

// LineError is a malformed line of an events file.
type LineError struct {
	Path string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// maxLineBytes bounds one event line (an article's embedding makes the
// longest).
const maxLineBytes = 16 << 20

// ApplyFile applies the events of an NDJSON file (a data directory's
// events.ndjson; .gz is read transparently) to ix: ReadFile, then Apply.
// dec must be built for ix's catalog.
func ApplyFile(ctx context.Context, path string, dec *Decoder, ix *bitmaps.Index, opts Options) (FileStats, error) {
	f, err := ReadFile(ctx, path, dec)
	if err != nil {
		return f.stats, err
	}
	return f.Apply(ix, opts), nil
}

// FileEvents are the events of a file that change users (page views,
// profile updates, deletions), in ts order, ready to apply.
type FileEvents struct {
	path  string
	evs   []fileEvent
	stats FileStats
}

type fileEvent struct {
	ev   Event
	line int
}

// ReadFile reads the events of an NDJSON file and keeps those that change
// users, sorted by ts whatever the file order (stable for equal ts); the
// other types are read and counted. A malformed line is skipped and
// counted, as the stream's consumer does, never a stop.
func ReadFile(ctx context.Context, path string, dec *Decoder) (*FileEvents, error) {
	f := &FileEvents{path: path}
	rc, err := store.Open(path)
	if err != nil {
		return f, fmt.Errorf("cannot apply events: %w", err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return f, ctx.Err()
		}
		b := sc.Bytes()
		if store.IsBlank(b) {
			continue
		}
		ev, err := dec.Decode(b)
		if err != nil {
			f.skip(line, err)
			continue
		}
		f.stats.Events++
		switch ev.Type {
		case PageView, ProfileUpdate, UserDeleted:
			// Only what the index needs is kept while the file is read.
			ev.Topics, ev.Device, ev.Title, ev.Embedding = nil, "", "", nil
			f.evs = append(f.evs, fileEvent{ev, line})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d MiB", maxLineBytes>>20)
		}
		return f, fmt.Errorf("cannot read events from %s after line %d: %w", path, line, err)
	}
	slices.SortStableFunc(f.evs, func(a, b fileEvent) int { return a.ev.TS.Compare(b.ev.TS) })
	return f, nil
}

func (f *FileEvents) skip(line int, err error) {
	f.stats.Skipped++
	if len(f.stats.FirstErrors) < 10 {
		f.stats.FirstErrors = append(f.stats.FirstErrors, &LineError{Path: f.path, Line: line, Err: err})
	}
}

// Users returns the users the events change (page views create users,
// profile updates set attributes, deletions erase).
func (f *FileEvents) Users() map[string]bool {
	out := make(map[string]bool)
	for i := range f.evs {
		out[f.evs[i].ev.UserID] = true
	}
	return out
}

// Keep drops the events of the users keep refuses (before Apply) and
// returns how many it dropped.
func (f *FileEvents) Keep(keep func(userID string) bool) int {
	n := len(f.evs)
	f.evs = slices.DeleteFunc(f.evs, func(e fileEvent) bool { return !keep(e.ev.UserID) })
	return n - len(f.evs)
}

// Apply applies the events to ix with the rules of the stream: a page view
// sets last_visit_at to the later time and creates an unknown user, a
// profile_update older than the value held is ignored, user_deleted
// erases. It returns what reading and applying did.
func (f *FileEvents) Apply(ix *bitmaps.Index, opts Options) FileStats {
	opts.History = discardHistory{} // the recommender reads the file itself
	opts.Hooks = Hooks{}
	a := NewApplier(ix, opts)
	for i := range f.evs {
		res, err := a.Apply(&f.evs[i].ev)
		if err != nil {
			f.skip(f.evs[i].line, err)
			continue
		}
		if res.Changed() {
			f.stats.Applied++
		}
		if res.Created {
			f.stats.Created++
		}
		if res.Deleted {
			f.stats.Deleted++
		}
	}
	return f.stats
}

// discardHistory is a History that keeps nothing.
type discardHistory struct{}

func (discardHistory) Reads(string, int) []Read      { return nil }
func (discardHistory) HasRead(string, string) bool   { return false }
func (discardHistory) Add(string, string, time.Time) {}
func (discardHistory) Delete(string)                 {}
