package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

// Query preview limits: members returned by POST /api/v1/query.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 10000
)

type cohortJSON struct {
	Name        string `json:"name"`
	Group       string `json:"group"`
	Description string `json:"description"`
	Expr        string `json:"expr"`
	Static      bool   `json:"static"`
	MemberCount uint64 `json:"member_count"`
}

type cohortDetailJSON struct {
	cohortJSON
	Owner         string   `json:"owner"`
	Tags          []string `json:"tags"`
	Export        []string `json:"export"`
	Normalized    string   `json:"normalized,omitempty"`
	StaticUnknown int      `json:"static_unknown_ids"`
	Plan          string   `json:"plan"`
	AsOf          string   `json:"as_of"`
}

func cohortSummary(co *compiler.Cohort, count uint64) cohortJSON {
	return cohortJSON{Name: co.Name, Group: co.Group, Description: co.Description, Expr: co.Source,
		Static: co.Static, MemberCount: count}
}

func (s *Server) listCohorts(c *fiber.Ctx) error {
	snap, err := s.current()
	if err != nil {
		return err
	}
	now, err := s.instant(c.Query("as_of"))
	if err != nil {
		return err
	}
	ctx, cancel := s.work(c)
	defer cancel()
	out := make([]cohortJSON, 0, len(snap.set.Cohorts()))
	for _, co := range snap.set.Cohorts() {
		b, err := snap.ev.CohortMembers(ctx, co.Name, now)
		if err != nil {
			return err
		}
		out = append(out, cohortSummary(co, b.GetCardinality()))
	}
	return c.JSON(fiber.Map{"cohorts": out, "as_of": now.Format(time.RFC3339)})
}

func (s *Server) getCohort(c *fiber.Ctx) error {
	snap, co, now, err := s.cohortAt(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.work(c)
	defer cancel()
	b, err := snap.ev.CohortMembers(ctx, co.Name, now)
	if err != nil {
		return err
	}
	d := cohortDetailJSON{
		cohortJSON: cohortSummary(co, b.GetCardinality()),
		Owner:      co.Owner, Tags: nonNil(co.Tags), Export: nonNil(co.Export),
		StaticUnknown: snap.ev.StaticUnknown(co.Name),
		AsOf:          now.Format(time.RFC3339),
	}
	if co.Query != nil {
		d.Normalized = co.Query.String()
		d.Plan = snap.ev.Explain(co.Query, now)
	} else {
		d.Plan = "static list"
	}
	return c.JSON(d)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) userCohorts(c *fiber.Ctx) error {
	snap, err := s.current()
	if err != nil {
		return err
	}
	now, err := s.instant(c.Query("as_of"))
	if err != nil {
		return err
	}
	id, err := pathParam(c, "user_id")
	if err != nil {
		return err
	}
	ctx, cancel := s.work(c)
	defer cancel()
	names, err := snap.ev.UserCohorts(ctx, id, now)
	if err != nil {
		return err
	}
	return c.JSON(struct {
		UserID  string   `json:"user_id"`
		Cohorts []string `json:"cohorts"`
	}{id, nonNil(names)})
}

type queryRequest struct {
	Expr  string `json:"expr"`
	AsOf  string `json:"as_of"`
	Limit *int   `json:"limit"`
}

func (s *Server) query(c *fiber.Ctx) error {
	snap, err := s.current()
	if err != nil {
		return err
	}
	var req queryRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Expr) == "" {
		return newError(http.StatusBadRequest, "missing_expr", "expr is required").with("field", "expr")
	}
	if len(req.Expr) > s.cfg.MaxExprBytes {
		return newError(http.StatusRequestEntityTooLarge, "expr_too_large",
			"the expression is %d bytes; the limit is %d", len(req.Expr), s.cfg.MaxExprBytes).
			with("limit", s.cfg.MaxExprBytes)
	}
	limit := DefaultQueryLimit
	if req.Limit != nil {
		limit = *req.Limit
		if limit < 0 || limit > MaxQueryLimit {
			return newError(http.StatusBadRequest, "invalid_limit", "limit must be between 0 and %d", MaxQueryLimit).
				with("field", "limit")
		}
	}
	now, err := s.instant(req.AsOf)
	if err != nil {
		return err
	}
	q, err := snap.set.CompileExpr(req.Expr)
	if err != nil {
		if dslErrors(err) == nil { // every compile error is bad input, positioned or not
			err = dsl.ErrorList{{Line: 1, Column: 1, Message: err.Error(), SourceLine: req.Expr}}
		}
		return err
	}
	ctx, cancel := s.work(c)
	defer cancel()
	b, err := snap.ev.Members(ctx, q, now)
	if err != nil {
		return err
	}
	ids := make([]string, 0, min(uint64(limit), b.GetCardinality()))
	if limit > 0 {
		snap.ix.Iterate(b, "", func(_ uint32, userID string) bool {
			ids = append(ids, userID)
			return len(ids) < limit
		})
	}
	return c.JSON(fiber.Map{
		"count": b.GetCardinality(), "members": ids, "plan": snap.ev.Explain(q, now),
		"normalized": q.String(), "as_of": now.Format(time.RFC3339),
	})
}

// validate checks a cohorts.yaml given as the body. An invalid file is a
// successful validation: 200 {"valid": false, "errors": [...]}.
func (s *Server) validate(c *fiber.Ctx) error {
	// Checked as if it replaced the served file: members files resolve
	// next to it.
	set, err := compiler.CompileDataIn("cohorts.yaml", c.Body(), filepath.Dir(s.cfg.CohortsPath))
	if err != nil {
		list := dslErrors(err)
		if list == nil {
			list = dsl.ErrorList{{Line: 1, Column: 1, Message: err.Error()}}
		}
		return c.JSON(fiber.Map{"valid": false, "errors": errorItems(list)})
	}
	return c.JSON(fiber.Map{"valid": true, "errors": []errorItem{}, "summary": set.Summary(),
		"cohorts": len(set.Cohorts())})
}

func (s *Server) reloadHandler(c *fiber.Ctx) error {
	before := s.snap.Load()
	if err := s.Reload(c.UserContext()); err != nil {
		return err
	}
	after := s.snap.Load()
	return c.JSON(fiber.Map{"reloaded": true, "cohorts": len(after.set.Cohorts()), "users": after.ix.Len(),
		"index_rebuilt": before == nil || before.ix != after.ix})
}
