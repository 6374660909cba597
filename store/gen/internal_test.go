package gen

import (
	"slices"
	"testing"
)

func TestVocabulary(t *testing.T) {
	if len(topics) != numTopics {
		t.Fatalf("numTopics = %d, but there are %d topics", numTopics, len(topics))
	}
	seen := map[string]bool{}
	for _, tp := range topics {
		if seen[tp.slug] || len(tp.things) == 0 || tp.sport >= len(sports) {
			t.Errorf("topic %+v: duplicate, no things or unknown sport", tp)
		}
		seen[tp.slug] = true
	}
	for s := range sports {
		if !slices.ContainsFunc(topics, func(tp topic) bool { return tp.sport == s }) {
			t.Errorf("sport %s has no topic", sports[s].name)
		}
	}
	if len(sports) != 7 { // user.gen keeps per-sport weights in a [7]float64
		t.Errorf("%d sports; user.gen assumes 7", len(sports))
	}
	if numAttrs > 16 { // profile_update masks are uint16
		t.Errorf("%d attributes do not fit a uint16 mask", numAttrs)
	}
}
