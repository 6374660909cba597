package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store/events"
	"github.com/cohortd/cohortd/store/kafka"
)

// Sink receives records (membership changes, dead letters). *kafka.Producer
// is one.
type Sink interface {
	// Send queues records; it may block for backpressure but not fail.
	Send(recs ...kafka.Record)
	// Flush waits until everything sent before is delivered.
	Flush(ctx context.Context) error
}

// Source is a stream of events with commits. *kafka.Consumer is one.
type Source interface {
	Fetch(ctx context.Context) (kafka.Message, error)
	Commit(ctx context.Context, pos []kafka.Position) error
}

// Defaults for zero Config durations.
const (
	DefaultSnapshotInterval = 30 * time.Second
	DefaultCommitInterval   = time.Second
	DefaultSweepInterval    = time.Minute
)

// Config configures a Pipeline. The zero value works (no change feed, no
// dead letters, no durability).
type Config struct {
	// Clock gives the instant membership is evaluated at (time.Now when
	// nil; `serve --now` pins it).
	Clock func() time.Time
	// Logger receives structured logs (nil: slog.Default()).
	Logger *slog.Logger
	// Registerer receives the pipeline's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Changes receives {"user_id","cohort","change","ts"} records keyed by
	// user_id (nil: no change feed).
	Changes Sink
	// DeadLetter receives malformed events unchanged, keyed as they came,
	// with headers saying why and where from (nil: they are only counted
	// and logged).
	DeadLetter Sink
	// StateDir holds the snapshot of the index, the side state and the
	// consumed offsets; offsets are committed once a snapshot holds their
	// events. "" = no local durability: see DurableSource.
	StateDir string
	// DurableSource says, without StateDir, that the data source the index
	// is loaded from receives the same updates as the stream (ClickHouse
	// fed by the same pipeline): offsets are then committed as soon as
	// events are applied in memory. Otherwise (a data file) nothing durable
	// holds what was applied, so no offset is committed and each start
	// replays the topic from the earliest retained record: after a crash,
	// nothing acknowledged is lost.
	DurableSource bool
	// SnapshotInterval is how often a snapshot is written when something
	// changed (with StateDir); offsets are committed after each.
	SnapshotInterval time.Duration
	// CommitInterval is how often offsets are committed without StateDir.
	CommitInterval time.Duration
	// SweepInterval is how often time-dependent cohorts are re-evaluated
	// and their changes published (negative: never).
	SweepInterval time.Duration
	// Events configures the applier (hooks, history, catalog, dedupe
	// window). History and Articles are created here when nil, so that
	// History() and Articles() work before the index is loaded.
	Events events.Options
}

// Pipeline applies events to the live index and publishes membership
// changes. It is safe for concurrent use: events from Kafka and from HTTP
// are applied one at a time under one lock (each takes microseconds; Kafka
// messages already fetched are applied in batches of up to maxBatch per
// acquisition); readers of the index never wait for the pipeline.
type Pipeline struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	set     *compiler.Set
	schema  bitmaps.Schema // the index's
	tracker *compiler.Tracker
	applier *events.Applier
	pub     *membership       // per tracker cohort: members as published
	done    map[partKey]int64 // next offset after the last message handled
	skip    map[partKey]int64 // offsets held by the restored snapshot
	durable []kafka.Position  // offsets of the last snapshot on disk
	dirty   bool              // state changed since the last snapshot
	seq     uint64            // events handled, for tests and logs

	// The user whose changes are being computed, and DiffLookup's
	// callbacks on it, bound once (closures per event would allocate).
	cur      curUser
	curWas   func(cohort int) bool
	curValue func(attr string) any

	dec   atomic.Pointer[events.Decoder]
	ready chan struct{}

	healthMu sync.Mutex
	health   StreamHealth // of the fetch loop; see Health
	once     sync.Once
}

type partKey struct {
	topic     string
	partition int
}

// New checks cfg and returns a pipeline waiting for its index (LoadIndex
// or Attach).
func New(cfg Config) (*Pipeline, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = DefaultSnapshotInterval
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Events.History == nil {
		cfg.Events.History = events.NewMemHistory(0)
	}
	if cfg.Events.Articles == nil {
		cfg.Events.Articles = events.NewArticles()
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create the state directory: %w", err)
		}
		removeTemporaries(cfg.StateDir)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("cannot register the pipeline's metrics: %w", err)
	}
	p := &Pipeline{cfg: cfg, log: cfg.Logger, m: m, done: map[partKey]int64{}, skip: map[partKey]int64{},
		ready: make(chan struct{})}
	p.curWas = func(i int) bool { return p.pub.has(i, p.cur.id) }
	p.curValue = func(attr string) any {
		if attr == p.cur.wrote && p.cur.wrote != "" {
			return p.cur.value
		}
		return p.cur.ix.Value(p.cur.id, attr)
	}
	return p, nil
}

