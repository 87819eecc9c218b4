package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
)

// queueItemBatch is rows per multi-row INSERT of queue items (4 columns).
const queueItemBatch = 500

func queueNotFound(ref string) error { return fmt.Errorf("queue %q %w", ref, ErrNotFound) }

const queueCols = `q.id, q.project_id, q.name, q.description, q.source_kind, COALESCE(q.dataset_id, ''),
	COALESCE(d.name, ''), COALESCE(q.dataset_version, 0), COALESCE(q.run_id, ''), q.rubric, q.overlap, q.status,
	q.created_at, q.updated_at,
	(SELECT count(*) FROM queue_items i WHERE i.queue_id = q.id),
	(SELECT count(*) FROM queue_members m WHERE m.queue_id = q.id),
	(SELECT COALESCE(max(version), 0) FROM queue_guidelines g WHERE g.queue_id = q.id)`

const queueFrom = ` FROM queues q LEFT JOIN datasets d ON d.id = q.dataset_id`

func scanQueue(r rowScanner) (Queue, error) {
	var q Queue
	var rubric string
	var created, updated timeCol
	err := r.Scan(&q.ID, &q.ProjectID, &q.Name, &q.Description, &q.Source.Kind, &q.Source.DatasetID,
		&q.Source.Dataset, &q.Source.DatasetVersion, &q.Source.RunID, &rubric, &q.Overlap, &q.Status,
		&created, &updated, &q.Items, &q.Members, &q.GuidelineVersion)
	q.Rubric, q.CreatedAt, q.UpdatedAt = json.RawMessage(rubric), created.T, updated.T
	return q, err
}

// getQueue reads a queue by id inside d.
func getQueue(ctx context.Context, d db, id string) (Queue, error) {
	q, err := scanQueue(d.queryRow(ctx, `SELECT `+queueCols+queueFrom+` WHERE q.id = ?`, id))
	if errors.Is(err, errNoRows) {
		return Queue{}, queueNotFound(id)
	}
	if err != nil {
		return Queue{}, fmt.Errorf("get queue %s: %w", id, err)
	}
	return q, nil
}

// lockQueue reads a queue inside a transaction, holding it against concurrent changes on
// PostgreSQL (SQLite's write transactions are serialised already).
func lockQueue(ctx context.Context, d db, id string) (Queue, error) {
	if d.driver() == DriverPostgres {
		var x string
		if err := d.queryRow(ctx, `SELECT id FROM queues WHERE id = ? FOR UPDATE`, id).Scan(&x); errors.Is(err, errNoRows) {
			return Queue{}, queueNotFound(id)
		} else if err != nil {
			return Queue{}, fmt.Errorf("lock queue %s: %w", id, err)
		}
	}
	return getQueue(ctx, d, id)
}

// checkNewQueue checks what every new queue needs: a name, a description that fits, an
// overlap and a rubric.
func checkNewQueue(nq NewQueue) error {
	if err := CheckQueueName(nq.Name); err != nil {
		return err
	}
	if nq.Description != "" {
		if err := checkText("description", nq.Description, 10000); err != nil {
			return err
		}
	}
	if err := checkOverlap(nq.Overlap); err != nil {
		return err
	}
	if len(nq.Rubric) == 0 || !json.Valid(nq.Rubric) {
		return invalid("queue %s: the rubric must be a JSON object", nq.Name)
	}
	return nil
}

// queueValues are the placeholders of a queues row, in queueRow's order.
const queueValues = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

// queueRow is a new queue's row: id, project_id, name, description, source_kind,
// dataset_id, dataset_version, run_id, rubric, overlap, status, created_at, updated_at.
func queueRow(id, projectID string, nq NewQueue, datasetID, version, runID any, now time.Time) []any {
	return []any{id, projectID, nq.Name, nq.Description, nq.Source.Kind, datasetID, version, runID, string(nq.Rubric),
		nq.Overlap, QueueOpen, now, now}
}

// itemJSON is an item's content as stored.
func itemJSON(c ItemContent) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), `\u0000`, `\ufffd`), nil // PostgreSQL text holds no NUL
}

func checkOverlap(k int) error {
	if k < 1 || k > MaxOverlap {
		return invalid("overlap %d: give each item to 1 to %d annotators", k, MaxOverlap)
	}
	return nil
}

