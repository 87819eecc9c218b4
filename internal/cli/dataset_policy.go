package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/store"
)

// The retention, consent, audit and failed-case commands of `plumb dataset`.

var systemActor = store.Actor{Type: store.ActorSystem}

func newDatasetPolicyCmd(e *env) *cobra.Command {
	var days int
	var dropRevoked bool
	var subject string
	cmd := &cobra.Command{
		Use:   "policy NAME [--retention-days N] [--drop-revoked=true|false] [--subject-field FIELD]",
		Short: "Show or set a dataset's retention and consent policy",
		Long: `Without flags, show the policy of NAME; with flags, change those parts of it.

--retention-days N purges items created more than N days ago (0 keeps them for ever).
--drop-revoked purges items whose consent was revoked (plumb dataset revoke).
--subject-field names the field that identifies the person an item comes from, which
revocation by subject matches: metadata.NAME, vars.NAME, segment.NAME or source ("" turns
revocation by subject off). Purges run with plumb dataset purge, and in plumb serve.`,
		Example: "  plumb dataset policy support/golden --retention-days 90 --subject-field metadata.customer_id",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				p, err := st.DatasetPolicy(cmd.Context(), ds.ID)
				if err != nil {
					return err
				}
				f := cmd.Flags()
				if f.Changed("retention-days") || f.Changed("drop-revoked") || f.Changed("subject-field") {
					if f.Changed("retention-days") {
						p.RetentionDays = days
					}
					if f.Changed("drop-revoked") {
						p.DropRevoked = dropRevoked
					}
					if f.Changed("subject-field") {
						p.SubjectField = subject
					}
					if p, err = st.WithAudit(systemActor).SetDatasetPolicy(cmd.Context(), ds.ID, p); err != nil {
						return datasetStoreErr(err, name)
					}
					fmt.Fprintf(e.stdout, "policy of %s set\n", name)
				}
				printPolicy(e, p)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&days, "retention-days", 0, "purge items older than this many days (0: keep for ever)")
	cmd.Flags().BoolVar(&dropRevoked, "drop-revoked", true, "purge items whose consent was revoked")
	cmd.Flags().StringVar(&subject, "subject-field", "", "the field that identifies an item's subject (metadata.NAME, vars.NAME, segment.NAME or source)")
	return cmd
}

func printPolicy(e *env, p store.DatasetPolicy) {
	keep := "for ever"
	if p.RetentionDays > 0 {
		keep = count(p.RetentionDays, "day")
	}
	subject := p.SubjectField
	if subject == "" {
		subject = "(none: revocation by item id only)"
	}
	fmt.Fprintf(e.stdout, "retention: %s\ndrop revoked: %t\nsubject field: %s\n", keep, p.DropRevoked, subject)
}

