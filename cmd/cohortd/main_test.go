package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// cli runs cohortd in-process and returns its exit status and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// The root cohorts.yaml and every file in examples/ must stay valid: this is
// what keeps the docs from rotting.
func TestValidateShippedCohortFiles(t *testing.T) {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "examples", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "cohorts.yaml"))
	if len(files) < 4 {
		t.Fatalf("found only %d cohort files: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			code, out, errOut := cli(t, "validate", f)
			if code != exitOK {
				t.Fatalf("validate %s: exit %d\n%s", f, code, errOut)
			}
			if !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
				t.Errorf("validate %s printed %q, want a summary ending in \": ok\"", f, out)
			}
		})
	}
}

// The brief's ten cohorts must be in the root file, verbatim.
func TestRootCohortsHoldTheBrief(t *testing.T) {
	set, err := compiler.Load(filepath.Join(repoRoot(t), "cohorts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	brief := map[string]string{
		"champion":           "engagement_tier == 'champion' AND days_since_last_visit < 7",
		"at_risk":            "engagement_tier == 'loyal' AND days_since_last_visit > 14",
		"dormant":            "days_since_last_visit > 30",
		"winback":            "engagement_tier == 'dormant' AND seasonal_match == true",
		"cyclists":           "'cyclist' IN cohort_tags",
		"multi_sport":        "interest_breadth == 'multi-sport'",
		"gear_enthusiasts":   "'gear-enthusiast' IN cohort_tags",
		"newsletter_engaged": "email_engagement IN ('highly_engaged', 'moderate')",
		"app_users":          "device_preference IN ('app', 'mobile')",
		"weekend_readers":    "'Saturday' IN peak_days OR 'Sunday' IN peak_days",
	}
	for name, expr := range brief {
		c, ok := set.Cohort(name)
		if !ok {
			t.Errorf("cohort %q missing", name)
			continue
		}
		if c.Source != expr {
			t.Errorf("cohort %q = %q, want the brief's %q", name, c.Source, expr)
		}
	}
}

// A file with several kinds of mistakes reports all of them, positioned, with
// carets, and exits 1. The output is a golden file.
func TestValidateReportsEveryError(t *testing.T) {
	code, out, errOut := cli(t, "validate", "testdata/many_errors.yaml")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d; stdout %q", code, exitFailure, out)
	}
	golden := "testdata/many_errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(errOut), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if errOut != string(want) {
		t.Errorf("validate output differs from %s:\n--- got\n%s\n--- want\n%s", golden, errOut, want)
	}
	for _, needle := range []string{
		"unknown attribute", "type mismatch", "is not a value of", "unknown cohort", "cohort cycle",
		"unexpected", "6 errors",
	} {
		if !strings.Contains(errOut, needle) {
			t.Errorf("output lacks %q", needle)
		}
	}
}

func TestExitStatuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no command", []string{}, exitUsage},
		{"unknown command", []string{"frobnicate"}, exitUsage},
		{"unknown flag", []string{"query", "--nope", "true"}, exitUsage},
		{"bad format", []string{"query", "--format", "xml", "true"}, exitUsage},
		{"bad now", []string{"query", "--now", "yesterday", "true"}, exitUsage},
		{"two expressions", []string{"query", "true", "false"}, exitUsage},
		{"expression and cohort", []string{"query", "--cohort", "champion", "true"}, exitUsage},
		{"gen without out", []string{"gen"}, exitUsage},
		{"missing cohorts file", []string{"validate", "testdata/does-not-exist.yaml"}, exitFailure},
		{"invalid expression", []string{"query", "--cohorts", "../../cohorts.yaml", "visits_30d >= 'ten'"}, exitFailure},
		{"unknown cohort", []string{"query", "--cohorts", "../../cohorts.yaml", "--cohort", "nope"}, exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := cli(t, tt.args...)
			if code != tt.want {
				t.Errorf("cohortd %v: exit %d, want %d\n%s", tt.args, code, tt.want, errOut)
			}
		})
	}
}

