package realtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store/kafka/kafkatest"
)

const (
	crashChildEnv = "COHORTD_REALTIME_CRASH_CHILD"
	crashSeed     = 2
	crashUsers    = 300
	crashEvents   = 6000
)

// TestCrashChild is the consumer process TestCrashRecovery kills with
// SIGKILL in the middle of the stream. It runs only as that child.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("run by TestCrashRecovery as a child process")
	}
	brokers := strings.Split(os.Getenv("COHORTD_BROKERS"), ",")
	w := newWorld(t, crashSeed, crashUsers, crashEvents)
	rig := newRig(t, brokers)
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), Changes: rig.changes, DeadLetter: rig.dlq,
		StateDir: os.Getenv("COHORTD_STATE_DIR"), SnapshotInterval: 25 * time.Millisecond, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadIndex(context.Background(), w.set, w.load); err != nil {
		t.Fatal(err)
	}
	// Runs until killed; the parent fails the test if it ever returns.
	t.Fatalf("Run returned: %v", p.Run(context.Background(), rig.consumer))
}

func snapshotProgress(dir string) int64 {
	st, err := readSnapshotFile(dir)
	if err != nil || st == nil {
		return 0
	}
	var n int64
	for _, p := range st.header.Offsets {
		n += p.Offset
	}
	return n
}

// TestCrashRecovery: a consumer process with --state-dir is killed (not
// closed) mid-stream; a new one restarts from the state directory and
// ends in the state of a run without crash: the same index, history,
// catalog and published cohorts, and a change feed and dead-letter topic
// holding every expected record (a few possibly twice: at least once).
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	w := newWorld(t, crashSeed, crashUsers, crashEvents)
	brokers := kafkatest.Cluster(t, 3, "events", "changes", "dead-letters")
	dir := t.TempDir()
	recs := w.records()
	kafkatest.Produce(t, brokers, "events", recs[:1500])

	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "COHORTD_BROKERS="+strings.Join(brokers, ","), "COHORTD_STATE_DIR="+dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// Feed up to two thirds of the stream in chunks while the child
	// consumes, and kill it once a snapshot holds a third: the rest comes
	// after the kill, so the crash is always mid-stream however fast the
	// child consumes.
	next := 1500
	deadline := time.Now().Add(60 * time.Second)
	for !killed {
		if time.Now().After(deadline) {
			t.Fatalf("the child made no progress; its output:\n%s", out.String())
		}
		if next < 2*len(recs)/3 {
			end := min(next+250, 2*len(recs)/3)
			kafkatest.Produce(t, brokers, "events", recs[next:end])
			next = end
		} else {
			time.Sleep(5 * time.Millisecond)
		}
		if snapshotProgress(dir) >= crashEvents/3 {
			time.Sleep(20 * time.Millisecond) // let it apply (and publish) past the snapshot
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the child was not killed by SIGKILL (%v); output:\n%s", err, out.String())
			}
			killed = true
		}
	}
	atKill := snapshotProgress(dir)
	if atKill >= crashEvents {
		t.Fatalf("the child had consumed everything (%d) before the kill: nothing is tested", atKill)
	}
	if next < len(recs) {
		kafkatest.Produce(t, brokers, "events", recs[next:])
	}

	// Restart from the state directory.
	rig := newRig(t, brokers)
	defer rig.close()
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), Changes: rig.changes, DeadLetter: rig.dlq,
		StateDir: dir, SnapshotInterval: 50 * time.Millisecond, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.LoadIndex(ctx, w.set, func(context.Context, *compiler.Set) (*bitmaps.Index, error) {
		return nil, errors.New("the index must come from the snapshot")
	}); err != nil {
		t.Fatal(err)
	}
	restored := p.Offsets()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx, rig.consumer) }()
	waitHandled(t, p, int64(len(w.msgs)), 60*time.Second)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("killed with %d of %d messages in the snapshot; restored offsets %s; final %s", atKill, len(w.msgs), fmtPositions(restored), fmtPositions(p.Offsets()))

	want, err := w.model.Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameIndex(t, p.Index(), want)
	assertPublishedIsCurrent(t, p)
	if p.Articles().Len() != len(w.model.Articles) {
		t.Errorf("catalog has %d articles, want %d", p.Articles().Len(), len(w.model.Articles))
	}
	for _, u := range w.model.UserIDs() {
		if wantReads := w.model.History(u, 1000); len(wantReads) <= 50 && len(p.History().Reads(u, 0)) != len(wantReads) {
			t.Errorf("history of %s: %d reads, want %d", u, len(p.History().Reads(u, 0)), len(wantReads))
		}
	}

	// At least once: every expected record is there; repeats are only
	// records re-sent after the restart (identical, same event_id).
	got := decodeChanges(t, kafkatest.ReadAll(t, brokers, "changes"))
	uniq := func(rs []ChangeRecord) []ChangeRecord {
		out := slices.Clone(rs)
		slices.SortFunc(out, func(a, b ChangeRecord) int {
			return strings.Compare(a.UserID+a.Cohort+a.Change+a.TS+a.EventID, b.UserID+b.Cohort+b.Change+b.TS+b.EventID)
		})
		return slices.Compact(out)
	}
	if g, w := uniq(got), uniq(w.changes); !slices.Equal(g, w) {
		t.Errorf("distinct change records: got %d, want %d", len(g), len(w))
	}
	t.Logf("%d change records for %d expected (%d re-sent after the restart)", len(got), len(w.changes), len(got)-len(w.changes))
	var gotBad, wantBad []string
	for _, r := range kafkatest.ReadAll(t, brokers, "dead-letters") {
		gotBad = append(gotBad, string(r.Value))
	}
	for _, b := range w.bad {
		wantBad = append(wantBad, string(b))
	}
	slices.Sort(gotBad)
	slices.Sort(wantBad)
	if g, w := slices.Compact(gotBad), slices.Compact(wantBad); !slices.Equal(g, w) {
		t.Errorf("distinct dead letters: got %d, want %d", len(g), len(w))
	}
}

// assertPublishedIsCurrent checks the pipeline's published members equal
// the cohorts evaluated on its index (with a fixed clock nothing is due to
// a sweep).
func assertPublishedIsCurrent(t *testing.T, p *Pipeline) {
	t.Helper()
	ev := compiler.NewEvaluator(p.set, p.Index())
	for _, co := range p.set.Cohorts() {
		cur, err := ev.CohortMembers(context.Background(), co.Name, testNow)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := p.Published(co.Name)
		if !pub.Equals(cur) {
			t.Errorf("cohort %s: published %d members, the index has %d", co.Name, pub.GetCardinality(), cur.GetCardinality())
		}
	}
}
