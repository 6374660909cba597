package recommend

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Experiment is an A/B test of recommendation settings. Users are bucketed
// by a stable hash of (experiment name, user_id): a user always sees the
// same variant, and variants get traffic in proportion to their weights.
// The active experiment applies to requests that name no strategy.
//
// In cohortd.yaml:
//
//	experiments:
//	  - name: recs-2026-01
//	    variants:
//	      - {name: control, strategy: blended}
//	      - {name: diverse, strategy: blended, diversity_factor: 0.5}
//	      - {name: content, strategy: content, weight: 0.5}
type Experiment struct {
	Name string `yaml:"name" json:"name"`
	// Paused experiments bucket no request but keep their results.
	Paused   bool      `yaml:"paused" json:"paused"`
	Variants []Variant `yaml:"variants" json:"variants"`
}

// Variant is one arm of an experiment.
type Variant struct {
	Name string `yaml:"name" json:"name"`
	// Weight is the arm's share of traffic relative to the others (default 1).
	Weight          float64       `yaml:"weight" json:"weight"`
	Strategy        Strategy      `yaml:"strategy" json:"strategy"`
	DiversityFactor *float64      `yaml:"diversity_factor" json:"diversity_factor,omitempty"`
	Blend           *BlendWeights `yaml:"blend" json:"blend,omitempty"`
}

