package cli

import (
	"context"

	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/store"
)

// queueReviewer puts the cases guard policies' review steps hold into the project's
// gateway review queue (queue.AddCase), where people label them.
type queueReviewer struct {
	st store.Store
}

// Review implements gateway.Reviewer.
func (r queueReviewer) Review(ctx context.Context, rc gateway.ReviewCase) error {
	c := store.GuardCase{TraceID: rc.TraceID, Route: rc.Route, Key: rc.Key, Stage: string(rc.Stage), Policy: rc.Policy,
		Step: rc.Step, Text: rc.Text, At: rc.At, Findings: make([]store.GuardFinding, 0, len(rc.Findings))}
	for _, f := range rc.Findings {
		c.Findings = append(c.Findings, store.GuardFinding{Step: f.Step, Action: f.Action, Detector: f.Detector, Type: f.Type,
			Start: f.Start, End: f.End, Score: f.Score, Reason: f.Reason})
	}
	_, _, err := queue.AddCase(ctx, r.st, rc.Project, rc.Queue, c)
	return err
}
