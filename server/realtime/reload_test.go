package realtime

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
)

// TestReloadForNewCatalogKeepsStreamedEffects: a reload whose catalog
// changes reads the data source again; the events applied since (an update,
// a new user, an erasure) must survive it — the erased user above all.
func TestReloadForNewCatalogKeepsStreamedEffects(t *testing.T) {
	set := loadSet(t)
	src, err := os.ReadFile("testdata/cohorts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "attributes:\n", "attributes:\n  added_later:       {type: int}\n", 1)
	set2, err := compiler.CompileData("cohorts.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// The data source: a file that does not change.
	source := func(_ context.Context, set *compiler.Set) (*bitmaps.Index, error) {
		b := bitmaps.NewBuilder(set.Schema())
		for _, u := range []string{"u000", "u001", "u002"} {
			row := make(bitmaps.Row, len(set.Schema()))
			for i, f := range set.Schema() {
				if f.Name == "engagement_tier" {
					row[i] = "loyal"
				}
			}
			if err := b.Add(u, row); err != nil {
				return nil, err
			}
		}
		return b.Build(), nil
	}
	p, err := New(Config{Clock: func() time.Time { return testNow }, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.LoadIndex(ctx, set, source); err != nil {
		t.Fatal(err)
	}
	res := p.ApplyNDJSON([]byte(`{"event_id":"a","type":"profile_update","user_id":"u000","ts":"2025-06-01T00:00:00Z","attributes":{"engagement_tier":"champion"}}
{"event_id":"b","type":"page_view","user_id":"u900","article_id":"x","ts":"2025-06-01T00:00:00Z"}
{"event_id":"c","type":"user_deleted","user_id":"u001","ts":"2025-06-01T00:00:00Z"}
{"event_id":"d","type":"profile_update","user_id":"u002","ts":"2025-06-01T00:00:00Z","attributes":{"engagement_tier":null}}`), time.Now())
	if res.Accepted != 4 {
		t.Fatalf("accepted %d events: %+v", res.Accepted, res)
	}
	ix, err := p.LoadIndex(ctx, set2, source)
	if err != nil {
		t.Fatal(err)
	}
	if p.Index() != ix {
		t.Fatal("the pipeline does not apply to the new index")
	}
	value := func(u string) any {
		id, ok := ix.Lookup(u)
		if !ok {
			return "absent"
		}
		return ix.Value(id, "engagement_tier")
	}
	for u, want := range map[string]any{"u000": "champion", "u001": "absent", "u002": nil} {
		if got := value(u); got != want {
			t.Errorf("%s: engagement_tier %v, want %v", u, got, want)
		}
	}
	if _, ok := ix.Lookup("u900"); !ok {
		t.Error("the user a page view created is lost")
	}
	assertPublishedIsCurrent(t, p)
}
