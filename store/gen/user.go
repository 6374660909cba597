package gen

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Attributes of a user, in catalog order (user_id, the key, is not among them).
const (
	aTier = iota
	aScore
	aVisits
	aLastVisit
	aSignup
	aSeasonal
	aTags
	aPeakDays
	aEmail
	aDevice
	aBreadth
	aTopics
	aPeakHour
	numAttrs
)

var attrNames = [numAttrs]string{
	"engagement_tier", "engagement_score", "visits_30d", "last_visit_at", "signup_at",
	"seasonal_match", "cohort_tags", "peak_days", "email_engagement", "device_preference",
	"interest_breadth", "top_topics", "peak_hour",
}

// Presence of an attribute's value.
const (
	present = iota
	jsonNull
	missing
)

// nullRate is the share of users with NULL (JSON null or no key) per attribute.
const nullRate = 0.05

// user is one generated user. Its latent topic preferences drive its
// top_topics, tags and the articles it reads.
type user struct {
	id        string
	tier      int
	score     float64
	visits    int64
	lastVisit int64 // Unix seconds
	signup    int64
	seasonal  bool
	tags      []string
	peakDays  []string
	email     string
	device    string
	breadth   int
	topics    []string
	peakHour  int64
	presence  [numAttrs]uint8
	// prefs is the cumulative latent weight of each topic (for sampling).
	prefs [numTopics]float64
}

// numTopics is len(topics), as a constant for arrays (a test checks it).
const numTopics = 31

// userGen generates users from (seed, index): each user has its own random
// stream, so any user can be regenerated alone (for its events) and users
// are identical whichever way they are produced. Not safe for concurrent use.
type userGen struct {
	seed  uint64
	now   int64
	month int // of now, 1–12
	src   rand.PCG
	r     *rand.Rand
	zipf  *rand.Zipf
	u     user
	// Cumulative distributions reused for every user.
	sportCum, tierCum, dayCum, deviceCum []float64
	emailCum                             [][]float64
}

const (
	streamUsers    = 0x75736572 // distinct PCG streams per kind of record
	streamArticles = 0x61727469
	streamEvents   = 0x6576656e
)

func newUserGen(seed int64, now time.Time) *userGen {
	g := &userGen{seed: uint64(seed), now: now.Unix(), month: int(now.UTC().Month())}
	g.r = rand.New(&g.src)
	g.zipf = rand.NewZipf(g.r, 1.15, 1, uint64(len(longTailTags)-1))
	pop := make([]float64, len(sports))
	for i, s := range sports {
		pop[i] = s.popularity
	}
	g.sportCum = cumulative(pop)
	g.tierCum = cumulative(tierShare)
	g.dayCum = cumulative(dayWeight)
	g.deviceCum = cumulative(deviceShare)
	for _, e := range emailByTier {
		g.emailCum = append(g.emailCum, cumulative(e))
	}
	return g
}

// id returns user i's user_id without generating the rest of the user.
func (g *userGen) id(i int) string {
	g.src.Seed(g.seed^streamUsers, uint64(i))
	return uuid(g.r) // the first draws of the user's stream
}

