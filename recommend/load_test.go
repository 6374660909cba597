package recommend

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	r, st, err := Load(context.Background(), "testdata/data", Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// 4 articles in the file plus one published by an event (a-2's event
	// replaces the file's a-2); 1 malformed line skipped; u-2's read before
	// its deletion erased, the one after kept; the repeated e-2 counted once.
	if st.Articles != 5 || st.Skipped != 1 || st.Deleted != 1 {
		t.Errorf("stats %+v", st)
	}
	if got := r.History("u-1"); !slices.Equal(got, []string{"a-1", "a-2"}) {
		t.Errorf("u-1 history %v", got)
	}
	if got := r.History("u-2"); !slices.Equal(got, []string{"a-5"}) {
		t.Errorf("u-2 history %v (reads before the deletion must be gone)", got)
	}
	arts, users := r.Len()
	if arts != 5 || users != 2 {
		t.Errorf("Len = %d articles, %d users", arts, users)
	}
	r.mu.RLock()
	title := r.arts[r.byID["a-2"]].title
	r.mu.RUnlock()
	if title != "Gravel Tyres Tested Again" {
		t.Errorf("a-2 title %q: the article_published event did not replace the file's", title)
	}
	if _, ok := r.UserVector("u-1"); !ok {
		t.Error("u-1 has no vector after Load")
	}
	resp, err := r.Recommend(context.Background(), Request{UserID: "u-1", Config: RequestConfig{Count: 2, DiversityFactor: ptr(0.0)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(resp.Recommendations); len(got) != 2 || slices.Contains(got, "a-1") || slices.Contains(got, "a-2") || got[0] != "a-5" {
		t.Errorf("u-1 (cycling, gravel) gets %v; want a-5 (gravel) first and nothing read", got)
	}
}

func TestLoadGzipAndErrors(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"articles.ndjson", "events.ndjson"} {
		data, err := os.ReadFile(filepath.Join("testdata/data", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		zw.Write(data)
		zw.Close()
		f.Close()
	}
	_, st, err := Load(context.Background(), dir, Options{})
	if err != nil || st.Articles != 5 {
		t.Fatalf("gzip data: %+v, %v", st, err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "articles.ndjson"), []byte(`{"article_id":"a","title":"x"}`+"\n"+`{"title":"no id"}`+"\n"), 0o644)
	if _, _, err := Load(context.Background(), bad, Options{}); err == nil {
		t.Error("an article without id was accepted")
	}
	if _, _, err := Load(context.Background(), filepath.Join(bad, "missing"), Options{}); err == nil {
		t.Error("a missing directory was accepted")
	}
}
