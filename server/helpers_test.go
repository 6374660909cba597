package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
)

var testNow = time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)

// user is one test user: attribute name → value as in bitmaps.Row (nil or
// absent = NULL; timestamps as int64 Unix seconds).
type user map[string]any

var (
	tiers  = []string{"champion", "loyal", "casual", "dormant", "new"}
	tags   = []string{"cyclist", "runner", "hiker", "ciclista-ñ", "pipe|tag", "comma,tag", `quote"tag`}
	days   = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	topics = []string{"cycling", "gear-reviews", "trail-running", "nutrition", "training-plans", "tour-de-france", "ski"}
)

// genUsers makes n deterministic users u0000, u0001, ... with ~15% NULLs per
// attribute and some empty lists.
func genUsers(n int, seed uint64) []user {
	r := rand.New(rand.NewPCG(seed, 42))
	users := make([]user, n)
	for i := range users {
		users[i] = genUser(r, i)
	}
	return users
}

func genUser(r *rand.Rand, i int) user {
	null := func() bool { return r.IntN(100) < 15 }
	pick := func(from []string, max int) []string {
		k := r.IntN(max + 1)
		out := []string{}
		for _, j := range r.Perm(len(from))[:k] {
			out = append(out, from[j])
		}
		return out
	}
	u := user{"user_id": fmt.Sprintf("u%04d", i)}
	if !null() {
		u["engagement_tier"] = tiers[r.IntN(len(tiers))]
	}
	if !null() {
		u["engagement_score"] = math.Round(r.Float64()*10000) / 100
	}
	if !null() {
		u["visits_30d"] = int64(r.IntN(30))
	}
	if !null() {
		u["last_visit_at"] = testNow.Unix() - int64(r.IntN(40*86400)) + 3600
	}
	if !null() {
		u["seasonal_match"] = r.IntN(2) == 0
	}
	if !null() {
		u["cohort_tags"] = pick(tags, 3)
	}
	if !null() {
		u["peak_days"] = pick(days, 2)
	}
	if !null() {
		u["top_topics"] = pick(topics, 3)
	}
	if !null() {
		u["peak_hour"] = int64(r.IntN(24))
	}
	return u
}

func listOf(u user, f string) []string {
	l, _ := u[f].([]string)
	return l
}

// expected membership of the test cohorts, written from the spec's text.
var expectCohort = map[string]func(u user, now time.Time) bool{
	"champion": func(u user, now time.Time) bool {
		lv, ok := u["last_visit_at"].(int64)
		return u["engagement_tier"] == "champion" && ok && math.Floor(float64(now.Unix()-lv)/86400) < 7
	},
	"not_loyal": func(u user, _ time.Time) bool { return u["engagement_tier"] != "loyal" },
	"cyclists":  func(u user, _ time.Time) bool { return slices.Contains(listOf(u, "cohort_tags"), "cyclist") },
	"everyone":  func(u user, _ time.Time) bool { return true },
	"vip":       func(u user, _ time.Time) bool { return u["user_id"] == "u0001" || u["user_id"] == "u0002" },
	"seasonal":  func(u user, _ time.Time) bool { return u["seasonal_match"] == true },
}

// expectedMembers lists the ids of users in cohort name, ascending.
func expectedMembers(users []user, name string, now time.Time) []string {
	var ids []string
	for _, u := range users {
		if expectCohort[name](u, now) {
			ids = append(ids, u["user_id"].(string))
		}
	}
	sort.Strings(ids)
	return ids
}

func buildIndex(set *compiler.Set, users []user) (*bitmaps.Index, error) {
	schema := set.Schema()
	b := bitmaps.NewBuilder(schema)
	for _, u := range users {
		if err := b.Add(u[set.Key()].(string), rowOf(schema, u)); err != nil {
			return nil, err
		}
	}
	return b.Build(), nil
}

func rowOf(schema bitmaps.Schema, u user) bitmaps.Row {
	row := make(bitmaps.Row, len(schema))
	for i, f := range schema {
		row[i] = u[f.Name]
	}
	return row
}

// testEnv is a server over a copy of testdata/cohorts.yaml and test users.
type testEnv struct {
	s     *Server
	path  string // the cohorts file (in a temp dir, so tests may rewrite it)
	users []user
	loads atomic.Int32 // LoadIndex calls
	// gate, when set, makes LoadIndex wait for a value (or ctx) before building.
	gate chan struct{}
}

type envOption func(*Config)

func newEnv(t testing.TB, users []user, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{users: users}
	e.path = filepath.Join(t.TempDir(), "cohorts.yaml")
	copyFile(t, "testdata/cohorts.yaml", e.path)
	cfg := Config{
		Listen:      "127.0.0.1:0",
		CohortsPath: e.path,
		LoadIndex: func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
			e.loads.Add(1)
			if e.gate != nil {
				select {
				case <-e.gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return buildIndex(set, e.users)
		},
		Clock:  func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.s = s
	return e
}

// load compiles and loads synchronously (what Run does in the background).
func (e *testEnv) load(t testing.TB) *testEnv {
	t.Helper()
	if err := e.s.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	return e
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

// errorCode checks the error shape and returns its code.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("status %d: no error object: %s", r.status, r.body)
	}
	if _, ok := e["message"].(string); !ok {
		t.Fatalf("error without message: %s", r.body)
	}
	if _, ok := e["details"].(map[string]any); !ok {
		t.Fatalf("error without details object: %s", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

// call sends one request through app.Test.
func (e *testEnv) call(t testing.TB, method, path, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	// A path with a bad escape (a client's mistake the server must
	// answer) is sent as it is: NewRequest would refuse to parse it.
	target := path
	if _, err := url.ParseRequestURI(path); err != nil {
		target = "/"
	}
	req := httptest.NewRequest(method, target, rd)
	if target != path {
		req.URL, req.RequestURI = &url.URL{Opaque: path}, path
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.s.Handler().Test(req, 10000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
