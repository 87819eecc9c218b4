package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/store"
)

// newDatasetCmd is datasets on the local store (--db), in the default project. Its changes
// are audited as the system, like `plumb prompt`'s.
func newDatasetCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dataset",
		Short: "Keep datasets with immutable versions: create, import, export, list and show them",
		Long: `A dataset holds items (input vars, expected output, metadata, segment fields, source and
consent) in immutable, numbered versions. Importing a file makes a new version: the previous
items plus the new ones (or the new ones alone with --replace); exact duplicates are skipped
and near-duplicates reported. It works on the store (--db), in the default project. See
docs/datasets.md for the formats and the column mapping.`,
	}
	cmd.AddCommand(newDatasetCreateCmd(e), newDatasetImportCmd(e), newDatasetExportCmd(e),
		newDatasetListCmd(e), newDatasetShowCmd(e),
		newDatasetPolicyCmd(e), newDatasetRevokeCmd(e), newDatasetPurgeCmd(e), newDatasetAuditCmd(e), newDatasetAddFailedCmd(e))
	return cmd
}

// datasetStoreErr turns the store's refusals into usage errors that say what to do.
func datasetStoreErr(err error, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && strings.HasPrefix(err.Error(), fmt.Sprintf("dataset %q not found", name)):
		return usageErr("no dataset %q in the store: create it with `plumb dataset create %s` (list them with `plumb dataset list`)", name, name)
	case errors.Is(err, store.ErrConflict):
		return usageErr("dataset %q exists already: import into it with `plumb dataset import %s FILE`", name, name)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		return usageErr("%v", err)
	}
	return err
}

// withDataset opens the store and finds the dataset name in the default project.
func withDataset(cmd *cobra.Command, e *env, name string, fn func(st store.Store, ds store.Dataset) error) error {
	st, err := openStore(cmd, e)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.GetDataset(cmd.Context(), store.DefaultProjectID, name)
	if err != nil {
		return datasetStoreErr(err, name)
	}
	return fn(st, ds)
}

func newDatasetCreateCmd(e *env) *cobra.Command {
	var desc string
	cmd := &cobra.Command{
		Use:     "create NAME [-d DESCRIPTION]",
		Short:   "Create an empty dataset",
		Example: "  plumb dataset create support/golden -d \"refund questions with agreed answers\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := store.CheckDatasetName(name); err != nil {
				return usageErr("%v", err)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).CreateDataset(cmd.Context(),
				store.DefaultProjectID, name, desc); err != nil {
				return datasetStoreErr(err, name)
			}
			fmt.Fprintf(e.stdout, "dataset %s created: import items with `plumb dataset import %s FILE`\n", name, name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&desc, "description", "d", "", "what the dataset is for")
	return cmd
}

// maxNearGroupsShown bounds the near-duplicate groups import lists.
const maxNearGroupsShown = 10