// CreateQueue implements Queues.
func (a *accounts) CreateQueue(ctx context.Context, projectID string, nq NewQueue) (Queue, error) {
	if err := checkNewQueue(nq); err != nil {
		return Queue{}, err
	}
	switch {
	case len(nq.Items) == 0:
		return Queue{}, invalid("queue %s has no items: its source is empty", nq.Name)
	case len(nq.Items) > MaxQueueItems:
		return Queue{}, invalid("queue %s would have %d items, more than %d: make smaller queues", nq.Name, len(nq.Items), MaxQueueItems)
	}
	src := nq.Source
	var datasetID, runID any
	var version any
	switch src.Kind {
	case SourceDataset:
		if src.DatasetID == "" || src.DatasetVersion < 1 {
			return Queue{}, invalid("queue %s: a dataset source needs a dataset and a version", nq.Name)
		}
		datasetID, version = src.DatasetID, src.DatasetVersion
	case SourceRun:
		if src.RunID == "" {
			return Queue{}, invalid("queue %s: a run source needs a run", nq.Name)
		}
		runID = src.RunID
	default:
		return Queue{}, invalid("queue source %q: use dataset or run", src.Kind)
	}
	if nq.Guidelines != "" {
		if err := checkText("guidelines", nq.Guidelines, 200000); err != nil {
			return Queue{}, err
		}
	}
	contents := make([]string, len(nq.Items))
	seen := make(map[int64]bool, len(nq.Items))
	for i, it := range nq.Items {
		if seen[it.SourceID] {
			return Queue{}, invalid("queue %s: source item %d is listed twice", nq.Name, it.SourceID)
		}
		seen[it.SourceID] = true
		c, err := itemJSON(it.Content)
		if err != nil {
			return Queue{}, invalid("queue %s: item %d: %v", nq.Name, it.SourceID, err)
		}
		contents[i] = c
	}
	now := a.stamp()
	id := newID("q")
	var out Queue
	err := a.db.inTx(ctx, func(d db) error {
		// The source must be the project's: a queue never reads another project's data.
		if src.Kind == SourceDataset {
			var p string
			err := d.queryRow(ctx, `SELECT project_id FROM datasets WHERE id = ?`, src.DatasetID).Scan(&p)
			if errors.Is(err, errNoRows) || err == nil && p != projectID {
				return datasetNotFound(src.DatasetID)
			}
			if err != nil {
				return fmt.Errorf("create queue %s: %w", nq.Name, err)
			}
		} else {
			var p string
			err := d.queryRow(ctx, `SELECT project_id FROM runs WHERE id = ?`, src.RunID).Scan(&p)
			if errors.Is(err, errNoRows) || err == nil && p != projectID {
				return notFound(src.RunID)
			}
			if err != nil {
				return fmt.Errorf("create queue %s: %w", nq.Name, err)
			}
		}
		_, err := d.exec(ctx, `INSERT INTO queues (id, project_id, name, description, source_kind, dataset_id,
			dataset_version, run_id, rubric, overlap, status, created_at, updated_at)
			VALUES (`+queueValues+`)`, queueRow(id, projectID, nq, datasetID, version, runID, now)...)
		switch {
		case d.isUnique(err):
			return fmt.Errorf("queue %q %w", nq.Name, ErrConflict)
		case d.isForeignKey(err):
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		case err != nil:
			return fmt.Errorf("create queue %s: %w", nq.Name, err)
		}
		for start := 0; start < len(nq.Items); start += queueItemBatch {
			end := min(start+queueItemBatch, len(nq.Items))
			args := make([]any, 0, 4*(end-start))
			for i := start; i < end; i++ {
				args = append(args, id, i+1, nq.Items[i].SourceID, contents[i])
			}
			if _, err := d.exec(ctx, `INSERT INTO queue_items (queue_id, id, source_id, content) VALUES `+rowsOf(4, end-start), args...); err != nil {
				return fmt.Errorf("create queue %s: %w", nq.Name, err)
			}
		}
		if nq.Guidelines != "" {
			if _, err := d.exec(ctx, `INSERT INTO queue_guidelines (queue_id, version, body, author, created_at) VALUES (?, 1, ?, ?, ?)`,
				id, nq.Guidelines, nq.Author, now); err != nil {
				return fmt.Errorf("create queue %s: %w", nq.Name, err)
			}
		}
		var err2 error
		if out, err2 = getQueue(ctx, d, id); err2 != nil {
			return err2
		}
		return a.record(ctx, d, projectID, "queue.create", "queue", id, nil, out)
	})
	if err != nil {
		return Queue{}, err
	}
	return out, nil
}

// GetQueue implements Queues.
func (a *accounts) GetQueue(ctx context.Context, projectID, ref string) (Queue, error) {
	q, err := scanQueue(a.db.queryRow(ctx, `SELECT `+queueCols+queueFrom+` WHERE q.project_id = ? AND (q.name = ? OR q.id = ?)`,
		projectID, ref, ref))
	if errors.Is(err, errNoRows) {
		return Queue{}, queueNotFound(ref)
	}
	if err != nil {
		return Queue{}, fmt.Errorf("get queue %s: %w", ref, err)
	}
	return q, nil
}

