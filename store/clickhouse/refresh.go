package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cohortd/cohortd/bitmaps"
)

// Defaults applied by NewRefresher to zero RefreshOptions fields.
const (
	DefaultFullEvery  = 12
	DefaultOverlap    = time.Minute
	DefaultMaxChanges = 1 << 20
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// RefreshOptions tunes a Refresher.
type RefreshOptions struct {
	// Interval is the time between refreshes; 0 makes Run return at once
	// (load once, never refresh).
	Interval time.Duration
	// FullEvery makes every FullEvery-th refresh of a table with updated_at
	// a full rebuild, the only way deleted rows leave the index (default
	// 12: with a 5 minute interval, hourly). 1 makes every refresh full.
	FullEvery int
	// Overlap: an incremental refresh reads rows changed since the last
	// watermark minus Overlap (default 1 min), to catch rows whose
	// updated_at lags their insertion. Re-reading a row is harmless.
	Overlap time.Duration
	// MaxChanges: when more rows changed, the refresh rebuilds the index
	// instead (default 1,048,576).
	MaxChanges int
	// MinBackoff and MaxBackoff bound the delays between retries after a
	// failure (default 1 s doubling up to 30 s; a refresh retries at most
	// every Interval).
	MinBackoff, MaxBackoff time.Duration
	// SkipBadRows skips rows the index cannot hold instead of failing.
	SkipBadRows bool
	// Swap installs a rebuilt index (e.g. server.Server.SetIndex); required
	// for Run. asOf is when the rows it holds were read from ClickHouse
	// (for carrying over updates the event stream applied since). An error
	// keeps the previous index live and counts as a failed refresh.
	Swap func(ix *bitmaps.Index, asOf time.Time) error
	// Logger receives a line per load, refresh and failure (nil: discard).
	Logger *slog.Logger
	// Registerer receives the refresher's metrics (nil: not exported). A
	// second Refresher on the same registry shares the first one's metrics.
	Registerer prometheus.Registerer
	// Progress reports full reads (see ReadOptions.Progress).
	Progress func(rows, total int64)
	// TableOptions are passed to Client.Table on every (re)bind.
	TableOptions []TableOption
}

// Refresher loads a ClickHouse table into an index and keeps it fresh.
//
// Design: every refresh builds a new index off to the side and installs it
// with Swap, so readers switch atomically from one complete index to the
// next, and whatever else writes to the live index (the event stream) can
// carry its updates over (Swap gets the instant the table was read). The
// first Load and every full refresh read the whole table. When the table
// has an updated_at column, the other refreshes are incremental: they read
// only the rows changed since the last watermark (the largest updated_at
// seen, minus Overlap), wholly into memory, then upsert them into a copy of
// the live index (a snapshot round trip) and swap the copy in; when nothing
// changed there is nothing to swap. Trade-off: an incremental refresh costs
// a copy of the index (about 1 s of CPU per million users, and twice the
// index's memory until the old one is dropped, like a full refresh) instead
// of reading every row from ClickHouse (about 6 s per million, and the load
// on ClickHouse); upserting into the live index instead would avoid the
// copy but let requests see half a refresh, and overwrite newer values the
// event stream wrote. Deleted rows only leave the index at the next full
// refresh (FullEvery). The table's columns are re-read on every full
// refresh, so a changed table type is noticed.
//
// A failure (ClickHouse down, a query error, a bad row) changes nothing:
// the last index keeps serving, the failure is logged and counted, and the
// refresh is retried with backoff. A Refresher is safe for concurrent use;
// refreshes are serialised.
type Refresher struct {
	c      *Client
	table  string
	key    string
	schema bitmaps.Schema
	opts   RefreshOptions
	log    *slog.Logger
	m      *refreshMetrics

	mu        sync.Mutex // serialises loads and refreshes
	t         *Table
	ix        *bitmaps.Index
	watermark int64
	sinceFull int

	// published copies of t and ix, read without waiting for a refresh
	pubT  atomic.Pointer[Table]
	pubIx atomic.Pointer[bitmaps.Index]
	// health is the outcome of the last read (see Health).
	health atomic.Pointer[Health]
}

// Health is the outcome of a Refresher's last read of the table.
type Health struct {
	OK          bool      // the last load or refresh succeeded
	LastSuccess time.Time // zero before the first success
	LastError   string    // the last failure's message, "" when OK
	Since       time.Time // when the current state (ok or failing) began
}

// Health reports whether the table could be read the last time it was tried,
// so readiness probes can say the index is being served stale.
func (r *Refresher) Health() Health {
	if h := r.health.Load(); h != nil {
		return *h
	}
	return Health{}
}

// record notes the outcome of one read in Health.
func (r *Refresher) record(err error) {
	now := time.Now()
	prev := r.Health()
	h := Health{OK: err == nil, LastSuccess: prev.LastSuccess, Since: prev.Since}
	if err == nil {
		h.LastSuccess = now
	} else {
		h.LastError = err.Error()
	}
	if prev.Since.IsZero() || prev.OK != h.OK {
		h.Since = now
	}
	r.health.Store(&h)
}

// NewRefresher returns a refresher of table (in c's database) for the
// catalog key + schema. It does not connect: call Load, then Run.
func NewRefresher(c *Client, table, key string, schema bitmaps.Schema, opts RefreshOptions) (*Refresher, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("cannot refresh table %q: %w", table, err)
	}
	if opts.FullEvery <= 0 {
		opts.FullEvery = DefaultFullEvery
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	if opts.MaxChanges <= 0 {
		opts.MaxChanges = DefaultMaxChanges
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newRefreshMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Refresher{c: c, table: table, key: key, schema: append(bitmaps.Schema(nil), schema...),
		opts: opts, log: log.With("clickhouse", c.Addr(), "table", c.QualifiedName(table)), m: m}, nil
}

// Index returns the live index: the last one loaded or swapped in (nil
// before Load succeeds). It does not wait for a refresh in progress.
func (r *Refresher) Index() *bitmaps.Index { return r.pubIx.Load() }

// Table returns the table as last bound (nil before Load succeeds).
func (r *Refresher) Table() *Table { return r.pubT.Load() }

// publish makes r.t and r.ix visible to Index and Table. Caller holds r.mu.
func (r *Refresher) publish() {
	r.pubT.Store(r.t)
	r.pubIx.Store(r.ix)
}

// Load binds the table and reads it into a new index, which becomes the
// live one. While ClickHouse cannot be reached (or answers with a
// transient error) it retries with backoff until ctx is done; an error that
// retrying cannot fix (see Transient), such as a *SchemaError, is returned
// at once.
func (r *Refresher) Load(ctx context.Context) (*bitmaps.Index, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delay := r.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		err := r.full(ctx, false)
		if err == nil {
			return r.ix, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !Transient(err) {
			return nil, err
		}
		r.m.startRetries.Inc()
		r.log.Warn("cannot load users from ClickHouse; retrying", "attempt", attempt, "retry_in", delay.String(), "err", err)
		if !sleep(ctx, delay) {
			return nil, ctx.Err()
		}
		delay = min(2*delay, r.opts.MaxBackoff)
	}
}

// Refresh runs one refresh now: incremental when the table has updated_at
// and the last full read is recent enough (FullEvery), else a full rebuild
// swapped in with Swap. On error the live index is unchanged.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ix == nil {
		return errors.New("cannot refresh before the first load")
	}
	if r.t != nil && r.t.Incremental() && r.sinceFull+1 < r.opts.FullEvery {
		err := r.incremental(ctx)
		if !errors.Is(err, ErrTooManyChanges) {
			return err
		}
		r.log.Info("many rows changed; rebuilding the index instead", "err", err)
	}
	return r.full(ctx, true)
}

