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
// events.ndjson; .gz is read transparently) to ix, in ts order whatever the
// file order (stable for equal ts), with the rules of the stream: a page
// view sets last_visit_at to the later time and creates an unknown user, a
// profile_update older than the value held is ignored, user_deleted erases.
// Only those three types change users; the others are read and counted.
// A malformed line is skipped and counted, as the stream's consumer does,
// never a stop. dec must be built for ix's catalog.
func ApplyFile(ctx context.Context, path string, dec *Decoder, ix *bitmaps.Index, opts Options) (FileStats, error) {
	var st FileStats
	rc, err := store.Open(path)
	if err != nil {
		return st, fmt.Errorf("cannot apply events: %w", err)
	}
	defer rc.Close()
	type item struct {
		ev   Event
		line int
	}
	var evs []item
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		b := sc.Bytes()
		if isBlankLine(b) {
			continue
		}
		ev, err := dec.Decode(b)
		if err != nil {
			st.Skipped++
			if len(st.FirstErrors) < 10 {
				st.FirstErrors = append(st.FirstErrors, &LineError{Path: path, Line: line, Err: err})
			}
			continue
		}
		st.Events++
		switch ev.Type {
		case PageView, ProfileUpdate, UserDeleted:
			// Only what the index needs is kept while the file is read.
			ev.Topics, ev.Device, ev.Title, ev.Embedding = nil, "", "", nil
			evs = append(evs, item{ev, line})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d MiB", maxLineBytes>>20)
		}
		return st, fmt.Errorf("cannot read events from %s after line %d: %w", path, line, err)
	}
	slices.SortStableFunc(evs, func(a, b item) int { return a.ev.TS.Compare(b.ev.TS) })
	opts.History = discardHistory{} // the recommender reads the file itself
	opts.Hooks = Hooks{}
	a := NewApplier(ix, opts)
	for i := range evs {
		res, err := a.Apply(&evs[i].ev)
		if err != nil {
			st.Skipped++
			if len(st.FirstErrors) < 10 {
				st.FirstErrors = append(st.FirstErrors, &LineError{Path: path, Line: evs[i].line, Err: err})
			}
			continue
		}
		if res.Changed() {
			st.Applied++
		}
		if res.Created {
			st.Created++
		}
		if res.Deleted {
			st.Deleted++
		}
	}
	return st, nil
}

func isBlankLine(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// discardHistory is a History that keeps nothing.
type discardHistory struct{}

func (discardHistory) Reads(string, int) []Read      { return nil }
func (discardHistory) HasRead(string, string) bool   { return false }
func (discardHistory) Add(string, string, time.Time) {}
func (discardHistory) Delete(string)                 {}
