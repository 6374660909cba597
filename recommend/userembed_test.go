package recommend

import (
	"math"
	"testing"
	"time"
)

func TestUserEmbeddingParts(t *testing.T) {
	// Three orthogonal "articles": 0 read long ago, 1 read recently, 2 read
	// a year ago around today's date.
	vecs := [][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	vec := func(a int32) []float32 { return vecs[a] }
	now := fixtureNow.Unix()
	daysAgo := func(d float64) int64 { return now - int64(d*86400) }
	c := UserEmbeddingConfig{}.withDefaults()
	reads := []read{
		{art: 2, ts: daysAgo(366)},
		{art: 0, ts: daysAgo(150)}, {art: 0, ts: daysAgo(140)}, {art: 0, ts: daysAgo(130)},
		{art: 1, ts: daysAgo(2)},
		{art: 1, ts: daysAgo(-5)}, // after now: ignored
	}
	p := c.computeUser(reads, now, 3, vec)
	if p.short == nil || p.long == nil || p.seasonal == nil {
		t.Fatalf("missing parts: %+v", p)
	}
	// Short-term: the last 50 reads, time-decayed: the read 2 days ago
	// dominates those of 130+ days ago.
	if !(p.short[1] > 0.99) {
		t.Errorf("short-term = %v, want it dominated by the recent read", p.short)
	}
	// Long-term: frequency counts (three reads of 0 beat one of 1) within
	// the window (the read 366 days ago is out of the 365-day window).
	if !(p.long[0] > p.long[1]) || p.long[2] != 0 {
		t.Errorf("long-term = %v", p.long)
	}
	// Seasonal: only the read a year ago.
	if p.seasonal[2] < 0.999 {
		t.Errorf("seasonal = %v, want the read a year ago", p.seasonal)
	}
	u := c.combine(p, 3)
	if n := math.Sqrt(dot(u, u)); math.Abs(n-1) > 1e-5 {
		t.Errorf("combined norm %v", n)
	}
	want := []float64{0.4 * float64(p.long[0]), 0.4*float64(p.long[1]) + 0.5*float64(p.short[1]), 0.1 * float64(p.seasonal[2])}
	var wn float64
	for _, x := range want {
		wn += x * x
	}
	for i := range want {
		if math.Abs(float64(u[i])-want[i]/math.Sqrt(wn)) > 1e-3 {
			t.Fatalf("combined = %v, want 0.4·long + 0.5·short + 0.1·seasonal normalised", u)
		}
	}
	// Weights are configurable: short-term only.
	only := UserEmbeddingConfig{ShortWeight: 1}.withDefaults().combine(p, 3)
	if math.Abs(float64(only[1]-p.short[1])) > 1e-6 {
		t.Errorf("short-only combination = %v, want the short part %v", only, p.short)
	}
	if got := (UserEmbeddingConfig{}).withDefaults().version(); got != "user-v1(0.4,0.5,0.1)" {
		t.Errorf("version = %q", got)
	}
	if c.combine(userParts{}, 3) != nil {
		t.Error("a user without reads has a vector")
	}
	if err := (UserEmbeddingConfig{LongWeight: -1}).validate(); err == nil {
		t.Error("a negative weight was accepted")
	}
}

func TestShortTermKeepsTheLast50Reads(t *testing.T) {
	vecs := [][]float32{{1, 0}, {0, 1}}
	c := UserEmbeddingConfig{ShortReads: 50, ShortHalfLife: 1000 * 24 * time.Hour}.withDefaults()
	now := fixtureNow.Unix()
	var reads []read
	for i := range 60 { // 10 old reads of 0, then 50 of 1
		art := int32(1)
		if i < 10 {
			art = 0
		}
		reads = append(reads, read{art: art, ts: now - int64(60-i)*3600})
	}
	p := c.computeUser(reads, now, 2, func(a int32) []float32 { return vecs[a] })
	if p.short[0] != 0 {
		t.Errorf("short-term = %v: reads beyond the last 50 count", p.short)
	}
}
