package realtime

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	events    *prometheus.CounterVec // source, type, result
	apply     prometheus.Histogram   // seconds to apply one event (changes included)
	freshness prometheus.Histogram   // seconds from arrival to visible
	lag       *prometheus.GaugeVec   // partition
	changes   *prometheus.CounterVec // change, cause
	snapshots *prometheus.CounterVec // result
	snapSecs  prometheus.Histogram   // seconds to write a snapshot
	sweepSecs prometheus.Histogram   // seconds per sweep
	lastSnap  prometheus.Gauge       // Unix time of the last snapshot
	commits   *prometheus.CounterVec // result
	kafkaUp   prometheus.Gauge       // 1 while fetching works, 0 while it fails
	fetchErrs prometheus.Counter     // failed fetches (each retried)

	// Resolved children of the vectors the apply path touches per event
	// (WithLabelValues hashes its labels each time). Guarded by the
	// pipeline's lock.
	eventsC map[eventLabels]prometheus.Counter
	// The last label set asked for and its counter.
	lastEventL eventLabels
	lastEventC prometheus.Counter
	changesC   [2]prometheus.Counter // event-caused exited, entered
	lagC       map[int]prometheus.Gauge
}

type eventLabels struct {
	source, typ, result string
}

// eventCounter returns the events counter of one label set.
func (m *metrics) eventCounter(source, typ, result string) prometheus.Counter {
	k := eventLabels{source, typ, result}
	if k == m.lastEventL && m.lastEventC != nil { // a stream is mostly one kind of event
		return m.lastEventC
	}
	c, ok := m.eventsC[k]
	if !ok {
		c = m.events.WithLabelValues(source, typ, result)
		m.eventsC[k] = c
	}
	m.lastEventL, m.lastEventC = k, c
	return c
}

// lagGauge returns the lag gauge of a partition.
func (m *metrics) lagGauge(partition int) prometheus.Gauge {
	g, ok := m.lagC[partition]
	if !ok {
		g = m.lag.WithLabelValues(partitionLabel(partition))
		m.lagC[partition] = g
	}
	return g
}

// eventChange returns the counter of changes caused by events.
func (m *metrics) eventChange(entered bool) prometheus.Counter {
	if entered {
		return m.changesC[1]
	}
	return m.changesC[0]
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	latency := []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1}
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohortd_events_total",
			Help: "Events taken, by source (kafka, http), type and result (applied, duplicate, ignored, malformed, failed); rate() gives events/s.",
		}, []string{"source", "type", "result"}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cohortd_event_apply_seconds",
			Help:    "Time to apply one event to the index, membership changes included.",
			Buckets: latency,
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cohortd_event_freshness_seconds",
			Help:    "Time from an event's arrival (Kafka record time, or HTTP request) until the user's cohorts reflect it.",
			Buckets: []float64{1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cohortd_kafka_consumer_lag",
			Help: "Records behind the end of the partition when the last one was taken.",
		}, []string{"partition"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohortd_membership_changes_total",
			Help: "Cohort membership changes published, by change (entered, exited) and cause (event, sweep).",
		}, []string{"change", "cause"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohortd_state_snapshots_total",
			Help: "State-dir snapshots written, by result (ok, failed).",
		}, []string{"result"}),
		snapSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cohortd_state_snapshot_seconds",
			Help:    "Time to write a state-dir snapshot (events wait only for the part under the lock).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		sweepSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cohortd_time_sweep_seconds",
			Help:    "Time to re-evaluate the time-dependent cohorts and diff them with what was published.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		lastSnap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cohortd_state_snapshot_last_success_timestamp_seconds",
			Help: "Unix time of the last state-dir snapshot written.",
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohortd_kafka_commits_total",
			Help: "Kafka offset commits, by result (ok, failed).",
		}, []string{"result"}),
	}
	m.kafkaUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cohortd_kafka_up",
		Help: "1 while records can be fetched from Kafka, 0 while fetching fails (it is retried with backoff; the index keeps serving).",
	})
	m.fetchErrs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cohortd_kafka_fetch_errors_total",
		Help: "Failed fetches from Kafka (broker unreachable, group join failed...); each is retried with backoff.",
	})
	for _, r := range []string{"ok", "failed"} {
		m.snapshots.WithLabelValues(r)
		m.commits.WithLabelValues(r)
	}
	m.eventsC = map[eventLabels]prometheus.Counter{}
	m.lagC = map[int]prometheus.Gauge{}
	m.changesC = [2]prometheus.Counter{m.changes.WithLabelValues("exited", "event"), m.changes.WithLabelValues("entered", "event")}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.events, m.apply, m.freshness, m.lag, m.changes, m.snapshots, m.snapSecs, m.sweepSecs, m.lastSnap, m.commits, m.kafkaUp, m.fetchErrs} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func partitionLabel(p int) string { return strconv.Itoa(p) }
