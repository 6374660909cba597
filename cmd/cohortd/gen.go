package main

import (
	"fmt"
	"os"
	"time"

	"github.com/cohortd/cohortd/store/gen"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// genEpoch is gen's default "now": fixed so that the same --seed always gives
// byte-identical files. Query such data with --now at the same instant.
const genEpoch = "2026-01-13T12:00:00Z"

func newGenCmd() *cobra.Command {
	var (
		out     string
		cfg     gen.Config
		nowFlag string
	)
	cmd := &cobra.Command{
		Use:   "gen --out DIR [--users N] [--articles M] [--events E] [--seed S]",
		Short: "generate a realistic, deterministic population: users, articles and page-view events",
		Long: `gen writes DIR/users.ndjson, DIR/articles.ndjson and DIR/events.ndjson.
The same --seed (and --now) always gives byte-identical files. Timestamps lie
before --now (default ` + genEpoch + `): query the data with the same --now.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out DIR is required")}
			}
			if cfg.Users < 0 || cfg.Articles < 0 || cfg.Events < 0 {
				return usageError{fmt.Errorf("--users, --articles and --events must not be negative")}
			}
			now, err := time.Parse(time.RFC3339, nowFlag)
			if err != nil {
				return usageError{fmt.Errorf("--now %q is not an RFC 3339 instant", nowFlag)}
			}
			cfg.Now = now
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("cannot create %q: %w", out, err)
			}
			progress := genProgress(cmd)
			start := time.Now()
			if err := gen.Generate(cmd.Context(), cfg, out, progress); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d users, %d articles, %d events to %s in %s\n",
				cfg.Users, cfg.Articles, cfg.Events, out, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&out, "out", "", "directory to write users.ndjson, articles.ndjson, events.ndjson")
	fs.IntVar(&cfg.Users, "users", 100_000, "number of users")
	fs.IntVar(&cfg.Articles, "articles", 2_000, "number of articles")
	fs.IntVar(&cfg.Events, "events", 500_000, "number of events")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed")
	fs.StringVar(&nowFlag, "now", genEpoch, "the instant the data is generated relative to (RFC 3339)")
	return cmd
}

// genProgress shows a progress bar on a terminal and a log line every few
// seconds otherwise.
func genProgress(cmd *cobra.Command) func(done, total int64) {
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(done, total int64) {
			if bar == nil {
				bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(f),
					progressbar.OptionSetDescription("generating"), progressbar.OptionShowCount(),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set64(done)
		}
	}
	var last time.Time
	return func(done, total int64) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(cmd.ErrOrStderr(), "generating: %d/%d\n", done, total)
		}
	}
}
