package events

import (
	"sort"
	"sync"
)

// Articles is the in-memory article catalog article_published events feed.
// An article replaces the one with the same id unless it is older (by
// PublishedAt). Articles is safe for concurrent use.
type Articles struct {
	mu   sync.RWMutex
	byID map[string]*Article
}

// NewArticles returns an empty catalog.
func NewArticles() *Articles { return &Articles{byID: map[string]*Article{}} }

// Put adds or replaces an article; it reports false (and changes nothing)
// when the catalog holds a newer version.
func (c *Articles) Put(a Article) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byID[a.ID]; ok && old.PublishedAt.After(a.PublishedAt) {
		return false
	}
	cp := a
	cp.Topics = append([]string(nil), a.Topics...)
	cp.Embedding = append([]float32(nil), a.Embedding...)
	if len(a.Embedding) == 0 {
		cp.Embedding = nil
	}
	if len(a.Topics) == 0 {
		cp.Topics = nil
	}
	c.byID[a.ID] = &cp
	return true
}

// Get returns a copy of the article called id.
func (c *Articles) Get(id string) (Article, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.byID[id]
	if !ok {
		return Article{}, false
	}
	return *a, true
}

// Len returns the number of articles.
func (c *Articles) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byID)
}

// All returns the articles sorted by id. Topics and Embedding are shared
// with the catalog: do not modify them.
func (c *Articles) All() []Article {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Article, 0, len(c.byID))
	for _, a := range c.byID {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
