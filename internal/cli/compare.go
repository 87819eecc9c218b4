package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/eval"
)

func newCompareCmd(e *env) *cobra.Command {
	var (
		alpha  float64
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B",
		Short: "Compare two runs case by case and test whether B regressed",
		Long: `Pair the samples of two runs (by test, repeat, prompt and provider; by test and repeat
alone when each run has one prompt and one provider, as when comparing two models or two
prompt versions), and report regressions (passed in A, failed in B) and improvements.

The verdict uses McNemar's exact test on the paired pass/fail outcomes and, when scores are
graded rather than pass/fail, a sign-flip permutation test on the paired score differences
(each at half the significance level). The mean score difference is shown with a paired
bootstrap interval (10,000 resamples, fixed seed), and cost per case and p95 latency deltas
beside them. docs/statistics.md has the details.

RUN is a run id, a unique prefix of one, 'latest', or 'latest~N' (the Nth run before
the latest).

Exit codes: 0 no significant regression; 1 B is significantly worse than A at --alpha;
2 bad input.`,
		Example: "  plumb compare 20261125-193012-4f3a latest",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if alpha <= 0 || alpha >= 1 {
				return usageErr("--alpha must be between 0 and 1, e.g. 0.05")
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := loadRun(cmd, st, args[0], "")
			if err != nil {
				return err
			}
			b, err := loadRun(cmd, st, args[1], "")
			if err != nil {
				return err
			}
			c := eval.Compare(a, b, alpha)
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(c); err != nil {
					return err
				}
			} else {
				writeComparison(e.stdout, c, limit)
			}
			if c.Regressed {
				return errFailed
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&alpha, "alpha", 0.05, "significance level")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	cmd.Flags().IntVar(&limit, "limit", 20, "regressions and improvements to list (0 for all)")
	return cmd
}

// writeComparison prints a comparison for a terminal or a CI log.
func writeComparison(w io.Writer, c *eval.Comparison, limit int) {
	fmt.Fprintf(w, "Compare %s (A) → %s (B)\n", c.A.ID, c.B.ID)
	fmt.Fprintf(w, "  samples paired      %d (only in A: %d, only in B: %d)\n", c.Matched, c.OnlyA, c.OnlyB)
	fmt.Fprintf(w, "  pass rate           %.1f%% → %.1f%% (%+.1f pts)\n", 100*c.A.PassRate, 100*c.B.PassRate, 100*(c.B.PassRate-c.A.PassRate))
	fmt.Fprintf(w, "  pass → fail         %d\n", c.PassToFail)
	fmt.Fprintf(w, "  fail → pass         %d\n", c.FailToPass)
	fmt.Fprintf(w, "  McNemar exact p     %s\n", fmtP(c.McNemarP))
	if c.ScoresBinary {
		fmt.Fprintf(w, "  score B − A         %+.4f  %.0f%% CI [%+.4f, %+.4f] (paired bootstrap; scores are pass/fail, so McNemar decides)\n",
			c.ScoreDiff, 100*(1-c.Alpha), c.ScoreDiffCI[0], c.ScoreDiffCI[1])
	} else {
		fmt.Fprintf(w, "  score B − A         %+.4f  %.0f%% CI [%+.4f, %+.4f] (paired bootstrap)  sign-flip p %s\n",
			c.ScoreDiff, 100*(1-c.Alpha), c.ScoreDiffCI[0], c.ScoreDiffCI[1], fmtP(c.ScoreP))
	}
	fmt.Fprintf(w, "  cost per case       $%.6f → $%.6f (%+.6f)\n", c.A.CostPerCase, c.B.CostPerCase, c.B.CostPerCase-c.A.CostPerCase)
	fmt.Fprintf(w, "  latency p95         %.0f ms → %.0f ms (%+.0f ms)\n", c.A.LatencyP95, c.B.LatencyP95, c.B.LatencyP95-c.A.LatencyP95)
	fmt.Fprintf(w, "Verdict: %s (alpha %.2g)\n", c.Verdict, c.Alpha)
	list := func(title string, cs []eval.CaseChange) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(cs))
		for i, cc := range cs {
			if limit > 0 && i == limit {
				fmt.Fprintf(w, "  … %d more (use --limit 0 or --json)\n", len(cs)-limit)
				break
			}
			name := cc.Description
			if name == "" {
				name = fmt.Sprintf("test #%d", cc.Test)
			}
			fmt.Fprintf(w, "  - %s [%s · %s · repeat %d]\n", name, cc.Prompt, cc.Provider, cc.Repeat)
			if cc.Reason != "" {
				fmt.Fprintf(w, "      %s\n", oneLine(cc.Reason, 110))
			}
		}
	}
	list("Regressions (pass → fail)", c.Regressions)
	list("Improvements (fail → pass)", c.Improvements)
}

// fmtP writes a p-value; below 0.0001 it says so rather than printing a misleading 0.
func fmtP(p float64) string {
	if p < 0.0001 {
		return "< 0.0001"
	}
	return strconv.FormatFloat(p, 'g', 4, 64)
}

// oneLine squeezes s onto one line of at most n runes, for terminal listings. The text may
// be model output: control characters are replaced so it cannot drive the terminal.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
