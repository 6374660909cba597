package realtime

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cohortd/cohortd/store/kafka"
	"github.com/cohortd/cohortd/store/kafka/kafkatest"
)

// TestKafkaOutageIsRetried: the broker goes away mid-run and comes back on
// the same address. The pipeline keeps running, reports the outage in
// Health and the cohortd_kafka_up metric, and applies what is produced
// after the broker returns.
func TestKafkaOutageIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	broker := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "events"),
			kfake.GroupMinSessionTimeout(100*time.Millisecond))
		if err != nil {
			t.Fatalf("cannot start kfake on port %d: %v", port, err)
		}
		return c
	}
	first := broker()
	brokers := first.ListenAddrs()
	pageView := func(id, user string) []kafkatest.Record {
		v := fmt.Sprintf(`{"event_id":%q,"type":"page_view","user_id":%q,"article_id":"a1","ts":"2026-02-28T10:00:00Z"}`, id, user)
		return []kafkatest.Record{{Key: user, Value: []byte(v)}}
	}

	set := loadSet(t)
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog(), CommitInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.LoadIndex(ctx, set, oneUser(nil)); err != nil {
		t.Fatal(err)
	}
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: "events", Group: "cohortd",
		SessionTimeout: time.Second, MaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx, c) }()
	defer func() {
		stop()
		<-done
	}()
	has := func(user string) func() bool {
		return func() bool { _, ok := p.Index().Lookup(user); return ok }
	}
	kafkatest.Produce(t, brokers, "events", pageView("e1", "before"))
	eventually(t, "the first page view is applied", 30*time.Second, has("before"))
	if h := p.Health(); !h.OK {
		t.Fatalf("health %+v while the broker answers", h)
	}

	first.Close()
	eventually(t, "the outage shows in Health", 30*time.Second, func() bool { return !p.Health().OK })
	if h := p.Health(); h.Error == "" || h.Since.IsZero() || gaugeValue(t, p.m.kafkaUp) != 0 {
		t.Errorf("during the outage: health %+v, cohortd_kafka_up %v", h, gaugeValue(t, p.m.kafkaUp))
	}
	select {
	case err := <-done:
		t.Fatalf("Run stopped during the outage: %v", err)
	default:
	}

	second := broker()
	defer second.Close()
	kafkatest.Produce(t, brokers, "events", pageView("e2", "after"))
	eventually(t, "the page view produced after the outage is applied", 90*time.Second, has("after"))
	eventually(t, "Health recovers", 10*time.Second, func() bool { return p.Health().OK })
	if gaugeValue(t, p.m.kafkaUp) != 1 {
		t.Error("cohortd_kafka_up is not back to 1")
	}
}

func gaugeValue(t testing.TB, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stalled is a consumer that never hands over a record (a stuck fetch)
// while its brokers answer offset requests.
type stalled struct{ *kafka.Consumer }

func (s stalled) Fetch(ctx context.Context) (kafka.Message, error) {
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

// TestLagWhileStalled: the lag gauge counts the records waiting in each
// partition from the brokers' end offsets, also while no record comes
// through (it used to move only when one did).
func TestLagWhileStalled(t *testing.T) {
	defer func(d time.Duration) { lagInterval = d }(lagInterval)
	lagInterval = 50 * time.Millisecond
	brokers := kafkatest.Cluster(t, 3, "events")
	var recs []kafkatest.Record
	for i := range 40 {
		u := fmt.Sprintf("u%02d", i)
		recs = append(recs, kafkatest.Record{Key: u, Value: []byte(`{}`)})
	}
	kafkatest.Produce(t, brokers, "events", recs)
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: "events", Group: "cohortd", SessionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadIndex(context.Background(), loadSet(t), oneUser(nil)); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, stalled{c}) }()
	defer func() {
		stop()
		<-done
	}()
	total := func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		var sum float64
		for part := range 3 {
			sum += gaugeValue(t, p.m.lagGauge(part))
		}
		return sum
	}
	eventually(t, "the lag of the 40 waiting records shows", 20*time.Second, func() bool { return total() == 40 })
}
