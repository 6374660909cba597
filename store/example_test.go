package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store"
)

var schema = bitmaps.Schema{
	{Name: "engagement_tier", Kind: bitmaps.KindString},
	{Name: "visits_30d", Kind: bitmaps.KindInt},
	{Name: "last_visit_at", Kind: bitmaps.KindTime},
	{Name: "cohort_tags", Kind: bitmaps.KindStringList},
}

func ExampleReadUsers() {
	data := `{"user_id": "u1", "engagement_tier": "loyal", "visits_30d": 12, "cohort_tags": ["cyclist"]}
{"user_id": "u2", "last_visit_at": "2026-01-10T08:00:00Z", "cohort_tags": [], "source": "crm"}
`
	st, err := store.ReadUsers(context.Background(), strings.NewReader(data), "users.ndjson", "user_id", schema,
		store.Options{}, func(id string, row bitmaps.Row) error {
			fmt.Println(id, row)
			return nil
		})
	fmt.Println(st.Rows, st.UnknownAttributes, err)
	// Output:
	// u1 [loyal 12 <nil> [cyclist]]
	// u2 [<nil> <nil> 1768032000 <nil>]
	// 2 map[source:1] <nil>
}

func ExampleReadUsers_badRow() {
	data := `{"user_id": "u1", "visits_30d": 3}
{"user_id": "u2", "visits_30d": "ten"}
`
	_, err := store.ReadUsers(context.Background(), strings.NewReader(data), "users.ndjson", "user_id", schema,
		store.Options{}, func(string, bitmaps.Row) error { return nil })
	fmt.Println(err)
	var rerr *store.RowError
	if errors.As(err, &rerr) {
		fmt.Println(rerr.Line, rerr.Field)
	}
	// Output:
	// users.ndjson:2: "visits_30d": want int, got string "ten" (fix the value or pass --skip-bad-rows)
	// 2 visits_30d
}

func ExampleLoadUsers() {
	dir, _ := os.MkdirTemp("", "cohortd-example-")
	defer os.RemoveAll(dir)
	data := `{"user_id": "u2", "engagement_tier": "champion"}
{"user_id": "u1", "engagement_tier": "loyal"}
`
	os.WriteFile(filepath.Join(dir, "users.ndjson"), []byte(data), 0o644)

	ix, st, err := store.LoadUsers(context.Background(), dir, "user_id", schema, store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	champions := ix.Eval(&bitmaps.Eq{Field: "engagement_tier", Value: "champion"})
	fmt.Println(st.Rows, ix.Len(), champions.GetCardinality())
	// Output: 2 2 1
}

func ExampleConvertValue() {
	for _, v := range []any{"2026-01-10T08:00:00Z", "2026-01-10"} {
		ts, err := store.ConvertValue(bitmaps.KindTime, v)
		fmt.Println(ts, err)
	}
	// Output:
	// 1768032000 <nil>
	// <nil> want timestamp (RFC 3339 like "2026-01-10T08:00:00Z"), got string "2026-01-10"
}
