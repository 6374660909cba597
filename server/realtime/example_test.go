package realtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/server/realtime"
	"github.com/cohortd/cohortd/store/kafka"
)

// printSink prints the change records instead of producing them to Kafka.
type printSink struct{}

func (printSink) Send(recs ...kafka.Record) {
	for _, r := range recs {
		fmt.Print(string(r.Value))
		for _, h := range r.Headers {
			fmt.Printf(" %s=%s", h.Key, h.Value)
		}
		fmt.Println()
	}
}

func (printSink) Flush(context.Context) error { return nil }

func ExamplePipeline_ApplyNDJSON() {
	set, err := compiler.CompileData("cohorts.yaml", []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
  engagement_tier: {type: string}
  last_visit_at: {type: timestamp}
cohorts:
  champion: "engagement_tier == 'champion' AND days_since(last_visit_at) < 7"
`))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC)
	p, err := realtime.New(realtime.Config{Clock: func() time.Time { return now }, Changes: printSink{}})
	if err != nil {
		panic(err)
	}
	// The data source: an empty index here (usually --data or a snapshot).
	if _, err := p.LoadIndex(context.Background(), set, func(context.Context, *compiler.Set) (*bitmaps.Index, error) {
		return bitmaps.NewIndex(set.Schema()), nil
	}); err != nil {
		panic(err)
	}
	res := p.ApplyNDJSON([]byte(`{"event_id":"e-1","type":"page_view","user_id":"u-42","ts":"2026-01-13T08:02:11Z","article_id":"a-77"}
{"event_id":"e-2","type":"profile_update","user_id":"u-42","ts":"2026-01-13T08:03:00Z","attributes":{"engagement_tier":"champion"}}
{"event_id":"e-3","type":"profile_update","user_id":"u-42","ts":"2026-01-13T08:04:00Z","attributes":{"engagement_tier":7}}
`), time.Now())
	fmt.Printf("accepted %d, rejected %d: line %d %s: %s\n", res.Accepted, res.Rejected, res.Errors[0].Line, res.Errors[0].Field, res.Errors[0].Message)
	// Output:
	// {"user_id":"u-42","cohort":"champion","change":"entered","ts":"2026-01-13T08:03:00Z"} cohortd-event-id=e-2
	// accepted 2, rejected 1: line 3 attributes.engagement_tier: want string, got number 7
}
