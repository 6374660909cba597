package clickhouse_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/store/clickhouse"
)

// The table cohortd load creates for a catalog.
func ExampleCreateTableSQL() {
	schema := bitmaps.Schema{
		{Name: "engagement_tier", Kind: bitmaps.KindString},
		{Name: "visits_30d", Kind: bitmaps.KindInt},
		{Name: "last_visit_at", Kind: bitmaps.KindTime},
		{Name: "cohort_tags", Kind: bitmaps.KindStringList},
	}
	fmt.Println(clickhouse.CreateTableSQL("`analytics`.`users`", "user_id", schema))
	// Output:
	// CREATE TABLE `analytics`.`users` (
	//   `user_id` String,
	//   `engagement_tier` Nullable(String),
	//   `visits_30d` Nullable(Int64),
	//   `last_visit_at` Nullable(DateTime),
	//   `cohort_tags` Array(String),
	//   `updated_at` DateTime DEFAULT now()
	// ) ENGINE = ReplacingMergeTree(`updated_at`) ORDER BY `user_id`
}

// Bind a table to the catalog and read it into an index.
func ExampleClient_Table() {
	ctx := context.Background()
	set, err := compiler.Load("cohorts.yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := clickhouse.Open(clickhouse.Config{Addr: "127.0.0.1:9000", Database: "analytics"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		log.Fatal(err) // a *SchemaError names every column that does not fit
	}
	ix, st, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ix.Len(), "users read in", st.Took)
}

// Count a cohort in ClickHouse with the compiled SQL (pushdown) instead
// of loading the users.
func ExampleTable_Count() {
	ctx := context.Background()
	set, err := compiler.Load("cohorts.yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := clickhouse.Open(clickhouse.Config{Addr: "127.0.0.1:9000"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	tb, err := c.Table(ctx, "users", set.Key(), set.Schema())
	if err != nil {
		log.Fatal(err)
	}
	q, err := set.CompileExpr("engagement_tier == 'champion' AND days_since_last_visit < 7")
	if err != nil {
		log.Fatal(err)
	}
	where, err := q.SQL(time.Now())
	if err != nil {
		log.Fatal(err)
	}
	n, err := tb.Count(ctx, where)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "champions; SQL:", tb.CountSQL(where))
}

// Load once (waiting for ClickHouse if it is down), then refresh every
// five minutes, swapping rebuilt indexes into whatever serves them.
func ExampleNewRefresher() {
	ctx := context.Background()
	set, err := compiler.Load("cohorts.yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := clickhouse.Open(clickhouse.Config{Addr: "127.0.0.1:9000"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var serving *bitmaps.Index
	r, err := clickhouse.NewRefresher(c, "users", set.Key(), set.Schema(), clickhouse.RefreshOptions{
		Interval:   5 * time.Minute,
		Swap:       func(ix *bitmaps.Index, _ time.Time) error { serving = ix; return nil },
		Logger:     slog.Default(),
		Registerer: prometheus.DefaultRegisterer,
	})
	if err != nil {
		log.Fatal(err)
	}
	if serving, err = r.Load(ctx); err != nil {
		log.Fatal(err)
	}
	go r.Run(ctx) //nolint:errcheck // returns nil when ctx is done
	fmt.Println(serving.Len(), "users")
}
