package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/client"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

func newRunsCmd(e *env) *cobra.Command {
	var (
		opt             store.ListOptions
		asJSON          bool
		server, project string
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List stored runs, newest first",
		Long: `List the runs of the local store (see --db), newest first, or with --server URL the runs of a
project on a plumb server, authenticated with the API key in $PLUMB_API_KEY (--project is
needed only when the key's project cannot be told from the key).`,
		Example: "  plumb runs --suite support\n  PLUMB_API_KEY=plk_... plumb runs --server https://plumb.example.com",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Limit < 0 {
				return usageErr("--limit must be positive")
			}
			if opt.Status != "" && opt.Status != report.StatusComplete && opt.Status != report.StatusIncomplete {
				return usageErr("--status %q: use %s or %s", opt.Status, report.StatusComplete, report.StatusIncomplete)
			}
			if project != "" && server == "" {
				return usageErr("--project needs --server: local runs are not in projects")
			}
			var runs []store.RunInfo
			if server != "" {
				var err error
				if runs, err = remoteRuns(cmd.Context(), e, server, project, opt); err != nil {
					return err
				}
			} else {
				st, err := openStore(cmd, e)
				if err != nil {
					return err
				}
				defer st.Close()
				if runs, err = st.ListRuns(cmd.Context(), opt); err != nil {
					return err
				}
			}
			return printRuns(e, runs, asJSON)
		},
	}
	cmd.Flags().IntVar(&opt.Limit, "limit", 20, "runs to list")
	cmd.Flags().StringVar(&opt.Suite, "suite", "", "only runs of this suite")
	cmd.Flags().StringVar(&opt.Status, "status", "", "only runs with this status: complete or incomplete")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON")
	cmd.Flags().StringVar(&server, "server", "", "list the runs of a plumb server at URL (API key in $PLUMB_API_KEY)")
	cmd.Flags().StringVar(&project, "project", "", "the server project's slug (default: the API key's project)")
	return cmd
}

// printRuns writes a run list as the table, or as JSON; local and remote lists look alike.
func printRuns(e *env, runs []store.RunInfo, asJSON bool) error {
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
}

// apiKeyEnv holds the API key of --server; a key is never a flag, so that it stays out of
// shell history, process lists and the command line stored with each run.
const apiKeyEnv = "PLUMB_API_KEY"

// remoteClient is the API client of --server, with the key from $PLUMB_API_KEY. Both a
// missing key and a malformed URL are the user's input to fix (exit 2).
func remoteClient(e *env, serverURL string) (*client.Client, error) {
	key := e.getenv(apiKeyEnv)
	if key == "" {
		return nil, usageErr("--server needs an API key in $%s: create one for the project on the server (POST /api/v1/projects/PROJECT/keys) and export it", apiKeyEnv)
	}
	c, err := client.New(serverURL, client.WithAPIKey(key), client.WithUserAgent("plumb/"+Version()),
		client.WithHTTPClient(&http.Client{Timeout: 5 * time.Minute}))
	if err != nil {
		return nil, usageErr("--server: %v", err)
	}
	return c, nil
}

// remoteProject is the project --server works in: --project, else the API key's own
// project (a key belongs to exactly one).
func remoteProject(ctx context.Context, c *client.Client, project string) (string, error) {
	if project != "" {
		return project, nil
	}
	me, err := c.Me(ctx)
	if err != nil {
		return "", &exitError{code: ExitUsage, err: fmt.Errorf("--server %s: %w", c.BaseURL(), err)}
	}
	if len(me.Projects) != 1 {
		return "", usageErr("--project is required: the credentials in $%s reach %d projects", apiKeyEnv, len(me.Projects))
	}
	return me.Projects[0].Project.Slug, nil
}

// remoteRuns lists up to opt.Limit runs (all when 0) of a server's project.
func remoteRuns(ctx context.Context, e *env, serverURL, project string, opt store.ListOptions) ([]store.RunInfo, error) {
	c, err := remoteClient(e, serverURL)
	if err != nil {
		return nil, err
	}
	if project, err = remoteProject(ctx, c, project); err != nil {
		return nil, err
	}
	lo := client.ListRunsOptions{Suite: opt.Suite, Status: opt.Status, Limit: 1000}
	if opt.Limit > 0 {
		lo.Limit = min(opt.Limit, 1000)
	}
	runs := []store.RunInfo{}
	for r, err := range c.Runs(ctx, project, lo) {
		if err != nil {
			return nil, &exitError{code: ExitUsage, err: fmt.Errorf("--server %s: %w", c.BaseURL(), err)}
		}
		runs = append(runs, r)
		if opt.Limit > 0 && len(runs) == opt.Limit {
			break
		}
	}
	return runs, nil
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