// curUser is a user of an index, and a value the event just wrote (a
// page view's visit time), which need not be read back.
type curUser struct {
	ix    *bitmaps.Index
	id    uint32
	wrote string
	value any
}

// History is the users' read history. While Run runs, reads are written
// by a goroutine of their own (events.Applier.Background); this reader
// waits for the events applied so far before answering.
func (p *Pipeline) History() events.HistoryReader { return flushedHistory{p} }

type flushedHistory struct{ p *Pipeline }

func (h flushedHistory) Reads(userID string, n int) []events.Read {
	h.p.flushSide()
	return h.p.cfg.Events.History.Reads(userID, n)
}

func (h flushedHistory) HasRead(userID, articleID string) bool {
	h.p.flushSide()
	return h.p.cfg.Events.History.HasRead(userID, articleID)
}

// flushSide waits for the side effects (history, hooks) of the events
// applied so far.
func (p *Pipeline) flushSide() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applier != nil {
		p.applier.Flush()
	}
}

// Articles is the article catalog fed by article_published events.
func (p *Pipeline) Articles() *events.Articles { return p.cfg.Events.Articles }

// Ready says whether an index is attached (events are accepted).
func (p *Pipeline) Ready() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// Index returns the index events are applied to (nil before one is
// attached).
func (p *Pipeline) Index() *bitmaps.Index {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applier == nil {
		return nil
	}
	return p.applier.Index()
}

// LoadIndex returns the index for set: with a StateDir holding a snapshot
// of the same catalog, the snapshot (index, side state, published cohorts
// and offsets) is restored; otherwise load builds the index (from the data
// source). Either way the pipeline attaches to it; on a reload (events
// were applied already) what the stream applied is carried onto the new
// index (Rebase). It fits server.Config.LoadIndex.
func (p *Pipeline) LoadIndex(ctx context.Context, set *compiler.Set, load func(context.Context, *compiler.Set) (*bitmaps.Index, error)) (*bitmaps.Index, error) {
	if p.cfg.StateDir != "" {
		st, err := readSnapshotFile(p.cfg.StateDir)
		if err != nil {
			return nil, fmt.Errorf("%w (move the file away to start from the data source; events since its offsets must then be replayed)", err)
		}
		if st != nil && st.header.sameSchema(set.Key(), set.Schema()) {
			if err := p.restore(set, st); err != nil {
				return nil, err
			}
			p.log.Info("state restored from snapshot", "dir", p.cfg.StateDir, "users", st.ix.Len(),
				"taken_at", st.header.CreatedAt.Format(time.RFC3339), "offsets", fmtPositions(st.header.Offsets))
			return st.ix, nil
		}
		if st != nil {
			p.log.Warn("the state snapshot was taken for another catalog; loading the data source instead",
				"dir", p.cfg.StateDir, "taken_at", st.header.CreatedAt.Format(time.RFC3339))
		}
	}
	ix, err := load(ctx, set)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	reload := p.applier != nil
	p.mu.Unlock()
	if reload {
		// A reload for a new catalog reads the source again: what the
		// stream applied since (profile updates, new users, deletions)
		// must not be lost, so it is carried onto the new index.
		if err := p.Rebase(set, ix, time.Time{}); err != nil {
			return nil, err
		}
		return ix, nil
	}
	if err := p.Attach(set, ix); err != nil {
		return nil, err
	}
	return ix, nil
}

func (p *Pipeline) restore(set *compiler.Set, st *snapshotState) error {
	tr, err := compiler.NewTracker(set)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	app := events.NewApplier(st.ix, p.cfg.Events)
	if err := app.ReadState(bytes.NewReader(st.applier)); err != nil {
		return fmt.Errorf("cannot restore the state snapshot: %w", err)
	}
	p.applier = app
	p.skip = map[partKey]int64{}
	p.done = map[partKey]int64{}
	for _, pos := range st.header.Offsets {
		k := partKey{pos.Topic, pos.Partition}
		p.skip[k], p.done[k] = pos.Offset, pos.Offset
	}
	p.durable = slices.Clone(st.header.Offsets)
	p.attachLocked(set, tr, st.ix, st.published)
	return nil
}

