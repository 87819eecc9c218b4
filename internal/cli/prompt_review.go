package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/promptdiff"
	"github.com/plumbhq/plumb/internal/store"
)

// reviewVersion names the version a label pointed at, for messages and tables.
func reviewVersion(v *int) string {
	if v == nil {
		return "no version"
	}
	return "version " + strconv.Itoa(*v)
}

// reviewErr turns the store's refusals of review commands into usage errors (exit 2).
func reviewErr(err error, id int64) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && strings.HasPrefix(err.Error(), "review request"):
		return usageErr("no review request #%d in the store (list them with `plumb prompt review list --status all`)", id)
	case errors.Is(err, store.ErrNotAllowed), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalid),
		errors.Is(err, store.ErrNotFound):
		return usageErr("%v", err)
	}
	return err
}

// parseReviewID reads a review request's number.
func parseReviewID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id < 1 {
		return 0, usageErr("review request %q: give its number, e.g. 12 (list them with `plumb prompt review list`)", s)
	}
	return id, nil
}

func newPromptRollbackCmd(e *env) *cobra.Command {
	var author, reason string
	cmd := &cobra.Command{
		Use:   "rollback NAME LABEL [-m REASON]",
		Short: "Move a label back to the version it pointed at before its latest move",
		Long: `Move LABEL of the prompt NAME back to the version it pointed at before its latest move
(see plumb prompt history NAME LABEL), with the reason given with -m, kept in the history and
the audit log. A protected label rolls back without a new review: the version it returns to
was released before. Rolling back twice returns to where it was.`,
		Example: "  plumb prompt rollback support/triage production -m \"answers got rude\"",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, label := args[0], args[1]
			if err := store.CheckPromptName(name); err != nil {
				return usageErr("%v", err)
			}
			if err := store.CheckPromptLabel(label); err != nil {
				return usageErr("%v", err)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			m, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).RollbackPromptLabel(cmd.Context(),
				store.DefaultProjectID, name, label, promptAuthor(e, author), reason)
			if errors.Is(err, store.ErrConflict) {
				return usageErr("%v", err)
			}
			if err != nil {
				return promptStoreErr(err, name)
			}
			printMove(e, m, "rolled back")
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "who rolls back (default $USER)")
	cmd.Flags().StringVarP(&reason, "message", "m", "", "why, kept in the history and the audit log")
	return cmd
}

func newPromptHistoryCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history NAME [LABEL] [--json]",
		Short: "Show the moves of a prompt's labels, newest first",
		Long: `Show every move of the labels of the prompt NAME (of LABEL only, if given), newest first:
from which version to which, how (move, force, review, rollback), by whom, when and why.`,
		Example: "  plumb prompt history support/triage production",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, label := args[0], ""
			if len(args) == 2 {
				label = args[1]
				if err := store.CheckPromptLabel(label); err != nil {
					return usageErr("%v", err)
				}
			}
			if err := store.CheckPromptName(name); err != nil {
				return usageErr("%v", err)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			moves, err := st.PromptLabelHistory(cmd.Context(), store.DefaultProjectID, name, label)
			if err != nil {
				return promptStoreErr(err, name)
			}
			if asJSON {
				if moves == nil {
					moves = []store.PromptLabelMove{}
				}
				return writeIndentedJSON(e, moves)
			}
			if len(moves) == 0 {
				fmt.Fprintf(e.stdout, "No label of %s has moved yet.\n", name)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLABEL\tFROM\tTO\tHOW\tBY\tAT\tREASON")
			for _, m := range moves {
				from := "-"
				if m.FromVersion != nil {
					from = strconv.Itoa(*m.FromVersion)
				}
				how := m.Kind
				if m.ReviewID != nil {
					how = fmt.Sprintf("review #%d", *m.ReviewID)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", m.ID, m.Label, from, m.ToVersion, how, m.Actor,
					m.At.Local().Format("2006-01-02 15:04"), oneLine(m.Reason, 60))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the moves as JSON")
	return cmd
}

func newPromptProtectCmd(e *env) *cobra.Command {
	var none bool
	cmd := &cobra.Command{
		Use:   "protect [LABEL...] [--none]",
		Short: "Show or set the labels that move only through an approved review",
		Long: `Without arguments, print the protected labels (production by default). With labels, make
them the protected ones (replacing the list); with --none, protect no label. A protected label
moves only when a review request for the move is approved by a person other than the
version's author and the requester, or by a rollback.`,
		Example: "  plumb prompt protect\n  plumb prompt protect production staging\n  plumb prompt protect --none",
		RunE: func(cmd *cobra.Command, args []string) error {
			if none && len(args) > 0 {
				return usageErr("--none protects no label: give labels or --none, not both")
			}
			for _, l := range args {
				if err := store.CheckPromptLabel(l); err != nil {
					return usageErr("%v", err)
				}
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			var labels []string
			if len(args) > 0 || none {
				labels, err = st.WithAudit(store.Actor{Type: store.ActorSystem}).SetProtectedLabels(cmd.Context(), store.DefaultProjectID, args)
			} else {
				labels, err = st.ProtectedLabels(cmd.Context(), store.DefaultProjectID)
			}
			if err != nil {
				return promptStoreErr(err, "")
			}
			if len(labels) == 0 {
				fmt.Fprintln(e.stdout, "No label is protected: every label moves with plumb prompt label.")
				return nil
			}
			fmt.Fprintf(e.stdout, "protected: %s\n", strings.Join(labels, " "))
			return nil
		},
	}
	cmd.Flags().BoolVar(&none, "none", false, "protect no label")
	return cmd
}

func newPromptReviewCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Review before release: request, discuss, approve or reject a move of a protected label",
		Long: `A protected label (production by default; see plumb prompt protect) moves only through a
review request: someone asks to point it at a version, people comment, and a person who
neither wrote that version nor asked approves it, which moves the label at once, or rejects
it. A request whose label moved since it was opened is stale: approving it fails; request
the release again. Who you are is --author, else $USER.`,
	}
	cmd.AddCommand(newReviewListCmd(e), newReviewShowCmd(e), newReviewRequestCmd(e), newReviewDecideCmd(e, true),
		newReviewDecideCmd(e, false), newReviewCommentCmd(e))
	return cmd
}

func newReviewListCmd(e *env) *cobra.Command {
	var status, prompt string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--status open|approved|rejected|superseded|all] [--prompt NAME] [--json]",
		Short: "List review requests, newest first (open ones by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.PromptReviewFilter{Status: status, Prompt: prompt, Limit: store.MaxPageSize}
			if status == "all" {
				f.Status = ""
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			rs, err := st.ListPromptReviews(cmd.Context(), store.DefaultProjectID, f)
			if errors.Is(err, store.ErrInvalid) {
				return usageErr("--status: %v (or all)", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				if rs == nil {
					rs = []store.PromptReview{}
				}
				return writeIndentedJSON(e, rs)
			}
			if len(rs) == 0 {
				if f.Status == "" {
					fmt.Fprintln(e.stdout, "No review requests.")
				} else {
					fmt.Fprintf(e.stdout, "No %s review requests.\n", f.Status)
				}
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPROMPT\tLABEL\tFROM\tTO\tSTATUS\tREQUESTED BY\tOPENED")
			for _, r := range rs {
				from := "-"
				if r.BaseVersion != nil {
					from = strconv.Itoa(*r.BaseVersion)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Prompt, r.Label, from, r.Version, reviewStatus(r),
					r.Requester, r.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", store.ReviewOpen, "open, approved, rejected, superseded or all")
	cmd.Flags().StringVar(&prompt, "prompt", "", "only this prompt's requests")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the requests as JSON")
	return cmd
}

// reviewStatus is a request's status, with stale for an open one that can no longer be
// approved.
func reviewStatus(r store.PromptReview) string {
	if r.Stale {
		return "open (stale)"
	}
	return r.Status
}

func newReviewShowCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show a review request: the move, the diff it would release, and its thread",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseReviewID(args[0])
			if err != nil {
				return err
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			r, err := st.GetPromptReview(ctx, store.DefaultProjectID, id)
			if err != nil {
				return reviewErr(err, id)
			}
			if asJSON {
				return writeIndentedJSON(e, r)
			}
			fmt.Fprintf(e.stdout, "review #%d: %s of %s → version %d\n", r.ID, r.Label, r.Prompt, r.Version)
			fmt.Fprintf(e.stdout, "version author: %s\n", r.VersionAuthor)
			fmt.Fprintf(e.stdout, "requester: %s, at %s\n", r.Requester, r.CreatedAt.Local().Format("2006-01-02 15:04"))
			fmt.Fprintf(e.stdout, "status: %s\n", reviewStatus(r))
			fmt.Fprintf(e.stdout, "the label was at %s when requested, it is at %s\n", reviewVersion(r.BaseVersion), reviewVersion(r.CurrentVersion))
			if r.Description != "" {
				fmt.Fprintf(e.stdout, "\n%s\n", r.Description)
			}
			// The diff a reviewer must read: from where the label is now to the version asked.
			to, err := st.GetPromptVersion(ctx, store.DefaultProjectID, r.Prompt, strconv.Itoa(r.Version))
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout)
			if r.CurrentVersion == nil {
				fmt.Fprint(e.stdout, promptdiff.Added(r.Prompt, to, 3).Unified)
			} else {
				from, err := st.GetPromptVersion(ctx, store.DefaultProjectID, r.Prompt, strconv.Itoa(*r.CurrentVersion))
				if err != nil {
					return err
				}
				fmt.Fprint(e.stdout, promptdiff.Versions(r.Prompt, from, to, 3).Unified)
			}
			if len(r.Comments) > 0 {
				fmt.Fprintln(e.stdout)
			}
			for _, c := range r.Comments {
				what := "commented"
				switch c.Kind {
				case "approve":
					what = "approved"
				case "reject":
					what = "rejected"
				}
				fmt.Fprintf(e.stdout, "%s %s at %s", c.Author, what, c.CreatedAt.Local().Format("2006-01-02 15:04"))
				if c.Body != "" {
					fmt.Fprintf(e.stdout, ":\n  %s", strings.ReplaceAll(c.Body, "\n", "\n  "))
				}
				fmt.Fprintln(e.stdout)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the request and its thread as JSON")
	return cmd
}

func newReviewRequestCmd(e *env) *cobra.Command {
	var author, description string
	cmd := &cobra.Command{
		Use:     "request NAME VERSION [LABEL] [-m DESCRIPTION]",
		Short:   "Ask for a label (production by default) to point at a version",
		Example: "  plumb prompt review request support/triage 4 -m \"shorter answers; eval run 8f2c passes\"",
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, label := args[0], "production"
			if len(args) == 3 {
				label = args[2]
			}
			version, err := strconv.Atoi(args[1])
			if err != nil || version < 1 {
				return usageErr("version %q: give a version number, e.g. 3 (see them with `plumb prompt list`)", args[1])
			}
			if err := store.CheckPromptName(name); err != nil {
				return usageErr("%v", err)
			}
			if err := store.CheckPromptLabel(label); err != nil {
				return usageErr("%v", err)
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).RequestPromptReview(cmd.Context(),
				store.DefaultProjectID, name, label, version, promptAuthor(e, author), description)
			if err != nil {
				if errors.Is(err, store.ErrConflict) {
					return usageErr("%v", err)
				}
				return promptStoreErr(err, name)
			}
			fmt.Fprintf(e.stdout, "review request #%d opened: %s of %s → version %d (now at %s)\n", r.ID, label, name, version, reviewVersion(r.BaseVersion))
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "who asks (default $USER)")
	cmd.Flags().StringVarP(&description, "message", "m", "", "what the release changes and why, for the reviewers")
	return cmd
}

func newReviewDecideCmd(e *env, approve bool) *cobra.Command {
	var author, comment string
	use, short := "approve ID [-m COMMENT]", "Approve a review request: its label moves at once"
	if !approve {
		use, short = "reject ID -m REASON", "Reject a review request, saying why"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `. Neither the author of the version to release nor the requester may decide;
a request whose label moved since it was opened cannot be approved (request it again).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseReviewID(args[0])
			if err != nil {
				return err
			}
			if !approve && strings.TrimSpace(comment) == "" {
				return usageErr("say why with -m REASON, so that the requester can act on it")
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).DecidePromptReview(cmd.Context(),
				store.DefaultProjectID, id, approve, promptAuthor(e, author), comment)
			if err != nil {
				return reviewErr(err, id)
			}
			if approve {
				fmt.Fprintf(e.stdout, "review #%d approved: %s of %s now at version %d\n", r.ID, r.Label, r.Prompt, r.Version)
			} else {
				fmt.Fprintf(e.stdout, "review #%d rejected: %s of %s stays at %s\n", r.ID, r.Label, r.Prompt, reviewVersion(r.CurrentVersion))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "who decides (default $USER)")
	cmd.Flags().StringVarP(&comment, "message", "m", "", "the decision's comment (required to reject)")
	return cmd
}

func newReviewCommentCmd(e *env) *cobra.Command {
	var author, body string
	cmd := &cobra.Command{
		Use:   "comment ID -m TEXT",
		Short: "Add a comment to a review request's thread",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseReviewID(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(body) == "" {
				return usageErr("give the comment with -m TEXT")
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).CommentPromptReview(cmd.Context(),
				store.DefaultProjectID, id, promptAuthor(e, author), body); err != nil {
				return reviewErr(err, id)
			}
			fmt.Fprintf(e.stdout, "commented on review #%d\n", id)
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "who comments (default $USER)")
	cmd.Flags().StringVarP(&body, "message", "m", "", "the comment")
	return cmd
}
