package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/redteam"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

func newRedteamCmd(e *env) *cobra.Command {
	var cfgPath, format, out string
	var noStore bool
	cmd := &cobra.Command{
		Use:   "redteam -c redteam.yaml",
		Short: "Attack a provider, gateway route or application endpoint and report attack success rates",
		Long: `Red-team a system under test: attacks generated offline and deterministically per harm
category (Llama Guard S1-S14, OWASP LLM01-LLM10, custom) and strategy (direct, injection,
jailbreak, base64, hex, rot13, leetspeak, homoglyph, unicode-tags, and multi-turn with an
attacker model), scored by deterministic detectors (canary leaked, trigger echoed, forbidden
tool called, planted record leaked), refusal recognition and a judge. The run is stored like
an eval run. See docs/redteam.md.

Exit codes: 0 every category at or below its threshold; 1 a category's attack success rate
is above its threshold (or the run was interrupted, or errors left a category untested: fewer
than half of its attempts scored); 2 bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usageErr("give the red-team config with -c redteam.yaml")
			}
			format = outputFormat(cmd, format, out)
			if format != "text" && format != "md" && format != "json" {
				return usageErr("--format %q: use text, md or json", format)
			}
			cfg, err := redteam.LoadFileEnv(cfgPath, e.getenv)
			if err != nil {
				var ce config.Errors
				if errors.As(err, &ce) {
					return &exitError{code: ExitUsage, err: err}
				}
				return err
			}
			r, err := redteam.New(cfg, redteam.Options{Getenv: e.getenv, Version: Version(), Args: e.args})
			if err != nil {
				var ce config.Errors
				if errors.As(err, &ce) {
					return &exitError{code: ExitUsage, err: err}
				}
				return usageErr("%s: %v", cfgPath, err)
			}
			// Where the results go is checked before the attack starts, not after it.
			if out != "" {
				if err := checkWritable(out); err != nil {
					return usageErr("-o %s: cannot write there: %v", out, unwrapPathError(err))
				}
			}
			var st store.Store
			if !noStore {
				if st, err = openStore(cmd, e); err != nil {
					return err
				}
				defer st.Close()
			}
			fmt.Fprintf(e.stderr, "redteam: %d attacks × %d attempts against %s\n", len(r.Cases()), cfg.Attempts, r.Target())
			// Ctrl-C or SIGTERM stops launching attempts and cuts off the calls in flight;
			// the attempts that finished are stored and reported as an incomplete run. A
			// second signal, once the run has stopped, ends plumb at once.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			rep, err := r.Run(ctx)
			interrupted := ctx.Err() != nil
			stop()
			if err != nil {
				return err
			}
			if st != nil {
				saveCtx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), time.Minute)
				defer cancel()
				if err := st.SaveRun(saveCtx, rep); err != nil {
					return fmt.Errorf("store the run: %w", err)
				}
			}
			if err := writeRedteam(e, rep, format, out); err != nil {
				return err
			}
			if interrupted {
				ran, planned := redteam.Ran(rep, redteam.BuildTable(rep))
				fmt.Fprintf(e.stderr, "plumb: interrupted after %d of %d planned attempts; the run is incomplete\n", ran, planned)
			}
			if st != nil {
				fmt.Fprintf(e.stderr, "stored as run %s\n", rep.Run.ID)
			}
			if rep.Run.Status != report.StatusComplete || !redteam.Passed(rep) {
				return errFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "the red-team config (redteam.yaml)")
	cmd.Flags().StringVar(&format, "format", "text", "output: text, md (the launch-review report) or json (default with -o: by the file's extension)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the output to this file instead of stdout (.md Markdown, .json JSON, else text)")
	cmd.Flags().BoolVar(&noStore, "no-store", false, "do not store the run")
	cmd.AddCommand(newRedteamReportCmd(e), newRedteamCompareCmd(e))
	return cmd
}

// outputFormat is the format a red-team report is written in: --format when given, else
// with -o the file's extension (.md Markdown, .json JSON, .txt text; any other keeps the
// command's default), else the default.
func outputFormat(cmd *cobra.Command, format, out string) string {
	if out == "" || cmd.Flags().Changed("format") {
		return format
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".md", ".markdown":
		return "md"
	case ".json":
		return "json"
	case ".txt":
		return "text"
	}
	return format
}

func writeRedteam(e *env, rep *report.Report, format, out string) error {
	w := e.stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return usageErr("-o %s: %v", out, err)
		}
		defer f.Close()
		w = f
	}
	switch format {
	case "md":
		return redteam.WriteMarkdown(w, rep, 0)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"run": rep.Run, "table": redteam.BuildTable(rep), "successful": redteam.Successful(rep)})
	}
	return writeRedteamText(w, rep)
}

func writeRedteamText(w io.Writer, rep *report.Report) error {
	t := redteam.BuildTable(rep)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "CATEGORY\tASR\t95% CI\tTHRESHOLD\tVERDICT\tERRORS")
	for _, s := range t.Strategies {
		fmt.Fprint(tw, "\t"+s)
	}
	fmt.Fprintln(tw)
	for _, ro := range t.Rows {
		v := "ok"
		switch {
		case ro.All.Exceeded:
			v = "ABOVE"
		case ro.All.Untested:
			v = "UNTESTED"
		}
		asr, ci := "–", "–"
		if ro.All.Attempts > 0 {
			asr = fmt.Sprintf("%d/%d %.1f%%", ro.All.Successes, ro.All.Attempts, 100*ro.All.Rate)
			ci = fmt.Sprintf("[%.1f%%, %.1f%%]", 100*ro.All.CI[0], 100*ro.All.CI[1])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f%%\t%s\t%d", ro.Category.ID, asr, ci, 100*ro.Category.Threshold, v, ro.All.Errors)
		for _, c := range ro.Cells {
			if c.Attempts == 0 {
				fmt.Fprint(tw, "\t-")
			} else {
				fmt.Fprintf(tw, "\t%d/%d", c.Successes, c.Attempts)
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	rate := "–"
	if t.Total.Attempts > 0 {
		rate = fmt.Sprintf("%.1f%%", 100*t.Total.Rate)
	}
	blocked := ""
	if t.Total.Blocked > 0 {
		blocked = fmt.Sprintf(" (%d blocked by the target's guard or tool policy)", t.Total.Blocked)
	}
	fmt.Fprintf(w, "attack success rate %d/%d (%s)%s; %d errors\n", t.Total.Successes, t.Total.Attempts, rate, blocked, t.Total.Errors)
	fmt.Fprintln(w, redteam.VerdictText(rep, t))
	return nil
}

func newRedteamReportCmd(e *env) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report RUN",
		Short: "Show a stored red-team run (Markdown for the launch review with --format md)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format = outputFormat(cmd, format, out)
			if format != "text" && format != "md" && format != "json" {
				return usageErr("--format %q: use text, md or json", format)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := loadRun(cmd, st, args[0], "")
			if err != nil {
				return err
			}
			if rep.Run.RedTeam == nil {
				return usageErr("run %s is an eval run, not a red-team run (see it with `plumb show %s`)", rep.Run.ID, rep.Run.ID)
			}
			return writeRedteam(e, rep, format, out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "output: md, text or json (default with -o: by the file's extension)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout (.md Markdown, .json JSON, .txt text, else Markdown)")
	return cmd
}

func newRedteamCompareCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "compare BEFORE AFTER",
		Short: "Compare two red-team runs: which holes closed, which opened (exit 1 when any opened)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "json" {
				return usageErr("--format %q: use md or json", format)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			var reps [2]*report.Report
			for i, ref := range args {
				if reps[i], err = loadRun(cmd, st, ref, ""); err != nil {
					return err
				}
				if reps[i].Run.RedTeam == nil {
					return usageErr("run %s is not a red-team run", reps[i].Run.ID)
				}
			}
			c := redteam.Compare(reps[0], reps[1])
			if format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(c)
			} else {
				err = redteam.WriteCompareMarkdown(e.stdout, c)
			}
			if err != nil {
				return err
			}
			if len(c.Opened) > 0 {
				return errFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "output: md or json")
	return cmd
}
