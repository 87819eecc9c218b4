package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
)

// newQueueCmd is annotation queues on the local store (--db), in a project (--project,
// default the default project), audited as the system. Labelling itself is done in the web UI (or through the API).
func newQueueCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Annotation queues: create them, set guidelines, follow progress and agreement, adjudicate, write back",
		Long: `An annotation queue holds items to be labelled by people: the items of a pinned dataset
version, or a run's results (a human eval panel). Each item goes to k annotators (--overlap);
a rubric says what they answer; guidelines (Markdown, versioned) are shown beside every item.
People label in the web UI of ` + "`plumb serve`" + `; these commands work on the store (--db), in the
project --project names (slug or id; default the default project). See docs/queues.md.`,
	}
	cmd.PersistentFlags().String("project", store.DefaultProjectSlug, "project slug or id")
	cmd.AddCommand(newQueueCreateCmd(e), newQueueListCmd(e), newQueueShowCmd(e), newQueueGuidelinesCmd(e),
		newQueueProgressCmd(e), newQueueAgreementCmd(e), newQueueDisagreementsCmd(e), newQueueAdjudicateCmd(e),
		newQueueWriteBackCmd(e), newQueuePublishCmd(e), newQueuePrecisionCmd(e))
	return cmd
}

// queueStoreErr turns the store's refusals into usage errors.
func queueStoreErr(err error, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && strings.HasPrefix(err.Error(), fmt.Sprintf("queue %q not found", name)):
		return usageErr("no queue %q in the store: list them with `plumb queue list`", name)
	case errors.Is(err, store.ErrConflict):
		return usageErr("%v", err)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		return usageErr("%v", err)
	}
	return err
}

// queueProject opens the store and finds the project the queue command's --project names.
func queueProject(cmd *cobra.Command, e *env) (store.Store, string, error) {
	ref, err := cmd.Flags().GetString("project")
	if err != nil {
		return nil, "", err
	}
	return openProject(cmd, e, ref)
}

// withQueue opens the store and finds the queue in the --project project.
func withQueue(cmd *cobra.Command, e *env, name string, fn func(st store.Store, q store.Queue) error) error {
	st, projectID, err := queueProject(cmd, e)
	if err != nil {
		return err
	}
	defer st.Close()
	q, err := st.GetQueue(cmd.Context(), projectID, name)
	if err != nil {
		return queueStoreErr(err, name)
	}
	return queueStoreErr(fn(st, q), name)
}

// system is how the CLI's changes are audited.
func system(st store.Store) store.Store { return st.WithAudit(store.Actor{Type: store.ActorSystem}) }

