package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"

	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// newApprovalsCmd is the tool approval queue on the local store (--db), in a project
// (--project, default the default project), audited as the system with the approver named
// by --as.
func newApprovalsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "Tool calls held for human approval: list, show, approve, edit, reject; check a tool policy",
		Long: `A route's tool policy (tools: in gateway.yaml, or a standalone file for plumb serve
--tool-policy) holds calls to irreversible tools for a person's decision. These commands work on
the store (--db), in the project --project names (slug or id); the approver, named with --as,
must not be the call's requester nor the user the agent acted for (by e-mail, or by the user
id of that e-mail). A plumb serve --approval-webhook on the same store sends a decision made
here to its webhook at its next sweep (within about a minute). See docs/approvals.md.`,
	}
	var project string
	cmd.PersistentFlags().StringVar(&project, "project", store.DefaultProjectSlug, "project slug or id")
	cmd.AddCommand(newApprovalsListCmd(e, &project), newApprovalsShowCmd(e, &project),
		newApprovalsDecideCmd(e, &project, store.DecisionApprove), newApprovalsDecideCmd(e, &project, store.DecisionReject),
		newApprovalsDecideCmd(e, &project, store.DecisionEdit), newApprovalsCheckCmd(e))
	return cmd
}

// openProject opens the store and finds the project --project names, by slug or id;
// an unknown project is a usage error, never an empty queue.
func openProject(cmd *cobra.Command, e *env, ref string) (store.Store, string, error) {
	st, err := openStore(cmd, e)
	if err != nil {
		return nil, "", err
	}
	p, err := st.GetProject(cmd.Context(), ref)
	if err != nil {
		st.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, "", usageErr("--project %q: no such project: give a project's slug or id (the default project is %q)", ref, store.DefaultProjectSlug)
		}
		return nil, "", err
	}
	return st, p.ID, nil
}

func approvalStoreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotAllowed):
		return usageErr("%s", strings.TrimPrefix(err.Error(), "invalid: "))
	}
	return err
}

func parseApprovalID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id < 1 {
		return 0, usageErr("approval %q: give its number, e.g. 12 (plumb approvals list shows them)", s)
	}
	return id, nil
}

func newApprovalsListCmd(e *env, project *string) *cobra.Command {
	var status, tool, format string
	cmd := &cobra.Command{
		Use:     "list [--status pending|approved|rejected|expired|all] [--tool NAME] [--format text|json]",
		Short:   "List held tool calls, newest first (default: pending)",
		Example: "  plumb approvals list\n  plumb approvals list --status all --tool make_payment",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			st, projectID, err := openProject(cmd, e, *project)
			if err != nil {
				return err
			}
			defer st.Close()
			as, err := st.ListApprovals(cmd.Context(), projectID, store.ApprovalFilter{Status: status, Tool: tool, Limit: store.MaxPageSize})
			if err != nil {
				return approvalStoreErr(err)
			}
			if format == "json" {
				if as == nil {
					as = []store.Approval{}
				}
				return writeJSONOut(e, as)
			}
			if len(as) == 0 {
				fmt.Fprintf(e.stdout, "no %s approvals\n", status)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTOOL\tRULE\tREQUESTER\tEXPIRES\tHASH")
			for _, a := range as {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.Tool, a.Rule, a.Requester,
					a.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), a.ArgsHash[:12])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", store.ApprovalPending, "pending, approved, rejected, expired or all")
	cmd.Flags().StringVar(&tool, "tool", "", "only calls of this tool")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func writeJSONOut(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printApproval(e *env, a store.Approval) {
	fmt.Fprintf(e.stdout, "approval #%d: %s\n", a.ID, a.Status)
	fmt.Fprintf(e.stdout, "  tool:       %s (call %s)\n", a.Tool, a.CallID)
	fmt.Fprintf(e.stdout, "  arguments:  %s\n", a.Args)
	fmt.Fprintf(e.stdout, "  sha256:     %s\n", a.ArgsHash)
	fmt.Fprintf(e.stdout, "  rule:       %s: %s\n", a.Rule, a.RuleReason)
	fmt.Fprintf(e.stdout, "  requester:  %s\n", a.Requester)
	if a.OnBehalfOf != "" {
		fmt.Fprintf(e.stdout, "  for user:   %s\n", a.OnBehalfOf)
	}
	fmt.Fprintf(e.stdout, "  expires:    %s\n", a.ExpiresAt.UTC().Format(time.RFC3339))
	if a.Decision != "" {
		if a.Reason == "" {
			fmt.Fprintf(e.stdout, "  decision:   %s by %s (no reason given)\n", a.Decision, a.Approver)
		} else {
			fmt.Fprintf(e.stdout, "  decision:   %s by %s: %s\n", a.Decision, a.Approver, a.Reason)
		}
	}
	if a.ApprovedHash != "" && a.ApprovedHash != a.ArgsHash {
		fmt.Fprintf(e.stdout, "  approved:   %s\n  sha256:     %s\n", a.ApprovedArgs, a.ApprovedHash)
	}
	if a.Outcome != "" {
		fmt.Fprintf(e.stdout, "  outcome:    %s %s\n", a.Outcome, a.OutcomeDetail)
	}
}

func newApprovalsShowCmd(e *env, project *string) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a held call: tool, canonical arguments, hash, rule, requester, expiry, decision",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseApprovalID(args[0])
			if err != nil {
				return err
			}
			st, projectID, err := openProject(cmd, e, *project)
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := st.GetApproval(cmd.Context(), projectID, id)
			if err != nil {
				return approvalStoreErr(err)
			}
			printApproval(e, a)
			return nil
		},
	}
}

