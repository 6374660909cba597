package realtime

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cohortd/cohortd/store/kafka"
	"github.com/cohortd/cohortd/store/kafka/kafkatest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// topicEnd returns the total number of records of a topic.
func topicLen(t testing.TB, brokers []string, topic string) int {
	return len(kafkatest.ReadAll(t, brokers, topic))
}

// waitHandled waits until the pipeline has taken n messages in all.
func waitHandled(t testing.TB, p *Pipeline, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var sum int64
		for _, pos := range p.Offsets() {
			sum += pos.Offset
		}
		if sum >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline took %d of %d messages in %s", sum, n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type kafkaRig struct {
	brokers  []string
	changes  *kafka.Producer
	dlq      *kafka.Producer
	consumer *kafka.Consumer
}

func newRig(t testing.TB, brokers []string) *kafkaRig {
	t.Helper()
	r := &kafkaRig{brokers: brokers}
	var err error
	if r.changes, err = kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, Topic: "changes"}); err != nil {
		t.Fatal(err)
	}
	if r.dlq, err = kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, Topic: "dead-letters"}); err != nil {
		t.Fatal(err)
	}
	if r.consumer, err = kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: "events", Group: "cohortd",
		SessionTimeout: time.Second, MaxWait: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *kafkaRig) close() {
	r.consumer.Close()
	r.changes.Close()
	r.dlq.Close()
}

// TestKafkaEndToEnd: thousands of mixed events (malformed and duplicated
// ones included) over a Kafka-protocol broker end with the index of the
// final profiles, exactly the expected change feed, and the bad events in
// the dead-letter topic.
func TestKafkaEndToEnd(t *testing.T) {
	w := newWorld(t, 1, 300, 4000)
	brokers := kafkatest.Cluster(t, 3, "events", "changes", "dead-letters")
	kafkatest.Produce(t, brokers, "events", w.records())
	rig := newRig(t, brokers)
	defer rig.close()

	reg := prometheus.NewRegistry()
	// DurableSource: offsets are committed as applied (checked at the end).
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), Registerer: reg, DurableSource: true,
		Changes: rig.changes, DeadLetter: rig.dlq, CommitInterval: 50 * time.Millisecond, SweepInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.LoadIndex(ctx, w.set, w.load); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx, rig.consumer) }()
	waitHandled(t, p, int64(len(w.msgs)), 60*time.Second)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	want, err := w.model.Build()
	if err != nil {
		t.Fatal(err)
	}
	assertSameIndex(t, p.Index(), want)
	if len(w.changes) < 100 {
		t.Fatalf("only %d expected changes: the stream does not exercise the feed", len(w.changes))
	}
	gotChanges := decodeChanges(t, kafkatest.ReadAll(t, brokers, "changes"))
	t.Logf("%d messages, %d malformed, %d changes, %d users at the end", len(w.msgs), len(w.bad), len(gotChanges), p.Index().Len())
	assertChanges(t, gotChanges, w.changes)

	dead := kafkatest.ReadAll(t, brokers, "dead-letters")
	var gotBad, wantBad []string
	for _, r := range dead {
		gotBad = append(gotBad, string(r.Value))
		if r.Headers["cohortd-topic"] != "events" || r.Headers["cohortd-error"] == "" {
			t.Errorf("dead letter without its origin: %v", r.Headers)
		}
		if _, err := strconv.Atoi(r.Headers["cohortd-offset"]); err != nil {
			t.Errorf("dead letter offset header %q", r.Headers["cohortd-offset"])
		}
	}
	for _, b := range w.bad {
		wantBad = append(wantBad, string(b))
	}
	slices.Sort(gotBad)
	slices.Sort(wantBad)
	if !slices.Equal(gotBad, wantBad) {
		t.Errorf("dead letters: got %d, want %d", len(gotBad), len(wantBad))
	}
	if got := counterValue(t, p.m.events.WithLabelValues("kafka", "unknown", "malformed")); int(got) != len(w.bad) {
		t.Errorf("malformed counter = %v, want %d", got, len(w.bad))
	}

	// History and catalog followed the stream too.
	for _, u := range w.model.UserIDs()[:50] {
		wantReads := w.model.History(u, 1000)
		if len(wantReads) > 50 {
			continue
		}
		got := p.History().Reads(u, 0)
		if len(got) != len(wantReads) {
			t.Errorf("history of %s: %d reads, want %d", u, len(got), len(wantReads))
		}
	}
	if p.Articles().Len() != len(w.model.Articles) {
		t.Errorf("catalog has %d articles, want %d", p.Articles().Len(), len(w.model.Articles))
	}

	// Offsets were committed: a new member of the group has nothing left.
	c2, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: "events", Group: "cohortd", SessionTimeout: time.Second, MaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if m, err := c2.Fetch(fctx); err == nil {
		t.Errorf("after the final commit the group still reads %s/%d@%d", m.Topic, m.Partition, m.Offset)
	}
}

// TestKafkaReplayWithoutStateDir: over a data file and without a state
// directory nothing durable holds what was applied, so no offset is
// committed and a restart replays the whole topic: the second run ends
// with the same index as the first (nothing acknowledged is lost).
func TestKafkaReplayWithoutStateDir(t *testing.T) {
	w := newWorld(t, 2, 200, 1500)
	brokers := kafkatest.Cluster(t, 3, "events", "changes", "dead-letters")
	kafkatest.Produce(t, brokers, "events", w.records())
	want, err := w.model.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for run := 1; run <= 2; run++ {
		rig := newRig(t, brokers)
		p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), CommitInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.LoadIndex(ctx, w.set, w.load); err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx, rig.consumer) }()
		waitHandled(t, p, int64(len(w.msgs)), 60*time.Second)
		time.Sleep(100 * time.Millisecond) // several commit intervals
		stop()
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		rig.close()
		assertSameIndex(t, p.Index(), want)
		if n := counterValue(t, p.m.commits.WithLabelValues("ok")); n != 0 {
			t.Fatalf("run %d committed offsets %v times without a state directory or a durable source", run, n)
		}
	}
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
