package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/clickhouse"
	"github.com/cohortd/cohortd/store/clickhouse/chtest"
)

// metricValue sums the samples of a metric whose labels include want.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	chtest.Eventually(t, what, cond)
}

const refreshYAML = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier:    {type: string}
  visits:  {type: int}
cohorts:
  c: "visits > 3"
`

// TestRefresherClickHouseDown: the first load waits for ClickHouse; changed
// rows reach the live index; while ClickHouse is down the last index keeps
// serving and failures are counted; the refresher recovers when it returns.
func TestRefresherClickHouseDown(t *testing.T) {
	direct := testDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	set := compileYAML(t, refreshYAML)
	if err := direct.Exec(ctx, clickhouse.CreateTableSQL(direct.QualifiedName("users"), set.Key(), set.Schema())); err != nil {
		t.Fatal(err)
	}
	insert := func(user, tier string, visits int) {
		t.Helper()
		insertRows(t, direct, "users", "user_id, tier, visits", fmt.Sprintf("'%s', '%s', %d", user, tier, visits))
	}
	for i := range 20 {
		insert(fmt.Sprintf("u%02d", i), "casual", i)
	}

	px := chtest.NewProxy(t, testAddr(t))
	px.Stop() // ClickHouse is "down" at start
	c, err := clickhouse.Open(clickhouse.Config{Addr: px.Addr(), Database: direct.Database(), DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	var swaps atomic.Int32
	var served atomic.Pointer[bitmaps.Index] // what a server would serve
	r, err := clickhouse.NewRefresher(c, "users", set.Key(), set.Schema(), clickhouse.RefreshOptions{
		Interval: 100 * time.Millisecond, FullEvery: 4, MinBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond,
		Registerer: reg,
		Swap: func(ix *bitmaps.Index, asOf time.Time) error {
			if time.Since(asOf) > time.Minute || asOf.After(time.Now()) {
				t.Errorf("Swap got asOf %v, not the time of the read", asOf)
			}
			swaps.Add(1)
			served.Store(ix)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	loaded := make(chan error, 1)
	go func() {
		ix, err := r.Load(ctx)
		served.Store(ix)
		loaded <- err
	}()
	eventually(t, "the first load to retry", func() bool {
		return metricValue(t, reg, "cohortd_clickhouse_load_retries_total", nil) >= 2
	})
	select {
	case err := <-loaded:
		t.Fatalf("Load returned while ClickHouse was down: %v", err)
	default:
	}
	px.Start()
	if err := <-loaded; err != nil {
		t.Fatalf("Load after ClickHouse came back: %v", err)
	}
	if n := served.Load().Len(); n != 20 {
		t.Fatalf("first load: %d users, want 20", n)
	}

	first := served.Load()
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()

	// visits of a user as the served index has it.
	visits := func(user string) any {
		ix := served.Load()
		id, ok := ix.Lookup(user)
		if !ok {
			return nil
		}
		return ix.Value(id, "visits")
	}
	insert("u03", "loyal", 100) // a newer version of u03
	insert("new1", "new", 1)
	eventually(t, "the changed rows to reach the index", func() bool {
		return visits("u03") == int64(100) && visits("new1") == int64(1)
	})
	if metricValue(t, reg, "cohortd_clickhouse_refreshes_total", map[string]string{"kind": "incremental", "result": "ok"}) == 0 {
		t.Error("no incremental refresh was counted")
	}
	if id, _ := first.Lookup("u03"); first.Len() != 20 || first.Value(id, "visits") != int64(3) {
		t.Error("a refresh changed the index being served instead of swapping in a new one")
	}
	fulls := metricValue(t, reg, "cohortd_clickhouse_refreshes_total", map[string]string{"kind": "full", "result": "ok"})
	eventually(t, "a full refresh", func() bool {
		return metricValue(t, reg, "cohortd_clickhouse_refreshes_total", map[string]string{"kind": "full", "result": "ok"}) > fulls
	})
	if n := served.Load().Len(); n != 21 || visits("u03") != int64(100) {
		t.Errorf("after a full refresh: %d users, u03 visits %v; want 21 and 100", n, visits("u03"))
	}

	// ClickHouse goes down: refreshes fail, the last index keeps serving.
	px.Stop()
	failed := metricValue(t, reg, "cohortd_clickhouse_refreshes_total", map[string]string{"result": "error"})
	eventually(t, "failed refreshes to be counted", func() bool {
		return metricValue(t, reg, "cohortd_clickhouse_refreshes_total", map[string]string{"result": "error"}) >= failed+3
	})
	if up := metricValue(t, reg, "cohortd_clickhouse_up", nil); up != 0 {
		t.Errorf("cohortd_clickhouse_up = %v while ClickHouse is down, want 0", up)
	}
	if ix := served.Load(); ix.Len() != 21 || visits("u03") != int64(100) {
		t.Errorf("while ClickHouse is down the index has %d users, u03 visits %v; want the last index (21, 100)", ix.Len(), visits("u03"))
	}
	insert("new2", "new", 2) // written while cohortd cannot see ClickHouse

	px.Start()
	eventually(t, "the refresher to recover", func() bool {
		return visits("new2") == int64(2) && metricValue(t, reg, "cohortd_clickhouse_up", nil) == 1
	})
	if last := metricValue(t, reg, "cohortd_clickhouse_last_success_timestamp_seconds", nil); time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last success timestamp %v is stale", last)
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestRefresherPermanentError: a table that does not fit the catalog fails
// the first load at once instead of retrying.
func TestRefresherPermanentError(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	execDDL(t, c, "CREATE TABLE users (user_id String, tier Int64, visits Int64) ENGINE = Memory")
	set := compileYAML(t, refreshYAML)
	r, err := clickhouse.NewRefresher(c, "users", set.Key(), set.Schema(), clickhouse.RefreshOptions{MinBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = r.Load(ctx)
	var se *clickhouse.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("Load error = %v, want a *SchemaError at once", err)
	}
}

// TestRefresherDeletedRows: deleted rows leave the index at the next full
// refresh; a refresh swaps in the rebuilt index.
func TestRefresherDeletedRows(t *testing.T) {
	c := testDB(t)
	ctx := context.Background()
	set := compileYAML(t, refreshYAML)
	execDDL(t, c, "CREATE TABLE users (user_id String, tier Nullable(String), visits Nullable(Int64)) ENGINE = Memory")
	insertRows(t, c, "users", "user_id, tier, visits", "'a', 'x', 1", "'b', NULL, 2")
	var swapped *bitmaps.Index
	r, err := clickhouse.NewRefresher(c, "users", set.Key(), set.Schema(), clickhouse.RefreshOptions{
		Swap: func(ix *bitmaps.Index, _ time.Time) error { swapped = ix; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := r.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 2 {
		t.Fatalf("loaded %d users, want 2", ix.Len())
	}
	if err := c.Exec(ctx, "TRUNCATE TABLE users"); err != nil {
		t.Fatal(err)
	}
	insertRows(t, c, "users", "user_id, tier, visits", "'b', 'y', 3")
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if swapped == nil || swapped != r.Index() {
		t.Fatal("a full refresh did not swap its index in")
	}
	if _, ok := swapped.Lookup("a"); ok || swapped.Len() != 1 {
		t.Errorf("after the refresh: %d users (a present: %v), want only b", swapped.Len(), ok)
	}
	if _, ok := ix.Lookup("a"); !ok {
		t.Error("the refresh changed the previous index instead of building a new one")
	}
}
