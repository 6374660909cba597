package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// DemoData returns a data directory holding the demo population as files
// (users.ndjson, articles.ndjson, events.ndjson, as `cohortd gen` writes
// them) for the parts of cohortd that read files, such as the recommender.
// It is generated once into the user cache directory ($XDG_CACHE_HOME/cohortd)
// and reused; the users are the ones LoadDemo builds for the same options.
func DemoData(ctx context.Context, opts DemoOptions, articles, events int) (string, error) {
	if opts.Users <= 0 {
		opts.Users = DefaultDemoUsers
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC().Truncate(24 * time.Hour)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "cohortd", fmt.Sprintf("demo-%s-seed%d-u%d-a%d-e%d",
		opts.Now.Format("20060102"), opts.Seed, opts.Users, articles, events))
	if _, err := os.Stat(filepath.Join(dir, "events.ndjson")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("cannot create the demo data cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".demo-*")
	if err != nil {
		return "", fmt.Errorf("cannot create the demo data cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	cfg := gen.Config{Users: opts.Users, Articles: articles, Events: events, Seed: opts.Seed, Now: opts.Now}
	if err := gen.Generate(ctx, cfg, tmp, nil); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "events.ndjson")); statErr == nil {
			return dir, nil // another process made it first
		}
		return "", fmt.Errorf("cannot store the demo data: %w", err)
	}
	return dir, nil
}
