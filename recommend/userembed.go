package recommend

import (
	"fmt"
	"math"
	"time"
)

// UserEmbeddingConfig says how user vectors are computed from read
// histories. Zero fields take the defaults given.
type UserEmbeddingConfig struct {
	// Weights of the three parts in the combined vector (defaults 0.4, 0.5,
	// 0.1). A part a user has no reads for is left out and the others keep
	// their proportions.
	LongWeight, ShortWeight, SeasonalWeight float64
	// LongWindow is how far back the long-term part looks (default 365
	// days; at least 90 days).
	LongWindow time.Duration
	// LongHalfLife is the recency decay of the long-term part (default 90
	// days): a read that old counts half.
	LongHalfLife time.Duration
	// ShortReads is how many of the latest reads the short-term part
	// averages (default 50).
	ShortReads int
	// ShortHalfLife is their time decay (default 7 days).
	ShortHalfLife time.Duration
	// SeasonalSpan is how close to the same day of a past year a read must
	// be to count as seasonal (default 21 days either side).
	SeasonalSpan time.Duration
}

func (c UserEmbeddingConfig) withDefaults() UserEmbeddingConfig {
	if c.LongWeight == 0 && c.ShortWeight == 0 && c.SeasonalWeight == 0 {
		c.LongWeight, c.ShortWeight, c.SeasonalWeight = 0.4, 0.5, 0.1
	}
	if c.LongWindow <= 0 {
		c.LongWindow = 365 * day
	}
	c.LongWindow = max(c.LongWindow, 90*day)
	if c.LongHalfLife <= 0 {
		c.LongHalfLife = 90 * day
	}
	if c.ShortReads <= 0 {
		c.ShortReads = 50
	}
	if c.ShortHalfLife <= 0 {
		c.ShortHalfLife = 7 * day
	}
	if c.SeasonalSpan <= 0 {
		c.SeasonalSpan = 21 * day
	}
	return c
}

func (c UserEmbeddingConfig) validate() error {
	if c.LongWeight < 0 || c.ShortWeight < 0 || c.SeasonalWeight < 0 {
		return fmt.Errorf("user embedding weights must not be negative (got %v, %v, %v)", c.LongWeight, c.ShortWeight, c.SeasonalWeight)
	}
	return nil
}

// version names the computation, e.g. "user-v1(0.4,0.5,0.1)".
func (c UserEmbeddingConfig) version() string {
	return fmt.Sprintf("user-v1(%g,%g,%g)", c.LongWeight, c.ShortWeight, c.SeasonalWeight)
}

const day = 24 * time.Hour

// year is the mean Gregorian year, for "the same weeks of past years".
const year = 365.2425 * 24 * 3600

// read is one page view: an article (index in the catalog) at a time.
type read struct {
	art int32
	ts  int64 // Unix seconds
}

// userParts are the parts of a user's vector, each L2-normalised (nil when
// the user has no read for it).
type userParts struct {
	long, short, seasonal []float32
}

// computeUser computes the parts of a user vector from reads (sorted by
// time) as of now; vec(art) gives an article's vector (nil if none).
func (c UserEmbeddingConfig) computeUser(reads []read, now int64, dim int, vec func(int32) []float32) userParts {
	var p userParts
	longFrom := now - int64(c.LongWindow/time.Second)
	longHL := c.LongHalfLife.Seconds()
	shortHL := c.ShortHalfLife.Seconds()
	span := c.SeasonalSpan.Seconds()
	var long, short, seasonal []float64
	add := func(acc *[]float64, v []float32, w float64) {
		if *acc == nil {
			*acc = make([]float64, dim)
		}
		for i, x := range v {
			(*acc)[i] += w * float64(x)
		}
	}
	// Reads after now (a replay of the past) are ignored.
	end := len(reads)
	for end > 0 && reads[end-1].ts > now {
		end--
	}
	shortFrom := max(0, end-c.ShortReads)
	for i, rd := range reads[:end] {
		v := vec(rd.art)
		if len(v) != dim {
			continue
		}
		age := float64(now - rd.ts)
		if rd.ts >= longFrom {
			add(&long, v, math.Exp2(-age/longHL))
		}
		if i >= shortFrom {
			add(&short, v, math.Exp2(-age/shortHL))
		}
		if age > year-span {
			// Distance to the nearest anniversary of now.
			off := math.Mod(age, year)
			if off > year/2 {
				off = year - off
			}
			if off <= span {
				add(&seasonal, v, 1-0.5*off/span)
			}
		}
	}
	p.long, p.short, p.seasonal = unit(long), unit(short), unit(seasonal)
	return p
}

// combine mixes the parts with the configured weights into a unit vector
// (nil when the user has no usable read).
func (c UserEmbeddingConfig) combine(p userParts, dim int) []float32 {
	acc := make([]float64, dim)
	var any bool
	for _, part := range []struct {
		v []float32
		w float64
	}{{p.long, c.LongWeight}, {p.short, c.ShortWeight}, {p.seasonal, c.SeasonalWeight}} {
		if part.v == nil || part.w == 0 {
			continue
		}
		any = true
		for i, x := range part.v {
			acc[i] += part.w * float64(x)
		}
	}
	if !any {
		return nil
	}
	return unit(acc)
}

// unit returns v as a float32 unit vector, nil for nil or zero.
func unit(v []float64) []float32 {
	if v == nil {
		return nil
	}
	var n2 float64
	for _, x := range v {
		n2 += x * x
	}
	if n2 == 0 || math.IsNaN(n2) || math.IsInf(n2, 0) {
		return nil
	}
	inv := 1 / math.Sqrt(n2)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out
}
