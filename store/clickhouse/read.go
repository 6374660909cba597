package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
)

// progressEvery is how many rows pass between ReadOptions.Progress calls.
const progressEvery = 65536

// maxFirstErrors is how many skipped-row errors ReadStats keeps.
const maxFirstErrors = 10

// ReadOptions tunes ReadIndex.
type ReadOptions struct {
	// SkipBadRows skips a row with a value the index cannot hold (counted in
	// ReadStats.Skipped) instead of failing the read.
	SkipBadRows bool
	// Progress, when set, is called about every 65,536 rows and once at the
	// end with the rows read so far and the rows the table holds (counted
	// before the read; -1 when unknown).
	Progress func(rows, total int64)
}

// ReadStats describes what a read did.
type ReadStats struct {
	Rows    int64 // rows read into the index
	Skipped int64 // bad rows skipped (only with SkipBadRows)
	// FirstErrors holds up to 10 skipped-row errors (*RowError).
	FirstErrors []error
	// MaxUpdated is the largest updated_at read (Unix seconds), when the
	// table has that column; the watermark of the next incremental refresh.
	MaxUpdated int64
	Took       time.Duration

	dups int64 // skipped rows repeating a key
}

// RowError is a row whose value the index cannot hold: a NULL or empty key,
// a duplicate key, a UInt64 beyond int64, a bool column holding neither 0
// nor 1, a NaN or infinite float.
type RowError struct {
	Table  string // `database`.`table`
	UserID string
	Column string // "" when the problem is the row's key
	Msg    string
	Err    error // the underlying cause (e.g. bitmaps.ErrDuplicateUser), if any
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString("table ")
	b.WriteString(e.Table)
	if e.UserID != "" {
		b.WriteString(", user ")
		b.WriteString(strconv.Quote(e.UserID))
	}
	if e.Column != "" {
		b.WriteString(", column ")
		b.WriteString(Ident(e.Column))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *RowError) Unwrap() error { return e.Err }

// cell holds one column's scan destination.
type cell struct {
	s  string
	ps *string
	i  int64
	pi *int64
	u  uint64
	pu *uint64
	f  float64
	pf *float64
	b  uint8
	pb *uint8
}

func (c *cell) dest(col *column) any {
	switch col.scan {
	case scanString:
		if col.nullable {
			return &c.ps
		}
		return &c.s
	case scanInt64:
		if col.nullable {
			return &c.pi
		}
		return &c.i
	case scanUInt64:
		if col.nullable {
			return &c.pu
		}
		return &c.u
	case scanFloat64:
		if col.nullable {
			return &c.pf
		}
		return &c.f
	case scanBool:
		if col.nullable {
			return &c.pb
		}
		return &c.b
	}
	return &c.s // scanList: the encoded list
}

// value returns the scanned value in bitmaps.Row form (nil is NULL), or a
// message for a value the index cannot hold. A list's elements are appended
// to *arena (a new slice when arena is nil) and the value is a subslice.
func (c *cell) value(col *column, arena *[]string) (any, string) {
	switch col.scan {
	case scanString:
		if col.nullable {
			if c.ps == nil {
				return nil, ""
			}
			return *c.ps, ""
		}
		return c.s, ""
	case scanInt64:
		if col.nullable {
			if c.pi == nil {
				return nil, ""
			}
			return *c.pi, ""
		}
		return c.i, ""
	case scanUInt64:
		u := c.u
		if col.nullable {
			if c.pu == nil {
				return nil, ""
			}
			u = *c.pu
		}
		if u > math.MaxInt64 {
			return nil, fmt.Sprintf("%d does not fit an int (at most 2^63-1)", u)
		}
		return int64(u), ""
	case scanFloat64:
		if col.nullable {
			if c.pf == nil {
				return nil, ""
			}
			return *c.pf, ""
		}
		return c.f, ""
	case scanBool:
		b := c.b
		if col.nullable {
			if c.pb == nil {
				return nil, ""
			}
			b = *c.pb
		}
		if b > 1 {
			return nil, fmt.Sprintf("%d is not a bool (0 or 1)", b)
		}
		return b == 1, ""
	}
	if c.s == "" {
		return nil, ""
	}
	var buf []string
	if arena != nil {
		buf = *arena
	}
	from := len(buf)
	buf, ok := decodeList(buf, c.s)
	if !ok {
		return nil, "cannot decode the list read from ClickHouse"
	}
	if arena != nil {
		*arena = buf
	}
	return buf[from:len(buf):len(buf)], ""
}

// selectList returns the select expressions: key, fields, and updated_at
// last when the table has it.
func (t *Table) selectList() []string {
	sel := []string{t.key.sel}
	for _, c := range t.cols {
		sel = append(sel, c.sel)
	}
	if t.upd != nil {
		sel = append(sel, t.upd.sel)
	}
	return sel
}

// readQuery is the query ReadIndex runs; since >= 0 keeps only the rows
// changed at or after since (Unix seconds); final reads with FINAL.
func (t *Table) readQuery(since int64, final bool) string {
	q := "SELECT " + strings.Join(t.selectList(), ", ") + " FROM " + t.qname
	if final {
		q += " FINAL"
	}
	if since >= 0 && t.upd != nil {
		q += " WHERE " + t.upd.sel + " >= " + strconv.FormatInt(since, 10)
	}
	return q
}

// scanBatchRows is how many rows the scanning goroutine hands over at once.
const scanBatchRows = 2048

// rowBatch is rows scanned and converted, handed from the scanning
// goroutine to the one calling fn.
type rowBatch struct {
	n     int
	keys  []string
	vals  []any // n × width values
	upds  []int64
	errs  []*RowError // nil for a good row
	arena []string    // list elements of vals
	err   error       // set on the last batch when the read failed
}

// scanRows streams the rows of readQuery(since, final) and calls fn with
// each row's key, values (aligned with the schema; row is reused after fn
// returns, lists included) and updated_at (0 without the column). A bad
// value is a *RowError, passed to bad: returning nil skips the row.
//
// One goroutine scans rows and converts values while the caller's runs fn
// (e.g. bitmaps.Builder.Add), so the two overlap on two cores.
func (t *Table) scanRows(ctx context.Context, since int64, final bool, progress func(int64),
	fn func(key string, row bitmaps.Row, upd int64) error, bad func(*RowError) error) (int64, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := t.c.conn.Query(ctx, t.readQuery(since, final))
	if err != nil {
		return 0, fmt.Errorf("cannot read users from ClickHouse table %s at %s: %w", t.qname, t.c.cfg.Addr, err)
	}
	width := len(t.cols)
	out := make(chan *rowBatch, 2)
	free := make(chan *rowBatch, 3)
	for range 3 {
		free <- &rowBatch{keys: make([]string, scanBatchRows), vals: make([]any, scanBatchRows*width),
			upds: make([]int64, scanBatchRows), errs: make([]*RowError, scanBatchRows)}
	}
	go func() {
		defer close(out)
		defer rows.Close() // after a cancel, Close only drains what is in flight
		t.produce(ctx, rows, out, free)
	}()
	defer func() {
		cancel() // stop the scanner (and the server) if we stopped early
		for range out {
		}
	}()

	row := make(bitmaps.Row, width)
	var n int64
	for b := range out {
		for i := range b.n {
			rerr := b.errs[i]
			if rerr == nil {
				copy(row, b.vals[i*width:(i+1)*width])
				err := fn(b.keys[i], row, b.upds[i])
				if err == nil {
					n++
					if progress != nil && n%progressEvery == 0 {
						progress(n)
					}
					continue
				}
				if rerr = t.rowError(b.keys[i], err); rerr == nil {
					return n, err
				}
			}
			if err := bad(rerr); err != nil {
				return n, err
			}
		}
		if b.err != nil {
			return n, b.err
		}
		free <- b
	}
	if err := parent.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// produce scans rows into batches sent on out (the last one carries the
// read's error, if any).
func (t *Table) produce(ctx context.Context, rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}, out, free chan *rowBatch) {
	cols := append([]column{t.key}, t.cols...)
	if t.upd != nil {
		cols = append(cols, *t.upd)
	}
	cells := make([]cell, len(cols))
	dest := make([]any, len(cols))
	for i := range cols {
		dest[i] = cells[i].dest(&cols[i])
	}
	width := len(t.cols)
	var b *rowBatch
	send := func() bool {
		select {
		case out <- b:
			b = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for rows.Next() {
		if b == nil {
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			b.n, b.arena = 0, b.arena[:0]
		}
		i := b.n
		if err := rows.Scan(dest...); err != nil {
			b.err = fmt.Errorf("cannot read users from ClickHouse table %s: %w", t.qname, err)
			send()
			return
		}
		key := cells[0].s
		b.keys[i], b.errs[i], b.upds[i] = key, nil, 0
		vals := b.vals[i*width : (i+1)*width]
		for j := range width {
			v, msg := cells[j+1].value(&cols[j+1], &b.arena)
			if msg != "" && b.errs[i] == nil {
				b.errs[i] = &RowError{Table: t.qname, UserID: key, Column: cols[j+1].attr, Msg: msg}
			}
			vals[j] = v
		}
		if t.upd != nil {
			if v, _ := cells[len(cells)-1].value(t.upd, nil); v != nil {
				b.upds[i] = v.(int64)
			}
		}
		b.n++
		if b.n == scanBatchRows && !send() {
			return
		}
	}
	if b == nil {
		select {
		case b = <-free:
			b.n = 0
		case <-ctx.Done():
			return
		}
	}
	if err := rows.Err(); err != nil && ctx.Err() == nil {
		b.err = fmt.Errorf("cannot read users from ClickHouse table %s at %s: %w", t.qname, t.c.cfg.Addr, err)
	}
	send()
}

// rowError turns an error of bitmaps.Builder.Add into a *RowError; nil for
// an error that is not about the row.
func (t *Table) rowError(key string, err error) *RowError {
	var fe *bitmaps.FieldError
	switch {
	case errors.As(err, &fe):
		return &RowError{Table: t.qname, UserID: key, Column: fe.Field, Msg: fe.Err.Error(), Err: err}
	case errors.Is(err, bitmaps.ErrEmptyUserID):
		return &RowError{Table: t.qname, Column: t.key.attr, Msg: "empty key", Err: err}
	case errors.Is(err, bitmaps.ErrDuplicateUser):
		msg := "several rows have this key (deduplicate them"
		if !t.final {
			msg += ", or keep versions in a ReplacingMergeTree, read with FINAL"
		}
		return &RowError{Table: t.qname, UserID: key, Msg: msg + ")", Err: err}
	}
	return nil
}

// CountRows returns the number of rows in the table (before FINAL merges
// versions), for progress reports.
func (t *Table) CountRows(ctx context.Context) (int64, error) {
	var n uint64
	if err := t.c.conn.QueryRow(ctx, "SELECT count() FROM "+t.qname).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count the rows of ClickHouse table %s: %w", t.qname, err)
	}
	return int64(n), nil
}

// merged reports whether the table is known to hold one row per key: it
// has a single active part, made by a merge (a merge keeps the latest
// version of each key). FINAL, which costs a merge at every read, can then
// be left out.
func (t *Table) merged(ctx context.Context) bool {
	if t.engine == "Distributed" {
		return false // its parts are on the shards
	}
	var n uint64
	var level uint32
	q := "SELECT count(), min(level) FROM system.parts WHERE active AND database = " + String(t.c.cfg.Database) + " AND table = " + String(t.name)
	if err := t.c.conn.QueryRow(ctx, q).Scan(&n, &level); err != nil {
		return false
	}
	return n == 0 || n == 1 && level > 0
}

// ReadIndex reads every user of the table into a new index, streaming
// blocks of rows into a bitmaps.Builder (memory: the index being built plus
// a few blocks in flight). A bad row stops the read with a *RowError unless
// opts.SkipBadRows is set.
//
// A table whose engine keeps versions (ReplacingMergeTree...) is read with
// FINAL, unless it is fully merged; should a row arrive in between and
// repeat a key, the read starts again with FINAL.
func (t *Table) ReadIndex(ctx context.Context, opts ReadOptions) (*bitmaps.Index, ReadStats, error) {
	final := t.final && !t.merged(ctx)
	ix, st, err := t.readIndex(ctx, final, opts)
	var re *RowError
	if !final && t.final && errors.As(err, &re) && errors.Is(re, bitmaps.ErrDuplicateUser) {
		return t.readIndex(ctx, true, opts)
	}
	if !final && t.final && err == nil && st.dups > 0 {
		// The skipped rows were versions FINAL would have merged.
		return t.readIndex(ctx, true, opts)
	}
	return ix, st, err
}

func (t *Table) readIndex(ctx context.Context, final bool, opts ReadOptions) (*bitmaps.Index, ReadStats, error) {
	start := time.Now()
	var st ReadStats
	total := int64(-1)
	if opts.Progress != nil {
		if n, err := t.CountRows(ctx); err == nil {
			total = n
		}
	}
	b := bitmaps.NewBuilder(t.schema)
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, total) }
	}
	n, err := t.scanRows(ctx, -1, final, progress, func(key string, row bitmaps.Row, upd int64) error {
		if upd > st.MaxUpdated {
			st.MaxUpdated = upd
		}
		return b.Add(key, row)
	}, st.skipper(opts.SkipBadRows))
	st.Rows = n
	if opts.Progress != nil {
		opts.Progress(n, total)
	}
	if err != nil {
		return nil, st, err
	}
	ix := b.Build()
	st.Took = time.Since(start)
	return ix, st, nil
}

