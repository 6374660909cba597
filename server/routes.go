package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

// route is one endpoint: the role it needs ("" = open) and its handler.
// A pluggable route is served by a module mounted with Server.Mount.
type route struct {
	method, path, role string
	handler            fiber.Handler
	pluggable          bool
}

// Pluggable routes, served by modules the server does not import.
const (
	RouteEvents                = "/api/v1/events"
	RouteRecommendations       = "/api/v1/recommendations"
	RouteCohortRecommendations = "/api/v1/cohorts/:name/recommendations"
	RouteFeedback              = "/api/v1/feedback"
	RouteExperiment            = "/api/v1/experiments/:name"
)

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", "", s.healthz, false},
		{"GET", "/readyz", "", s.readyz, false},
		{"GET", "/metrics", "", s.metrics.handler, false},
		{"GET", "/openapi.json", "", s.openapi, false},
		{"GET", "/api/v1/cohorts", RoleRead, s.listCohorts, false},
		{"GET", "/api/v1/cohorts/:name", RoleRead, s.getCohort, false},
		{"GET", "/api/v1/cohorts/:name/members", RoleExport, s.members, false},
		{"GET", "/api/v1/cohorts/:name/stats", RoleRead, s.stats, false},
		{"GET", "/api/v1/users/:user_id/cohorts", RoleRead, s.userCohorts, false},
		{"POST", "/api/v1/query", RoleRead, s.query, false},
		{"POST", "/api/v1/cohorts/validate", RoleRead, s.validate, false},
		{"POST", "/api/v1/admin/reload", RoleAdmin, s.reloadHandler, false},
		{"POST", RouteRecommendations, RoleRecommend, s.pluggable(RouteRecommendations, "recommendations"), true},
		{"POST", RouteEvents, RoleIngest, s.pluggable(RouteEvents, "event ingestion"), true},
		{"GET", RouteCohortRecommendations, RoleRecommend, s.pluggable(RouteCohortRecommendations, "recommendations"), true},
		{"POST", RouteFeedback, RoleRecommend, s.pluggable(RouteFeedback, "recommendation feedback"), true},
		{"GET", RouteExperiment, RoleRead, s.pluggable(RouteExperiment, "experiments"), true},
	}
}

func (s *Server) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "cohortd",
		DisableStartupMessage: true,
		BodyLimit:             s.cfg.MaxBodyBytes,
		ReadTimeout:           s.cfg.RequestTimeout,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          s.errorHandler,
		JSONEncoder:           marshalJSON,
		// Route on the raw path and unescape parameters afterwards
		// (pathParam), so that a user id holding an encoded "/" reaches
		// its handler instead of splitting the path.
		UnescapePath:  false,
		CaseSensitive: true,
	})
	app.Use(s.observe, s.recoverer)
	for _, r := range s.routes() {
		hs := []fiber.Handler{r.handler}
		if r.role != "" {
			hs = []fiber.Handler{s.auth(r.role), r.handler}
		}
		app.Add(r.method, r.path, hs...)
	}
	return app
}

// recoverer turns a handler panic into a 500 "internal" answer and a log line.
func (s *Server) recoverer(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "method", c.Method(), "path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = newError(http.StatusInternalServerError, "internal", "internal error")
		}
	}()
	return c.Next()
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) readyz(c *fiber.Ctx) error {
	snap := s.snap.Load()
	if snap == nil {
		return newError(http.StatusServiceUnavailable, "not_ready", "cohorts are being compiled and the index loaded")
	}
	body := fiber.Map{"status": "ready", "cohorts": len(snap.set.Cohorts()), "users": snap.ix.Len(),
		"loaded_at": snap.loadedAt.UTC().Format(time.RFC3339)}
	for key, health := range map[string]func() SourceHealth{"source": s.cfg.SourceHealth, "stream": s.cfg.StreamHealth} {
		if health == nil {
			continue
		}
		h := health()
		body[key] = h
		if !h.OK {
			// Still ready: requests are answered from the last index.
			body["status"] = "degraded"
		}
	}
	return c.JSON(body)
}

// ---- request helpers ----

// current returns the running snapshot or a 503 before the first load.
func (s *Server) current() (*snapshot, error) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, newError(http.StatusServiceUnavailable, "not_ready", "cohorts are being compiled and the index loaded")
	}
	return snap, nil
}

// instant is the evaluation time: as_of when given (RFC 3339), else the clock.
func (s *Server) instant(asOf string) (time.Time, error) {
	if asOf == "" {
		return s.cfg.Clock().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, asOf)
	if err != nil {
		return time.Time{}, newError(http.StatusBadRequest, "invalid_as_of",
			"as_of must be an RFC 3339 time such as 2026-01-13T12:00:00Z").with("value", asOf)
	}
	return t.UTC(), nil
}

// work bounds a request's evaluation by cfg.RequestTimeout.
func (s *Server) work(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), s.cfg.RequestTimeout)
}

// cohortAt resolves what every /cohorts/{name}/... route starts from: the
// running snapshot, the named cohort (404 when unknown) and the evaluation
// instant (as_of or the clock).
func (s *Server) cohortAt(c *fiber.Ctx) (*snapshot, *compiler.Cohort, time.Time, error) {
	snap, err := s.current()
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	name, err := pathParam(c, "name")
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	co, err := cohortByName(snap, name)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	now, err := s.instant(c.Query("as_of"))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return snap, co, now, nil
}

// cohort looks a cohort up or answers 404 with a suggestion.
// pathParam returns the route parameter key, percent-decoded; a bad escape
// is a 400 naming the parameter.
func pathParam(c *fiber.Ctx, key string) (string, error) {
	raw := c.Params(key)
	v, err := url.PathUnescape(raw)
	if err != nil {
		return "", newError(http.StatusBadRequest, "invalid_path", "the %s in the path, %q, is not validly percent-encoded (encode it with %%XX escapes, e.g. %%2F for \"/\")", key, raw).with("param", key)
	}
	return v, nil
}

func cohortByName(snap *snapshot, name string) (*compiler.Cohort, error) {
	if co, ok := snap.set.Cohort(name); ok {
		return co, nil
	}
	names := make([]string, 0, len(snap.set.Cohorts()))
	for _, co := range snap.set.Cohorts() {
		names = append(names, co.Name)
	}
	e := newError(http.StatusNotFound, "unknown_cohort", "unknown cohort %q", name).with("cohort", name)
	if sug := dsl.Suggest(name, names); sug != "" {
		e.Message += fmt.Sprintf(" (did you mean %q?)", sug)
		e.with("did_you_mean", sug)
	}
	return nil, e
}

// marshalJSON is encoding/json without HTML escaping ("<" stays "<" in
// expressions and plans).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeJSON strictly decodes one JSON object: unknown fields, trailing data
// and type mismatches are 400s naming the field or byte offset.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return newError(http.StatusBadRequest, "invalid_json", "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return newError(http.StatusBadRequest, "invalid_json", "unexpected data after the JSON object").
				with("offset", dec.InputOffset())
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return newError(http.StatusBadRequest, "invalid_json", "malformed JSON at byte %d: %s", syn.Offset, syn.Error()).
			with("offset", syn.Offset)
	case errors.As(err, &typ):
		return newError(http.StatusBadRequest, "invalid_json", "field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value).
			with("field", typ.Field).with("offset", typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "invalid_json", "the JSON body ends too early").with("offset", len(body))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return newError(http.StatusBadRequest, "unknown_field", "unknown field %q", field).with("field", field)
	}
	return newError(http.StatusBadRequest, "invalid_json", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "uint64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "ptr":
		return "a value"
	}
	return "a " + kind
}
