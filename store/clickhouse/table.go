package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cohortd/cohortd/bitmaps"
)

// DefaultUpdatedColumn is the column whose presence makes refreshes
// incremental (see Refresher).
const DefaultUpdatedColumn = "updated_at"

// Table is a ClickHouse table bound to the attribute catalog: the key
// attribute and every field of the schema matched with a column of the same
// name. Bind one with Client.Table. A Table is immutable and safe for
// concurrent use.
type Table struct {
	c      *Client
	name   string // table name in the client's database
	qname  string // `db`.`name`
	engine string
	key    column
	cols   []column // aligned with schema
	schema bitmaps.Schema
	final  bool    // read with FINAL (a Replacing/Collapsing/... MergeTree)
	upd    *column // the updated_at column when the table has one
	from   string  // FROM clause for pushed-down queries
}

// TableOption tunes Client.Table.
type TableOption func(*tableOptions)

type tableOptions struct {
	updated string
}

// WithUpdatedColumn names the column of last-change times that makes
// refreshes incremental (default "updated_at"; "" turns incremental
// refreshes off).
func WithUpdatedColumn(name string) TableOption {
	return func(o *tableOptions) { o.updated = name }
}

// Table binds table (in the client's database) to the catalog: key is the
// key attribute, schema the other attributes. It reads the table's columns
// from system.columns; a missing table, a missing column or a column whose
// type cannot hold its attribute is a *SchemaError naming the column (all
// problems at once). Columns not in the catalog are ignored.
func (c *Client) Table(ctx context.Context, table, key string, schema bitmaps.Schema, opts ...TableOption) (*Table, error) {
	o := tableOptions{updated: DefaultUpdatedColumn}
	for _, opt := range opts {
		opt(&o)
	}
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("cannot bind table %q: %w", table, err)
	}
	qname := c.QualifiedName(table)
	types, engine, engineFull, err := c.describe(ctx, table)
	if err != nil {
		return nil, err
	}
	if types == nil {
		return nil, &SchemaError{Table: qname, Problems: []string{"the table does not exist (create it, e.g. with `cohortd load`)"}}
	}
	t := &Table{c: c, name: table, qname: qname, engine: engine, schema: append(bitmaps.Schema(nil), schema...)}
	var problems []string
	col := func(name string, k bitmaps.Kind, isKey bool) column {
		typ, ok := types[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("column %s is missing (attribute %q is %s)", Ident(name), name, kindName(k, isKey)))
			return column{}
		}
		m, msg := mapColumn(name, k, isKey, typ)
		if msg != "" {
			problems = append(problems, msg)
		}
		return m
	}
	t.key = col(key, bitmaps.KindString, true)
	for _, f := range schema {
		if f.Name == key {
			problems = append(problems, fmt.Sprintf("attribute %q is both the key and a field", key))
			continue
		}
		t.cols = append(t.cols, col(f.Name, f.Kind, false))
	}
	if len(problems) > 0 {
		return nil, &SchemaError{Table: qname, Problems: problems}
	}
	if o.updated != "" {
		if typ, ok := types[o.updated]; ok {
			m, msg := mapColumn(o.updated, bitmaps.KindTime, false, typ)
			if msg != "" {
				return nil, &SchemaError{Table: qname, Problems: []string{
					fmt.Sprintf("column %s is %s: it must be a DateTime, DateTime64, Date or integer to make refreshes incremental", Ident(o.updated), typ)}}
			}
			t.upd = &m
		}
	}
	t.final = needsFinal(engine)
	if engine == "Distributed" {
		// Versions of a user meet on the shard its key hashes to, where
		// FINAL merges them: read with FINAL when the local table keeps
		// versions (as far as this node, if it hosts it, can tell).
		if db, local, ok := distributedTarget(engineFull); ok {
			var localEngine string
			q := "SELECT engine FROM system.tables WHERE database = " + String(db) + " AND name = " + String(local)
			if err := c.conn.QueryRow(ctx, q).Scan(&localEngine); err == nil {
				t.final = needsFinal(localEngine)
			}
		}
	}
	t.from = t.fromClause()
	return t, nil
}

// distributedTarget returns the database and table a Distributed engine
// reads (its second and third arguments).
func distributedTarget(engineFull string) (db, table string, ok bool) {
	t, err := parseType(engineFull)
	if err != nil || t.name != "Distributed" || len(t.args) < 3 {
		return "", "", false
	}
	unquote := func(s string) string {
		if len(s) >= 2 && (s[0] == '\'' || s[0] == '`' || s[0] == '"') && s[len(s)-1] == s[0] {
			return s[1 : len(s)-1]
		}
		return s
	}
	return unquote(t.args[1]), unquote(t.args[2]), true
}

