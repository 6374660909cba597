package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/server"
	"github.com/cohortd/cohortd/store"
	"github.com/cohortd/cohortd/store/clickhouse"
	"github.com/cohortd/cohortd/store/gen"
)

// bench holds the population, the two cohort sets and every measurement.
type bench struct {
	cfg config
	log *slog.Logger
	tmp string // temporary directory (cohort files, NDJSON)

	main, hundred         *compiler.Set // root + complex cohorts; the same plus generated up to 100
	mainYAML, hundredYAML []byte

	ix                 *bitmaps.Index
	genAdd, buildTook  time.Duration
	snapshotRead       time.Duration // when read from --index-cache instead
	stats              bitmaps.IndexStats
	hwmBuild, rssAfter int64

	ch                              *clickhouse.Client
	table                           *clickhouse.Table
	chVersion                       string
	chGenerate, chLoad, chCopy      time.Duration
	chReused                        bool
	chBytes                         int64 // compressed bytes of the table on disk
	cohorts                         []cohortResult
	userAll, user100                latencies
	userAllCohorts, user100Cohorts  int
	exportIDs                       uint64
	exportTook                      time.Duration
	exportCohort                    string
	httpMain, http100               loadResult
	httpMainCohorts, http100Cohorts int
	hwmEnd, rssEnd                  int64
	rssServing                      int64      // VmRSS while the HTTP server is up, after a GC
	httpWall                        loadResult // 100 cohorts, wall clock
}

// cohortResult is the measurement of one cohort.
type cohortResult struct {
	name, kind, expr string
	members          uint64
	count, eval      latencies
	ch               latencies
	chCount          uint64
	hasCH            bool
}

func newBench(ctx context.Context, cfg config, log *slog.Logger) (*bench, error) {
	data, err := os.ReadFile(cfg.cohorts)
	if err != nil {
		return nil, fmt.Errorf("cannot read cohorts from %q: %w", cfg.cohorts, err)
	}
	root, err := compiler.CompileData(cfg.cohorts, data)
	if err != nil {
		return nil, fmt.Errorf("cannot compile %q: %w", cfg.cohorts, err)
	}
	for _, name := range briefCohorts {
		if _, ok := root.Cohort(name); !ok {
			return nil, fmt.Errorf("%q has no cohort %q of the brief", cfg.cohorts, name)
		}
	}
	b := &bench{cfg: cfg, log: log}
	b.tmp, err = os.MkdirTemp("", "cohortd-bench-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary directory: %w", err)
	}
	have := len(root.Cohorts())
	if b.mainYAML, err = cohortFile(data, have, 0, 1); err != nil {
		return nil, err
	}
	if b.hundredYAML, err = cohortFile(data, have, 100, 1); err != nil {
		return nil, err
	}
	if b.main, err = compileFile(filepath.Join(b.tmp, "main.yaml"), b.mainYAML); err != nil {
		return nil, err
	}
	if b.hundred, err = compileFile(filepath.Join(b.tmp, "hundred.yaml"), b.hundredYAML); err != nil {
		return nil, err
	}
	if n := len(b.hundred.Cohorts()); n != 100 {
		log.Warn("the generated cohort file does not hold 100 cohorts", "cohorts", n)
	}
	return b, nil
}

// compileFile writes data to path (the HTTP server reads it from there) and
// compiles it.
func compileFile(path string, data []byte) (*compiler.Set, error) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("cannot write %q: %w", path, err)
	}
	set, err := compiler.CompileData(path, data)
	if err != nil {
		return nil, fmt.Errorf("cannot compile the generated cohorts: %w", err)
	}
	return set, nil
}

func (b *bench) close() {
	if b.ch != nil {
		b.ch.Close()
	}
	os.RemoveAll(b.tmp)
}

func (b *bench) genConfig() gen.Config {
	return gen.Config{Users: b.cfg.users, Seed: b.cfg.seed, Now: b.cfg.now}
}

