package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

// checkOptionalText is checkText for text that may be empty.
func checkOptionalText(what, s string, max int) error {
	if s == "" {
		return nil
	}
	return checkText(what, s, max)
}

// promptAuditReview is a review request as an audit entry names it.
type promptAuditReview struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Label       string `json:"label"`
	Version     int    `json:"version"`
	BaseVersion *int   `json:"base_version"`
	Requester   string `json:"requester,omitempty"`
	Description string `json:"description,omitempty"`
	Status      string `json:"status"`
	DecidedBy   string `json:"decided_by,omitempty"`
	Comment     string `json:"comment,omitempty"`
	MoveID      int64  `json:"move_id,omitempty"`
}

func auditReview(r PromptReview) promptAuditReview {
	return promptAuditReview{ID: r.ID, Name: r.Prompt, Label: r.Label, Version: r.Version, BaseVersion: r.BaseVersion,
		Requester: r.Requester, Description: r.Description, Status: r.Status, DecidedBy: r.DecidedBy}
}

// protectedLabels reads, through d, a project's protected labels.
func protectedLabels(ctx context.Context, d db, projectID string) ([]string, error) {
	var raw string
	err := d.queryRow(ctx, `SELECT protected_labels FROM prompt_settings WHERE project_id = ?`, projectID).Scan(&raw)
	if errors.Is(err, errNoRows) {
		return slices.Clone(DefaultProtectedLabels), nil
	}
	if err != nil {
		return nil, fmt.Errorf("protected labels: %w", err)
	}
	var labels []string
	if err := json.Unmarshal([]byte(raw), &labels); err != nil {
		return nil, fmt.Errorf("protected labels of project %s are corrupt: %w", projectID, err)
	}
	if labels == nil {
		labels = []string{}
	}
	return labels, nil
}

// ProtectedLabels implements PromptReviews.
func (a *accounts) ProtectedLabels(ctx context.Context, projectID string) ([]string, error) {
	return protectedLabels(ctx, a.db, projectID)
}

