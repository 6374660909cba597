// Command cohortd evaluates marketers' cohorts (cohorts.yaml) over user
// attributes with roaring bitmaps and serves them over HTTP. This package only
// parses flags and wires the library packages together; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses of the command line contract.
const (
	exitOK      = 0
	exitFailure = 1 // the input was invalid or the work failed
	exitUsage   = 2
)

// usageError marks a mistake in how cohortd was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// reportedError is a failure whose message was already printed (exit 1).
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "cohortd: %v\n", err)
		fmt.Fprintln(stderr, "run 'cohortd help' for usage")
		return exitUsage
	}
	var re reportedError
	if !errors.As(err, &re) {
		fmt.Fprintf(stderr, "cohortd: %v\n", err)
	}
	return exitFailure
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "cohortd",
		Short: "cohortd evaluates user cohorts defined in cohorts.yaml, in milliseconds",
		Long: `cohortd lets marketers define user cohorts in cohorts.yaml, evaluates them over
millions of users with roaring bitmaps, and serves members, stats and
recommendations over HTTP.

Every flag can also be set from the environment as COHORTD_<FLAG>
(upper case, '-' becomes '_'), e.g. COHORTD_DATA=users.ndjson.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No command is a usage error (exit 2), not a request for help.
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return usageError{errors.New("missing command (serve, validate, query, explain, gen, load, ...)")}
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd.Flags())
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(),
		newValidateCmd(),
		newQueryCmd(),
		newExplainCmd(),
		newGenCmd(),
		newEvalRecsCmd(),
		newLoadCmd(),
	)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
		if c.Args == nil {
			c.Args = cobra.NoArgs
		}
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	return root
}

// flagsFromEnv sets every flag not given on the command line from
// COHORTD_<FLAG> when that variable exists.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := "COHORTD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageError{fmt.Errorf("invalid %s=%q: %w", name, v, e)}
			}
		}
	})
	return err
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
