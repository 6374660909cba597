package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
)

const (
	// MaxLineBytes is the longest line ReadUsers accepts; a longer one is a
	// RowError.
	MaxLineBytes = 16 << 20
	// progressEvery is how many rows pass between Options.Progress calls.
	progressEvery = 100_000
	// maxFirstErrors is how many skipped-row errors Stats keeps.
	maxFirstErrors = 10
)

// Options tunes ReadUsers and LoadUsers. The zero value stops at the first
// bad row and reports nothing.
type Options struct {
	// SkipBadRows skips a bad row (counted in Stats.Skipped, the first few
	// kept in Stats.FirstErrors) instead of failing the load.
	SkipBadRows bool
	// Progress, when set, is called about every 100,000 rows and once at the
	// end with the rows read so far and the bytes consumed (ReadUsers: from
	// its reader; LoadUsers: of the file on disk, compressed or not).
	Progress func(rows, bytes int64)
	// Logger receives a summary line per file; nil logs nothing.
	Logger *slog.Logger
}

// Stats describes what a read did.
type Stats struct {
	Rows    int64 // rows accepted
	Skipped int64 // bad rows skipped (only with SkipBadRows)
	// UnknownAttributes counts, per attribute name not in the schema, the
	// rows that had it (they are ignored).
	UnknownAttributes map[string]int64
	// FirstErrors holds up to 10 skipped-row errors (*RowError), for display.
	FirstErrors []error
}

// ReadUsers streams the NDJSON users of r, one line at a time in bounded
// memory, checking every value against schema (see the package doc for the
// rules), and calls fn with each user's id and values (aligned with schema;
// nil is NULL; timestamps are Unix seconds) in file order. name is the file
// name used in errors, key the key attribute. Lines are parsed a few
// thousand ahead on another goroutine, so parsing overlaps fn's work.
//
// row and its lists are reused after fn returns, and one list may be shared
// by many rows: fn must not modify them and must copy what it keeps of them
// (the strings in them may be kept; bitmaps.Builder.Add copies what it
// needs). If fn returns an error wrapping bitmaps.ErrDuplicateUser, the
// line is a bad row (a duplicate key: ReadUsers keeps no set of keys, the
// consumer does); any other error from fn stops the read and is returned
// wrapped.
//
// A bad row stops the read with a *RowError unless opts.SkipBadRows is set.
// The Stats returned describe the rows read until then.
func ReadUsers(ctx context.Context, r io.Reader, name string, key string, schema bitmaps.Schema,
	opts Options, fn func(userID string, row bitmaps.Row) error) (Stats, error) {
	started := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	p := startParser(ctx, r, key, schema)
	defer p.stop(cancel)

	var st Stats
	unknown := make(map[string]int64)
	var consumed int64
	finish := func() {
		st.UnknownAttributes = unknown
		if opts.Progress != nil {
			opts.Progress(st.Rows, consumed)
		}
	}
	width := len(schema)
	for b := range p.out {
		if err := ctx.Err(); err != nil {
			finish()
			return st, err
		}
		for k := range b.n {
			rec := &b.recs[k]
			for _, u := range b.unknown[rec.unknownFrom:rec.unknownTo] {
				unknown[u]++
			}
			consumed = rec.consumed
			rerr := rec.err
			if rerr == nil {
				row := b.rows[k*width : (k+1)*width : (k+1)*width]
				err := fn(rec.key, row)
				switch {
				case err == nil:
					st.Rows++
					if opts.Progress != nil && st.Rows%progressEvery == 0 {
						opts.Progress(st.Rows, consumed)
					}
					continue
				case errors.Is(err, bitmaps.ErrDuplicateUser):
					rerr = &RowError{Field: key, Msg: fmt.Sprintf("duplicate %q", rec.key), Err: err, dupKey: rec.key}
				default:
					finish()
					return st, fmt.Errorf("%s:%d: %w", name, rec.line, err)
				}
			}
			rerr.File, rerr.Line = name, rec.line
			if !opts.SkipBadRows {
				rerr.Hint = rerr.hint()
				finish()
				return st, rerr
			}
			st.Skipped++
			if len(st.FirstErrors) < maxFirstErrors {
				st.FirstErrors = append(st.FirstErrors, rerr)
			}
		}
		if b.err != nil {
			finish()
			if errors.Is(b.err, context.Canceled) || errors.Is(b.err, context.DeadlineExceeded) {
				return st, b.err
			}
			return st, fmt.Errorf("cannot read %s after line %d: %w", name, b.lastLine, b.err)
		}
		p.free <- b
	}
	finish()
	if err := ctx.Err(); err != nil { // the parser stopped early
		return st, err
	}
	if opts.Logger != nil {
		attrs := []any{"file", name, "rows", st.Rows, "elapsed", time.Since(started).Round(time.Millisecond)}
		if st.Skipped > 0 {
			attrs = append(attrs, "skipped", st.Skipped)
		}
		if len(st.UnknownAttributes) > 0 {
			attrs = append(attrs, "ignored_attributes", st.UnknownAttributes)
		}
		opts.Logger.Info("read users", attrs...)
	}
	return st, nil
}

