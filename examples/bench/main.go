// Command bench measures cohortd against ClickHouse on one machine in one
// run: it generates N users with store/gen's distributions, builds the
// in-memory index from them and loads the same rows into ClickHouse, then
// times cohort counts and member materialisation (cohortd) against the
// compiled SQL count (ClickHouse) for the brief's ten cohorts and five
// complex ones, one user's membership across all cohorts and across 100,
// member export, and GET /api/v1/users/{id}/cohorts over loopback. It
// prints a Markdown report.
//
//	go run ./examples/bench --users 10000000 --clickhouse 127.0.0.1:9000 --out bench.md
//
// Without --clickhouse the ClickHouse columns are left out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// config is what the flags set.
type config struct {
	users, reps, chReps int
	seed                int64
	now                 time.Time
	cohorts             string
	clickhouse          string
	table               string
	reuseTable          bool
	dataDir             string
	out                 string
	httpDuration        time.Duration
	httpConns           int
	cpuProfile          string
	only                map[string]bool
	indexCache          string
	httpProfile         string
	skipUsers           bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var now string
	fs.IntVar(&cfg.users, "users", 10_000_000, "users to generate")
	fs.IntVar(&cfg.reps, "reps", 200, "timed repetitions per cohortd measurement (after warm-up)")
	fs.IntVar(&cfg.chReps, "ch-reps", 30, "timed repetitions per ClickHouse query (after warm-up)")
	fs.Int64Var(&cfg.seed, "seed", 1, "population seed")
	fs.StringVar(&now, "now", "2026-01-13T12:00:00Z", "the instant the population is generated at and cohorts are evaluated at (RFC 3339)")
	fs.StringVar(&cfg.cohorts, "cohorts", "cohorts.yaml", "the cohorts file whose catalog and cohorts are measured")
	fs.StringVar(&cfg.clickhouse, "clickhouse", "", "ClickHouse native address (HOST:PORT); empty skips the ClickHouse part")
	fs.StringVar(&cfg.table, "table", "cohortd_bench_users", "ClickHouse table for the generated users")
	fs.BoolVar(&cfg.reuseTable, "reuse-table", false, "keep an existing ClickHouse table that already holds --users rows (it must come from the same --seed and --now)")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "where the NDJSON for ClickHouse is written (default: a temporary directory, removed afterwards)")
	fs.StringVar(&cfg.out, "out", "", "write the Markdown report to this file (default: standard output)")
	fs.DurationVar(&cfg.httpDuration, "http-duration", 10*time.Second, "duration of each HTTP load run (0 skips it)")
	fs.IntVar(&cfg.httpConns, "http-conns", 16, "concurrent keep-alive connections of the HTTP load generator")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the cohortd measurements to this file")
	only := fs.String("only", "", "measure only these cohorts (comma-separated; for profiling)")
	fs.BoolVar(&cpuClock, "cpu-time", false, "time cohortd with the thread's CPU time instead of wall time (development on a busy machine; microsecond resolution)")
	fs.StringVar(&cfg.indexCache, "index-cache", "", "read the index from this snapshot file if it exists, else build it and write it there (development: skips the build)")
	fs.StringVar(&cfg.httpProfile, "http-cpuprofile", "", "write a CPU profile of the HTTP load runs (server and load generator) to this file")
	fs.BoolVar(&cfg.skipUsers, "skip-users", false, "skip the user-cohorts and export measurements")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *only != "" {
		cfg.only = map[string]bool{}
		for _, name := range strings.Split(*only, ",") {
			cfg.only[strings.TrimSpace(name)] = true
		}
	}
	t, err := time.Parse(time.RFC3339, now)
	if err != nil {
		return cfg, fmt.Errorf("--now: %w", err)
	}
	cfg.now = t.UTC()
	if cfg.users < 1 || cfg.reps < 1 || cfg.chReps < 1 || cfg.httpConns < 1 {
		return cfg, errors.New("--users, --reps, --ch-reps and --http-conns must be positive")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	b, err := newBench(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer b.close()
	if err := b.buildIndex(ctx); err != nil {
		return err
	}
	if cfg.clickhouse != "" {
		if err := b.loadClickHouse(ctx); err != nil {
			return err
		}
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("cannot write the CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cannot start the CPU profile: %w", err)
		}
	}
	err = b.measureCohorts(ctx)
	if err == nil && !cfg.skipUsers {
		err = b.measureUsers(ctx)
	}
	if err == nil && !cfg.skipUsers {
		err = b.measureExport(ctx)
	}
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if cfg.httpDuration > 0 {
		if cfg.httpProfile != "" {
			f, err := os.Create(cfg.httpProfile)
			if err != nil {
				return fmt.Errorf("cannot write the CPU profile: %w", err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("cannot start the CPU profile: %w", err)
			}
		}
		err := b.measureHTTP(ctx)
		if cfg.httpProfile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return err
		}
	}
	w := io.Writer(os.Stdout)
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			return fmt.Errorf("cannot write the report: %w", err)
		}
		defer f.Close()
		w = f
	}
	if err := b.report(w); err != nil {
		return fmt.Errorf("cannot write the report: %w", err)
	}
	runtime.KeepAlive(b)
	return nil
}
