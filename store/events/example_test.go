package events_test

import (
	"fmt"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/events"
)

func ExampleApplier() {
	schema := bitmaps.Schema{{Name: "engagement_tier", Kind: bitmaps.KindString}, {Name: "last_visit_at", Kind: bitmaps.KindTime}}
	ix := bitmaps.NewIndex(schema)
	dec := events.NewDecoder("user_id", schema)
	app := events.NewApplier(ix, events.Options{})
	for _, line := range []string{
		`{"event_id": "e-1", "type": "page_view", "user_id": "u-42", "ts": "2026-01-13T08:02:11Z", "article_id": "a-77"}`,
		`{"event_id": "e-2", "type": "profile_update", "user_id": "u-42", "ts": "2026-01-13T08:03:00Z", "attributes": {"engagement_tier": "loyal"}}`,
		`{"event_id": "e-2", "type": "profile_update", "user_id": "u-42", "ts": "2026-01-13T08:03:00Z", "attributes": {"engagement_tier": "loyal"}}`,
		`{"event_id": "e-3", "type": "profile_update", "user_id": "u-42", "ts": "2026-01-13T08:03:00Z", "attributes": {"engagement_tier": 7}}`,
	} {
		ev, err := dec.Decode([]byte(line))
		if err != nil {
			fmt.Println(err)
			continue
		}
		res, _ := app.Apply(&ev)
		fmt.Printf("%s: created=%v duplicate=%v changed=%v\n", ev.ID, res.Created, res.Duplicate, res.Fields)
	}
	id, _ := ix.Lookup("u-42")
	fmt.Println(ix.Value(id, "engagement_tier"), app.History().Reads("u-42", 1)[0].ArticleID)
	// Output:
	// e-1: created=true duplicate=false changed=[last_visit_at]
	// e-2: created=false duplicate=false changed=[engagement_tier]
	// e-2: created=false duplicate=true changed=[]
	// malformed event: "attributes.engagement_tier": want string, got number 7
	// loyal a-77
}
