package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

func newRunsCmd(e *env) *cobra.Command {
	var (
		opt    store.ListOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List stored runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Limit < 0 {
				return usageErr("--limit must be positive")
			}
			if opt.Status != "" && opt.Status != report.StatusComplete && opt.Status != report.StatusIncomplete {
				return usageErr("--status %q: use %s or %s", opt.Status, report.StatusComplete, report.StatusIncomplete)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(cmd.Context(), opt)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if runs == nil {
					runs = []store.RunInfo{}
				}
				return enc.Encode(runs)
			}
			if len(runs) == 0 {
				fmt.Fprintln(e.stdout, "No runs yet. Run a suite with `plumb eval`.")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSUITE\tSTARTED\tSTATUS\tSAMPLES\tPASS RATE\tGATES")
			for _, r := range runs {
				gates := "-"
				if r.GatesTotal > 0 {
					gates = fmt.Sprintf("%d/%d", r.GatesPassed, r.GatesTotal)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1f%%\t%s\n", r.ID, oneLine(orDash(r.Suite), 40),
					r.StartedAt.Local().Format("2006-01-02 15:04"), r.Status, r.Cases, 100*r.PassRate, gates)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&opt.Limit, "limit", 20, "runs to list")
	cmd.Flags().StringVar(&opt.Suite, "suite", "", "only runs of this suite")
	cmd.Flags().StringVar(&opt.Status, "status", "", "only runs with this status: complete or incomplete")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newShowCmd(e *env) *cobra.Command {
	var (
		asJSON  bool
		outputs []string
	)
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Print a stored run's summary, or write it as a report",
		Long: `Print the summary of a stored run (RUN is an id, a unique prefix, 'latest' or 'latest~N'), or with
--json the full JSON report, or with -o FILE write a report in any format.`,
		Example: "  plumb show latest\n  plumb show 20261125 -o report.html",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, out := range outputs {
				if err := checkOutputPath(out); err != nil {
					return err
				}
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
			for _, out := range outputs {
				if err := report.Write(out, rep); err != nil {
					return fmt.Errorf("write %s: %w", out, err)
				}
				fmt.Fprintf(e.stdout, "Wrote %s\n", out)
			}
			if asJSON {
				return report.WriteJSON(e.stdout, rep)
			}
			if len(outputs) == 0 {
				report.WriteSummary(e.stdout, rep, e.isTerminal && e.getenv("NO_COLOR") == "")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the full JSON report")
	cmd.Flags().StringArrayVarP(&outputs, "output", "o", nil, "write the report to FILE (format by extension; repeatable)")
	return cmd
}

func newMigrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the store's schema up to date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dsn := dbDSN(cmd, e)
			if _, _, err := store.ParseDSN(dsn); err != nil {
				return usageErr("--db: %v", err)
			}
			st, err := store.Open(cmd.Context(), dsn, store.OpenOptions{Migrate: true})
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			defer st.Close()
			cur, latest, err := st.SchemaStatus(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "schema at version %d of %d\n", cur, latest)
			return nil
		},
	}
}

func newCacheCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage the response cache",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "clear",
		Short: "Delete every cached provider answer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := cacheDir(e)
			if err := eval.NewCache(dir).Clear(); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "cleared %s\n", dir)
			return nil
		},
	})
	return cmd
}
