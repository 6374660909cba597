package realtime

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cohortd/cohortd/store/events"
	"github.com/cohortd/cohortd/store/kafka"
)

// fetched is a message decoded by the fetch goroutine.
type fetched struct {
	m   kafka.Message
	ev  events.Event
	err error
	dec *events.Decoder
}

// Run consumes src (nil: events come only from HTTP), applies its events,
// sweeps time-dependent cohorts, writes snapshots and commits offsets until
// ctx is done; then it takes a last checkpoint (flush, snapshot, commit)
// and returns nil (or the last checkpoint's error). It waits for the index
// to be attached first. A failing fetch does not stop it: it is retried
// with backoff, and Health reports it meanwhile.
func (p *Pipeline) Run(ctx context.Context, src Source) error {
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil
	}
	// The read history and the hooks get a goroutine of their own, so
	// that applying events is mostly index writes (checkpoints wait for
	// it: see checkpoint).
	p.mu.Lock()
	stopSide := p.applier.Background()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		stopSide()
		p.mu.Unlock()
	}()
	items := make(chan fetched, 4096)
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	if src != nil {
		go p.fetch(fetchCtx, src, items)
		if ls, ok := src.(lagSource); ok {
			go p.watchLag(fetchCtx, ls, lagInterval)
		}
	}
	every := p.cfg.CommitInterval
	if p.cfg.StateDir != "" {
		every = p.cfg.SnapshotInterval
	}
	checkT := time.NewTicker(every)
	defer checkT.Stop()
	var sweepC <-chan time.Time
	if p.cfg.SweepInterval > 0 {
		t := time.NewTicker(p.cfg.SweepInterval)
		defer t.Stop()
		sweepC = t.C
	}
	var runErr error
	batch := make([]fetched, 0, maxBatch)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case it := <-items:
			batch = takeBatch(append(batch[:0], it), items)
			p.handleBatch(batch)
			clear(batch) // let the messages go
		case <-checkT.C:
			if err := p.checkpoint(ctx, src); err != nil && ctx.Err() == nil {
				p.log.Error("checkpoint failed; offsets stay uncommitted and it is retried", "err", err)
			}
		case <-sweepC:
			if n, err := p.Sweep(ctx); err != nil {
				p.log.Error("sweep of time-dependent cohorts failed", "err", err)
			} else if n > 0 {
				p.log.Debug("time-dependent cohorts swept", "changes", n)
			}
		}
	}
	stopFetch()
	// Apply what was fetched already, so that the last checkpoint covers it.
	for {
		select {
		case it := <-items:
			batch = takeBatch(append(batch[:0], it), items)
			p.handleBatch(batch)
			clear(batch)
			continue
		default:
		}
		break
	}
	// The last checkpoint may wait for the sinks and the commit, unless the
	// brokers are known to be unreachable: then nothing can be delivered or
	// committed, so it is not waited for long (what was applied since the
	// last checkpoint is fetched and applied again after the restart).
	lastWait := 30 * time.Second
	if !p.Health().OK {
		lastWait = 5 * time.Second
	}
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastWait)
	defer cancel()
	if err := p.checkpoint(final, src); err != nil {
		p.log.Error("last checkpoint failed", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	return runErr
}

// maxBatch bounds how many fetched messages are applied under one lock
// acquisition: events from HTTP, checkpoints and sweeps wait at most that
// many applications (about a millisecond).
const maxBatch = 128

// takeBatch appends to batch what is already waiting in items, up to
// maxBatch, without blocking.
func takeBatch(batch []fetched, items <-chan fetched) []fetched {
	for len(batch) < maxBatch {
		select {
		case it := <-items:
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// fetch feeds out from src until ctx is done. A failing fetch (broker
// unreachable, group join refused...) is logged, counted and retried with
// backoff (1 s doubling to 30 s) while the index keeps serving; Health
// reports it.
func (p *Pipeline) fetch(ctx context.Context, src Source, out chan<- fetched) {
	p.m.kafkaUp.Set(1)
	backoff := time.Duration(0)
	for {
		m, err := src.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			p.streamFailed(err, backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
				return
			}
		}
		if backoff > 0 {
			backoff = 0
			p.streamRecovered()
		}
		dec := p.dec.Load()
		ev, derr := dec.Decode(m.Value)
		select {
		case out <- fetched{m: m, ev: ev, err: derr, dec: dec}:
		case <-ctx.Done():
			return
		}
	}
}

// Checkpoint makes what was applied so far durable and commits the offsets
// that are safe (see the package doc). Run calls it periodically; call it
// when not running Run.
func (p *Pipeline) Checkpoint(ctx context.Context) error { return p.checkpoint(ctx, nil) }

func (p *Pipeline) checkpoint(ctx context.Context, src Source) error {
	p.mu.Lock()
	if p.applier == nil {
		p.mu.Unlock()
		return nil
	}
	// The history writes and hooks of the events done must have run
	// before their offsets count as done (an erasure reaches the hooks).
	p.applier.Flush()
	pos := positions(p.done)
	var snap *captured
	if p.cfg.StateDir != "" && p.dirty {
		start := time.Now()
		ix := p.applier.Index()
		h := snapHeader{CreatedAt: time.Now().UTC(), Key: p.set.Key(), Schema: schemaOf(ix.Schema()), Offsets: pos, Users: ix.Len()}
		for i := 0; i < p.tracker.Len(); i++ {
			h.Cohorts = append(h.Cohorts, p.tracker.Cohort(i).Name)
		}
		var err error
		snap, err = capture(h, ix, p.applier.WriteState, p.pub.bms)
		if err != nil {
			p.mu.Unlock()
			p.m.snapshots.WithLabelValues("failed").Inc()
			return err
		}
		p.dirty = false
		p.log.Debug("snapshot captured", "took", time.Since(start), "users", h.Users)
	}
	p.mu.Unlock()

	// Records caused by the events up to here must be delivered before the
	// events count as done.
	for _, s := range []Sink{p.cfg.Changes, p.cfg.DeadLetter} {
		if s == nil {
			continue
		}
		if err := s.Flush(ctx); err != nil {
			p.markDirty(snap != nil)
			return fmt.Errorf("cannot deliver records before committing: %w", err)
		}
	}
	commit := pos
	if p.cfg.StateDir != "" {
		if snap != nil {
			start := time.Now()
			if err := writeSnapshotFile(p.cfg.StateDir, snap.encode); err != nil {
				p.m.snapshots.WithLabelValues("failed").Inc()
				p.markDirty(true)
				return err
			}
			p.m.snapshots.WithLabelValues("ok").Inc()
			p.m.snapSecs.Observe(time.Since(start).Seconds())
			p.m.lastSnap.SetToCurrentTime()
			p.mu.Lock()
			p.durable = pos
			p.mu.Unlock()
		}
		p.mu.Lock()
		commit = slices.Clone(p.durable)
		p.mu.Unlock()
	}
	if src == nil || len(commit) == 0 || (p.cfg.StateDir == "" && !p.cfg.DurableSource) {
		return nil
	}
	if err := src.Commit(ctx, commit); err != nil {
		p.m.commits.WithLabelValues("failed").Inc()
		return err
	}
	p.m.commits.WithLabelValues("ok").Inc()
	return nil
}

func (p *Pipeline) markDirty(yes bool) {
	if !yes {
		return
	}
	p.mu.Lock()
	p.dirty = true
	p.mu.Unlock()
}

// Handled returns how many events were applied (duplicates and ignored
// ones included; malformed ones not).
func (p *Pipeline) Handled() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// Offsets returns the next offset to read of every partition handled.
func (p *Pipeline) Offsets() []kafka.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return positions(p.done)
}

// StreamHealth is the state of the event stream (Kafka) the pipeline
// consumes.
type StreamHealth struct {
	OK    bool
	Error string    // the last fetch error while failing
	Since time.Time // when it started failing
}

// Health says whether records can be fetched from the stream lately (OK
// without a stream).
func (p *Pipeline) Health() StreamHealth {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	h := p.health
	h.OK = h.Error == ""
	return h
}

func (p *Pipeline) streamFailed(err error, retryIn time.Duration) {
	p.m.fetchErrs.Inc()
	p.m.kafkaUp.Set(0)
	p.healthMu.Lock()
	first := p.health.Error == ""
	if first {
		p.health.Since = time.Now()
	}
	p.health.Error = err.Error()
	p.healthMu.Unlock()
	if first {
		p.log.Error("cannot fetch events from Kafka; the index keeps serving and the fetch is retried", "err", err, "retry_in", retryIn)
	} else {
		p.log.Warn("fetching events from Kafka still fails", "err", err, "retry_in", retryIn)
	}
}

func (p *Pipeline) streamRecovered() {
	p.m.kafkaUp.Set(1)
	p.healthMu.Lock()
	since := p.health.Since
	p.health.Error, p.health.Since = "", time.Time{}
	p.healthMu.Unlock()
	p.log.Info("fetching events from Kafka works again", "down_for", time.Since(since).Round(time.Second).String())
}

// lagSource is a Source that can say where its partitions begin and end
// (kafka.Consumer).
type lagSource interface {
	Topic() string
	Bounds(ctx context.Context) (map[int][2]int64, error)
}

// lagInterval is how often watchLag asks the brokers for the partitions'
// ends.
var lagInterval = 5 * time.Second

// watchLag sets the lag gauges from the partitions' end offsets and the
// positions consumed, every interval: the per-record update alone would
// freeze the gauge (or never create it) while no record comes through.
func (p *Pipeline) watchLag(ctx context.Context, src lagSource, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		bctx, cancel := context.WithTimeout(ctx, interval)
		bounds, err := src.Bounds(bctx)
		cancel()
		if err != nil {
			continue // the fetch loop reports an unreachable broker
		}
		p.mu.Lock()
		for part, b := range bounds {
			next, ok := p.done[partKey{src.Topic(), part}]
			if !ok || next < b[0] {
				next = b[0] // nothing consumed yet: from the first retained record
			}
			p.m.lagGauge(part).Set(float64(max(b[1]-next, 0)))
		}
		p.mu.Unlock()
	}
}
