package recommend

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

var testExperiments = []Experiment{
	{Name: "recs-2026-01", Variants: []Variant{
		{Name: "control", Strategy: StrategyBlended},
		{Name: "diverse", Strategy: StrategyBlended, DiversityFactor: ptr(0.6)},
		{Name: "content", Strategy: StrategyContent},
	}},
	{Name: "old", Paused: true, Variants: []Variant{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}}},
}

func TestBucketIsStable(t *testing.T) {
	exps, err := newExperiments(testExperiments)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := newExperiments(testExperiments)
	for i := range 1000 {
		u := fmt.Sprintf("user-%d", i)
		a, b := Bucket(exps.active, u), Bucket(again.active, u)
		if a.Name != b.Name || Bucket(exps.active, u).Name != a.Name {
			t.Fatalf("user %s: %s then %s", u, a.Name, b.Name)
		}
	}
	// Pinned values: the hash must not change between releases, or users
	// would switch arms mid-experiment.
	for u, want := range map[string]string{"u-1": "diverse", "u-2": "control", "f03f8762-bd4b-42dc-a989-800836b1bd7e": "control", "42": "control"} {
		if got := Bucket(&testExperiments[0], u).Name; got != want {
			t.Errorf("Bucket(%s) = %s, want %s", u, got, want)
		}
	}
}

func TestBucketIsBalanced(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exp   *Experiment
		share map[string]float64
	}{
		{name: "three equal arms", exp: &testExperiments[0], share: map[string]float64{"control": 1. / 3, "diverse": 1. / 3, "content": 1. / 3}},
		{name: "weights 3:1", exp: &testExperiments[1], share: map[string]float64{"a": 0.75, "b": 0.25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 60000
			counts := map[string]int{}
			for i := range n {
				counts[Bucket(tc.exp, fmt.Sprintf("%08x-user", i*2654435761)).Name]++
			}
			// Chi-square against the expected shares; 13.8 is the 0.999
			// quantile for 2 degrees of freedom (a looser bound for 1).
			var chi float64
			for arm, p := range tc.share {
				e := p * n
				chi += math.Pow(float64(counts[arm])-e, 2) / e
			}
			if chi > 13.8 {
				t.Errorf("counts %v: chi-square %.1f", counts, chi)
			}
		})
	}
}