// describe returns the column types of a table (nil when it does not
// exist), its engine and the engine's full definition.
func (c *Client) describe(ctx context.Context, table string) (types map[string]string, engine, engineFull string, err error) {
	q := "SELECT name, type FROM system.columns WHERE database = " + String(c.cfg.Database) + " AND table = " + String(table)
	rows, err := c.conn.Query(ctx, q)
	if err != nil {
		return nil, "", "", fmt.Errorf("cannot read the columns of %s from ClickHouse at %s: %w", c.QualifiedName(table), c.cfg.Addr, err)
	}
	types = map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return nil, "", "", fmt.Errorf("cannot read the columns of %s: %w", c.QualifiedName(table), err)
		}
		types[name] = typ
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, "", "", fmt.Errorf("cannot read the columns of %s from ClickHouse at %s: %w", c.QualifiedName(table), c.cfg.Addr, err)
	}
	if len(types) == 0 {
		return nil, "", "", nil
	}
	q = "SELECT engine, engine_full FROM system.tables WHERE database = " + String(c.cfg.Database) + " AND name = " + String(table)
	if err := c.conn.QueryRow(ctx, q).Scan(&engine, &engineFull); err != nil {
		return nil, "", "", fmt.Errorf("cannot read the engine of %s from ClickHouse at %s: %w", c.QualifiedName(table), c.cfg.Addr, err)
	}
	return types, engine, engineFull, nil
}

// needsFinal reports whether rows of an engine may hold several versions of
// a user until merged, so reads need FINAL.
func needsFinal(engine string) bool {
	e := strings.TrimPrefix(engine, "Replicated")
	for _, s := range []string{"ReplacingMergeTree", "CollapsingMergeTree", "VersionedCollapsingMergeTree", "SummingMergeTree", "AggregatingMergeTree"} {
		if e == s {
			return true
		}
	}
	return false
}

// Name returns the quoted `database`.`table` name.
func (t *Table) Name() string { return t.qname }

// Engine returns the table's engine, e.g. "ReplacingMergeTree".
func (t *Table) Engine() string { return t.engine }

// Key returns the key attribute.
func (t *Table) Key() string { return t.key.attr }

// Schema returns a copy of the schema the table is bound to.
func (t *Table) Schema() bitmaps.Schema { return append(bitmaps.Schema(nil), t.schema...) }

// Incremental reports whether the table has a column of last-change times,
// so refreshes read only changed rows.
func (t *Table) Incremental() bool { return t.upd != nil }

// Client returns the client the table was bound with.
func (t *Table) Client() *Client { return t.c }

// fromClause is what pushed-down queries select from: the table itself when
// every column fits the compiler's SQL as stored, else a subquery that
// presents each attribute under its name with the type the SQL expects.
// A table read with FINAL is always wrapped, so that filters run after the
// versions of a user are merged, never before.
func (t *Table) fromClause() string {
	wrap := t.final || t.key.view != ""
	for _, c := range t.cols {
		wrap = wrap || c.view != ""
	}
	if !wrap {
		return t.qname
	}
	parts := make([]string, 0, len(t.cols)+1)
	for _, c := range append([]column{t.key}, t.cols...) {
		if c.view == "" {
			parts = append(parts, Ident(c.attr))
		} else {
			parts = append(parts, c.view+" AS "+Ident(c.attr))
		}
	}
	final := ""
	if t.final {
		final = " FINAL"
	}
	return "(SELECT " + strings.Join(parts, ", ") + " FROM " + t.qname + final + ")"
}

// From returns what pushed-down queries select from: the table's name, or
// a subquery presenting each attribute with the type the compiler's SQL
// expects (see the package doc).
func (t *Table) From() string { return t.from }

// CountSQL returns the query counting the users matching where (a WHERE
// clause from compiler.Query.SQL). A table read with FINAL holds one row
// per user; any other may hold several (a plain MergeTree the index would
// refuse), so each user counts once.
func (t *Table) CountSQL(where string) string {
	if t.final {
		return "SELECT count() FROM " + t.from + " WHERE " + where
	}
	return "SELECT uniqExact(" + Ident(t.key.attr) + ") FROM " + t.from + " WHERE " + where
}

// MembersSQL returns the query listing the user ids matching where, in
// ascending byte order, each once (see CountSQL).
func (t *Table) MembersSQL(where string) string {
	k := Ident(t.key.attr)
	if t.final {
		return "SELECT " + k + " FROM " + t.from + " WHERE " + where + " ORDER BY " + k
	}
	return "SELECT DISTINCT " + k + " FROM " + t.from + " WHERE " + where + " ORDER BY " + k
}

// Count runs CountSQL(where) in ClickHouse.
func (t *Table) Count(ctx context.Context, where string) (uint64, error) {
	var n uint64
	if err := t.c.conn.QueryRow(ctx, t.CountSQL(where)).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count in ClickHouse table %s: %w", t.qname, err)
	}
	return n, nil
}

// Members runs MembersSQL(where) in ClickHouse and calls fn with each user
// id, in ascending byte order, as rows stream in; an error from fn stops the
// query and is returned.
func (t *Table) Members(ctx context.Context, where string, fn func(userID string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := t.c.conn.Query(ctx, t.MembersSQL(where))
	if err != nil {
		return fmt.Errorf("cannot list members in ClickHouse table %s: %w", t.qname, err)
	}
	defer func() {
		cancel() // stop the server first: Close drains what is left
		rows.Close()
	}()
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("cannot list members in ClickHouse table %s: %w", t.qname, err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot list members in ClickHouse table %s: %w", t.qname, err)
	}
	return nil
}