// ListQueues implements Queues.
func (a *accounts) ListQueues(ctx context.Context, projectID string) ([]Queue, error) {
	rows, err := a.db.query(ctx, `SELECT `+queueCols+queueFrom+` WHERE q.project_id = ? ORDER BY q.name`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return collect(rows, "list queues", scanQueue)
}

// RunQueues implements Queues.
func (a *accounts) RunQueues(ctx context.Context, runID string) ([]Queue, error) {
	rows, err := a.db.query(ctx, `SELECT `+queueCols+queueFrom+` WHERE q.run_id = ? ORDER BY q.name`, runID)
	if err != nil {
		return nil, fmt.Errorf("queues of run %s: %w", runID, err)
	}
	return collect(rows, "queues of run "+runID, scanQueue)
}

// UpdateQueue implements Queues.
func (a *accounts) UpdateQueue(ctx context.Context, queueID string, upd QueueUpdate) (Queue, error) {
	if upd.Description != nil && *upd.Description != "" {
		if err := checkText("description", *upd.Description, 10000); err != nil {
			return Queue{}, err
		}
	}
	if upd.Overlap != nil {
		if err := checkOverlap(*upd.Overlap); err != nil {
			return Queue{}, err
		}
	}
	if upd.Status != nil && *upd.Status != QueueOpen && *upd.Status != QueueClosed {
		return Queue{}, invalid("status %q: use open or closed", *upd.Status)
	}
	var out Queue
	err := a.db.inTx(ctx, func(d db) error {
		before, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		after := before
		if upd.Description != nil {
			after.Description = *upd.Description
		}
		if upd.Overlap != nil {
			after.Overlap = *upd.Overlap
		}
		if upd.Status != nil {
			after.Status = *upd.Status
		}
		if after.Description == before.Description && after.Overlap == before.Overlap && after.Status == before.Status {
			out = before
			return nil
		}
		after.UpdatedAt = a.stamp()
		if _, err := d.exec(ctx, `UPDATE queues SET description = ?, overlap = ?, status = ?, updated_at = ? WHERE id = ?`,
			after.Description, after.Overlap, after.Status, after.UpdatedAt, queueID); err != nil {
			return fmt.Errorf("update queue %s: %w", before.Name, err)
		}
		out = after
		return a.record(ctx, d, before.ProjectID, "queue.update", "queue", queueID, before, after)
	})
	return out, err
}

// guidelinesAudit is a guidelines version as its audit entry names it.
type guidelinesAudit struct {
	Queue   string `json:"queue"`
	Version int    `json:"version"`
	Author  string `json:"author,omitempty"`
	Bytes   int    `json:"bytes"`
}

// AddGuidelines implements Queues.
func (a *accounts) AddGuidelines(ctx context.Context, queueID, body, author string) (Guidelines, error) {
	if err := checkText("guidelines", body, 200000); err != nil {
		return Guidelines{}, err
	}
	var out Guidelines
	err := a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		var last string
		if q.GuidelineVersion > 0 {
			if err := d.queryRow(ctx, `SELECT body FROM queue_guidelines WHERE queue_id = ? AND version = ?`, queueID, q.GuidelineVersion).Scan(&last); err != nil {
				return fmt.Errorf("guidelines of queue %s: %w", q.Name, err)
			}
		}
		if q.GuidelineVersion > 0 && last == body {
			out, err = getGuidelines(ctx, d, queueID, q.GuidelineVersion)
			return err
		}
		out = Guidelines{Version: q.GuidelineVersion + 1, Body: body, Author: author, CreatedAt: a.stamp()}
		if _, err := d.exec(ctx, `INSERT INTO queue_guidelines (queue_id, version, body, author, created_at) VALUES (?, ?, ?, ?, ?)`,
			queueID, out.Version, body, author, out.CreatedAt); err != nil {
			return fmt.Errorf("guidelines of queue %s: %w", q.Name, err)
		}
		var before any
		if q.GuidelineVersion > 0 {
			before = guidelinesAudit{Queue: q.Name, Version: q.GuidelineVersion, Bytes: len(last)}
		}
		return a.record(ctx, d, q.ProjectID, "queue.guidelines", "queue", queueID, before,
			guidelinesAudit{Queue: q.Name, Version: out.Version, Author: author, Bytes: len(body)})
	})
	return out, err
}

func getGuidelines(ctx context.Context, d db, queueID string, version int) (Guidelines, error) {
	g := Guidelines{Version: version}
	var at timeCol
	err := d.queryRow(ctx, `SELECT body, author, created_at FROM queue_guidelines WHERE queue_id = ? AND version = ?`,
		queueID, version).Scan(&g.Body, &g.Author, &at)
	if errors.Is(err, errNoRows) {
		return Guidelines{}, fmt.Errorf("guidelines version %d of queue %s %w", version, queueID, ErrNotFound)
	}
	g.CreatedAt = at.T
	return g, err
}

// GetGuidelines implements Queues.
func (a *accounts) GetGuidelines(ctx context.Context, queueID string, version int) (Guidelines, error) {
	if version == 0 {
		q, err := getQueue(ctx, a.db, queueID)
		if err != nil {
			return Guidelines{}, err
		}
		if q.GuidelineVersion == 0 {
			return Guidelines{}, nil
		}
		version = q.GuidelineVersion
	}
	return getGuidelines(ctx, a.db, queueID, version)
}

// ListGuidelines implements Queues.
func (a *accounts) ListGuidelines(ctx context.Context, queueID string) ([]Guidelines, error) {
	rows, err := a.db.query(ctx, `SELECT version, body, author, created_at FROM queue_guidelines WHERE queue_id = ? ORDER BY version DESC`, queueID)
	if err != nil {
		return nil, fmt.Errorf("guidelines of queue %s: %w", queueID, err)
	}
	return collect(rows, "guidelines of queue "+queueID, func(r rowScanner) (Guidelines, error) {
		var g Guidelines
		var at timeCol
		err := r.Scan(&g.Version, &g.Body, &g.Author, &at)
		g.CreatedAt = at.T
		return g, err
	})
}

