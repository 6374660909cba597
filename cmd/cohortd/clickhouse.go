package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/server"
	"github.com/cohortd/cohortd/store/clickhouse"
)

// clickhouseFlags say where the users table lives in ClickHouse.
type clickhouseFlags struct {
	addr     string
	table    string
	database string
	user     string
	password string
	tls      bool
	refresh  time.Duration
	pushdown bool
}

// register adds the connection flags (--clickhouse and friends); table is
// the name of the table flag ("clickhouse-table", or "table" for load).
func (f *clickhouseFlags) register(fs *pflag.FlagSet, table string) {
	fs.StringVar(&f.addr, "clickhouse", "", "ClickHouse native-protocol address HOST:PORT (e.g. 127.0.0.1:9000) holding the users table")
	fs.StringVar(&f.table, table, clickhouse.DefaultTable, "the ClickHouse table of users")
	fs.StringVar(&f.database, "clickhouse-database", clickhouse.DefaultDatabase, "the ClickHouse database of the table")
	fs.StringVar(&f.user, "clickhouse-user", clickhouse.DefaultUser, "ClickHouse user")
	fs.StringVar(&f.password, "clickhouse-password", "", "ClickHouse password (better given as COHORTD_CLICKHOUSE_PASSWORD)")
	fs.BoolVar(&f.tls, "clickhouse-tls", false, "connect to ClickHouse over TLS (its secure native port, usually 9440)")
}

func (f *clickhouseFlags) registerRefresh(fs *pflag.FlagSet) {
	fs.DurationVar(&f.refresh, "refresh", 5*time.Minute, "with --clickhouse: how often to refresh the index from ClickHouse (0: never)")
}

func (f *clickhouseFlags) registerPushdown(fs *pflag.FlagSet) {
	fs.BoolVar(&f.pushdown, "pushdown", false, "with --clickhouse: evaluate in ClickHouse with the compiled SQL instead of loading the users")
}

func (f *clickhouseFlags) enabled() bool { return f.addr != "" }

// check refuses flag combinations that make no sense.
func (f *clickhouseFlags) check(src *source) error {
	switch {
	case f.pushdown && !f.enabled():
		return usageError{errors.New("--pushdown needs --clickhouse HOST:PORT")}
	case f.enabled() && src != nil && src.data != "":
		return usageError{errors.New("give --data or --clickhouse, not both")}
	case f.refresh < 0:
		return usageError{fmt.Errorf("--refresh %s is negative", f.refresh)}
	}
	return nil
}

