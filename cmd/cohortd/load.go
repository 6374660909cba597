package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cohortd/cohortd/store/clickhouse"
)

func newLoadCmd() *cobra.Command {
	var (
		ch          clickhouseFlags
		data        string
		cohorts     string
		replace     bool
		appendRows  bool
		skipBadRows bool
		batch       int
	)
	cmd := &cobra.Command{
		Use:   "load --data PATH --clickhouse HOST:PORT [--table users]",
		Short: "create a ClickHouse users table from the catalog and bulk-insert NDJSON users into it",
		Long: `load creates the users table from the catalog of the cohorts file (a
ReplacingMergeTree keyed by the user id, with an updated_at column that makes
serve's refreshes incremental) and inserts the NDJSON users of --data in
batches, checking every value as --data does. The rows go to a new table
renamed into place at the end, so a failed load changes nothing.`,
		Example: `  cohortd load --data users.ndjson --clickhouse 127.0.0.1:9000
  cohortd load --data ./data --clickhouse 127.0.0.1:9000 --table users --replace`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case data == "":
				return usageError{errors.New("--data PATH is required")}
			case !ch.enabled():
				return usageError{errors.New("--clickhouse HOST:PORT is required")}
			case replace && appendRows:
				return usageError{errors.New("give --replace or --append, not both")}
			}
			set, err := compileFile(cohorts, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			c, err := ch.open()
			if err != nil {
				return err
			}
			defer c.Close()
			opts := clickhouse.LoadOptions{BatchRows: batch, SkipBadRows: skipBadRows, Logger: newLogger(cmd.ErrOrStderr())}
			switch {
			case replace:
				opts.IfExists = clickhouse.IfExistsReplace
			case appendRows:
				opts.IfExists = clickhouse.IfExistsAppend
			}
			var finish func()
			opts.Progress, finish = loadProgress(cmd, data)
			st, err := c.Load(cmd.Context(), data, ch.table, set.Key(), set.Schema(), opts)
			finish()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				if errors.Is(err, clickhouse.ErrTableExists) {
					return fmt.Errorf("%w; pass --replace or --append", err)
				}
				return fmt.Errorf("cannot load %s into ClickHouse: %w", data, err)
			}
			msg := fmt.Sprintf("%d users loaded into %s in %s", st.Rows, c.QualifiedName(ch.table), st.Took.Round(time.Millisecond))
			if st.Skipped > 0 {
				msg += fmt.Sprintf(" (%d bad rows skipped)", st.Skipped)
			}
			if ev := st.Events; ev.Events > 0 || ev.Skipped > 0 {
				msg += fmt.Sprintf("; events.ndjson applied first: %d events, %d changed users, %d users created, %d erased",
					ev.Events, ev.Applied, ev.Created, ev.Deleted)
				if ev.Skipped > 0 {
					msg += fmt.Sprintf(", %d malformed lines skipped (the first: %v)", ev.Skipped, ev.FirstErrors[0])
				}
				if ev.Dropped > 0 {
					msg += fmt.Sprintf(", %d events of users not in this file left out (--append: send them to a running server instead)", ev.Dropped)
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&data, "data", "", "users as NDJSON (a file, .gz, or a directory holding users.ndjson)")
	fs.StringVar(&cohorts, "cohorts", "cohorts.yaml", "the cohorts file whose catalog gives the table's columns")
	ch.register(fs, "table")
	fs.BoolVar(&replace, "replace", false, "replace the table when it exists")
	fs.BoolVar(&appendRows, "append", false, "insert into the existing table (a user loaded again replaces its row)")
	fs.BoolVar(&skipBadRows, "skip-bad-rows", false, "skip (and count) data rows that do not match the catalog instead of failing")
	fs.IntVar(&batch, "batch", clickhouse.DefaultBatchRows, "rows sent to ClickHouse per block")
	return cmd
}

// loadProgress shows a progress bar (bytes of the file) on a terminal and a
// line every few seconds otherwise; finish clears the bar.
func loadProgress(cmd *cobra.Command, data string) (func(rows, bytes int64), func()) {
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		total := int64(-1)
		if info, err := os.Stat(data); err == nil && !info.IsDir() && !isGzip(data) {
			total = info.Size()
		}
		bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(f),
			progressbar.OptionSetDescription("loading"), progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		return func(_, bytes int64) { _ = bar.Set64(bytes) }, func() { _ = bar.Finish() }
	}
	var last time.Time
	w := cmd.ErrOrStderr()
	return func(rows, _ int64) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(w, "loading: %d users\n", rows)
		}
	}, func() {}
}

func isGzip(path string) bool { return strings.HasSuffix(path, ".gz") }