// memberAudit names an annotator in an audit entry.
type memberAudit struct {
	Queue  string `json:"queue"`
	UserID string `json:"user_id"`
}

// AddQueueMember implements Queues.
func (a *accounts) AddQueueMember(ctx context.Context, queueID, userID string) (QueueMember, error) {
	var out QueueMember
	err := a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		u, err := getUser(ctx, d, userID)
		if err != nil {
			return err
		}
		if _, err := getMembership(ctx, d, q.ProjectID, userID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return invalid("%s is not a member of the queue's project: add them to the project first", u.Email)
			}
			return err
		}
		out = QueueMember{UserID: userID, Email: u.Email, AddedAt: a.stamp()}
		_, err = d.exec(ctx, `INSERT INTO queue_members (queue_id, user_id, added_at) VALUES (?, ?, ?)`, queueID, userID, out.AddedAt)
		if d.isUnique(err) {
			return fmt.Errorf("%s is already an annotator of queue %s: %w", u.Email, q.Name, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("add annotator to queue %s: %w", q.Name, err)
		}
		return a.record(ctx, d, q.ProjectID, "queue.member.add", "queue", queueID, nil, memberAudit{Queue: q.Name, UserID: userID})
	})
	return out, err
}

// RemoveQueueMember implements Queues.
func (a *accounts) RemoveQueueMember(ctx context.Context, queueID, userID string) error {
	return a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		n, err := d.exec(ctx, `DELETE FROM queue_members WHERE queue_id = ? AND user_id = ?`, queueID, userID)
		if err != nil {
			return fmt.Errorf("remove annotator from queue %s: %w", q.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("annotator %q of queue %s %w", userID, q.Name, ErrNotFound)
		}
		if _, err := d.exec(ctx, `DELETE FROM queue_leases WHERE queue_id = ? AND annotator = ?`, queueID, userID); err != nil {
			return fmt.Errorf("remove annotator from queue %s: %w", q.Name, err)
		}
		return a.record(ctx, d, q.ProjectID, "queue.member.remove", "queue", queueID, memberAudit{Queue: q.Name, UserID: userID}, nil)
	})
}

// QueueMembers implements Queues.
func (a *accounts) QueueMembers(ctx context.Context, queueID string) ([]QueueMember, error) {
	rows, err := a.db.query(ctx, `SELECT m.user_id, u.email, m.added_at FROM queue_members m JOIN users u ON u.id = m.user_id
		WHERE m.queue_id = ? ORDER BY u.email_key`, queueID)
	if err != nil {
		return nil, fmt.Errorf("annotators of queue %s: %w", queueID, err)
	}
	return collect(rows, "annotators of queue "+queueID, func(r rowScanner) (QueueMember, error) {
		var m QueueMember
		var at timeCol
		err := r.Scan(&m.UserID, &m.Email, &at)
		m.AddedAt = at.T
		return m, err
	})
}

// annotatorOf checks, inside d, that a user may label in q.
func annotatorOf(ctx context.Context, d db, q Queue, userID string) error {
	if q.Status != QueueOpen {
		return invalid("queue %s is closed: reopen it to label", q.Name)
	}
	var n int
	if err := d.queryRow(ctx, `SELECT count(*) FROM queue_members WHERE queue_id = ? AND user_id = ?`, q.ID, userID).Scan(&n); err != nil {
		return fmt.Errorf("queue %s: %w", q.Name, err)
	}
	if n == 0 {
		return invalid("you are not an annotator of queue %s: ask an editor to add you", q.Name)
	}
	return nil
}

const queueItemCols = `i.id, i.source_id, i.content,
	(SELECT count(*) FROM queue_annotations a WHERE a.queue_id = i.queue_id AND a.item_id = i.id AND a.skipped = ?)`

func scanQueueItem(r rowScanner) (QueueItem, error) {
	var it QueueItem
	var content string
	if err := r.Scan(&it.ID, &it.SourceID, &content, &it.Labels); err != nil {
		return it, err
	}
	if err := json.Unmarshal([]byte(content), &it.Content); err != nil {
		return it, fmt.Errorf("queue item %d: stored content is corrupt: %w", it.ID, err)
	}
	return it, nil
}

