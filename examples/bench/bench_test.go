package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
)

// TestCohortFiles: the generated cohort files compile, hold the complex
// cohorts and exactly 100 cohorts, and are the same for the same seed.
func TestCohortFiles(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "cohorts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := compiler.CompileData("cohorts.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	have := len(root.Cohorts())
	tests := []struct {
		name  string
		total int
		want  int
	}{
		{name: "main", total: 0, want: have + len(complexCohorts)},
		{name: "hundred", total: 100, want: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := cohortFile(data, have, tt.total, 1)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := cohortFile(data, have, tt.total, 1)
			if !bytes.Equal(out, again) {
				t.Error("the same seed gave two different files")
			}
			set, err := compiler.CompileData(tt.name+".yaml", out)
			if err != nil {
				t.Fatalf("the generated file does not compile: %v", err)
			}
			if n := len(set.Cohorts()); n != tt.want {
				t.Errorf("%d cohorts, want %d", n, tt.want)
			}
			for _, name := range append(append([]string(nil), briefCohorts...), "cx_cohort_refs", "cx_days_since") {
				if _, ok := set.Cohort(name); !ok {
					t.Errorf("no cohort %q", name)
				}
			}
			timeDep := 0
			for _, c := range set.Cohorts() {
				if c.TimeDependent {
					timeDep++
				}
			}
			t.Logf("%d cohorts, %d of them time-dependent", len(set.Cohorts()), timeDep)
		})
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarize(ds)
	if l.n != 100 || l.median != 51*time.Millisecond || l.p99 != 99*time.Millisecond ||
		l.min != time.Millisecond || l.max != 100*time.Millisecond {
		t.Errorf("summarize = %+v", l)
	}
	if l := summarize(nil); l.n != 0 {
		t.Errorf("summarize(nil) = %+v", l)
	}
}

// TestHTTPLoad runs the load generator against a small server: every
// request is answered and counted, and a non-200 answer is an error.
func TestHTTPLoad(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"cohorts":["a","b"]}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	res, err := httpLoad(context.Background(), addr, 4, 200*time.Millisecond, func(w, i int) string { return "/ok" })
	if err != nil {
		t.Fatal(err)
	}
	if res.requests == 0 || res.errors != 0 || int64(res.requests) > served.Load() || res.lat.p99 <= 0 {
		t.Errorf("load: %+v (server saw %d)", res, served.Load())
	}
	res, err = httpLoad(context.Background(), addr, 2, 100*time.Millisecond, func(w, i int) string { return "/missing" })
	if err != nil {
		t.Fatal(err)
	}
	if res.errors != res.requests || res.requests == 0 {
		t.Errorf("404s: %d errors of %d requests", res.errors, res.requests)
	}
}