// buildIndex generates the users in memory and builds the index, timing
// generation plus staging (Add) apart from Build.
func (b *bench) buildIndex(ctx context.Context) error {
	if b.cfg.indexCache != "" {
		if f, err := os.Open(b.cfg.indexCache); err == nil {
			defer f.Close()
			start := time.Now()
			ix, err := bitmaps.ReadIndex(bufio.NewReaderSize(f, 1<<20))
			if err != nil {
				return fmt.Errorf("cannot read the index snapshot %q: %w", b.cfg.indexCache, err)
			}
			b.ix, b.snapshotRead = ix, time.Since(start)
			return b.afterBuild()
		}
	}
	if err := b.build(ctx); err != nil {
		return err
	}
	if b.cfg.indexCache != "" {
		f, err := os.Create(b.cfg.indexCache)
		if err != nil {
			return fmt.Errorf("cannot write the index snapshot: %w", err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if _, err := b.ix.WriteTo(w); err != nil {
			f.Close()
			return fmt.Errorf("cannot write the index snapshot: %w", err)
		}
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			return fmt.Errorf("cannot write the index snapshot: %w", err)
		}
	}
	return nil
}

func (b *bench) build(ctx context.Context) error {
	set := b.main
	key, schema := set.Key(), set.Schema()
	bl := bitmaps.NewBuilder(schema)
	b.log.Info("generating users and building the index", "users", b.cfg.users)
	start := time.Now()
	n := 0
	err := gen.Users(b.genConfig(), func(rec map[string]any) error {
		if n++; n%1_000_000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.log.Info("staged", "users", n, "took", time.Since(start).Round(time.Millisecond))
		}
		if key != gen.Key {
			rec[key] = rec[gen.Key]
			delete(rec, gen.Key)
		}
		id, row, _, err := store.RowFromRecord(rec, key, schema)
		if err != nil {
			return err
		}
		return bl.Add(id, row)
	})
	if err != nil {
		return fmt.Errorf("cannot generate the population: %w", err)
	}
	b.genAdd = time.Since(start)
	start = time.Now()
	b.ix = bl.Build()
	b.buildTook = time.Since(start)
	bl = nil
	return b.afterBuild()
}

func (b *bench) afterBuild() error {
	var err error
	runtime.GC()
	debug.FreeOSMemory()
	b.hwmBuild, b.rssAfter, err = procStatus()
	if err != nil {
		return err
	}
	b.stats = b.ix.Stats()
	b.log.Info("index ready", "gen+add", b.genAdd.Round(time.Millisecond), "build", b.buildTook.Round(time.Millisecond), "snapshot", b.snapshotRead.Round(time.Millisecond),
		"rss", mib(b.rssAfter), "bytes/user", fmt.Sprintf("%.1f", b.stats.BytesPerUser))
	return nil
}

