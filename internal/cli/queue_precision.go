package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/store"
)

// newQueuePrecisionCmd prints a gateway review queue's precision per policy step: how many
// of each step's held cases people judged correct blocks or false positives.
func newQueuePrecisionCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "precision NAME [--format table|json]",
		Short: "A gateway review queue's cases per guard policy step: correct blocks, false positives, precision",
		Long: `For a queue of the cases guard policies' review steps held in the gateway (docs/queues.md),
count per policy step the cases, those with a consensus verdict (adjudicated, else the labels'),
correct blocks, false positives and unsure ones, and the precision: correct blocks / (correct
blocks + false positives).`,
		Example: "  plumb queue precision guard-review",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageErr("--format %q: use table or json", format)
			}
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				steps, err := queue.Precision(cmd.Context(), st, q)
				if err != nil {
					return err
				}
				if format == "json" {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(steps)
				}
				if len(steps) == 0 {
					fmt.Fprintf(e.stdout, "queue %s has no cases yet\n", q.Name)
					return nil
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "POLICY/STEP\tCASES\tJUDGED\tCORRECT\tFALSE POSITIVES\tUNSURE\tPRECISION")
				for _, s := range steps {
					p := "-"
					if s.Precision != nil {
						p = fmt.Sprintf("%.3f", *s.Precision)
					}
					fmt.Fprintf(tw, "%s/%s\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Policy, s.Step, s.Cases, s.Judged, s.Correct, s.FalsePositive, s.Unsure, p)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}
