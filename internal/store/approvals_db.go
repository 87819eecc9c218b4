package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// approvalSelect reads an approval.
const approvalSelect = `SELECT id, tool, call_id, arguments, arguments_hash, rule, rule_reason, rule_spec,
	requester, on_behalf_of, route, trace_id, scope, status, decision, approver, reason, approved_arguments,
	approved_arguments_hash, outcome, outcome_detail, expires_at, decided_at, outcome_at, created_at
	FROM tool_approvals`

func scanApproval(r rowScanner) (Approval, error) {
	var a Approval
	var exp, decided, outAt, created timeCol
	err := r.Scan(&a.ID, &a.Tool, &a.CallID, &a.Args, &a.ArgsHash, &a.Rule, &a.RuleReason, &a.RuleSpec,
		&a.Requester, &a.OnBehalfOf, &a.Route, &a.TraceID, &a.Scope, &a.Status, &a.Decision, &a.Approver, &a.Reason,
		&a.ApprovedArgs, &a.ApprovedHash, &a.Outcome, &a.OutcomeDetail, &exp, &decided, &outAt, &created)
	a.ExpiresAt, a.DecidedAt, a.OutcomeAt, a.CreatedAt = exp.T, decided.ptr(), outAt.ptr(), created.T
	return a, err
}

// seen is the approval as a reader sees it now: pending past its expiry reads as expired.
func (a *accounts) seen(ap Approval) Approval {
	if ap.Status == ApprovalPending && !a.now().Before(ap.ExpiresAt) {
		ap.Status = ApprovalExpired
	}
	return ap
}

func getApproval(ctx context.Context, d db, projectID string, id int64) (Approval, error) {
	ap, err := scanApproval(d.queryRow(ctx, approvalSelect+` WHERE project_id = ? AND id = ?`, projectID, id))
	if errors.Is(err, errNoRows) {
		return ap, fmt.Errorf("approval #%d %w", id, ErrNotFound)
	}
	if err != nil {
		return ap, fmt.Errorf("get approval #%d: %w", id, err)
	}
	return ap, nil
}

var hashRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// approvalAudit is an approval as its audit entries show it: everything but the rule's
// spec.
type approvalAudit struct {
	Approval
	Refused string `json:"refused,omitempty"` // a refused outcome: why
}

