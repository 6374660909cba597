package recommend

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// Document is what an Embedder turns into a vector: an article's title and
// topics, or (for session topics) topics alone.
type Document struct {
	Title  string
	Topics []string
}

// Text is the document as one string, for text embedding models:
// "Title (topics: a, b)".
func (d Document) Text() string {
	t := strings.TrimSpace(d.Title)
	if len(d.Topics) == 0 {
		return t
	}
	topics := make([]string, len(d.Topics))
	for i, s := range d.Topics {
		topics[i] = topicName(s)
	}
	if t == "" {
		return strings.Join(topics, ", ")
	}
	return t + " (topics: " + strings.Join(topics, ", ") + ")"
}

// Embedder turns documents into L2-normalised vectors of Dim() values.
// Implementations are safe for concurrent use.
type Embedder interface {
	// Embed returns one vector per document, in order.
	Embed(ctx context.Context, docs []Document) ([][]float32, error)
	// Dim is the vector length, 0 while unknown (a remote model not yet
	// asked).
	Dim() int
	// Version names the model and its settings; it is part of the
	// embedding_version of every answer.
	Version() string
}

// LexicalDim is the default embedding dimension.
const LexicalDim = 768

// LexicalEmbedder is the default, deterministic embedding: no model, no
// network, the same vector for the same text on every machine.
//
// A document's features are its title words (lower-cased Unicode letter and
// digit runs, without stop words and bare numbers), the pairs of adjacent
// title words, its topics ("t:" + slug, weighted TopicWeight) and the words
// of its topic slugs (so "road-cycling" is near "cycling"). Each feature
// weighs tf·idf, with idf = ln((1+N)/(1+df)) + 1 over the N documents the
// embedder was fitted on (an unseen feature has df = 0). The features are
// hashed (FNV-1a, 64 bits) into Dim buckets, the sign taken from another bit
// of the hash so that collisions cancel rather than add up, and the vector
// is L2-normalised. A document with no feature embeds as the zero vector.
//
// LexicalEmbedder is immutable and safe for concurrent use.
type LexicalEmbedder struct {
	dim         int
	n           int
	df          map[string]int
	topicWeight float64
}

// TopicWeight is how much more a topic feature weighs than a title word.
const TopicWeight = 2.0

// NewLexicalEmbedder fits a lexical embedder of dim dimensions (LexicalDim
// when dim ≤ 0) on corpus: the document frequencies behind idf.
func NewLexicalEmbedder(dim int, corpus []Document) *LexicalEmbedder {
	if dim <= 0 {
		dim = LexicalDim
	}
	e := &LexicalEmbedder{dim: dim, n: len(corpus), df: map[string]int{}, topicWeight: TopicWeight}
	seen := map[string]bool{}
	for _, d := range corpus {
		clear(seen)
		for _, f := range features(d) {
			if !seen[f.name] {
				seen[f.name] = true
				e.df[f.name]++
			}
		}
	}
	return e
}

// Dim is the vector length.
func (e *LexicalEmbedder) Dim() int { return e.dim }

// Version is "lexical-v1-<dim>d-n<fitted documents>".
func (e *LexicalEmbedder) Version() string {
	return fmt.Sprintf("lexical-v1-%dd-n%d", e.dim, e.n)
}

// Embed embeds each document; it never fails.
func (e *LexicalEmbedder) Embed(_ context.Context, docs []Document) ([][]float32, error) {
	out := make([][]float32, len(docs))
	for i, d := range docs {
		out[i] = e.EmbedOne(d)
	}
	return out, nil
}

// EmbedOne embeds one document.
func (e *LexicalEmbedder) EmbedOne(d Document) []float32 {
	v := make([]float32, e.dim)
	acc := make([]float64, e.dim)
	for _, f := range features(d) {
		idf := math.Log(float64(1+e.n)/float64(1+e.df[f.name])) + 1
		w := f.weight * idf
		if f.topic {
			w *= e.topicWeight
		}
		h := fnv.New64a()
		h.Write([]byte(f.name))
		sum := h.Sum64()
		b := int(sum % uint64(e.dim))
		if sum>>63 == 1 {
			w = -w
		}
		acc[b] += w
	}
	var n2 float64
	for _, x := range acc {
		n2 += x * x
	}
	if n2 == 0 {
		return v
	}
	inv := 1 / math.Sqrt(n2)
	for i, x := range acc {
		v[i] = float32(x * inv)
	}
	return v
}

type feature struct {
	name   string
	weight float64 // term frequency share
	topic  bool
}

// stopWords are left out of title features.
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "to": true, "in": true, "for": true,
	"on": true, "is": true, "are": true, "with": true, "that": true, "this": true, "at": true, "by": true,
	"from": true, "or": true, "our": true, "your": true, "you": true, "we": true, "it": true, "its": true,
	"how": true, "what": true, "why": true, "be": true, "as": true, "vs": true, "into": true, "than": true,
}

// features lists a document's features, repeated ones merged.
func features(d Document) []feature {
	var out []feature
	index := map[string]int{}
	add := func(name string, w float64, topic bool) {
		if i, ok := index[name]; ok {
			out[i].weight += w
			return
		}
		index[name] = len(out)
		out = append(out, feature{name: name, weight: w, topic: topic})
	}
	words := tokenize(d.Title)
	for i, w := range words {
		add("w:"+w, 1, false)
		if i > 0 {
			add("b:"+words[i-1]+" "+w, 0.5, false)
		}
	}
	for _, t := range d.Topics {
		slug := strings.ToLower(strings.TrimSpace(t))
		if slug == "" {
			continue
		}
		add("t:"+slug, 1, true)
		for _, w := range tokenize(slug) {
			add("w:"+w, 0.5, false)
		}
	}
	return out
}

// tokenize splits s into lower-case runs of letters and digits, leaving out
// stop words and bare numbers.
func tokenize(s string) []string {
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fields[:0]
	for _, f := range fields {
		if stopWords[f] || isNumber(f) {
			continue
		}
		out = append(out, f)
	}
	return out
}

func isNumber(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// topicName is a slug for people: "gear-reviews" → "gear reviews".
func topicName(slug string) string {
	return strings.ReplaceAll(strings.TrimSpace(slug), "-", " ")
}

// normalize scales v to unit length in place (a zero vector stays zero) and
// returns it.
func normalize(v []float32) []float32 {
	n := norm(v)
	if n == 0 || math.IsNaN(n) {
		return v
	}
	inv := float32(1 / n)
	for i := range v {
		v[i] *= inv
	}
	return v
}
