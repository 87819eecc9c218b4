package store

import (
	"context"
	"errors"
	"fmt"
)

// AddGatewayItem implements Queues.
func (a *accounts) AddGatewayItem(ctx context.Context, projectID string, nq NewQueue, content ItemContent) (Queue, QueueItem, error) {
	nq.Source = QueueSource{Kind: SourceGateway}
	if err := checkNewQueue(nq); err != nil {
		return Queue{}, QueueItem{}, err
	}
	c, err := itemJSON(content)
	if err != nil {
		return Queue{}, QueueItem{}, invalid("queue %s: %v", nq.Name, err)
	}
	var q Queue
	var it QueueItem
	err = a.db.inTx(ctx, func(d db) error {
		// Two cases arriving at once may both find no queue: the insert that loses waits
		// for the other's commit and does nothing, and both then append to the one queue.
		now := a.stamp()
		n, err := d.exec(ctx, `INSERT INTO queues (id, project_id, name, description, source_kind, dataset_id,
			dataset_version, run_id, rubric, overlap, status, created_at, updated_at)
			VALUES (`+queueValues+`) ON CONFLICT (project_id, name) DO NOTHING`,
			queueRow(newID("q"), projectID, nq, nil, nil, nil, now)...)
		switch {
		case d.isForeignKey(err):
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		case err != nil:
			return fmt.Errorf("gateway queue %s: %w", nq.Name, err)
		}
		var id string
		if err := d.queryRow(ctx, `SELECT id FROM queues WHERE project_id = ? AND name = ?`, projectID, nq.Name).Scan(&id); err != nil {
			if errors.Is(err, errNoRows) {
				return queueNotFound(nq.Name)
			}
			return fmt.Errorf("gateway queue %s: %w", nq.Name, err)
		}
		if q, err = lockQueue(ctx, d, id); err != nil {
			return err
		}
		if q.Source.Kind != SourceGateway {
			return fmt.Errorf("queue %s of project %s is over a %s, not the gateway's cases: name another queue for review cases: %w",
				nq.Name, projectID, q.Source.Kind, ErrConflict)
		}
		if q.Items >= MaxQueueItems {
			return invalid("queue %s holds %d items already, the most a queue takes: name another queue for new review cases", q.Name, q.Items)
		}
		if n == 1 {
			if err := a.record(ctx, d, projectID, "queue.create", "queue", q.ID, nil, q); err != nil {
				return err
			}
		}
		var last int64
		if err := d.queryRow(ctx, `SELECT COALESCE(max(id), 0) FROM queue_items WHERE queue_id = ?`, q.ID).Scan(&last); err != nil {
			return fmt.Errorf("gateway queue %s: %w", q.Name, err)
		}
		if _, err := d.exec(ctx, `INSERT INTO queue_items (queue_id, id, source_id, content) VALUES (?, ?, ?, ?)`,
			q.ID, last+1, last+1, c); err != nil {
			return fmt.Errorf("gateway queue %s: %w", q.Name, err)
		}
		if _, err := d.exec(ctx, `UPDATE queues SET updated_at = ? WHERE id = ?`, now, q.ID); err != nil {
			return fmt.Errorf("gateway queue %s: %w", q.Name, err)
		}
		q.Items++
		q.UpdatedAt = now
		it, err = getQueueItem(ctx, d, q.ID, last+1)
		return err
	})
	if err != nil {
		return Queue{}, QueueItem{}, err
	}
	return q, it, nil
}
