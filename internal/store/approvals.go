package store

import (
	"context"
	"time"
)

// Approvals is the queue of tool calls held for a person's decision (docs/approvals.md).
// A held call is stored with its canonical arguments and their SHA-256; a decision
// approves them as they are, approves an edit of them (which has its own hash), or
// rejects the call, with a reason; a pending call past its expiry can no longer be
// decided. The agent executes a call only with the hash an approval names, and reports
// the outcome once.
type Approvals interface {
	// CreateApproval stores a held call as pending. Bad fields are ErrInvalid; a missing
	// project ErrNotFound. A call id the project holds already (pending, or decided; not
	// expired) returns that approval when the arguments hash is the same (a retry: nothing
	// is stored or audited) and is ErrConflict when it is not.
	CreateApproval(ctx context.Context, projectID string, a NewApproval) (Approval, error)
	// GetApproval returns a project's approval, or ErrNotFound (also for another
	// project's). A pending approval past its expiry reads as expired.
	GetApproval(ctx context.Context, projectID string, id int64) (Approval, error)
	// ListApprovals returns the project's approvals matching f, newest first.
	ListApprovals(ctx context.Context, projectID string, f ApprovalFilter) ([]Approval, error)
	// DecideApproval decides a pending approval. An approver who is its requester or the
	// user it acted for is ErrNotAllowed; one already decided is ErrConflict; one past its
	// expiry is marked expired (audited) and the decision is ErrConflict. An edit carries
	// the new canonical arguments and their hash, which the caller has checked against the
	// approval's rule.
	DecideApproval(ctx context.Context, projectID string, id int64, d ApprovalDecision) (Approval, error)
	// RecordApprovalOutcome records that the agent executed (or failed to execute) an
	// approved call with the arguments of argsHash. A call id or hash other than the
	// approved ones is refused (ErrConflict) and the refusal audited; a call not approved,
	// or whose outcome is recorded, is ErrConflict.
	RecordApprovalOutcome(ctx context.Context, projectID string, id int64, callID, argsHash, outcome, detail string) (Approval, error)
	// ExpireApprovals marks every pending approval past its expiry as expired (each
	// audited) and returns them as expired.
	ExpireApprovals(ctx context.Context) ([]ExpiredApproval, error)
	// ClaimApprovalNotices claims decided (or expired) approvals whose webhook notice is
	// due, for one server to send: each claimed one counts a try and is due again after
	// c.Lease, should its sender die before ApprovalNoticeSent. Every decision and expiry
	// makes a notice due, whoever made it (API, UI, sweep, CLI), so that a server sends
	// the decisions made in other processes too.
	ClaimApprovalNotices(ctx context.Context, c NoticeClaim) ([]ApprovalNotice, error)
	// ApprovalNoticeSent records that the webhook took an approval's notice: it is not
	// due again (until another decision).
	ApprovalNoticeSent(ctx context.Context, id int64) error
}

// NoticeClaim says which due notices ClaimApprovalNotices claims.
type NoticeClaim struct {
	// ID, when set, claims that approval's notice alone (the server sending the decision
	// it has just made); else the oldest due ones, up to Limit (default 100).
	ID    int64
	Limit int
	// Lease is how long a claim holds before the notice is due again (default 5m).
	Lease time.Duration
	// MaxTries: a notice tried this many times is given up (default 12).
	MaxTries int
	// MaxAge: without ID, decisions older than this are not sent (default 24h): a server
	// started with a webhook long after does not replay the past.
	MaxAge time.Duration
}

// ApprovalNotice is an approval whose decision is to be sent, and its project.
type ApprovalNotice struct {
	ProjectID string
	Approval  Approval
}

// ExpiredApproval is an approval ExpireApprovals marked expired, and its project.
type ExpiredApproval struct {
	ProjectID string
	Approval  Approval
}

// The statuses of an approval.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
	ApprovalExpired  = "expired"
)

// The decisions an approver makes.
const (
	DecisionApprove = "approve"
	DecisionEdit    = "edit"
	DecisionReject  = "reject"
)

// The outcomes an agent reports.
const (
	OutcomeExecuted = "executed"
	OutcomeFailed   = "failed"
)

// NewApproval is a held call as the gateway (or an application) submits it.
type NewApproval struct {
	Tool       string
	CallID     string
	Args       string // canonical JSON
	ArgsHash   string // SHA-256 of Args, hex
	Rule       string
	RuleReason string
	RuleSpec   string // the rule as JSON, for checking edits
	Requester  string
	OnBehalfOf string
	Route      string
	TraceID    string
	ExpiresAt  time.Time
}

// Approval is one held call and what became of it.
type Approval struct {
	ID         int64  `json:"id"`
	Tool       string `json:"tool"`
	CallID     string `json:"call_id"`
	Args       string `json:"arguments"`      // canonical JSON
	ArgsHash   string `json:"arguments_hash"` // SHA-256 of arguments, hex
	Rule       string `json:"rule"`
	RuleReason string `json:"rule_reason"`
	RuleSpec   string `json:"-"`
	Requester  string `json:"requester"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Route      string `json:"route,omitempty"`
	TraceID    string `json:"trace_id,omitempty"`
	// Scope is what an approval covers: "once", this call with these arguments once.
	Scope    string `json:"scope"`
	Status   string `json:"status"`             // ApprovalPending, ...
	Decision string `json:"decision,omitempty"` // DecisionApprove, DecisionEdit, DecisionReject
	Approver string `json:"approver,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// ApprovedArgs and ApprovedHash are what may run: the arguments as asked, or the
	// approver's edit.
	ApprovedArgs  string     `json:"approved_arguments,omitempty"`
	ApprovedHash  string     `json:"approved_arguments_hash,omitempty"`
	Outcome       string     `json:"outcome,omitempty"`
	OutcomeDetail string     `json:"outcome_detail,omitempty"`
	ExpiresAt     time.Time  `json:"expires_at"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	OutcomeAt     *time.Time `json:"outcome_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

// ApprovalDecision is an approver's decision.
type ApprovalDecision struct {
	Decision string // DecisionApprove, DecisionEdit or DecisionReject
	Approver string
	// ApproverIDs are the approver's other names (their user id): none of them may be the
	// requester or the user the agent acted for either.
	ApproverIDs []string
	Reason      string // required to reject or edit
	// Args and ArgsHash are the edited arguments (DecisionEdit), canonical.
	Args, ArgsHash string
}

// ApprovalFilter narrows ListApprovals. Zero values mean no filter.
type ApprovalFilter struct {
	Status string // one of the Approval* statuses; "" or "all" for every one
	Tool   string
	Limit  int   // <= 0 means DefaultPageSize, capped at MaxPageSize
	Before int64 // only approvals with a smaller id: the next page
}

// Refusal says why approver may not decide the approval, or "" when the rules allow it
// (roles are the caller's to check). ids are the approver's other names (a user id): an
// agent may name the user it acts for by either.
func (a Approval) Refusal(approver string, ids ...string) string {
	is := func(who string) bool {
		if who == "" {
			return false
		}
		for _, n := range append([]string{approver}, ids...) {
			if n != "" && samePerson(n, who) {
				return true
			}
		}
		return false
	}
	switch {
	case a.Status != ApprovalPending:
		return "this approval is " + a.Status + ": it cannot be decided again"
	case is(a.Requester):
		return "you requested this call: a member other than the requester must decide it"
	case is(a.OnBehalfOf):
		return "the agent made this call on your behalf: a member other than you must decide it"
	}
	return ""
}