// loadClickHouse writes the same population as NDJSON, loads it with
// clickhouse.Client.Load and copies it into a plain MergeTree table (no
// FINAL at query time: ClickHouse's best case), unless --reuse-table finds
// that table already holding --users rows.
func (b *bench) loadClickHouse(ctx context.Context) error {
	c, err := clickhouse.Open(clickhouse.Config{Addr: b.cfg.clickhouse})
	if err != nil {
		return fmt.Errorf("cannot open ClickHouse at %s: %w", b.cfg.clickhouse, err)
	}
	b.ch = c
	if err := c.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach ClickHouse at %s: %w", b.cfg.clickhouse, err)
	}
	if b.chVersion, err = c.ServerVersion(ctx); err != nil {
		return err
	}
	key, schema := b.main.Key(), b.main.Schema()
	if b.cfg.reuseTable {
		if t, err := c.Table(ctx, b.cfg.table, key, schema, clickhouse.WithUpdatedColumn("")); err == nil {
			if rows, err := t.CountRows(ctx); err == nil && rows == int64(b.cfg.users) {
				b.log.Info("reusing the ClickHouse table", "table", t.Name(), "rows", rows)
				b.table, b.chReused = t, true
				return b.tableSize(ctx)
			}
		}
	}
	dir := b.cfg.dataDir
	if dir == "" {
		dir = filepath.Join(b.tmp, "data")
	}
	b.log.Info("writing the population as NDJSON for ClickHouse", "dir", dir)
	start := time.Now()
	if err := gen.Generate(ctx, b.genConfig(), dir, nil); err != nil {
		return fmt.Errorf("cannot write the population: %w", err)
	}
	b.chGenerate = time.Since(start)
	staging := b.cfg.table + "_load"
	b.log.Info("loading into ClickHouse", "table", staging)
	st, err := c.Load(ctx, filepath.Join(dir, "users.ndjson"), staging, key, schema, clickhouse.LoadOptions{
		IfExists: clickhouse.IfExistsReplace,
		Progress: func(rows, _ int64) {
			if rows%1_000_000 < 100_000 {
				b.log.Info("loaded", "rows", rows)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("cannot load the population into ClickHouse: %w", err)
	}
	b.chLoad = st.Took
	if b.cfg.dataDir == "" {
		os.RemoveAll(dir)
	}
	start = time.Now()
	dst := c.QualifiedName(b.cfg.table)
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + dst,
		"CREATE TABLE " + dst + " ENGINE = MergeTree ORDER BY " + clickhouse.Ident(key) +
			" AS SELECT * FROM " + c.QualifiedName(staging) + " FINAL",
		"DROP TABLE " + c.QualifiedName(staging),
	} {
		if err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("cannot copy the loaded table into a MergeTree: %w", err)
		}
	}
	b.chCopy = time.Since(start)
	if b.table, err = c.Table(ctx, b.cfg.table, key, schema, clickhouse.WithUpdatedColumn("")); err != nil {
		return err
	}
	rows, err := b.table.CountRows(ctx)
	if err != nil {
		return err
	}
	if rows != int64(b.cfg.users) {
		return fmt.Errorf("ClickHouse table %s holds %d rows, want %d", b.table.Name(), rows, b.cfg.users)
	}
	return b.tableSize(ctx)
}

// tableSize reads the table's compressed size on disk from system.parts.
func (b *bench) tableSize(ctx context.Context) error {
	conn, err := ch.Open(&ch.Options{Addr: []string{b.cfg.clickhouse}})
	if err != nil {
		return fmt.Errorf("cannot open ClickHouse at %s: %w", b.cfg.clickhouse, err)
	}
	defer conn.Close()
	q := "SELECT toInt64(sum(bytes)) FROM system.parts WHERE active AND database = " +
		clickhouse.String(b.ch.Database()) + " AND table = " + clickhouse.String(b.cfg.table)
	if err := conn.QueryRow(ctx, q).Scan(&b.chBytes); err != nil {
		return fmt.Errorf("cannot read the size of %s: %w", b.table.Name(), err)
	}
	return nil
}

