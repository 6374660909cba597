package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/cohortd/cohortd/compiler"
)

// ErrNotReady is returned by the lookups before the first load completes.
var ErrNotReady = errors.New("cohorts are being compiled and the index loaded")

// UserCohorts returns the names of the cohorts userID belongs to at the
// server clock, sorted; none (and no error) for a user the index does not
// know. Modules the server does not import (the recommender's cold starts)
// use it. Safe for concurrent use.
func (s *Server) UserCohorts(ctx context.Context, userID string) ([]string, error) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, ErrNotReady
	}
	names, err := snap.ev.UserCohorts(ctx, userID, s.cfg.Clock())
	if errors.Is(err, compiler.ErrUnknownUser) {
		return nil, nil
	}
	return names, err
}

// EachMember calls fn with each member of cohort at the server clock, in
// ascending user_id order, until fn returns false. An unknown cohort is an
// error wrapping compiler.ErrUnknownCohort.
func (s *Server) EachMember(ctx context.Context, cohort string, fn func(userID string) bool) error {
	snap := s.snap.Load()
	if snap == nil {
		return ErrNotReady
	}
	members, err := snap.ev.CohortMembers(ctx, cohort, s.cfg.Clock())
	if err != nil {
		return fmt.Errorf("cannot list the members of %q: %w", cohort, err)
	}
	snap.ix.Iterate(members, "", func(_ uint32, userID string) bool {
		return ctx.Err() == nil && fn(userID)
	})
	return ctx.Err()
}
