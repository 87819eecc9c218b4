package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/promptdiff"
	"github.com/plumbhq/plumb/internal/store"
)

// PromptLabelMove is one move of a label in its history: from, to, kind, actor, reason.
type PromptLabelMove = store.PromptLabelMove

// PromptDiff is what changed between two versions of a prompt: unified diff hunks of the
// text and of the params, and the whole diff as `plumb prompt diff` prints it (Unified).
type PromptDiff = promptdiff.Diff

// PromptReview is a request to point a label at a version, with its thread (Comments)
// when read alone.
type PromptReview = store.PromptReview

// PromptReviewComment is one entry of a review request's thread.
type PromptReviewComment = store.PromptReviewComment

// PromptReviewRights says what the caller may do with a review request, and why not.
type PromptReviewRights = store.PromptReviewRights

// The statuses of a review request.
const (
	ReviewOpen       = store.ReviewOpen
	ReviewApproved   = store.ReviewApproved
	ReviewRejected   = store.ReviewRejected
	ReviewSuperseded = store.ReviewSuperseded
)

// promptPath is a prompt's name in a path: its slashes separate its parts and stay; each
// part is escaped.
func promptPath(name string) string {
	parts := strings.Split(name, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

// PushPrompt stores content as the next version of a prompt, authored by the caller, and
// returns it with created true; content equal to the latest version's creates nothing
// and returns the latest with created false.
func (c *Client) PushPrompt(ctx context.Context, project, name string, content PromptContent, message string) (v PromptVersion, created bool, err error) {
	body := struct {
		PromptContent
		Message string `json:"message,omitempty"`
	}{content, message}
	var out struct {
		Version PromptVersion `json:"version"`
		Created bool          `json:"created"`
	}
	err = c.doJSON(ctx, http.MethodPost, projectPath(project)+"/prompt-versions/"+promptPath(name), body, &out)
	return out.Version, out.Created, err
}

// PromptVersions lists every version of a prompt, newest first.
func (c *Client) PromptVersions(ctx context.Context, project, name string) ([]PromptVersion, error) {
	var out struct {
		Versions []PromptVersion `json:"versions"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompt-versions/"+promptPath(name), nil, nil, &out)
	return out.Versions, err
}

// DiffPrompt diffs versions from and to of a prompt, each a version number or a label.
func (c *Client) DiffPrompt(ctx context.Context, project, name, from, to string) (PromptDiff, error) {
	var out struct {
		Diff PromptDiff `json:"diff"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompt-diff/"+promptPath(name),
		url.Values{"from": {from}, "to": {to}}, nil, &out)
	return out.Diff, err
}

// MovePromptLabel points a label at a version. A protected label is refused (CodeConflict):
// request its review with RequestPromptReview.
func (c *Client) MovePromptLabel(ctx context.Context, project, name, label string, version int) (PromptLabelMove, error) {
	var out struct {
		Move PromptLabelMove `json:"move"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/prompt-labels/"+promptPath(name),
		map[string]any{"label": label, "version": version}, &out)
	return out.Move, err
}

// PromptLabelHistory lists the moves of a prompt's label ("" for all its labels), newest
// first.
func (c *Client) PromptLabelHistory(ctx context.Context, project, name, label string) ([]PromptLabelMove, error) {
	q := url.Values{}
	setNonEmpty(q, "label", label)
	var out struct {
		Moves []PromptLabelMove `json:"moves"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompt-labels/"+promptPath(name), q, nil, &out)
	return out.Moves, err
}

// RollbackPromptLabel moves a label back to the version it pointed at before its latest
// move, with a reason; a protected label needs no new review.
func (c *Client) RollbackPromptLabel(ctx context.Context, project, name, label, reason string) (PromptLabelMove, error) {
	var out struct {
		Move PromptLabelMove `json:"move"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/prompt-rollback/"+promptPath(name),
		map[string]any{"label": label, "reason": reason}, &out)
	return out.Move, err
}

// PromptReviewsOptions filters and pages PromptReviews.
type PromptReviewsOptions struct {
	Status string // ReviewOpen, ReviewApproved, ...; "" for all
	Prompt string // one prompt's requests
	Limit  int    // page size; 0 means the server's default
	Before int64  // the NextBefore of the previous page
}

// PromptReviewsPage is one page of review requests, newest first.
type PromptReviewsPage struct {
	Reviews    []PromptReview `json:"reviews"`
	NextBefore int64          `json:"next_before"` // 0 after the last page
}

// PromptReviews lists the project's review requests a page at a time.
func (c *Client) PromptReviews(ctx context.Context, project string, opt PromptReviewsOptions) (PromptReviewsPage, error) {
	q := url.Values{}
	setNonEmpty(q, "status", opt.Status)
	setNonEmpty(q, "prompt", opt.Prompt)
	if opt.Limit > 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	if opt.Before > 0 {
		q.Set("before", strconv.FormatInt(opt.Before, 10))
	}
	var out PromptReviewsPage
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompt-reviews", q, nil, &out)
	return out, err
}

// RequestPromptReview asks for label ("" for production) to point at a version of a
// prompt, for another member to approve.
func (c *Client) RequestPromptReview(ctx context.Context, project, name, label string, version int, description string) (PromptReview, error) {
	var out struct {
		Review PromptReview `json:"review"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/prompt-reviews",
		map[string]any{"prompt": name, "label": label, "version": version, "description": description}, &out)
	return out.Review, err
}

// PromptReviewDetail is a review request with its thread, the diff it releases (from
// where the label points now) and what the caller may do with it.
type PromptReviewDetail struct {
	Review PromptReview       `json:"review"`
	Diff   PromptDiff         `json:"diff"`
	You    PromptReviewRights `json:"you"`
}

// PromptReview reads a review request.
func (c *Client) PromptReview(ctx context.Context, project string, id int64) (PromptReviewDetail, error) {
	var out PromptReviewDetail
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompt-reviews/"+strconv.FormatInt(id, 10), nil, nil, &out)
	return out, err
}

// CommentPromptReview adds a comment to a review request's thread.
func (c *Client) CommentPromptReview(ctx context.Context, project string, id int64, body string) (PromptReviewComment, error) {
	var out struct {
		Comment PromptReviewComment `json:"comment"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/prompt-reviews/"+strconv.FormatInt(id, 10)+"/comments",
		map[string]any{"body": body}, &out)
	return out.Comment, err
}

// ApprovePromptReview approves a review request: its label moves at once. The version's
// author, the requester and API keys may not (CodeForbidden, saying why); a request whose
// label moved since it was opened is stale (CodeConflict): request it again.
func (c *Client) ApprovePromptReview(ctx context.Context, project string, id int64, comment string) (PromptReview, error) {
	return c.decideReview(ctx, project, id, "approve", comment)
}

// RejectPromptReview rejects a review request; comment says why and is required.
func (c *Client) RejectPromptReview(ctx context.Context, project string, id int64, comment string) (PromptReview, error) {
	return c.decideReview(ctx, project, id, "reject", comment)
}

func (c *Client) decideReview(ctx context.Context, project string, id int64, verb, comment string) (PromptReview, error) {
	var out struct {
		Review PromptReview `json:"review"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/prompt-reviews/"+strconv.FormatInt(id, 10)+"/"+verb,
		map[string]any{"comment": comment}, &out)
	return out.Review, err
}

// ProtectedLabels returns the project's protected labels.
func (c *Client) ProtectedLabels(ctx context.Context, project string) ([]string, error) {
	var out struct {
		Labels []string `json:"protected_labels"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/prompt-settings", nil, nil, &out)
	return out.Labels, err
}

// SetProtectedLabels replaces the project's protected labels (project admins); none is
// allowed.
func (c *Client) SetProtectedLabels(ctx context.Context, project string, labels []string) ([]string, error) {
	if labels == nil {
		labels = []string{}
	}
	var out struct {
		Labels []string `json:"protected_labels"`
	}
	err := c.doJSON(ctx, http.MethodPut, projectPath(project)+"/prompt-settings", map[string]any{"protected_labels": labels}, &out)
	return out.Labels, err
}
