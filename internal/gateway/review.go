package gateway

import (
	"context"
	"time"

	"github.com/plumbhq/plumb/internal/guard/policy"
)

// ReviewCase is a text a guard policy's review step held for a person to look at: the
// call was refused, and the case goes to the Reviewer with the call's trace.
type ReviewCase struct {
	TraceID string
	Project string // the calling key's project; "" for a config key without one
	Key     string
	Route   string
	Stage   Stage
	Policy  string
	Step    string
	// Queue is the review queue the policy names for the step's cases (its step's queue:,
	// else its review_queue:); "" for the Reviewer's default.
	Queue string
	// Text is the text the step judged, passed through Options.Bodies (redacted and cut as
	// trace bodies are); "" when the config records no bodies (bodies: off), and for now
	// for a streamed answer's output.
	Text     string
	Findings []policy.Finding
	At       time.Time
}

// Reviewer takes the cases review steps hold; plumb serve and plumb gateway --db add them
// to a review queue. Review is called after the client has its answer.
type Reviewer interface {
	Review(ctx context.Context, rc ReviewCase) error
}

// reviewTimeout bounds handing one case to the Reviewer.
const reviewTimeout = 10 * time.Second

// sendReview hands the call's review case, if any, to the Reviewer, off the request's path.
func (c *call) sendReview(traceID string) {
	rc := c.review
	if rc == nil || c.g.opt.Reviewer == nil {
		return
	}
	rc.TraceID, rc.At = traceID, c.start.UTC()
	if c.route != nil {
		rc.Route = c.route.Name
	}
	if c.key != nil {
		rc.Key, rc.Project = c.key.name, c.key.project
	}
	if pol := c.g.cfg.policies[rc.Policy]; pol != nil {
		rc.Queue = pol.ReviewQueue(policy.Stage(rc.Stage), rc.Step)
	}
	// The text is kept only as the trace keeps bodies: never unredacted.
	if c.g.opt.Bodies != nil {
		rc.Text = c.g.opt.Bodies([]byte(rc.Text))
	} else {
		rc.Text = ""
	}
	r, log := c.g.opt.Reviewer, c.g.log
	// Counted with the calls in flight (finish runs before the call's own Done), so that
	// Wait, on shutdown, lets the case reach the Reviewer before the store closes.
	c.g.inflight.Add(1)
	go func() {
		defer c.g.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), reviewTimeout)
		defer cancel()
		if err := r.Review(ctx, *rc); err != nil {
			log.Error("gateway: cannot queue a case for review", "trace", rc.TraceID, "policy", rc.Policy, "step", rc.Step, "err", err)
		}
	}()
}
