package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// ScanTook is the part of Took spent reading rows (the rest builds
	// the index's bitmaps).
	ScanTook time.Duration

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

// The read query packs every string-like value of a row (the key, string
// columns and lists) into one string, and the NULL flags of nullable
// numbers into its first bytes: clickhouse-go allocates twice for each
// string cell it scans and once for each non-NULL nullable number, so one
// packed string and plain numbers per row cost a fraction of a cell each.
//
// The packed layout: one '0' or '1' per nullable number column (1 = NULL),
// then for the key and each string or list column in order either '~'
// (NULL) or the value's byte length, ':' and its bytes. A list's value is
// listSel's encoding.

// packed reports whether c travels in the packed string.
func (c *column) packed() bool { return c.scan == scanString || c.scan == scanList }

// packedSel returns the packed string's select expression.
func (t *Table) packedSel() string {
	var parts []string
	for _, c := range t.cols {
		if !c.packed() && c.nullable {
			parts = append(parts, "if(isNull("+c.sel+"), '1', '0')")
		}
	}
	lenPrefixed := func(x string) string { return "toString(length(" + x + ")), ':', " + x }
	parts = append(parts, lenPrefixed(t.key.sel))
	for _, c := range t.cols {
		switch {
		case !c.packed():
		case c.nullable:
			v := "assumeNotNull(" + c.sel + ")"
			parts = append(parts, "if(isNull("+c.sel+"), '~', concat("+lenPrefixed(v)+"))")
		default:
			parts = append(parts, lenPrefixed(c.sel))
		}
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}

// selectList returns the select expressions: the packed string, each
// number column (NULL read as 0), and updated_at last when the table has
// it.
func (t *Table) selectList() []string {
	sel := []string{t.packedSel()}
	for _, c := range t.cols {
		switch {
		case c.packed():
		case c.nullable:
			sel = append(sel, "ifNull("+c.sel+", 0)")
		default:
			sel = append(sel, c.sel)
		}
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

// val is one scanned value: s for strings, n for numbers (an int64, a
// float64's bits, or 0/1 for a bool), arena[lo:hi] for a list's elements.
type val struct {
	s      string
	n      uint64
	lo, hi int32
	null   bool
}

// scanBatchRows is how many rows the scanning goroutine hands over at once.
const scanBatchRows = 2048

// rowBatch is rows scanned and decoded, handed from the scanning goroutine
// to the one calling fn.
type rowBatch struct {
	n     int
	width int
	keys  []string
	vals  []val // n × width values
	upds  []int64
	errs  []*RowError // nil for a good row
	arena []string    // list elements of vals
	err   error       // set on the last batch when the read failed
}

// scanned is one row of a rowBatch, as scanRows hands it to its callback.
type scanned struct {
	t   *Table
	b   *rowBatch
	i   int
	Key string
	Upd int64 // updated_at (0 without the column)
}

func (r *scanned) vals() []val { return r.b.vals[r.i*r.b.width : (r.i+1)*r.b.width] }

// write sets the row's values on w (aligned with the schema).
func (r *scanned) write(w *bitmaps.RowWriter) {
	for j, v := range r.vals() {
		if v.null {
			w.Null(j)
			continue
		}
		switch r.t.cols[j].scan {
		case scanString:
			w.String(j, v.s)
		case scanInt64, scanUInt64:
			w.Int(j, int64(v.n))
		case scanFloat64:
			w.Float(j, math.Float64frombits(v.n))
		case scanBool:
			w.Bool(j, v.n == 1)
		case scanList:
			w.List(j, r.b.arena[v.lo:v.hi])
		}
	}
}

// row appends the row's values to dst in bitmaps.Row form (lists copied).
func (r *scanned) row(dst bitmaps.Row) bitmaps.Row {
	for j, v := range r.vals() {
		var x any
		if !v.null {
			switch r.t.cols[j].scan {
			case scanString:
				x = v.s
			case scanInt64, scanUInt64:
				x = int64(v.n)
			case scanFloat64:
				x = math.Float64frombits(v.n)
			case scanBool:
				x = v.n == 1
			case scanList:
				x = slices.Clone(r.b.arena[v.lo:v.hi])
			}
		}
		dst = append(dst, x)
	}
	return dst
}

// scanRows streams the rows of readQuery(since, final) and calls fn with
// each (valid until fn returns). A bad value is a *RowError, passed to bad:
// returning nil skips the row. An error of fn that rowError recognises is
// a bad row too.
//
// One goroutine scans rows and decodes values while the caller's runs fn
// (e.g. bitmaps.Builder's RowWriter), so the two overlap on two cores.
func (t *Table) scanRows(ctx context.Context, since int64, final bool, progress func(int64),
	fn func(r *scanned) error, bad func(*RowError) error) (int64, error) {
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
		free <- &rowBatch{width: width, keys: make([]string, scanBatchRows), vals: make([]val, scanBatchRows*width),
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

	r := &scanned{t: t}
	var n int64
	for b := range out {
		r.b = b
		for i := range b.n {
			rerr := b.errs[i]
			if rerr == nil {
				r.i, r.Key, r.Upd = i, b.keys[i], b.upds[i]
				err := fn(r)
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
	// Scan destinations: the packed string, then the number columns.
	var packed string
	nums := newNumCells(len(t.cols) + 1)
	dest := []any{&packed}
	var nullable []int // the number columns with a NULL flag, in flag order
	for j := range t.cols {
		c := &t.cols[j]
		if c.packed() {
			continue
		}
		if c.nullable {
			nullable = append(nullable, j)
		}
		dest = append(dest, nums.dest(c.scan, j))
	}
	if t.upd != nil {
		dest = append(dest, nums.dest(scanInt64, len(t.cols)))
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
		b.upds[i] = 0
		if t.upd != nil {
			b.upds[i] = int64(nums.get(scanInt64, len(t.cols)))
		}
		b.keys[i], b.errs[i] = t.decodeRow(packed, nums, nullable, b.vals[i*width:(i+1)*width], &b.arena)
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

// numCells holds the scan destinations of number columns, by column.
type numCells struct {
	i []int64
	u []uint64
	f []float64
	b []uint8
}

func newNumCells(n int) *numCells {
	return &numCells{i: make([]int64, n), u: make([]uint64, n), f: make([]float64, n), b: make([]uint8, n)}
}

// dest returns column j's scan destination, of the Go type clickhouse-go
// fills for k.
func (c *numCells) dest(k scanKind, j int) any {
	switch k {
	case scanInt64:
		return &c.i[j]
	case scanFloat64:
		return &c.f[j]
	case scanBool:
		return &c.b[j]
	}
	return &c.u[j]
}

// get returns column j's scanned value as val.n holds it.
func (c *numCells) get(k scanKind, j int) uint64 {
	switch k {
	case scanInt64:
		return uint64(c.i[j])
	case scanFloat64:
		return math.Float64bits(c.f[j])
	case scanBool:
		return uint64(c.b[j])
	}
	return c.u[j]
}

// decodeRow decodes one scanned row into vals (list elements appended to
// *arena) and returns its key, or a *RowError for a value the index cannot
// hold.
func (t *Table) decodeRow(packed string, nums *numCells, nullable []int, vals []val, arena *[]string) (string, *RowError) {
	corrupt := func(key string) (string, *RowError) {
		return key, &RowError{Table: t.qname, UserID: key, Msg: "cannot decode the row read from ClickHouse (" + strconv.Quote(packed) + ")"}
	}
	if len(packed) < len(nullable) {
		return corrupt("")
	}
	flags, p := packed[:len(nullable)], packed[len(nullable):]
	key, p, ok := cutLenPrefixed(p)
	if !ok {
		return corrupt("")
	}
	var rerr *RowError
	fail := func(j int, msg string) {
		if rerr == nil {
			rerr = &RowError{Table: t.qname, UserID: key, Column: t.cols[j].attr, Msg: msg}
		}
	}
	for k, j := range nullable {
		if flags[k] != '0' && flags[k] != '1' {
			return corrupt(key)
		}
		vals[j].null = flags[k] == '1'
	}
	for j := range t.cols {
		c := &t.cols[j]
		v := &vals[j]
		if !c.packed() {
			if !c.nullable {
				v.null = false
			}
			v.n = nums.get(c.scan, j)
			switch c.scan {
			case scanUInt64:
				if v.n > math.MaxInt64 && !v.null {
					fail(j, fmt.Sprintf("%d does not fit an int (at most 2^63-1)", v.n))
				}
			case scanBool:
				if v.n > 1 && !v.null {
					fail(j, fmt.Sprintf("%d is not a bool (0 or 1)", v.n))
				}
			}
			continue
		}
		if c.nullable && strings.HasPrefix(p, "~") {
			*v, p = val{null: true}, p[1:]
			continue
		}
		var s string
		if s, p, ok = cutLenPrefixed(p); !ok {
			return corrupt(key)
		}
		if c.scan == scanString {
			*v = val{s: s}
			continue
		}
		if s == "" {
			*v = val{null: true} // an empty list is NULL
			continue
		}
		from := len(*arena)
		if *arena, ok = decodeList(*arena, s); !ok {
			fail(j, "cannot decode the list read from ClickHouse")
			*arena = (*arena)[:from]
			*v = val{null: true}
			continue
		}
		*v = val{lo: int32(from), hi: int32(len(*arena))}
	}
	if p != "" {
		return corrupt(key)
	}
	return key, rerr
}

// cutLenPrefixed cuts one "len:bytes" value from the front of p (len in
// decimal, as ClickHouse's toString writes it: no sign, no leading zero).
func cutLenPrefixed(p string) (v, rest string, ok bool) {
	n, i := 0, 0
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		if i > 0 && p[0] == '0' || n > (len(p)-i)/10+1 {
			return "", p, false
		}
		n = n*10 + int(p[i]-'0')
	}
	if i == 0 || i == len(p) || p[i] != ':' || n > len(p)-i-1 {
		return "", p, false
	}
	return p[i+1 : i+1+n], p[i+1+n:], true
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
	b := bitmaps.NewBuilder(t.schema)
	if n, err := t.CountRows(ctx); err == nil {
		total = n
		b.Grow(int(n))
	}
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, total) }
	}
	w := b.Writer()
	n, err := t.scanRows(ctx, -1, final, progress, func(r *scanned) error {
		if r.Upd > st.MaxUpdated {
			st.MaxUpdated = r.Upd
		}
		r.write(w)
		return w.Commit(r.Key)
	}, st.skipper(opts.SkipBadRows))
	st.Rows = n
	if opts.Progress != nil {
		opts.Progress(n, total)
	}
	if err != nil {
		return nil, st, err
	}
	st.ScanTook = time.Since(start)
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
	n, err := t.scanRows(ctx, since, t.final, nil, func(r *scanned) error {
		key, upd := r.Key, r.Upd
		if upd > st.MaxUpdated {
			st.MaxUpdated = upd
		}
		if i, ok := byKey[key]; ok {
			if upd >= out[i].Updated {
				out[i].Row = r.row(out[i].Row[:0])
				out[i].Updated = upd
			}
			return nil
		}
		if limit > 0 && len(out) >= limit {
			return fmt.Errorf("%w: more than %d since %s", ErrTooManyChanges, limit, time.Unix(since, 0).UTC().Format(time.RFC3339))
		}
		byKey[key] = len(out)
		out = append(out, Change{UserID: strings.Clone(key), Row: r.row(nil), Updated: upd})
		return nil
	}, st.skipper(opts.SkipBadRows))
	st.Rows = n
	st.Took = time.Since(start)
	if err != nil {
		return nil, st, err
	}
	return out, st, nil
}