func TestBadExpressionPrintsCaret(t *testing.T) {
	code, _, errOut := cli(t, "query", "--cohorts", "../../cohorts.yaml", "visits_30d >= 'ten'")
	if code != exitFailure {
		t.Fatalf("exit %d", code)
	}
	want := "1:15: type mismatch"
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "^") {
		t.Errorf("stderr %q lacks %q and a caret", errOut, want)
	}
}

// query's three formats agree with each other and with the evaluator, on
// generated data, and ids come out in ascending user_id order.
func TestQueryFormats(t *testing.T) {
	dir := t.TempDir()
	now := "2026-01-13T12:00:00Z"
	if code, _, errOut := cli(t, "gen", "--out", dir, "--users", "3000", "--articles", "50", "--events", "100", "--seed", "3"); code != 0 {
		t.Fatalf("gen: %s", errOut)
	}
	cohorts := filepath.Join(repoRoot(t), "cohorts.yaml")
	set, err := compiler.Load(cohorts)
	if err != nil {
		t.Fatal(err)
	}
	ix, _, err := store.LoadUsers(context.Background(), dir, set.Key(), set.Schema(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := compiler.NewEvaluator(set, ix)
	at, _ := time.Parse(time.RFC3339, now)
	for _, c := range set.Cohorts() {
		t.Run(c.Name, func(t *testing.T) {
			want, err := ev.Count(context.Background(), c.Query, at)
			if err != nil {
				t.Fatal(err)
			}
			base := []string{"query", "--cohorts", cohorts, "--data", dir, "--now", now, "--cohort", c.Name}
			code, out, errOut := cli(t, append(base, "--format", "count")...)
			if code != 0 || strings.TrimSpace(out) != strconv.FormatUint(want, 10) {
				t.Fatalf("count: exit %d, %q (want %d) %s", code, out, want, errOut)
			}
			_, out, _ = cli(t, append(base, "--format", "ids")...)
			ids := strings.Fields(out)
			if uint64(len(ids)) != want || !sort.StringsAreSorted(ids) {
				t.Fatalf("ids: %d lines (want %d), sorted %v", len(ids), want, sort.StringsAreSorted(ids))
			}
			_, out, _ = cli(t, append(base, "--format", "json")...)
			var js struct {
				Count   uint64   `json:"count"`
				Members []string `json:"members"`
			}
			if err := json.Unmarshal([]byte(out), &js); err != nil {
				t.Fatalf("json: %v in %q", err, out)
			}
			if js.Count != want || strings.Join(js.Members, " ") != strings.Join(ids, " ") {
				t.Fatalf("json: count %d, %d members; want %d and the ids output", js.Count, len(js.Members), want)
			}
		})
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := cli(t, "gen", "--out", dir, "--users", "500", "--articles", "10", "--events", "10"); code != 0 {
		t.Fatal(errOut)
	}
	t.Setenv("COHORTD_DATA", dir)
	t.Setenv("COHORTD_NOW", "2026-01-13T12:00:00Z")
	t.Setenv("COHORTD_COHORTS", filepath.Join(repoRoot(t), "cohorts.yaml"))
	code, out, errOut := cli(t, "query", "true")
	if code != 0 || strings.TrimSpace(out) != "500" {
		t.Fatalf("query true with COHORTD_DATA: exit %d, %q %s", code, out, errOut)
	}
	t.Setenv("COHORTD_FORMAT", "xml")
	if code, _, _ := cli(t, "query", "true"); code != exitUsage {
		t.Errorf("a bad COHORTD_FORMAT: exit %d, want %d", code, exitUsage)
	}
}

// gen is deterministic by seed.
func TestGenDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if code, _, errOut := cli(t, "gen", "--out", d, "--users", "300", "--articles", "20", "--events", "200", "--seed", "9"); code != 0 {
			t.Fatal(errOut)
		}
	}
	for _, f := range []string{"users.ndjson", "articles.ndjson", "events.ndjson"} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s differs between two runs with the same seed (or is empty)", f)
		}
	}
}