// NextQueueItem implements Queues.
func (a *accounts) NextQueueItem(ctx context.Context, queueID, annotator string, lease time.Duration) (QueueItem, bool, error) {
	if lease <= 0 {
		return QueueItem{}, false, invalid("lease %v: give a positive duration", lease)
	}
	var out QueueItem
	var ok bool
	err := a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		if err := annotatorOf(ctx, d, q, annotator); err != nil {
			return err
		}
		now := a.stamp()
		expires := now.Add(lease)
		if _, err := d.exec(ctx, `DELETE FROM queue_leases WHERE queue_id = ? AND expires_at <= ?`, queueID, now); err != nil {
			return fmt.Errorf("next item of queue %s: %w", q.Name, err)
		}
		// An item the annotator holds already comes first: reloading the page keeps it.
		var id int64
		err = d.queryRow(ctx, `SELECT l.item_id FROM queue_leases l WHERE l.queue_id = ? AND l.annotator = ?
			AND NOT EXISTS (SELECT 1 FROM queue_annotations a WHERE a.queue_id = l.queue_id AND a.item_id = l.item_id AND a.annotator = l.annotator)
			ORDER BY l.item_id LIMIT 1`, queueID, annotator).Scan(&id)
		switch {
		case err == nil:
			if _, err := d.exec(ctx, `UPDATE queue_leases SET expires_at = ? WHERE queue_id = ? AND item_id = ? AND annotator = ?`,
				expires, queueID, id, annotator); err != nil {
				return fmt.Errorf("next item of queue %s: %w", q.Name, err)
			}
		case errors.Is(err, errNoRows):
			// Items fill in order: the first item with a free slot the annotator has not
			// seen, so that items reach their k labels (and agreement) early.
			err = d.queryRow(ctx, `SELECT i.id FROM queue_items i WHERE i.queue_id = ?
				AND NOT EXISTS (SELECT 1 FROM queue_annotations a WHERE a.queue_id = i.queue_id AND a.item_id = i.id AND a.annotator = ?)
				AND (SELECT count(*) FROM queue_annotations a WHERE a.queue_id = i.queue_id AND a.item_id = i.id AND a.skipped = ?)
				  + (SELECT count(*) FROM queue_leases l WHERE l.queue_id = i.queue_id AND l.item_id = i.id) < ?
				ORDER BY i.id LIMIT 1`, queueID, annotator, false, q.Overlap).Scan(&id)
			if errors.Is(err, errNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("next item of queue %s: %w", q.Name, err)
			}
			if _, err := d.exec(ctx, `INSERT INTO queue_leases (queue_id, item_id, annotator, expires_at) VALUES (?, ?, ?, ?)`,
				queueID, id, annotator, expires); err != nil {
				return fmt.Errorf("next item of queue %s: %w", q.Name, err)
			}
		default:
			return fmt.Errorf("next item of queue %s: %w", q.Name, err)
		}
		if out, err = getQueueItem(ctx, d, queueID, id); err != nil {
			return err
		}
		out.LeaseExpires, ok = &expires, true
		return nil
	})
	return out, ok, err
}

func getQueueItem(ctx context.Context, d db, queueID string, itemID int64) (QueueItem, error) {
	it, err := scanQueueItem(d.queryRow(ctx, `SELECT `+queueItemCols+` FROM queue_items i WHERE i.queue_id = ? AND i.id = ?`,
		false, queueID, itemID))
	if errors.Is(err, errNoRows) {
		return QueueItem{}, fmt.Errorf("item %d of queue %s %w", itemID, queueID, ErrNotFound)
	}
	if err != nil {
		return QueueItem{}, fmt.Errorf("item %d of queue %s: %w", itemID, queueID, err)
	}
	return it, nil
}

// GetQueueItem implements Queues.
func (a *accounts) GetQueueItem(ctx context.Context, queueID string, itemID int64) (QueueItem, error) {
	return getQueueItem(ctx, a.db, queueID, itemID)
}

// ListQueueItems implements Queues.
func (a *accounts) ListQueueItems(ctx context.Context, queueID, cursor string, limit int) ([]QueueItem, string, error) {
	var after int64
	if cursor != "" {
		var err error
		if after, err = strconv.ParseInt(cursor, 10, 64); err != nil || after < 0 {
			return nil, "", invalid("cursor %q: pass back the next cursor a page returned", cursor)
		}
	}
	n := pageSize(limit)
	rows, err := a.db.query(ctx, `SELECT `+queueItemCols+` FROM queue_items i WHERE i.queue_id = ? AND i.id > ? ORDER BY i.id LIMIT ?`,
		false, queueID, after, n+1)
	if err != nil {
		return nil, "", fmt.Errorf("items of queue %s: %w", queueID, err)
	}
	items, err := collect(rows, "items of queue "+queueID, scanQueueItem)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > n {
		items = items[:n]
		next = strconv.FormatInt(items[n-1].ID, 10)
	}
	return items, next, nil
}

// checkValues refuses values the store cannot keep.
func checkValues(a Annotation) error {
	if a.Comment != "" {
		if err := checkText("comment", a.Comment, 20000); err != nil {
			return err
		}
	}
	for k, v := range a.Values {
		if err := checkText("field name", k, 200); err != nil {
			return err
		}
		if v != "" {
			if err := checkText("value of "+k, v, 20000); err != nil {
				return err
			}
		}
	}
	return nil
}

