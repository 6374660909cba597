package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"github.com/cohortd/cohortd/store/events"
	"hash/maphash"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/store"
)

// DefaultBatchRows is how many rows Load sends to ClickHouse at once.
const DefaultBatchRows = 100_000

// ErrTableExists is returned (wrapped) by Load with IfExistsFail when the
// table exists.
var ErrTableExists = errors.New("table already exists")

// IfExists says what Load does when the table already exists.
type IfExists int

const (
	// IfExistsFail refuses to touch an existing table (the default).
	IfExistsFail IfExists = iota
	// IfExistsReplace loads into a new table and swaps it in by renaming
	// when the load succeeded; the old table is dropped.
	IfExistsReplace
	// IfExistsAppend inserts into the existing table, which must have the
	// layout CreateTableSQL gives (a ReplacingMergeTree keyed by the user
	// id, so a user loaded again replaces its older row).
	IfExistsAppend
)

// LoadOptions tunes Load.
type LoadOptions struct {
	IfExists IfExists
	// BatchRows is the number of rows per block sent (default 100,000).
	BatchRows int
	// SkipBadRows skips (and counts) bad NDJSON lines, as store.Options.
	SkipBadRows bool
	// Progress is called about every 100,000 rows and at the end with the
	// rows read and the bytes of the file consumed.
	Progress func(rows, bytes int64)
	// Logger receives a summary line (nil: discard).
	Logger *slog.Logger
}

// LoadStats describes what Load did.
type LoadStats struct {
	Rows    int64 // rows inserted
	Skipped int64 // bad lines skipped (only with SkipBadRows)
	// UnknownAttributes counts, per attribute not in the catalog, the rows
	// that had it (ignored).
	UnknownAttributes map[string]int64
	FirstErrors       []error // up to 10 skipped lines (*store.RowError)
	// Events is what applying the data directory's events.ndjson did.
	Events events.FileStats
	Took   time.Duration
}

// updatedType is the type of the updated_at column Load adds, filled by
// ClickHouse at insert time; it is the ReplacingMergeTree's version.
const updatedType = "DateTime DEFAULT now()"

// canonicalType is the column type CreateTableSQL gives an attribute.
func canonicalType(k bitmaps.Kind, key bool) string {
	if key {
		return "String"
	}
	switch k {
	case bitmaps.KindString:
		return "Nullable(String)"
	case bitmaps.KindInt:
		return "Nullable(Int64)"
	case bitmaps.KindFloat:
		return "Nullable(Float64)"
	case bitmaps.KindBool:
		return "Nullable(UInt8)"
	case bitmaps.KindTime:
		return "Nullable(DateTime)"
	case bitmaps.KindStringList:
		return "Array(String)"
	}
	return ""
}

// CreateTableSQL returns the DDL of a users table for the catalog (key +
// schema), which runs on ClickHouse 18.16 and current releases:
//
//	string Nullable(String)   int Nullable(Int64)   float Nullable(Float64)
//	bool Nullable(UInt8)      timestamp Nullable(DateTime)
//	list<string> Array(String) (empty = NULL)       key String
//
// plus `updated_at DateTime DEFAULT now()` (unless the catalog has an
// attribute of that name), in a ReplacingMergeTree ordered by the key with
// updated_at as its version: inserting a user again replaces its row, and
// refreshes read only the rows changed since the last one. qname is the
// quoted table name (Client.QualifiedName).
func CreateTableSQL(qname, key string, schema bitmaps.Schema) string {
	cols := []string{Ident(key) + " " + canonicalType(bitmaps.KindString, true)}
	hasUpdated := key == DefaultUpdatedColumn
	for _, f := range schema {
		cols = append(cols, Ident(f.Name)+" "+canonicalType(f.Kind, false))
		hasUpdated = hasUpdated || f.Name == DefaultUpdatedColumn
	}
	engine := "ReplacingMergeTree()"
	if !hasUpdated {
		cols = append(cols, Ident(DefaultUpdatedColumn)+" "+updatedType)
		engine = "ReplacingMergeTree(" + Ident(DefaultUpdatedColumn) + ")"
	}
	return "CREATE TABLE " + qname + " (\n  " + strings.Join(cols, ",\n  ") + "\n) ENGINE = " + engine + " ORDER BY " + Ident(key)
}

