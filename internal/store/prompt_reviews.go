package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// PromptReviews is review before release in the prompt registry. A project protects some
// labels (by default production): MovePromptLabel refuses to move them. Such a label moves
// when a review request for the move is approved, by a member who is neither the author of
// the version released nor the requester, in the approval's own transaction; or by a
// rollback to where it pointed before its latest move (that version was released before);
// or, on a store of one user or none (a laptop), by a forced move.
type PromptReviews interface {
	// ProtectedLabels returns the project's protected labels, sorted: DefaultProtectedLabels
	// until SetProtectedLabels sets them.
	ProtectedLabels(ctx context.Context, projectID string) ([]string, error)
	// SetProtectedLabels replaces the project's protected labels (none is allowed) and
	// returns them sorted. A bad label is ErrInvalid, a missing project ErrNotFound.
	SetProtectedLabels(ctx context.Context, projectID string, labels []string) ([]string, error)

	// ForceMovePromptLabel is MovePromptLabel for a protected label too, without a review:
	// allowed only while the store has one user or none (a laptop, where nobody else could
	// review), else ErrNotAllowed. The move is recorded as forced, with the reason.
	ForceMovePromptLabel(ctx context.Context, projectID, name, label string, version int, actor, reason string) (PromptLabelMove, error)
	// RollbackPromptLabel moves a label back to the version it pointed at before its latest
	// move, protected or not (that version was released before), recording the rollback
	// with its reason. A label that was never set is ErrNotFound; one whose only move
	// created it has nothing to roll back to (ErrConflict).
	RollbackPromptLabel(ctx context.Context, projectID, name, label, actor, reason string) (PromptLabelMove, error)

	// RequestPromptReview opens a request to point label at version. A label already at
	// that version, or an open request for the same move that is not stale, is ErrConflict
	// (an open stale one is superseded by the new request); a missing prompt or version is
	// ErrNotFound; a bad label or text ErrInvalid.
	RequestPromptReview(ctx context.Context, projectID, name, label string, version int, requester, description string) (PromptReview, error)
	// ListPromptReviews returns the project's requests matching f, newest first.
	ListPromptReviews(ctx context.Context, projectID string, f PromptReviewFilter) ([]PromptReview, error)
	// GetPromptReview returns a request of the project with its comments, oldest first, or
	// ErrNotFound (also for another project's request).
	GetPromptReview(ctx context.Context, projectID string, id int64) (PromptReview, error)
	// CommentPromptReview adds a comment to a request's thread.
	CommentPromptReview(ctx context.Context, projectID string, id int64, author, body string) (PromptReviewComment, error)
	// DecidePromptReview approves or rejects an open request as reviewer, with a comment
	// (required to reject). Approving moves the label in the same transaction. A reviewer
	// who wrote the version or asked for the release is ErrNotAllowed; a request that is
	// not open, or (to approve) is stale, is ErrConflict. PromptReview.Refusal says the
	// same beforehand.
	DecidePromptReview(ctx context.Context, projectID string, id int64, approve bool, reviewer, comment string) (PromptReview, error)
}

// DefaultProtectedLabels are a project's protected labels until it sets its own.
var DefaultProtectedLabels = []string{"production"}

// The statuses of a review request.
const (
	ReviewOpen     = "open"
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
	// ReviewSuperseded: a stale request replaced by a new request for the same move, or one
	// whose move was made by other means (a forced or direct move, a rollback, another
	// approval), with a note in its thread saying how.
	ReviewSuperseded = "superseded"
)

// The kinds of label move a history keeps.
const (
	MoveDirect   = "move"     // MovePromptLabel
	MoveForced   = "force"    // ForceMovePromptLabel
	MoveReview   = "review"   // an approved review request (ReviewID)
	MoveRollback = "rollback" // RollbackPromptLabel
)

// ErrProtected is returned (wrapped, naming the label and prompt) when MovePromptLabel is
// asked to move a protected label. It is also an ErrConflict.
var ErrProtected = errors.New("protected label")

// ErrNotAllowed is returned (wrapped, saying why) when the rules of review forbid a
// change to whoever asks: approving one's own version or request, forcing a move on a
// store with other users.
var ErrNotAllowed = errors.New("not allowed")

// refusal is a refused change: its message is written for users, and it is its kind (and
// ErrConflict, for a protected label).
type refusal struct {
	kind error
	msg  string
}

func (e *refusal) Error() string { return e.msg }

func (e *refusal) Is(target error) bool {
	return target == e.kind || (e.kind == ErrProtected && target == ErrConflict)
}

func refuse(kind error, msg string) error { return &refusal{kind: kind, msg: msg} }

