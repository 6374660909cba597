package milvus

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cohortd/cohortd/recommend"
)

const dim = 16

func randomItems(n int, seed uint64) []recommend.Item {
	rng := rand.New(rand.NewPCG(seed, 9))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]recommend.Item, n)
	for i := range out {
		v := make([]float32, dim)
		var n2 float64
		for j := range v {
			v[j] = float32(rng.NormFloat64())
			n2 += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(n2))
		}
		out[i] = recommend.Item{ID: fmt.Sprintf("a-%03d", i), Vector: v, PublishedAt: base.Add(time.Duration(i) * time.Hour)}
	}
	return out
}

func open(t *testing.T, addr, name string) *Index {
	t.Helper()
	x, err := Open(context.Background(), Config{Address: addr, Collection: name, Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func TestOpenCreatesAnHNSWCosineCollectionOnce(t *testing.T) {
	f, addr := startFake(t)
	open(t, addr, "arts")
	c := f.colls["arts"]
	if c == nil || c.dim != dim || !c.loaded {
		t.Fatalf("collection not created with dim %d and loaded: %+v", dim, c)
	}
	var names []string
	for _, fld := range c.schema.GetFields() {
		names = append(names, fld.GetName()+":"+fld.GetDataType().String())
	}
	if want := []string{"id:VarChar", "published_at:Int64", "vector:FloatVector"}; !slices.Equal(names, want) {
		t.Errorf("fields = %v, want %v", names, want)
	}
	kv := f.indexKVs["arts"]
	if kv["index_type"] != "HNSW" || kv["metric_type"] != "COSINE" || !strings.Contains(kv["params"], `"M":"16"`) && !strings.Contains(kv["params"], `"M":16`) {
		t.Errorf("index params = %v, want HNSW, COSINE, M 16", kv)
	}
	// A second Open reuses the collection.
	created := count(f.calls, "CreateCollection")
	open(t, addr, "arts")
	if n := count(f.calls, "CreateCollection"); n != created {
		t.Errorf("CreateCollection called again (%d times)", n)
	}
	// ... but refuses one of another dimension.
	if _, err := Open(context.Background(), Config{Address: addr, Collection: "arts", Dim: dim + 1}); err == nil || !strings.Contains(err.Error(), "dimensions") {
		t.Errorf("Open with another dimension: err = %v", err)
	}
}

func count(calls []string, name string) int {
	n := 0
	for _, c := range calls {
		if c == name {
			n++
		}
	}
	return n
}

func TestSearchMatchesTheExactIndex(t *testing.T) {
	_, addr := startFake(t)
	x := open(t, addr, "arts")
	items := randomItems(300, 1)
	ctx := context.Background()
	exact := recommend.NewExactIndex(dim)
	if err := exact.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	x.cfg.BatchSize = 64 // several batches
	if err := x.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	if n := x.Len(); n != len(items) {
		t.Errorf("Len = %d, want %d", n, len(items))
	}
	base := items[0].PublishedAt
	for _, tc := range []struct {
		name string
		f    recommend.Filter
	}{
		{name: "no filter"},
		{name: "exclusions", f: recommend.Filter{Exclude: []string{"a-001", "a-017", "a-200", "unknown"}}},
		{name: "window", f: recommend.Filter{PublishedAfter: base.Add(50 * time.Hour), PublishedBefore: base.Add(120 * time.Hour)}},
		{name: "both", f: recommend.Filter{Exclude: []string{"a-060", "a-061"}, PublishedAfter: base.Add(50 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for qi := 0; qi < 5; qi++ {
				q := items[qi*41].Vector
				want, err := exact.Search(ctx, q, 10, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := x.Search(ctx, q, 10, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("got %d hits, want %d", len(got), len(want))
				}
				for i := range got {
					if got[i].ID != want[i].ID || math.Abs(float64(got[i].Score-want[i].Score)) > 1e-4 {
						t.Fatalf("hit %d = %+v, exact index says %+v", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestUpsertReplacesAndDeleteRemoves(t *testing.T) {
	f, addr := startFake(t)
	x := open(t, addr, "users")
	ctx := context.Background()
	items := randomItems(20, 2)
	if err := x.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	// a-003 now points where a-010 is.
	moved := recommend.Item{ID: "a-003", Vector: items[10].Vector}
	if err := x.Upsert(ctx, moved); err != nil {
		t.Fatal(err)
	}
	hits, err := x.Search(ctx, items[10].Vector, 2, recommend.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if ids := []string{hits[0].ID, hits[1].ID}; !slices.Contains(ids, "a-003") || !slices.Contains(ids, "a-010") {
		t.Fatalf("after the replace, nearest = %v", ids)
	}
	if err := x.Delete(ctx, "a-003", `we"ird\id`); err != nil {
		t.Fatal(err)
	}
	if _, there := f.colls["users"].rows["a-003"]; there || x.Len() != 19 {
		t.Fatalf("a-003 still stored (len %d)", x.Len())
	}
	if err := x.Upsert(ctx, recommend.Item{ID: "short", Vector: []float32{1}}); err == nil {
		t.Error("a vector of the wrong dimension was accepted")
	}
}

func TestFilterExpr(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name string
		f    recommend.Filter
		want string
	}{
		{name: "none", want: ""},
		{name: "exclude", f: recommend.Filter{Exclude: []string{"a", `b"c`, `d\e`}}, want: `id not in ["a", "b\"c", "d\\e"]`},
		{name: "window", f: recommend.Filter{PublishedAfter: at, PublishedBefore: at.Add(time.Second)}, want: "published_at >= 1700000000 && published_at <= 1700000001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FilterExpr(tc.f)
			if got != tc.want {
				t.Fatalf("FilterExpr = %q, want %q", got, tc.want)
			}
			// What the adapter writes, the server parses back.
			pred, err := parseExpr(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tc.f.Exclude {
				if pred(id, at.Unix()) {
					t.Errorf("excluded id %q passes", id)
				}
			}
		})
	}
}

// TestRecommenderOverMilvus wires both collections into a Recommender:
// the strategies work and exclusions hold with Milvus doing the search.
func TestRecommenderOverMilvus(t *testing.T) {
	f, addr := startFake(t)
	ctx := context.Background()
	emb := recommend.NewLexicalEmbedder(64, nil)
	arts, users, err := OpenPair(ctx, Config{Address: addr, Dim: 64}, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer arts.Close()
	defer users.Close()
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	r, err := recommend.New(recommend.Options{Embedder: emb, ArticleIndex: arts, UserIndex: users, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{"cycling", "running", "climbing", "swimming"}
	var list []recommend.Article
	for i := range 80 {
		tp := topics[i%4]
		list = append(list, recommend.Article{ID: fmt.Sprintf("a-%02d", i), Title: fmt.Sprintf("%s story %d", tp, i),
			Topics: []string{tp}, PublishedAt: now.Add(-time.Duration(i) * 12 * time.Hour)})
	}
	if err := r.AddArticles(ctx, list); err != nil {
		t.Fatal(err)
	}
	for u := range 6 {
		for k := range 6 {
			a := list[(u%2)*2+4*k] // users 0,2,4 read cycling; 1,3,5 climbing
			if err := r.AddRead(fmt.Sprintf("u-%d", u), a.ID, now.Add(-time.Duration(k+1)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.RebuildUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.colls["test_users"].rows); n != 6 {
		t.Fatalf("user collection has %d rows, want 6", n)
	}
	for _, s := range []recommend.Strategy{recommend.StrategyContent, recommend.StrategyCollaborative, recommend.StrategyBlended} {
		resp, err := r.Recommend(ctx, recommend.Request{UserID: "u-0", Context: recommend.RequestContext{ExcludeIDs: []string{"a-08"}},
			Config: recommend.RequestConfig{Count: 5, Strategy: s}})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if len(resp.Recommendations) != 5 {
			t.Fatalf("%s: %d recommendations", s, len(resp.Recommendations))
		}
		read := map[string]bool{"a-08": true}
		for _, id := range r.History("u-0") {
			read[id] = true
		}
		for _, rec := range resp.Recommendations {
			if read[rec.ArticleID] {
				t.Errorf("%s recommended %s, read or excluded", s, rec.ArticleID)
			}
		}
		if s == recommend.StrategyContent && resp.Recommendations[0].Topics[0] != "cycling" {
			t.Errorf("content for a cycling reader starts with %v", resp.Recommendations[0].Topics)
		}
	}
	var sawExclusion bool
	for _, e := range f.exprs {
		sawExclusion = sawExclusion || strings.Contains(e, `id not in [`) && strings.Contains(e, `"a-08"`)
	}
	if !sawExclusion {
		t.Errorf("no search carried the exclusions as a filter expression: %q", f.exprs)
	}
	if err := r.DeleteUser(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	if _, there := f.colls["test_users"].rows["u-1"]; there {
		t.Error("a deleted user stays in the Milvus user collection")
	}
}