func newQueueCreateCmd(e *env) *cobra.Command {
	var ds, run, rubricFile, guidelinesFile, desc string
	var version, overlap int
	var annotators []string
	cmd := &cobra.Command{
		Use:   "create NAME (--dataset NAME [--version N] | --run RUN) --rubric FILE [--overlap K] [--guidelines FILE] [--annotator EMAIL]...",
		Short: "Create an annotation queue over a dataset version or a run's results",
		Example: `  plumb queue create golden-review --dataset support/golden --rubric rubric.yaml --overlap 2 --guidelines guide.md
  plumb queue create judge-check --run latest --rubric verdict.yaml --annotator ana@example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := store.CheckQueueName(name); err != nil {
				return usageErr("%v", err)
			}
			if rubricFile == "" {
				return usageErr("--rubric is required: a YAML or JSON file with the fields to answer (docs/queues.md)")
			}
			data, err := os.ReadFile(rubricFile)
			if err != nil {
				return usageErr("--rubric: %v", err)
			}
			rb, err := review.ParseRubric(data)
			if err != nil {
				return usageErr("%s: %v", rubricFile, err)
			}
			if err := rb.Check(); err != nil {
				return usageErr("%s: %v", rubricFile, err)
			}
			var guide string
			if guidelinesFile != "" {
				b, err := os.ReadFile(guidelinesFile)
				if err != nil {
					return usageErr("--guidelines: %v", err)
				}
				guide = string(b)
			}
			st, projectID, err := queueProject(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			if run != "" {
				if run, err = st.ResolveRun(cmd.Context(), run); err != nil {
					return usageErr("--run: %v", err)
				}
			}
			// Annotators are checked before anything is made: a refused one leaves no queue behind.
			var users []store.User
			for _, email := range annotators {
				u, err := st.GetUserByEmail(cmd.Context(), email)
				if err != nil {
					return usageErr("--annotator %s: no such user: create it with `plumb user create --email %s`", email, email)
				}
				if _, err := st.GetMembership(cmd.Context(), projectID, u.ID); errors.Is(err, store.ErrNotFound) {
					ref, _ := cmd.Flags().GetString("project")
					return usageErr("--annotator %s: not a member of project %q, where the queue is made: add them on the server's Members page of the project, or with POST /api/v1/projects/%s/members {\"email\": %q, \"role\": \"viewer\"}", email, ref, ref, email)
				} else if err != nil {
					return err
				}
				users = append(users, u)
			}
			ch := system(st)
			q, err := queue.Create(cmd.Context(), ch, projectID, queue.Spec{Name: name, Description: desc,
				Dataset: ds, Version: version, Run: run, Rubric: rb, Overlap: overlap, Guidelines: guide, Author: "cli"})
			if err != nil {
				return queueStoreErr(err, name)
			}
			for _, u := range users {
				if _, err := ch.AddQueueMember(cmd.Context(), q.ID, u.ID); err != nil {
					return queueStoreErr(err, name)
				}
			}
			fmt.Fprintf(e.stdout, "queue %s created: %s, each for %s\n", q.Name, count(q.Items, "item"), count(q.Overlap, "annotator"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ds, "dataset", "", "label the items of this dataset")
	f.IntVar(&version, "version", 0, "the dataset version to pin (default: the latest)")
	f.StringVar(&run, "run", "", "label this run's results (an id, a prefix or latest): a human eval panel")
	f.StringVar(&rubricFile, "rubric", "", "the rubric: a YAML or JSON file of fields")
	f.IntVar(&overlap, "overlap", 1, "how many annotators label each item (k)")
	f.StringVar(&guidelinesFile, "guidelines", "", "the annotation guidelines: a Markdown file")
	f.StringVarP(&desc, "description", "d", "", "what the queue is for")
	f.StringArrayVar(&annotators, "annotator", nil, "a user (email) who labels; repeat for several")
	return cmd
}

func newQueueListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the queues",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, projectID, err := queueProject(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			qs, err := st.ListQueues(cmd.Context(), projectID)
			if err != nil {
				return err
			}
			if len(qs) == 0 {
				fmt.Fprintln(e.stdout, "no queues yet: create one with `plumb queue create`")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE\tITEMS\tOVERLAP\tANNOTATORS\tSTATUS")
			for _, q := range qs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", q.Name, sourceText(q.Source), q.Items, q.Overlap, q.Members, q.Status)
			}
			return tw.Flush()
		},
	}
}

func sourceText(s store.QueueSource) string {
	switch s.Kind {
	case store.SourceRun:
		return "run " + s.RunID
	case store.SourceGateway:
		return "gateway review cases"
	}
	return fmt.Sprintf("dataset %s v%d", s.Dataset, s.DatasetVersion)
}

func newQueueShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a queue: source, rubric, guidelines version, annotators and progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				rb, err := queue.RubricOf(q)
				if err != nil {
					return err
				}
				p, err := st.QueueProgress(cmd.Context(), q.ID)
				if err != nil {
					return err
				}
				w := e.stdout
				fmt.Fprintf(w, "queue %s (%s)\nsource: %s\nitems: %d, each for %s; %d complete, %d of %s\nguidelines: ",
					q.Name, q.Status, sourceText(q.Source), q.Items, count(q.Overlap, "annotator"), p.Complete, p.Labels, count(p.Wanted, "label"))
				if q.GuidelineVersion == 0 {
					fmt.Fprintln(w, "none yet")
				} else {
					fmt.Fprintf(w, "version %d\n", q.GuidelineVersion)
				}
				fmt.Fprintln(w, "rubric:")
				for _, f := range rb.Fields {
					extra := ""
					if len(f.Options) > 0 {
						extra = " [" + strings.Join(f.Options, ", ") + "]"
					}
					if f.Required {
						extra += " (required)"
					}
					fmt.Fprintf(w, "  %s: %s%s\n", f.Name, f.Kind, extra)
				}
				return nil
			})
		},
	}
}

func newQueueGuidelinesCmd(e *env) *cobra.Command {
	var set string
	var version int
	cmd := &cobra.Command{
		Use:   "guidelines NAME [--set FILE | --version N]",
		Short: "Print a queue's guidelines, or store a new version from a Markdown file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				if set != "" {
					b, err := os.ReadFile(set)
					if err != nil {
						return usageErr("--set: %v", err)
					}
					g, err := system(st).AddGuidelines(cmd.Context(), q.ID, string(b), "cli")
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "guidelines of %s: version %d\n", q.Name, g.Version)
					return nil
				}
				g, err := st.GetGuidelines(cmd.Context(), q.ID, version)
				if err != nil {
					return err
				}
				if g.Version == 0 {
					fmt.Fprintf(e.stdout, "queue %s has no guidelines yet: set them with `plumb queue guidelines %s --set FILE.md`\n", q.Name, q.Name)
					return nil
				}
				fmt.Fprint(e.stdout, g.Body)
				if !strings.HasSuffix(g.Body, "\n") {
					fmt.Fprintln(e.stdout)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&set, "set", "", "store this Markdown file as the next version")
	cmd.Flags().IntVar(&version, "version", 0, "print this version (default: the latest)")
	return cmd
}

func newQueueProgressCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "progress NAME",
		Short: "Show items complete and each annotator's labels, skips and share",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				p, err := st.QueueProgress(cmd.Context(), q.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d of %s complete; %d of %s\n", p.Complete, count(p.Items, "item"), p.Labels, count(p.Wanted, "label"))
				if len(p.Annotators) == 0 {
					return nil
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ANNOTATOR\tLABELLED\tSKIPPED\tTARGET")
				for _, a := range p.Annotators {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", a.Email, a.Labelled, a.Skipped, a.Target)
				}
				return tw.Flush()
			})
		},
	}
}

// queueStat is a statistic with its reading, or "-".
func queueStat(s *review.Stat) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f %s", s.Value, s.Reading)
}

func newQueueAgreementCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "agreement NAME [--format table|json]",
		Short: "Agreement per rubric field: Cohen's κ, Fleiss' κ, Krippendorff's α with readings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageErr("--format %q: use table or json", format)
			}
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				rv, err := queue.Analyze(cmd.Context(), st, q)
				if err != nil {
					return err
				}
				if format == "json" {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(rv.Agreement)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "FIELD\tITEMS\tANNOTATORS\tAGREE%\tCOHEN κ\tFLEISS κ\tKRIPPENDORFF α\tNOTE")
				for _, a := range rv.Agreement {
					alpha := queueStat(a.Alpha)
					if a.Alpha != nil && a.Alpha.Metric != "" {
						alpha += " (" + a.Alpha.Metric + ")"
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\n", a.Field, a.Items, a.Annotators, 100*a.PercentAgreement,
						queueStat(a.Cohen), queueStat(a.Fleiss), alpha, a.Note)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newQueueDisagreementsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "disagreements NAME",
		Short: "List the items whose labels disagree, for adjudication",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				rv, err := queue.Analyze(cmd.Context(), st, q)
				if err != nil {
					return err
				}
				if len(rv.Disagreements) == 0 {
					fmt.Fprintln(e.stdout, "no disagreements")
					return nil
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ITEM\tFIELD\tVALUES\tCONSENSUS\tADJUDICATED")
				for _, d := range rv.Disagreements {
					var vs []string
					for who, v := range d.Values {
						vs = append(vs, who+"="+v)
					}
					sort.Strings(vs)
					adj := "-"
					if d.Adjudicated != nil {
						adj = d.Adjudicated.Value
					}
					cons := d.Consensus
					if cons == "" {
						cons = "-"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.ItemID, d.Field, strings.Join(vs, " "), cons, adj)
				}
				return tw.Flush()
			})
		},
	}
}

func newQueueAdjudicateCmd(e *env) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:     "adjudicate NAME ITEM FIELD VALUE [--note TEXT]",
		Short:   "Set the consensus value of one field of an item",
		Example: "  plumb queue adjudicate golden-review 12 answer \"Refunds take 5 days\" --note \"per policy 4.2\"",
		Args:    cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			item, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || item < 1 {
				return usageErr("item %q: give the item's number (from 1), as `plumb queue disagreements` lists it", args[1])
			}
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				a, err := queue.Adjudicate(cmd.Context(), system(st), q, item, args[2], args[3], note, "cli")
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "item %d of %s: %s = %s\n", a.ItemID, q.Name, a.Field, a.Value)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (kept with the adjudication and in the audit log)")
	return cmd
}

func newQueueWriteBackCmd(e *env) *cobra.Command {
	var field, message string
	cmd := &cobra.Command{
		Use:   "writeback NAME --field FIELD [-m MESSAGE]",
		Short: "Write each item's consensus of FIELD back to the dataset as its expected answer (a new version)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if field == "" {
				return usageErr("--field is required: the field whose consensus becomes the expected answer")
			}
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				res, err := queue.WriteBack(cmd.Context(), system(st), q, field, message)
				if err != nil {
					return err
				}
				if !res.Created {
					fmt.Fprintf(e.stdout, "dataset %s: every consensus answer is already the expected one; no new version\n", res.Dataset)
				} else {
					fmt.Fprintf(e.stdout, "dataset %s version %d: %d item(s) changed\n", res.Dataset, res.Version.Version, len(res.Changed))
					for _, c := range res.Changed {
						fmt.Fprintf(e.stdout, "  queue item %d: dataset item %d -> %d\n", c.QueueItem, c.From, c.To)
					}
				}
				if len(res.Missing) > 0 {
					fmt.Fprintf(e.stdout, "not in the latest version (left out): queue items %v\n", res.Missing)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&field, "field", "", "the field whose consensus becomes the expected answer")
	cmd.Flags().StringVarP(&message, "message", "m", "", "the dataset version's message")
	return cmd
}

func newQueuePublishCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "publish NAME",
		Short: "Rewrite a human panel's stored human scores of its run from its labels and adjudications",
		Long: `A human eval panel (a queue over a run's results with a "verdict" field) stores each result's
consensus verdict as the result's human score whenever a label or adjudication changes it.
publish rewrites them all at once: for panels labelled before human scores were stored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withQueue(cmd, e, args[0], func(st store.Store, q store.Queue) error {
				n, err := queue.Publish(cmd.Context(), st, q)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s: %d result(s) of run %s have a human score\n", q.Name, n, q.Source.RunID)
				return nil
			})
		},
	}
}
