package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The audit entries of the prompt registry (see audited.go) hold a version's number and
// hash, never its content, which may be large: the content is in prompt_versions for good.

// promptAuditVersion is a version as an audit entry names it.
type promptAuditVersion struct {
	Name        string `json:"name"`
	Version     int    `json:"version"`
	ContentHash string `json:"content_hash"`
	Author      string `json:"author,omitempty"`
	Message     string `json:"message,omitempty"`
}

// promptAuditLabel is a label as an audit entry names it.
type promptAuditLabel struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	Version int    `json:"version"`
	MovedBy string `json:"moved_by,omitempty"`
	MoveID  int64  `json:"move_id,omitempty"`
	// Kind is the move's kind (MoveDirect, ...), Reason its reason, ReviewID the approved
	// request that made it.
	Kind     string `json:"kind,omitempty"`
	Reason   string `json:"reason,omitempty"`
	ReviewID int64  `json:"review_id,omitempty"`
}

// promptNotFound names the missing prompt.
func promptNotFound(name string) error {
	return fmt.Errorf("prompt %q %w", name, ErrNotFound)
}

// findPrompt returns the id of a project's prompt, or ErrNotFound. With lock, on
// PostgreSQL, the row is locked until d's transaction ends, which serialises pushes and
// label moves of one prompt (SQLite's write transactions are serialised already).
func findPrompt(ctx context.Context, d db, projectID, name string, lock bool) (string, error) {
	q := `SELECT id FROM prompts WHERE project_id = ? AND name = ?`
	if lock && d.driver() == DriverPostgres {
		q += ` FOR UPDATE`
	}
	var id string
	err := d.queryRow(ctx, q, projectID, name).Scan(&id)
	if errors.Is(err, errNoRows) {
		return "", promptNotFound(name)
	}
	if err != nil {
		return "", fmt.Errorf("get prompt %s: %w", name, err)
	}
	return id, nil
}

const promptVersionCols = "version, content_hash, content, author, message, created_at"

// scanPromptVersion reads promptVersionCols into a version of the prompt name.
func scanPromptVersion(name string) func(r rowScanner) (PromptVersion, error) {
	return func(r rowScanner) (PromptVersion, error) {
		v := PromptVersion{Prompt: name}
		var content textCol
		var at timeCol
		if err := r.Scan(&v.Version, &v.ContentHash, &content, &v.Author, &v.Message, &at); err != nil {
			return v, err
		}
		v.CreatedAt = at.T
		c, err := decodeContent(content.S)
		if err != nil {
			return v, fmt.Errorf("prompt %s version %d: stored content is corrupt: %w", name, v.Version, err)
		}
		v.Content = c
		return v, nil
	}
}

// latestVersion reads, through d, the latest version of a prompt; errNoRows if it has none.
func latestVersion(ctx context.Context, d db, promptID, name string) (PromptVersion, error) {
	return scanPromptVersion(name)(d.queryRow(ctx, `SELECT `+promptVersionCols+` FROM prompt_versions
		WHERE prompt_id = ? ORDER BY version DESC LIMIT 1`, promptID))
}