// The demo population loads for the root catalog and for a catalog whose
// attributes the generator does not know (they stay NULL).
func TestDemoPopulation(t *testing.T) {
	set, err := compiler.Load(filepath.Join(repoRoot(t), "cohorts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ix, _, err := store.LoadDemo(context.Background(), set.Key(), set.Schema(), store.DemoOptions{Users: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 2000 {
		t.Fatalf("demo has %d users, want 2000", ix.Len())
	}
	q, err := set.CompileExpr("engagement_tier IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := compiler.NewEvaluator(set, ix).Count(context.Background(), q, time.Now())
	if n == 0 || n > 400 {
		t.Errorf("%d of 2000 demo users have no tier; want a few percent", n)
	}

}

func TestServeRefusesStateDirWithClickHouse(t *testing.T) {
	code, _, errOut := cli(t, "serve", "--clickhouse", "127.0.0.1:1", "--state-dir", t.TempDir(), "--cohorts", "../../cohorts.yaml")
	if code != exitUsage || !strings.Contains(errOut, "--state-dir cannot be combined with --clickhouse") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestServeReportsEveryCohortError: serve refuses a bad cohorts file with
// every error positioned and with a caret, as validate prints them.
func TestServeReportsEveryCohortError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cohorts.yaml")
	src := "version: 1\nattributes:\n  user_id: {type: string, key: true}\n  tier: {type: string}\ncohorts:\n  a: \"bogus1 == 1\"\n  b: \"tier == 3\"\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, "serve", "--cohorts", path, "--listen", "127.0.0.1:0")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d: %s", code, exitFailure, errOut)
	}
	for _, want := range []string{
		path + ":6:7: unknown attribute \"bogus1\"\n   |   a: \"bogus1 == 1\"\n   |       ^",
		path + ":7:15: type mismatch",
		"2 errors",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestExplainPrintsExpressionPlanAndSQL(t *testing.T) {
	code, out, errOut := cli(t, "explain", "--cohorts", "../../cohorts.yaml", "--now", "2026-01-13T12:00:00Z", "--cohort", "champion")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"expression (normalised): engagement_tier == 'champion' AND days_since(last_visit_at) <= 6",
		"last_visit_at > 2026-01-06T12:00:00Z", // days_since < 7 as an exact range
		"ClickHouse SQL", "toInt64(`last_visit_at`) >= 1767700801",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

// TestQueryAppliesDataDirectoryEvents: a data directory's events.ndjson is
// applied to its users in ts order (cli.md), so an erased user is gone and
// a page view's user exists.
func TestQueryAppliesDataDirectoryEvents(t *testing.T) {
	dir := t.TempDir()
	users := `{"user_id":"u1","engagement_tier":"loyal"}` + "\n" + `{"user_id":"u2","engagement_tier":"loyal"}` + "\n"
	evs := `{"event_id":"e2","type":"user_deleted","user_id":"u1","ts":"2026-01-12T00:00:00Z"}` + "\n" +
		`{"event_id":"e1","type":"page_view","user_id":"u3","article_id":"a1","ts":"2026-01-11T00:00:00Z"}` + "\n" +
		`{"event_id":"e3","type":"profile_update","user_id":"u3","ts":"2026-01-11T01:00:00Z","attributes":{"engagement_tier":"loyal"}}` + "\n"
	for name, data := range map[string]string{"users.ndjson": users, "events.ndjson": evs} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := cli(t, "query", "--cohorts", "../../cohorts.yaml", "--data", dir, "--now", "2026-01-13T12:00:00Z",
		"--format", "ids", "engagement_tier == 'loyal'")
	if code != exitOK || out != "u2\nu3\n" {
		t.Errorf("exit %d, ids %q (want u2, u3): %s", code, out, errOut)
	}
}

// TestQueryNotesSkippedRows: with --skip-bad-rows the skipped rows and the
// ignored attributes are counted on stderr; stdout holds the answer alone.
func TestQueryNotesSkippedRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.ndjson")
	data := `{"user_id":"a","x":1}` + "\n" + `{"user_id":"b","visits_30d":"ten"}` + "\n" + `{"user_id":"c","x":2,"y":3}` + "\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "query", "--cohorts", "../../cohorts.yaml", "--data", path, "--skip-bad-rows", "--format", "count", "true")
	if code != exitOK || out != "2\n" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errOut)
	}
	for _, want := range []string{
		"note: skipped 1 bad row (--skip-bad-rows); the first: " + path + `:2: "visits_30d"`,
		"note: ignored attributes not in the catalog: x (2 rows), y (1 row)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
