package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

// apiError is an error answer: {"error": {"code", "message", "details"}}.
type apiError struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Details: map[string]any{}}
}

func (e *apiError) with(k string, v any) *apiError {
	e.Details[k] = v
	return e
}

// errorList is the JSON form of positioned errors.
type errorItem struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	Caret   string `json:"caret,omitempty"` // the source line and a caret under the column
}

func errorItems(list dsl.ErrorList) []errorItem {
	out := make([]errorItem, 0, len(list))
	for _, e := range list {
		out = append(out, errorItem{Line: e.Line, Column: e.Column, Message: e.Message, Caret: caret(e)})
	}
	return out
}

// caret is Pretty() without the leading "FILE:LINE:COL: message" line.
func caret(e *dsl.Error) string {
	_, rest, ok := strings.Cut(e.Pretty(), "\n")
	if !ok {
		return ""
	}
	return rest
}

// dslErrors extracts positioned errors from err, if any.
func dslErrors(err error) dsl.ErrorList {
	var list dsl.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return list
	}
	var one *dsl.Error
	if errors.As(err, &one) {
		return dsl.ErrorList{one}
	}
	return nil
}

// toAPIError is the one place errors become HTTP answers.
func (s *Server) toAPIError(c *fiber.Ctx, err error) *apiError {
	var ae *apiError
	var fe *fiber.Error
	var ce *CohortsError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ce):
		e := newError(http.StatusUnprocessableEntity, "invalid_cohorts", "%s", err.Error())
		if ce.Errs != nil {
			e.with("errors", errorItems(ce.Errs))
		}
		return e
	case dslErrors(err) != nil:
		list := dslErrors(err) // positioned errors of an ad-hoc expression
		first := list[0]
		return newError(http.StatusBadRequest, "invalid_expression", "%s", first.Message).
			with("line", first.Line).with("column", first.Column).with("caret", caret(first)).
			with("errors", errorItems(list))
	case errors.Is(err, compiler.ErrUnknownUser):
		return newError(http.StatusNotFound, "unknown_user", "%s", err.Error())
	case errors.Is(err, compiler.ErrUnknownCohort):
		return newError(http.StatusNotFound, "unknown_cohort", "%s", err.Error())
	case errors.As(err, new(*IndexError)):
		s.log.Error("reload failed", "err", err)
		if transient(err) {
			// The source did not answer (e.g. ClickHouse down): try again.
			return newError(http.StatusServiceUnavailable, "index_load_failed", "%s; the running cohorts keep serving, try again later", err.Error())
		}
		// The data does not fit the new file's catalog: the file is the
		// bad input.
		return newError(http.StatusUnprocessableEntity, "index_load_failed", "%s; the running cohorts keep serving", err.Error())
	case errors.Is(err, ErrReloadInProgress):
		return newError(http.StatusConflict, "reload_in_progress", "%s", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, "timeout", "the request took longer than %s", s.cfg.RequestTimeout)
	case errors.Is(err, context.Canceled):
		return newError(http.StatusServiceUnavailable, "canceled", "the request was canceled")
	case errors.As(err, &fe):
		return fiberError(fe)
	}
	s.log.Error("internal error", "method", c.Method(), "path", c.Path(), "err", err)
	return newError(http.StatusInternalServerError, "internal", "internal error")
}

func fiberError(fe *fiber.Error) *apiError {
	switch fe.Code {
	case http.StatusNotFound:
		return newError(fe.Code, "not_found", "no such endpoint")
	case http.StatusMethodNotAllowed:
		return newError(fe.Code, "method_not_allowed", "method not allowed")
	case http.StatusRequestEntityTooLarge:
		return newError(fe.Code, "body_too_large", "the request body is too large")
	case http.StatusRequestTimeout:
		return newError(fe.Code, "request_timeout", "the request was not received in time")
	case http.StatusRequestHeaderFieldsTooLarge:
		return newError(fe.Code, "headers_too_large", "the request headers are too large")
	}
	code := strings.ReplaceAll(strings.ToLower(http.StatusText(fe.Code)), " ", "_")
	if code == "" {
		code = "error"
	}
	return newError(fe.Code, code, "%s", strings.ToLower(fe.Message))
}

// errorHandler is Fiber's ErrorHandler: every error answer goes through it.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	ae := s.toAPIError(c, err)
	if ae.Status == http.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="cohortd"`)
	}
	// A streamed answer may have set another content type or a body writer.
	c.Context().Response.ResetBody()
	return c.Status(ae.Status).JSON(fiber.Map{"error": ae})
}

// transient reports whether err is the data source failing to answer (a
// network error, a timeout) rather than data that does not fit.
func transient(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED)
}