// PushPrompt implements Prompts.
func (a *accounts) PushPrompt(ctx context.Context, projectID, name string, content PromptContent, author, message string) (PromptVersion, bool, error) {
	if err := CheckPromptName(name); err != nil {
		return PromptVersion{}, false, err
	}
	if err := checkText("author", author, 200); err != nil {
		return PromptVersion{}, false, err
	}
	if message != "" {
		if err := checkText("message", message, 10000); err != nil {
			return PromptVersion{}, false, err
		}
	}
	c, canon, hash, err := normalizeContent(content)
	if err != nil {
		return PromptVersion{}, false, fmt.Errorf("prompt %s: %w", name, err)
	}
	var out PromptVersion
	created := false
	err = a.db.inTx(ctx, func(d db) error {
		now := a.stamp()
		// ON CONFLICT leaves a prompt that exists (or that a concurrent push is creating:
		// PostgreSQL waits for it) as it is.
		_, err := d.exec(ctx, `INSERT INTO prompts (id, project_id, name, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (project_id, name) DO NOTHING`, newID("pr"), projectID, name, now)
		if d.isForeignKey(err) {
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("push prompt %s: %w", name, err)
		}
		promptID, err := findPrompt(ctx, d, projectID, name, true)
		if err != nil {
			return err
		}
		latest, err := latestVersion(ctx, d, promptID, name)
		switch {
		case errors.Is(err, errNoRows):
		case err != nil:
			return fmt.Errorf("push prompt %s: %w", name, err)
		case latest.ContentHash == hash:
			out = latest
			return nil
		}
		out = PromptVersion{Prompt: name, Version: latest.Version + 1, ContentHash: hash, Content: c,
			Author: author, Message: message, CreatedAt: now}
		if _, err := d.exec(ctx, `INSERT INTO prompt_versions (prompt_id, version, content_hash, content, author, message, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, promptID, out.Version, hash, canon, author, message, now); err != nil {
			return fmt.Errorf("push prompt %s: %w", name, err)
		}
		created = true
		var before any
		if latest.Version > 0 {
			before = promptAuditVersion{Name: name, Version: latest.Version, ContentHash: latest.ContentHash}
		}
		return a.record(ctx, d, projectID, "prompt.push", "prompt", promptID, before,
			promptAuditVersion{Name: name, Version: out.Version, ContentHash: hash, Author: author, Message: message})
	})
	if err != nil {
		return PromptVersion{}, false, err
	}
	if !created {
		// The latest version may carry labels.
		if out.Labels, err = a.versionLabels(ctx, a.db, projectID, name, out.Version); err != nil {
			return PromptVersion{}, false, err
		}
	}
	return out, created, nil
}

// versionLabels returns the labels pointing at a version, sorted.
func (a *accounts) versionLabels(ctx context.Context, d db, projectID, name string, version int) ([]string, error) {
	rows, err := d.query(ctx, `SELECT l.label FROM prompt_labels l JOIN prompts p ON p.id = l.prompt_id
		WHERE p.project_id = ? AND p.name = ? AND l.version = ? ORDER BY l.label`, projectID, name, version)
	if err != nil {
		return nil, fmt.Errorf("labels of prompt %s: %w", name, err)
	}
	labels, err := collect(rows, "labels of prompt "+name, func(r rowScanner) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if len(labels) == 0 {
		labels = nil
	}
	return labels, err
}

// GetPromptVersion implements Prompts. The version and its labels are one query, which is
// what an application's fetch costs; telling a missing prompt from a missing version or
// label takes a second one, only when nothing was found.
func (a *accounts) GetPromptVersion(ctx context.Context, projectID, name, ref string) (PromptVersion, error) {
	labels := `(SELECT group_concat(x.label, ',') FROM prompt_labels x WHERE x.prompt_id = v.prompt_id AND x.version = v.version)`
	if a.db.driver() == DriverPostgres {
		labels = `(SELECT string_agg(x.label, ',') FROM prompt_labels x WHERE x.prompt_id = v.prompt_id AND x.version = v.version)`
	}
	cols := `SELECT v.version, v.content_hash, v.content, v.author, v.message, v.created_at, ` + labels
	var q string
	args := []any{projectID, name}
	n, isNum := promptVersionRef(ref)
	switch {
	case ref == "" || ref == "latest":
		q = cols + ` FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id
			WHERE p.project_id = ? AND p.name = ? ORDER BY v.version DESC LIMIT 1`
	case isNum:
		q = cols + ` FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = ?
			WHERE p.project_id = ? AND p.name = ?`
		args = []any{n, projectID, name}
	default:
		q = cols + ` FROM prompts p JOIN prompt_labels l ON l.prompt_id = p.id AND l.label = ?
			JOIN prompt_versions v ON v.prompt_id = p.id AND v.version = l.version
			WHERE p.project_id = ? AND p.name = ?`
		args = []any{ref, projectID, name}
	}
	v := PromptVersion{Prompt: name}
	var content, labelList textCol
	var at timeCol
	err := a.db.queryRow(ctx, q, args...).Scan(&v.Version, &v.ContentHash, &content, &v.Author, &v.Message, &at, &labelList)
	if errors.Is(err, errNoRows) {
		if _, err := findPrompt(ctx, a.db, projectID, name, false); err != nil {
			return PromptVersion{}, err
		}
		switch {
		case ref == "" || ref == "latest":
			return PromptVersion{}, fmt.Errorf("prompt %q has no version %w", name, ErrNotFound)
		case isNum:
			return PromptVersion{}, fmt.Errorf("prompt %q version %d %w", name, n, ErrNotFound)
		}
		return PromptVersion{}, fmt.Errorf("prompt %q label %q %w", name, ref, ErrNotFound)
	}
	if err != nil {
		return PromptVersion{}, fmt.Errorf("get prompt %s@%s: %w", name, ref, err)
	}
	v.CreatedAt = at.T
	if v.Content, err = decodeContent(content.S); err != nil {
		return PromptVersion{}, fmt.Errorf("prompt %s version %d: stored content is corrupt: %w", name, v.Version, err)
	}
	if labelList.S != "" {
		v.Labels = strings.Split(labelList.S, ",")
		slices.Sort(v.Labels)
	}
	return v, nil
}

// ListPrompts implements Prompts.
func (a *accounts) ListPrompts(ctx context.Context, projectID string) ([]PromptInfo, error) {
	rows, err := a.db.query(ctx, `
		SELECT p.id, p.name, p.created_at, v.version, v.created_at FROM prompts p
		JOIN prompt_versions v ON v.prompt_id = p.id
			AND v.version = (SELECT max(version) FROM prompt_versions WHERE prompt_id = p.id)
		WHERE p.project_id = ? ORDER BY p.name`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list prompts: %w", err)
	}
	ids := map[string]int{}
	out, err := collect(rows, "list prompts", func(r rowScanner) (PromptInfo, error) {
		var pi PromptInfo
		var id string
		var created, updated timeCol
		err := r.Scan(&id, &pi.Name, &created, &pi.LatestVersion, &updated)
		pi.CreatedAt, pi.UpdatedAt, pi.Labels = created.T, updated.T, map[string]int{}
		ids[id] = len(ids)
		return pi, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = a.db.query(ctx, `SELECT l.prompt_id, l.label, l.version FROM prompt_labels l
		JOIN prompts p ON p.id = l.prompt_id WHERE p.project_id = ?`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list prompt labels: %w", err)
	}
	type lab struct {
		id, label string
		version   int
	}
	labels, err := collect(rows, "list prompt labels", func(r rowScanner) (lab, error) {
		var l lab
		return l, r.Scan(&l.id, &l.label, &l.version)
	})
	if err != nil {
		return nil, err
	}
	for _, l := range labels {
		if i, ok := ids[l.id]; ok {
			out[i].Labels[l.label] = l.version
		}
	}
	return out, nil
}

// ListPromptVersions implements Prompts.
func (a *accounts) ListPromptVersions(ctx context.Context, projectID, name string) ([]PromptVersion, error) {
	promptID, err := findPrompt(ctx, a.db, projectID, name, false)
	if err != nil {
		return nil, err
	}
	rows, err := a.db.query(ctx, `SELECT `+promptVersionCols+` FROM prompt_versions WHERE prompt_id = ?
		ORDER BY version DESC`, promptID)
	if err != nil {
		return nil, fmt.Errorf("list versions of prompt %s: %w", name, err)
	}
	vs, err := collect(rows, "list versions of prompt "+name, scanPromptVersion(name))
	if err != nil {
		return nil, err
	}
	rows, err = a.db.query(ctx, `SELECT label, version FROM prompt_labels WHERE prompt_id = ? ORDER BY label`, promptID)
	if err != nil {
		return nil, fmt.Errorf("labels of prompt %s: %w", name, err)
	}
	type lab struct {
		label   string
		version int
	}
	labels, err := collect(rows, "labels of prompt "+name, func(r rowScanner) (lab, error) {
		var l lab
		return l, r.Scan(&l.label, &l.version)
	})
	if err != nil {
		return nil, err
	}
	for _, l := range labels {
		if i := slices.IndexFunc(vs, func(v PromptVersion) bool { return v.Version == l.version }); i >= 0 {
			vs[i].Labels = append(vs[i].Labels, l.label)
		}
	}
	return vs, nil
}

// MovePromptLabel implements Prompts. A protected label is refused (ErrProtected): it
// moves through an approved review, a rollback or, on a laptop, a forced move.
func (a *accounts) MovePromptLabel(ctx context.Context, projectID, name, label string, version int, actor string) (PromptLabelMove, error) {
	return a.moveLabelTx(ctx, projectID, name, label, version, actor, MoveDirect, "")
}

// moveLabelTx checks a move's input and makes it, as kind, in a transaction of its own.
func (a *accounts) moveLabelTx(ctx context.Context, projectID, name, label string, version int, actor, kind, reason string) (PromptLabelMove, error) {
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
		switch kind {
		case MoveDirect:
			protected, err := protectedLabels(ctx, d, projectID)
			if err != nil {
				return err
			}
			if slices.Contains(protected, label) {
				return refuse(ErrProtected, fmt.Sprintf("label %q of prompt %q is protected: it moves only when a review request for the move is approved by another member", label, name))
			}
		case MoveForced:
			var n int
			if err := d.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
				return fmt.Errorf("move label %s of prompt %s: %w", label, name, err)
			}
			if n > 1 {
				return refuse(ErrNotAllowed, fmt.Sprintf("this store has %d users: a forced move is only for a store of one user or none, where nobody else could review; request a review of the move instead", n))
			}
		}
		out, err = a.moveLabel(ctx, d, projectID, promptID, name, label, version, actor, kind, reason, nil)
		return err
	})
	if err != nil {
		return PromptLabelMove{}, err
	}
	return out, nil
}

// moveLabel points label at version inside d (whose transaction holds the prompt's lock),
// records the move as kind in the history and the audit log, and returns it. A label
// already at version is left alone (ID 0).
func (a *accounts) moveLabel(ctx context.Context, d db, projectID, promptID, name, label string, version int, actor, kind, reason string, reviewID *int64) (PromptLabelMove, error) {
	var n int
	if err := d.queryRow(ctx, `SELECT count(*) FROM prompt_versions WHERE prompt_id = ? AND version = ?`,
		promptID, version).Scan(&n); err != nil {
		return PromptLabelMove{}, fmt.Errorf("move label %s of prompt %s: %w", label, name, err)
	}
	if n == 0 {
		return PromptLabelMove{}, fmt.Errorf("prompt %q version %d %w", name, version, ErrNotFound)
	}
	now := a.stamp()
	out := PromptLabelMove{Prompt: name, Label: label, ToVersion: version, Actor: actor, At: now, Kind: kind,
		Reason: reason, ReviewID: reviewID}
	var from int
	err := d.queryRow(ctx, `SELECT version FROM prompt_labels WHERE prompt_id = ? AND label = ?`, promptID, label).Scan(&from)
	switch {
	case errors.Is(err, errNoRows):
		_, err = d.exec(ctx, `INSERT INTO prompt_labels (prompt_id, label, version, moved_at, moved_by)
			VALUES (?, ?, ?, ?, ?)`, promptID, label, version, now, actor)
	case err != nil:
	case from == version:
		out.FromVersion = &from
		return out, nil
	default:
		out.FromVersion = &from
		_, err = d.exec(ctx, `UPDATE prompt_labels SET version = ?, moved_at = ?, moved_by = ?
			WHERE prompt_id = ? AND label = ?`, version, now, actor, promptID, label)
	}
	if err != nil {
		return PromptLabelMove{}, fmt.Errorf("move label %s of prompt %s: %w", label, name, err)
	}
	var fromArg, reviewArg any
	if out.FromVersion != nil {
		fromArg = *out.FromVersion
	}
	if reviewID != nil {
		reviewArg = *reviewID
	}
	if err := d.writeRow(ctx, `INSERT INTO prompt_label_moves (prompt_id, label, from_version, to_version, actor, at, kind, reason, review_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, promptID, label, fromArg, version, actor, now, kind, reason, reviewArg).Scan(&out.ID); err != nil {
		return PromptLabelMove{}, fmt.Errorf("move label %s of prompt %s: %w", label, name, err)
	}
	var before any
	if out.FromVersion != nil {
		before = promptAuditLabel{Name: name, Label: label, Version: from}
	}
	action := "prompt.label"
	if kind == MoveRollback {
		action = "prompt.rollback"
	}
	after := promptAuditLabel{Name: name, Label: label, Version: version, MovedBy: actor, MoveID: out.ID, Kind: kind, Reason: reason}
	if reviewID != nil {
		after.ReviewID = *reviewID
	}
	if err := a.record(ctx, d, projectID, action, "prompt", promptID, before, after); err != nil {
		return PromptLabelMove{}, err
	}
	return out, a.closeMadeReviews(ctx, d, projectID, promptID, out)
}

// PromptLabelHistory implements Prompts.
func (a *accounts) PromptLabelHistory(ctx context.Context, projectID, name, label string) ([]PromptLabelMove, error) {
	promptID, err := findPrompt(ctx, a.db, projectID, name, false)
	if err != nil {
		return nil, err
	}
	q := `SELECT id, label, from_version, to_version, actor, at, kind, reason, review_id FROM prompt_label_moves WHERE prompt_id = ?`
	args := []any{promptID}
	if label != "" {
		q += ` AND label = ?`
		args = append(args, label)
	}
	rows, err := a.db.query(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("label history of prompt %s: %w", name, err)
	}
	return collect(rows, "label history of prompt "+name, func(r rowScanner) (PromptLabelMove, error) {
		m := PromptLabelMove{Prompt: name}
		var from *int
		var review *int64
		var at timeCol
		err := r.Scan(&m.ID, &m.Label, &from, &m.ToVersion, &m.Actor, &at, &m.Kind, &m.Reason, &review)
		m.FromVersion, m.At, m.ReviewID = from, at.T, review
		return m, err
	})
}
