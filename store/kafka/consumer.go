package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Message is one consumed record.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	// HighWaterMark is the partition's end offset when the record was
	// fetched: HighWaterMark - Offset - 1 records were behind it (the lag).
	HighWaterMark int64
	Key, Value    []byte
	Time          time.Time // the record's timestamp (producer or log append time)
}

// Position is where a consumer resumes in one partition: Offset is the next
// offset to read (the last processed one + 1), as Kafka commits it.
type Position struct {
	Topic     string
	Partition int
	Offset    int64
}

// DefaultSessionTimeout is the consumer group session timeout: after a
// crash, the restarted member waits about this long for the dead one to be
// dropped. 6 s is the lowest that brokers accept by default
// (group.min.session.timeout.ms).
const DefaultSessionTimeout = 6 * time.Second

// ConsumerConfig configures a Consumer. Brokers, Topic and Group are
// required.
type ConsumerConfig struct {
	Brokers []string
	Topic   string
	Group   string
	// StartAtEnd starts a partition with no committed offset at its end
	// instead of its beginning.
	StartAtEnd bool
	// SessionTimeout: a member that has not sent a heartbeat for this long
	// is considered dead (default DefaultSessionTimeout; the broker bounds it).
	SessionTimeout time.Duration
	// MaxWait bounds how long the broker holds a fetch with no new data
	// (default 500ms); it never delays data that is there.
	MaxWait time.Duration
	Logger  *slog.Logger
}

// Consumer reads one topic as a member of a consumer group. Offsets are
// committed only by Commit. Fetch and Commit may be called from different
// goroutines; Close ends both.
type Consumer struct {
	rc      kafkago.ReaderConfig
	brokers []string
	topic   string
	// r is created by the first Fetch that finds the topic: a group that
	// joins before its topic exists never gets its partitions (kafka-go
	// assigns none and keeps them), so joining waits for the topic.
	r      atomic.Pointer[kafkago.Reader]
	closed atomic.Bool
}

// ErrNoTopic is returned (wrapped) by Fetch while the topic does not exist
// on the brokers; fetching again later joins the group once it does.
var ErrNoTopic = errors.New("the topic does not exist")

// ParseBrokers splits a comma-separated broker list ("h1:9092,h2:9092").
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// NewConsumer checks cfg and returns a consumer; it connects on the first
// Fetch.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("no Kafka brokers configured")
	case cfg.Topic == "":
		return nil, errors.New("no Kafka topic configured")
	case cfg.Group == "":
		return nil, errors.New("no Kafka consumer group configured")
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 500 * time.Millisecond
	}
	start := kafkago.FirstOffset
	if cfg.StartAtEnd {
		start = kafkago.LastOffset
	}
	rc := kafkago.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		Topic:             cfg.Topic,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           cfg.MaxWait,
		QueueCapacity:     4096,
		ReadLagInterval:   -1,
		CommitInterval:    0, // synchronous, only when told
		StartOffset:       start,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.SessionTimeout,
		HeartbeatInterval: max(cfg.SessionTimeout/10, 100*time.Millisecond),
		JoinGroupBackoff:  time.Second,
	}
	if cfg.Logger != nil {
		log := cfg.Logger
		rc.ErrorLogger = kafkago.LoggerFunc(func(msg string, args ...any) {
			log.Warn("kafka consumer: "+fmt.Sprintf(msg, args...), "topic", cfg.Topic, "group", cfg.Group)
		})
	}
	return &Consumer{rc: rc, brokers: cfg.Brokers, topic: cfg.Topic}, nil
}

// reader returns the group reader, creating it once the topic exists.
func (c *Consumer) reader(ctx context.Context) (*kafkago.Reader, error) {
	if r := c.r.Load(); r != nil {
		return r, nil
	}
	if err := c.topicExists(ctx); err != nil {
		return nil, err
	}
	if c.closed.Load() {
		return nil, errors.New("the consumer is closed")
	}
	r := kafkago.NewReader(c.rc)
	if !c.r.CompareAndSwap(nil, r) {
		r.Close()
	}
	return c.r.Load(), nil
}

// topicExists asks the brokers for the topic's partitions.
func (c *Consumer) topicExists(ctx context.Context) error {
	var lastErr error
	for _, b := range c.brokers {
		conn, err := kafkago.DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		parts, err := conn.ReadPartitions(c.topic)
		conn.Close()
		switch {
		case errors.Is(err, kafkago.UnknownTopicOrPartition) || (err == nil && len(parts) == 0):
			return fmt.Errorf("Kafka topic %q: %w yet on %s (create it; cohortd keeps checking)", c.topic, ErrNoTopic, strings.Join(c.brokers, ","))
		case err != nil:
			lastErr = err
			continue
		}
		return nil
	}
	return fmt.Errorf("cannot reach Kafka at %s: %w", strings.Join(c.brokers, ","), lastErr)
}

// Fetch returns the next record of any assigned partition, waiting for one
// until ctx is done.
func (c *Consumer) Fetch(ctx context.Context) (Message, error) {
	r, err := c.reader(ctx)
	if err != nil {
		return Message{}, err
	}
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return Message{}, fmt.Errorf("cannot fetch from Kafka topic %q: %w", c.topic, err)
	}
	return Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, HighWaterMark: m.HighWaterMark,
		Key: m.Key, Value: m.Value, Time: m.Time}, nil
}

// Commit commits positions (next offsets to read) for the group.
func (c *Consumer) Commit(ctx context.Context, pos []Position) error {
	if len(pos) == 0 {
		return nil
	}
	msgs := make([]kafkago.Message, 0, len(pos))
	for _, p := range pos {
		if p.Offset <= 0 {
			continue
		}
		// kafka-go commits the offset after the message given.
		msgs = append(msgs, kafkago.Message{Topic: p.Topic, Partition: p.Partition, Offset: p.Offset - 1})
	}
	r := c.r.Load()
	if r == nil {
		// Not joined yet (positions restored from a snapshot): the next
		// checkpoint commits them again, once the group is joined.
		return nil
	}
	if err := r.CommitMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("cannot commit offsets of Kafka topic %q: %w", c.topic, err)
	}
	return nil
}

// Close leaves the group and closes the connections.
func (c *Consumer) Close() error {
	c.closed.Store(true)
	if r := c.r.Swap(nil); r != nil {
		return r.Close()
	}
	return nil
}

// Topic is the topic consumed.
func (c *Consumer) Topic() string { return c.topic }

// Bounds returns, per partition of the topic, the first offset still
// retained and the end offset (the next to be written), asked from the
// brokers: with the consumed positions they give the lag even while no
// record arrives.
func (c *Consumer) Bounds(ctx context.Context) (map[int][2]int64, error) {
	cl := &kafkago.Client{Addr: kafkago.TCP(c.brokers...), Timeout: 10 * time.Second}
	md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{c.topic}})
	if err != nil {
		return nil, fmt.Errorf("cannot read the partitions of Kafka topic %q: %w", c.topic, err)
	}
	var reqs []kafkago.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != c.topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("cannot read the partitions of Kafka topic %q: %w", c.topic, t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("Kafka topic %q: %w", c.topic, ErrNoTopic)
	}
	res, err := cl.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{c.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("cannot read the offsets of Kafka topic %q: %w", c.topic, err)
	}
	out := make(map[int][2]int64)
	for _, po := range res.Topics[c.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("cannot read the offsets of Kafka topic %q partition %d: %w", c.topic, po.Partition, po.Error)
		}
		out[po.Partition] = [2]int64{po.FirstOffset, po.LastOffset}
	}
	return out, nil
}
