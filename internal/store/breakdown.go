package store

import (
	"context"
	"fmt"
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
