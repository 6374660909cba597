package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/klauspost/compress/gzip"
)

// DataFiles are the files of a data path; "" when absent.
type DataFiles struct {
	Users    string // users.ndjson or users.ndjson.gz
	Articles string // articles.ndjson(.gz)
	Events   string // events.ndjson(.gz)
}

// ResolveData finds the data files of path: a file is the users file; a
// directory holds users.ndjson, articles.ndjson and events.ndjson, each
// possibly gzipped (.gz) — having both forms of one is an error, as is a
// path that does not exist.
func ResolveData(path string) (DataFiles, error) {
	info, err := os.Stat(path)
	if err != nil {
		return DataFiles{}, fmt.Errorf("cannot use data %q: %w", path, err)
	}
	if !info.IsDir() {
		return DataFiles{Users: path}, nil
	}
	var df DataFiles
	for _, f := range []struct {
		name string
		dst  *string
	}{{"users.ndjson", &df.Users}, {"articles.ndjson", &df.Articles}, {"events.ndjson", &df.Events}} {
		var found []string
		for _, name := range []string{f.name, f.name + ".gz"} {
			p := filepath.Join(path, name)
			switch st, err := os.Stat(p); {
			case err == nil && !st.IsDir():
				found = append(found, p)
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return DataFiles{}, fmt.Errorf("cannot use data %q: %w", path, err)
			}
		}
		switch len(found) {
		case 1:
			*f.dst = found[0]
		case 2:
			return DataFiles{}, fmt.Errorf("cannot use data %q: both %s and %s.gz are there; keep one", path, f.name, f.name)
		}
	}
	return df, nil
}

// Open opens a data file (users, articles or events) for reading,
// decompressing it when its name ends in .gz.
func Open(path string) (io.ReadCloser, error) {
	rc, _, err := open(path)
	return rc, err
}

// open is Open, also returning a counter of the bytes read from the file on
// disk so far (for progress against its size).
func open(path string) (io.ReadCloser, func() int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	cr := &countingReader{r: f}
	if !strings.HasSuffix(path, ".gz") {
		return &readCloser{Reader: cr, close: f.Close}, cr.n.Load, nil
	}
	zr, err := gzip.NewReader(cr)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot read %q: %w", path, err)
	}
	return &readCloser{Reader: zr, close: func() error {
		zerr := zr.Close()
		if err := f.Close(); err != nil {
			return err
		}
		return zerr
	}}, cr.n.Load, nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// LoadUsers reads the users of path (a users file, or a data directory; see
// ResolveData) into a new index built with bitmaps.NewBuilder. Errors name
// the users file as path joined with its name for a directory. A duplicate
// user_id names both lines. Progress bytes are those of the file on disk
// (compressed when gzipped).
func LoadUsers(ctx context.Context, path string, key string, schema bitmaps.Schema, opts Options) (*bitmaps.Index, Stats, error) {
	df, err := ResolveData(path)
	if err != nil {
		return nil, Stats{}, err
	}
	if df.Users == "" {
		return nil, Stats{}, fmt.Errorf("cannot load users from %q: no users.ndjson or users.ndjson.gz there", path)
	}
	b := bitmaps.NewBuilder(schema)
	st, err := readFile(ctx, df.Users, key, schema, opts, b.Add)
	dups := duplicates(err, st)
	if len(dups) > 0 {
		if ferr := findFirstLines(ctx, df.Users, key, schema, dups); ferr != nil && err == nil {
			err = ferr
		}
	}
	if err != nil {
		return nil, st, err
	}
	return b.Build(), st, nil
}

// readFile runs ReadUsers over one file.
func readFile(ctx context.Context, path, key string, schema bitmaps.Schema, opts Options,
	fn func(string, bitmaps.Row) error) (Stats, error) {
	rc, onDisk, err := open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("cannot load users: %w", err)
	}
	defer rc.Close()
	if opts.Progress != nil {
		progress := opts.Progress
		opts.Progress = func(rows, _ int64) { progress(rows, onDisk()) }
	}
	return ReadUsers(ctx, rc, path, key, schema, opts, fn) // its errors name the file
}

// duplicates gathers the duplicate-key errors of a read, whose first
// occurrence ReadUsers could not know.
func duplicates(err error, st Stats) []*RowError {
	var out []*RowError
	var rerr *RowError
	if errors.As(err, &rerr) && errors.Is(rerr, bitmaps.ErrDuplicateUser) {
		out = append(out, rerr)
	}
	for _, e := range st.FirstErrors {
		if errors.As(e, &rerr) && errors.Is(rerr, bitmaps.ErrDuplicateUser) {
			out = append(out, rerr)
		}
	}
	return out
}

// findFirstLines reads path again up to the last duplicate and sets each
// duplicate's FirstLine to the first valid line with its key (the one that
// was loaded). This costs a second read only when duplicates exist.
func findFirstLines(ctx context.Context, path, key string, schema bitmaps.Schema, dups []*RowError) error {
	want := make(map[string][]*RowError, len(dups))
	last := 0
	for _, e := range dups {
		k := e.dupKey
		want[k] = append(want[k], e)
		last = max(last, e.Line)
	}
	rc, _, err := open(path)
	if err != nil {
		return fmt.Errorf("cannot load users: %w", err)
	}
	defer rc.Close()
	lr := newLineReader(rc, MaxLineBytes)
	d := newLineDecoder(key, schema)
	row := make(bitmaps.Row, len(schema))
	for len(want) > 0 {
		line, tooLong, err := lr.next()
		if err != nil || lr.line >= last {
			break // the caller already has the read's own error
		}
		if lr.line%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if tooLong || IsBlank(line) {
			continue
		}
		d.arena, d.unknown = d.arena[:0], d.unknown[:0]
		if id, derr := d.decode(line, row); derr == nil {
			for _, e := range want[id] {
				e.FirstLine = lr.line
			}
			delete(want, id)
		}
	}
	return nil
}
