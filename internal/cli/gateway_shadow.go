package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/gateway/shadowreport"
	"github.com/plumbhq/plumb/internal/store"
)

// newGatewayShadowReportCmd is `plumb gateway shadow-report`.
func newGatewayShadowReportCmd(e *env) *cobra.Command {
	var cfgPath, route, format, project string
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "shadow-report -c gateway.yaml --route R",
		Short: "Compare a route's live calls with its shadow calls",
		Long: `Compare a route's live calls with the shadow calls beside them, from the trace records in
the store of --db: agreement of the answers, the pass rate of each of the shadow's assertions
over the live and the shadow answers (Wilson intervals, McNemar's exact test on the pairs),
latency p50/p95, cost per call, error rates, and a verdict ("ready" only when the shadow is not
significantly worse on any assertion and fails no more calls than live). The assertions are
the route's shadow.assert in the config, run now over the recorded bodies: with bodies off or
cut, say so and leave those pairs out. See docs/gateway.md, "Shadow".`,
		Example: "  plumb gateway shadow-report -c gateway.yaml --route support-bot --since 24h --format md",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usageErr("give the gateway config with -c gateway.yaml: the report runs its shadow assertions")
			}
			if route == "" {
				return usageErr("give the route with --route NAME")
			}
			if !slices.Contains(shadowreport.Formats, format) {
				return usageErr("--format %q: use %s", format, strings.Join(shadowreport.Formats, ", "))
			}
			if since <= 0 {
				return usageErr("--since %s: use a positive duration, e.g. 24h", since)
			}
			cfg, err := gateway.LoadFile(cfgPath, func(n string) string {
				// The report needs no secret: a stand-in for one that is not set here.
				if v := e.getenv(n); v != "" {
					return v
				}
				return "unset:" + n
			})
			if err != nil {
				return err
			}
			r := cfg.Route(route)
			if r == nil {
				var names []string
				for _, rt := range cfg.Routes {
					names = append(names, rt.Name)
				}
				return usageErr("%s has no route %q: its routes are %s", cfgPath, route, strings.Join(names, ", "))
			}
			if r.Shadow == nil {
				return usageErr("route %q has no shadow in %s: add shadow: {provider, model} to it (docs/gateway.md, Shadow)", route, cfgPath)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			p, err := st.GetProject(cmd.Context(), project)
			if errors.Is(err, store.ErrNotFound) {
				return usageErr("--project %q: no such project", project)
			}
			if err != nil {
				return err
			}
			from := time.Now().Add(-since).UTC()
			pairs, err := st.ShadowPairs(cmd.Context(), p.ID, route, from, 0)
			if err != nil {
				return fmt.Errorf("read the shadow records: %w", err)
			}
			rep := shadowreport.Build(cmd.Context(), route, from, pairs, r.Shadow.Checks())
			return rep.Write(e.stdout, format)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "the gateway config (gateway.yaml)")
	cmd.Flags().StringVar(&route, "route", "", "the route to report on")
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "the period: calls started this long ago or later")
	cmd.Flags().StringVar(&format, "format", "text", "text, json or md")
	cmd.Flags().StringVar(&project, "project", store.DefaultProjectID, "the project the gateway records under (its keys' project)")
	return cmd
}
