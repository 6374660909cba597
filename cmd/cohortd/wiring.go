package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/cohortd/cohortd/store/events"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
	"github.com/cohortd/cohortd/store"
	"github.com/spf13/pflag"
)

// source holds the flags that say where cohorts and users come from.
type source struct {
	cohorts     string
	data        string
	now         string
	skipBadRows bool
	// notes, when set, receives what a load skipped or ignored (query and
	// validate print it on stderr; serve logs it).
	notes io.Writer
}

func (s *source) registerCohorts(fs *pflag.FlagSet) {
	fs.StringVar(&s.cohorts, "cohorts", "cohorts.yaml", "the cohorts file")
}

func (s *source) registerData(fs *pflag.FlagSet) {
	fs.StringVar(&s.data, "data", "", "users as NDJSON (a file, .gz, or a directory holding users.ndjson); default: the built-in demo population")
	fs.BoolVar(&s.skipBadRows, "skip-bad-rows", false, "skip (and count) data rows that do not match the catalog instead of failing")
}

func (s *source) registerNow(fs *pflag.FlagSet) {
	fs.StringVar(&s.now, "now", "", "evaluate as of this instant (RFC 3339) instead of the wall clock")
}

// clock returns the evaluation instant: --now when given, else the wall clock.
func (s *source) clock() (func() time.Time, error) {
	if s.now == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.now)
	if err != nil {
		return nil, usageError{fmt.Errorf("--now %q is not an RFC 3339 instant (e.g. 2026-01-13T12:00:00Z)", s.now)}
	}
	return func() time.Time { return t }, nil
}

// compileFile loads and compiles a cohorts file, printing positioned errors
// with carets to stderr.
func compileFile(path string, stderr io.Writer) (*compiler.Set, error) {
	// compiler.Load reports the syntax errors and the type errors of the
	// cohorts that parsed, all in one run.
	set, err := compiler.Load(path)
	if err != nil {
		return nil, printErrors(err, stderr)
	}
	return set, nil
}

// printErrors prints dsl errors with their carets and marks them reported.
func printErrors(err error, stderr io.Writer) error {
	var list dsl.ErrorList
	var one *dsl.Error
	switch {
	case errors.As(err, &list):
		fmt.Fprintln(stderr, list.Pretty())
	case errors.As(err, &one):
		fmt.Fprintln(stderr, dsl.ErrorList{one}.Pretty())
	default:
		return err
	}
	return reportedError{err}
}

// loadIndex builds the index for set's catalog from --data, or from the
// built-in demo population when no data was given.
func (s *source) loadIndex(ctx context.Context, set *compiler.Set, log *slog.Logger) (*bitmaps.Index, error) {
	opts := store.Options{SkipBadRows: s.skipBadRows, Logger: log, Progress: progressReporter(log, "loading users")}
	start := time.Now()
	var (
		ix    *bitmaps.Index
		stats store.Stats
		err   error
	)
	if s.data == "" {
		ix, stats, err = store.LoadDemo(ctx, set.Key(), set.Schema(), store.DemoOptions{})
	} else {
		ix, stats, err = store.LoadUsers(ctx, s.data, set.Key(), set.Schema(), opts)
	}
	if err != nil {
		return nil, err
	}
	var evStats events.FileStats
	if s.data != "" {
		if evStats, err = applyDataEvents(ctx, s.data, set, ix, log); err != nil {
			return nil, err
		}
	}
	attrs := []any{"users", ix.Len(), "took", time.Since(start).Round(time.Millisecond)}
	if evStats.Events > 0 {
		attrs = append(attrs, "events_applied", evStats.Applied)
	}
	if stats.Skipped > 0 {
		attrs = append(attrs, "skipped_bad_rows", stats.Skipped)
	}
	if len(stats.UnknownAttributes) > 0 {
		attrs = append(attrs, "ignored_attributes", stats.UnknownAttributes)
	}
	s.printNotes(stats, evStats)
	if s.data == "" {
		attrs = append(attrs, "source", "built-in demo population")
	} else {
		attrs = append(attrs, "source", s.data)
	}
	log.Info("index loaded", attrs...)
	return ix, nil
}

// withNotes returns a copy of s that prints load notes to w.
func (s *source) withNotes(w io.Writer) *source {
	c := *s
	c.notes = w
	return &c
}

// printNotes tells the command-line user what the load skipped (with
// --skip-bad-rows) or ignored: spec §5 has them counted.
func (s *source) printNotes(st store.Stats, ev events.FileStats) {
	if s.notes == nil {
		return
	}
	if st.Skipped > 0 {
		fmt.Fprintf(s.notes, "note: skipped %s (--skip-bad-rows)", plural(st.Skipped, "bad row"))
		if len(st.FirstErrors) > 0 {
			fmt.Fprintf(s.notes, "; the first: %v", st.FirstErrors[0])
		}
		fmt.Fprintln(s.notes)
	}
	if len(st.UnknownAttributes) > 0 {
		names := slices.Sorted(maps.Keys(st.UnknownAttributes))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s (%s)", n, plural(st.UnknownAttributes[n], "row"))
		}
		fmt.Fprintf(s.notes, "note: ignored attributes not in the catalog: %s\n", strings.Join(parts, ", "))
	}
	if ev.Skipped > 0 {
		fmt.Fprintf(s.notes, "note: skipped %s; the first: %v\n", plural(int64(ev.Skipped), "malformed event"), ev.FirstErrors[0])
	}
}

// plural is "1 row", "2 rows".
func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// applyDataEvents applies a data directory's events.ndjson to ix, in ts
// order (cli.md: "events exactly as in events.md; applied by ts"), so that
// the users are as of the last event: page views advance last_visit_at and
// create users, profile updates set attributes, deletions erase.
func applyDataEvents(ctx context.Context, data string, set *compiler.Set, ix *bitmaps.Index, log *slog.Logger) (events.FileStats, error) {
	df, err := store.ResolveData(data)
	if err != nil || df.Events == "" {
		return events.FileStats{}, err
	}
	st, err := events.ApplyFile(ctx, df.Events, events.NewDecoder(set.Key(), set.Schema()), ix, events.Options{})
	if err != nil {
		return st, err
	}
	if st.Skipped > 0 {
		log.Warn("malformed events skipped", "file", df.Events, "skipped", st.Skipped, "first", errors.Join(st.FirstErrors...).Error())
	}
	log.Info("events applied to the users", "file", df.Events, "events", st.Events, "changed", st.Applied,
		"created", st.Created, "deleted", st.Deleted)
	return st, nil
}

// progressReporter logs a line at most every few seconds during long loads.
func progressReporter(log *slog.Logger, what string) func(rows, bytes int64) {
	var last time.Time
	return func(rows, bytes int64) {
		if time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		log.Info(what, "rows", rows, "bytes", bytes)
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("COHORTD_VERBOSE") != "" {
		return newLogger(os.Stderr)
	}
	return slog.New(slog.DiscardHandler)
}

// recommendationsDir is where the recommender reads articles.ndjson and
// events.ndjson: the --data directory, or the demo population's files (demo)
// when there is no --data and the users do not come from elsewhere. It is ""
// when --data is a single users file or the users come from elsewhere: the
// catalog then fills from article_published events.
func (s *source) recommendationsDir(usersElsewhere bool) (dir string, demo bool, err error) {
	if s.data == "" {
		return "", !usersElsewhere, nil
	}
	st, err := os.Stat(s.data)
	if err != nil {
		return "", false, fmt.Errorf("cannot read --data %q: %w", s.data, err)
	}
	if st.IsDir() {
		return s.data, false, nil
	}
	return "", false, nil
}
