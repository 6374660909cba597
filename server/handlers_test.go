package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"encoding/csv"
	"encoding/json"
	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"log/slog"
	"math"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestListCohorts(t *testing.T) {
	e := newEnv(t, genUsers(300, 1)).load(t)
	r := e.call(t, "GET", "/api/v1/cohorts", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		Cohorts []cohortJSON `json:"cohorts"`
		AsOf    string       `json:"as_of"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got.Cohorts {
		names = append(names, c.Name)
		if want := uint64(len(expectedMembers(e.users, c.Name, testNow))); c.MemberCount != want {
			t.Errorf("cohort %s: member_count %d, want %d", c.Name, c.MemberCount, want)
		}
	}
	if want := []string{"champion", "not_loyal", "cyclists", "everyone", "vip"}; !slices.Equal(names, want) {
		t.Errorf("cohorts %v, want file order %v", names, want)
	}
	if got.AsOf != testNow.Format(time.RFC3339) {
		t.Errorf("as_of %q, want the clock's %q", got.AsOf, testNow.Format(time.RFC3339))
	}
	if got.Cohorts[0].Group != "engagement_based" || got.Cohorts[0].Description != "Active top-tier readers" ||
		got.Cohorts[0].Expr == "" {
		t.Errorf("champion metadata: %+v", got.Cohorts[0])
	}
}

func TestAsOfMovesTime(t *testing.T) {
	e := newEnv(t, genUsers(300, 2)).load(t)
	later := testNow.Add(10 * 24 * time.Hour)
	r := e.call(t, "GET", "/api/v1/cohorts/champion?as_of="+url.QueryEscape(later.Format(time.RFC3339)), "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	want := len(expectedMembers(e.users, "champion", later))
	if int(m["member_count"].(float64)) != want {
		t.Errorf("member_count at %s = %v, want %d", later, m["member_count"], want)
	}
	if want == len(expectedMembers(e.users, "champion", testNow)) {
		t.Fatalf("test data does not distinguish the two instants")
	}
}

func TestCohortDetail(t *testing.T) {
	e := newEnv(t, genUsers(200, 3)).load(t)
	r := e.call(t, "GET", "/api/v1/cohorts/champion", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	if plan, _ := m["plan"].(string); !strings.Contains(plan, "engagement_tier") {
		t.Errorf("plan %q does not mention engagement_tier", plan)
	}
	if m["owner"] != "growth@example.com" || int(m["member_count"].(float64)) != len(expectedMembers(e.users, "champion", testNow)) {
		t.Errorf("detail: %s", r.body)
	}
	r = e.call(t, "GET", "/api/v1/cohorts/vip", "")
	if m := r.json(t); r.status != 200 || m["static"] != true || m["static_unknown_ids"] != 1.0 || m["member_count"] != 2.0 {
		t.Errorf("static cohort detail: %d %s", r.status, r.body)
	}
	r = e.call(t, "GET", "/api/v1/cohorts/champoin", "")
	if r.status != 404 || r.errorCode(t) != "unknown_cohort" || !strings.Contains(string(r.body), `did you mean \"champion\"`) {
		t.Errorf("unknown cohort: %d %s", r.status, r.body)
	}
}

