package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cohortd/cohortd/store/kafka"
	"github.com/cohortd/cohortd/store/kafka/kafkatest"
)

func TestProducerDeliversInOrderPerKey(t *testing.T) {
	brokers := kafkatest.Cluster(t, 3, "changes")
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, Topic: "changes"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 3000
	for i := 0; i < n; i++ {
		p.Send(kafka.Record{Key: []byte(fmt.Sprintf("u%d", i%17)), Value: []byte(fmt.Sprint(i)),
			Headers: []kafka.Header{{Key: "h", Value: []byte("v")}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 0 {
		t.Errorf("%d records pending after Flush", p.Pending())
	}
	recs := kafkatest.ReadAll(t, brokers, "changes")
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	last := map[string]int{}
	partOf := map[string]int{}
	for _, r := range recs {
		var v int
		fmt.Sscan(string(r.Value), &v)
		if prev, ok := last[r.Key]; ok && v <= prev {
			t.Fatalf("key %s: %d after %d", r.Key, v, prev)
		}
		if p, ok := partOf[r.Key]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		if r.Headers["h"] != "v" {
			t.Fatalf("header lost: %v", r.Headers)
		}
		last[r.Key], partOf[r.Key] = v, r.Partition
	}
}

func TestConsumerCommitsOnlyWhatItIsTold(t *testing.T) {
	brokers := kafkatest.Cluster(t, 2, "events")
	var recs []kafkatest.Record
	for i := 0; i < 100; i++ {
		recs = append(recs, kafkatest.Record{Key: fmt.Sprintf("k%d", i%5), Value: []byte(fmt.Sprint(i))})
	}
	kafkatest.Produce(t, brokers, "events", recs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := kafka.ConsumerConfig{Brokers: brokers, Topic: "events", Group: "g", SessionTimeout: time.Second, MaxWait: 100 * time.Millisecond}

	// First member: reads everything, commits up to the 40th record per
	// partition seen, then leaves.
	c, err := kafka.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	committed := map[int]int64{}
	for i := 0; i < 100; i++ {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.HighWaterMark <= m.Offset {
			t.Fatalf("high water mark %d at offset %d", m.HighWaterMark, m.Offset)
		}
		if i < 40 {
			committed[m.Partition] = m.Offset + 1
		}
	}
	var pos []kafka.Position
	for p, off := range committed {
		pos = append(pos, kafka.Position{Topic: "events", Partition: p, Offset: off})
	}
	if err := c.Commit(ctx, pos); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Second member of the same group resumes right after the commit.
	c2, err := kafka.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var got []string
	for i := 0; i < 60; i++ {
		m, err := c2.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := committed[m.Partition]; ok && m.Offset < want {
			t.Fatalf("partition %d resumed at %d, before the committed %d", m.Partition, m.Offset, want)
		}
		got = append(got, string(m.Value))
	}
	var want []string
	for _, r := range kafkatest.ReadAll(t, brokers, "events") {
		if r.Offset >= committed[r.Partition] {
			want = append(want, string(r.Value))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("resumed with %v, want %v", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{Topic: "t", Group: "g"}); err == nil {
		t.Error("consumer without brokers accepted")
	}
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: []string{"x:1"}, Group: "g"}); err == nil {
		t.Error("consumer without topic accepted")
	}
	if _, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: []string{"x:1"}, Topic: "t"}); err == nil {
		t.Error("consumer without group accepted")
	}
	if _, err := kafka.NewProducer(kafka.ProducerConfig{Topic: "t"}); err == nil {
		t.Error("producer without brokers accepted")
	}
	if got := kafka.ParseBrokers(" a:1, ,b:2 "); !slices.Equal(got, []string{"a:1", "b:2"}) {
		t.Errorf("ParseBrokers = %v", got)
	}
}

// TestConsumerPicksUpTopicCreatedLater: a topic created after the group
// joined (the operator started cohortd first) is consumed once it exists,
// instead of the group idling on zero partitions forever.
func TestConsumerPicksUpTopicCreatedLater(t *testing.T) {
	brokers := kafkatest.Cluster(t, 1, "other")
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: "late", Group: "g",
		SessionTimeout: time.Second, MaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	got := make(chan string, 1)
	go func() {
		for ctx.Err() == nil {
			m, err := c.Fetch(ctx)
			if err == nil {
				got <- string(m.Value)
				return
			}
			if !errors.Is(err, kafka.ErrNoTopic) && ctx.Err() == nil {
				t.Errorf("before the topic exists: %v, want ErrNoTopic", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second) // the group has joined (or tried) meanwhile
	kafkatest.CreateTopic(t, brokers, "late", 2)
	kafkatest.Produce(t, brokers, "late", []kafkatest.Record{{Key: "u1", Value: []byte("hello")}})
	select {
	case v := <-got:
		if v != "hello" {
			t.Errorf("read %q", v)
		}
	case <-ctx.Done():
		t.Fatal("the record of the topic created later was never consumed")
	}
}