// Attach makes the pipeline apply events to ix, with set's cohorts (after a
// reload or an index rebuild). The published membership is recomputed from
// ix at once, without publishing the difference (a rebuilt index is a new
// baseline).
func (p *Pipeline) Attach(set *compiler.Set, ix *bitmaps.Index) error {
	tr, err := compiler.NewTracker(set)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applier == nil {
		p.applier = events.NewApplier(ix, p.cfg.Events)
	} else if p.applier.Index() != ix {
		p.applier.SetIndex(ix)
	}
	p.attachLocked(set, tr, ix, nil)
	p.dirty = true
	return nil
}

// attachLocked installs set and computes the published baseline (from
// restored bitmaps where a cohort of the same name has one).
func (p *Pipeline) attachLocked(set *compiler.Set, tr *compiler.Tracker, ix *bitmaps.Index, restored map[string]*roaring.Bitmap) {
	now := p.cfg.Clock()
	ev := compiler.NewEvaluator(set, ix)
	pub := make([]*roaring.Bitmap, tr.Len())
	for i := range pub {
		name := tr.Cohort(i).Name
		if b, ok := restored[name]; ok {
			pub[i] = b
			continue
		}
		b, err := ev.CohortMembers(context.Background(), name, now)
		if err != nil { // cannot happen for a cohort of the set
			p.log.Error("cannot evaluate a cohort for the change feed", "cohort", name, "err", err)
			b = roaring.New()
		}
		pub[i] = b.Clone()
	}
	p.set, p.tracker, p.pub, p.schema = set, tr, newMembership(pub), ix.Schema()
	p.dec.Store(events.NewDecoder(set.Key(), ix.Schema()))
	p.once.Do(func() { close(p.ready) })
}

// Outcome is what handling one event did.
type Outcome struct {
	Result  events.Result
	Changes []compiler.Change
}

// errNotReady is returned before an index is attached.
var errNotReady = errors.New("the index is not loaded yet")

// Decode decodes one event with the current catalog.
func (p *Pipeline) Decode(data []byte) (events.Event, error) {
	dec := p.dec.Load()
	if dec == nil {
		return events.Event{}, errNotReady
	}
	return dec.Decode(data)
}

// Apply applies one decoded event (source labels the metrics: "http",
// "kafka"; arrived is when it reached cohortd, for the freshness metric).
func (p *Pipeline) Apply(ev *events.Event, source string, arrived time.Time) (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applier == nil {
		return Outcome{}, errNotReady
	}
	defer p.applier.Publish()
	return p.applyLocked(ev, source, arrived)
}

func (p *Pipeline) applyLocked(ev *events.Event, source string, arrived time.Time) (Outcome, error) {
	start := time.Now()
	ix := p.applier.Index()
	var oldID uint32
	if ev.Type == events.UserDeleted {
		oldID, _ = ix.Lookup(ev.UserID)
	}
	res, err := p.applier.Apply(ev)
	if err != nil {
		p.m.eventCounter(source, ev.Type.String(), "failed").Inc()
		return Outcome{}, err
	}
	p.seq++
	out := Outcome{Result: res}
	result := "applied"
	switch {
	case res.Duplicate:
		result = "duplicate"
	case res.Ignored != "":
		result = "ignored"
	}
	if res.Changed() {
		p.dirty = true
		out.Changes, err = p.changesLocked(ev, res, oldID)
		if err != nil { // a program failed on a row of the index: a bug, not bad input
			p.log.Error("cannot compute membership changes", "user_id", ev.UserID, "err", err)
		}
	} else if !res.Duplicate {
		p.dirty = true // side state (history, catalog, tombstones, dedupe) changed
	}
	p.m.eventCounter(source, ev.Type.String(), result).Inc()
	end := time.Now()
	p.m.apply.Observe(end.Sub(start).Seconds())
	if !arrived.IsZero() {
		p.m.freshness.Observe(max(end.Sub(arrived).Seconds(), 0))
	}
	return out, nil
}