// open returns a client for the flags.
func (f *clickhouseFlags) open() (*clickhouse.Client, error) {
	cfg := clickhouse.Config{Addr: f.addr, Database: f.database, User: f.user, Password: f.password}
	if f.tls {
		host, _, err := net.SplitHostPort(f.addr)
		if err != nil {
			return nil, usageError{fmt.Errorf("--clickhouse %q is not HOST:PORT", f.addr)}
		}
		cfg.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	c, err := clickhouse.Open(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// readIndex reads the users table into an index once (query, explain).
func (f *clickhouseFlags) readIndex(ctx context.Context, set *compiler.Set, skipBadRows bool, log *slog.Logger) (*bitmaps.Index, error) {
	c, err := f.open()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tb, err := c.Table(ctx, f.table, set.Key(), set.Schema())
	if err != nil {
		return nil, err
	}
	ix, st, err := tb.ReadIndex(ctx, clickhouse.ReadOptions{SkipBadRows: skipBadRows, Progress: tableProgress(log)})
	if err != nil {
		return nil, err
	}
	attrs := []any{"users", ix.Len(), "took", st.Took.Round(time.Millisecond).String(), "reading", st.ScanTook.Round(time.Millisecond).String(), "source", tb.Name()}
	if st.Skipped > 0 {
		attrs = append(attrs, "skipped_bad_rows", st.Skipped, "first_errors", st.FirstErrors)
	}
	log.Info("index loaded", attrs...)
	return ix, nil
}

// loadIndexOr reads the index from ClickHouse when --clickhouse is given,
// else from --data or the demo population.
func (f *clickhouseFlags) loadIndexOr(ctx context.Context, src *source, set *compiler.Set, log *slog.Logger) (*bitmaps.Index, error) {
	if f.enabled() {
		return f.readIndex(ctx, set, src.skipBadRows, log)
	}
	return src.loadIndex(ctx, set, log)
}

// tableProgress logs the rows read from ClickHouse every few seconds.
func tableProgress(log *slog.Logger) func(rows, total int64) {
	var last time.Time
	return func(rows, total int64) {
		if time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		log.Info("reading users from ClickHouse", "rows", rows, "of", total)
	}
}

// runPushdown evaluates q in ClickHouse and prints the members like query does.
func (f *clickhouseFlags) runPushdown(cmd *cobra.Command, set *compiler.Set, q *compiler.Query, now time.Time, format string, explain bool) error {
	ctx := cmd.Context()
	where, err := q.SQL(now)
	if err != nil {
		return err
	}
	c, err := f.open()
	if err != nil {
		return err
	}
	defer c.Close()
	tb, err := c.Table(ctx, f.table, set.Key(), set.Schema())
	if err != nil {
		return err
	}
	if explain {
		fmt.Fprintln(cmd.ErrOrStderr(), tb.MembersSQL(where))
	}
	out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
	switch format {
	case "count":
		n, err := tb.Count(ctx, where)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, n)
	case "ids":
		err = tb.Members(ctx, where, func(id string) error {
			out.WriteString(id)
			return out.WriteByte('\n')
		})
	case "json":
		var ids []string
		err = tb.Members(ctx, where, func(id string) error {
			ids = append(ids, id)
			return nil
		})
		if err == nil {
			fmt.Fprintf(out, `{"count": %d, "members": [`, len(ids))
			for i, id := range ids {
				if i > 0 {
					out.WriteString(", ")
				}
				b, _ := json.Marshal(id)
				out.Write(b)
			}
			out.WriteString("]}\n")
		}
	}
	if err != nil {
		return err
	}
	return out.Flush()
}

// explainSQL is the SQL part of explain: the WHERE clause the compiler
// emits for ClickHouse.
func explainSQL(q *compiler.Query, now time.Time) string {
	where, err := q.SQL(now)
	if err != nil {
		return "ClickHouse SQL: " + err.Error()
	}
	return "ClickHouse SQL (WHERE clause, for query --pushdown):\n  " + where
}

// chServe is the ClickHouse source of serve: the first load (retrying while
// ClickHouse is down, /readyz answering 503 meanwhile) and the refresh loop
// of the running catalog. A reload that changes the catalog starts a new
// refresher; the old one stops once the new index loaded.
type chServe struct {
	f   *clickhouseFlags
	log *slog.Logger

	mu     sync.Mutex
	client *clickhouse.Client
	reg    prometheus.Registerer
	setIx  func(*bitmaps.Index) error
	rebase func(*compiler.Set, *bitmaps.Index, time.Time) error
	stop   context.CancelFunc // the running refresher's
	cur    *clickhouse.Refresher
	ctx    context.Context // outlives LoadIndex calls: the serve command's
}

func (f *clickhouseFlags) server(ctx context.Context, log *slog.Logger) *chServe {
	return &chServe{f: f, log: log, ctx: ctx}
}

// attach gives the refreshers the server's metrics registry and index
// swap, and rebase, which carries what the event stream applied after a
// refresh's read onto the refreshed index before it is served.
func (s *chServe) attach(reg prometheus.Registerer, setIndex func(*bitmaps.Index) error,
	rebase func(*compiler.Set, *bitmaps.Index, time.Time) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reg, s.setIx, s.rebase = reg, setIndex, rebase
}

// loadIndex is serve's server.Config.LoadIndex with --clickhouse.
func (s *chServe) loadIndex(ctx context.Context, set *compiler.Set, skipBadRows bool) (*bitmaps.Index, error) {
	s.mu.Lock()
	if s.client == nil {
		c, err := s.f.open()
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.client = c
	}
	c, reg := s.client, s.reg
	s.mu.Unlock()
	r, err := clickhouse.NewRefresher(c, s.f.table, set.Key(), set.Schema(), clickhouse.RefreshOptions{
		Interval:    s.f.refresh,
		SkipBadRows: skipBadRows,
		Logger:      s.log,
		Registerer:  reg,
		Progress:    tableProgress(s.log),
		Swap: func(ix *bitmaps.Index, asOf time.Time) error {
			s.mu.Lock()
			setIndex, rebase := s.setIx, s.rebase
			s.mu.Unlock()
			if setIndex == nil {
				return errors.New("the server is not ready for a new index")
			}
			if rebase != nil {
				if err := rebase(set, ix, asOf); err != nil {
					return fmt.Errorf("cannot carry streamed updates onto the refreshed index: %w", err)
				}
			}
			return setIndex(ix)
		},
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("reading users from ClickHouse", "addr", s.f.addr, "table", c.QualifiedName(s.f.table), "refresh", s.f.refresh.String())
	ix, err := r.Load(ctx)
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(s.ctx)
	s.mu.Lock()
	if s.stop != nil {
		s.stop() // the previous catalog's refresher
	}
	s.stop, s.cur = stop, r
	s.mu.Unlock()
	go func() {
		if err := r.Run(rctx); err != nil {
			s.log.Error("ClickHouse refresh stopped", "err", err)
		}
	}()
	return ix, nil
}

// health is the running refresher's view of ClickHouse, for /readyz.
func (s *chServe) health() server.SourceHealth {
	s.mu.Lock()
	r := s.cur
	s.mu.Unlock()
	if r == nil {
		return server.SourceHealth{}
	}
	h := r.Health()
	return server.SourceHealth{OK: h.OK, LastSuccess: h.LastSuccess, Error: h.LastError, Since: h.Since}
}

// close stops the refresher and closes the client.
func (s *chServe) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	if s.client != nil {
		s.client.Close()
	}
}