// full binds the table again and rebuilds the index; swap says whether to
// install it with opts.Swap (not for the first load: the caller installs
// it). Caller holds r.mu.
func (r *Refresher) full(ctx context.Context, swap bool) (err error) {
	start := time.Now()
	var st ReadStats
	defer func() { r.m.done("full", start, st, err); r.record(err) }()
	t, err := r.c.Table(ctx, r.table, r.key, r.schema, r.opts.TableOptions...)
	if err != nil {
		return err
	}
	ix, st, err := t.ReadIndex(ctx, ReadOptions{SkipBadRows: r.opts.SkipBadRows, Progress: r.opts.Progress})
	if err != nil {
		return err
	}
	if swap {
		if err := r.swap(ix, start); err != nil {
			return err
		}
	}
	r.t, r.ix, r.watermark, r.sinceFull = t, ix, st.MaxUpdated, 0
	r.publish()
	attrs := []any{"users", ix.Len(), "took", st.Took.Round(time.Millisecond).String(), "reading", st.ScanTook.Round(time.Millisecond).String()}
	if st.Skipped > 0 {
		attrs = append(attrs, "skipped_bad_rows", st.Skipped, "first_errors", st.FirstErrors)
	}
	if t.Incremental() {
		attrs = append(attrs, "watermark", time.Unix(st.MaxUpdated, 0).UTC().Format(time.RFC3339))
	}
	r.log.Info("index read from ClickHouse", attrs...)
	return nil
}