// ParseExperiments reads the `experiments:` section of a YAML config
// (unknown keys are errors; other top-level sections are ignored).
func ParseExperiments(data []byte) ([]Experiment, error) {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("cannot read experiments: %w", err)
	}
	node, ok := doc["experiments"]
	if !ok {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(&node); err != nil {
		return nil, fmt.Errorf("cannot read experiments: %w", err)
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	var exps []Experiment
	if err := dec.Decode(&exps); err != nil {
		return nil, fmt.Errorf("cannot read experiments (line %d): %w", node.Line, err)
	}
	if _, err := newExperiments(exps); err != nil {
		return nil, err
	}
	return exps, nil
}

// experiments holds the configured experiments and their counters. Safe for
// concurrent use.
type experiments struct {
	list   []Experiment
	byName map[string]*Experiment
	active *Experiment

	mu     sync.Mutex
	counts map[string]map[string]*variantCounts // experiment → variant
}

type variantCounts struct{ impressions, clicks int64 }

func newExperiments(list []Experiment) (*experiments, error) {
	e := &experiments{byName: map[string]*Experiment{}, counts: map[string]map[string]*variantCounts{}}
	for i := range list {
		x := list[i]
		x.Variants = append([]Variant(nil), x.Variants...)
		if x.Name == "" {
			return nil, fmt.Errorf("experiment %d has no name", i+1)
		}
		if _, dup := e.byName[x.Name]; dup {
			return nil, fmt.Errorf("experiment %q is defined twice", x.Name)
		}
		if len(x.Variants) < 1 {
			return nil, fmt.Errorf("experiment %q has no variants", x.Name)
		}
		seen := map[string]bool{}
		e.counts[x.Name] = map[string]*variantCounts{}
		for k := range x.Variants {
			v := &x.Variants[k]
			switch {
			case v.Name == "":
				return nil, fmt.Errorf("experiment %q: variant %d has no name", x.Name, k+1)
			case seen[v.Name]:
				return nil, fmt.Errorf("experiment %q: variant %q is defined twice", x.Name, v.Name)
			case v.Weight < 0 || math.IsNaN(v.Weight) || math.IsInf(v.Weight, 0):
				return nil, fmt.Errorf("experiment %q: variant %q has weight %v", x.Name, v.Name, v.Weight)
			case v.Strategy == "":
				v.Strategy = StrategyBlended
			case !v.Strategy.valid():
				return nil, fmt.Errorf("experiment %q: variant %q has unknown strategy %q", x.Name, v.Name, v.Strategy)
			}
			if d := v.DiversityFactor; d != nil && (*d < 0 || *d > 1) {
				return nil, fmt.Errorf("experiment %q: variant %q has diversity_factor %v outside [0, 1]", x.Name, v.Name, *d)
			}
			if v.Blend != nil {
				if err := v.Blend.validate(); err != nil {
					return nil, fmt.Errorf("experiment %q: variant %q: %w", x.Name, v.Name, err)
				}
			}
			if v.Weight == 0 {
				v.Weight = 1
			}
			seen[v.Name] = true
			e.counts[x.Name][v.Name] = &variantCounts{}
		}
		e.list = append(e.list, x)
	}
	for i := range e.list {
		x := &e.list[i]
		e.byName[x.Name] = x
		if !x.Paused {
			if e.active != nil {
				return nil, fmt.Errorf("experiments %q and %q are both active; pause one", e.active.Name, x.Name)
			}
			e.active = x
		}
	}
	return e, nil
}

// Bucket returns the variant of exp that userID falls in: a stable hash of
// the experiment name and the user id, mapped onto the variants' weights.
func Bucket(exp *Experiment, userID string) *Variant {
	if exp == nil || len(exp.Variants) == 0 {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(exp.Name))
	h.Write([]byte{0})
	h.Write([]byte(userID))
	x := mix64(h.Sum64())
	u := float64(x>>11) / (1 << 53) // uniform in [0, 1)
	var total float64
	for _, v := range exp.Variants {
		total += weightOf(v)
	}
	acc := 0.0
	for i := range exp.Variants {
		acc += weightOf(exp.Variants[i]) / total
		if u < acc {
			return &exp.Variants[i]
		}
	}
	return &exp.Variants[len(exp.Variants)-1]
}

func weightOf(v Variant) float64 {
	if v.Weight <= 0 {
		return 1
	}
	return v.Weight
}

// mix64 is splitmix64's finaliser: FNV's low bits alone are not uniform
// enough for bucketing.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// assign returns the active experiment and userID's variant in it.
func (e *experiments) assign(userID string) (*Experiment, *Variant) {
	if e == nil || e.active == nil {
		return nil, nil
	}
	return e.active, Bucket(e.active, userID)
}

// Feedback is one impression or click of a recommended article, as posted
// to POST /api/v1/feedback.
type Feedback struct {
	UserID    string `json:"user_id"`
	ArticleID string `json:"article_id"`
	// Type is "impression" or "click".
	Type string `json:"type"`
	// Experiment defaults to the active one; Variant to the user's bucket
	// in it (clients may echo the response's variant instead).
	Experiment string    `json:"experiment,omitempty"`
	Variant    string    `json:"variant,omitempty"`
	TS         time.Time `json:"ts,omitzero"`
}

// ErrNoExperiment is returned (wrapped) for feedback or results naming an
// experiment that is not configured, or when none is active.
var ErrNoExperiment = errors.New("unknown experiment")

// RecordFeedback counts impressions and clicks per experiment variant. Only
// counters are kept (no user ids), so user deletion has nothing to erase.
// It checks every item before counting any.
func (r *Recommender) RecordFeedback(items []Feedback) error {
	e := r.exps
	type hit struct {
		c     *variantCounts
		click bool
	}
	hits := make([]hit, 0, len(items))
	for i, f := range items {
		if f.UserID == "" {
			return &InputError{Code: "missing_user_id", Message: fmt.Sprintf("feedback %d: user_id is required", i+1), Field: "user_id"}
		}
		if f.ArticleID == "" {
			return &InputError{Code: "missing_article_id", Message: fmt.Sprintf("feedback %d: article_id is required", i+1), Field: "article_id"}
		}
		if f.Type != "impression" && f.Type != "click" {
			return &InputError{Code: "invalid_feedback_type", Message: fmt.Sprintf("feedback %d: type must be \"impression\" or \"click\" (got %q)", i+1, f.Type), Field: "type"}
		}
		var exp *Experiment
		if f.Experiment != "" {
			exp = e.byName[f.Experiment]
		} else {
			exp = e.active
		}
		if exp == nil {
			return &InputError{Code: "unknown_experiment", Message: fmt.Sprintf("feedback %d: %v %q (no such experiment is configured, or none is active)", i+1, ErrNoExperiment, f.Experiment), Field: "experiment"}
		}
		variant := f.Variant
		if variant == "" {
			variant = Bucket(exp, f.UserID).Name
		}
		c := e.counts[exp.Name][variant]
		if c == nil {
			return &InputError{Code: "unknown_variant", Message: fmt.Sprintf("feedback %d: experiment %q has no variant %q", i+1, exp.Name, variant), Field: "variant"}
		}
		hits = append(hits, hit{c, f.Type == "click"})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range hits {
		if h.click {
			h.c.clicks++
		} else {
			h.c.impressions++
		}
	}
	return nil
}

// ExperimentResults is the answer of GET /api/v1/experiments/{name}.
type ExperimentResults struct {
	Experiment string `json:"experiment"`
	Active     bool   `json:"active"`
	// Confidence is the level of every interval (0.95).
	Confidence float64         `json:"confidence"`
	Control    string          `json:"control"`
	Variants   []VariantResult `json:"variants"`
}

// VariantResult is one arm's click-through rate with its Wilson score
// interval, and its relative lift over the control (the first variant) with
// a delta-method interval on the log ratio.
type VariantResult struct {
	Name        string   `json:"name"`
	Strategy    Strategy `json:"strategy"`
	Weight      float64  `json:"weight"`
	Impressions int64    `json:"impressions"`
	Clicks      int64    `json:"clicks"`
	CTR         float64  `json:"ctr"`
	CILow       float64  `json:"ci_low"`
	CIHigh      float64  `json:"ci_high"`
	// Lift is CTR/CTR(control) − 1; nil for the control or without data.
	Lift       *float64 `json:"lift,omitempty"`
	LiftCILow  *float64 `json:"lift_ci_low,omitempty"`
	LiftCIHigh *float64 `json:"lift_ci_high,omitempty"`
	// Significant: the lift's interval excludes 0.
	Significant bool `json:"significant"`
}

const z95 = 1.959963984540054

// Results reports an experiment's CTR per variant.
func (r *Recommender) Results(name string) (*ExperimentResults, error) {
	e := r.exps
	exp := e.byName[name]
	if exp == nil {
		return nil, fmt.Errorf("%w %q", ErrNoExperiment, name)
	}
	out := &ExperimentResults{Experiment: name, Active: e.active == exp, Confidence: 0.95, Control: exp.Variants[0].Name}
	e.mu.Lock()
	for _, v := range exp.Variants {
		c := e.counts[name][v.Name]
		vr := VariantResult{Name: v.Name, Strategy: v.Strategy, Weight: v.Weight, Impressions: c.impressions, Clicks: c.clicks}
		vr.CTR, vr.CILow, vr.CIHigh = wilson(c.clicks, c.impressions)
		out.Variants = append(out.Variants, vr)
	}
	e.mu.Unlock()
	ctl := out.Variants[0]
	for i := 1; i < len(out.Variants); i++ {
		v := &out.Variants[i]
		if ctl.Impressions == 0 || v.Impressions == 0 || ctl.CTR == 0 || v.CTR == 0 {
			continue
		}
		p0, p1 := ctl.CTR, v.CTR
		lift := p1/p0 - 1
		se := math.Sqrt((1-p1)/(float64(v.Impressions)*p1) + (1-p0)/(float64(ctl.Impressions)*p0))
		lo := math.Exp(math.Log(p1/p0)-z95*se) - 1
		hi := math.Exp(math.Log(p1/p0)+z95*se) - 1
		v.Lift, v.LiftCILow, v.LiftCIHigh = &lift, &lo, &hi
		v.Significant = lo > 0 || hi < 0
	}
	return out, nil
}

// wilson returns clicks/n and its 95% Wilson score interval (0, 0, 1 with
// no impressions). Clicks beyond impressions count as a CTR of 1.
func wilson(clicks, n int64) (p, lo, hi float64) {
	if n <= 0 {
		return 0, 0, 1
	}
	p = min(1, float64(clicks)/float64(n))
	nf := float64(n)
	z2 := z95 * z95
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return p, max(0, center-half), min(1, center+half)
}

// Experiments returns the configured experiments.
func (r *Recommender) Experiments() []Experiment {
	return append([]Experiment(nil), r.exps.list...)
}