// SaveAnnotation implements Queues.
func (a *accounts) SaveAnnotation(ctx context.Context, ann Annotation) (Annotation, error) {
	if err := checkValues(ann); err != nil {
		return Annotation{}, err
	}
	if ann.Skipped {
		ann.Values = map[string]string{}
	}
	if ann.Values == nil {
		ann.Values = map[string]string{}
	}
	vals, err := json.Marshal(ann.Values)
	if err != nil {
		return Annotation{}, err
	}
	err = a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, ann.QueueID)
		if err != nil {
			return err
		}
		if err := annotatorOf(ctx, d, q, ann.Annotator); err != nil {
			return err
		}
		it, err := getQueueItem(ctx, d, q.ID, ann.ItemID)
		if err != nil {
			return err
		}
		var created timeCol
		var wasSkipped bool
		err = d.queryRow(ctx, `SELECT created_at, skipped FROM queue_annotations WHERE queue_id = ? AND item_id = ? AND annotator = ?`,
			q.ID, it.ID, ann.Annotator).Scan(&created, &wasSkipped)
		exists := err == nil
		if err != nil && !errors.Is(err, errNoRows) {
			return fmt.Errorf("save labels of item %d: %w", it.ID, err)
		}
		if !ann.Skipped && (!exists || wasSkipped) && it.Labels >= q.Overlap {
			var held int
			if err := d.queryRow(ctx, `SELECT count(*) FROM queue_leases WHERE queue_id = ? AND item_id = ? AND annotator = ?`,
				q.ID, it.ID, ann.Annotator).Scan(&held); err != nil {
				return fmt.Errorf("save labels of item %d: %w", it.ID, err)
			}
			if held == 0 {
				return fmt.Errorf("item %d of queue %s has its %d labels already: take the next item: %w", it.ID, q.Name, q.Overlap, ErrConflict)
			}
		}
		// A slot another annotator holds a live lease on is theirs: labelling the item
		// directly (without asking for it) must not take it from under them.
		if !ann.Skipped && (!exists || wasSkipped) && it.Labels < q.Overlap {
			var held, others int
			if err := d.queryRow(ctx, `SELECT
				(SELECT count(*) FROM queue_leases WHERE queue_id = ? AND item_id = ? AND annotator = ?),
				(SELECT count(*) FROM queue_leases WHERE queue_id = ? AND item_id = ? AND annotator <> ? AND expires_at > ?)`,
				q.ID, it.ID, ann.Annotator, q.ID, it.ID, ann.Annotator, a.stamp()).Scan(&held, &others); err != nil {
				return fmt.Errorf("save labels of item %d: %w", it.ID, err)
			}
			if held == 0 && it.Labels+others >= q.Overlap {
				return fmt.Errorf("item %d of queue %s is being labelled by another annotator (its %d slot(s) are taken or leased): take the next item: %w", it.ID, q.Name, q.Overlap, ErrConflict)
			}
		}
		ann.GuidelineVersion = q.GuidelineVersion
		now := a.stamp()
		ann.UpdatedAt, ann.CreatedAt = now, now
		if exists {
			ann.CreatedAt = created.T
		}
		if _, err := d.exec(ctx, `INSERT INTO queue_annotations (queue_id, item_id, annotator, vals, comment, skipped,
			guideline_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (queue_id, item_id, annotator) DO UPDATE SET vals = excluded.vals, comment = excluded.comment,
			skipped = excluded.skipped, guideline_version = excluded.guideline_version, updated_at = excluded.updated_at`,
			q.ID, it.ID, ann.Annotator, string(vals), ann.Comment, ann.Skipped, ann.GuidelineVersion, ann.CreatedAt, now); err != nil {
			return fmt.Errorf("save labels of item %d: %w", it.ID, err)
		}
		_, err = d.exec(ctx, `DELETE FROM queue_leases WHERE queue_id = ? AND item_id = ? AND annotator = ?`, q.ID, it.ID, ann.Annotator)
		return err
	})
	if err != nil {
		return Annotation{}, err
	}
	return ann, nil
}

// Annotations implements Queues.
func (a *accounts) Annotations(ctx context.Context, queueID string) ([]Annotation, error) {
	rows, err := a.db.query(ctx, `SELECT item_id, annotator, vals, comment, skipped, guideline_version, created_at, updated_at
		FROM queue_annotations WHERE queue_id = ? ORDER BY item_id, annotator`, queueID)
	if err != nil {
		return nil, fmt.Errorf("annotations of queue %s: %w", queueID, err)
	}
	return collectAnnotations(rows, queueID)
}

// ItemAnnotations implements Queues.
func (a *accounts) ItemAnnotations(ctx context.Context, queueID string, itemID int64) ([]Annotation, error) {
	return itemAnnotations(ctx, a.db, queueID, itemID)
}

// itemAnnotations reads one item's annotations through d.
func itemAnnotations(ctx context.Context, d db, queueID string, itemID int64) ([]Annotation, error) {
	rows, err := d.query(ctx, `SELECT item_id, annotator, vals, comment, skipped, guideline_version, created_at, updated_at
		FROM queue_annotations WHERE queue_id = ? AND item_id = ? ORDER BY annotator`, queueID, itemID)
	if err != nil {
		return nil, fmt.Errorf("annotations of item %d of queue %s: %w", itemID, queueID, err)
	}
	return collectAnnotations(rows, queueID)
}

// collectAnnotations reads rows of queue_annotations.
func collectAnnotations(rows rowsIter, queueID string) ([]Annotation, error) {
	return collect(rows, "annotations of queue "+queueID, func(r rowScanner) (Annotation, error) {
		an := Annotation{QueueID: queueID}
		var vals string
		var created, updated timeCol
		if err := r.Scan(&an.ItemID, &an.Annotator, &vals, &an.Comment, &an.Skipped, &an.GuidelineVersion, &created, &updated); err != nil {
			return an, err
		}
		an.CreatedAt, an.UpdatedAt = created.T, updated.T
		if err := json.Unmarshal([]byte(vals), &an.Values); err != nil {
			return an, fmt.Errorf("annotation of item %d: stored values are corrupt: %w", an.ItemID, err)
		}
		return an, nil
	})
}

