package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/server/realtime"
	"github.com/cohortd/cohortd/store/events"
	"github.com/cohortd/cohortd/store/kafka"
)

// realtimeFlags say where events come from and where changes go.
type realtimeFlags struct {
	brokers         string
	topic           string
	group           string
	changesTopic    string
	deadLetterTopic string
	stateDir        string
	snapshotEvery   time.Duration
	sweepEvery      time.Duration
	sessionTimeout  time.Duration
	// durableSource: the users come from ClickHouse, which receives the
	// same updates (not a flag; serve sets it).
	durableSource bool
}

func (f *realtimeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.brokers, "kafka", "", "Kafka brokers (host:port,...) to consume events from; none: events come only from POST /api/v1/events")
	fs.StringVar(&f.topic, "kafka-topic", "events", "topic of the events")
	fs.StringVar(&f.group, "kafka-group", "cohortd", "consumer group (give each cohortd replica its own: every replica needs every event)")
	fs.DurationVar(&f.sessionTimeout, "kafka-session-timeout", kafka.DefaultSessionTimeout, "consumer group session timeout: after a crash, consumption resumes about this long after the restart (brokers refuse less than their group.min.session.timeout.ms, 6s by default)")
	fs.StringVar(&f.changesTopic, "changes-topic", "", "topic receiving cohort membership changes (entered/exited); none: not published")
	fs.StringVar(&f.deadLetterTopic, "dead-letter-topic", "", "topic receiving malformed events; none: they are only counted and logged")
	fs.StringVar(&f.stateDir, "state-dir", "", "directory for snapshots of the index and consumed offsets (restart resumes from them); none: nothing is committed and each start replays the topic (with --clickhouse: offsets are committed as applied)")
	fs.DurationVar(&f.snapshotEvery, "snapshot-interval", realtime.DefaultSnapshotInterval, "how often to snapshot to --state-dir (offsets are committed after each)")
	fs.DurationVar(&f.sweepEvery, "sweep-interval", realtime.DefaultSweepInterval, "how often cohorts that change with time alone are re-evaluated and their changes published")
}

// realtimeRun is the event pipeline of `serve` and its Kafka clients.
type realtimeRun struct {
	p         *realtime.Pipeline
	consumer  *kafka.Consumer
	producers []*kafka.Producer
	log       *slog.Logger
	done      chan error

	mu       sync.Mutex
	attached struct {
		set *compiler.Set
		ix  *bitmaps.Index
	}
}

// startRealtime builds the pipeline (always: POST /api/v1/events uses it)
// and, with --kafka, the consumer and producers.
func (f *realtimeFlags) start(clock func() time.Time, log *slog.Logger, reg prometheus.Registerer, evOpts func(*events.Options)) (*realtimeRun, error) {
	if f.brokers == "" && (f.changesTopic != "" || f.deadLetterTopic != "") {
		return nil, usageError{errors.New("--changes-topic and --dead-letter-topic need --kafka")}
	}
	rt := &realtimeRun{log: log}
	cfg := realtime.Config{Clock: clock, Logger: log, Registerer: reg, StateDir: f.stateDir, DurableSource: f.durableSource,
		SnapshotInterval: f.snapshotEvery, SweepInterval: f.sweepEvery}
	if evOpts != nil {
		evOpts(&cfg.Events)
	}
	brokers := kafka.ParseBrokers(f.brokers)
	if f.brokers != "" {
		if len(brokers) == 0 {
			return nil, usageError{fmt.Errorf("--kafka %q names no broker", f.brokers)}
		}
		for _, t := range []struct {
			topic string
			sink  *realtime.Sink
		}{{f.changesTopic, &cfg.Changes}, {f.deadLetterTopic, &cfg.DeadLetter}} {
			if t.topic == "" {
				continue
			}
			prod, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, Topic: t.topic, Logger: log})
			if err != nil {
				rt.close()
				return nil, err
			}
			rt.producers = append(rt.producers, prod)
			*t.sink = prod
		}
		c, err := kafka.NewConsumer(kafka.ConsumerConfig{Brokers: brokers, Topic: f.topic, Group: f.group, SessionTimeout: f.sessionTimeout, Logger: log})
		if err != nil {
			rt.close()
			return nil, usageError{err}
		}
		rt.consumer = c
	}
	p, err := realtime.New(cfg)
	if err != nil {
		rt.close()
		return nil, err
	}
	rt.p = p
	if f.brokers != "" {
		log.Info("consuming events from Kafka", "brokers", f.brokers, "topic", f.topic, "group", f.group,
			"changes_topic", f.changesTopic, "dead_letter_topic", f.deadLetterTopic, "state_dir", f.stateDir)
		switch {
		case f.stateDir != "":
		case f.durableSource:
			log.Info("no --state-dir: offsets are committed once events are applied in memory; ClickHouse is the durable source (it must receive the same updates)")
		default:
			log.Warn("no --state-dir: no offset is committed, so every start replays the topic from its earliest retained record over --data; give --state-dir to resume from a snapshot instead")
		}
	}
	return rt, nil
}

// loadIndex wraps the data source: with --state-dir a snapshot of the same
// catalog is restored instead of loading it.
func (rt *realtimeRun) loadIndex(load func(context.Context, *compiler.Set) (*bitmaps.Index, error)) func(context.Context, *compiler.Set) (*bitmaps.Index, error) {
	return func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
		ix, err := rt.p.LoadIndex(ctx, set, load)
		if err == nil {
			rt.mu.Lock()
			rt.attached.set, rt.attached.ix = set, ix
			rt.mu.Unlock()
		}
		return ix, err
	}
}

// follow makes the pipeline evaluate the server's running cohorts: after a
// reload that keeps the schema (same index, new set) or an index swap. The
// set and index LoadIndex attached (maybe restored from --state-dir with its
// published memberships) are left as they are.
func (rt *realtimeRun) follow(set *compiler.Set, ix *bitmaps.Index) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.attached.set == set && rt.attached.ix == ix {
		return
	}
	if err := rt.p.Attach(set, ix); err != nil {
		rt.log.Error("the event pipeline cannot follow the reloaded cohorts", "err", err)
		return
	}
	rt.attached.set, rt.attached.ix = set, ix
}

// run starts consuming in the background once the index is loaded; wait
// returns after the last checkpoint, once ctx is done.
func (rt *realtimeRun) run(ctx context.Context) {
	rt.done = make(chan error, 1)
	go func() {
		var src realtime.Source
		if rt.consumer != nil {
			src = rt.consumer
		}
		err := rt.p.Run(ctx, src)
		if err != nil {
			rt.log.Error("event pipeline stopped", "err", err)
		}
		rt.close()
		rt.done <- err
	}()
}

func (rt *realtimeRun) wait() error {
	if rt.done == nil {
		return nil
	}
	return <-rt.done
}

func (rt *realtimeRun) close() {
	if rt.consumer != nil {
		rt.consumer.Close()
	}
	for _, p := range rt.producers {
		p.Close()
	}
}