func newDatasetRevokeCmd(e *env) *cobra.Command {
	var items []string
	var subjects []string
	var reason string
	var all, purgeNow bool
	cmd := &cobra.Command{
		Use:   "revoke NAME|--all [--item ID]... [--subject ID]... [--reason TEXT] [--purge-now]",
		Short: "Revoke consent for items of a dataset, or for a person in every dataset",
		Long: `Record that consent is revoked for items of NAME: by item id (--item, repeatable, or
comma-separated), or for every item, present or imported later, whose subject field (see
plumb dataset policy) holds a subject identifier (--subject). Only a hash of the subject is
kept. The next purge (plumb dataset purge, or the one plumb serve runs) deletes the items
when the policy drops revoked items, which it does by default.

--all --subject ID revokes the person's consent in every dataset of the project at once (an
erasure request), each dataset by its own subject field; datasets without a subject field
are listed as not covered. --purge-now purges right after recording (the datasets revoked
in, or NAME).`,
		Example: "  plumb dataset revoke support/golden --subject customer-1234 --reason 'erasure request 2026-11-02'\n" +
			"  plumb dataset revoke --all --subject customer-1234 --reason 'erasure request' --purge-now",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []int64
			for _, s := range items {
				for _, part := range strings.Split(s, ",") {
					id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
					if err != nil || id < 1 {
						return usageErr("--item %q: give item ids, the numbers `plumb dataset export` shows as id", part)
					}
					ids = append(ids, id)
				}
			}
			if all {
				switch {
				case len(args) == 1:
					return usageErr("give either a dataset NAME or --all, not both")
				case len(ids) > 0:
					return usageErr("--item names items of one dataset: drop --all and give the dataset's NAME")
				case len(subjects) == 0:
					return usageErr("--all needs --subject IDENTIFIER: the person whose consent is revoked in every dataset")
				}
				return revokeAll(cmd, e, subjects, reason, purgeNow)
			}
			if len(args) == 0 {
				return usageErr("name the dataset (plumb dataset revoke NAME ...), or give --all --subject IDENTIFIER for every dataset")
			}
			name := args[0]
			if len(ids) == 0 && len(subjects) == 0 {
				return usageErr("name what to revoke: --item ID or --subject IDENTIFIER")
			}
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				res, err := st.WithAudit(systemActor).RevokeConsent(cmd.Context(), ds.ID,
					store.Revocation{ItemIDs: ids, Subjects: subjects, Reason: reason})
				if err != nil {
					return datasetStoreErr(err, name)
				}
				fmt.Fprintf(e.stdout, "revocations recorded: %d\nitems now revoked: %d\n", res.Recorded, res.Matching)
				if purgeNow {
					return purgeAndPrint(cmd, e, st, ds.ID, false)
				}
				if res.DropRevoked {
					fmt.Fprintf(e.stdout, "the next purge deletes them: `plumb dataset purge %s`\n", name)
				} else {
					fmt.Fprintf(e.stdout, "the policy keeps revoked items: set `plumb dataset policy %s --drop-revoked` to purge them\n", name)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&items, "item", nil, "an item id (repeatable, or comma-separated)")
	cmd.Flags().StringArrayVar(&subjects, "subject", nil, "a subject identifier (repeatable)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the revocation and the audit log)")
	cmd.Flags().BoolVar(&all, "all", false, "revoke the --subject in every dataset of the project")
	cmd.Flags().BoolVar(&purgeNow, "purge-now", false, "purge right after recording the revocation")
	return cmd
}

// revokeAll is `plumb dataset revoke --all`.
func revokeAll(cmd *cobra.Command, e *env, subjects []string, reason string, purgeNow bool) error {
	st, err := openStore(cmd, e)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.WithAudit(systemActor).RevokeSubjects(cmd.Context(), store.DefaultProjectID, subjects, reason)
	if errors.Is(err, store.ErrInvalid) {
		return usageErr("%v", err)
	}
	if err != nil {
		return err
	}
	covered, matching, keep := 0, 0, 0
	for _, r := range res {
		if r.Skipped != "" {
			fmt.Fprintf(e.stdout, "%s: not covered: %s\n", r.Dataset, r.Skipped)
			continue
		}
		covered++
		matching += r.Matching
		fmt.Fprintf(e.stdout, "%s: by %s: %s recorded, %s now revoked\n", r.Dataset, r.SubjectField, count(r.Recorded, "revocation"), count(r.Matching, "item"))
		if !r.DropRevoked {
			keep++
			fmt.Fprintf(e.stdout, "  the policy of %s keeps revoked items: set `plumb dataset policy %s --drop-revoked` to purge them\n", r.Dataset, r.Dataset)
		}
	}
	fmt.Fprintf(e.stdout, "%d of %s covered, %s now revoked\n", covered, count(len(res), "dataset"), count(matching, "item"))
	if purgeNow {
		return purgeAndPrint(cmd, e, st, "", false)
	}
	if matching > 0 {
		fmt.Fprintln(e.stdout, "the next purge deletes them: `plumb dataset purge`")
	}
	return nil
}

func newDatasetPurgeCmd(e *env) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "purge [NAME] [--dry-run]",
		Short: "Delete the items the retention and consent policies no longer allow",
		Long: `Apply the policies of NAME (or of every dataset without NAME): delete for good the items
older than the retention period and the items whose consent was revoked. They leave every
version that held them: versions stay, with lower item counts. The purge is audited with
counts and item ids, never the items' content. --dry-run only counts.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			id := ""
			if len(args) == 1 {
				ds, err := st.GetDataset(cmd.Context(), store.DefaultProjectID, args[0])
				if err != nil {
					return datasetStoreErr(err, args[0])
				}
				id = ds.ID
			}
			return purgeAndPrint(cmd, e, st, id, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be purged, delete nothing")
	return cmd
}

func newDatasetAuditCmd(e *env) *cobra.Command {
	var format, label string
	var minShare float64
	cmd := &cobra.Command{
		Use:   "audit NAME[@VERSION] [--format md|json] [--min-share 0.05] [--label FIELD]",
		Short: "Audit a dataset version: segments, labels, consent, duplicates and personal data",
		Long: `Report on a version of NAME (default the latest) before a model sees it: item counts
and the label distribution (the expected output, or --label metadata.NAME, vars.NAME or
segment.NAME) per value of each segment field, segment values under --min-share of the
items, items without consent, exact and near-duplicate groups, and fields holding personal
data (e-mail, phone, card, IBAN, IP, US SSN), with masked excerpts only.`,
		Example: "  plumb dataset audit support/golden@3 --format md --min-share 0.1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := splitVersion(args[0])
			if err != nil {
				return err
			}
			if format != "md" && format != "json" {
				return usageErr("--format %q: use md or json", format)
			}
			if err := dataset.CheckLabelField(label); err != nil {
				return usageErr("--label: %v", err)
			}
			if minShare <= 0 || minShare >= 1 {
				return usageErr("--min-share %v: use a fraction between 0 and 1, such as 0.05 for 5%%", minShare)
			}
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				r, err := store.AuditDataset(cmd.Context(), st, ds, version, dataset.AuditOptions{MinShare: minShare, LabelField: label})
				if err != nil {
					return datasetStoreErr(err, name)
				}
				if format == "json" {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(r)
				}
				fmt.Fprint(e.stdout, r.Markdown())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or json")
	cmd.Flags().Float64Var(&minShare, "min-share", dataset.DefaultMinShare, "flag segment values holding less than this share of the items")
	cmd.Flags().StringVar(&label, "label", "", "the label field (default: the expected output)")
	return cmd
}

// splitVersion reads NAME[@VERSION].
func splitVersion(ref string) (string, int, error) {
	name, v, ok := strings.Cut(ref, "@")
	if !ok {
		return ref, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, usageErr("%q: write NAME@VERSION with VERSION a number from 1, e.g. %s@2", ref, name)
	}
	return name, n, nil
}

func newDatasetAddFailedCmd(e *env) *cobra.Command {
	var message string
	cmd := &cobra.Command{
		Use:   "add-failed NAME RUN [-m MESSAGE]",
		Short: "Add the failed cases of a stored run to a dataset, as a new version",
		Long: `Turn the failed cases of RUN (an id, a unique prefix or latest) into items of NAME: one
per failed test, with its vars, the test's metadata "expected" as the expected output, its
other metadata, its segment, and source "run RUN test N". Cases already in the dataset are
skipped as duplicates. Consent is false: a run does not say where its inputs came from.`,
		Example: "  plumb dataset add-failed support/regressions latest",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ref := args[0], args[1]
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				id, err := resolveRun(cmd, st, ref, "")
				if errors.Is(err, store.ErrNotFound) {
					return usageErr("no run %q in the store (list them with `plumb runs`)", ref)
				}
				if err != nil {
					return usageErr("%v", err)
				}
				if p, err := st.RunProject(cmd.Context(), id); err != nil || p != ds.ProjectID {
					return usageErr("no run %q in the project of dataset %s", ref, name)
				}
				v, stats, n, err := store.AddFailed(cmd.Context(), st.WithAudit(systemActor), ds.ID, id, message)
				if err != nil {
					return datasetStoreErr(err, name)
				}
				fmt.Fprintf(e.stdout, "failed cases: %d\nadded: %d\nduplicates skipped: %d\n", n, stats.Added, stats.Duplicates)
				if stats.Created {
					fmt.Fprintf(e.stdout, "%s version %d: %s\n", name, v.Version, count(v.ItemCount, "item"))
				} else {
					fmt.Fprintf(e.stdout, "%s version %d unchanged: every failed case is in it already\n", name, v.Version)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "what this version adds (default: failed cases of run RUN)")
	return cmd
}

// purgeAndPrint purges one dataset (datasetID) or every dataset of the project ("") and
// prints the counts.
func purgeAndPrint(cmd *cobra.Command, e *env, st store.Store, datasetID string, dryRun bool) error {
	res, err := st.WithAudit(systemActor).PurgeDatasets(cmd.Context(), store.DefaultProjectID, datasetID, dryRun)
	if err != nil {
		return err
	}
	verb := "purged"
	if dryRun {
		verb = "would purge"
	}
	total := 0
	for _, r := range res {
		total += r.Purged
		fmt.Fprintf(e.stdout, "%s: %s %s (%d past retention, %d consent revoked) from %s\n",
			r.Dataset, verb, count(r.Purged, "item"), r.Retention, r.Revoked, count(r.Versions, "version"))
	}
	fmt.Fprintf(e.stdout, "%s, %s %s\n", count(len(res), "dataset"), count(total, "item"), verb)
	return nil
}