// swap installs ix with opts.Swap.
func (r *Refresher) swap(ix *bitmaps.Index, asOf time.Time) error {
	if r.opts.Swap == nil {
		return errors.New("the refresher has no Swap to install a rebuilt index")
	}
	if err := r.opts.Swap(ix, asOf); err != nil {
		return fmt.Errorf("cannot install the refreshed index: %w", err)
	}
	return nil
}

// cloneIndex copies an index through its snapshot format.
func cloneIndex(ix *bitmaps.Index) (*bitmaps.Index, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := ix.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	cp, err := bitmaps.ReadIndex(pr)
	pr.CloseWithError(err) // unblocks the writer if the reader stopped early
	if err != nil {
		return nil, fmt.Errorf("cannot copy the index: %w", err)
	}
	return cp, nil
}

// incremental upserts the rows changed since the watermark into a copy of
// the live index and swaps it in. Caller holds r.mu.
func (r *Refresher) incremental(ctx context.Context) (err error) {
	start := time.Now()
	var st ReadStats
	defer func() { r.m.done("incremental", start, st, err); r.record(err) }()
	since := r.watermark - int64(r.opts.Overlap/time.Second)
	changes, st, err := r.t.ReadChanges(ctx, since, r.opts.MaxChanges, ReadOptions{SkipBadRows: r.opts.SkipBadRows})
	if err != nil {
		return err
	}
	// Check every row before touching the index, so that a bad row fails
	// the refresh without applying part of it.
	keep := changes[:0]
	for _, ch := range changes {
		if rerr := r.t.checkRow(ch.UserID, ch.Row); rerr != nil {
			if !r.opts.SkipBadRows {
				return rerr
			}
			st.Skipped++
			if len(st.FirstErrors) < maxFirstErrors {
				st.FirstErrors = append(st.FirstErrors, rerr)
			}
			continue
		}
		keep = append(keep, ch)
	}
	if len(keep) > 0 {
		next, err := cloneIndex(r.ix)
		if err != nil {
			return err
		}
		for _, ch := range keep {
			if _, err := next.Upsert(ch.UserID, ch.Row); err != nil {
				return &RowError{Table: r.t.qname, UserID: ch.UserID, Msg: err.Error(), Err: err}
			}
		}
		if err := r.swap(next, start); err != nil {
			return err
		}
		r.ix = next
		r.publish()
	}
	if st.MaxUpdated > r.watermark {
		r.watermark = st.MaxUpdated
	}
	r.sinceFull++
	if len(keep) > 0 || st.Skipped > 0 {
		r.log.Info("changed rows applied from ClickHouse", "rows", len(keep), "skipped_bad_rows", st.Skipped,
			"since", time.Unix(since, 0).UTC().Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond).String())
	}
	return nil
}

// checkRow finds what Index.Upsert would refuse: an empty key, a NaN or
// infinite float.
func (t *Table) checkRow(key string, row bitmaps.Row) *RowError {
	if key == "" {
		return &RowError{Table: t.qname, Column: t.key.attr, Msg: "empty key", Err: bitmaps.ErrEmptyUserID}
	}
	for i, v := range row {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return &RowError{Table: t.qname, UserID: key, Column: t.cols[i].attr, Msg: bitmaps.ErrNotFinite.Error(), Err: bitmaps.ErrNotFinite}
		}
	}
	return nil
}

