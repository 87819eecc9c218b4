package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/guard/policy"
)

// maxGuardInput bounds the text plumb guard check reads.
const maxGuardInput = 16 << 20

func newGuardCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Check texts against guard policies",
		Args:  cobra.NoArgs,
	}
	var file, stage, format string
	check := &cobra.Command{
		Use:   "check -p policy.yaml [--stage input|output] < text",
		Short: "Run a guard policy over the text on stdin",
		Long: `Run a guard policy's input (default) or output steps over the text read from stdin and
print the decision, the findings (type, byte span, score, reason; never the full secret or
personal value) and the text as the policy left it (redacted). See docs/guard.md.

Exit codes: 0 allowed (perhaps redacted); 1 blocked or held for review; 2 bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageErr("give the policy with -p policy.yaml")
			}
			if stage != string(policy.Input) && stage != string(policy.Output) {
				return usageErr("--stage %q: use input or output", stage)
			}
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			c, err := policy.Load(file, policy.Options{Classifier: guardClassifier(e.getenv)})
			if err != nil {
				return err
			}
			if !c.Has(policy.Stage(stage)) {
				return usageErr("%s: the policy has no %s steps: write %s: with steps, or check with --stage %s", file, stage, stage, other(stage))
			}
			data, err := io.ReadAll(io.LimitReader(e.stdin, maxGuardInput+1))
			if err != nil {
				return usageErr("reading stdin: %v", err)
			}
			if len(data) > maxGuardInput {
				return usageErr("the text on stdin is over %d bytes", maxGuardInput)
			}
			r, err := c.Check(cmd.Context(), policy.Stage(stage), string(data))
			if err != nil {
				return usageErr("%s: %v", file, err)
			}
			if format == "json" {
				b, _ := json.MarshalIndent(r, "", "  ")
				fmt.Fprintln(e.stdout, string(b))
			} else {
				printGuardResult(e.stdout, r)
			}
			if r.Blocked() {
				return errFailed
			}
			return nil
		},
	}
	check.Flags().StringVarP(&file, "policy", "p", "", "the policy file (YAML)")
	check.Flags().StringVar(&stage, "stage", "input", "which steps to run: input or output")
	check.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.AddCommand(check)
	return cmd
}

func other(stage string) string {
	if stage == string(policy.Input) {
		return "output"
	}
	return "input"
}

func printGuardResult(w io.Writer, r *policy.Result) {
	fmt.Fprintf(w, "decision: %s\n", r.Decision)
	if r.Blocked() {
		fmt.Fprintf(w, "step: %s\nmessage: %s\n", r.Step, r.Message)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: step %s failed (on_error: %s): %s\n", e.Step, e.OnError, e.Error)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "findings: none")
	} else {
		fmt.Fprintf(w, "findings: %d\n", len(r.Findings))
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  STEP\tACTION\tTYPE\tSPAN\tSCORE\tREASON")
		for _, f := range r.Findings {
			reason := f.Reason
			if f.Decoding != "" {
				reason += " (decoded from " + f.Decoding + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s/%s\t%d-%d\t%.2f\t%s\n", f.Step, f.Action, f.Detector, f.Type, f.Start, f.End, f.Score, reason)
		}
		_ = tw.Flush()
	}
	if !r.Blocked() {
		fmt.Fprintf(w, "text:\n%s", r.Text)
		if r.Text != "" && r.Text[len(r.Text)-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
}
