package recommend

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func testApp(t *testing.T, r *Recommender) *fiber.App {
	t.Helper()
	app := fiber.New()
	app.Post("/api/v1/recommendations", Handler(r))
	app.Get("/api/v1/cohorts/:name/recommendations", CohortHandler(r))
	app.Post("/api/v1/feedback", FeedbackHandler(r))
	app.Get("/api/v1/experiments/:name", ExperimentHandler(r))
	return app
}

func do(t *testing.T, app *fiber.App, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, out
}

func TestHandlers(t *testing.T) {
	r := smallWorld(t, Options{Cohorts: fakeCohorts{"climbers": {"climber", "climber2"}}, Experiments: testExperiments})
	app := testApp(t, r)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T, body map[string]any)
	}{
		{
			name: "the contract's example", method: "POST", path: "/api/v1/recommendations",
			body: `{"user_id": "cyclist", "context": {"current_article_id": "cycling-9", "session_topics": ["cycling", "gear"], "exclude_ids": ["cycling-0"]},
			        "config": {"count": 4, "strategy": "blended", "diversity_factor": 0.2}}`,
			status: 200,
			check: func(t *testing.T, b map[string]any) {
				recs := b["recommendations"].([]any)
				if len(recs) != 4 || b["strategy_used"] != "blended" || b["embedding_version"] == "" {
					t.Fatalf("answer %v", b)
				}
				for _, x := range recs {
					rec := x.(map[string]any)
					for _, k := range []string{"article_id", "title", "score", "reason"} {
						if _, ok := rec[k]; !ok {
							t.Errorf("item lacks %q: %v", k, rec)
						}
					}
					if id := rec["article_id"]; id == "cycling-0" || id == "cycling-9" || id == "cycling-1" {
						t.Errorf("%v is excluded, current or read", id)
					}
				}
			},
		},
		{
			name: "unknown user: cold start, not an error", method: "POST", path: "/api/v1/recommendations",
			body: `{"user_id": "who"}`, status: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["cold_start"] != true || len(b["recommendations"].([]any)) != 10 || b["variant"] == "" {
					t.Errorf("answer %v", b)
				}
			},
		},
		{name: "not JSON", method: "POST", path: "/api/v1/recommendations", body: `{"user_id":`, status: 400, check: errorCode("invalid_json")},
		{name: "an array", method: "POST", path: "/api/v1/recommendations", body: `[1]`, status: 400, check: errorCode("invalid_json")},
		{name: "wrong type", method: "POST", path: "/api/v1/recommendations", body: `{"user_id": 5}`, status: 400, check: errorField("invalid_json", "user_id", "user_id must be a string, not number")},
		{name: "wrong nested type", method: "POST", path: "/api/v1/recommendations", body: `{"user_id":"u","config":{"count":"10"}}`, status: 400, check: errorField("invalid_json", "config.count", "config.count must be an integer, not string")},
		{name: "count 0", method: "POST", path: "/api/v1/recommendations", body: `{"user_id":"u","config":{"count":0}}`, status: 422, check: errorField("invalid_count", "config.count", "count must be between 1 and 100 (got 0)")},
		{name: "no user_id", method: "POST", path: "/api/v1/recommendations", body: `{}`, status: 422, check: errorCode("missing_user_id")},
		{name: "bad strategy", method: "POST", path: "/api/v1/recommendations", body: `{"user_id":"u","config":{"strategy":"x"}}`, status: 422, check: errorCode("invalid_strategy")},
		{name: "count too large", method: "POST", path: "/api/v1/recommendations", body: `{"user_id":"u","config":{"count":1000}}`, status: 422, check: errorCode("invalid_count")},
		{
			name: "cohort recommendations", method: "GET", path: "/api/v1/cohorts/climbers/recommendations?count=3", status: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["cohort"] != "climbers" || b["member_count"] != 2.0 || len(b["recommendations"].([]any)) != 3 {
					t.Errorf("answer %v", b)
				}
			},
		},
		{name: "unknown cohort", method: "GET", path: "/api/v1/cohorts/nope/recommendations", status: 404, check: errorCode("cohort_not_found")},
		{name: "bad count", method: "GET", path: "/api/v1/cohorts/climbers/recommendations?count=ten", status: 400, check: errorCode("invalid_count")},
		{name: "cohort count 0", method: "GET", path: "/api/v1/cohorts/climbers/recommendations?count=0", status: 422, check: errorField("invalid_count", "count", "count must be between 1 and 100 (got 0)")},
		{
			name: "feedback", method: "POST", path: "/api/v1/feedback",
			body:   `{"feedback": [{"user_id":"u-2","article_id":"a","type":"impression"},{"user_id":"u-2","article_id":"a","type":"click"}]}`,
			status: 200, check: func(t *testing.T, b map[string]any) {
				if b["accepted"] != 2.0 {
					t.Errorf("answer %v", b)
				}
			},
		},
		{name: "one feedback object", method: "POST", path: "/api/v1/feedback", body: `{"user_id":"u-2","article_id":"a","type":"impression"}`, status: 200},
		{name: "bad feedback", method: "POST", path: "/api/v1/feedback", body: `[{"user_id":"u","article_id":"a","type":"like"}]`, status: 422, check: errorCode("invalid_feedback_type")},
		{
			name: "experiment results", method: "GET", path: "/api/v1/experiments/recs-2026-01", status: 200,
			check: func(t *testing.T, b map[string]any) {
				ctl := b["variants"].([]any)[0].(map[string]any)
				if ctl["name"] != "control" || ctl["impressions"] != 2.0 || ctl["clicks"] != 1.0 || ctl["ctr"] != 0.5 {
					t.Errorf("control %v", ctl)
				}
			},
		},
		{name: "unknown experiment", method: "GET", path: "/api/v1/experiments/nope", status: 404, check: errorCode("experiment_not_found")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, app, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

func errorCode(code string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		e, ok := b["error"].(map[string]any)
		if !ok || e["code"] != code || e["message"] == "" || e["details"] == nil {
			t.Errorf("error %v, want code %q with a message and details", b, code)
		}
	}
}

// errorField checks an error's code, the field its details name, and its
// message.
func errorField(code, field, msg string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		errorCode(code)(t, b)
		e, _ := b["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		if d["field"] != field || e["message"] != msg {
			t.Errorf("error %v, want field %q and message %q", e, field, msg)
		}
	}
}

func TestCohortHandlerWithoutLookup(t *testing.T) {
	app := testApp(t, smallWorld(t, Options{}))
	status, body := do(t, app, http.MethodGet, "/api/v1/cohorts/x/recommendations", "")
	if status != 503 {
		t.Fatalf("status %d: %v", status, body)
	}
}
