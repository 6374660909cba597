package server

import (
	"fmt"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/cohortd/cohortd/bitmaps"
)

// Attributes the stats endpoint reads (the spec's example catalog). When the
// catalog lacks one, or types it differently, that statistic is null/empty.
const (
	statScore   = "engagement_score" // float or int: avg_engagement
	statTopics  = "top_topics"       // list<string> or string: top_content
	statDays    = "peak_days"        // list<string> or string: weekday names
	statHour    = "peak_hour"        // int 0..23 (UTC)
	topContentN = 5
)

var weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// cohortStats are a cohort's statistics at one instant.
type cohortStats struct {
	Cohort        string   `json:"cohort"`
	MemberCount   uint64   `json:"member_count"`
	AvgEngagement *float64 `json:"avg_engagement"`
	TopContent    []string `json:"top_content"`
	BestSendTime  *string  `json:"best_send_time"`
	AsOf          string   `json:"as_of"`
}

func (s *Server) stats(c *fiber.Ctx) error {
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
	st := computeStats(snap.ix, b)
	st.Cohort, st.AsOf = co.Name, now.Format(time.RFC3339)
	return c.JSON(st)
}

func computeStats(ix *bitmaps.Index, members *roaring.Bitmap) cohortStats {
	st := cohortStats{MemberCount: members.GetCardinality(), TopContent: []string{}}
	if f, ok := ix.Field(statScore); ok && (f.Kind == bitmaps.KindFloat || f.Kind == bitmaps.KindInt) {
		if sum, n := ix.Sum(statScore, members); n > 0 {
			avg := sum / float64(n)
			st.AvgEngagement = &avg
		}
	}
	if f, ok := ix.Field(statTopics); ok && (f.Kind == bitmaps.KindStringList || f.Kind == bitmaps.KindString) {
		for _, vc := range ix.TopValues(statTopics, members, topContentN) {
			st.TopContent = append(st.TopContent, vc.Value)
		}
	}
	if day, hour, ok := bestSendTime(ix, members); ok {
		t := formatSendTime(day, hour)
		st.BestSendTime = &t
	}
	return st
}

// bestSendTime finds the most frequent (peak day, peak hour) pair among
// members with bitmaps: per day value and per hour value one intersection
// with the members, then the AND cardinality of each pair. Ties go to the
// earliest weekday (Monday first; other day strings after, by byte order),
// then the earliest hour.
func bestSendTime(ix *bitmaps.Index, members *roaring.Bitmap) (string, int, bool) {
	df, ok1 := ix.Field(statDays)
	hf, ok2 := ix.Field(statHour)
	if !ok1 || !ok2 || (df.Kind != bitmaps.KindStringList && df.Kind != bitmaps.KindString) || hf.Kind != bitmaps.KindInt {
		return "", 0, false
	}
	mem := &bitmaps.Const{Name: "members", B: members}
	hours := make([]*roaring.Bitmap, 24)
	for h := range hours {
		hours[h] = ix.Eval(&bitmaps.And{Terms: []bitmaps.Node{mem, &bitmaps.Eq{Field: statHour, Value: int64(h)}}})
	}
	days := ix.Values(statDays)
	slices.SortStableFunc(days, func(a, b string) int { return dayRank(a) - dayRank(b) })
	var best uint64
	var bestDay string
	bestHour := -1
	for _, d := range days {
		db := ix.Eval(&bitmaps.And{Terms: []bitmaps.Node{mem, &bitmaps.Eq{Field: statDays, Value: d}}})
		if db.IsEmpty() {
			continue
		}
		for h, hb := range hours {
			if n := db.AndCardinality(hb); n > best {
				best, bestDay, bestHour = n, d, h
			}
		}
	}
	return bestDay, bestHour, bestHour >= 0
}

// dayRank orders weekday names Monday..Sunday before any other value.
func dayRank(d string) int {
	if i := slices.Index(weekdays, d); i >= 0 {
		return i
	}
	return len(weekdays)
}

// formatSendTime prints a day and an hour of the day (UTC) like
// "Tuesday 8:00 AM UTC".
func formatSendTime(day string, hour int) string {
	h12, ampm := hour%12, "AM"
	if hour >= 12 {
		ampm = "PM"
	}
	if h12 == 0 {
		h12 = 12
	}
	return fmt.Sprintf("%s %d:00 %s UTC", day, h12, ampm)
}
