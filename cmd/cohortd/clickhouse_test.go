package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/server"
	"github.com/cohortd/cohortd/store/clickhouse/chtest"
)

// TestClickHouseLoadAndQuery: cohortd load puts generated users into
// ClickHouse; query over --data, over --clickhouse (rows read into the
// index) and with --pushdown (SQL in ClickHouse) give the same members for
// every cohort of the root file; explain prints the SQL.
func TestClickHouseLoadAndQuery(t *testing.T) {
	c := chtest.NewDB(t)
	addr := chtest.Addr(t)
	root := repoRoot(t)
	cohorts := filepath.Join(root, "cohorts.yaml")
	dir := t.TempDir()
	if code, _, errOut := cli(t, "gen", "--out", dir, "--users", "3000", "--articles", "5", "--events", "0"); code != exitOK {
		t.Fatalf("gen: %s", errOut)
	}
	chFlags := []string{"--clickhouse", addr, "--clickhouse-database", c.Database()}
	code, out, errOut := cli(t, append([]string{"load", "--data", dir, "--cohorts", cohorts}, chFlags...)...)
	if code != exitOK || !strings.Contains(out, "3000 users loaded") {
		t.Fatalf("load: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = cli(t, append([]string{"load", "--data", dir, "--cohorts", cohorts}, chFlags...)...)
	if code != exitFailure || !strings.Contains(errOut, "--replace or --append") {
		t.Errorf("loading again: exit %d, %q; want 1 and a hint at --replace or --append", code, errOut)
	}

	const now = "2026-01-13T12:00:00Z"
	names := []string{"champion", "at_risk", "dormant", "winback", "cyclists", "multi_sport", "gear_enthusiasts",
		"newsletter_engaged", "app_users", "weekend_readers"}
	for _, name := range names {
		base := []string{"query", "--cohorts", cohorts, "--now", now, "--format", "ids", "--cohort", name}
		_, want, errOut := cli(t, append(base, "--data", dir)...)
		if errOut != "" {
			t.Fatalf("%s over --data: %s", name, errOut)
		}
		for _, extra := range [][]string{chFlags, append(chFlags, "--pushdown")} {
			code, got, errOut := cli(t, append(base, extra...)...)
			if code != exitOK {
				t.Fatalf("%s %v: exit %d: %s", name, extra, code, errOut)
			}
			if got != want {
				t.Errorf("%s %v: %d ids, want the %d of --data", name, extra, strings.Count(got, "\n"), strings.Count(want, "\n"))
			}
		}
		if strings.Count(want, "\n") == 0 && name != "winback" {
			t.Errorf("%s has no members: the comparison proves little", name)
		}
	}

	_, out, _ = cli(t, "explain", "--cohorts", cohorts, "--now", now, "--cohort", "champion")
	if !strings.Contains(out, "ifNull(`engagement_tier` = 'champion', 0)") {
		t.Errorf("explain does not print the SQL:\n%s", out)
	}
	code, _, errOut = cli(t, "query", "--cohorts", cohorts, "--pushdown", "true")
	if code != exitUsage {
		t.Errorf("--pushdown without --clickhouse: exit %d (%s), want %d", code, errOut, exitUsage)
	}
	code, _, _ = cli(t, append([]string{"query", "--cohorts", cohorts, "--data", dir, "true"}, chFlags...)...)
	if code != exitUsage {
		t.Errorf("--data with --clickhouse: exit %d, want %d", code, exitUsage)
	}
}

// TestServeClickHouseOutage runs serve over ClickHouse behind a proxy:
// /readyz says 503 while ClickHouse is down at start, the server comes up
// when it returns, picks up changed rows, keeps answering from its last
// index during an outage (with /readyz 200 and the failures in /metrics),
// and recovers when ClickHouse is back.
func TestServeClickHouseOutage(t *testing.T) {
	c := chtest.NewDB(t)
	px := chtest.NewProxy(t, chtest.Addr(t))
	const yaml = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier:    {type: string}
  visits:  {type: int}
cohorts:
  g:
    busy: "visits > 3"
`
	cohorts := filepath.Join(t.TempDir(), "cohorts.yaml")
	if err := os.WriteFile(cohorts, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Exec(ctx, "CREATE TABLE users (user_id String, tier Nullable(String), visits Nullable(Int64), updated_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(updated_at) ORDER BY user_id"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		chtest.InsertRows(t, c, "users", "user_id, tier, visits", fmt.Sprintf("'u%d', 'x', %d", i, i))
	}

	listen := freeAddr(t)
	px.Stop() // ClickHouse is down when serve starts
	sctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		done <- run(sctx, []string{"serve", "--cohorts", cohorts, "--listen", listen, "--clickhouse", px.Addr(),
			"--clickhouse-database", c.Database(), "--refresh", "200ms"}, io.Discard, &serveErr)
	}()
	defer func() {
		stop()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited %d:\n%s", code, serveErr.String())
		}
	}()
	base := "http://" + listen
	chtest.Eventually(t, "/readyz to answer 503 while ClickHouse is down", func() bool { return status(base+"/readyz") == http.StatusServiceUnavailable })
	chtest.Eventually(t, "the start-up retries to show in /metrics", func() bool {
		return metric(base, "cohortd_clickhouse_load_retries_total") >= 1
	})
	px.Start()
	chtest.Eventually(t, "/readyz to answer 200 once ClickHouse is back", func() bool { return status(base+"/readyz") == http.StatusOK })
	if n := queryCount(t, base, "visits > 3"); n != 6 {
		t.Fatalf("busy users: %d, want 6", n)
	}

	chtest.InsertRows(t, c, "users", "user_id, tier, visits", "'u1', 'x', 100", "'new', 'y', 50")
	chtest.Eventually(t, "changed rows to reach the server", func() bool { return queryCount(t, base, "visits > 3") == 8 })

	px.Stop()
	errs := metric(base, `cohortd_clickhouse_refreshes_total{kind="incremental",result="error"}`) +
		metric(base, `cohortd_clickhouse_refreshes_total{kind="full",result="error"}`)
	chtest.Eventually(t, "failed refreshes to show in /metrics", func() bool {
		return metric(base, `cohortd_clickhouse_refreshes_total{kind="incremental",result="error"}`)+
			metric(base, `cohortd_clickhouse_refreshes_total{kind="full",result="error"}`) >= errs+2 &&
			metric(base, "cohortd_clickhouse_up") == 0
	})
	if s := status(base + "/readyz"); s != http.StatusOK {
		t.Errorf("/readyz answers %d during the outage, want 200 (the last index serves)", s)
	}
	if st, src := readyz(t, base); st != "degraded" || src.OK || src.Error == "" || src.LastSuccess.IsZero() {
		t.Errorf("/readyz during the outage: status %q, source %+v; want degraded with the error and the last success", st, src)
	}
	if n := queryCount(t, base, "visits > 3"); n != 8 {
		t.Errorf("during the outage: %d busy users, want the last index's 8", n)
	}
	chtest.InsertRows(t, c, "users", "user_id, tier, visits", "'late', 'z', 9")
	px.Start()
	chtest.Eventually(t, "the server to recover after the outage", func() bool {
		return queryCount(t, base, "visits > 3") == 9 && metric(base, "cohortd_clickhouse_up") == 1
	})
	if st, src := readyz(t, base); st != "ready" || !src.OK {
		t.Errorf("/readyz after the outage: status %q, source %+v", st, src)
	}
}

// readyz returns /readyz's status word and source health.
func readyz(t *testing.T, base string) (string, server.SourceHealth) {
	t.Helper()
	resp, err := httpClient.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string              `json:"status"`
		Source server.SourceHealth `json:"source"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Status, body.Source
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func status(url string) int {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// metric returns the value of one sample of /metrics (name with labels as
// printed), or -1 when absent.
func metric(base, sample string) float64 {
	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func queryCount(t *testing.T, base, expr string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"expr": expr, "limit": 0})
	resp, err := httpClient.Post(base+"/api/v1/query", "application/json", bytes.NewReader(body))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		Count int `json:"count"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return -1
	}
	return out.Count
}
