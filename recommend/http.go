package recommend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The HTTP side: thin fiber handlers the server mounts, one line each, with
// whatever auth and metrics middleware it puts in front:
//
//	app.Post("/api/v1/recommendations", auth(RoleRecommend), recommend.Handler(rec))
//	app.Get("/api/v1/cohorts/:name/recommendations", auth(RoleRecommend), recommend.CohortHandler(rec))
//	app.Post("/api/v1/feedback", auth(RoleRecommend), recommend.FeedbackHandler(rec))
//	app.Get("/api/v1/experiments/:name", auth(RoleRead), recommend.ExperimentHandler(rec))
//
// Each handler writes its own answer, errors included, in the contract's
// shape {"error": {"code", "message", "details"}}: 400 for a body that is
// not JSON, 422 for valid JSON that asks for something impossible, 404 for
// an unknown cohort or experiment, 503 when the cohort lookup is missing or
// the request's context ends, 500 for a failing vector store or embedder.

// Handler serves POST /api/v1/recommendations.
func Handler(r *Recommender) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req Request
		if err := decodeObject(c.Body(), &req); err != nil {
			return writeDecodeError(c, err)
		}
		resp, err := r.Recommend(c.UserContext(), req)
		if err != nil {
			return writeErr(c, err)
		}
		return writeJSON(c, http.StatusOK, resp)
	}
}

// CohortHandler serves GET /api/v1/cohorts/:name/recommendations
// ?count=10&diversity_factor=0.2&exclude_ids=a,b. It needs
// Options.Cohorts.
func CohortHandler(r *Recommender) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name, ok := pathName(c)
		if !ok {
			return writeError(c, http.StatusBadRequest, "invalid_path", "the cohort name in the path is not validly percent-encoded", map[string]any{"param": "name"})
		}
		req := CohortRequest{Cohort: name}
		if s := c.Query("count"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return writeError(c, http.StatusBadRequest, "invalid_count", "count "+strconv.Quote(s)+" is not an integer", map[string]any{"field": "count"})
			}
			if n == 0 { // 0 in the request is not "the default"
				return writeErr(c, &InputError{Code: "invalid_count", Message: fmt.Sprintf("count must be between 1 and %d (got 0)", MaxCount), Field: "count"})
			}
			req.Count = n
		}
		if s := c.Query("diversity_factor"); s != "" {
			d, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return writeError(c, http.StatusBadRequest, "invalid_diversity_factor", "diversity_factor "+strconv.Quote(s)+" is not a number", map[string]any{"field": "diversity_factor"})
			}
			req.DiversityFactor = &d
		}
		if s := c.Query("exclude_ids"); s != "" {
			for _, id := range strings.Split(s, ",") {
				if id = strings.TrimSpace(id); id != "" {
					req.ExcludeIDs = append(req.ExcludeIDs, id)
				}
			}
		}
		resp, err := r.RecommendForCohort(c.UserContext(), req)
		if err != nil {
			return writeErr(c, err)
		}
		return writeJSON(c, http.StatusOK, resp)
	}
}

// FeedbackHandler serves POST /api/v1/feedback: one Feedback object, an
// array of them, or {"feedback": [...]}. It answers {"accepted": N}.
func FeedbackHandler(r *Recommender) fiber.Handler {
	return func(c *fiber.Ctx) error {
		items, err := decodeFeedback(c.Body())
		if err != nil {
			return writeError(c, http.StatusBadRequest, "invalid_json", err.Error(), nil)
		}
		if err := r.RecordFeedback(items); err != nil {
			return writeErr(c, err)
		}
		return writeJSON(c, http.StatusOK, map[string]int{"accepted": len(items)})
	}
}

// ExperimentHandler serves GET /api/v1/experiments/:name: the CTR of each
// variant with its 95% interval (ExperimentResults).
func ExperimentHandler(r *Recommender) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name, ok := pathName(c)
		if !ok {
			return writeError(c, http.StatusBadRequest, "invalid_path", "the experiment name in the path is not validly percent-encoded", map[string]any{"param": "name"})
		}
		res, err := r.Results(name)
		if err != nil {
			return writeErr(c, err)
		}
		return writeJSON(c, http.StatusOK, res)
	}
}

// pathName returns the :name route parameter percent-decoded (the server
// routes on the raw path, so that names may hold an encoded "/").
func pathName(c *fiber.Ctx) (string, bool) {
	v, err := url.PathUnescape(c.Params("name"))
	return v, err == nil
}

func decodeObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return errors.New("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &fieldTypeError{field: te.Field, want: jsonKind(te.Type), got: te.Value}
		}
		return errors.New("the body is not valid JSON for this endpoint: " + err.Error())
	}
	if dec.More() {
		return errors.New("the body holds more than one JSON value")
	}
	return nil
}

// fieldTypeError is a JSON field holding a value of the wrong type.
type fieldTypeError struct{ field, want, got string }

func (e *fieldTypeError) Error() string {
	return fmt.Sprintf("%s must be %s, not %s", e.field, e.want, e.got)
}

// writeDecodeError answers a body that cannot be decoded: 400, naming the
// field when one is at fault.
func writeDecodeError(c *fiber.Ctx, err error) error {
	var fe *fieldTypeError
	if errors.As(err, &fe) {
		return writeError(c, http.StatusBadRequest, "invalid_json", err.Error(), map[string]any{"field": fe.field})
	}
	return writeError(c, http.StatusBadRequest, "invalid_json", err.Error(), nil)
}

// jsonKind names what a Go type holds in JSON words.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}

func decodeFeedback(body []byte) ([]Feedback, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var items []Feedback
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, errors.New("the body is not a JSON array of feedback: " + err.Error())
		}
		return items, nil
	}
	var wrapper struct {
		Feedback []Feedback `json:"feedback"`
		feedbackOne
	}
	if err := decodeObject(body, &wrapper); err != nil {
		return nil, err
	}
	if wrapper.Feedback != nil {
		return wrapper.Feedback, nil
	}
	return []Feedback{Feedback(wrapper.feedbackOne)}, nil
}

// feedbackOne lets one object be decoded beside the "feedback" array.
type feedbackOne Feedback

func writeJSON(c *fiber.Ctx, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return writeError(c, http.StatusInternalServerError, "internal", "cannot encode the answer", nil)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(buf.Bytes())
}

func writeError(c *fiber.Ctx, status int, code, msg string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	return writeJSON(c, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "details": details}})
}

// writeErr maps the package's errors to HTTP answers.
func writeErr(c *fiber.Ctx, err error) error {
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		d := map[string]any{}
		if ie.Field != "" {
			d["field"] = ie.Field
		}
		return writeError(c, http.StatusUnprocessableEntity, ie.Code, ie.Message, d)
	case errors.Is(err, ErrUnknownCohort):
		return writeError(c, http.StatusNotFound, "cohort_not_found", err.Error(), nil)
	case errors.Is(err, ErrNoExperiment):
		return writeError(c, http.StatusNotFound, "experiment_not_found", err.Error(), nil)
	case errors.Is(err, ErrNoCohorts):
		return writeError(c, http.StatusServiceUnavailable, "cohorts_unavailable", "cohort recommendations need the cohort engine, which is not wired in", nil)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return writeError(c, http.StatusServiceUnavailable, "timeout", "the request ended before the answer was ready", nil)
	}
	return writeError(c, http.StatusInternalServerError, "recommendation_failed", err.Error(), nil)
}
