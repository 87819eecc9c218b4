package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ShadowPair is a live call and the shadow call beside it, with their bodies.
type ShadowPair struct {
	Live   Trace `json:"live"`
	Shadow Trace `json:"shadow"`
}

// MaxShadowPairs bounds one ShadowPairs read.
const MaxShadowPairs = 100_000

// shadowChunk is ids per IN (...) lookup.
const shadowChunk = 500

// ShadowPairs implements Traces. A shadow whose live record is gone (deleted by
// retention, or not written: the recorder drops records when its buffer is full) is left
// out. limit <= 0 or above MaxShadowPairs means MaxShadowPairs.
func (a *accounts) ShadowPairs(ctx context.Context, projectID, route string, since time.Time, limit int) ([]ShadowPair, error) {
	if limit <= 0 || limit > MaxShadowPairs {
		limit = MaxShadowPairs
	}
	rows, err := a.db.query(ctx, `SELECT `+traceCols+` FROM traces WHERE project_id = ? AND route = ? AND shadow_of IS NOT NULL
		AND started_at >= ? ORDER BY started_at, id LIMIT ?`, projectID, route, storedTime(since), limit)
	if err != nil {
		return nil, fmt.Errorf("shadow pairs: %w", err)
	}
	shadows, err := collect(rows, "shadow pairs", scanTrace)
	if err != nil {
		return nil, err
	}
	liveIDs := make([]string, 0, len(shadows))
	for _, s := range shadows {
		liveIDs = append(liveIDs, s.ShadowOf)
	}
	live := map[string]Trace{}
	err = inChunks(liveIDs, func(ids []string, args []any, marks string) error {
		rows, err := a.db.query(ctx, `SELECT `+traceCols+` FROM traces WHERE project_id = ? AND id IN (`+marks+`)`,
			append([]any{projectID}, args...)...)
		if err != nil {
			return fmt.Errorf("shadow pairs: %w", err)
		}
		ts, err := collect(rows, "shadow pairs", scanTrace)
		for _, t := range ts {
			live[t.ID] = t
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	pairs := make([]ShadowPair, 0, len(shadows))
	var ids []string
	for _, s := range shadows {
		if l, ok := live[s.ShadowOf]; ok {
			pairs = append(pairs, ShadowPair{Live: l, Shadow: s})
			ids = append(ids, l.ID, s.ID)
		}
	}
	type body struct{ req, resp string }
	bodies := map[string]body{}
	err = inChunks(ids, func(_ []string, args []any, marks string) error {
		rows, err := a.db.query(ctx, `SELECT trace_id, request, response FROM trace_bodies WHERE trace_id IN (`+marks+`)`, args...)
		if err != nil {
			return fmt.Errorf("shadow pair bodies: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var b body
			if err := rows.Scan(&id, &b.req, &b.resp); err != nil {
				return fmt.Errorf("shadow pair bodies: %w", err)
			}
			bodies[id] = b
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for i := range pairs {
		p := &pairs[i]
		b := bodies[p.Live.ID]
		p.Live.RequestBody, p.Live.ResponseBody = b.req, b.resp
		b = bodies[p.Shadow.ID]
		p.Shadow.RequestBody, p.Shadow.ResponseBody = b.req, b.resp
	}
	return pairs, nil
}

// inChunks calls fn with the ids shadowChunk at a time, with their bind values and the
// placeholders for an IN list.
func inChunks(ids []string, fn func(ids []string, args []any, marks string) error) error {
	for start := 0; start < len(ids); start += shadowChunk {
		part := ids[start:min(start+shadowChunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if err := fn(part, args, strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")); err != nil {
			return err
		}
	}
	return nil
}

// ShadowRoute is a route with shadow records, and how many.
type ShadowRoute struct {
	Route string `json:"route"`
	Calls int    `json:"calls"`
}

// ShadowRoutes implements Traces.
func (a *accounts) ShadowRoutes(ctx context.Context, projectID string, since time.Time) ([]ShadowRoute, error) {
	rows, err := a.db.query(ctx, `SELECT route, count(*) FROM traces WHERE project_id = ? AND shadow_of IS NOT NULL
		AND started_at >= ? GROUP BY route ORDER BY route`, projectID, storedTime(since))
	if err != nil {
		return nil, fmt.Errorf("shadow routes: %w", err)
	}
	return collect(rows, "shadow routes", func(s rowScanner) (ShadowRoute, error) {
		var r ShadowRoute
		err := s.Scan(&r.Route, &r.Calls)
		return r, err
	})
}