// QueueProgress implements Queues.
func (a *accounts) QueueProgress(ctx context.Context, queueID string) (QueueProgress, error) {
	q, err := getQueue(ctx, a.db, queueID)
	if err != nil {
		return QueueProgress{}, err
	}
	p := QueueProgress{Items: q.Items, Wanted: q.Items * q.Overlap, Annotators: []AnnotatorProgress{}}
	if err := a.db.queryRow(ctx, `SELECT count(*) FROM queue_items i WHERE i.queue_id = ?
		AND (SELECT count(*) FROM queue_annotations a WHERE a.queue_id = i.queue_id AND a.item_id = i.id AND a.skipped = ?) >= ?`,
		queueID, false, q.Overlap).Scan(&p.Complete); err != nil {
		return p, fmt.Errorf("progress of queue %s: %w", q.Name, err)
	}
	rows, err := a.db.query(ctx, `SELECT a.annotator, COALESCE(u.email, a.annotator),
		sum(CASE WHEN a.skipped THEN 0 ELSE 1 END), sum(CASE WHEN a.skipped THEN 1 ELSE 0 END), max(a.updated_at)
		FROM queue_annotations a LEFT JOIN users u ON u.id = a.annotator WHERE a.queue_id = ? GROUP BY a.annotator, u.email`, queueID)
	if err != nil {
		return p, fmt.Errorf("progress of queue %s: %w", q.Name, err)
	}
	done, err := collect(rows, "progress of queue "+q.Name, func(r rowScanner) (AnnotatorProgress, error) {
		var ap AnnotatorProgress
		var last timeCol
		err := r.Scan(&ap.UserID, &ap.Email, &ap.Labelled, &ap.Skipped, &last)
		ap.LastAt = last.ptr()
		return ap, err
	})
	if err != nil {
		return p, err
	}
	members, err := a.QueueMembers(ctx, queueID)
	if err != nil {
		return p, err
	}
	byID := map[string]*AnnotatorProgress{}
	for _, ap := range done {
		p.Labels += ap.Labelled
		p.Annotators = append(p.Annotators, ap)
	}
	for i := range p.Annotators {
		byID[p.Annotators[i].UserID] = &p.Annotators[i]
	}
	for _, m := range members {
		if ap, ok := byID[m.UserID]; ok {
			ap.Member = true
			continue
		}
		p.Annotators = append(p.Annotators, AnnotatorProgress{UserID: m.UserID, Email: m.Email, Member: true})
	}
	if len(members) > 0 {
		target := min((p.Wanted+len(members)-1)/len(members), p.Items)
		for i := range p.Annotators {
			if p.Annotators[i].Member {
				p.Annotators[i].Target = target
			}
		}
	}
	sort.Slice(p.Annotators, func(i, j int) bool { return p.Annotators[i].Email < p.Annotators[j].Email })
	return p, nil
}

// adjudicationAudit is an adjudication as its audit entry names it.
type adjudicationAudit struct {
	Queue string `json:"queue"`
	Item  int64  `json:"item"`
	Field string `json:"field"`
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// Adjudicate implements Queues.
func (a *accounts) Adjudicate(ctx context.Context, adj Adjudication) (Adjudication, error) {
	if err := checkText("field", adj.Field, 200); err != nil {
		return Adjudication{}, err
	}
	if err := checkText("value", adj.Value, 20000); err != nil {
		return Adjudication{}, err
	}
	if adj.Note != "" {
		if err := checkText("note", adj.Note, 20000); err != nil {
			return Adjudication{}, err
		}
	}
	err := a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, adj.QueueID)
		if err != nil {
			return err
		}
		if _, err := getQueueItem(ctx, d, q.ID, adj.ItemID); err != nil {
			return err
		}
		var before any
		var prev, prevNote string
		err = d.queryRow(ctx, `SELECT value, note FROM queue_adjudications WHERE queue_id = ? AND item_id = ? AND field = ?`,
			q.ID, adj.ItemID, adj.Field).Scan(&prev, &prevNote)
		switch {
		case err == nil:
			before = adjudicationAudit{Queue: q.Name, Item: adj.ItemID, Field: adj.Field, Value: prev, Note: prevNote}
		case !errors.Is(err, errNoRows):
			return fmt.Errorf("adjudicate item %d: %w", adj.ItemID, err)
		}
		adj.CreatedAt = a.stamp()
		if _, err := d.exec(ctx, `INSERT INTO queue_adjudications (queue_id, item_id, field, value, adjudicator, note, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (queue_id, item_id, field) DO UPDATE SET value = excluded.value,
			adjudicator = excluded.adjudicator, note = excluded.note, created_at = excluded.created_at`,
			q.ID, adj.ItemID, adj.Field, adj.Value, adj.Adjudicator, adj.Note, adj.CreatedAt); err != nil {
			return fmt.Errorf("adjudicate item %d: %w", adj.ItemID, err)
		}
		return a.record(ctx, d, q.ProjectID, "queue.adjudicate", "queue", q.ID, before,
			adjudicationAudit{Queue: q.Name, Item: adj.ItemID, Field: adj.Field, Value: adj.Value, Note: adj.Note})
	})
	if err != nil {
		return Adjudication{}, err
	}
	return adj, nil
}