// Run refreshes every Interval until ctx is done (it returns nil then).
// After a failed refresh it retries sooner, with backoff, but never more
// often than every MinBackoff nor less often than every Interval. Load
// must have succeeded first.
func (r *Refresher) Run(ctx context.Context) error {
	if r.opts.Interval <= 0 {
		return nil
	}
	if r.Index() == nil {
		return errors.New("cannot refresh before the first load")
	}
	wait, backoff := r.opts.Interval, r.opts.MinBackoff
	for {
		if !sleep(ctx, wait) {
			return nil
		}
		err := r.Refresh(ctx)
		switch {
		case err == nil:
			wait, backoff = r.opts.Interval, r.opts.MinBackoff
		case ctx.Err() != nil:
			return nil
		default:
			wait = min(backoff, r.opts.Interval)
			backoff = min(2*backoff, r.opts.MaxBackoff)
			r.log.Error("refresh from ClickHouse failed; the last index keeps serving", "retry_in", wait.String(), "err", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// permanentCodes are ClickHouse exception codes that retrying does not fix.
var permanentCodes = map[int32]bool{
	43:  true, // ILLEGAL_TYPE_OF_ARGUMENT
	46:  true, // UNKNOWN_FUNCTION
	47:  true, // UNKNOWN_IDENTIFIER
	53:  true, // TYPE_MISMATCH
	60:  true, // UNKNOWN_TABLE
	62:  true, // SYNTAX_ERROR
	70:  true, // CANNOT_CONVERT_TYPE
	81:  true, // UNKNOWN_DATABASE
	192: true, // UNKNOWN_USER
	193: true, // WRONG_PASSWORD
	194: true, // REQUIRED_PASSWORD
	386: true, // NO_COMMON_TYPE
	497: true, // ACCESS_DENIED
	516: true, // AUTHENTICATION_FAILED
}

// Transient reports whether retrying may fix err: a network failure, a
// timeout or a ClickHouse exception such as a memory limit is transient; a
// *SchemaError, a *RowError, an unknown table or wrong password is not.
func Transient(err error) bool {
	var se *SchemaError
	var re *RowError
	var ex *ch.Exception
	switch {
	case err == nil, errors.As(err, &se), errors.As(err, &re),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &ex):
		return !permanentCodes[ex.Code]
	}
	return true
}

// refreshMetrics are the Prometheus metrics of refreshers.
type refreshMetrics struct {
	refreshes    *prometheus.CounterVec
	up           prometheus.Gauge
	lastSuccess  prometheus.Gauge
	rows         prometheus.Counter
	badRows      prometheus.Counter
	startRetries prometheus.Counter
	duration     *prometheus.HistogramVec
}

func newRefreshMetrics(reg prometheus.Registerer) (*refreshMetrics, error) {
	m := &refreshMetrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohortd_clickhouse_refreshes_total",
			Help: "Reads of the ClickHouse users table, by kind (full, incremental) and result (ok, error).",
		}, []string{"kind", "result"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cohortd_clickhouse_up",
			Help: "1 when the last read of the ClickHouse users table succeeded, 0 when it failed (the last index keeps serving).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cohortd_clickhouse_last_success_timestamp_seconds",
			Help: "Unix time of the last successful read of the ClickHouse users table.",
		}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cohortd_clickhouse_rows_read_total",
			Help: "Rows read from the ClickHouse users table.",
		}),
		badRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cohortd_clickhouse_bad_rows_total",
			Help: "Rows of the ClickHouse users table skipped because the index cannot hold a value.",
		}),
		startRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cohortd_clickhouse_load_retries_total",
			Help: "Retries of the first load while ClickHouse could not be reached.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cohortd_clickhouse_refresh_seconds",
			Help:    "Duration of reads of the ClickHouse users table, by kind.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 120, 300},
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.refreshes = register(reg, m.refreshes, &err)
	m.up = register(reg, m.up, &err)
	m.lastSuccess = register(reg, m.lastSuccess, &err)
	m.rows = register(reg, m.rows, &err)
	m.badRows = register(reg, m.badRows, &err)
	m.startRetries = register(reg, m.startRetries, &err)
	m.duration = register(reg, m.duration, &err)
	if err != nil {
		return nil, fmt.Errorf("cannot register ClickHouse refresh metrics: %w", err)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = err
	}
	return c
}

// done records one read.
func (m *refreshMetrics) done(kind string, start time.Time, st ReadStats, err error) {
	m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	m.rows.Add(float64(st.Rows))
	m.badRows.Add(float64(st.Skipped))
	if err != nil {
		m.refreshes.WithLabelValues(kind, "error").Inc()
		m.up.Set(0)
		return
	}
	m.refreshes.WithLabelValues(kind, "ok").Inc()
	m.up.Set(1)
	m.lastSuccess.Set(float64(time.Now().Unix()))
}
