// Package kafkatest starts an in-process Kafka-protocol broker (kfake) on a
// loopback port for tests, and reads and writes topics with kafka-go exactly
// as against a real cluster. It is for tests only.
package kafkatest

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Cluster starts a one-broker cluster with the topics (each with
// partitions partitions) and returns its address; it stops at the end of
// the test.
func Cluster(t testing.TB, partitions int, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(partitions), topics...),
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("cannot start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Record is a record to produce or one read back.
type Record struct {
	Partition int
	Offset    int64
	Key       string
	Value     []byte
	Headers   map[string]string
}

// Produce writes records to topic, partitioned by a hash of the key (as
// kafka-go's Hash balancer, the usual producer setting), and waits for them
// to be acknowledged.
func Produce(t testing.TB, brokers []string, topic string, recs []Record) {
	t.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, Balancer: &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 5000, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafkago.Message{Key: []byte(r.Key), Value: r.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("cannot produce to %q: %v", topic, err)
	}
}

// ReadAll reads every record of topic (all partitions, from the beginning
// to the current end), in partition then offset order.
func ReadAll(t testing.TB, brokers []string, topic string) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatalf("cannot dial %s: %v", brokers[0], err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatalf("cannot read partitions of %q: %v", topic, err)
	}
	var out []Record
	for _, p := range parts {
		pc, err := kafkago.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
		if err != nil {
			t.Fatalf("cannot dial the leader of %s/%d: %v", topic, p.ID, err)
		}
		end, err := pc.ReadLastOffset()
		pc.Close()
		if err != nil {
			t.Fatalf("cannot read the end of %s/%d: %v", topic, p.ID, err)
		}
		if end == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("cannot read %s/%d: %v", topic, p.ID, err)
			}
			rec := Record{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: m.Value}
			if len(m.Headers) > 0 {
				rec.Headers = map[string]string{}
				for _, h := range m.Headers {
					rec.Headers[h.Key] = string(h.Value)
				}
			}
			out = append(out, rec)
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	return out
}

// CreateTopic creates topic with partitions partitions on a running
// cluster (for topics that appear after a client started).
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatalf("cannot dial %s: %v", brokers[0], err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafkago.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("cannot create topic %q: %v", topic, err)
	}
}