// SetProtectedLabels implements PromptReviews.
func (a *accounts) SetProtectedLabels(ctx context.Context, projectID string, labels []string) ([]string, error) {
	out := []string{}
	for _, l := range labels {
		if err := CheckPromptLabel(l); err != nil {
			return nil, err
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	if len(out) > 100 {
		return nil, invalid("%d protected labels: protect at most 100", len(out))
	}
	slices.Sort(out)
	raw, _ := json.Marshal(out)
	err := a.db.inTx(ctx, func(d db) error {
		before, err := protectedLabels(ctx, d, projectID)
		if err != nil {
			return err
		}
		_, err = d.exec(ctx, `INSERT INTO prompt_settings (project_id, protected_labels, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (project_id) DO UPDATE SET protected_labels = excluded.protected_labels, updated_at = excluded.updated_at`,
			projectID, string(raw), a.stamp())
		if d.isForeignKey(err) {
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("set protected labels: %w", err)
		}
		type labels struct {
			ProtectedLabels []string `json:"protected_labels"`
		}
		return a.record(ctx, d, projectID, "prompt.protect", "project", projectID, labels{before}, labels{out})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ForceMovePromptLabel implements PromptReviews.
func (a *accounts) ForceMovePromptLabel(ctx context.Context, projectID, name, label string, version int, actor, reason string) (PromptLabelMove, error) {
	return a.moveLabelTx(ctx, projectID, name, label, version, actor, MoveForced, reason)
}

// RollbackPromptLabel implements PromptReviews.
func (a *accounts) RollbackPromptLabel(ctx context.Context, projectID, name, label, actor, reason string) (PromptLabelMove, error) {
	if err := CheckPromptLabel(label); err != nil {
		return PromptLabelMove{}, err
	}
	if err := checkText("actor", actor, 200); err != nil {
		return PromptLabelMove{}, err
	}
	if err := checkOptionalText("reason", reason, 10000); err != nil {
		return PromptLabelMove{}, err
	}
	var out PromptLabelMove
	err := a.db.inTx(ctx, func(d db) error {
		promptID, err := findPrompt(ctx, d, projectID, name, true)
		if err != nil {
			return err
		}
		var id int64
		var from *int
		var to int
		err = d.queryRow(ctx, `SELECT id, from_version, to_version FROM prompt_label_moves
			WHERE prompt_id = ? AND label = ? ORDER BY id DESC LIMIT 1`, promptID, label).Scan(&id, &from, &to)
		if errors.Is(err, errNoRows) {
			return fmt.Errorf("prompt %q label %q %w: there is nothing to roll back", name, label, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("roll back label %s of prompt %s: %w", label, name, err)
		}
		if from == nil {
			return refuse(ErrConflict, fmt.Sprintf("label %q of prompt %q has pointed only at version %d since it was created: there is no earlier version to roll back to", label, name, to))
		}
		out, err = a.moveLabel(ctx, d, projectID, promptID, name, label, *from, actor, MoveRollback, reason, nil)
		return err
	})
	if err != nil {
		return PromptLabelMove{}, err
	}
	return out, nil
}

// reviewSelect reads a review request with its prompt's name, its version's author, and
// where its label points now and its latest move, for Stale.
const reviewSelect = `SELECT r.id, p.name, r.label, r.version, v.author, r.base_version, r.base_move_id,
	(SELECT l.version FROM prompt_labels l WHERE l.prompt_id = r.prompt_id AND l.label = r.label),
	(SELECT max(m.id) FROM prompt_label_moves m WHERE m.prompt_id = r.prompt_id AND m.label = r.label),
	r.requester, r.description, r.status, r.decided_by, r.decided_at, r.move_id, r.created_at
	FROM prompt_reviews r JOIN prompts p ON p.id = r.prompt_id
	JOIN prompt_versions v ON v.prompt_id = r.prompt_id AND v.version = r.version`

func scanReview(r rowScanner) (PromptReview, error) {
	var pr PromptReview
	var decided, created timeCol
	if err := r.Scan(&pr.ID, &pr.Prompt, &pr.Label, &pr.Version, &pr.VersionAuthor, &pr.BaseVersion, &pr.baseMoveID,
		&pr.CurrentVersion, &pr.curMoveID, &pr.Requester, &pr.Description, &pr.Status, &pr.DecidedBy, &decided,
		&pr.MoveID, &created); err != nil {
		return pr, err
	}
	pr.DecidedAt, pr.CreatedAt = decided.ptr(), created.T
	pr.Stale = pr.Status == ReviewOpen && !sameID(pr.baseMoveID, pr.curMoveID)
	return pr, nil
}

func sameID(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// getReview reads a project's review request through d, or ErrNotFound.
func getReview(ctx context.Context, d db, projectID string, id int64) (PromptReview, error) {
	r, err := scanReview(d.queryRow(ctx, reviewSelect+` WHERE r.project_id = ? AND r.id = ?`, projectID, id))
	if errors.Is(err, errNoRows) {
		return r, fmt.Errorf("review request #%d %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("get review request #%d: %w", id, err)
	}
	return r, nil
}

// RequestPromptReview implements PromptReviews.
func (a *accounts) RequestPromptReview(ctx context.Context, projectID, name, label string, version int, requester, description string) (PromptReview, error) {
	if err := CheckPromptLabel(label); err != nil {
		return PromptReview{}, err
	}
	if err := checkText("requester", requester, 200); err != nil {
		return PromptReview{}, err
	}
	if err := checkOptionalText("description", description, 10000); err != nil {
		return PromptReview{}, err
	}
	var out PromptReview
	err := a.db.inTx(ctx, func(d db) error {
		promptID, err := findPrompt(ctx, d, projectID, name, true)
		if err != nil {
			return err
		}
		var n int
		if err := d.queryRow(ctx, `SELECT count(*) FROM prompt_versions WHERE prompt_id = ? AND version = ?`,
			promptID, version).Scan(&n); err != nil {
			return fmt.Errorf("request review: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("prompt %q version %d %w", name, version, ErrNotFound)
		}
		var cur *int
		var curMove *int64
		if err := d.queryRow(ctx, `SELECT (SELECT version FROM prompt_labels WHERE prompt_id = ? AND label = ?),
			(SELECT max(id) FROM prompt_label_moves WHERE prompt_id = ? AND label = ?)`,
			promptID, label, promptID, label).Scan(&cur, &curMove); err != nil {
			return fmt.Errorf("request review: %w", err)
		}
		if cur != nil && *cur == version {
			return refuse(ErrConflict, fmt.Sprintf("label %q of prompt %q is already at version %d: there is nothing to release", label, name, version))
		}
		var openID int64
		err = d.queryRow(ctx, `SELECT id FROM prompt_reviews WHERE prompt_id = ? AND label = ? AND version = ? AND status = ?`,
			promptID, label, version, ReviewOpen).Scan(&openID)
		switch {
		case errors.Is(err, errNoRows):
		case err != nil:
			return fmt.Errorf("request review: %w", err)
		default:
			old, err := getReview(ctx, d, projectID, openID)
			if err != nil {
				return err
			}
			if !old.Stale {
				return refuse(ErrConflict, fmt.Sprintf("review request #%d already asks to point %s of %s at version %d: comment on it, or wait for its decision", openID, label, name, version))
			}
			if _, err := d.exec(ctx, `UPDATE prompt_reviews SET status = ? WHERE id = ?`, ReviewSuperseded, openID); err != nil {
				return fmt.Errorf("request review: %w", err)
			}
			before := auditReview(old)
			old.Status = ReviewSuperseded
			if err := a.record(ctx, d, projectID, "prompt.review.supersede", "prompt_review", strconv.FormatInt(openID, 10), before, auditReview(old)); err != nil {
				return err
			}
		}
		var id int64
		var baseMove any
		if curMove != nil {
			baseMove = *curMove
		}
		var base any
		if cur != nil {
			base = *cur
		}
		if err := d.writeRow(ctx, `INSERT INTO prompt_reviews (project_id, prompt_id, label, version, base_version, base_move_id,
			requester, description, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			projectID, promptID, label, version, base, baseMove, requester, description, ReviewOpen, a.stamp()).Scan(&id); err != nil {
			return fmt.Errorf("request review: %w", err)
		}
		if out, err = getReview(ctx, d, projectID, id); err != nil {
			return err
		}
		return a.record(ctx, d, projectID, "prompt.review.request", "prompt_review", strconv.FormatInt(id, 10), nil, auditReview(out))
	})
	if err != nil {
		return PromptReview{}, err
	}
	return out, nil
}

// closeMadeReviews supersedes, inside d, the open review requests whose move m has just
// made by other means (a forced or direct move, a rollback, the approval of another
// request): left open they would read as stale forever, although what they asked for is
// done. Each gets a note in its thread saying how the label moved, and an audit entry.
func (a *accounts) closeMadeReviews(ctx context.Context, d db, projectID, promptID string, m PromptLabelMove) error {
	rows, err := d.query(ctx, `SELECT id FROM prompt_reviews WHERE prompt_id = ? AND label = ? AND version = ? AND status = ?`,
		promptID, m.Label, m.ToVersion, ReviewOpen)
	if err != nil {
		return fmt.Errorf("close review requests of label %s: %w", m.Label, err)
	}
	ids, err := collect(rows, "close review requests", func(r rowScanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return err
	}
	how := map[string]string{MoveDirect: "a direct move", MoveForced: "a forced move", MoveRollback: "a rollback"}[m.Kind]
	if m.Kind == MoveReview && m.ReviewID != nil {
		how = "the approval of review request #" + strconv.FormatInt(*m.ReviewID, 10)
	}
	if how == "" {
		how = "a " + m.Kind
	}
	note := fmt.Sprintf("Superseded: label %s of prompt %s was moved to version %d by %s by %s (move #%d)",
		m.Label, m.Prompt, m.ToVersion, how, m.Actor, m.ID)
	if m.Reason != "" {
		note += ", reason: " + m.Reason
	}
	note += "; this request has nothing left to release."
	for _, id := range ids {
		if m.ReviewID != nil && *m.ReviewID == id {
			continue
		}
		r, err := getReview(ctx, d, projectID, id)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, `UPDATE prompt_reviews SET status = ?, decided_by = ?, decided_at = ?, move_id = ? WHERE id = ?`,
			ReviewSuperseded, m.Actor, m.At, m.ID, id); err != nil {
			return fmt.Errorf("supersede review request #%d: %w", id, err)
		}
		if _, err := a.addComment(ctx, d, id, "comment", m.Actor, note); err != nil {
			return err
		}
		before := auditReview(r)
		after := before
		after.Status, after.DecidedBy, after.Comment, after.MoveID = ReviewSuperseded, m.Actor, note, m.ID
		if err := a.record(ctx, d, projectID, "prompt.review.supersede", "prompt_review", strconv.FormatInt(id, 10), before, after); err != nil {
			return err
		}
	}
	return nil
}

// ListPromptReviews implements PromptReviews.
func (a *accounts) ListPromptReviews(ctx context.Context, projectID string, f PromptReviewFilter) ([]PromptReview, error) {
	q := reviewSelect + ` WHERE r.project_id = ?`
	args := []any{projectID}
	if f.Status != "" && f.Status != "all" {
		if !slices.Contains([]string{ReviewOpen, ReviewApproved, ReviewRejected, ReviewSuperseded}, f.Status) {
			return nil, invalid("review status %q: use open, approved, rejected, superseded or all", f.Status)
		}
		q += ` AND r.status = ?`
		args = append(args, f.Status)
	}
	if f.Prompt != "" {
		q += ` AND p.name = ?`
		args = append(args, f.Prompt)
	}
	if f.Before > 0 {
		q += ` AND r.id < ?`
		args = append(args, f.Before)
	}
	args = append(args, pageSize(f.Limit))
	rows, err := a.db.query(ctx, q+` ORDER BY r.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list review requests: %w", err)
	}
	return collect(rows, "list review requests", scanReview)
}

// GetPromptReview implements PromptReviews.
func (a *accounts) GetPromptReview(ctx context.Context, projectID string, id int64) (PromptReview, error) {
	r, err := getReview(ctx, a.db, projectID, id)
	if err != nil {
		return r, err
	}
	rows, err := a.db.query(ctx, `SELECT id, kind, author, body, created_at FROM prompt_review_comments
		WHERE review_id = ? ORDER BY id`, id)
	if err != nil {
		return r, fmt.Errorf("comments of review request #%d: %w", id, err)
	}
	r.Comments, err = collect(rows, "comments of a review request", func(rs rowScanner) (PromptReviewComment, error) {
		var c PromptReviewComment
		var at timeCol
		err := rs.Scan(&c.ID, &c.Kind, &c.Author, &c.Body, &at)
		c.CreatedAt = at.T
		return c, err
	})
	return r, err
}

// addComment appends an entry to a request's thread inside d.
func (a *accounts) addComment(ctx context.Context, d db, reviewID int64, kind, author, body string) (PromptReviewComment, error) {
	c := PromptReviewComment{Kind: kind, Author: author, Body: body, CreatedAt: a.stamp()}
	err := d.writeRow(ctx, `INSERT INTO prompt_review_comments (review_id, kind, author, body, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, reviewID, kind, author, body, c.CreatedAt).Scan(&c.ID)
	if err != nil {
		return c, fmt.Errorf("comment on review request #%d: %w", reviewID, err)
	}
	return c, nil
}

// CommentPromptReview implements PromptReviews.
func (a *accounts) CommentPromptReview(ctx context.Context, projectID string, id int64, author, body string) (PromptReviewComment, error) {
	if err := checkText("author", author, 200); err != nil {
		return PromptReviewComment{}, err
	}
	if err := checkText("comment", body, 10000); err != nil {
		return PromptReviewComment{}, err
	}
	var out PromptReviewComment
	err := a.db.inTx(ctx, func(d db) error {
		r, err := getReview(ctx, d, projectID, id)
		if err != nil {
			return err
		}
		if out, err = a.addComment(ctx, d, id, "comment", author, body); err != nil {
			return err
		}
		type comment struct {
			ReviewID  int64  `json:"review_id"`
			Name      string `json:"name"`
			Label     string `json:"label"`
			Version   int    `json:"version"`
			CommentID int64  `json:"comment_id"`
			Author    string `json:"author"`
			Body      string `json:"body"`
		}
		return a.record(ctx, d, projectID, "prompt.review.comment", "prompt_review", strconv.FormatInt(id, 10), nil,
			comment{id, r.Prompt, r.Label, r.Version, out.ID, author, body})
	})
	if err != nil {
		return PromptReviewComment{}, err
	}
	return out, nil
}

// DecidePromptReview implements PromptReviews.
func (a *accounts) DecidePromptReview(ctx context.Context, projectID string, id int64, approve bool, reviewer, comment string) (PromptReview, error) {
	if err := checkText("reviewer", reviewer, 200); err != nil {
		return PromptReview{}, err
	}
	if approve {
		if err := checkOptionalText("comment", comment, 10000); err != nil {
			return PromptReview{}, err
		}
	} else if err := checkText("comment", comment, 10000); err != nil {
		return PromptReview{}, invalid("a rejection needs a comment saying why, so that the requester can act on it")
	}
	var out PromptReview
	err := a.db.inTx(ctx, func(d db) error {
		var promptID string
		err := d.queryRow(ctx, `SELECT prompt_id FROM prompt_reviews WHERE project_id = ? AND id = ?`, projectID, id).Scan(&promptID)
		if errors.Is(err, errNoRows) {
			return fmt.Errorf("review request #%d %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("decide review request #%d: %w", id, err)
		}
		// Lock the prompt, as a move does, so that its labels hold still until the
		// decision commits.
		if d.driver() == DriverPostgres {
			if _, err := d.exec(ctx, `SELECT 1 FROM prompts WHERE id = ? FOR UPDATE`, promptID); err != nil {
				return fmt.Errorf("decide review request #%d: %w", id, err)
			}
		}
		r, err := getReview(ctx, d, projectID, id)
		if err != nil {
			return err
		}
		if why := r.Refusal(reviewer, approve); why != "" {
			kind := ErrConflict
			if r.Status == ReviewOpen && (samePerson(reviewer, r.VersionAuthor) || samePerson(reviewer, r.Requester)) {
				kind = ErrNotAllowed
			}
			return refuse(kind, fmt.Sprintf("review request #%d: %s", id, why))
		}
		before := auditReview(r)
		status, kind := ReviewRejected, "reject"
		var moveID any
		if approve {
			status, kind = ReviewApproved, "approve"
			m, err := a.moveLabel(ctx, d, projectID, promptID, r.Prompt, r.Label, r.Version, reviewer, MoveReview, "", &id)
			if err != nil {
				return err
			}
			moveID = m.ID
		}
		if _, err := d.exec(ctx, `UPDATE prompt_reviews SET status = ?, decided_by = ?, decided_at = ?, move_id = ? WHERE id = ?`,
			status, reviewer, a.stamp(), moveID, id); err != nil {
			return fmt.Errorf("decide review request #%d: %w", id, err)
		}
		if _, err := a.addComment(ctx, d, id, kind, reviewer, comment); err != nil {
			return err
		}
		if out, err = getReview(ctx, d, projectID, id); err != nil {
			return err
		}
		after := auditReview(out)
		after.Comment = comment
		if out.MoveID != nil {
			after.MoveID = *out.MoveID
		}
		return a.record(ctx, d, projectID, "prompt.review."+kind, "prompt_review", strconv.FormatInt(id, 10), before, after)
	})
	if err != nil {
		return PromptReview{}, err
	}
	return a.GetPromptReview(ctx, projectID, id)
}