// gen fills g.u with user i and returns it (valid until the next call).
func (g *userGen) gen(i int) *user {
	r := g.r
	u := &g.u
	u.tags, u.peakDays, u.topics = u.tags[:0], u.peakDays[:0], u.topics[:0]
	u.id = g.id(i)
	for a := range u.presence {
		u.presence[a] = present
		if r.Float64() < nullRate {
			u.presence[a] = jsonNull + uint8(r.IntN(2))
		}
	}

	// Latent interests: a primary sport, maybe more, and general topics.
	var sportW [7]float64
	primary := pick(r, g.sportCum)
	sportW[primary] = 1
	x := r.Float64()
	switch {
	case x < 0.55:
		u.breadth = 0 // single-sport
	case x < 0.85:
		u.breadth = 1 // multi-sport
		for n := 1 + r.IntN(2); n > 0; n-- {
			sportW[pick(r, g.sportCum)] += 0.3 + 0.4*r.Float64()
		}
	default:
		u.breadth = 2 // generalist
		for s := range sportW {
			sportW[s] += 0.15 * r.Float64()
		}
	}
	generalW := 0.15 + 0.25*r.Float64()
	if u.breadth == 2 {
		generalW *= 2
	}
	var sum float64
	for t, tp := range topics {
		w := generalW
		if tp.sport != general {
			w = sportW[tp.sport]
		}
		x := r.Float64()
		w *= tp.popularity * (0.02 + x*x*x*x) // peaked: a few favourite topics
		sum += w
		u.prefs[t] = sum
	}

	// Engagement.
	u.tier = pick(r, g.tierCum)
	ms := scoreByTier[u.tier]
	u.score = math.Round(clamp(ms[0]+ms[1]*r.NormFloat64(), 0, 100)*100) / 100
	lv := lastVisitDays[u.tier]
	daysAgo := lv[0] + (lv[1]-lv[0])*r.Float64()
	u.lastVisit = g.now - int64(daysAgo*86400)
	if daysAgo >= 30 {
		u.visits = 0
	} else {
		vr := visitsByTier[u.tier]
		u.visits = int64(vr[0] + r.IntN(vr[1]-vr[0]+1))
		if u.visits == 0 {
			u.visits = 1 // visited within 30 days
		}
	}
	if u.tier == 4 { // new: signed up within 30 days, before the last visit
		window := 30*86400 - (g.now - u.lastVisit)
		u.signup = u.lastVisit - int64(r.Float64()*float64(window))
	} else {
		span := 730*86400 - (g.now - u.lastVisit) - 30*86400
		u.signup = u.lastVisit - 30*86400 - int64(r.Float64()*float64(span))
	}
	u.signup = min(u.signup, u.lastVisit)

	// seasonal_match: the primary sport's season is now.
	p := 0.15
	if f := seasonFactor(sports[primary].season, g.month); f > 1 {
		p = 0.55
	}
	u.seasonal = r.Float64() < p

	// cohort_tags from the sports followed, gear fans, a long tail.
	for s, w := range sportW {
		if w >= 0.3 && r.Float64() < 0.85 {
			u.tags = append(u.tags, sports[s].tag)
		}
	}
	gearP := 0.15
	if primary == 0 {
		gearP = 0.3
	}
	if r.Float64() < gearP {
		u.tags = append(u.tags, "gear-enthusiast")
	}
	if r.Float64() < 0.12 {
		u.tags = appendNew(u.tags, longTailTags[g.zipf.Uint64()])
		if r.Float64() < 0.15 {
			u.tags = appendNew(u.tags, longTailTags[g.zipf.Uint64()])
		}
	}
	if u.tier == 4 && r.Float64() < 0.3 {
		u.tags = u.tags[:0] // new users often have none yet
	}
	r.Shuffle(len(u.tags), func(a, b int) { u.tags[a], u.tags[b] = u.tags[b], u.tags[a] })

	// peak_days: 1–3 distinct days, weekends favoured, in week order.
	var days [7]bool
	for n := 1 + r.IntN(3); n > 0; n-- {
		days[pick(r, g.dayCum)] = true
	}
	for d, on := range days {
		if on {
			u.peakDays = append(u.peakDays, weekdays[d])
		}
	}

	u.email = emailLevels[pick(r, g.emailCum[u.tier])]
	u.device = devices[pick(r, g.deviceCum)]

	// top_topics: 1–4 distinct topics drawn from the latent preferences.
	for n := 1 + r.IntN(4); n > 0; n-- {
		u.topics = appendNew(u.topics, topics[pick(r, u.prefs[:])].slug)
	}

	// peak_hour: morning, lunch or evening readers.
	switch x := r.Float64(); {
	case x < 0.3:
		u.peakHour = int64(6 + r.IntN(3))
	case x < 0.45:
		u.peakHour = int64(12 + r.IntN(2))
	case x < 0.9:
		u.peakHour = int64(18 + r.IntN(5))
	default:
		u.peakHour = int64(r.IntN(24))
	}
	return u
}

// topic draws a topic index from the user's latent preferences.
func (u *user) topic(r *rand.Rand) int { return pick(r, u.prefs[:]) }

