package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Group is a run's results counted for one prompt × provider × segment: what the run page's
// per-model table and the cost–quality view are drawn from.
type Group struct {
	Prompt    string  `json:"prompt"`
	Provider  string  `json:"provider"`
	Segment   string  `json:"segment,omitempty"`
	Samples   int     `json:"samples"`
	Passed    int     `json:"passed"`
	Errors    int     `json:"errors"`
	Cost      float64 `json:"cost"`       // USD, summed
	LatencyMS float64 `json:"latency_ms"` // summed: divide by Samples for the mean
	Tokens    int64   `json:"tokens"`

	positions []int // the results' positions in report order, for result_groups.positions
}

// Breakdown returns a run's results counted by prompt, provider and segment, ordered by
// them: the few rows of result_groups, counted when the run was saved (migration 0006), so
// that it costs the same on a run of any size. A missing run has no groups.
func (a *accounts) Breakdown(ctx context.Context, runID string) ([]Group, error) {
	rows, err := a.db.query(ctx, `SELECT prompt, provider, segment, samples, passed, errors, cost, latency_ms, tokens
		FROM result_groups WHERE run_id = ? ORDER BY prompt, provider, segment`, runID)
	if err != nil {
		return nil, fmt.Errorf("break down run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []Group{}
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Prompt, &g.Provider, &g.Segment, &g.Samples, &g.Passed, &g.Errors,
			&g.Cost, &g.LatencyMS, &g.Tokens); err != nil {
			return nil, fmt.Errorf("break down run %s: %w", runID, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("break down run %s: %w", runID, err)
	}
	return out, nil
}

// encodePositions writes increasing positions as uvarint deltas from -1: a few bytes per
// result (two for runs of up to 16,384 results between two of a group).
func encodePositions(pos []int) []byte {
	out := make([]byte, 0, len(pos)*2)
	prev := -1
	for _, p := range pos {
		out = binary.AppendUvarint(out, uint64(p-prev))
		prev = p
	}
	return out
}

// decodePositions reads what encodePositions wrote.
func decodePositions(b []byte) ([]int, error) {
	var out []int
	prev := -1
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 || d == 0 {
			return nil, errors.New("stored result positions are corrupt")
		}
		prev += int(d)
		out = append(out, prev)
		b = b[n:]
	}
	return out, nil
}

// groupPositions reads the positions of a run's results of one prompt × provider (and
// segment, when f names one) from result_groups: one row per segment, merged. ok is false
// when f filters on more than those, or a group has no stored positions, and the caller
// asks the results instead.
func (a *accounts) groupPositions(ctx context.Context, runID string, f ResultFilter) (pos []int, ok bool, err error) {
	if f.FailedOnly || f.PassedOnly || f.ErrorsOnly || f.Test != nil || f.Prompt == "" || f.Provider == "" {
		return nil, false, nil
	}
	q := `SELECT positions FROM result_groups WHERE run_id = ? AND prompt = ? AND provider = ?`
	args := []any{runID, text(f.Prompt), text(f.Provider)}
	if f.Segment != "" {
		q += ` AND segment = ?`
		args = append(args, text(f.Segment))
	}
	rows, err := a.db.query(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("positions of results of run %s: %w", runID, err)
	}
	defer rows.Close()
	var lists [][]int
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, false, fmt.Errorf("positions of results of run %s: %w", runID, err)
		}
		if b == nil {
			return nil, false, nil
		}
		l, err := decodePositions(b)
		if err != nil {
			return nil, false, fmt.Errorf("run %s: %w", runID, err)
		}
		lists = append(lists, l)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("positions of results of run %s: %w", runID, err)
	}
	pos = []int{}
	for _, l := range lists {
		pos = append(pos, l...)
	}
	slices.Sort(pos) // the segments' lists interleave
	return pos, true, nil
}

// backfillGroupPositions is migration 0007's Go step: the positions of the result groups of
// runs saved before it, read from their results' indexed columns.
func backfillGroupPositions(ctx context.Context, d db) error {
	ids, err := runIDs(ctx, d, `SELECT DISTINCT run_id FROM result_groups WHERE positions IS NULL ORDER BY run_id`)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rs, err := d.query(ctx, `SELECT idx, prompt, provider, segment FROM results WHERE run_id = ? ORDER BY idx`, id)
		if err != nil {
			return fmt.Errorf("run %s: %w", id, err)
		}
		groups := map[[3]string][]int{}
		for rs.Next() {
			var idx int
			var k [3]string
			if err := rs.Scan(&idx, &k[0], &k[1], &k[2]); err != nil {
				rs.Close()
				return fmt.Errorf("run %s: %w", id, err)
			}
			groups[k] = append(groups[k], idx)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("run %s: %w", id, err)
		}
		for k, pos := range groups {
			if _, err := d.exec(ctx, `UPDATE result_groups SET positions = ? WHERE run_id = ? AND prompt = ? AND provider = ? AND segment = ?`,
				encodePositions(pos), id, k[0], k[1], k[2]); err != nil {
				return fmt.Errorf("run %s: save result positions: %w", id, err)
			}
		}
	}
	return nil
}
