package server

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
)

// live is a real server on a loopback port.
type live struct {
	base   string
	cancel context.CancelFunc
	done   chan error
	client *http.Client
}

// serve starts e's server on 127.0.0.1:0. It does not wait for readiness.
func serve(t testing.TB, e *testEnv) *live {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &live{base: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	go func() { l.done <- e.s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
	})
	return l
}

func (l *live) waitReady(t testing.TB) {
	t.Helper()
	wait := 20 * time.Second
	if _, ok := t.(*testing.B); ok {
		wait = 10 * time.Minute // benchmarks build populations of up to 10M users
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if r, err := l.do("GET", "/readyz", ""); err == nil && r.status == 200 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("server never became ready")
}

func (l *live) stop(t testing.TB) error {
	t.Helper()
	l.cancel()
	select {
	case err := <-l.done:
		l.done <- err // for Cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
		return nil
	}
}

func (l *live) do(method, path, body string, hdr ...string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.base+path, rd)
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func (l *live) must(t testing.TB, method, path, body string, hdr ...string) response {
	t.Helper()
	r, err := l.do(method, path, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func TestLiveStartupAndReadiness(t *testing.T) {
	e := newEnv(t, genUsers(50, 40))
	e.gate = make(chan struct{})
	l := serve(t, e)
	// Listening at once: healthz 200, readyz 503 while the index loads.
	var r response
	var err error
	for i := 0; i < 500; i++ {
		if r, err = l.do("GET", "/healthz", ""); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil || r.status != 200 {
		t.Fatalf("healthz while loading: %v %d", err, r.status)
	}
	if r = l.must(t, "GET", "/readyz", ""); r.status != 503 || r.errorCode(t) != "not_ready" {
		t.Fatalf("readyz while loading: %d %s", r.status, r.body)
	}
	if r = l.must(t, "GET", "/api/v1/cohorts", ""); r.status != 503 {
		t.Fatalf("api while loading: %d %s", r.status, r.body)
	}
	close(e.gate)
	l.waitReady(t)
	if err := l.stop(t); err != nil {
		t.Errorf("Serve returned %v after a clean shutdown", err)
	}
}

func TestLiveBadCohortsFileStopsServe(t *testing.T) {
	e := newEnv(t, genUsers(5, 41))
	copyFile(t, "testdata/cohorts_bad.yaml", e.path)
	l := serve(t, e)
	select {
	case err := <-l.done:
		var ce *CohortsError
		if !errors.As(err, &ce) || len(ce.Errs) != 2 {
			t.Fatalf("Serve: %v, want a CohortsError with 2 errors", err)
		}
		l.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running with an invalid cohorts file")
	}
}

func TestLiveEveryEndpoint(t *testing.T) {
	users := genUsers(400, 42)
	e := newEnv(t, users)
	l := serve(t, e)
	l.waitReady(t)

	for _, tc := range []struct {
		method, path, body string
		status             int
		check              func(t *testing.T, r response)
	}{
		{"GET", "/healthz", "", 200, nil},
		{"GET", "/readyz", "", 200, nil},
		{"GET", "/openapi.json", "", 200, func(t *testing.T, r response) { r.json(t) }},
		{"GET", "/api/v1/cohorts", "", 200, func(t *testing.T, r response) {
			if n := len(r.json(t)["cohorts"].([]any)); n != 5 {
				t.Errorf("%d cohorts", n)
			}
		}},
		{"GET", "/api/v1/cohorts/cyclists", "", 200, func(t *testing.T, r response) {
			if int(r.json(t)["member_count"].(float64)) != len(expectedMembers(users, "cyclists", testNow)) {
				t.Errorf("member_count: %s", r.body)
			}
		}},
		{"GET", "/api/v1/cohorts/cyclists/members?limit=5", "", 200, func(t *testing.T, r response) {
			if r.json(t)["next_cursor"] == nil {
				t.Errorf("no next_cursor: %s", r.body)
			}
		}},
		{"GET", "/api/v1/cohorts/cyclists/members?format=csv", "", 200, func(t *testing.T, r response) {
			if n := strings.Count(string(r.body), "\n"); n != 1+len(expectedMembers(users, "cyclists", testNow)) {
				t.Errorf("%d csv lines", n)
			}
		}},
		{"GET", "/api/v1/cohorts/cyclists/members?format=ndjson", "", 200, func(t *testing.T, r response) {
			if n := strings.Count(string(r.body), "\n"); n != len(expectedMembers(users, "cyclists", testNow)) {
				t.Errorf("%d ndjson lines", n)
			}
		}},
		{"GET", "/api/v1/cohorts/cyclists/stats", "", 200, func(t *testing.T, r response) {
			if r.json(t)["best_send_time"] == nil {
				t.Errorf("no best_send_time: %s", r.body)
			}
		}},
		{"GET", "/api/v1/users/u0001/cohorts", "", 200, func(t *testing.T, r response) {
			if !slices.Contains(strs(r.json(t)["cohorts"]), "vip") {
				t.Errorf("u0001 not in vip: %s", r.body)
			}
		}},
		{"POST", "/api/v1/query", `{"expr": "cohort('vip')"}`, 200, func(t *testing.T, r response) {
			if r.json(t)["count"] != 2.0 {
				t.Errorf("count: %s", r.body)
			}
		}},
		{"POST", "/api/v1/query", `{"expr": "visits_30d >= 'ten'"}`, 400, nil},
		{"POST", "/api/v1/query", `{"expr": "` + strings.Repeat("a", 20000) + `"}`, 413, nil},
		{"POST", "/api/v1/cohorts/validate", "version: 2\n", 200, func(t *testing.T, r response) {
			if r.json(t)["valid"] != false {
				t.Errorf("version 2 accepted: %s", r.body)
			}
		}},
		{"POST", "/api/v1/admin/reload", "", 200, nil},
		{"GET", "/api/v1/cohorts/nope", "", 404, nil},
		{"GET", "/api/v1/users/nobody/cohorts", "", 404, nil},
		{"POST", RouteRecommendations, "{}", 501, nil},
		{"POST", RouteEvents, "{}", 501, nil},
		{"GET", "/metrics", "", 200, func(t *testing.T, r response) {
			for _, want := range []string{
				`cohortd_http_request_duration_seconds_count{method="GET",route="/api/v1/cohorts/:name",status="200"} 1`,
				`cohortd_http_request_duration_seconds_count{method="GET",route="/api/v1/cohorts/:name",status="404"} 1`,
				`cohortd_cohort_members{cohort="vip",group="lists"} 2`,
				`cohortd_reloads_total{result="ok"} 2`,
				`cohortd_index_users 400`,
				`cohortd_index_bytes`,
			} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("metrics lack %q", want)
				}
			}
		}},
	} {
		r := l.must(t, tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %.60s: status %d, want %d: %.200s", tc.method, tc.path, r.status, tc.status, r.body)
			continue
		}
		if r.status >= 400 {
			r.errorCode(t)
		}
		if tc.check != nil {
			t.Run(tc.method+" "+tc.path[:min(len(tc.path), 40)], func(t *testing.T) { tc.check(t, r) })
		}
	}
}

// TestLivePaginationAcrossIndexChange: users are inserted and deleted between
// pages; every user that existed throughout appears exactly once.
func TestLivePaginationAcrossIndexChange(t *testing.T) {
	users := genUsers(300, 43)
	e := newEnv(t, users)
	l := serve(t, e)
	l.waitReady(t)
	ix := e.s.snap.Load().ix
	schema := e.s.snap.Load().set.Schema()

	before := expectedMembers(users, "everyone", testNow)
	deleted := map[string]bool{}
	seen := map[string]int{}
	cursor, page := "", 0
	for {
		path := "/api/v1/cohorts/everyone/members?limit=25&fields="
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := l.must(t, "GET", path, "")
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", page, r.status, r.body)
		}
		var p struct {
			Members []struct {
				UserID string `json:"user_id"`
			} `json:"members"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		last := ""
		for _, m := range p.Members {
			if m.UserID <= last {
				t.Fatalf("page %d not ascending: %q after %q", page, m.UserID, last)
			}
			last = m.UserID
			seen[m.UserID]++
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
		// Change the index between pages: delete one user behind and one
		// ahead of the cursor, insert users before, at and after it.
		page++
		for _, id := range []string{before[(page*37)%len(before)], before[(page*53+7)%len(before)]} {
			if ix.Delete(id) {
				deleted[id] = true
			}
		}
		for _, id := range []string{"u0000-new" + itoa(page), last + "-x", "zz-new" + itoa(page), "a-new" + itoa(page)} {
			if _, err := ix.Upsert(id, rowOf(schema, user{"user_id": id})); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
	for _, id := range before {
		if !deleted[id] && seen[id] != 1 {
			t.Errorf("%s existed throughout but was skipped", id)
		}
	}
	if page < 5 {
		t.Fatalf("only %d pages; the test did not exercise changes", page)
	}
}

// TestLiveStreamCompleteness: an unlimited CSV/NDJSON export streams exactly
// the cohort's member bitmap, in order.
func TestLiveStreamCompleteness(t *testing.T) {
	users := genUsers(30000, 44)
	e := newEnv(t, users)
	l := serve(t, e)
	l.waitReady(t)
	snap := e.s.snap.Load()
	for _, cohort := range []string{"everyone", "cyclists", "not_loyal"} {
		b, err := snap.ev.CohortMembers(context.Background(), cohort, testNow)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		snap.ix.Iterate(b, "", func(_ uint32, id string) bool { want = append(want, id); return true })
		if exp := expectedMembers(users, cohort, testNow); !slices.Equal(want, exp) {
			t.Fatalf("%s: the bitmap disagrees with the naive members (%d vs %d)", cohort, len(want), len(exp))
		}
		for _, format := range []string{"csv", "ndjson"} {
			resp, err := l.client.Get(l.base + "/api/v1/cohorts/" + cohort + "/members?format=" + format + "&fields=cohort_tags,last_visit_at")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if format == "csv" {
				recs, err := csv.NewReader(resp.Body).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range recs[1:] {
					got = append(got, rec[0])
				}
			} else {
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					var m struct {
						UserID string `json:"user_id"`
					}
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
						t.Fatalf("ndjson line %q: %v", sc.Text(), err)
					}
					got = append(got, m.UserID)
				}
			}
			resp.Body.Close()
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: streamed %d ids, want %d", cohort, format, len(got), len(want))
			}
		}
	}
	// Streaming resumes after a cursor.
	all := expectedMembers(users, "everyone", testNow)
	r := l.must(t, "GET", "/api/v1/cohorts/everyone/members?format=csv&fields=&cursor="+encodeCursor(all[len(all)-10]), "")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if len(lines) != 10 || !slices.Equal(lines[1:], all[len(all)-9:]) {
		t.Errorf("stream after cursor: %d lines, want a header and the last 9 ids", len(lines))
	}
}

// TestLiveBadRequests: inputs app.Test cannot carry (oversized bodies, raw
// malformed request lines) against the real listener.
func TestLiveBadRequests(t *testing.T) {
	e := newEnv(t, genUsers(20, 50), func(c *Config) { c.MaxBodyBytes = 64 << 10 })
	l := serve(t, e)
	l.waitReady(t)
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/query", `{"expr": "` + strings.Repeat("a", 70<<10) + `"}`},
		{"/api/v1/cohorts/validate", strings.Repeat("#", 70<<10)},
	} {
		r := l.must(t, "POST", tc.path, tc.body)
		if r.status != 413 || r.errorCode(t) != "body_too_large" {
			t.Errorf("POST %s with %d bytes: %d %.200s", tc.path, len(tc.body), r.status, r.body)
		}
	}
	for _, raw := range []string{
		"GET /api/v1/users/%ZZ/cohorts HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/v1/cohorts/%00/members HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{\"ex",
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(l.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%q: status %d: %.200s", raw, resp.StatusCode, body)
		}
	}
}

// TestLiveClientGoneMidStream: a client that stops reading does not wedge the
// server or leak the stream.
func TestLiveClientGoneMidStream(t *testing.T) {
	e := newEnv(t, genUsers(30000, 45))
	l := serve(t, e)
	l.waitReady(t)
	resp, err := l.client.Get(l.base + "/api/v1/cohorts/everyone/members?format=ndjson&fields=cohort_tags,top_topics")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := l.must(t, "GET", "/api/v1/cohorts/vip", ""); r.status != 200 {
		t.Fatalf("after an abandoned stream: %d", r.status)
	}
}

// TestLiveReloadUnderLoad: readers never see an error while cohorts are
// reloaded (valid and invalid files) and the index swapped.
func TestLiveReloadUnderLoad(t *testing.T) {
	users := genUsers(2000, 46)
	e := newEnv(t, users)
	l := serve(t, e)
	l.waitReady(t)
	v1, _ := os.ReadFile("testdata/cohorts.yaml")
	v2, _ := os.ReadFile("testdata/cohorts_v2.yaml")
	bad, _ := os.ReadFile("testdata/cohorts_bad.yaml")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			paths := []string{"/api/v1/cohorts", "/api/v1/users/u0001/cohorts", "/api/v1/cohorts/everyone/members?limit=50",
				"/api/v1/cohorts/cyclists/stats"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := l.do("GET", paths[(i+w)%len(paths)], "")
				requests.Add(1)
				if err != nil || r.status != 200 {
					failures.Add(1)
					t.Errorf("GET %s during reloads: %v %d %s", paths[(i+w)%len(paths)], err, r.status, r.body)
					return
				}
				if paths[(i+w)%len(paths)] == "/api/v1/cohorts" {
					var list struct{ Cohorts []any }
					if err := json.Unmarshal(r.body, &list); err != nil || (len(list.Cohorts) != 5 && len(list.Cohorts) != 6) {
						t.Errorf("a reader saw %d cohorts (%v)", len(list.Cohorts), err)
					}
				}
			}
		}(w)
	}
	for i := 0; i < 30; i++ {
		content, wantStatus := v1, 200
		switch i % 3 {
		case 1:
			content = v2
		case 2:
			content, wantStatus = bad, 422
		}
		if err := os.WriteFile(e.path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		r := l.must(t, "POST", "/api/v1/admin/reload", "")
		if r.status != wantStatus {
			t.Errorf("reload %d: status %d, want %d: %s", i, r.status, wantStatus, r.body)
		}
		if wantStatus == 422 {
			errs := r.json(t)["error"].(map[string]any)["details"].(map[string]any)["errors"].([]any)
			if len(errs) != 2 {
				t.Errorf("422 should list both errors: %s", r.body)
			}
			// The running set is untouched: still v2's six cohorts.
			if n := len(l.must(t, "GET", "/api/v1/cohorts", "").json(t)["cohorts"].([]any)); n != 6 {
				t.Errorf("after a failed reload: %d cohorts, want v2's 6", n)
			}
		}
		if i%5 == 0 { // an index swap too
			ix, err := buildIndex(e.s.snap.Load().set, users)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.s.SetIndex(ix); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if requests.Load() < 20 || failures.Load() > 0 {
		t.Errorf("%d requests, %d failures", requests.Load(), failures.Load())
	}
}

// TestLiveReloadSchemaChange: a new attribute rebuilds the index off to the
// side; a concurrent reload gets 409; readers keep the old snapshot meanwhile.
func TestLiveReloadSchemaChange(t *testing.T) {
	e := newEnv(t, genUsers(100, 47))
	l := serve(t, e)
	l.waitReady(t)
	v1, _ := os.ReadFile("testdata/cohorts.yaml")
	v3 := strings.Replace(string(v1), "  peak_hour:        {type: int}\n",
		"  peak_hour:        {type: int}\n  device_preference: {type: string}\n", 1)
	v3 = strings.Replace(v3, "  everyone: \"true\"\n", "  everyone: \"true\"\n  app_users: \"device_preference == 'app'\"\n", 1)
	if err := os.WriteFile(e.path, []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	e.gate = make(chan struct{})
	first := make(chan response, 1)
	go func() {
		r, _ := l.do("POST", "/api/v1/admin/reload", "")
		first <- r
	}()
	for e.loads.Load() < 2 { // wait until the rebuild is in progress
		time.Sleep(5 * time.Millisecond)
	}
	if r := l.must(t, "POST", "/api/v1/admin/reload", ""); r.status != 409 || r.errorCode(t) != "reload_in_progress" {
		t.Errorf("concurrent reload: %d %s", r.status, r.body)
	}
	if r := l.must(t, "GET", "/api/v1/cohorts/app_users", ""); r.status != 404 {
		t.Errorf("the new cohort is visible before the swap: %d", r.status)
	}
	close(e.gate)
	r := <-first
	if r.status != 200 || r.json(t)["index_rebuilt"] != true {
		t.Fatalf("schema-change reload: %d %s", r.status, r.body)
	}
	if r := l.must(t, "GET", "/api/v1/cohorts/app_users", ""); r.status != 200 {
		t.Errorf("the new cohort after the swap: %d %s", r.status, r.body)
	}
	if f, ok := e.s.snap.Load().ix.Field("device_preference"); !ok || f.Kind != bitmaps.KindString {
		t.Errorf("the new index lacks device_preference")
	}
}

// TestLiveGracefulShutdown: an in-flight request completes after shutdown
// begins, and Serve returns nil.
func TestLiveGracefulShutdown(t *testing.T) {
	e := newEnv(t, genUsers(50, 48))
	l := serve(t, e)
	l.waitReady(t)
	v1, _ := os.ReadFile("testdata/cohorts.yaml")
	v3 := strings.Replace(string(v1), "  peak_hour:        {type: int}\n", "  peak_hour:        {type: int}\n  extra: {type: int}\n", 1)
	if err := os.WriteFile(e.path, []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	e.gate = make(chan struct{})
	inflight := make(chan response, 1)
	go func() {
		r, _ := l.do("POST", "/api/v1/admin/reload", "")
		inflight <- r
	}()
	for e.loads.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- l.stop(t) }()
	time.Sleep(100 * time.Millisecond)
	close(e.gate)
	if r := <-inflight; r.status != 200 {
		t.Errorf("in-flight request during shutdown: %d %s", r.status, r.body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestLiveWatchFile(t *testing.T) {
	e := newEnv(t, genUsers(20, 49), func(c *Config) { c.WatchFile, c.WatchInterval = true, 20*time.Millisecond })
	l := serve(t, e)
	l.waitReady(t)
	time.Sleep(30 * time.Millisecond) // let mtime granularity pass
	copyFile(t, "testdata/cohorts_v2.yaml", e.path)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r := l.must(t, "GET", "/api/v1/cohorts/seasonal", ""); r.status == 200 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the watched file change was not picked up")
}