// uuid returns a random RFC 4122 version 4 UUID.
func uuid(r *rand.Rand) string {
	const hexdig = "0123456789abcdef"
	var b [16]byte
	hi, lo := r.Uint64(), r.Uint64()
	for k := 0; k < 8; k++ {
		b[k] = byte(hi >> (56 - 8*k))
		b[8+k] = byte(lo >> (56 - 8*k))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	j := 0
	for k, c := range b {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexdig[c>>4], hexdig[c&15]
		j += 2
	}
	return string(s[:])
}

// appendJSON appends the user as one NDJSON line.
func (u *user) appendJSON(b []byte) []byte {
	b = append(b, `{"user_id":`...)
	b = appendString(b, u.id)
	for a := 0; a < numAttrs; a++ {
		if u.presence[a] != missing {
			b = append(b, ',')
			b = u.appendAttr(b, a)
		}
	}
	return append(b, '}', '\n')
}

// appendAttrs appends a JSON object of the attributes in mask (bit a for
// attribute a), NULL ones as null.
func (u *user) appendAttrs(b []byte, mask uint16) []byte {
	b = append(b, '{')
	sep := false
	for a := 0; a < numAttrs; a++ {
		if mask&(1<<a) == 0 {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = u.appendAttr(b, a)
	}
	return append(b, '}')
}

// appendAttr appends `"name":value` for attribute a (null unless present).
func (u *user) appendAttr(b []byte, a int) []byte {
	b = append(b, '"')
	b = append(b, attrNames[a]...)
	b = append(b, '"', ':')
	if u.presence[a] != present {
		return append(b, "null"...)
	}
	switch a {
	case aTier:
		b = appendString(b, tiers[u.tier])
	case aScore:
		b = strconv.AppendFloat(b, u.score, 'f', -1, 64)
	case aVisits:
		b = strconv.AppendInt(b, u.visits, 10)
	case aLastVisit:
		b = appendTime(b, u.lastVisit)
	case aSignup:
		b = appendTime(b, u.signup)
	case aSeasonal:
		b = strconv.AppendBool(b, u.seasonal)
	case aTags:
		b = appendList(b, u.tags)
	case aPeakDays:
		b = appendList(b, u.peakDays)
	case aEmail:
		b = appendString(b, u.email)
	case aDevice:
		b = appendString(b, u.device)
	case aBreadth:
		b = appendString(b, breadths[u.breadth])
	case aTopics:
		b = appendList(b, u.topics)
	case aPeakHour:
		b = strconv.AppendInt(b, u.peakHour, 10)
	}
	return b
}

// record returns the user as a map: values string, float64, int64, bool,
// time.Time (UTC) or []string; nil for a JSON null; no entry when missing.
func (u *user) record() map[string]any {
	m := make(map[string]any, numAttrs+1)
	m["user_id"] = u.id
	for a := 0; a < numAttrs; a++ {
		switch u.presence[a] {
		case missing:
			continue
		case jsonNull:
			m[attrNames[a]] = nil
			continue
		}
		var v any
		switch a {
		case aTier:
			v = tiers[u.tier]
		case aScore:
			v = u.score
		case aVisits:
			v = u.visits
		case aLastVisit:
			v = time.Unix(u.lastVisit, 0).UTC()
		case aSignup:
			v = time.Unix(u.signup, 0).UTC()
		case aSeasonal:
			v = u.seasonal
		case aTags:
			v = slices.Clone(u.tags)
			if len(u.tags) == 0 {
				v = []string{}
			}
		case aPeakDays:
			v = slices.Clone(u.peakDays)
		case aEmail:
			v = u.email
		case aDevice:
			v = u.device
		case aBreadth:
			v = breadths[u.breadth]
		case aTopics:
			v = slices.Clone(u.topics)
		case aPeakHour:
			v = u.peakHour
		}
		m[attrNames[a]] = v
	}
	return m
}

func appendTime(b []byte, unix int64) []byte {
	b = append(b, '"')
	b = time.Unix(unix, 0).UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

func appendList(b []byte, l []string) []byte {
	b = append(b, '[')
	for k, s := range l {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string (the vocabulary is plain UTF-8;
// quotes, backslashes and control characters are escaped all the same).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for k := 0; k < len(s); k++ {
		switch c := s[k]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// cumulative turns weights into a cumulative distribution for pick.
func cumulative(w []float64) []float64 {
	out := make([]float64, len(w))
	var sum float64
	for k, x := range w {
		sum += x
		out[k] = sum
	}
	return out
}

// pick draws an index from a cumulative distribution.
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	k, _ := slices.BinarySearch(cum, x)
	return min(k, len(cum)-1)
}

func appendNew(l []string, s string) []string {
	if slices.Contains(l, s) {
		return l
	}
	return append(l, s)
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