// pagedMembers follows next_cursor to the end.
func pagedMembers(t *testing.T, e *testEnv, cohort string, limit int) ([]string, int) {
	t.Helper()
	var ids []string
	cursor, pages := "", 0
	for {
		path := "/api/v1/cohorts/" + cohort + "/members?limit=" + itoa(limit)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.call(t, "GET", path, "")
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", path, r.status, r.body)
		}
		var page struct {
			Cohort     string           `json:"cohort"`
			Members    []map[string]any `json:"members"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if page.Cohort != cohort {
			t.Fatalf("cohort %q, want %q", page.Cohort, cohort)
		}
		if len(page.Members) > limit {
			t.Fatalf("page of %d members, limit %d", len(page.Members), limit)
		}
		for _, m := range page.Members {
			ids = append(ids, m["user_id"].(string))
		}
		pages++
		if page.NextCursor == nil {
			return ids, pages
		}
		cursor = *page.NextCursor
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMembersPagination(t *testing.T) {
	e := newEnv(t, genUsers(257, 4)).load(t)
	for _, tc := range []struct {
		cohort string
		limit  int
	}{
		{"everyone", 10}, {"everyone", 257}, {"everyone", 1000}, {"cyclists", 7}, {"not_loyal", 1}, {"vip", 1},
	} {
		ids, pages := pagedMembers(t, e, tc.cohort, tc.limit)
		want := expectedMembers(e.users, tc.cohort, testNow)
		if !slices.Equal(ids, want) {
			t.Errorf("%s limit %d: got %d ids, want %d (ascending, no duplicates)", tc.cohort, tc.limit, len(ids), len(want))
		}
		if wantPages := max(1, (len(want)+tc.limit-1)/tc.limit); pages != wantPages && pages != wantPages+1 {
			t.Errorf("%s limit %d: %d pages for %d members", tc.cohort, tc.limit, pages, len(want))
		}
	}
}

func TestMembersFieldsFormatting(t *testing.T) {
	users := genUsers(40, 5)
	users[3] = user{"user_id": "u0003", "engagement_tier": "champion", "engagement_score": 12.5,
		"last_visit_at": testNow.Unix() - 3600, "cohort_tags": []string{"cyclist", "pipe|tag", `quote"tag`, "ciclista-ñ"},
		"seasonal_match": false, "visits_30d": int64(-9223372036854775808)}
	users[4] = user{"user_id": "u0004", "engagement_tier": "champion", "last_visit_at": testNow.Unix() - 7200}
	e := newEnv(t, users).load(t)

	// Default fields: the cohort's export: list.
	r := e.call(t, "GET", "/api/v1/cohorts/champion/members?limit=1000", "")
	var page struct {
		Members []map[string]any `json:"members"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
		t.Fatalf("status %d: %v %s", r.status, err, r.body)
	}
	var u3, u4 map[string]any
	for _, m := range page.Members {
		switch m["user_id"] {
		case "u0003":
			u3 = m
		case "u0004":
			u4 = m
		}
	}
	if u3 == nil || u4 == nil {
		t.Fatalf("u0003/u0004 missing from champion: %s", r.body)
	}
	wantTS := time.Unix(testNow.Unix()-3600, 0).UTC().Format(time.RFC3339)
	if u3["last_visit_at"] != wantTS || u3["engagement_score"] != 12.5 || u3["seasonal_match"] != false ||
		!slices.Equal(strs(u3["cohort_tags"]), []string{"cyclist", "pipe|tag", `quote"tag`, "ciclista-ñ"}) {
		t.Errorf("u0003 row: %v", u3)
	}
	if !strings.Contains(string(r.body), `"visits_30d":-9223372036854775808`) {
		t.Errorf("extreme int not exact: %s", r.body)
	}
	if v, ok := u4["engagement_score"]; !ok || v != nil {
		t.Errorf("NULL must be null, got %v (present %v)", v, ok)
	}
	if _, ok := u4["cohort_tags"]; !ok {
		t.Errorf("a NULL field must still be present")
	}

	// CSV with explicit fields.
	r = e.call(t, "GET", "/api/v1/cohorts/champion/members?format=csv&fields=cohort_tags,last_visit_at,engagement_score", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v %s", r.status, r.header, r.body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatalf("csv parse: %v\n%s", err, r.body)
	}
	if !slices.Equal(recs[0], []string{"user_id", "cohort_tags", "last_visit_at", "engagement_score"}) {
		t.Errorf("header %v", recs[0])
	}
	rows := map[string][]string{}
	for _, rec := range recs[1:] {
		rows[rec[0]] = rec
	}
	if got := rows["u0003"]; !slices.Equal(got, []string{"u0003", `cyclist|pipe|tag|quote"tag|ciclista-ñ`, wantTS, "12.5"}) {
		t.Errorf("u0003 csv %q", got)
	}
	if got := rows["u0004"]; got[1] != "" || got[3] != "" {
		t.Errorf("NULL must be an empty cell: %q", got)
	}
	if len(recs)-1 != len(expectedMembers(e.users, "champion", testNow)) {
		t.Errorf("csv rows %d, want %d", len(recs)-1, len(expectedMembers(e.users, "champion", testNow)))
	}

	// fields= present but empty: only ids.
	r = e.call(t, "GET", "/api/v1/cohorts/champion/members?format=ndjson&fields=", "")
	first, _, _ := strings.Cut(string(r.body), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(first), &m); err != nil || len(m) != 1 {
		t.Errorf("fields= should give only user_id, got %q", first)
	}
	// Unknown field.
	r = e.call(t, "GET", "/api/v1/cohorts/champion/members?fields=engagment_tier", "")
	if r.status != 400 || r.errorCode(t) != "unknown_field" || !strings.Contains(string(r.body), "engagement_tier") {
		t.Errorf("unknown field: %d %s", r.status, r.body)
	}
}