// Load creates table (in c's database) from the catalog with
// CreateTableSQL and inserts the NDJSON users of path (a file, .gz, or a
// data directory holding users.ndjson; values checked as store.ReadUsers
// does) in blocks of opts.BatchRows. A user id given twice is a bad line,
// as in the embedded store. With IfExistsFail and IfExistsReplace the rows
// go to a new table renamed into place only when every row is in, so a
// failed load leaves the old table (or none) and readers never see half a
// load. A timestamp outside DateTime's range (1970 to 2106) is a bad line.
func (c *Client) Load(ctx context.Context, path, table, key string, schema bitmaps.Schema, opts LoadOptions) (LoadStats, error) {
	start := time.Now()
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if err := schema.Validate(); err != nil {
		return LoadStats{}, fmt.Errorf("cannot load into table %q: %w", table, err)
	}
	df, err := store.ResolveData(path)
	if err != nil {
		return LoadStats{}, err
	}
	if df.Users == "" {
		return LoadStats{}, fmt.Errorf("cannot load users from %q: no users.ndjson or users.ndjson.gz there", path)
	}
	qname := c.QualifiedName(table)
	types, _, _, err := c.describe(ctx, table)
	if err != nil {
		return LoadStats{}, err
	}
	exists := types != nil
	target, staging := qname, ""
	switch {
	case exists && opts.IfExists == IfExistsFail:
		return LoadStats{}, fmt.Errorf("%w: %s (replace it or append to it)", ErrTableExists, qname)
	case exists && opts.IfExists == IfExistsAppend:
		if err := checkCanonical(qname, types, key, schema); err != nil {
			return LoadStats{}, err
		}
	default:
		staging = fmt.Sprintf("%s__cohortd_load_%d", table, time.Now().UnixNano())
		target = c.QualifiedName(staging)
		if err := c.Exec(ctx, CreateTableSQL(target, key, schema)); err != nil {
			return LoadStats{}, fmt.Errorf("cannot create table %s: %w", target, err)
		}
		defer func() {
			if target != qname { // not renamed: drop what was loaded
				if derr := c.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+target); derr != nil && opts.Logger != nil {
					opts.Logger.Warn("cannot drop the staging table", "table", target, "err", derr)
				}
			}
		}()
	}
	st, err := c.insert(ctx, df.Users, df.Events, target, key, schema, exists && opts.IfExists == IfExistsAppend, opts)
	st.Took = time.Since(start)
	if err != nil {
		return st, err
	}
	if target != qname {
		if err := c.swapIn(ctx, staging, table, exists); err != nil {
			return st, err
		}
		target = qname
	}
	if opts.Logger != nil {
		attrs := []any{"table", qname, "rows", st.Rows, "took", st.Took.Round(time.Millisecond).String()}
		if st.Skipped > 0 {
			attrs = append(attrs, "skipped_bad_rows", st.Skipped)
		}
		if len(st.UnknownAttributes) > 0 {
			attrs = append(attrs, "ignored_attributes", st.UnknownAttributes)
		}
		opts.Logger.Info("users loaded into ClickHouse", attrs...)
	}
	return st, nil
}

// swapIn renames the staging table to table, replacing an existing one.
func (c *Client) swapIn(ctx context.Context, staging, table string, exists bool) error {
	qname := c.QualifiedName(table)
	if !exists {
		if err := c.Exec(ctx, "RENAME TABLE "+c.QualifiedName(staging)+" TO "+qname); err != nil {
			return fmt.Errorf("cannot rename the loaded table to %s: %w", qname, err)
		}
		return nil
	}
	old := c.QualifiedName(staging + "_old")
	if err := c.Exec(ctx, "RENAME TABLE "+qname+" TO "+old+", "+c.QualifiedName(staging)+" TO "+qname); err != nil {
		return fmt.Errorf("cannot swap the loaded table in as %s: %w", qname, err)
	}
	if err := c.Exec(ctx, "DROP TABLE "+old); err != nil {
		return fmt.Errorf("loaded %s, but cannot drop the previous table (now %s): %w", qname, old, err)
	}
	return nil
}

// checkCanonical checks that an existing table has the layout
// CreateTableSQL gives, so that Load can append to it.
func checkCanonical(qname string, types map[string]string, key string, schema bitmaps.Schema) error {
	var problems []string
	check := func(name, want string) {
		switch got, ok := types[name]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("column %s is missing", Ident(name)))
		case got != want:
			problems = append(problems, fmt.Sprintf("column %s is %s; appending needs %s (the layout cohortd load creates)", Ident(name), got, want))
		}
	}
	check(key, canonicalType(bitmaps.KindString, true))
	for _, f := range schema {
		check(f.Name, canonicalType(f.Kind, false))
	}
	if len(problems) > 0 {
		return &SchemaError{Table: qname, Problems: problems}
	}
	return nil
}

