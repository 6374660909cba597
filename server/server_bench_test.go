package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
)

// benchUsers is the population size of the HTTP benchmarks
// (COHORTD_BENCH_USERS overrides; 1e6 for the BENCHMARKS.md figures).
func benchUsers() int {
	if n, err := strconv.Atoi(os.Getenv("COHORTD_BENCH_USERS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// benchIndexes caches generated indexes by size: the testing package calls a
// benchmark several times (growing b.N) and generation dominates set-up.
var benchIndexes sync.Map // int → *bitmaps.Index

// benchServer serves n generated users on a real loopback listener.
func benchServer(b *testing.B, n int) *live {
	b.Helper()
	e := newEnv(b, nil, func(c *Config) {
		c.LoadIndex = func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
			if ix, ok := benchIndexes.Load(n); ok {
				return ix.(*bitmaps.Index), nil
			}
			r := rand.New(rand.NewPCG(7, 42))
			bld := bitmaps.NewBuilder(set.Schema())
			for i := 0; i < n; i++ {
				u := genUser(r, i)
				u["user_id"] = fmt.Sprintf("u%08d", i)
				if err := bld.Add(u["user_id"].(string), rowOf(set.Schema(), u)); err != nil {
					return nil, err
				}
			}
			ix := bld.Build()
			benchIndexes.Store(n, ix)
			return ix, nil
		}
	})
	l := serve(b, e)
	l.waitReady(b)
	return l
}

// BenchmarkUserCohorts is a load generator for GET /api/v1/users/{id}/cohorts
// over loopback (fasthttp client, keep-alive, 32 concurrent clients).
func BenchmarkUserCohorts(b *testing.B) {
	n := benchUsers()
	l := benchServer(b, n)
	client := &fasthttp.Client{MaxConnsPerHost: 256}
	addr := l.base
	var i atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			k := i.Add(1) * 7919 % int64(n)
			req.SetRequestURI(addr + "/api/v1/users/u" + fmt.Sprintf("%08d", k) + "/cohorts")
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Errorf("status %d: %v %s", resp.StatusCode(), err, resp.Body())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCSVExport streams the whole "everyone" cohort as CSV (ids only)
// over loopback and reports ids/s.
func BenchmarkCSVExport(b *testing.B) {
	n := benchUsers()
	l := benchServer(b, n)
	client := &fasthttp.Client{MaxResponseBodySize: 1 << 30, ReadTimeout: time.Minute}
	var ids int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(l.base + "/api/v1/cohorts/everyone/members?format=csv&fields=")
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("status %d: %v", resp.StatusCode(), err)
		}
		lines := 0
		for _, c := range resp.Body() {
			if c == '\n' {
				lines++
			}
		}
		if lines != n+1 {
			b.Fatalf("%d lines, want %d", lines, n+1)
		}
		ids += int64(n)
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	b.ReportMetric(float64(ids)/b.Elapsed().Seconds(), "ids/s")
}

// BenchmarkQuery measures POST /api/v1/query for a brief cohort.
func BenchmarkQuery(b *testing.B) {
	n := benchUsers()
	l := benchServer(b, n)
	client := &fasthttp.Client{}
	body := []byte(`{"expr": "engagement_tier == 'champion' AND days_since_last_visit < 7", "limit": 10}`)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(l.base + "/api/v1/query")
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.SetBody(body)
		t0 := time.Now()
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("status %d: %v %s", resp.StatusCode(), err, resp.Body())
		}
		lat = append(lat, time.Since(t0))
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