// measureCohorts times each brief and complex cohort: an uncached count
// and member bitmap in cohortd (a fresh Evaluator each time, so nothing is
// cached between repetitions) and the compiled SQL's count in ClickHouse.
func (b *bench) measureCohorts(ctx context.Context) error {
	set, now := b.main, b.cfg.now
	var list []cohortResult
	for _, name := range briefCohorts {
		list = append(list, cohortResult{name: name, kind: "brief"})
	}
	for _, c := range complexCohorts {
		list = append(list, cohortResult{name: c.name, kind: c.shape})
	}
	if b.cfg.only != nil {
		list = slices.DeleteFunc(list, func(r cohortResult) bool { return !b.cfg.only[r.name] })
	}
	for i := range list {
		r := &list[i]
		c, ok := set.Cohort(r.name)
		if !ok {
			return fmt.Errorf("no cohort %q", r.name)
		}
		r.expr = c.Source
		q := c.Query
		var err error
		r.count, err = timeReps(3, b.cfg.reps, func() error {
			n, err := compiler.NewEvaluator(set, b.ix).Count(ctx, q, now)
			r.members = n
			return err
		})
		if err != nil {
			return err
		}
		var card uint64
		r.eval, err = timeReps(3, b.cfg.reps, func() error {
			m, err := compiler.NewEvaluator(set, b.ix).Members(ctx, q, now)
			if err == nil {
				card = m.GetCardinality()
			}
			return err
		})
		if err != nil {
			return err
		}
		if card != r.members {
			return fmt.Errorf("cohort %q: Count says %d members, Members %d", r.name, r.members, card)
		}
		if b.table != nil {
			where, err := q.SQL(now)
			if err != nil {
				return fmt.Errorf("cohort %q: %w", r.name, err)
			}
			r.ch, err = timeReps(2, b.cfg.chReps, func() error {
				n, err := b.table.Count(ctx, where)
				r.chCount = n
				return err
			})
			if err != nil {
				return err
			}
			r.hasCH = true
			if r.chCount != r.members {
				return fmt.Errorf("cohort %q: cohortd counts %d members, ClickHouse %d (SQL: %s)", r.name, r.members, r.chCount, sqlOneLine(where))
			}
		}
		b.log.Info("cohort", "name", r.name, "members", r.members, "count_median", r.count.median,
			"eval_median", r.eval.median, "clickhouse_median", r.ch.median)
	}
	b.cohorts = list
	return nil
}

// sampleUsers returns n user_ids drawn uniformly from the population.
func (b *bench) sampleUsers(n int) []string {
	r := rand.New(rand.NewPCG(uint64(b.cfg.seed), 7))
	out := make([]string, 0, n)
	for len(out) < n {
		if id, ok := b.ix.UserID(uint32(r.IntN(b.cfg.users))); ok {
			out = append(out, id)
		}
	}
	return out
}

// measureUsers times Evaluator.UserCohorts (the API's path) with every
// cohort bitmap cached: across the main set and across 100 cohorts.
func (b *bench) measureUsers(ctx context.Context) error {
	ids := b.sampleUsers(10_000)
	one := func(set *compiler.Set) (latencies, error) {
		ev := compiler.NewEvaluator(set, b.ix)
		if _, err := ev.UserCohorts(ctx, ids[0], b.cfg.now); err != nil { // fills the cache
			return latencies{}, err
		}
		i := 0
		return timeReps(1000, 50_000, func() error {
			_, err := ev.UserCohorts(ctx, ids[i%len(ids)], b.cfg.now)
			i++
			return err
		})
	}
	var err error
	if b.userAll, err = one(b.main); err != nil {
		return err
	}
	b.userAllCohorts = len(b.main.Cohorts())
	if b.user100, err = one(b.hundred); err != nil {
		return err
	}
	b.user100Cohorts = len(b.hundred.Cohorts())
	b.log.Info("user cohorts", "cohorts", b.userAllCohorts, "median", b.userAll.median, "cohorts", b.user100Cohorts, "median", b.user100.median)
	return nil
}

// measureExport iterates the largest brief cohort in user_id order (what a
// CSV/NDJSON export does before formatting).
func (b *bench) measureExport(ctx context.Context) error {
	ev := compiler.NewEvaluator(b.main, b.ix)
	var best *cohortResult
	for i := range b.cohorts {
		if best == nil || b.cohorts[i].members > best.members {
			best = &b.cohorts[i]
		}
	}
	m, err := ev.CohortMembers(ctx, best.name, b.cfg.now)
	if err != nil {
		return err
	}
	b.exportCohort = best.name
	var took time.Duration
	for rep := range 3 {
		var n uint64
		start := time.Now()
		b.ix.Iterate(m, "", func(_ uint32, id string) bool {
			n += uint64(len(id)) >> 63 // keep the id used
			n++
			return true
		})
		d := time.Since(start)
		if rep == 0 || d < took {
			took = d
		}
		b.exportIDs = n
	}
	b.exportTook = took
	b.log.Info("export", "cohort", best.name, "ids", b.exportIDs, "took", took)
	return nil
}