// insertBatch holds one block of rows, column by column, in the Go types
// clickhouse-go appends to the canonical column types.
type insertBatch struct {
	keys []string
	cols []any // per field: []*string, []*int64, []*float64, []*uint8, []*int64 (DateTime) or [][]string
	// slabs back the pointers of one block (allocated once per block size).
	strs  [][]string
	ints  [][]int64
	flts  [][]float64
	bools [][]uint8
}

func newInsertBatch(schema bitmaps.Schema, n int) *insertBatch {
	b := &insertBatch{keys: make([]string, 0, n), cols: make([]any, len(schema)),
		strs: make([][]string, len(schema)), ints: make([][]int64, len(schema)),
		flts: make([][]float64, len(schema)), bools: make([][]uint8, len(schema))}
	for i, f := range schema {
		switch f.Kind {
		case bitmaps.KindString:
			b.strs[i] = make([]string, n)
			b.cols[i] = make([]*string, 0, n)
		case bitmaps.KindInt, bitmaps.KindTime:
			b.ints[i] = make([]int64, n)
			b.cols[i] = make([]*int64, 0, n)
		case bitmaps.KindFloat:
			b.flts[i] = make([]float64, n)
			b.cols[i] = make([]*float64, 0, n)
		case bitmaps.KindBool:
			b.bools[i] = make([]uint8, n)
			b.cols[i] = make([]*uint8, 0, n)
		case bitmaps.KindStringList:
			b.cols[i] = make([][]string, 0, n)
		}
	}
	return b
}

func (b *insertBatch) len() int { return len(b.keys) }

// add appends one row (already checked by store.ReadUsers).
func (b *insertBatch) add(key string, row bitmaps.Row) {
	j := len(b.keys)
	b.keys = append(b.keys, key)
	for i, v := range row {
		switch col := b.cols[i].(type) {
		case []*string:
			var p *string
			if v != nil {
				b.strs[i][j] = v.(string)
				p = &b.strs[i][j]
			}
			b.cols[i] = append(col, p)
		case []*int64:
			var p *int64
			if v != nil {
				b.ints[i][j] = v.(int64)
				p = &b.ints[i][j]
			}
			b.cols[i] = append(col, p)
		case []*float64:
			var p *float64
			if v != nil {
				b.flts[i][j] = v.(float64)
				p = &b.flts[i][j]
			}
			b.cols[i] = append(col, p)
		case []*uint8:
			var p *uint8
			if v != nil {
				b.bools[i][j] = 0
				if v.(bool) {
					b.bools[i][j] = 1
				}
				p = &b.bools[i][j]
			}
			b.cols[i] = append(col, p)
		case [][]string:
			var l []string
			if v != nil {
				l = append([]string(nil), v.([]string)...) // ReadUsers reuses its lists
			} else {
				l = []string{}
			}
			b.cols[i] = append(col, l)
		}
	}
}

// reset empties the batch for the next block.
func (b *insertBatch) reset() {
	b.keys = b.keys[:0]
	for i, c := range b.cols {
		switch col := c.(type) {
		case []*string:
			b.cols[i] = col[:0]
		case []*int64:
			b.cols[i] = col[:0]
		case []*float64:
			b.cols[i] = col[:0]
		case []*uint8:
			b.cols[i] = col[:0]
		case [][]string:
			clear(col)
			b.cols[i] = col[:0]
		}
	}
}

// appendTo appends the block to a clickhouse-go batch, column by column.
func (b *insertBatch) appendTo(batch driver.Batch) error {
	if err := batch.Column(0).Append(b.keys); err != nil {
		return err
	}
	for i, c := range b.cols {
		if err := batch.Column(i + 1).Append(c); err != nil {
			return err
		}
	}
	return nil
}