// batchRows is how many lines the parser hands over at once.
const batchRows = 1024

// batch is parsed lines in file order, owned by one side at a time.
type batch struct {
	n        int
	recs     [batchRows]record
	rows     []any    // batchRows × len(schema) values
	arena    []string // list elements of rows
	unknown  []string // unknown attribute names of the records
	err      error    // the read error that ended the stream, after recs
	lastLine int      // of the last line read
}

type record struct {
	line                   int
	consumed               int64 // bytes read through this line
	key                    string
	err                    *RowError
	unknownFrom, unknownTo int // in batch.unknown
}

// parser reads and decodes lines on its own goroutine.
type parser struct {
	out  chan *batch // full batches, in order; closed at the end
	free chan *batch // batches handed back for reuse
	done sync.WaitGroup
}

func startParser(ctx context.Context, r io.Reader, key string, schema bitmaps.Schema) *parser {
	const inFlight = 3 // batches, made when first needed
	p := &parser{out: make(chan *batch, inFlight), free: make(chan *batch, inFlight)}
	made := 0
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		defer close(p.out)
		lr := newLineReader(r, MaxLineBytes)
		d := newLineDecoder(key, schema)
		width := len(schema)
		for {
			var b *batch
			if made < inFlight && len(p.free) == 0 {
				b = &batch{rows: make([]any, batchRows*len(schema))}
				made++
			} else {
				select {
				case b = <-p.free:
				case <-ctx.Done():
					return
				}
			}
			b.n, b.arena, b.unknown = 0, b.arena[:0], b.unknown[:0]
			d.arena, d.unknown = b.arena, b.unknown
			for b.n < batchRows && b.err == nil {
				if lr.line%4096 == 0 && ctx.Err() != nil {
					b.err = ctx.Err()
					break
				}
				line, tooLong, err := lr.next()
				if err != nil {
					if err != io.EOF {
						b.err = err
					}
					break
				}
				if !tooLong && IsBlank(line) {
					continue
				}
				rec := &b.recs[b.n]
				*rec = record{line: lr.line, consumed: lr.consumed, unknownFrom: len(d.unknown)}
				if tooLong {
					rec.err = &RowError{Msg: fmt.Sprintf("line longer than %d MiB", MaxLineBytes>>20)}
				} else {
					rec.key, rec.err = d.decode(line, b.rows[b.n*width:(b.n+1)*width])
				}
				rec.unknownTo = len(d.unknown)
				b.n++
			}
			b.arena, b.unknown, b.lastLine = d.arena, d.unknown, lr.line
			ended := b.n < batchRows || b.err != nil
			select {
			case p.out <- b:
			case <-ctx.Done():
				return
			}
			if ended {
				return
			}
		}
	}()
	return p
}

// stop ends the parser goroutine (cancel unblocks it) and waits for it.
func (p *parser) stop(cancel context.CancelFunc) {
	cancel()
	p.done.Wait()
}

// IsBlank reports whether an NDJSON line holds only whitespace (skipped).
func IsBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// lineReader splits a stream into lines of at most limit bytes without
// holding more than one line.
type lineReader struct {
	r        *bufio.Reader
	limit    int
	long     []byte // a line longer than the bufio buffer
	line     int    // 1-based number of the line last returned
	consumed int64  // bytes read through the last returned line
}

func newLineReader(r io.Reader, limit int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, min(256<<10, max(16, limit))), limit: limit}
}

// next returns the next line without its newline. tooLong reports a line
// over the limit (its bytes are discarded). err is io.EOF at the end.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	chunk, err := lr.r.ReadSlice('\n')
	n := int64(len(chunk))
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer: gather it, up to limit+1 bytes (the
		// newline included); the rest of a too long line is discarded.
		lr.long = append(lr.long[:0], chunk...)
		for err == bufio.ErrBufferFull {
			chunk, err = lr.r.ReadSlice('\n')
			n += int64(len(chunk))
			if len(lr.long) <= lr.limit+1 {
				lr.long = append(lr.long, chunk...)
			}
		}
		chunk = lr.long
	}
	if err != nil && (err != io.EOF || n == 0) {
		return nil, false, err
	}
	lr.line++
	lr.consumed += n
	line = bytes.TrimSuffix(chunk, []byte("\n"))
	if lr.line == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	if len(line) > lr.limit {
		return nil, true, nil
	}
	return line, false, nil
}