func newApprovalsDecideCmd(e *env, project *string, decision string) *cobra.Command {
	var as, reason, argsText string
	use := map[string]string{
		store.DecisionApprove: "approve ID --as EMAIL [--reason TEXT]",
		store.DecisionReject:  "reject ID --as EMAIL --reason TEXT",
		store.DecisionEdit:    "edit ID --as EMAIL --reason TEXT --arguments JSON",
	}[decision]
	cmd := &cobra.Command{
		Use:   use,
		Short: map[string]string{store.DecisionApprove: "Approve a held call as it is", store.DecisionReject: "Reject a held call, with a reason", store.DecisionEdit: "Approve a held call with other arguments (checked against its rule), with a reason"}[decision],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseApprovalID(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(as) == "" {
				return usageErr("--as: name who decides (an email): the decision and the audit log record it")
			}
			as = strings.TrimSpace(as)
			if addr, err := mail.ParseAddress(as); err != nil || addr.Address != as {
				return usageErr("--as %q is not an email address: write it bare, as name@example.com", as)
			}
			st, projectID, err := openProject(cmd, e, *project)
			if err != nil {
				return err
			}
			defer st.Close()
			d := store.ApprovalDecision{Decision: decision, Approver: as, Reason: reason}
			// The agent may have named the user it acted for by their id: a user of the
			// store is refused under either name, as the API refuses them.
			u, err := st.GetUserByEmail(cmd.Context(), as)
			switch {
			case err == nil:
				d.ApproverIDs = []string{u.ID}
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			if decision == store.DecisionEdit {
				if argsText == "" {
					return usageErr("--arguments: give the new arguments as a JSON object")
				}
				a, err := st.GetApproval(cmd.Context(), projectID, id)
				if err != nil {
					return approvalStoreErr(err)
				}
				if d.Args, d.ArgsHash, err = toolpolicy.CheckEdit(json.RawMessage(a.RuleSpec), a.Tool, argsText); err != nil {
					return usageErr("--arguments: %v", err)
				}
			}
			a, err := system(st).DecideApproval(cmd.Context(), projectID, id, d)
			if err != nil {
				return approvalStoreErr(err)
			}
			printApproval(e, a)
			return nil
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who decides (email); not the requester")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required to reject or edit)")
	if decision == store.DecisionEdit {
		cmd.Flags().StringVar(&argsText, "arguments", "", "the arguments to approve instead, a JSON object")
	}
	return cmd
}

func newApprovalsCheckCmd(e *env) *cobra.Command {
	var policyPath string
	cmd := &cobra.Command{
		Use:     "check --policy FILE TOOL [ARGUMENTS_JSON]",
		Short:   "Say what a tool policy does with a call (allow, deny, approve), with the canonical arguments and hash",
		Example: `  plumb approvals check --policy tools.yaml make_payment '{"amount": 250, "to": "acme"}'`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageErr("give the tool's name and, if it takes any, the call's arguments as one JSON object: plumb approvals check --policy FILE TOOL '{\"amount\": 250}'")
			case len(args) > 2:
				return usageErr("%d arguments after the tool's name: give the call's arguments as one JSON object, quoted: plumb approvals check --policy FILE %s '{\"amount\": 250}'", len(args)-1, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyPath == "" {
				return usageErr("--policy: give the tool policy file (tools: {allow, deny, approve})")
			}
			p, err := toolpolicy.Load(policyPath)
			if err != nil {
				return err // config.Errors: every mistake at file:line:col, exit 2
			}
			argText := ""
			if len(args) == 2 {
				argText = args[1]
			}
			d := p.Evaluate(args[0], argText)
			fmt.Fprintf(e.stdout, "%s", d.Action)
			if d.Rule != "" {
				fmt.Fprintf(e.stdout, " (%s)", d.Rule)
			}
			fmt.Fprintln(e.stdout)
			if d.Reason != "" {
				fmt.Fprintf(e.stdout, "  %s\n", d.Reason)
			}
			if d.Hash != "" {
				fmt.Fprintf(e.stdout, "  arguments: %s\n  sha256:    %s\n", d.Args, d.Hash)
			}
			if d.Action == toolpolicy.ActionDeny {
				return errFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&policyPath, "policy", "", "tool policy file")
	return cmd
}

// approvalServeConfig reads plumb serve's approval flags: the tool policy file, and the
// webhook, whose secret comes from PLUMB_APPROVAL_WEBHOOK_SECRET.
func approvalServeConfig(e *env, policyPath, webhookURL string) (*toolpolicy.Policy, *server.ApprovalWebhook, error) {
	var p *toolpolicy.Policy
	if policyPath != "" {
		var err error
		if p, err = toolpolicy.Load(policyPath); err != nil {
			return nil, nil, usageErr("--tool-policy: %v", err)
		}
	}
	if webhookURL == "" {
		return p, nil, nil
	}
	if !strings.HasPrefix(webhookURL, "http://") && !strings.HasPrefix(webhookURL, "https://") {
		return nil, nil, usageErr("--approval-webhook %q: give an http(s) URL", webhookURL)
	}
	secret := e.getenv("PLUMB_APPROVAL_WEBHOOK_SECRET")
	if len(secret) < 16 {
		return nil, nil, usageErr("--approval-webhook: export PLUMB_APPROVAL_WEBHOOK_SECRET (at least 16 characters): decisions are signed with it")
	}
	return p, &server.ApprovalWebhook{URL: webhookURL, Secret: []byte(secret)}, nil
}

// noApprovals stands in for the store when `plumb gateway --check` builds the gateway
// without one.
type noApprovals struct{}

func (noApprovals) CreateApproval(context.Context, string, store.NewApproval) (store.Approval, error) {
	return store.Approval{}, errors.New("no store")
}

// expireApprovals marks pending approvals past their expiry as expired, and sends to the
// approval webhook every decision whose notice is due (expiries, decisions made with the
// CLI in another process, deliveries that failed), every minute.
func expireApprovals(ctx context.Context, api *server.Server, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if n, err := api.ExpireApprovals(ctx); err != nil && ctx.Err() == nil {
			log.Error("expire approvals", "err", err)
		} else if n > 0 {
			log.Info("approvals expired", "count", n)
		}
		if n, err := api.SendApprovalNotices(ctx); err != nil && ctx.Err() == nil {
			log.Error("approval webhook: read the notices due", "err", err)
		} else if n > 0 {
			log.Info("approval webhook: sending decisions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