// skipper returns the bad-row handler: fail, or skip and count.
func (st *ReadStats) skipper(skip bool) func(*RowError) error {
	return func(e *RowError) error {
		if !skip {
			return e
		}
		st.Skipped++
		if errors.Is(e, bitmaps.ErrDuplicateUser) {
			st.dups++
		}
		if len(st.FirstErrors) < maxFirstErrors {
			st.FirstErrors = append(st.FirstErrors, e)
		}
		return nil
	}
}

// Change is one row read by ReadChanges.
type Change struct {
	UserID  string
	Row     bitmaps.Row
	Updated int64 // updated_at, Unix seconds
}

// ErrTooManyChanges is returned by ReadChanges when more rows changed than
// its limit: rebuilding the index is then cheaper.
var ErrTooManyChanges = errors.New("too many changed rows")

// ReadChanges reads the rows whose updated_at is at or after since (Unix
// seconds), keeping the latest version of each user. It reads them all
// before returning, so a failure part-way changes nothing for the caller.
// More than limit rows (0: no limit) is ErrTooManyChanges. A table without
// an updated_at column is an error.
func (t *Table) ReadChanges(ctx context.Context, since int64, limit int, opts ReadOptions) ([]Change, ReadStats, error) {
	start := time.Now()
	var st ReadStats
	if t.upd == nil {
		return nil, st, fmt.Errorf("table %s has no %s column to find changed rows by", t.qname, DefaultUpdatedColumn)
	}
	if since < 0 {
		since = 0
	}
	byKey := map[string]int{}
	var out []Change
	n, err := t.scanRows(ctx, since, t.final, nil, func(key string, row bitmaps.Row, upd int64) error {
		if upd > st.MaxUpdated {
			st.MaxUpdated = upd
		}
		if i, ok := byKey[key]; ok {
			if upd >= out[i].Updated {
				out[i].Row = cloneRow(out[i].Row[:0], row)
				out[i].Updated = upd
			}
			return nil
		}
		if limit > 0 && len(out) >= limit {
			return fmt.Errorf("%w: more than %d since %s", ErrTooManyChanges, limit, time.Unix(since, 0).UTC().Format(time.RFC3339))
		}
		byKey[key] = len(out)
		out = append(out, Change{UserID: key, Row: cloneRow(nil, row), Updated: upd})
		return nil
	}, st.skipper(opts.SkipBadRows))
	st.Rows = n
	st.Took = time.Since(start)
	if err != nil {
		return nil, st, err
	}
	return out, st, nil
}

// cloneRow appends a copy of row to dst, lists included (scanRows reuses
// them).
func cloneRow(dst, row bitmaps.Row) bitmaps.Row {
	for _, v := range row {
		if l, ok := v.([]string); ok {
			v = append([]string(nil), l...)
		}
		dst = append(dst, v)
	}
	return dst
}
