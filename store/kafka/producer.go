package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Record is one record to produce.
type Record struct {
	Key, Value []byte
	Headers    []Header
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// ProducerConfig configures a Producer. Brokers and Topic are required.
type ProducerConfig struct {
	Brokers []string
	Topic   string
	// Linger is how long records wait to be batched (default 5ms).
	Linger time.Duration
	// MaxBuffered bounds the records waiting to be delivered; Send blocks
	// beyond it (default 1<<20).
	MaxBuffered int
	Logger      *slog.Logger
}

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("producer closed")

// Producer delivers records to one topic at least once: a batch that fails
// is retried (with backoff) until it is acknowledged by all in-sync
// replicas, so records are never dropped and stay in order per key (records
// are partitioned by a hash of the key). Send only queues; Flush waits for
// delivery. A Producer is safe for concurrent use.
type Producer struct {
	w      *kafkago.Writer
	topic  string
	linger time.Duration
	maxBuf int
	log    *slog.Logger

	mu        sync.Mutex
	cond      *sync.Cond
	pending   []kafkago.Message
	queued    uint64 // records ever queued
	delivered uint64 // records ever acknowledged (a prefix of queued)
	closed    bool
	lastErr   error // the latest delivery error, cleared by a success
	done      chan struct{}
}

// NewProducer checks cfg and starts the delivery goroutine.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("no Kafka brokers configured")
	case cfg.Topic == "":
		return nil, errors.New("no Kafka topic configured")
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 5 * time.Millisecond
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Producer{
		w: &kafkago.Writer{
			Addr:                   kafkago.TCP(cfg.Brokers...),
			Topic:                  cfg.Topic,
			Balancer:               &kafkago.Hash{},
			RequiredAcks:           kafkago.RequireAll,
			BatchSize:              10000,
			BatchBytes:             8 << 20,
			BatchTimeout:           cfg.Linger,
			MaxAttempts:            5,
			AllowAutoTopicCreation: false,
		},
		topic:  cfg.Topic,
		linger: cfg.Linger,
		maxBuf: cfg.MaxBuffered,
		log:    cfg.Logger,
		done:   make(chan struct{}),
	}
	p.cond = sync.NewCond(&p.mu)
	go p.loop()
	return p, nil
}

// Topic returns the topic the producer writes to.
func (p *Producer) Topic() string { return p.topic }

// Send queues records for delivery; it blocks while MaxBuffered records are
// waiting. Records sent after Close are dropped.
func (p *Producer) Send(recs ...Record) {
	if len(recs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.pending) >= p.maxBuf && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return
	}
	for _, r := range recs {
		m := kafkago.Message{Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
		}
		p.pending = append(p.pending, m)
	}
	p.queued += uint64(len(recs))
	p.cond.Broadcast()
}

// Flush waits until every record sent before the call is acknowledged, or
// ctx is done (then it returns the latest delivery error, if any, with
// ctx's error).
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	target := p.queued
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.delivered < target {
		if p.closed {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			if p.lastErr != nil {
				return fmt.Errorf("cannot deliver to Kafka topic %q: %w (%w)", p.topic, p.lastErr, err)
			}
			return err
		}
		p.cond.Wait()
	}
	return nil
}

// Pending returns how many records wait for delivery.
func (p *Producer) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.queued - p.delivered)
}

// Close stops delivering (records not yet delivered are dropped: call
// Flush first) and closes the connections.
func (p *Producer) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	<-p.done
	return p.w.Close()
}

func (p *Producer) loop() {
	defer close(p.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel an in-flight write on Close
		p.mu.Lock()
		for !p.closed {
			p.cond.Wait()
		}
		p.mu.Unlock()
		cancel()
	}()
	backoff := 100 * time.Millisecond
	for {
		p.mu.Lock()
		for len(p.pending) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		batch := p.pending
		p.pending = nil
		p.cond.Broadcast() // room for Send
		p.mu.Unlock()

		for len(batch) > 0 {
			err := p.w.WriteMessages(ctx, batch...)
			if err == nil {
				p.ack(len(batch), nil)
				backoff = 100 * time.Millisecond
				break
			}
			if ctx.Err() != nil {
				return
			}
			// Keep the failed records (in order) and retry them.
			var failed []kafkago.Message
			var werrs kafkago.WriteErrors
			if errors.As(err, &werrs) && len(werrs) == len(batch) {
				for i, e := range werrs {
					if e != nil {
						failed = append(failed, batch[i])
					}
				}
			} else {
				failed = batch
			}
			p.ack(len(batch)-len(failed), err)
			p.log.Warn("kafka producer: delivery failed; retrying", "topic", p.topic, "records", len(failed), "err", err, "backoff", backoff)
			batch = failed
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

func (p *Producer) ack(n int, err error) {
	p.mu.Lock()
	p.delivered += uint64(n)
	p.lastErr = err
	p.cond.Broadcast()
	p.mu.Unlock()
}