// getOnce GETs url and checks for a 200.
func getOnce(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot warm the server up: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("warm-up request: %s", resp.Status)
	}
	return nil
}

// measureHTTP serves the index with the cohortd server on loopback and
// loads GET /api/v1/users/{id}/cohorts, for the main set and for 100
// cohorts, with the clock pinned at --now (as `cohortd serve --now`).
func (b *bench) measureHTTP(ctx context.Context) error {
	ids := b.sampleUsers(10_000)
	one := func(path string, clock func() time.Time) (loadResult, error) {
		srv, err := server.New(server.Config{
			CohortsPath: path,
			LoadIndex:   func(context.Context, *compiler.Set) (*bitmaps.Index, error) { return b.ix, nil },
			Clock:       clock,
			Logger:      slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return loadResult{}, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return loadResult{}, fmt.Errorf("cannot listen on loopback: %w", err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(sctx, ln) }()
		defer func() {
			cancel()
			<-done
		}()
		for !srv.Ready() {
			select {
			case err := <-done:
				return loadResult{}, fmt.Errorf("the server stopped: %w", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		addr := ln.Addr().String()
		prefix := "/api/v1/users/"
		path1 := func(w, i int) string { return prefix + ids[(w*7919+i)%len(ids)] + "/cohorts" }
		// Warm-up: one request fills the cohort cache (every cohort evaluated
		// once, which takes a while at 10M users), then a short run warms the
		// connections.
		if err := getOnce(ctx, "http://"+addr+path1(0, 0)); err != nil {
			return loadResult{}, err
		}
		if _, err := httpLoad(ctx, addr, 2, 500*time.Millisecond, path1); err != nil {
			return loadResult{}, err
		}
		res, err := httpLoad(ctx, addr, b.cfg.httpConns, b.cfg.httpDuration, path1)
		if err != nil {
			return loadResult{}, err
		}
		// The memory of a serving process: index, cached cohort bitmaps and
		// their Memberships (after a collection).
		runtime.GC()
		debug.FreeOSMemory()
		if _, rss, err := procStatus(); err == nil {
			b.rssServing = max(b.rssServing, rss)
		}
		if res.errors > 0 {
			return res, fmt.Errorf("%d of %d requests failed", res.errors, res.requests)
		}
		return res, nil
	}
	var err error
	pinned := func() time.Time { return b.cfg.now }
	if b.httpMain, err = one(filepath.Join(b.tmp, "main.yaml"), pinned); err != nil {
		return err
	}
	b.httpMainCohorts = len(b.main.Cohorts())
	b.log.Info("http", "cohorts", b.httpMainCohorts, "req/s", strconv.FormatFloat(b.httpMain.perSecond(), 'f', 0, 64), "p99", b.httpMain.lat.p99)
	if b.http100, err = one(filepath.Join(b.tmp, "hundred.yaml"), pinned); err != nil {
		return err
	}
	b.http100Cohorts = len(b.hundred.Cohorts())
	b.log.Info("http", "cohorts", b.http100Cohorts, "req/s", strconv.FormatFloat(b.http100.perSecond(), 'f', 0, 64), "p99", b.http100.lat.p99)
	// The wall clock: time-dependent cohorts are re-evaluated every second
	// (the next second's ahead of time, in the background).
	if b.httpWall, err = one(filepath.Join(b.tmp, "hundred.yaml"), time.Now); err != nil {
		return err
	}
	b.log.Info("http", "cohorts", b.http100Cohorts, "clock", "wall", "req/s", strconv.FormatFloat(b.httpWall.perSecond(), 'f', 0, 64), "p99", b.httpWall.lat.p99)
	return nil
}
