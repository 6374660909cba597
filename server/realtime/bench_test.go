package realtime

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/kafka"
	"github.com/cohortd/cohortd/store/kafka/kafkatest"
)

var (
	benchUsers    = flag.Int("realtime.users", 100_000, "users loaded in the real-time benchmarks (the brief's target is 1e6)")
	benchRate     = flag.Int("realtime.rate", 10_000, "events/s produced in BenchmarkFreshness")
	benchDuration = flag.Duration("realtime.duration", 3*time.Second, "how long BenchmarkFreshness produces")
)

// benchPipeline loads the demo population (the root cohorts.yaml) into a
// pipeline.
func benchPipeline(b *testing.B, users int, cfg Config) (*Pipeline, []string) {
	b.Helper()
	set, err := compiler.Load("../../cohorts.yaml")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 13, 0, 0, 0, 0, time.UTC)
	ix, _, err := store.LoadDemo(context.Background(), set.Key(), set.Schema(), store.DemoOptions{Users: users, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return now }
	}
	cfg.Logger = quietLog()
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Attach(set, ix); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, users)
	ix.Iterate(ix.Universe(), "", func(_ uint32, u string) bool {
		ids = append(ids, u)
		return true
	})
	return p, ids
}

// pageViews returns n page views of random users at increasing times (so
// each one moves last_visit_at: the worst case for the change feed).
func pageViews(ids []string, n int, start time.Time) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		ts := start.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		out[i] = fmt.Appendf(nil, `{"event_id":"pv-%d","type":"page_view","user_id":%q,"ts":%q,"article_id":"a-%d","topics":["cycling","gear"],"device":"app"}`,
			i, ids[r.IntN(len(ids))], ts, r.IntN(5000))
	}
	return out
}

// BenchmarkApplyPageViews measures decoding and applying page views
// through the pipeline (index, history, dedupe, affected cohorts
// re-evaluated, change records built) on one goroutine.
func BenchmarkApplyPageViews(b *testing.B) {
	p, ids := benchPipeline(b, *benchUsers, Config{Changes: &discardSink{}})
	evs := pageViews(ids, max(b.N, 1), time.Date(2026, 1, 13, 0, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := p.Decode(evs[i])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Apply(&ev, "bench", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

type discardSink struct{ n int }

func (s *discardSink) Send(recs ...kafka.Record)   { s.n += len(recs) }
func (s *discardSink) Flush(context.Context) error { return nil }

// recordingHistogram keeps every freshness observation.
type recordingHistogram struct {
	prometheus.Histogram
	mu   sync.Mutex
	vals []float64
}

func (h *recordingHistogram) Observe(v float64) {
	h.mu.Lock()
	h.vals = append(h.vals, v)
	h.mu.Unlock()
}

// BenchmarkFreshness produces page views at -realtime.rate events/s to a
// Kafka-protocol broker for -realtime.duration while the pipeline
// consumes them with -realtime.users users loaded, and reports the
// freshness (record timestamp → the user's cohorts reflect it) p50/p99/max.
// Run it with -benchtime 1x.
func BenchmarkFreshness(b *testing.B) {
	brokers := kafkatest.Cluster(b, 3, "events", "changes")
	changes, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, Topic: "changes"})
	if err != nil {
		b.Fatal(err)
	}
	defer changes.Close()
	p, ids := benchPipeline(b, *benchUsers, Config{Changes: changes, CommitInterval: time.Second})
	rec := &recordingHistogram{Histogram: p.m.freshness}
	p.m.freshness = rec
	consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: "events", Group: "bench", SessionTimeout: time.Second, MaxWait: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer consumer.Close()
	n := int(float64(*benchRate) * benchDuration.Seconds())
	evs := pageViews(ids, n, time.Date(2026, 1, 13, 0, 0, 0, 0, time.UTC))

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, consumer) }()
	// Warm up the group join before the clock starts.
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: "events", Balancer: &kafkago.Hash{}, BatchTimeout: 2 * time.Millisecond, BatchSize: 1000}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte(ids[0]), Value: evs[0]}); err != nil {
		b.Fatal(err)
	}
	waitHandled(b, p, 1, 30*time.Second)
	rec.mu.Lock()
	rec.vals = nil
	rec.mu.Unlock()

	b.ResetTimer()
	const tick = 10 * time.Millisecond
	perTick := max(*benchRate/100, 1)
	start := time.Now()
	sent := 1
	for i := 1; i < n; i += perTick {
		if d := time.Until(start.Add(time.Duration(i/perTick) * tick)); d > 0 {
			time.Sleep(d)
		}
		end := min(i+perTick, n)
		msgs := make([]kafkago.Message, 0, end-i)
		for j := i; j < end; j++ {
			msgs = append(msgs, kafkago.Message{Key: []byte(strconv.Itoa(j)), Value: evs[j]})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		sent += len(msgs)
	}
	waitHandled(b, p, int64(sent), 60*time.Second)
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-done

	rec.mu.Lock()
	vals := slices.Clone(rec.vals)
	rec.mu.Unlock()
	slices.Sort(vals)
	q := func(f float64) float64 { return vals[min(int(f*float64(len(vals))), len(vals)-1)] }
	b.ReportMetric(float64(sent-1)/elapsed.Seconds(), "events/s")
	b.ReportMetric(q(0.5)*1000, "p50_ms")
	b.ReportMetric(q(0.99)*1000, "p99_ms")
	b.ReportMetric(vals[len(vals)-1]*1000, "max_ms")
	b.Logf("%d users, %d events in %s, freshness p50 %.1fms p99 %.1fms max %.1fms",
		*benchUsers, sent-1, elapsed.Round(time.Millisecond), q(0.5)*1000, q(0.99)*1000, vals[len(vals)-1]*1000)
}

