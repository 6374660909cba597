package gen_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cohortd/cohortd/store/gen"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "cohortd-gen-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cfg := gen.Config{Users: 1000, Articles: 50, Events: 2000, Seed: 1,
		Now: time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)}
	if err := gen.Generate(context.Background(), cfg, dir, nil); err != nil {
		fmt.Println(err)
		return
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	for _, name := range names {
		fmt.Println(filepath.Base(name))
	}
	// Output:
	// articles.ndjson
	// events.ndjson
	// users.ndjson
}

func ExampleUsers() {
	cfg := gen.Config{Users: 1000, Seed: 1, Now: time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)}
	champions := 0
	err := gen.Users(cfg, func(rec map[string]any) error {
		if rec["engagement_tier"] == "champion" {
			champions++
		}
		return nil
	})
	fmt.Println(err, champions > 0 && champions < 150)
	// Output: <nil> true
}

func ExampleCatalog() {
	for _, f := range gen.Catalog()[:3] {
		fmt.Println(f.Name, f.Kind)
	}
	// Output:
	// engagement_tier string
	// engagement_score float
	// visits_30d int
}
