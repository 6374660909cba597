package recommend_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cohortd/cohortd/recommend"
)

func Example() {
	ctx := context.Background()
	now := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC)
	r, err := recommend.New(recommend.Options{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	day := 24 * time.Hour
	err = r.AddArticles(ctx, []recommend.Article{
		{ID: "a-1", Title: "Best Winter Cycling Gear", Topics: []string{"cycling", "gear-reviews"}, PublishedAt: now.Add(-3 * day)},
		{ID: "a-2", Title: "Gravel Bikes Tested", Topics: []string{"gravel", "cycling"}, PublishedAt: now.Add(-2 * day)},
		{ID: "a-3", Title: "A 12-Week Marathon Plan", Topics: []string{"marathon"}, PublishedAt: now.Add(-2 * day)},
		{ID: "a-4", Title: "Cycling Lights for Dark Mornings", Topics: []string{"cycling"}, PublishedAt: now.Add(-1 * day)},
	})
	if err != nil {
		panic(err)
	}
	_ = r.AddRead("u-42", "a-1", now.Add(-time.Hour)) // a page_view event

	resp, err := r.Recommend(ctx, recommend.Request{UserID: "u-42",
		Config: recommend.RequestConfig{Count: 2, Strategy: recommend.StrategyContent}})
	if err != nil {
		panic(err)
	}
	for _, rec := range resp.Recommendations {
		fmt.Printf("%s %q: %s\n", rec.ArticleID, rec.Title, rec.Reason)
	}
	// Output:
	// a-4 "Cycling Lights for Dark Mornings": Based on your interest in cycling
	// a-2 "Gravel Bikes Tested": Based on your interest in cycling
}

func ExampleBucket() {
	exp := &recommend.Experiment{Name: "recs-2026-01", Variants: []recommend.Variant{
		{Name: "control", Strategy: recommend.StrategyBlended},
		{Name: "content", Strategy: recommend.StrategyContent},
	}}
	// The same user always lands in the same variant.
	fmt.Println(recommend.Bucket(exp, "u-42").Name == recommend.Bucket(exp, "u-42").Name)
	// Output: true
}

func ExampleLexicalEmbedder() {
	e := recommend.NewLexicalEmbedder(recommend.LexicalDim, nil)
	gravel := e.EmbedOne(recommend.Document{Title: "Gravel Bikes Tested", Topics: []string{"gravel"}})
	tyres := e.EmbedOne(recommend.Document{Title: "Gravel Tyres", Topics: []string{"gravel"}})
	marathon := e.EmbedOne(recommend.Document{Title: "Marathon Plan", Topics: []string{"marathon"}})
	cos := func(a, b []float32) (s float32) {
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	fmt.Println(len(gravel), cos(gravel, tyres) > cos(gravel, marathon))
	// Output: 768 true
}