func newDatasetImportCmd(e *env) *cobra.Command {
	var format, mapping, message string
	var replace bool
	cmd := &cobra.Command{
		Use:   "import NAME FILE [--format jsonl|csv|json] [--map TARGET=FIELD,...] [-m MESSAGE] [--replace]",
		Short: "Import items from FILE as the next version of the dataset NAME",
		Long: `Import the items of FILE (JSONL, CSV with a header row, or a JSON array of objects) as
the next version of NAME: the previous version's items plus these, or these alone with
--replace. Exact duplicates (same vars and expected output) are skipped; near-duplicates
(the same text once lower-cased, without punctuation and extra space) are kept and listed.

By default expected or expected_output is the expected output, metadata.NAME and
segment.NAME (or metadata and segment objects) go there, source, consent and consent_basis
are the provenance and consent, and every other field is an input var. --map changes that:
TARGET=FIELD with TARGET one of expected, vars.NAME, metadata.NAME, segment.NAME, source,
consent, consent_basis or ignore.`,
		Example: "  plumb dataset import support/golden tickets.csv --map expected=answer,vars.question=q,segment.locale=lang -m \"March tickets\"",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, file := args[0], args[1]
			m, err := dataset.ParseMapping(mapping)
			if err != nil {
				return usageErr("--map: %v", err)
			}
			if format == "" {
				if format, err = dataset.DetectFormat(file); err != nil {
					return usageErr("%v", err)
				}
			} else if err := dataset.CheckFormat(format); err != nil {
				return usageErr("--format: %v", err)
			}
			f, err := os.Open(file)
			if err != nil {
				return usageErr("read the dataset file: %v", err)
			}
			defer f.Close()
			items, err := dataset.Read(f, file, format, m)
			if err != nil {
				var es dataset.Errors
				if errors.As(err, &es) && len(es) > 1 {
					return usageErr("%v\n%s in %s; nothing was imported", err, count(len(es), "problem"), file)
				}
				return usageErr("%v", err)
			}
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				// AddItems drops exact duplicates (the first kept) and finds near-duplicates.
				v, stats, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).AddItems(cmd.Context(), ds.ID, items, message, replace)
				if err != nil {
					if errors.Is(err, store.ErrInvalid) {
						return usageErr("%s: %v", file, err)
					}
					return err
				}
				fmt.Fprintf(e.stdout, "read %s from %s\n", count(len(items), "item"), file)
				fmt.Fprintf(e.stdout, "added: %d\nduplicates skipped: %d\n", stats.Added, stats.Duplicates)
				if replace {
					fmt.Fprintf(e.stdout, "removed: %d\n", stats.Removed)
				}
				fmt.Fprintf(e.stdout, "near-duplicate groups: %d\n", len(stats.NearGroups))
				for i, g := range stats.NearGroups {
					if i == maxNearGroupsShown {
						fmt.Fprintf(e.stdout, "  ... and %d more groups\n", len(stats.NearGroups)-i)
						break
					}
					fmt.Fprintf(e.stdout, "  %s %s\n", file, dataset.Places(items, g))
				}
				if stats.Created {
					fmt.Fprintf(e.stdout, "%s version %d: %s\n", name, v.Version, count(v.ItemCount, "item"))
				} else {
					fmt.Fprintf(e.stdout, "%s version %d unchanged: nothing new in %s\n", name, v.Version, file)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "jsonl, csv or json (default: from the file's extension)")
	cmd.Flags().StringVar(&mapping, "map", "", "where fields go: TARGET=FIELD,... (see above)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "what this version adds and why")
	cmd.Flags().BoolVar(&replace, "replace", false, "make the version of these items only, not the previous ones plus these")
	return cmd
}

func newDatasetExportCmd(e *env) *cobra.Command {
	var format, out string
	var version int
	cmd := &cobra.Command{
		Use:     "export NAME [--version N] [-o FILE] [--format jsonl|csv|json]",
		Short:   "Write a version of a dataset (default: the latest) as JSONL, CSV or JSON",
		Example: "  plumb dataset export support/golden --version 3 -o golden-v3.csv",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			switch {
			case format != "":
				if err := dataset.CheckFormat(format); err != nil {
					return usageErr("--format: %v", err)
				}
			case out != "":
				var err error
				if format, err = dataset.DetectFormat(out); err != nil {
					return usageErr("%v", err)
				}
			default:
				format = dataset.FormatJSONL
			}
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				var items []dataset.Item
				cursor := ""
				for {
					page, next, err := st.ListItems(cmd.Context(), ds.ID, version, cursor, store.MaxPageSize)
					if err != nil {
						return datasetStoreErr(err, name)
					}
					items = append(items, page...)
					if next == "" {
						break
					}
					cursor = next
				}
				var w io.Writer = e.stdout
				if out != "" {
					f, err := os.Create(out)
					if err != nil {
						return usageErr("-o: %v", err)
					}
					defer f.Close()
					w = f
				}
				if err := dataset.Write(w, format, items); err != nil {
					return fmt.Errorf("export %s: %w", name, err)
				}
				if out != "" {
					fmt.Fprintf(e.stdout, "wrote %s to %s\n", count(len(items), "item"), out)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "jsonl, csv or json (default: from -o's extension, else jsonl)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().IntVar(&version, "version", 0, "the version to export (default: the latest)")
	return cmd
}

func newDatasetListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the datasets with their latest version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.ListDatasets(cmd.Context(), store.DefaultProjectID)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(e.stdout, "no datasets yet: create one with `plumb dataset create NAME`")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tITEMS\tDESCRIPTION")
			for _, ds := range list {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", ds.Name, ds.LatestVersion, ds.ItemCount, ds.Description)
			}
			return tw.Flush()
		},
	}
}

func newDatasetShowCmd(e *env) *cobra.Command {
	var version, items int
	cmd := &cobra.Command{
		Use:   "show NAME [--version N] [--items N]",
		Short: "Show a dataset's versions and the first items of a version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return withDataset(cmd, e, name, func(st store.Store, ds store.Dataset) error {
				vs, err := st.DatasetVersions(cmd.Context(), ds.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "dataset %s", ds.Name)
				if ds.Description != "" {
					fmt.Fprintf(e.stdout, ": %s", ds.Description)
				}
				fmt.Fprintln(e.stdout)
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tITEMS\tCREATED\tMESSAGE")
				for _, v := range vs {
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", v.Version, v.ItemCount, v.CreatedAt.Format("2006-01-02 15:04"), v.Message)
				}
				tw.Flush()
				if len(vs) == 0 {
					return nil
				}
				if items < 0 {
					return usageErr("--items %d: give how many items to show, or 0 for all of them", items)
				}
				shown := version
				if shown == 0 {
					shown = vs[0].Version
				}
				if items == 0 {
					fmt.Fprintf(e.stdout, "\nitems of version %d:\n", shown)
				} else {
					fmt.Fprintf(e.stdout, "\nfirst items of version %d:\n", shown)
				}
				cursor, left := "", items
				for {
					limit := store.MaxPageSize
					if items > 0 {
						limit = min(left, store.MaxPageSize)
					}
					page, next, err := st.ListItems(cmd.Context(), ds.ID, version, cursor, limit)
					if err != nil {
						return datasetStoreErr(err, name)
					}
					for _, it := range page {
						vars, _ := dataset.CanonicalJSON(it.Vars)
						fmt.Fprintf(e.stdout, "  #%d %s -> %q\n", it.ID, clip(vars, 100), clip(it.Expected, 60))
					}
					left -= len(page)
					if next == "" || (items > 0 && left <= 0) {
						return nil
					}
					cursor = next
				}
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "the version whose items to show (default: the latest)")
	cmd.Flags().IntVar(&items, "items", 10, "how many items to show, with their ids (0: all of them)")
	return cmd
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
