package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/spf13/cobra"
)

// target is what query and explain evaluate: an expression or a named cohort.
type target struct {
	cohort string
}

func (t *target) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.cohort, "cohort", "", "evaluate this cohort of the cohorts file instead of an expression")
}

// check reports a usage error unless exactly one of EXPR and --cohort is given.
func (t *target) check(args []string) error {
	switch {
	case t.cohort != "" && len(args) > 0:
		return usageError{fmt.Errorf("give an expression or --cohort, not both")}
	case t.cohort == "" && len(args) != 1:
		return usageError{fmt.Errorf("give exactly one expression (quote it) or --cohort NAME")}
	}
	return nil
}

// resolve returns the query for EXPR or --cohort NAME (after check).
func (t *target) resolve(set *compiler.Set, args []string, stderr io.Writer) (*compiler.Query, error) {
	switch {
	case t.cohort != "":
		c, ok := set.Cohort(t.cohort)
		if !ok {
			return nil, fmt.Errorf("unknown cohort %q in the cohorts file", t.cohort)
		}
		return c.Query, nil
	default:
		q, err := set.CompileExpr(args[0])
		if err != nil {
			return nil, printErrors(err, stderr)
		}
		return q, nil
	}
}

func newQueryCmd() *cobra.Command {
	var (
		src     source
		tgt     target
		format  string
		explain bool
		ch      clickhouseFlags
	)
	cmd := &cobra.Command{
		Use:   "query [flags] (EXPR | --cohort NAME)",
		Short: "evaluate an expression or a cohort and print its members",
		Example: `  cohortd query "engagement_tier == 'champion' AND days_since_last_visit < 7"
  cohortd query --data users.ndjson --now 2026-01-13T12:00:00Z --format ids --cohort weekend_readers`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "count", "ids", "json":
			default:
				return usageError{fmt.Errorf("--format %q: want count, ids or json", format)}
			}
			if err := tgt.check(args); err != nil {
				return err
			}
			if err := ch.check(&src); err != nil {
				return err
			}
			clock, err := src.clock()
			if err != nil {
				return err
			}
			set, err := compileFile(src.cohorts, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			q, err := tgt.resolve(set, args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if ch.pushdown {
				return ch.runPushdown(cmd, set, q, clock(), format, explain)
			}
			ix, err := ch.loadIndexOr(cmd.Context(), src.withNotes(cmd.ErrOrStderr()), set, quietLogger())
			if err != nil {
				return err
			}
			now := clock()
			ev := compiler.NewEvaluator(set, ix)
			if explain {
				fmt.Fprintln(cmd.ErrOrStderr(), ev.Explain(q, now))
			}
			members, err := ev.Members(cmd.Context(), q, now)
			if err != nil {
				return err
			}
			return printMembers(cmd.OutOrStdout(), format, ix, members)
		},
	}
	src.registerCohorts(cmd.Flags())
	src.registerData(cmd.Flags())
	src.registerNow(cmd.Flags())
	tgt.register(cmd)
	cmd.Flags().StringVar(&format, "format", "count", "output: count (one integer), ids (one user_id a line) or json")
	cmd.Flags().BoolVar(&explain, "explain", false, "also print the evaluation plan (to stderr)")
	ch.register(cmd.Flags(), "clickhouse-table")
	ch.registerPushdown(cmd.Flags())
	return cmd
}

// printMembers writes members in ascending user_id order in the asked format.
func printMembers(w io.Writer, format string, ix *bitmaps.Index, members *roaring.Bitmap) error {
	out := bufio.NewWriterSize(w, 1<<16)
	switch format {
	case "count":
		fmt.Fprintln(out, members.GetCardinality())
	case "ids":
		ix.Iterate(members, "", func(_ uint32, userID string) bool {
			out.WriteString(userID)
			out.WriteByte('\n')
			return true
		})
	case "json":
		fmt.Fprintf(out, `{"count": %d, "members": [`, members.GetCardinality())
		first := true
		ix.Iterate(members, "", func(_ uint32, userID string) bool {
			if !first {
				out.WriteString(", ")
			}
			first = false
			b, _ := json.Marshal(userID)
			out.Write(b)
			return true
		})
		out.WriteString("]}\n")
	}
	return out.Flush()
}

func newExplainCmd() *cobra.Command {
	var (
		src source
		tgt target
	)
	cmd := &cobra.Command{
		Use:   "explain [flags] (EXPR | --cohort NAME)",
		Short: "print how an expression or cohort is evaluated: normalised form and bitmap plan",
		Long: `explain prints the normalised expression and the bitmap plan (with estimated
cardinalities when --data is given), then the ClickHouse WHERE clause that
query --pushdown runs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tgt.check(args); err != nil {
				return err
			}
			clock, err := src.clock()
			if err != nil {
				return err
			}
			set, err := compileFile(src.cohorts, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			q, err := tgt.resolve(set, args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var ix *bitmaps.Index
			if src.data != "" {
				if ix, err = src.withNotes(cmd.ErrOrStderr()).loadIndex(cmd.Context(), set, quietLogger()); err != nil {
					return err
				}
			}
			now := clock()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "expression (normalised): %s\n", q)
			fmt.Fprintf(out, "bitmap plan as of %s:\n", now.UTC().Format(time.RFC3339))
			fmt.Fprintln(out, compiler.NewEvaluator(set, ix).Explain(q, now))
			fmt.Fprintln(out, explainSQL(q, now))
			return nil
		},
	}
	src.registerCohorts(cmd.Flags())
	cmd.Flags().StringVar(&src.data, "data", "", "users as NDJSON, for cardinality estimates in the plan")
	src.registerNow(cmd.Flags())
	tgt.register(cmd)
	return cmd
}
