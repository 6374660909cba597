package store

import (
	"context"
	"fmt"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store/gen"
)

// DemoOptions sizes the built-in demo population. The zero value is 100,000
// users of seed 1, as of today's midnight UTC (so the population is the same
// all day long and its recency cohorts stay meaningful).
type DemoOptions struct {
	Users int
	Seed  int64
	Now   time.Time
}

// DefaultDemoUsers is the demo population's size when DemoOptions.Users is 0.
const DefaultDemoUsers = 100_000

// LoadDemo builds an index of the built-in demo population (store/gen's users,
// generated in memory) for schema. The demo's user_id becomes the key
// attribute whatever its name; attributes the schema lacks are ignored and
// counted, attributes the demo lacks are NULL, and a demo value that does
// not fit the schema's type is an error naming the attribute.
func LoadDemo(ctx context.Context, key string, schema bitmaps.Schema, opts DemoOptions) (*bitmaps.Index, Stats, error) {
	cfg := gen.Config{Users: opts.Users, Seed: opts.Seed, Now: opts.Now}
	if cfg.Users == 0 {
		cfg.Users = DefaultDemoUsers
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now().UTC().Truncate(24 * time.Hour)
	}
	b := bitmaps.NewBuilder(schema)
	st := Stats{UnknownAttributes: map[string]int64{}}
	n := 0
	err := gen.Users(cfg, func(rec map[string]any) error {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if key != gen.Key {
			rec[key] = rec[gen.Key]
			delete(rec, gen.Key)
		}
		id, row, unknown, err := RowFromRecord(rec, key, schema)
		if err != nil {
			return fmt.Errorf("the demo population does not fit the catalog: %w", err)
		}
		for _, name := range unknown {
			st.UnknownAttributes[name]++
		}
		if err := b.Add(id, row); err != nil {
			return fmt.Errorf("cannot load the demo population: %w", err)
		}
		st.Rows++
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	return b.Build(), st, nil
}
