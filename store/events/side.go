package events

import "time"

// The effects of events outside the index — read-history writes and the
// SessionEnd and UserDeleted hooks — can run on a goroutine of their own
// (Applier.Background), so that the goroutine applying events only writes
// the index. They keep the order of the events: an erasure runs after the
// reads of the page views before it, a session end after the reads it
// summarises.

type sideKind uint8

const (
	sideRead       sideKind = iota // history.Add
	sideSessionEnd                 // hooks.SessionEnd
	sideForget                     // history.Delete, then hooks.UserDeleted
	sideBarrier                    // close done
)

type sideOp struct {
	kind       sideKind
	user, art  string
	ts         time.Time
	done       chan struct{}
	runHookToo bool // sideForget: the UserDeleted hook is set
}

// sideBatch is how many effects are handed over at once when Publish is
// not called sooner.
const sideBatch = 512

type sideWorker struct {
	pending []sideOp
	work    chan []sideOp
	free    chan []sideOp
	exited  chan struct{}
}

// Background runs the history writes and the SessionEnd and UserDeleted
// hooks on a new goroutine, in event order, until stop is called; stop
// waits for what was queued. Effects are handed over by Publish (call it
// after a batch of events), every sideBatch effects, and by Flush, which
// also waits for them. WriteState and ReadState flush first, so snapshots
// stay consistent. Like Apply, Background, stop, Publish and Flush must not
// be called concurrently with each other or with Apply.
func (a *Applier) Background() (stop func()) {
	if a.side != nil {
		return func() {}
	}
	w := &sideWorker{work: make(chan []sideOp, 16), free: make(chan []sideOp, 17), exited: make(chan struct{})}
	a.side = w
	go a.runSide(w)
	return func() {
		a.Flush()
		close(w.work)
		<-w.exited
		a.side = nil
	}
}

func (a *Applier) runSide(w *sideWorker) {
	defer close(w.exited)
	mh, _ := a.history.(*MemHistory)
	for batch := range w.work {
		for i := 0; i < len(batch); {
			if mh != nil && batch[i].kind == sideRead { // a run of reads: one lock
				j := i + 1
				for j < len(batch) && batch[j].kind == sideRead {
					j++
				}
				mh.addReads(batch[i:j])
				i = j
				continue
			}
			a.doSide(&batch[i])
			i++
		}
		clear(batch)
		select {
		case w.free <- batch[:0]:
		default:
		}
	}
}

func (a *Applier) doSide(op *sideOp) {
	switch op.kind {
	case sideRead:
		a.history.Add(op.user, op.art, op.ts)
	case sideSessionEnd:
		a.hooks.SessionEnd(op.user, op.ts)
	case sideForget:
		a.history.Delete(op.user)
		if op.runHookToo {
			a.hooks.UserDeleted(op.user)
		}
	case sideBarrier:
		close(op.done)
	}
}

// side runs op now, or queues it when Background is on.
func (a *Applier) sideEffect(op sideOp) {
	w := a.side
	if w == nil {
		a.doSide(&op)
		return
	}
	w.pending = append(w.pending, op)
	if len(w.pending) >= sideBatch {
		a.Publish()
	}
}

// Publish hands the queued effects to the background goroutine (no-op
// without Background). It blocks while that goroutine is far behind.
func (a *Applier) Publish() {
	w := a.side
	if w == nil || len(w.pending) == 0 {
		return
	}
	w.work <- w.pending
	select {
	case w.pending = <-w.free:
	default:
		w.pending = make([]sideOp, 0, sideBatch)
	}
}

// Flush waits until every effect of the events applied so far has run.
func (a *Applier) Flush() {
	if a.side == nil {
		return
	}
	done := make(chan struct{})
	a.sideEffect(sideOp{kind: sideBarrier, done: done})
	a.Publish()
	<-done
}
