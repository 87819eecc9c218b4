// Package cli is the plumb command line: it parses flags, builds the parts each command
// needs, wires them together and maps outcomes to exit codes (0 success, 1 a gate or
// assertion failed, 2 bad input).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/config"
)

// version is set at link time with -ldflags "-X github.com/plumbhq/plumb/internal/cli.version=v1.2.3".
var version = ""

// Exit codes, the contract every command keeps.
const (
	ExitOK     = 0
	ExitFailed = 1 // the work ran but a gate or assertion failed, or a regression was found
	ExitUsage  = 2 // bad input: config, flags, files
)

// exitError carries an exit code up to Main. Its message, when not empty, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// failed is the exit status of a run whose gates or assertions failed; the report already
// said why, so it carries no message.
var errFailed = &exitError{code: ExitFailed}

// env is what every command gets from the process: streams, environment and arguments.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	args   []string
	// isTerminal reports whether stderr is an interactive terminal (progress bars, color).
	isTerminal bool
}

// Main runs the plumb command line with args (without the program name) and returns the
// process exit code.
func Main(args []string) int {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, args: args,
		isTerminal: isTerminal(os.Stderr)}
	return run(context.Background(), e)
}

func run(ctx context.Context, e *env) int {
	root := newRoot(e)
	root.SetArgs(e.args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if msg := ee.Error(); msg != "" {
			printError(e.stderr, ee.err)
		}
		return ee.code
	}
	var ces config.Errors
	if errors.As(err, &ces) {
		printError(e.stderr, err)
		return ExitUsage
	}
	// What is left is cobra's errors about arguments and the parts' errors about the user's
	// files and services: bad input either way.
	printError(e.stderr, err)
	return ExitUsage
}

func printError(w io.Writer, err error) {
	var ces config.Errors
	if errors.As(err, &ces) {
		fmt.Fprintln(w, ces.Error())
		n := len(ces)
		if n == 1 {
			fmt.Fprintln(w, "plumb: 1 error; nothing was run")
		} else {
			fmt.Fprintf(w, "plumb: %d errors; nothing was run\n", n)
		}
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "plumb:") {
		msg = "plumb: " + msg
	}
	fmt.Fprintln(w, msg)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "plumb",
		Short: "Own an AI feature end to end: evals with statistical gates, prompts, datasets and a gateway",
		Long: `Plumb runs eval suites against LLM providers, scores every answer with deterministic
checks, text metrics and LLM judges, and decides acceptance gates with confidence intervals,
so that "at least 90% with 95% confidence" is a check, not a hope.

Runs are stored in a local SQLite database (.plumb/plumb.db) by default, or in PostgreSQL
with --db postgres://... or PLUMB_DB.

Exit codes: 0 every gate passed (a suite without gates: every assertion passed); 1 the run
completed but a gate or assertion failed, it was interrupted, or compare found a significant
regression; 2 bad input (config, flags, files), reported as file:line:col with a fix.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
	}
	root.SetVersionTemplate("plumb {{.Version}}\n")
	root.PersistentFlags().String("db", "", "store: sqlite:PATH or postgres://... (default $PLUMB_DB, else sqlite:.plumb/plumb.db)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// plumb approvals aprove 1 --as bob: the flag is unknown because the subcommand
		// is; say so.
		if c.Annotations[groupAnnotation] != "" && c.Flags().NArg() > 0 {
			return unknownSubcommand(c, c.Flags().Arg(0))
		}
		return usageErr("%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(
		newEvalCmd(e),
		newCompareCmd(e),
		newRunsCmd(e),
		newShowCmd(e),
		newMigrateCmd(e),
		newCacheCmd(e),
		newVersionCmd(e),
		newServeCmd(e),
		newUserCmd(e),
		newPromptCmd(e),
		newDatasetCmd(e),
		newReviewCmd(e),
		newQueueCmd(e),
		newGatewayCmd(e),
		newRedteamCmd(e),
		newApprovalsCmd(e),
		newGuardCmd(e),
	)
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command that only groups others (plumb guard,
// plumb approvals, plumb queue, ...) refuse an unknown subcommand with exit 2 and a "did
// you mean", as the root does: cobra would print the group's help and exit 0, and a
// script's typo would pass for success.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasParent() || !c.HasSubCommands() {
		return
	}
	c.SuggestionsMinimumDistance = 2
	if c.Runnable() {
		// A command that runs and has subcommands (plumb gateway): its own argument
		// check refuses the word; add what it may have meant.
		check := c.Args
		if check == nil {
			return
		}
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			if err != nil && len(args) > 0 {
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					return usageErr("%v: did you mean %s?", err, strings.Join(s, " or "))
				}
			}
			return err
		}
		return
	}
	c.Args = cobra.ArbitraryArgs
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[groupAnnotation] = "yes"
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownSubcommand(cmd, args[0])
	}
}

// groupAnnotation marks the commands that only group others.
const groupAnnotation = "plumb.group"

// unknownSubcommand is the error for a word that is none of group's subcommands.
func unknownSubcommand(group *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, group.CommandPath())
	if s := group.SuggestionsFor(word); len(s) > 0 {
		return usageErr("%s: did you mean %s?", msg, strings.Join(s, " or "))
	}
	var names []string
	for _, sub := range group.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return usageErr("%s: its commands are %s (see '%s --help')", msg, strings.Join(names, ", "), group.CommandPath())
}

// Version is the version of this binary: the link-time version, else the module version
// Go recorded, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print plumb's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(e.stdout, "plumb %s\n", Version())
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						fmt.Fprintf(e.stdout, "commit %s\n", s.Value)
					}
				}
				fmt.Fprintf(e.stdout, "%s\n", bi.GoVersion)
			}
			return nil
		},
	}
}
