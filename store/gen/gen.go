package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cohortd/cohortd/bitmaps"
	"time"
)

// Key is the key attribute of generated users.
const Key = "user_id"

// Config sizes a population. Now is the instant the population is a
// snapshot of (last visits, signups and publications lie before it); the
// same Config always gives the same population, byte for byte.
type Config struct {
	Users, Articles, Events int
	Seed                    int64
	Now                     time.Time
}

func (c Config) validate() error {
	switch {
	case c.Users < 0 || c.Articles < 0 || c.Events < 0:
		return fmt.Errorf("negative count in %+v", c)
	case c.Now.IsZero():
		return errors.New("Config.Now is not set")
	case c.Events > 0 && (c.Users == 0 || c.Articles == 0):
		return fmt.Errorf("cannot generate %d events without users and articles to read", c.Events)
	case int64(c.Users) > 1<<31-1 || int64(c.Articles) > 1<<31-1:
		return fmt.Errorf("too many users or articles (at most %d)", 1<<31-1)
	}
	return nil
}

// Catalog is the schema of generated users (the spec's example catalog,
// without the key attribute), in the order of its cohorts.yaml.
func Catalog() bitmaps.Schema {
	kinds := [numAttrs]bitmaps.Kind{
		aTier: bitmaps.KindString, aScore: bitmaps.KindFloat, aVisits: bitmaps.KindInt,
		aLastVisit: bitmaps.KindTime, aSignup: bitmaps.KindTime, aSeasonal: bitmaps.KindBool,
		aTags: bitmaps.KindStringList, aPeakDays: bitmaps.KindStringList, aEmail: bitmaps.KindString,
		aDevice: bitmaps.KindString, aBreadth: bitmaps.KindString, aTopics: bitmaps.KindStringList,
		aPeakHour: bitmaps.KindInt,
	}
	s := make(bitmaps.Schema, numAttrs)
	for a := range s {
		s[a] = bitmaps.Field{Name: attrNames[a], Kind: kinds[a]}
	}
	return s
}

// Users calls fn with each of cfg.Users user records in order, generated in
// memory (the built-in demo population). A record maps attribute names to
// string, float64, int64, bool, time.Time (UTC) or []string values; a NULL
// is a nil value or no entry at all (about 5% of each attribute). fn owns
// the map. An error from fn stops the iteration and is returned.
func Users(cfg Config, fn func(rec map[string]any) error) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("cannot generate users: %w", err)
	}
	g := newUserGen(cfg.Seed, cfg.Now)
	for i := 0; i < cfg.Users; i++ {
		if err := fn(g.gen(i).record()); err != nil {
			return err
		}
	}
	return nil
}

// Generate writes cfg's population to dir (created if needed) as
// users.ndjson, articles.ndjson and events.ndjson (see the cli spec for
// their shapes). Each file is written under a temporary name and renamed
// when complete. progress, when set, is called now and then with the records
// written so far out of Users+Articles+Events.
//
// Page views are reads of articles in each user's latent topics (the topics
// its top_topics are drawn from), sorted by time, so recommendations can be
// scored against them; readers are active in proportion to their tier.
func Generate(ctx context.Context, cfg Config, dir string, progress func(done, total int64)) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("cannot generate a population: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot generate a population: %w", err)
	}
	total := int64(cfg.Users) + int64(cfg.Articles) + int64(cfg.Events)
	var done int64
	tick := func(n int) {
		done += int64(n)
		if progress != nil {
			progress(done, total)
		}
	}
	ug := newUserGen(cfg.Seed, cfg.Now)

	// Users; remember each one's reading activity for the events.
	var weight []float32
	if cfg.Events > 0 {
		weight = make([]float32, cfg.Users)
	}
	err := writeFile(ctx, filepath.Join(dir, "users.ndjson"), cfg.Users, tick, func(i int, b []byte) []byte {
		u := ug.gen(i)
		if weight != nil && u.presence[aLastVisit] == present {
			weight[i] = float32(tierActivity[u.tier])
		}
		return u.appendJSON(b)
	})
	if err != nil {
		return err
	}

	arts := genArticles(cfg.Seed, cfg.Now, cfg.Articles)
	err = writeFile(ctx, filepath.Join(dir, "articles.ndjson"), len(arts), tick, func(j int, b []byte) []byte {
		return arts[j].appendJSON(b)
	})
	if err != nil {
		return err
	}

	ix := newArticleIndex(arts)
	events := genEvents(cfg.Seed, ug, weight, ix, cfg.Events)
	return writeFile(ctx, filepath.Join(dir, "events.ndjson"), len(events), tick, func(k int, b []byte) []byte {
		e := &events[k]
		var u *user
		if e.kind == evProfileUpdate {
			u = ug.gen(int(e.user))
		} else {
			ug.u.id = ug.id(int(e.user))
			u = &ug.u
		}
		return e.appendJSON(b, k+1, u, ix)
	})
}

// writeFile writes n records produced by appendRec to path, through a
// temporary file renamed at the end.
func writeFile(ctx context.Context, path string, n int, tick func(int), appendRec func(i int, b []byte) []byte) (err error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	const batch = 4096
	for i := 0; i < n; i++ {
		buf = appendRec(i, buf[:0])
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("cannot write %q: %w", path, err)
		}
		if (i+1)%batch == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			tick(batch)
		}
	}
	tick(n % batch)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	return nil
}
