package recommend

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Strategy names a way of choosing articles.
type Strategy string

// The strategies of the HTTP contract, plus "popular" (the baseline and the
// cold-start answer).
const (
	// StrategyContent: the articles nearest the user's vector (and the
	// current article, session topics), favouring fresh ones.
	StrategyContent Strategy = "content"
	// StrategyCollaborative: what the nearest readers (by user vector) read
	// and this user has not, weighted by their similarity.
	StrategyCollaborative Strategy = "collaborative"
	// StrategySeasonal: content that was popular in the same weeks of past
	// years, for the user's topics.
	StrategySeasonal Strategy = "seasonal"
	// StrategySerendipity: seeded, controlled randomness among good articles
	// outside the user's top topics.
	StrategySerendipity Strategy = "serendipity"
	// StrategyBlended (the default) mixes similarity, freshness, popularity,
	// collaborative and seasonal signals with BlendWeights.
	StrategyBlended Strategy = "blended"
	// StrategyPopular: the most read articles of the last weeks.
	StrategyPopular Strategy = "popular"
)

// Strategies lists the valid strategy names.
var Strategies = []Strategy{StrategyContent, StrategyCollaborative, StrategySeasonal, StrategySerendipity, StrategyBlended, StrategyPopular}

func (s Strategy) valid() bool {
	for _, v := range Strategies {
		if s == v {
			return true
		}
	}
	return false
}

// Request is the body of POST /api/v1/recommendations.
type Request struct {
	UserID  string         `json:"user_id"`
	Context RequestContext `json:"context"`
	Config  RequestConfig  `json:"config"`
	// Now overrides the recommender's clock for this request (offline
	// evaluation, replays); not part of the JSON contract.
	Now time.Time `json:"-"`
}

// RequestContext describes what the user is doing.
type RequestContext struct {
	// CurrentArticleID asks for "more like this" (and is never returned).
	CurrentArticleID string `json:"current_article_id,omitempty"`
	// SessionTopics boosts articles of these topics.
	SessionTopics []string `json:"session_topics,omitempty"`
	// ExcludeIDs are never returned.
	ExcludeIDs []string `json:"exclude_ids,omitempty"`
}

// RequestConfig tunes one answer.
type RequestConfig struct {
	// Count is how many articles to return (default 10, at most MaxCount).
	Count int `json:"count,omitempty"`
	// Strategy defaults to the user's experiment variant, else blended.
	Strategy Strategy `json:"strategy,omitempty"`
	// DiversityFactor is MMR's 1−λ in [0, 1]: 0 ranks by relevance alone,
	// higher values trade relevance for articles unlike those already
	// picked (default Options.DiversityFactor, 0.2).
	DiversityFactor *float64 `json:"diversity_factor,omitempty"`
	// Seed fixes serendipity's randomness (default: the user and the day,
	// so a user sees the same picks all day).
	Seed *uint64 `json:"seed,omitempty"`

	// countGiven: the JSON named count (0 given is out of range; absent
	// is the default).
	countGiven bool
}

// UnmarshalJSON decodes the config, noting whether count was given.
func (c *RequestConfig) UnmarshalJSON(b []byte) error {
	type plain RequestConfig
	var given struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	if json.Unmarshal(b, &given) == nil {
		c.countGiven = given.Count != nil
	}
	return nil
}

// MaxCount bounds RequestConfig.Count.
const MaxCount = 100

// Response is the answer of POST /api/v1/recommendations.
type Response struct {
	Recommendations  []Recommendation `json:"recommendations"`
	StrategyUsed     Strategy         `json:"strategy_used"`
	EmbeddingVersion string           `json:"embedding_version"`
	// Experiment and Variant name the A/B test arm that chose the strategy.
	Experiment string `json:"experiment,omitempty"`
	Variant    string `json:"variant,omitempty"`
	// ColdStart is set when the user had no history to work from.
	ColdStart bool `json:"cold_start,omitempty"`
}

// Recommendation is one recommended article.
type Recommendation struct {
	ArticleID string   `json:"article_id"`
	Title     string   `json:"title"`
	Topics    []string `json:"topics,omitempty"`
	Score     float64  `json:"score"`
	Reason    string   `json:"reason"`
}

// InputError is a request that cannot be answered as asked; the HTTP
// handlers answer it with 422 (or 404 for an unknown cohort).
type InputError struct {
	Code    string // snake_case, e.g. "invalid_strategy"
	Message string
	Field   string // the JSON field at fault, when one is
}

func (e *InputError) Error() string { return e.Message }

// ErrUnknownCohort is returned (wrapped) by RecommendForCohort for a cohort
// the CohortLookup does not know.
var ErrUnknownCohort = errors.New("unknown cohort")

// ErrNoCohorts is returned by RecommendForCohort when no CohortLookup was
// configured.
var ErrNoCohorts = errors.New("no cohort lookup configured")

func (req *Request) validate() error {
	if req.UserID == "" {
		return &InputError{Code: "missing_user_id", Message: "user_id is required", Field: "user_id"}
	}
	c := &req.Config
	if c.Count < 0 || c.Count > MaxCount || (c.countGiven && c.Count == 0) {
		return &InputError{Code: "invalid_count", Message: fmt.Sprintf("count must be between 1 and %d (got %d)", MaxCount, c.Count), Field: "config.count"}
	}
	if c.Strategy != "" && !c.Strategy.valid() {
		return &InputError{Code: "invalid_strategy", Message: fmt.Sprintf("unknown strategy %q (want one of %v)", c.Strategy, Strategies), Field: "config.strategy"}
	}
	if d := c.DiversityFactor; d != nil && (math.IsNaN(*d) || *d < 0 || *d > 1) {
		return &InputError{Code: "invalid_diversity_factor", Message: fmt.Sprintf("diversity_factor must be between 0 and 1 (got %v)", *d), Field: "config.diversity_factor"}
	}
	return nil
}