// memSource serves prepared messages, then blocks.
type memSource struct {
	msgs [][]byte
	next int
}

func (s *memSource) Fetch(ctx context.Context) (kafka.Message, error) {
	if s.next >= len(s.msgs) {
		<-ctx.Done()
		return kafka.Message{}, ctx.Err()
	}
	i := s.next
	s.next++
	return kafka.Message{Topic: "events", Partition: 0, Offset: int64(i), HighWaterMark: int64(len(s.msgs)), Value: s.msgs[i]}, nil
}

func (s *memSource) Commit(context.Context, []kafka.Position) error { return nil }

// BenchmarkConsumePageViews measures the consume path of Run without the
// network: one goroutine fetches and decodes, another applies (as with
// Kafka), so on 2 cores decoding overlaps applying.
func BenchmarkConsumePageViews(b *testing.B) {
	p, ids := benchPipeline(b, *benchUsers, Config{Changes: &discardSink{}, SweepInterval: -1, CommitInterval: time.Hour})
	src := &memSource{msgs: pageViews(ids, max(b.N, 1), time.Date(2026, 1, 13, 0, 0, 0, 0, time.UTC))}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan threadTime, 1)
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	go func() {
		// Run applies on this goroutine; give it a thread of its own so
		// that the thread's scheduler statistics are the applier's.
		runtime.LockOSThread()
		started <- readThreadTime(syscall.Gettid())
		done <- p.Run(ctx, src)
	}()
	t0 := <-started
	waitHandled(b, p, int64(b.N), 10*time.Minute)
	b.StopTimer()
	cpu := processCPU() - cpu0
	t1 := readThreadTime(t0.tid)
	stop()
	<-done
	n := float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	// CPU per event (all goroutines, GC included) tells what 2 idle cores
	// would sustain when other processes share the machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/n, "cpu-µs/event")
	// The CPU time of the one goroutine that applies bounds the rate
	// whatever the cores; the time it waited for a core says how much
	// other processes took.
	if t0.ok && t1.ok {
		b.ReportMetric(float64(t1.run-t0.run)/1e3/n, "apply-cpu-µs/event")
		b.ReportMetric(float64(t1.wait-t0.wait)/1e3/n, "apply-wait-µs/event")
	}
}

// threadTime is a thread's time on a CPU and waiting for one
// (/proc/self/task/TID/schedstat, nanoseconds).
type threadTime struct {
	tid       int
	run, wait int64
	ok        bool
}

func readThreadTime(tid int) threadTime {
	t := threadTime{tid: tid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		return t
	}
	_, err = fmt.Sscan(string(b), &t.run, &t.wait)
	t.ok = err == nil
	return t
}

// processCPU returns the user+system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