func TestMembersCSVPageCursorHeader(t *testing.T) {
	e := newEnv(t, genUsers(50, 6)).load(t)
	var all []string
	cursor := ""
	for i := 0; i < 100; i++ {
		path := "/api/v1/cohorts/everyone/members?format=csv&limit=16&fields="
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.call(t, "GET", path, "")
		recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if r.status != 200 || err != nil {
			t.Fatalf("%d %v %s", r.status, err, r.body)
		}
		for _, rec := range recs[1:] {
			all = append(all, rec[0])
		}
		if cursor = r.header.Get(HeaderNextCursor); cursor == "" {
			break
		}
	}
	if want := expectedMembers(e.users, "everyone", testNow); !slices.Equal(all, want) {
		t.Errorf("csv pages: %d ids, want %d", len(all), len(want))
	}
}

func TestStats(t *testing.T) {
	users := genUsers(500, 7)
	e := newEnv(t, users).load(t)
	for _, name := range []string{"everyone", "cyclists", "vip", "champion"} {
		r := e.call(t, "GET", "/api/v1/cohorts/"+name+"/stats", "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got cohortStats
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		want := naiveStats(users, name, testNow)
		if got.MemberCount != want.MemberCount || got.Cohort != name || got.AsOf != testNow.Format(time.RFC3339) {
			t.Errorf("%s: %+v", name, got)
		}
		switch {
		case (got.AvgEngagement == nil) != (want.AvgEngagement == nil):
			t.Errorf("%s: avg_engagement %v, want %v", name, got.AvgEngagement, want.AvgEngagement)
		case got.AvgEngagement != nil && math.Abs(*got.AvgEngagement-*want.AvgEngagement) > 1e-9:
			t.Errorf("%s: avg_engagement %v, want %v", name, *got.AvgEngagement, *want.AvgEngagement)
		}
		if !slices.Equal(got.TopContent, want.TopContent) {
			t.Errorf("%s: top_content %v, want %v", name, got.TopContent, want.TopContent)
		}
		if (got.BestSendTime == nil) != (want.BestSendTime == nil) ||
			(got.BestSendTime != nil && *got.BestSendTime != *want.BestSendTime) {
			t.Errorf("%s: best_send_time %v, want %v", name, deref(got.BestSendTime), deref(want.BestSendTime))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// naiveStats computes the stats row by row, from the spec's wording.
func naiveStats(users []user, name string, now time.Time) cohortStats {
	st := cohortStats{TopContent: []string{}}
	var sum float64
	var n int
	topicCount := map[string]int{}
	type pair struct {
		day  string
		hour int64
	}
	pairs := map[pair]int{}
	for _, u := range users {
		if !expectCohort[name](u, now) {
			continue
		}
		st.MemberCount++
		if v, ok := u["engagement_score"].(float64); ok {
			sum += v
			n++
		}
		for _, tpc := range listOf(u, "top_topics") {
			topicCount[tpc]++
		}
		if h, ok := u["peak_hour"].(int64); ok {
			for _, d := range listOf(u, "peak_days") {
				pairs[pair{d, h}]++
			}
		}
	}
	if n > 0 {
		avg := sum / float64(n)
		st.AvgEngagement = &avg
	}
	var tps []string
	for k := range topicCount {
		tps = append(tps, k)
	}
	sort.Slice(tps, func(i, j int) bool {
		if topicCount[tps[i]] != topicCount[tps[j]] {
			return topicCount[tps[i]] > topicCount[tps[j]]
		}
		return tps[i] < tps[j]
	})
	st.TopContent = append(st.TopContent, tps[:min(5, len(tps))]...)
	var best pair
	bestN := 0
	for p, c := range pairs {
		di, bi := slices.Index(days, p.day), slices.Index(days, best.day)
		if c > bestN || (c == bestN && (di < bi || (di == bi && p.hour < best.hour))) {
			best, bestN = p, c
		}
	}
	if bestN > 0 {
		s := formatSendTime(best.day, int(best.hour))
		st.BestSendTime = &s
	}
	return st
}

func TestFormatSendTime(t *testing.T) {
	for _, tc := range []struct {
		day  string
		hour int
		want string
	}{
		{"Tuesday", 8, "Tuesday 8:00 AM UTC"},
		{"Monday", 0, "Monday 12:00 AM UTC"},
		{"Sunday", 12, "Sunday 12:00 PM UTC"},
		{"Friday", 23, "Friday 11:00 PM UTC"},
		{"Saturday", 13, "Saturday 1:00 PM UTC"},
	} {
		if got := formatSendTime(tc.day, tc.hour); got != tc.want {
			t.Errorf("formatSendTime(%q, %d) = %q, want %q", tc.day, tc.hour, got, tc.want)
		}
	}
}

func TestUserCohorts(t *testing.T) {
	users := genUsers(120, 8)
	// User ids that must be percent-encoded in a path: a "/", a space, a
	// "%", a "?", unicode.
	for i, id := range []string{"team/a1", "a b", "100%", "what?", "ü/ö"} {
		users[i]["user_id"] = id
	}
	e := newEnv(t, users).load(t)
	for _, u := range users[:40] {
		id := u["user_id"].(string)
		r := e.call(t, "GET", "/api/v1/users/"+url.PathEscape(id)+"/cohorts", "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		m := r.json(t)
		var want []string
		for name, fn := range expectCohort {
			if name != "seasonal" && fn(u, testNow) {
				want = append(want, name)
			}
		}
		sort.Strings(want)
		if got := strs(m["cohorts"]); m["user_id"] != id || !slices.Equal(got, want) {
			t.Errorf("%s: cohorts %v, want %v", id, got, want)
		}
	}
	r := e.call(t, "GET", "/api/v1/users/nobody/cohorts", "")
	if r.status != 404 || r.errorCode(t) != "unknown_user" {
		t.Errorf("unknown user: %d %s", r.status, r.body)
	}
}

func TestQuery(t *testing.T) {
	users := genUsers(300, 9)
	e := newEnv(t, users).load(t)
	r := e.call(t, "POST", "/api/v1/query", `{"expr": "cohort('cyclists') AND NOT cohort('vip')", "limit": 5}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	var want []string
	for _, id := range expectedMembers(users, "cyclists", testNow) {
		if id != "u0001" && id != "u0002" {
			want = append(want, id)
		}
	}
	if int(m["count"].(float64)) != len(want) || !slices.Equal(strs(m["members"]), want[:5]) {
		t.Errorf("query: count %v members %v, want %d %v", m["count"], m["members"], len(want), want[:5])
	}
	if plan, _ := m["plan"].(string); plan == "" {
		t.Errorf("no plan: %s", r.body)
	}
	// Default limit and as_of.
	later := testNow.Add(20 * 24 * time.Hour).Format(time.RFC3339)
	r = e.call(t, "POST", "/api/v1/query", `{"expr": "days_since_last_visit < 7 AND engagement_tier == 'champion'", "as_of": "`+later+`"}`)
	m = r.json(t)
	wantN := len(expectedMembers(users, "champion", testNow.Add(20*24*time.Hour)))
	if r.status != 200 || int(m["count"].(float64)) != wantN || len(m["members"].([]any)) != min(wantN, DefaultQueryLimit) {
		t.Errorf("as_of query: %d %s (want count %d)", r.status, r.body, wantN)
	}
	// A bad expression: 400 with line, column and a caret.
	r = e.call(t, "POST", "/api/v1/query", `{"expr": "visits_30d >= 'ten'"}`)
	if r.status != 400 || r.errorCode(t) != "invalid_expression" {
		t.Fatalf("bad expr: %d %s", r.status, r.body)
	}
	det := r.json(t)["error"].(map[string]any)["details"].(map[string]any)
	if det["line"] != 1.0 || det["column"] == nil || !strings.Contains(det["caret"].(string), "^") {
		t.Errorf("details: %v", det)
	}
	r = e.call(t, "POST", "/api/v1/query", `{"expr": "engagment_tier == 'x'"}`)
	det = r.json(t)["error"].(map[string]any)["details"].(map[string]any)
	if r.status != 400 || det["column"] != 1.0 {
		t.Errorf("unknown attribute: %d %s", r.status, r.body)
	}
}

func TestValidate(t *testing.T) {
	e := newEnv(t, genUsers(10, 10)).load(t)
	good, _ := os.ReadFile("testdata/cohorts.yaml")
	r := e.call(t, "POST", "/api/v1/cohorts/validate", string(good), "Content-Type", "application/yaml")
	if m := r.json(t); r.status != 200 || m["valid"] != true || len(m["errors"].([]any)) != 0 {
		t.Errorf("valid file: %d %s", r.status, r.body)
	}
	bad, _ := os.ReadFile("testdata/cohorts_bad.yaml")
	r = e.call(t, "POST", "/api/v1/cohorts/validate", string(bad), "Content-Type", "application/yaml")
	m := r.json(t)
	if r.status != 200 || m["valid"] != false {
		t.Fatalf("invalid file: %d %s", r.status, r.body)
	}
	errs := m["errors"].([]any)
	if len(errs) != 2 {
		t.Fatalf("want 2 errors (unknown attribute, type mismatch), got %s", r.body)
	}
	first := errs[0].(map[string]any)
	if first["line"] != 7.0 || first["column"] != 14.0 || !strings.Contains(first["message"].(string), "engagment_tier") {
		t.Errorf("first error %v, want line 7 column 14", first)
	}
}

// TestValidateMembersFile: a posted file is checked as if it replaced the
// served one, members files included (they resolve next to it).
func TestValidateMembersFile(t *testing.T) {
	e := newEnv(t, genUsers(10, 10)).load(t)
	if err := os.WriteFile(filepath.Join(filepath.Dir(e.path), "vip.csv"), []byte("user_id\nu0001\nnobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile("testdata/cohorts.yaml")
	for _, tc := range []struct {
		file  string
		valid bool
	}{{"vip.csv", true}, {"nothere.csv", false}} {
		body := string(good) + "  listed:\n    members_file: " + tc.file + "\n"
		r := e.call(t, "POST", "/api/v1/cohorts/validate", body, "Content-Type", "application/yaml")
		m := r.json(t)
		if r.status != 200 || m["valid"] != tc.valid {
			t.Fatalf("members_file %s: %d %s", tc.file, r.status, r.body)
		}
		if !tc.valid && !strings.Contains(string(r.body), "nothere.csv") {
			t.Errorf("the error does not name the missing file: %s", r.body)
		}
	}
}

func TestPluggableRoutes(t *testing.T) {
	e := newEnv(t, genUsers(10, 11)).load(t)
	for _, p := range []string{RouteRecommendations, RouteEvents} {
		r := e.call(t, "POST", p, `{}`)
		if r.status != 501 || r.errorCode(t) != "not_implemented" {
			t.Errorf("%s before Mount: %d %s", p, r.status, r.body)
		}
	}
	if err := e.s.Mount(RouteEvents, func(c *fiber.Ctx) error {
		return c.Status(202).SendString(string(c.Body()))
	}); err != nil {
		t.Fatal(err)
	}
	if r := e.call(t, "POST", RouteEvents, `{"x":1}`); r.status != 202 || string(r.body) != `{"x":1}` {
		t.Errorf("mounted events route: %d %s", r.status, r.body)
	}
	if r := e.call(t, "POST", RouteRecommendations, `{}`); r.status != 501 {
		t.Errorf("recommendations still unmounted: %d", r.status)
	}
	if err := e.s.Mount("/api/v1/cohorts", func(*fiber.Ctx) error { return nil }); err == nil {
		t.Error("Mount accepted a route that is not pluggable")
	}
}

func TestOnSwapFollowsReloads(t *testing.T) {
	var swaps []*compiler.Set
	e := newEnv(t, genUsers(10, 11), func(c *Config) {
		c.OnSwap = func(set *compiler.Set, ix *bitmaps.Index) {
			if ix == nil || set == nil {
				t.Error("OnSwap without a set or an index")
			}
			swaps = append(swaps, set)
		}
	}).load(t)
	if err := e.s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(swaps) != 2 || swaps[0] == swaps[1] {
		t.Fatalf("OnSwap saw %d swaps, want 2 with a new set each", len(swaps))
	}
	copyFile(t, "testdata/cohorts_bad.yaml", e.path)
	if err := e.s.Reload(context.Background()); err == nil {
		t.Fatal("a bad file reloaded")
	}
	if len(swaps) != 2 {
		t.Errorf("a failed reload called OnSwap")
	}
}

func TestNotReady(t *testing.T) {
	e := newEnv(t, genUsers(10, 12)) // not loaded
	for _, p := range []string{"/readyz", "/api/v1/cohorts", "/api/v1/users/u0001/cohorts"} {
		r := e.call(t, "GET", p, "")
		if r.status != 503 || r.errorCode(t) != "not_ready" {
			t.Errorf("%s before load: %d %s", p, r.status, r.body)
		}
	}
	if r := e.call(t, "GET", "/healthz", ""); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	e.load(t)
	if r := e.call(t, "GET", "/readyz", ""); r.status != 200 {
		t.Errorf("readyz after load: %d", r.status)
	}
}

func TestPanicBecomesInternalError(t *testing.T) {
	var logs strings.Builder
	e := newEnv(t, genUsers(5, 13), func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }).load(t)
	e.s.Handler().Get("/boom", func(*fiber.Ctx) error { panic("kaboom") })
	r := e.call(t, "GET", "/boom", "")
	if r.status != 500 || r.errorCode(t) != "internal" {
		t.Errorf("panic: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "kaboom") || !strings.Contains(logs.String(), "kaboom") {
		t.Errorf("the panic must be logged, not shown to the client: body %s", r.body)
	}
	if r := e.call(t, "GET", "/healthz", ""); r.status != 200 {
		t.Errorf("after a panic: %d", r.status)
	}
}

func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, genUsers(50, 14), func(c *Config) { c.RequestTimeout = time.Nanosecond }).load(t)
	r := e.call(t, "POST", "/api/v1/query", `{"expr": "true"}`)
	if r.status != 503 || r.errorCode(t) != "timeout" {
		t.Errorf("a request past its deadline: %d %s", r.status, r.body)
	}
}

// TestReloadIndexFailures: when the index for a new catalog cannot be
// built, reload answers 422 (the data does not fit the file) or 503 (the
// source did not answer), never 500, and a panicking loader does not take
// the server down; the running set keeps serving.
func TestReloadIndexFailures(t *testing.T) {
	tests := []struct {
		name   string
		fail   func() (*bitmaps.Index, error)
		status int
	}{
		{"data does not fit", func() (*bitmaps.Index, error) {
			return nil, errors.New(`users.ndjson:1: "name": want int, got string "x"`)
		}, 422},
		{"source down", func() (*bitmaps.Index, error) {
			return nil, fmt.Errorf("cannot read users: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
		}, 503},
		{"loader panics", func() (*bitmaps.Index, error) { panic("index out of range") }, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var failing atomic.Bool
			e := newEnv(t, genUsers(50, 3))
			inner := e.s.cfg.LoadIndex
			e.s.cfg.LoadIndex = func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
				if failing.Load() {
					return tc.fail()
				}
				return inner(ctx, set)
			}
			e.load(t)
			// A new attribute changes the catalog: the index must be rebuilt.
			data, err := os.ReadFile(e.path)
			if err != nil {
				t.Fatal(err)
			}
			src := strings.Replace(string(data), "attributes:\n", "attributes:\n  added_later: {type: int}\n", 1)
			if src == string(data) {
				t.Fatal("cannot find the attributes section of the test cohorts file")
			}
			if err := os.WriteFile(e.path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			failing.Store(true)
			r := e.call(t, "POST", "/api/v1/admin/reload", "")
			if r.status != tc.status || r.errorCode(t) != "index_load_failed" {
				t.Fatalf("reload: %d %s, want %d index_load_failed", r.status, r.body, tc.status)
			}
			if r := e.call(t, "GET", "/api/v1/cohorts", ""); r.status != 200 {
				t.Fatalf("after the failed reload: %d %s", r.status, r.body)
			}
		})
	}
}

// TestReadyzReportsSources: while the data source or the event stream
// fails the server stays ready (it answers from its last index) but says
// "degraded", with each one's state.
func TestReadyzReportsSources(t *testing.T) {
	since := testNow.Add(-time.Minute)
	tests := []struct {
		name           string
		source, stream *SourceHealth
		status         string
	}{
		{"no sources", nil, nil, "ready"},
		{"both fine", &SourceHealth{OK: true}, &SourceHealth{OK: true}, "ready"},
		{"stream down", &SourceHealth{OK: true}, &SourceHealth{Error: "connection refused", Since: since}, "degraded"},
		{"source down", &SourceHealth{Error: "clickhouse down", Since: since}, nil, "degraded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, genUsers(10, 12), func(c *Config) {
				if tc.source != nil {
					c.SourceHealth = func() SourceHealth { return *tc.source }
				}
				if tc.stream != nil {
					c.StreamHealth = func() SourceHealth { return *tc.stream }
				}
			}).load(t)
			r := e.call(t, "GET", "/readyz", "")
			m := r.json(t)
			if r.status != 200 || m["status"] != tc.status {
				t.Fatalf("readyz: %d %s, want 200 %s", r.status, r.body, tc.status)
			}
			for key, h := range map[string]*SourceHealth{"source": tc.source, "stream": tc.stream} {
				got, ok := m[key].(map[string]any)
				if (h != nil) != ok {
					t.Fatalf("readyz %s: %v, want %v", key, m[key], h)
				}
				if h != nil && (got["ok"] != h.OK || (h.Error != "" && got["error"] != h.Error)) {
					t.Errorf("readyz %s = %v, want %+v", key, got, *h)
				}
			}
		})
	}
}