// changesLocked re-evaluates the affected cohorts for the event's user,
// updates the published bitmaps and sends the change records.
func (p *Pipeline) changesLocked(ev *events.Event, res events.Result, oldID uint32) ([]compiler.Change, error) {
	tr := p.tracker
	now := p.cfg.Clock()
	var (
		changes []compiler.Change
		err     error
		id      uint32
	)
	if res.Deleted {
		id = oldID
		changes, err = tr.Diff(tr.All(), func(i int) bool { return p.pub.has(i, id) }, nil, now)
	} else {
		ix := p.applier.Index()
		id = res.ID
		cohorts := tr.Affected(res.Fields)
		if res.Created {
			cohorts = tr.All()
		}
		if len(cohorts) == 0 {
			return nil, nil
		}
		// Values are read lazily: a cohort whose first AND term is false
		// for the user does not read the others.
		p.cur = curUser{ix: ix, id: id}
		if ev.Type == events.PageView && len(res.Fields) == 1 {
			// A page view changes only the last visit, to its time.
			p.cur.wrote, p.cur.value = res.Fields[0], ev.TS.Unix()
		}
		changes, err = tr.DiffLookup(cohorts, p.curWas, ev.UserID, p.curValue, now)
		p.cur = curUser{}
	}
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, nil
	}
	recs := make([]kafka.Record, 0, len(changes))
	for _, c := range changes {
		i, _ := tr.Lookup(c.Cohort)
		p.pub.set(i, id, c.Entered)
		p.m.eventChange(c.Entered).Inc()
		if p.cfg.Changes != nil {
			recs = append(recs, changeRecord(ev.UserID, c, ev.TS, ev.ID))
		}
	}
	if len(recs) > 0 {
		p.cfg.Changes.Send(recs...)
	}
	return changes, nil
}

// ChangeRecord is the JSON of one record of the changes topic.
type ChangeRecord struct {
	UserID string `json:"user_id"`
	Cohort string `json:"cohort"`
	Change string `json:"change"` // entered | exited
	TS     string `json:"ts"`     // the event's ts, or the sweep's instant (RFC 3339)
	// EventID is the event that caused the change (absent for sweeps); with
	// (user_id, cohort, change) it identifies a record re-sent after a
	// restart. It travels in the record's cohortd-event-id header, so the
	// value holds exactly the contract's four fields (events.md).
	EventID string `json:"-"`
}

// EventIDHeader is the change record header naming the event that caused
// the change.
const EventIDHeader = "cohortd-event-id"

func changeRecord(userID string, c compiler.Change, ts time.Time, eventID string) kafka.Record {
	// One allocation for the key and the JSON (its size, short of escapes).
	b := make([]byte, 0, len(userID)+80+len(userID)+len(c.Cohort))
	b = append(b, userID...)
	n := len(b)
	b = appendChangeJSON(b, userID, c.Cohort, c.Kind(), ts)
	r := kafka.Record{Key: b[:n:n], Value: b[n:]}
	if eventID != "" {
		r.Headers = []kafka.Header{{Key: EventIDHeader, Value: []byte(eventID)}}
	}
	return r
}

// appendChangeJSON appends a ChangeRecord as json.Marshal writes it,
// without reflection (one is built per membership change).
func appendChangeJSON(b []byte, userID, cohort, change string, ts time.Time) []byte {
	b = append(b, `{"user_id":`...)
	b = appendJSONString(b, userID)
	b = append(b, `,"cohort":`...)
	b = appendJSONString(b, cohort)
	b = append(b, `,"change":`...)
	b = appendJSONString(b, change)
	b = append(b, `,"ts":"`...)
	b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: plain ASCII directly, other
// strings through encoding/json (same escaping as json.Marshal).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Sweep re-evaluates the time-dependent cohorts at the clock's now and
// publishes the difference with what was last published for them. It
// returns the number of changes.
func (p *Pipeline) Sweep(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applier == nil {
		return 0, errNotReady
	}
	start := time.Now()
	now := p.cfg.Clock()
	ix := p.applier.Index()
	ev := compiler.NewEvaluator(p.set, ix)
	ts := now.UTC().Format(time.RFC3339Nano)
	n := 0
	for _, i := range p.tracker.TimeDependent() {
		name := p.tracker.Cohort(i).Name
		cur, err := ev.CohortMembers(ctx, name, now)
		if err != nil {
			return n, fmt.Errorf("cannot sweep cohort %q: %w", name, err)
		}
		pub := p.pub.bms[i]
		var recs []kafka.Record
		for _, d := range []struct {
			ids  *roaring.Bitmap
			kind string
		}{{roaring.AndNot(cur, pub), "entered"}, {roaring.AndNot(pub, cur), "exited"}} {
			it := d.ids.Iterator()
			for it.HasNext() {
				u, ok := ix.UserID(it.Next())
				if !ok {
					continue
				}
				n++
				p.m.changes.WithLabelValues(d.kind, "sweep").Inc()
				if p.cfg.Changes != nil {
					b, _ := json.Marshal(ChangeRecord{UserID: u, Cohort: name, Change: d.kind, TS: ts})
					recs = append(recs, kafka.Record{Key: []byte(u), Value: b})
				}
			}
		}
		if !pub.Equals(cur) {
			p.pub.replace(i, cur.Clone())
			p.dirty = true
		}
		if len(recs) > 0 {
			p.cfg.Changes.Send(recs...)
		}
	}
	p.m.sweepSecs.Observe(time.Since(start).Seconds())
	return n, nil
}

// Published returns a copy of the members of cohort name as last published
// on the change feed.
func (p *Pipeline) Published(name string) (*roaring.Bitmap, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tracker == nil {
		return nil, false
	}
	i, ok := p.tracker.Lookup(name)
	if !ok {
		return nil, false
	}
	return p.pub.bms[i].Clone(), true
}

// handleBatch applies Kafka messages (decoded by the fetcher) in order
// under one acquisition of the pipeline's lock.
func (p *Pipeline) handleBatch(batch []fetched) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range batch {
		it := &batch[i]
		p.handleLocked(it.m, it.ev, it.err, it.dec)
	}
	p.applier.Publish()
}

