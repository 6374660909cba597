package gen

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// article is one generated article.
type article struct {
	id        string
	title     string
	topics    []int // indices in topics; the first is the main one
	published int64 // Unix seconds
}

// articleWindow is how far back articles are published.
const articleWindow = 730 * 86400

// genArticles generates n articles published over the two years before now;
// seasonal topics are written in their season (ski in winter, the Tour in
// July).
func genArticles(seed int64, now time.Time, n int) []article {
	var src rand.PCG
	r := rand.New(&src)
	var byMonth [13][]float64 // cumulative topic weights per month
	for m := 1; m <= 12; m++ {
		w := make([]float64, len(topics))
		for t, tp := range topics {
			w[t] = tp.popularity * seasonFactor(tp.season, m)
		}
		byMonth[m] = cumulative(w)
	}
	nowUnix := now.Unix()
	out := make([]article, n)
	var sb strings.Builder
	for j := range out {
		src.Seed(uint64(seed)^streamArticles, uint64(j))
		published := nowUnix - int64(r.Float64()*articleWindow)
		pt := time.Unix(published, 0).UTC()
		main := pick(r, byMonth[pt.Month()])
		ts := []int{main}
		for k := r.IntN(3); k > 0; k-- {
			// A related topic: same sport, or general.
			rel := r.IntN(len(topics))
			if topics[rel].sport == topics[main].sport || topics[rel].sport == general {
				if !slices.Contains(ts, rel) {
					ts = append(ts, rel)
				}
			}
		}
		tp := topics[main]
		tmpl := titles[r.IntN(len(titles))]
		thing := tp.things[r.IntN(len(tp.things))]
		nWord := strconv.Itoa([]int{3, 5, 7, 10, 12}[r.IntN(5)])
		sb.Reset()
		for len(tmpl) > 0 {
			open := strings.IndexByte(tmpl, '{')
			if open < 0 {
				sb.WriteString(tmpl)
				break
			}
			sb.WriteString(tmpl[:open])
			end := open + strings.IndexByte(tmpl[open:], '}')
			switch tmpl[open+1 : end] {
			case "n":
				sb.WriteString(nWord)
			case "thing":
				sb.WriteString(thing)
			case "name":
				sb.WriteString(tp.name)
			case "year":
				sb.WriteString(strconv.Itoa(pt.Year()))
			case "season":
				sb.WriteString(seasonName(int(pt.Month())))
			}
			tmpl = tmpl[end+1:]
		}
		out[j] = article{id: articleID(j), title: sb.String(), topics: ts, published: published}
	}
	return out
}

func articleID(j int) string {
	s := strconv.Itoa(j + 1)
	if len(s) < 6 {
		s = strings.Repeat("0", 6-len(s)) + s
	}
	return "a-" + s
}

func (a *article) appendJSON(b []byte) []byte {
	b = append(b, `{"article_id":`...)
	b = appendString(b, a.id)
	b = append(b, `,"title":`...)
	b = appendString(b, a.title)
	b = append(b, `,"topics":`...)
	b = a.appendTopics(b)
	b = append(b, `,"published_at":`...)
	b = appendTime(b, a.published)
	return append(b, '}', '\n')
}

func (a *article) appendTopics(b []byte) []byte {
	b = append(b, '[')
	for k, t := range a.topics {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, topics[t].slug)
	}
	return append(b, ']')
}

// articleIndex finds articles by topic and publication time.
type articleIndex struct {
	arts    []article
	byTopic [numTopics][]int32 // article indices by publication time
	all     []int32            // every article by publication time
}

func newArticleIndex(arts []article) *articleIndex {
	ix := &articleIndex{arts: arts}
	ix.all = make([]int32, len(arts))
	for j := range arts {
		ix.all[j] = int32(j)
	}
	byTime := func(a, b int32) int {
		if c := cmp.Compare(arts[a].published, arts[b].published); c != 0 {
			return c
		}
		return int(a - b)
	}
	slices.SortFunc(ix.all, byTime)
	for _, j := range ix.all {
		for _, t := range arts[j].topics {
			ix.byTopic[t] = append(ix.byTopic[t], j)
		}
	}
	return ix
}

// recentWindow: readers mostly read articles published in the last weeks.
const recentWindow = 45 * 86400

// pickRead picks an article a reader of topic t opens at ts: one published
// in the weeks before ts, else the newest before ts; -1 if none.
func (ix *articleIndex) pickRead(r *rand.Rand, list []int32, ts int64) int32 {
	hi := ix.searchAfter(list, ts)                // list[:hi] published ≤ ts
	lo := ix.searchAfter(list, ts-recentWindow-1) // list[lo:hi] recent
	switch {
	case hi == 0:
		return -1
	case lo < hi:
		return list[lo+r.IntN(hi-lo)]
	}
	return list[hi-1]
}

// searchAfter returns the number of articles of list published at or before ts.
func (ix *articleIndex) searchAfter(list []int32, ts int64) int {
	n, _ := slices.BinarySearchFunc(list, ts+1, func(j int32, t int64) int {
		return cmp.Compare(ix.arts[j].published, t)
	})
	return n
}
