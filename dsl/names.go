package dsl

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Suggest returns the candidate closest to name for a "did you mean" hint,
// or "" when none is close enough. A candidate differing only in case always
// qualifies; otherwise the Levenshtein distance (a swap of two neighbouring
// letters counting as one edit) must be at most 1 for names up to 5
// letters, 2 up to 9, and a quarter of the length beyond. Ties go to the
// earlier candidate.
func Suggest(name string, candidates []string) string {
	if name == "" {
		return ""
	}
	n := len([]rune(name))
	limit := 1
	switch {
	case n > 9:
		limit = n / 4
		if limit < 2 {
			limit = 2
		}
	case n > 5:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if strings.EqualFold(c, name) {
			return c
		}
		d := levenshtein.ComputeDistance(name, c)
		if d == 2 && isSwap(name, c) {
			d = 1
		}
		if d < bestDist && d < n && d < len([]rune(c)) {
			best, bestDist = c, d
		}
	}
	return best
}

// isSwap reports whether b is a with two neighbouring characters swapped.
func isSwap(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	i := 0
	for i < len(ra) && ra[i] == rb[i] {
		i++
	}
	return i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:])
}

// didYouMean returns ` (did you mean "x"?)` or "".
func didYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

var (
	cohortNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	identRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// IsKeyword reports whether s is a reserved word of the cohort language
// (case-insensitive).
func IsKeyword(s string) bool {
	for _, k := range keywords {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}

// typeNames are the spellings of Type in cohorts.yaml.
var typeNames = map[Type]string{
	TypeString:     "string",
	TypeInt:        "int",
	TypeFloat:      "float",
	TypeBool:       "bool",
	TypeTimestamp:  "timestamp",
	TypeStringList: "list<string>",
}

// String returns the type as written in cohorts.yaml, e.g. "list<string>".
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// ParseType reads a type name of cohorts.yaml.
func ParseType(s string) (Type, bool) {
	for t, name := range typeNames {
		if name == s {
			return t, true
		}
	}
	return 0, false
}

// TypeNames lists the type names of cohorts.yaml, sorted.
func TypeNames() []string {
	out := make([]string, 0, len(typeNames))
	for _, n := range typeNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