// handleLocked applies one Kafka message.
func (p *Pipeline) handleLocked(m kafka.Message, ev events.Event, decErr error, dec *events.Decoder) {
	k := partKey{m.Topic, m.Partition}
	if off, ok := p.skip[k]; ok && m.Offset < off {
		return // already in the restored snapshot
	}
	p.m.lagGauge(m.Partition).Set(float64(max(m.HighWaterMark-m.Offset-1, 0)))
	if cur := p.dec.Load(); cur != dec { // the catalog changed since decoding
		ev, decErr = cur.Decode(m.Value)
	}
	var err error
	if decErr == nil {
		_, err = p.applyLocked(&ev, "kafka", m.Time)
	}
	switch {
	case decErr != nil:
		me := &events.MalformedError{Msg: decErr.Error()}
		if errors.As(decErr, &me) {
			me = me.At(m.Topic, m.Partition, m.Offset)
		}
		p.m.eventCounter("kafka", "unknown", "malformed").Inc()
		p.log.Warn("malformed event skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"field", me.Field, "err", me.Msg, "dead_letter", p.cfg.DeadLetter != nil)
		p.deadLetter(m, me.Field, me.Msg)
	case err != nil:
		p.log.Error("event not applied", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"type", ev.Type.String(), "user_id", ev.UserID, "err", err, "dead_letter", p.cfg.DeadLetter != nil)
		p.deadLetter(m, "", err.Error())
	}
	p.done[k] = m.Offset + 1
	p.dirty = true
}

func (p *Pipeline) deadLetter(m kafka.Message, field, msg string) {
	if p.cfg.DeadLetter == nil {
		return
	}
	p.cfg.DeadLetter.Send(kafka.Record{Key: m.Key, Value: m.Value, Headers: []kafka.Header{
		{Key: "cohortd-error", Value: []byte(msg)},
		{Key: "cohortd-field", Value: []byte(field)},
		{Key: "cohortd-topic", Value: []byte(m.Topic)},
		{Key: "cohortd-partition", Value: []byte(strconv.Itoa(m.Partition))},
		{Key: "cohortd-offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
	}})
}

func fmtPositions(pos []kafka.Position) string {
	var b bytes.Buffer
	for i, p := range pos {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s/%d@%d", p.Topic, p.Partition, p.Offset)
	}
	return b.String()
}

func positions(m map[partKey]int64) []kafka.Position {
	out := make([]kafka.Position, 0, len(m))
	for k, off := range m {
		out = append(out, kafka.Position{Topic: k.topic, Partition: k.partition, Offset: off})
	}
	slices.SortFunc(out, func(a, b kafka.Position) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return a.Partition - b.Partition
	})
	return out
}

// Rebase attaches an index rebuilt from a source that is up to date only as
// of asOf (a ClickHouse refresh), after carrying over what the stream
// applied since (events.Applier.Carry): streamed profile values newer than
// asOf, later visits, users created by the stream and deletions are kept.
// Events wait meanwhile. The published membership is recomputed on ix
// without publishing the difference. The caller then serves ix.
func (p *Pipeline) Rebase(set *compiler.Set, ix *bitmaps.Index, asOf time.Time) error {
	tr, err := compiler.NewTracker(set)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applier == nil {
		p.applier = events.NewApplier(ix, p.cfg.Events)
	} else {
		st, err := p.applier.Carry(p.applier.Index(), ix, asOf)
		if err != nil {
			return err
		}
		p.applier.SetIndex(ix)
		p.log.Info("streamed updates carried onto the refreshed index", "as_of", asOf.Format(time.RFC3339),
			"values", st.Values, "users", st.Users, "deleted", st.Deleted)
	}
	p.attachLocked(set, tr, ix, nil)
	p.dirty = true
	return nil
}
