package store

import (
	"context"
	"fmt"

	"github.com/plumbhq/plumb/internal/report"
)

// SetHumanScore implements Queues.
func (a *accounts) SetHumanScore(ctx context.Context, queueID string, itemID int64, verdict func([]Annotation, []Adjudication) *report.Human) error {
	return a.db.inTx(ctx, func(d db) error {
		q, err := lockQueue(ctx, d, queueID)
		if err != nil {
			return err
		}
		if q.Source.Kind != SourceRun {
			return invalid("queue %s labels a dataset, not a run's results: it has no human scores", q.Name)
		}
		it, err := getQueueItem(ctx, d, q.ID, itemID)
		if err != nil {
			return err
		}
		anns, err := itemAnnotations(ctx, d, q.ID, itemID)
		if err != nil {
			return err
		}
		adjs, err := adjudications(ctx, d, q.ID)
		if err != nil {
			return err
		}
		h := verdict(anns, adjs)
		if h == nil {
			if _, err := d.exec(ctx, `DELETE FROM human_scores WHERE queue_id = ? AND item_id = ?`, q.ID, itemID); err != nil {
				return fmt.Errorf("human score of item %d: %w", itemID, err)
			}
			return nil
		}
		if _, err := d.exec(ctx, `INSERT INTO human_scores (queue_id, item_id, run_id, position, verdict, passed, adjudicated, labels, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (queue_id, item_id) DO UPDATE SET verdict = excluded.verdict,
			passed = excluded.passed, adjudicated = excluded.adjudicated, labels = excluded.labels, updated_at = excluded.updated_at`,
			q.ID, itemID, q.Source.RunID, it.SourceID, h.Verdict, h.Passed, h.Adjudicated, h.Labels, a.stamp()); err != nil {
			return fmt.Errorf("human score of item %d: %w", itemID, err)
		}
		return nil
	})
}

// HumanScores implements Queues.
func (a *accounts) HumanScores(ctx context.Context, runID string) (map[int]report.Human, error) {
	return readHumanScores(ctx, a.db, runID, nil)
}

// readHumanScores reads a run's human scores by result position (only those in positions
// when it is not nil). When panels disagree on a result, the latest-created queue's verdict
// counts: the rows come oldest queue first and later ones overwrite.
func readHumanScores(ctx context.Context, d db, runID string, positions []int) (map[int]report.Human, error) {
	q := `SELECT h.position, q.name, h.item_id, h.verdict, h.passed, h.adjudicated, h.labels
		FROM human_scores h JOIN queues q ON q.id = h.queue_id WHERE h.run_id = ?`
	args := []any{runID}
	if positions != nil {
		if len(positions) == 0 {
			return map[int]report.Human{}, nil
		}
		lo, hi := positions[0], positions[0]
		for _, p := range positions {
			lo, hi = min(lo, p), max(hi, p)
		}
		q += ` AND h.position >= ? AND h.position <= ?`
		args = append(args, lo, hi)
	}
	rows, err := d.query(ctx, q+` ORDER BY h.position, q.created_at, q.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("human scores of run %s: %w", runID, err)
	}
	type row struct {
		pos int
		h   report.Human
	}
	list, err := collect(rows, "human scores of run "+runID, func(r rowScanner) (row, error) {
		var x row
		err := r.Scan(&x.pos, &x.h.Queue, &x.h.Item, &x.h.Verdict, &x.h.Passed, &x.h.Adjudicated, &x.h.Labels)
		if x.h.Passed {
			x.h.Score = 1
		}
		return x, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int]report.Human, len(list))
	for _, x := range list {
		out[x.pos] = x.h
	}
	return out, nil
}

// attachHuman sets each result's human score (results[k] is at position idx[k]); results
// without one get none, whatever their stored data held.
func attachHuman(ctx context.Context, d db, runID string, results []report.Result, idx []int) error {
	hs, err := readHumanScores(ctx, d, runID, idx)
	if err != nil {
		return err
	}
	for k := range results {
		results[k].Human = nil
		if h, ok := hs[idx[k]]; ok {
			results[k].Human = &h
		}
	}
	return nil
}

// attachRunHuman sets the human scores of a whole run's results (in position order) and
// its summary's human panel.
func attachRunHuman(ctx context.Context, d db, rep *report.Report) error {
	idx := make([]int, len(rep.Results))
	for i := range idx {
		idx[i] = i
	}
	if err := attachHuman(ctx, d, rep.Run.ID, rep.Results, idx); err != nil {
		return err
	}
	rep.Summary.Human = report.Panel(rep.Results)
	return nil
}
