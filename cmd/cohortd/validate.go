package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	var src source
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "check a cohorts file and report every error with its position",
		Long: `validate parses and type-checks a cohorts file (default ./cohorts.yaml).
Every error is printed as FILE:LINE:COL: message, with the source line and a
caret, followed by "N errors" (exit 1). A valid file prints a one-line summary.
With --data, static cohorts' ids that are not known users are counted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "cohorts.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			set, err := compileFile(path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if src.data != "" {
				ix, err := src.withNotes(cmd.ErrOrStderr()).loadIndex(cmd.Context(), set, quietLogger())
				if err != nil {
					return err
				}
				for _, c := range set.Cohorts() {
					if !c.Static {
						continue
					}
					known := 0
					for _, id := range c.Members {
						if _, ok := ix.Lookup(id); ok {
							known++
						}
					}
					if n := len(c.Members) - known; n > 0 {
						fmt.Fprintf(cmd.OutOrStdout(), "static cohort %q: %d of %d ids are not known users (ignored)\n", c.Name, n, len(c.Members))
					}
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), set.Summary())
			return nil
		},
	}
	src.registerData(cmd.Flags())
	return cmd
}