// Adjudications implements Queues.
func (a *accounts) Adjudications(ctx context.Context, queueID string) ([]Adjudication, error) {
	return adjudications(ctx, a.db, queueID)
}

// adjudications reads a queue's adjudications through d.
func adjudications(ctx context.Context, d db, queueID string) ([]Adjudication, error) {
	rows, err := d.query(ctx, `SELECT item_id, field, value, adjudicator, note, created_at FROM queue_adjudications
		WHERE queue_id = ? ORDER BY item_id, field`, queueID)
	if err != nil {
		return nil, fmt.Errorf("adjudications of queue %s: %w", queueID, err)
	}
	return collect(rows, "adjudications of queue "+queueID, func(r rowScanner) (Adjudication, error) {
		adj := Adjudication{QueueID: queueID}
		var at timeCol
		err := r.Scan(&adj.ItemID, &adj.Field, &adj.Value, &adj.Adjudicator, &adj.Note, &at)
		adj.CreatedAt = at.T
		return adj, err
	})
}

// writeBackAudit is a write-back as its audit entry names it: ids, never the answers.
type writeBackAudit struct {
	Queue   string  `json:"queue"`
	Dataset string  `json:"dataset"`
	Version int     `json:"version"`
	Items   []int64 `json:"items"` // the new dataset item ids
	Missing []int64 `json:"missing,omitempty"`
}

// WriteBack implements Queues.
func (a *accounts) WriteBack(ctx context.Context, queueID string, expected map[int64]string, message string) (WriteBackResult, error) {
	for id, e := range expected {
		if !validText(e) {
			return WriteBackResult{}, invalid("the answer of item %d must be valid UTF-8 text without NUL bytes", id)
		}
	}
	var out WriteBackResult
	err := a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		if q.Source.Kind != SourceDataset {
			return invalid("queue %s labels a run's results, not a dataset: there is nothing to write back to", q.Name)
		}
		out = WriteBackResult{Dataset: q.Source.Dataset, Changed: []ChangedItem{}}
		// Which dataset item each queue item is.
		want := map[int64]int64{} // dataset item id -> queue item id
		for qi := range expected {
			it, err := getQueueItem(ctx, d, q.ID, qi)
			if err != nil {
				return err
			}
			want[it.SourceID] = qi
		}
		tx := &accounts{db: d, now: a.now, actor: a.actor}
		var items []dataset.Item
		cursor := ""
		for {
			page, next, err := tx.ListItems(ctx, q.Source.DatasetID, 0, cursor, MaxPageSize)
			if err != nil {
				return err
			}
			items = append(items, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		present := map[int64]bool{}
		var changed []ChangedItem
		var changedIdx []int
		for i, it := range items {
			qi, ok := want[it.ID]
			if !ok {
				continue
			}
			present[it.ID] = true
			if e := expected[qi]; e != it.Expected {
				changed = append(changed, ChangedItem{QueueItem: qi, From: it.ID, Expected: e})
				changedIdx = append(changedIdx, i)
				items[i].Expected = e
			}
		}
		for src, qi := range want {
			if !present[src] {
				out.Missing = append(out.Missing, qi)
			}
		}
		sort.Slice(out.Missing, func(i, j int) bool { return out.Missing[i] < out.Missing[j] })
		if len(changed) == 0 {
			vs, err := tx.DatasetVersions(ctx, q.Source.DatasetID)
			if err != nil {
				return err
			}
			if len(vs) > 0 {
				out.Version = vs[0]
			}
			return nil
		}
		if message == "" {
			message = fmt.Sprintf("consensus of queue %s", q.Name)
		}
		for i := range items {
			items[i].ID, items[i].ContentHash = 0, ""
		}
		v, _, err := tx.AddItems(ctx, q.Source.DatasetID, items, message, true)
		if err != nil {
			return err
		}
		out.Version, out.Created = v, true
		ids := make([]int64, 0, len(changed))
		for n := range changed {
			r, err := prepareItem(items[changedIdx[n]], 0)
			if err != nil {
				return err
			}
			if err := d.queryRow(ctx, `SELECT id FROM dataset_items WHERE dataset_id = ? AND content_hash = ?`,
				q.Source.DatasetID, r.contentHash).Scan(&changed[n].To); err != nil {
				return fmt.Errorf("write back queue %s: %w", q.Name, err)
			}
			ids = append(ids, changed[n].To)
		}
		out.Changed = changed
		return a.record(ctx, d, q.ProjectID, "queue.writeback", "queue", q.ID, nil,
			writeBackAudit{Queue: q.Name, Dataset: q.Source.Dataset, Version: v.Version, Items: ids, Missing: out.Missing})
	})
	return out, err
}

// validText reports whether s can be stored as text by both dialects.
func validText(s string) bool {
	return !strings.ContainsRune(s, 0) && strings.ToValidUTF8(s, "\ufffd") == s
}
