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
// them: one aggregate (booleans summed through CASE, which both dialects read) over the results' columns, never their JSON. A missing run has no
// groups.
func (a *accounts) Breakdown(ctx context.Context, runID string) ([]Group, error) {
	rows, err := a.db.query(ctx, `SELECT prompt, provider, segment, COUNT(*),
		SUM(CASE WHEN passed THEN 1 ELSE 0 END), SUM(CASE WHEN has_error THEN 1 ELSE 0 END),
		SUM(cost), SUM(latency_ms), SUM(tokens)
		FROM results WHERE run_id = ? GROUP BY prompt, provider, segment ORDER BY prompt, provider, segment`, runID)
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