// insert streams the NDJSON file into target.
// insert reads the users of file into target. With an events file (a data
// directory's events.ndjson), the users its events touch are held in a
// small index, the events are applied to it in ts order as query --data
// does (events.ApplyFile), and those users are inserted as they end up:
// the table then answers as the data directory does. When appending to an
// existing table, only the file's users take events.
func (c *Client) insert(ctx context.Context, file, eventsFile, target, key string, schema bitmaps.Schema, appending bool, opts LoadOptions) (LoadStats, error) {
	var (
		evs     *events.FileEvents
		touched map[string]bool
		held    *bitmaps.Builder
	)
	if eventsFile != "" {
		var err error
		if evs, err = events.ReadFile(ctx, eventsFile, events.NewDecoder(key, schema)); err != nil {
			return LoadStats{}, err
		}
		touched, held = evs.Users(), bitmaps.NewBuilder(schema)
	}
	names := []string{Ident(key)}
	for _, f := range schema {
		names = append(names, Ident(f.Name))
	}
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO "+target+" ("+strings.Join(names, ", ")+")")
	if err != nil {
		return LoadStats{}, fmt.Errorf("cannot insert into %s: %w", target, err)
	}
	defer batch.Abort() //nolint:errcheck // a no-op once sent
	blk := newInsertBatch(schema, opts.BatchRows)
	seen := newKeySet()
	flush := func() error {
		if blk.len() == 0 {
			return nil
		}
		if err := blk.appendTo(batch); err != nil {
			return err
		}
		if err := batch.Flush(); err != nil {
			return err
		}
		blk.reset()
		return nil
	}
	rc, err := store.Open(file)
	if err != nil {
		return LoadStats{}, fmt.Errorf("cannot load users: %w", err)
	}
	defer rc.Close()
	ropts := store.Options{SkipBadRows: opts.SkipBadRows, Progress: opts.Progress}
	var inserted int64
	// add inserts a row whose timestamps were checked (checkDateTimes).
	add := func(userID string, row bitmaps.Row) error {
		blk.add(userID, row)
		inserted++
		if blk.len() >= opts.BatchRows {
			if err := flush(); err != nil {
				return fmt.Errorf("cannot insert into %s: %w", target, err)
			}
		}
		return nil
	}
	sst, err := store.ReadUsers(ctx, rc, file, key, schema, ropts, func(userID string, row bitmaps.Row) error {
		if err := checkDateTimes(schema, row); err != nil {
			return err
		}
		if seen.add(userID) {
			return fmt.Errorf("%w %q", bitmaps.ErrDuplicateUser, userID)
		}
		if touched[userID] {
			return held.Add(userID, row)
		}
		return add(userID, row)
	})
	st := LoadStats{Skipped: sst.Skipped, UnknownAttributes: sst.UnknownAttributes, FirstErrors: sst.FirstErrors}
	if err != nil {
		st.Rows = inserted
		return st, err
	}
	if held != nil {
		ix := held.Build()
		dropped := 0
		if appending {
			// The table may hold users the file does not: applying their
			// events here would insert rows made of the events alone,
			// replacing theirs. Only the file's users take events; stream
			// the others to a running server (POST /api/v1/events, Kafka).
			dropped = evs.Keep(func(u string) bool { _, ok := ix.Lookup(u); return ok })
		}
		st.Events = evs.Apply(ix, events.Options{})
		st.Events.Dropped = dropped
		var aerr error
		ix.Iterate(ix.Universe(), "", func(id uint32, userID string) bool {
			row, _ := ix.Row(id)
			if aerr = checkDateTimes(schema, row); aerr == nil { // events may have set them
				aerr = add(userID, row)
			}
			if aerr != nil {
				aerr = fmt.Errorf("user %q after the events of %s: %w", userID, eventsFile, aerr)
			}
			return aerr == nil
		})
		if aerr != nil {
			return st, aerr
		}
	}
	st.Rows = inserted
	if err := flush(); err != nil {
		return st, fmt.Errorf("cannot insert into %s: %w", target, err)
	}
	if err := batch.Send(); err != nil {
		return st, fmt.Errorf("cannot insert into %s: %w", target, err)
	}
	return st, nil
}

// checkDateTimes refuses a timestamp ClickHouse's DateTime cannot hold.
func checkDateTimes(schema bitmaps.Schema, row bitmaps.Row) error {
	for i, v := range row {
		if schema[i].Kind != bitmaps.KindTime || v == nil {
			continue
		}
		if s := v.(int64); s < 0 || s > math.MaxUint32 {
			return fmt.Errorf("%q: %s is outside the range of ClickHouse's DateTime (1970-01-01 to 2106-02-07)",
				schema[i].Name, time.Unix(s, 0).UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// keySet is a set of 128-bit hashes of user ids (open addressing, 16 to
// 32 bytes a key): it finds a repeated id among 10 million in about 256 MB,
// where keeping the ids would take several times that. Two different ids
// collide with a probability near 10^-25 for 10^7 ids, far below that of
// a hardware error.
type keySet struct {
	seed1, seed2 maphash.Seed
	slots        []hash128
	n            int
}

type hash128 struct{ a, b uint64 }

func newKeySet() *keySet {
	return &keySet{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), slots: make([]hash128, 1<<16)}
}

// add inserts key and reports whether it was already there.
func (s *keySet) add(key string) bool {
	h := hash128{maphash.String(s.seed1, key) | 1, maphash.String(s.seed2, key)} // a == 0 marks a free slot
	if s.n*4 >= len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h.a & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case hash128{}:
			s.slots[i] = h
			s.n++
			return false
		case h:
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]hash128, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h.a == 0 {
			continue
		}
		i := h.a & mask
		for s.slots[i].a != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}
