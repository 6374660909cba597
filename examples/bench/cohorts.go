package main

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"gopkg.in/yaml.v3"
)

// briefCohorts are the product brief's ten cohorts (defined in the root
// cohorts.yaml).
var briefCohorts = []string{
	"champion", "at_risk", "dormant", "winback",
	"cyclists", "multi_sport", "gear_enthusiasts",
	"newsletter_engaged", "app_users", "weekend_readers",
}

// complexCohort is one of the five harder shapes measured beside the brief.
type complexCohort struct {
	name, shape, expr string
}

var complexCohorts = []complexCohort{
	{"cx_nested_not_or", "nested NOT/OR",
		"NOT (engagement_tier IN ('dormant', 'new') OR (device_preference == 'desktop' AND NOT seasonal_match)) AND visits_30d >= 5"},
	{"cx_has_any", "HAS ANY",
		"cohort_tags HAS ANY ('runner', 'triathlete', 'swimmer', 'hiker') AND email_engagement != 'unsubscribed'"},
	{"cx_between", "BETWEEN",
		"engagement_score BETWEEN 40 AND 75 AND peak_hour BETWEEN 6 AND 9"},
	{"cx_cohort_refs", "cohort references",
		"(cohort('champion') OR cohort('at_risk')) AND NOT cohort('newsletter_engaged')"},
	{"cx_days_since", "days_since",
		"days_since(signup_at) BETWEEN 30 AND 365 AND days_since_last_visit <= 3"},
}

// cohortFile returns the root cohorts.yaml (data) with the complex cohorts
// added as a group, and, when total > 0, generated cohorts added until the
// file holds total cohorts.
func cohortFile(data []byte, have, total int, seed uint64) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("cannot parse the cohorts file: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the cohorts file is not a mapping")
	}
	root := doc.Content[0]
	var cohorts *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "cohorts" {
			cohorts = root.Content[i+1]
		}
	}
	if cohorts == nil || cohorts.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the cohorts file has no cohorts mapping")
	}
	var group []string
	for _, c := range complexCohorts {
		group = append(group, c.name, c.expr)
	}
	addGroup(cohorts, "bench_complex", group)
	if n := total - have - len(complexCohorts); n > 0 {
		var gen []string
		for i, expr := range generatedExprs(n, seed) {
			gen = append(gen, fmt.Sprintf("gen_%03d", i+1), expr)
		}
		addGroup(cohorts, "bench_generated", gen)
	}
	return yaml.Marshal(&doc)
}

func addGroup(cohorts *yaml.Node, name string, kv []string) {
	g := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		g.Content = append(g.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: kv[i]},
			&yaml.Node{Kind: yaml.ScalarNode, Value: kv[i+1], Style: yaml.DoubleQuotedStyle})
	}
	cohorts.Content = append(cohorts.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, g)
}

// Vocabulary of gen's population, for generated cohorts.
var (
	tiers      = []string{"champion", "loyal", "casual", "dormant", "new"}
	sportTags  = []string{"cyclist", "runner", "hiker", "ski-touring", "triathlete", "climber", "swimmer", "gear-enthusiast"}
	topicSlugs = []string{"cycling", "road-cycling", "mountain-biking", "gravel", "running", "trail-running",
		"marathon", "hiking", "camping", "ski-touring", "alpine-skiing", "triathlon", "climbing",
		"bouldering", "swimming", "gear-reviews", "nutrition", "training-plans", "recovery"}
	emails   = []string{"highly_engaged", "moderate", "low", "unsubscribed"}
	devices  = []string{"app", "mobile", "desktop", "tablet"}
	breadths = []string{"single-sport", "multi-sport", "generalist"}
	days     = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
)

// generatedExprs returns n deterministic cohort expressions of the kinds
// marketers write: tier and recency, interests and channel, score bands,
// signup windows, references to the brief's cohorts.
func generatedExprs(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x636f68))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	two := func(xs []string) (string, string) {
		i := r.IntN(len(xs))
		j := (i + 1 + r.IntN(len(xs)-1)) % len(xs)
		return xs[i], xs[j]
	}
	refs := []string{"champion", "at_risk", "dormant", "winback", "cyclists", "newsletter_engaged", "app_users", "weekend_readers"}
	templates := []func() string{
		func() string {
			return fmt.Sprintf("engagement_tier == '%s' AND days_since_last_visit %s %d", pick(tiers), pick([]string{"<", ">", "<=", ">="}), 1+r.IntN(60))
		},
		func() string {
			a, b := two(emails)
			return fmt.Sprintf("'%s' IN cohort_tags AND email_engagement IN ('%s', '%s')", pick(sportTags), a, b)
		},
		func() string {
			a, b := two(topicSlugs)
			return fmt.Sprintf("top_topics HAS ANY ('%s', '%s') AND device_preference == '%s'", a, b, pick(devices))
		},
		func() string {
			lo := r.IntN(80)
			return fmt.Sprintf("engagement_score BETWEEN %d AND %d", lo, lo+5+r.IntN(20))
		},
		func() string {
			h := r.IntN(20)
			return fmt.Sprintf("visits_30d >= %d AND peak_hour BETWEEN %d AND %d", 1+r.IntN(20), h, h+1+r.IntN(4))
		},
		func() string {
			return fmt.Sprintf("'%s' IN peak_days AND seasonal_match", pick(days))
		},
		func() string {
			return fmt.Sprintf("signup_at >= now() - %dw AND engagement_tier != 'dormant'", 2+r.IntN(50))
		},
		func() string {
			return fmt.Sprintf("interest_breadth == '%s' AND NOT ('%s' IN cohort_tags)", pick(breadths), pick(sportTags))
		},
		func() string {
			return fmt.Sprintf("cohort('%s') AND engagement_score > %d.5", pick(refs), 10+r.IntN(70))
		},
		func() string {
			a, b := two(topicSlugs)
			return fmt.Sprintf("('%s' IN top_topics OR '%s' IN top_topics) AND days_since_last_visit BETWEEN %d AND %d", a, b, r.IntN(10), 10+r.IntN(30))
		},
		func() string {
			return fmt.Sprintf("email_engagement == '%s' AND NOT cohort('%s')", pick(emails), pick(refs))
		},
		func() string {
			return fmt.Sprintf("device_preference IN ('%s', '%s') AND visits_30d BETWEEN %d AND %d AND NOT seasonal_match",
				pick(devices[:2]), pick(devices[2:]), r.IntN(5), 5+r.IntN(20))
		},
	}
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, templates[i%len(templates)]())
	}
	return out
}

// sqlOneLine squeezes whitespace for the report.
func sqlOneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