// PromptReview is a request to point a label of a prompt at a version.
type PromptReview struct {
	ID            int64  `json:"id"`
	Prompt        string `json:"prompt"`
	Label         string `json:"label"`
	Version       int    `json:"version"`        // the version to release
	VersionAuthor string `json:"version_author"` // who wrote it: not a possible reviewer
	// BaseVersion is where the label pointed when the request was opened, CurrentVersion
	// where it points now (nil: not set).
	BaseVersion    *int   `json:"base_version"`
	CurrentVersion *int   `json:"current_version"`
	Requester      string `json:"requester"`
	Description    string `json:"description,omitempty"`
	Status         string `json:"status"` // ReviewOpen, ReviewApproved, ...
	// Stale is set on an open request whose label has moved since it was opened: it can
	// no longer be approved; request the release again.
	Stale     bool       `json:"stale"`
	DecidedBy string     `json:"decided_by,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	MoveID    *int64     `json:"move_id,omitempty"` // the label move an approval made
	CreatedAt time.Time  `json:"created_at"`
	// Comments is the thread, oldest first (GetPromptReview only).
	Comments []PromptReviewComment `json:"comments,omitempty"`

	baseMoveID, curMoveID *int64
}

// PromptReviewComment is one entry of a request's thread: a comment, or the decision.
type PromptReviewComment struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"` // comment, approve or reject
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// PromptReviewFilter narrows ListPromptReviews. Zero values mean no filter.
type PromptReviewFilter struct {
	Status string // one of the Review* statuses; "" or "all" for every one
	Prompt string // one prompt's requests
	Limit  int    // at most this many; <= 0 means DefaultPageSize, capped at MaxPageSize
	Before int64  // only requests with a smaller id: the next page after the last one seen
}

// samePerson compares two names of people as the registry records them (emails, login
// names), ignoring letter case and surrounding space.
func samePerson(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// Refusal says why reviewer may not approve (approve) or reject the request, or "" when
// the review rules allow it. Roles are the caller's to check: this is the separation of
// duties and the request's state.
func (r PromptReview) Refusal(reviewer string, approve bool) string {
	verb := "reject"
	if approve {
		verb = "approve"
	}
	switch {
	case r.Status != ReviewOpen:
		return "this request is " + r.Status + ": it cannot be decided again"
	case samePerson(reviewer, r.VersionAuthor):
		return "you wrote version " + itoa(r.Version) + ": a release needs a member other than the version's author to " + verb + " it"
	case samePerson(reviewer, r.Requester):
		return "you requested this release: a member other than the requester must " + verb + " it"
	case approve && r.Stale:
		where := "it was at " + versionText(r.BaseVersion) + ", it is at " + versionText(r.CurrentVersion)
		if versionText(r.BaseVersion) == versionText(r.CurrentVersion) {
			where = "it was at " + versionText(r.BaseVersion) + ", moved and came back to it"
		}
		return "the label " + r.Label + " has moved since this request was opened (" + where +
			"): request the release again, so that the review sees the current state"
	}
	return ""
}

// PromptReviewRights is what a caller may do with a review request, and why not.
type PromptReviewRights struct {
	MayApprove     bool   `json:"may_approve"`
	ApproveRefusal string `json:"approve_refusal,omitempty"`
	MayReject      bool   `json:"may_reject"`
	RejectRefusal  string `json:"reject_refusal,omitempty"`
	MayComment     bool   `json:"may_comment"`
}

// RightsOf applies the review rules to a caller named reviewer with role in the project:
// deciding needs a person (not an API key: person false) with at least the editor role,
// then Refusal's separation of duties; commenting needs the editor role.
func (r PromptReview) RightsOf(reviewer string, person bool, role Role) PromptReviewRights {
	out := PromptReviewRights{MayComment: role.AtLeast(RoleEditor)}
	refusal := func(approve bool) string {
		verb := "reject"
		if approve {
			verb = "approve"
		}
		switch {
		case !person:
			return "an API key cannot " + verb + ": a release is a person's decision; log in as a member"
		case !role.AtLeast(RoleEditor):
			return "deciding a release needs the editor role; you are a " + string(role)
		}
		return r.Refusal(reviewer, approve)
	}
	out.ApproveRefusal, out.RejectRefusal = refusal(true), refusal(false)
	out.MayApprove, out.MayReject = out.ApproveRefusal == "", out.RejectRefusal == ""
	return out
}

// versionText names a label's version for a message.
func versionText(v *int) string {
	if v == nil {
		return "no version"
	}
	return "version " + itoa(*v)
}