// CreateApproval implements Approvals.
func (a *accounts) CreateApproval(ctx context.Context, projectID string, n NewApproval) (Approval, error) {
	for _, f := range []struct{ what, v string }{{"tool", n.Tool}, {"call_id", n.CallID}, {"rule", n.Rule}, {"requester", n.Requester}} {
		if err := checkText(f.what, f.v, 200); err != nil {
			return Approval{}, err
		}
	}
	if n.Args == "" || len(n.Args) > 1<<20 {
		return Approval{}, invalid("arguments must be canonical JSON of at most 1 MiB")
	}
	if !hashRe.MatchString(n.ArgsHash) {
		return Approval{}, invalid("arguments_hash must be the SHA-256 of the arguments in lower-case hex")
	}
	if !n.ExpiresAt.After(a.now()) {
		return Approval{}, invalid("the approval expires at %s, which has passed", n.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	var out Approval
	err := a.db.inTx(ctx, func(d db) error {
		if d.driver() == DriverPostgres { // one request of a project at a time, so that a retry sent at once finds the first
			if _, err := d.exec(ctx, `SELECT 1 FROM projects WHERE id = ? FOR UPDATE`, projectID); err != nil {
				return fmt.Errorf("create approval: %w", err)
			}
		}
		prev, err := scanApproval(d.queryRow(ctx, approvalSelect+` WHERE project_id = ? AND call_id = ?
			AND status <> 'expired' AND (status <> 'pending' OR expires_at > ?) ORDER BY id DESC LIMIT 1`,
			projectID, n.CallID, storedTime(a.now())))
		switch {
		case err == nil && prev.ArgsHash == n.ArgsHash:
			out = prev // a retry of the same call: its approval, not a second one
			return nil
		case err == nil:
			return refuse(ErrConflict, fmt.Sprintf("call_id %q is approval #%d, held with other arguments (sha256 %s, not %s): give each tool call its own id",
				n.CallID, prev.ID, prev.ArgsHash, n.ArgsHash))
		case !errors.Is(err, errNoRows):
			return fmt.Errorf("create approval: %w", err)
		}
		var id int64
		err = d.writeRow(ctx, `INSERT INTO tool_approvals (project_id, tool, call_id, arguments, arguments_hash, rule,
			rule_reason, rule_spec, requester, on_behalf_of, route, trace_id, scope, status, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'once', ?, ?, ?) RETURNING id`,
			projectID, n.Tool, n.CallID, n.Args, n.ArgsHash, n.Rule, n.RuleReason, n.RuleSpec, n.Requester, n.OnBehalfOf,
			n.Route, n.TraceID, ApprovalPending, storedTime(n.ExpiresAt), a.stamp()).Scan(&id)
		if d.isForeignKey(err) {
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("create approval: %w", err)
		}
		if out, err = getApproval(ctx, d, projectID, id); err != nil {
			return err
		}
		return a.record(ctx, d, projectID, "approval.request", "approval", itoa64(id), nil, approvalAudit{Approval: out})
	})
	return out, err
}

func itoa64(n int64) string { return fmt.Sprint(n) }

// GetApproval implements Approvals.
func (a *accounts) GetApproval(ctx context.Context, projectID string, id int64) (Approval, error) {
	ap, err := getApproval(ctx, a.db, projectID, id)
	return a.seen(ap), err
}

// ListApprovals implements Approvals.
func (a *accounts) ListApprovals(ctx context.Context, projectID string, f ApprovalFilter) ([]Approval, error) {
	q := approvalSelect + ` WHERE project_id = ?`
	args := []any{projectID}
	now := storedTime(a.now())
	switch f.Status {
	case "", "all":
	case ApprovalPending:
		q += ` AND status = 'pending' AND expires_at > ?`
		args = append(args, now)
	case ApprovalExpired:
		q += ` AND (status = 'expired' OR (status = 'pending' AND expires_at <= ?))`
		args = append(args, now)
	case ApprovalApproved, ApprovalRejected:
		q += ` AND status = ?`
		args = append(args, f.Status)
	default:
		return nil, invalid("approval status %q: use pending, approved, rejected, expired or all", f.Status)
	}
	if f.Tool != "" {
		q += ` AND tool = ?`
		args = append(args, f.Tool)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	args = append(args, pageSize(f.Limit))
	rows, err := a.db.query(ctx, q+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	out, err := collect(rows, "list approvals", scanApproval)
	for i := range out {
		out[i] = a.seen(out[i])
	}
	return out, err
}

// expire marks a pending approval past its expiry as expired, inside d, audited.
func (a *accounts) expire(ctx context.Context, d db, projectID string, ap Approval) error {
	if _, err := d.exec(ctx, `UPDATE tool_approvals SET status = 'expired', webhook_due = ?, webhook_tries = 0
		WHERE id = ? AND status = 'pending'`, a.stamp(), ap.ID); err != nil {
		return fmt.Errorf("expire approval #%d: %w", ap.ID, err)
	}
	after := ap
	after.Status = ApprovalExpired
	return a.record(ctx, d, projectID, "approval.expire", "approval", itoa64(ap.ID), approvalAudit{Approval: ap}, approvalAudit{Approval: after})
}

// DecideApproval implements Approvals.
func (a *accounts) DecideApproval(ctx context.Context, projectID string, id int64, dec ApprovalDecision) (Approval, error) {
	if !slices.Contains([]string{DecisionApprove, DecisionEdit, DecisionReject}, dec.Decision) {
		return Approval{}, invalid("decision %q: use approve, edit or reject", dec.Decision)
	}
	if err := checkText("approver", dec.Approver, 200); err != nil {
		return Approval{}, err
	}
	if dec.Decision == DecisionApprove {
		if err := checkOptionalText("reason", dec.Reason, 10000); err != nil {
			return Approval{}, err
		}
	} else if err := checkText("reason", dec.Reason, 10000); err != nil {
		return Approval{}, invalid("to %s a call, give a reason: the agent and the audit log show it", dec.Decision)
	}
	if dec.Decision == DecisionEdit && (dec.Args == "" || !hashRe.MatchString(dec.ArgsHash)) {
		return Approval{}, invalid("an edit needs the new arguments")
	}
	var out Approval
	var refused error
	err := a.db.inTx(ctx, func(d db) error {
		if d.driver() == DriverPostgres {
			if _, err := d.exec(ctx, `SELECT 1 FROM tool_approvals WHERE project_id = ? AND id = ? FOR UPDATE`, projectID, id); err != nil {
				return fmt.Errorf("decide approval #%d: %w", id, err)
			}
		}
		ap, err := getApproval(ctx, d, projectID, id)
		if err != nil {
			return err
		}
		if ap.Status == ApprovalPending && !a.now().Before(ap.ExpiresAt) {
			out = ap
			out.Status = ApprovalExpired
			refused = refuse(ErrConflict, fmt.Sprintf("approval #%d expired at %s: it can no longer be decided; the agent must ask again",
				id, ap.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC")))
			return a.expire(ctx, d, projectID, ap)
		}
		if why := ap.Refusal(dec.Approver, dec.ApproverIDs...); why != "" {
			kind := ErrNotAllowed
			if ap.Status != ApprovalPending {
				kind = ErrConflict
			}
			return refuse(kind, why)
		}
		status, args, hash := ApprovalApproved, ap.Args, ap.ArgsHash
		switch dec.Decision {
		case DecisionReject:
			status, args, hash = ApprovalRejected, "", ""
		case DecisionEdit:
			args, hash = dec.Args, dec.ArgsHash
		}
		now := a.stamp()
		if _, err := d.exec(ctx, `UPDATE tool_approvals SET status = ?, decision = ?, approver = ?, reason = ?,
			approved_arguments = ?, approved_arguments_hash = ?, decided_at = ?, webhook_due = ?, webhook_tries = 0 WHERE id = ?`,
			status, dec.Decision, dec.Approver, dec.Reason, args, hash, now, now, id); err != nil {
			return fmt.Errorf("decide approval #%d: %w", id, err)
		}
		if out, err = getApproval(ctx, d, projectID, id); err != nil {
			return err
		}
		return a.record(ctx, d, projectID, "approval."+dec.Decision, "approval", itoa64(id), approvalAudit{Approval: ap}, approvalAudit{Approval: out})
	})
	if err == nil && refused != nil {
		return out, refused
	}
	return out, err
}

// RecordApprovalOutcome implements Approvals.
func (a *accounts) RecordApprovalOutcome(ctx context.Context, projectID string, id int64, callID, argsHash, outcome, detail string) (Approval, error) {
	if outcome != OutcomeExecuted && outcome != OutcomeFailed {
		return Approval{}, invalid("outcome %q: use executed or failed", outcome)
	}
	if err := checkOptionalText("detail", detail, 10000); err != nil {
		return Approval{}, err
	}
	var out Approval
	var refused error
	err := a.db.inTx(ctx, func(d db) error {
		if d.driver() == DriverPostgres {
			if _, err := d.exec(ctx, `SELECT 1 FROM tool_approvals WHERE project_id = ? AND id = ? FOR UPDATE`, projectID, id); err != nil {
				return fmt.Errorf("record outcome of approval #%d: %w", id, err)
			}
		}
		ap, err := getApproval(ctx, d, projectID, id)
		if err != nil {
			return err
		}
		ap = a.seen(ap)
		switch {
		case ap.Status != ApprovalApproved:
			return refuse(ErrConflict, fmt.Sprintf("approval #%d is %s: the call must not run", id, ap.Status))
		case ap.Outcome != "":
			return refuse(ErrConflict, fmt.Sprintf("approval #%d covers one execution, and its outcome (%s) is recorded: ask again to run the call again", id, ap.Outcome))
		case callID != ap.CallID || argsHash != ap.ApprovedHash:
			why := fmt.Sprintf("the arguments (hash %s) are not the ones approved (hash %s): the call must not run", short(argsHash), short(ap.ApprovedHash))
			if callID != ap.CallID {
				why = fmt.Sprintf("call id %q is not the approved call %q: the call must not run", callID, ap.CallID)
			}
			out, refused = ap, refuse(ErrConflict, why)
			return a.record(ctx, d, projectID, "approval.mismatch", "approval", itoa64(id), nil,
				approvalAudit{Approval: Approval{ID: ap.ID, Tool: ap.Tool, CallID: callID, ArgsHash: argsHash, Status: ap.Status,
					ApprovedHash: ap.ApprovedHash, ExpiresAt: ap.ExpiresAt, CreatedAt: ap.CreatedAt}, Refused: why})
		}
		if _, err := d.exec(ctx, `UPDATE tool_approvals SET outcome = ?, outcome_detail = ?, outcome_at = ? WHERE id = ?`,
			outcome, detail, a.stamp(), id); err != nil {
			return fmt.Errorf("record outcome of approval #%d: %w", id, err)
		}
		if out, err = getApproval(ctx, d, projectID, id); err != nil {
			return err
		}
		return a.record(ctx, d, projectID, "approval.outcome", "approval", itoa64(id), approvalAudit{Approval: ap}, approvalAudit{Approval: out})
	})
	if err == nil && refused != nil {
		return out, refused
	}
	return out, err
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return "none"
	}
	return h
}

// ExpireApprovals implements Approvals.
func (a *accounts) ExpireApprovals(ctx context.Context) ([]ExpiredApproval, error) {
	var out []ExpiredApproval
	err := a.db.inTx(ctx, func(d db) error {
		rows, err := d.query(ctx, `SELECT project_id, id FROM tool_approvals WHERE status = 'pending' AND expires_at <= ? ORDER BY id LIMIT 1000`,
			storedTime(a.now()))
		if err != nil {
			return fmt.Errorf("expire approvals: %w", err)
		}
		type key struct {
			project string
			id      int64
		}
		keys, err := collect(rows, "expire approvals", func(r rowScanner) (key, error) {
			var k key
			return k, r.Scan(&k.project, &k.id)
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			ap, err := getApproval(ctx, d, k.project, k.id)
			if err != nil {
				return err
			}
			if err := a.expire(ctx, d, k.project, ap); err != nil {
				return err
			}
			ap.Status = ApprovalExpired
			out = append(out, ExpiredApproval{ProjectID: k.project, Approval: ap})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClaimApprovalNotices implements Approvals.
func (a *accounts) ClaimApprovalNotices(ctx context.Context, c NoticeClaim) ([]ApprovalNotice, error) {
	if c.Limit <= 0 {
		c.Limit = 100
	}
	if c.Lease <= 0 {
		c.Lease = 5 * time.Minute
	}
	if c.MaxTries <= 0 {
		c.MaxTries = 12
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	now := a.stamp()
	q := `SELECT project_id, id FROM tool_approvals WHERE webhook_due IS NOT NULL AND webhook_due <= ? AND webhook_tries < ?`
	args := []any{now, c.MaxTries}
	if c.ID > 0 {
		q += ` AND id = ?`
		args = append(args, c.ID)
	} else {
		q += ` AND COALESCE(decided_at, expires_at) >= ?`
		args = append(args, now.Add(-c.MaxAge))
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, c.Limit)
	var out []ApprovalNotice
	err := a.db.inTx(ctx, func(d db) error {
		rows, err := d.query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("claim approval notices: %w", err)
		}
		due, err := collect(rows, "claim approval notices", func(r rowScanner) (ApprovalNotice, error) {
			var n ApprovalNotice
			return n, r.Scan(&n.ProjectID, &n.Approval.ID)
		})
		if err != nil {
			return err
		}
		for _, n := range due {
			// Another server may have claimed it since the select: the update takes it
			// only if it is still due.
			claimed, err := d.exec(ctx, `UPDATE tool_approvals SET webhook_due = ?, webhook_tries = webhook_tries + 1
				WHERE id = ? AND webhook_due IS NOT NULL AND webhook_due <= ?`, now.Add(c.Lease), n.Approval.ID, now)
			if err != nil {
				return fmt.Errorf("claim the notice of approval #%d: %w", n.Approval.ID, err)
			}
			if claimed == 0 {
				continue
			}
			if n.Approval, err = getApproval(ctx, d, n.ProjectID, n.Approval.ID); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ApprovalNoticeSent implements Approvals.
func (a *accounts) ApprovalNoticeSent(ctx context.Context, id int64) error {
	if _, err := a.db.exec(ctx, `UPDATE tool_approvals SET webhook_due = NULL WHERE id = ?`, id); err != nil {
		return fmt.Errorf("record the notice of approval #%d as sent: %w", id, err)
	}
	return nil
}
