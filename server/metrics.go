package server

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on its own registry.
type metrics struct {
	reg      *prometheus.Registry
	latency  *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
	exported prometheus.Counter
	handler  fiber.Handler
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cohortd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request (a streamed export: until its body starts), by route template.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohortd_reloads_total",
			Help: "Cohort reloads (start-up load included), by result: ok, invalid, index_error, busy.",
		}, []string{"result"}),
		exported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cohortd_exported_members_total",
			Help: "Members written by streamed CSV/NDJSON exports.",
		}),
	}
	for _, r := range []string{"ok", "invalid", "index_error", "busy"} {
		m.reloads.WithLabelValues(r)
	}
	m.reg.MustRegister(m.latency, m.reloads, m.exported, stateCollector{s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

// observe answers errors (through errorHandler, so the status is final) and
// records every request's latency under its route template (e.g.
// /api/v1/cohorts/:name), never the raw path.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path // a registered template: a stable string
	if route == "/" || route == "" {
		route = "unmatched" // no route matched: only app.Use's "/" ran
	}
	took := time.Since(start)
	s.metrics.latency.WithLabelValues(methodLabel(c.Method()), route, strconv.Itoa(status)).Observe(took.Seconds())
	if s.log.Enabled(c.UserContext(), slog.LevelDebug) {
		s.log.Debug("request", "method", c.Method(), "path", c.Path(), "route", route, "status", status, "took", took.String())
	}
	return nil
}

// methodLabel maps a request method to a constant label. Fiber's strings
// point into reused request buffers, so they must not be kept (as metric
// labels are); this also bounds the label's cardinality.
func methodLabel(m string) string {
	for _, known := range []string{"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

func (m *metrics) reload(err error) {
	var ce *CohortsError
	var ie *IndexError
	switch {
	case err == nil:
		m.reloads.WithLabelValues("ok").Inc()
	case errors.Is(err, ErrReloadInProgress):
		m.reloads.WithLabelValues("busy").Inc()
	case errors.As(err, &ce):
		m.reloads.WithLabelValues("invalid").Inc()
	case errors.As(err, &ie):
		m.reloads.WithLabelValues("index_error").Inc()
	default:
		m.reloads.WithLabelValues("index_error").Inc()
	}
}

var (
	descCohortSize = prometheus.NewDesc("cohortd_cohort_members",
		"Members of each cohort at scrape time (server clock).", []string{"cohort", "group"}, nil)
	descUsers = prometheus.NewDesc("cohortd_index_users",
		"Live users in the index.", nil, nil)
	descBytes = prometheus.NewDesc("cohortd_index_bytes",
		"Approximate memory held by the index.", nil, nil)
	descReady = prometheus.NewDesc("cohortd_ready",
		"1 once cohorts are compiled and the index is loaded.", nil, nil)
)

// stateCollector reads the running snapshot at scrape time.
type stateCollector struct{ s *Server }

func (sc stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCohortSize
	ch <- descUsers
	ch <- descBytes
	ch <- descReady
}

func (sc stateCollector) Collect(ch chan<- prometheus.Metric) {
	snap := sc.s.snap.Load()
	if snap == nil {
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, 1)
	st := snap.ix.Stats()
	ch <- prometheus.MustNewConstMetric(descUsers, prometheus.GaugeValue, float64(snap.ix.Len()))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.TotalBytes))
	ctx, cancel := context.WithTimeout(context.Background(), sc.s.cfg.RequestTimeout)
	defer cancel()
	now := sc.s.cfg.Clock()
	for _, co := range snap.set.Cohorts() {
		b, err := snap.ev.CohortMembers(ctx, co.Name, now)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descCohortSize, prometheus.GaugeValue, float64(b.GetCardinality()), co.Name, co.Group)
	}
}
