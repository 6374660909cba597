package realtime

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/store/events"
)

// MaxLineErrors is how many per-line errors a batch answer lists.
const MaxLineErrors = 100

// BatchResult is the answer to an NDJSON batch of events.
type BatchResult struct {
	// Accepted events were applied (an event that changes nothing by the
	// rules, e.g. an older profile value, is accepted too).
	Accepted int `json:"accepted"`
	// Duplicates were already applied (same event_id within the window).
	Duplicates int `json:"duplicates"`
	// Rejected lines are malformed (see Errors) and were not applied.
	Rejected int `json:"rejected"`
	// Changes counts the cohort memberships the batch changed.
	Changes int         `json:"changes"`
	Errors  []LineError `json:"errors"`
}

// LineError says why one line was rejected.
type LineError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"` // JSON field at fault ("attributes.visits_30d")
	Code    string `json:"code"`            // malformed_event, not_applied
	Message string `json:"message"`
}

// ApplyNDJSON applies every line of an NDJSON body (blank lines are
// skipped) through the same path as Kafka events; arrived is when the body
// was received (for the freshness metric). Lines are applied in order; a
// bad line does not stop the others. When it returns, every effect is done,
// the read history and hooks (run in the background while Run runs)
// included.
func (p *Pipeline) ApplyNDJSON(body []byte, arrived time.Time) BatchResult {
	res := BatchResult{Errors: []LineError{}}
	fail := func(le LineError) {
		res.Rejected++
		if len(res.Errors) < MaxLineErrors {
			res.Errors = append(res.Errors, le)
		}
	}
	for line := 1; len(body) > 0; line++ {
		var raw []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i], body[i+1:]
		} else {
			raw, body = body, nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		ev, err := p.Decode(raw)
		if err != nil {
			var me *events.MalformedError
			if errors.As(err, &me) {
				fail(LineError{Line: line, Field: me.Field, Code: "malformed_event", Message: me.Msg})
				p.m.events.WithLabelValues("http", "unknown", "malformed").Inc()
			} else {
				fail(LineError{Line: line, Code: "not_applied", Message: err.Error()})
			}
			continue
		}
		out, err := p.Apply(&ev, "http", arrived)
		if err != nil {
			fail(LineError{Line: line, Code: "not_applied", Message: err.Error()})
			continue
		}
		if out.Result.Duplicate {
			res.Duplicates++
		} else {
			res.Accepted++
		}
		res.Changes += len(out.Changes)
	}
	if res.Accepted > 0 {
		p.flushSide()
	}
	return res
}

// apiError is the HTTP API's error shape (spec http-api.md).
type apiError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"` // always present, {} when empty
}

func answerError(c *fiber.Ctx, status int, code, msg string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	return c.Status(status).JSON(fiber.Map{"error": apiError{Code: code, Message: msg, Details: details}})
}

// EventsHandler answers POST /api/v1/events: the body is NDJSON, one event
// a line, applied in order through the pipeline. It answers 200 with a
// BatchResult when at least one line was taken (per-line errors listed
// with their line and JSON field), 400 when the body is empty or no line is
// valid (details hold the BatchResult), 503 before the index is loaded.
func EventsHandler(p *Pipeline) fiber.Handler {
	return func(c *fiber.Ctx) error {
		arrived := time.Now()
		if !p.Ready() {
			return answerError(c, http.StatusServiceUnavailable, "not_ready", "the index is being loaded; retry shortly", nil)
		}
		body := c.Body()
		if len(bytes.TrimSpace(body)) == 0 {
			return answerError(c, http.StatusBadRequest, "empty_body", "the request body is empty; send NDJSON events, one JSON object a line", nil)
		}
		res := p.ApplyNDJSON(body, arrived)
		if res.Accepted+res.Duplicates == 0 {
			return answerError(c, http.StatusBadRequest, "invalid_events",
				fmt.Sprintf("no valid event in the body (%d lines rejected)", res.Rejected),
				map[string]any{"accepted": 0, "duplicates": 0, "rejected": res.Rejected, "errors": res.Errors})
		}
		return c.JSON(res)
	}
}
