package server

import (
	"strings"
	"testing"
)

// TestMetricLabels: labels are route templates and stable method names, even
// though Fiber reuses the buffers its request strings point into.
func TestMetricLabels(t *testing.T) {
	e := newEnv(t, genUsers(20, 60)).load(t)
	e.call(t, "GET", "/api/v2/nothing", "")
	e.call(t, "DELETE", "/api/v1/cohorts", "")
	e.call(t, "POST", "/api/v1/query", "{")
	e.call(t, "GET", "/api/v1/cohorts/vip", "")
	e.call(t, "GET", "/api/v1/cohorts/everyone", "")
	e.call(t, "BREW", "/api/v1/cohorts", "")
	body := string(e.call(t, "GET", "/metrics", "").body)
	for _, want := range []string{
		`_count{method="GET",route="unmatched",status="404"} 1`,
		`_count{method="DELETE",route="unmatched",status="405"} 1`,
		`_count{method="POST",route="/api/v1/query",status="400"} 1`,
		`_count{method="GET",route="/api/v1/cohorts/:name",status="200"} 2`,
		`cohortd_cohort_members{cohort="vip",group="lists"} 2`,
		`cohortd_reloads_total{result="ok"} 1`,
		`cohortd_ready 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "cohortd_http_request_duration_seconds_count") &&
			!strings.Contains(l, `method="GET"`) && !strings.Contains(l, `method="POST"`) &&
			!strings.Contains(l, `method="DELETE"`) && !strings.Contains(l, `method="OTHER"`) {
			t.Errorf("unexpected method label: %s", l)
		}
	}
}