func TestExperimentAppliesToRequestsWithoutStrategy(t *testing.T) {
	r := smallWorld(t, Options{Experiments: testExperiments})
	ctx := context.Background()
	seen := map[string]bool{}
	for _, u := range []string{"cyclist", "cyclist2", "climber", "climber2", "crowd-1", "crowd-2", "crowd-3", "crowd-4", "crowd-5", "crowd-6"} {
		resp, err := r.Recommend(ctx, Request{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		v := Bucket(&testExperiments[0], u)
		if resp.Experiment != "recs-2026-01" || resp.Variant != v.Name {
			t.Fatalf("%s: experiment %q variant %q, want %q", u, resp.Experiment, resp.Variant, v.Name)
		}
		if !resp.ColdStart && resp.StrategyUsed != v.Strategy {
			t.Errorf("%s: strategy %q, variant says %q", u, resp.StrategyUsed, v.Strategy)
		}
		seen[v.Name] = true
		// An explicit strategy opts out.
		resp, err = r.Recommend(ctx, Request{UserID: u, Config: RequestConfig{Strategy: StrategyPopular}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Variant != "" || resp.StrategyUsed != StrategyPopular {
			t.Errorf("%s: explicit strategy still bucketed (%q, %q)", u, resp.Variant, resp.StrategyUsed)
		}
	}
	if len(seen) < 2 {
		t.Errorf("10 users all in %v", seen)
	}
}

func TestFeedbackAndResults(t *testing.T) {
	r := smallWorld(t, Options{Experiments: testExperiments})
	var fb []Feedback
	// control: 1000 impressions, 50 clicks; diverse: 1000 and 80.
	for i := range 1000 {
		fb = append(fb, Feedback{UserID: "u", ArticleID: "a", Type: "impression", Variant: "control"},
			Feedback{UserID: "u", ArticleID: "a", Type: "impression", Variant: "diverse"})
		if i < 50 {
			fb = append(fb, Feedback{UserID: "u", ArticleID: "a", Type: "click", Variant: "control"})
		}
		if i < 80 {
			fb = append(fb, Feedback{UserID: "u", ArticleID: "a", Type: "click", Variant: "diverse"})
		}
	}
	if err := r.RecordFeedback(fb); err != nil {
		t.Fatal(err)
	}
	res, err := r.Results("recs-2026-01")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]VariantResult{}
	for _, v := range res.Variants {
		byName[v.Name] = v
	}
	ctl, div := byName["control"], byName["diverse"]
	if ctl.Clicks != 50 || div.Clicks != 80 || ctl.CTR != 0.05 || div.CTR != 0.08 {
		t.Fatalf("control %+v, diverse %+v", ctl, div)
	}
	// Wilson 95% interval of 50/1000 is [0.0381, 0.0653].
	if math.Abs(ctl.CILow-0.0381) > 5e-4 || math.Abs(ctl.CIHigh-0.0653) > 5e-4 {
		t.Errorf("control interval [%.4f, %.4f], want [0.0381, 0.0653]", ctl.CILow, ctl.CIHigh)
	}
	if div.Lift == nil || math.Abs(*div.Lift-0.6) > 1e-9 || !div.Significant || *div.LiftCILow <= 0 {
		t.Errorf("diverse lift %v [%v, %v], significant %v", div.Lift, div.LiftCILow, div.LiftCIHigh, div.Significant)
	}
	// Without a variant, the user's bucket is used ("u-2" is in control).
	if err := r.RecordFeedback([]Feedback{{UserID: "u-2", ArticleID: "a", Type: "impression"}}); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Results("recs-2026-01"); res.Variants[0].Impressions != 1001 {
		t.Errorf("the bucketed impression was not counted for control: %+v", res.Variants[0])
	}
	if !res.Active || res.Control != "control" || res.Confidence != 0.95 {
		t.Errorf("results header %+v", res)
	}
	for _, bad := range []Feedback{
		{UserID: "u", ArticleID: "a", Type: "view"},
		{ArticleID: "a", Type: "click"},
		{UserID: "u", ArticleID: "a", Type: "click", Experiment: "nope"},
		{UserID: "u", ArticleID: "a", Type: "click", Variant: "nope"},
	} {
		if err := r.RecordFeedback([]Feedback{{UserID: "u", ArticleID: "a", Type: "click", Variant: "control"}, bad}); err == nil {
			t.Errorf("feedback %+v accepted", bad)
		}
	}
	if res, _ := r.Results("recs-2026-01"); res.Variants[0].Clicks != 50 {
		t.Error("a rejected batch was partly counted")
	}
	if _, err := r.Results("nope"); err == nil {
		t.Error("results of an unknown experiment")
	}
}

func TestParseExperiments(t *testing.T) {
	good := `
listen: 127.0.0.1:8080
experiments:
  - name: recs
    variants:
      - {name: control, strategy: blended}
      - {name: diverse, diversity_factor: 0.5, weight: 2}
      - name: tuned
        blend: {similarity: 0.7, freshness: 0.1}
`
	exps, err := ParseExperiments([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 1 || len(exps[0].Variants) != 3 || *exps[0].Variants[1].DiversityFactor != 0.5 || exps[0].Variants[2].Blend.Similarity != 0.7 {
		t.Fatalf("parsed %+v", exps)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "experiments:\n  - name: x\n    variant: []\n", "variant"},
		{"bad strategy", "experiments:\n  - name: x\n    variants: [{name: a, strategy: magic}]\n", "unknown strategy"},
		{"two active", "experiments:\n  - {name: x, variants: [{name: a}]}\n  - {name: y, variants: [{name: a}]}\n", "both active"},
		{"duplicate variant", "experiments:\n  - {name: x, variants: [{name: a}, {name: a}]}\n", "twice"},
		{"no variants", "experiments:\n  - {name: x}\n", "no variants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseExperiments([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if exps, err := ParseExperiments([]byte("listen: x\n")); err != nil || exps != nil {
		t.Errorf("no experiments section: %v, %v", exps, err)
	}
}
