package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/server"
	"github.com/cohortd/cohortd/server/realtime"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var (
		src        source
		listen     string
		configPath string
		watch      bool
		timeout    time.Duration
		events     realtimeFlags
		recs       recsFlags
		rt         *realtimeRun // set once the server (and its metrics registry) exists
		ch         clickhouseFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "serve cohorts, members, stats and queries over HTTP",
		Long: `serve answers the HTTP API (see README.md). It listens at once; /readyz answers
503 until the cohorts are compiled and the index is loaded. SIGHUP re-reads the
cohorts file (a bad file keeps the running cohorts); SIGTERM shuts down
gracefully.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			clock, err := src.clock()
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr())
			if err := ch.check(&src); err != nil {
				return err
			}
			if ch.enabled() && events.stateDir != "" {
				// A restored snapshot would replace the table's first read, and
				// the refresher that keeps it fresh starts with that read.
				return usageError{errors.New("--state-dir cannot be combined with --clickhouse yet: ClickHouse is then the durable source (refreshes carry streamed updates over); drop --state-dir")}
			}
			chSrc := ch.server(cmd.Context(), log)
			defer chSrc.close()
			cfg := server.Config{
				Listen:         listen,
				CohortsPath:    src.cohorts,
				Clock:          clock,
				Logger:         log,
				WatchFile:      watch,
				RequestTimeout: timeout,
				OnSwap:         func(set *compiler.Set, ix *bitmaps.Index) { rt.follow(set, ix) },
				LoadIndex: func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
					return rt.loadIndex(func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
						if ch.enabled() {
							return chSrc.loadIndex(ctx, set, src.skipBadRows)
						}
						return src.loadIndex(ctx, set, log)
					})(ctx, set)
				},
			}
			if ch.enabled() {
				cfg.SourceHealth = chSrc.health
			}
			if events.brokers != "" {
				cfg.StreamHealth = func() server.SourceHealth {
					if rt == nil {
						return server.SourceHealth{OK: true}
					}
					h := rt.p.Health()
					return server.SourceHealth{OK: h.OK, Error: h.Error, Since: h.Since}
				}
			}
			var experiments []byte
			if configPath != "" {
				fc, err := server.LoadConfig(configPath)
				if err != nil {
					return printErrors(fmt.Errorf("cannot load server config: %w", err), cmd.ErrOrStderr())
				}
				cfg.Keys, experiments = fc.Keys, fc.Experiments
			}
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			chSrc.attach(srv.Registry(), srv.SetIndex, func(set *compiler.Set, ix *bitmaps.Index, asOf time.Time) error {
				return rt.p.Rebase(set, ix, asOf) // rt exists before the first refresh
			})
			ctx := cmd.Context()
			recsDir, recsDemo, err := src.recommendationsDir(ch.enabled())
			if err != nil {
				return err
			}
			rr, err := recs.start(ctx, srv, recsDir, recsDemo, clock, experiments, log)
			if err != nil {
				return err
			}
			events.durableSource = ch.enabled()
			if rt, err = events.start(clock, log, srv.Registry(), rr.eventOptions); err != nil {
				return err
			}
			if err := srv.Mount(server.RouteEvents, realtime.EventsHandler(rt.p)); err != nil {
				return err
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						if err := srv.Reload(ctx); err != nil {
							log.Warn("reload on SIGHUP failed; the running cohorts stay", "err", err)
						}
					}
				}
			}()
			slog.SetDefault(log)
			rtCtx, stopRT := context.WithCancel(ctx)
			rt.run(rtCtx)
			err = srv.Run(ctx)
			stopRT()
			if rtErr := rt.wait(); err == nil {
				err = rtErr
			}
			if ce := (*server.CohortsError)(nil); errors.As(err, &ce) && len(ce.Errs) > 0 {
				// Every error of the file, positioned, with carets (as
				// validate prints them), not only the first.
				return printErrors(ce.Errs, cmd.ErrOrStderr())
			}
			return err
		},
	}
	fs := cmd.Flags()
	src.registerCohorts(fs)
	src.registerData(fs)
	src.registerNow(fs)
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (non-loopback needs API keys in --config)")
	fs.StringVar(&configPath, "config", "", "server config (API keys and roles), e.g. cohortd.yaml")
	fs.BoolVar(&watch, "watch", false, "reload the cohorts file when it changes")
	fs.DurationVar(&timeout, "request-timeout", 30*time.Second, "per-request timeout")
	events.register(fs)
	recs.register(fs)
	ch.register(fs, "clickhouse-table")
	ch.registerRefresh(fs)
	return cmd
}
